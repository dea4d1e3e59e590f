"""Property: a settlement's totals reconcile with the verified visits to the fen.

Each example builds a fresh agency with random item prices, city and a month of visits
delivered through the real check-in/check-out path (some 2 km away, so not verified), then
opens the settlement and compares its totals with sums computed straight from the visits.
"""

from __future__ import annotations

import datetime as dt
import itertools

from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import (
    Caregiver,
    CarePlan,
    PlanItem,
    PlanStatus,
    Qualification,
    Role,
    ServiceItem,
    Visit,
    VisitStatus,
)
from app.policy import load_policy
from app.services import evv, settlement
from app.services.crud import local_today
from app.services.demo import id_check_digit
from app.services.months import month_bounds
from tests.app.conftest import add_person, add_visit, assign
from tests.app.evv.conftest import HOME, TWO_KM_NORTH, action, local
from tests.conftest import add_severe_assessment, make_agency, make_user

COUNTER = itertools.count(1)

visit_plan = st.tuples(
    st.integers(1, 28),  # day of the month
    st.integers(0, 1),  # which item
    st.booleans(),  # delivered at the home (verified) or 2 km away
    st.integers(30, 600),  # minutes
)


def make_month(session: Session, prices: tuple[int, int], city: str | None) -> tuple[object, ...]:
    n = next(COUNTER)
    period = month_bounds(local_today().replace(day=1) - dt.timedelta(days=1))[0]
    agency = make_agency(session, f"P{n}")
    agency.city = city
    caregiver = Caregiver(
        agency_id=agency.id,
        staff_no=f"C{n}",
        name="王芳",
        gender="f",
        home_lat=32.0,
        home_lon=120.9,
    )
    session.add(caregiver)
    session.flush()
    session.add(Qualification(caregiver_id=caregiver.id, skill="personal_care"))
    person = add_person(session, agency, "张秀英", _id_number(n))
    person.disability_since = period - dt.timedelta(days=400)
    add_severe_assessment(session, person, period)
    plan = CarePlan(
        person_id=person.id,
        agency_id=agency.id,
        valid_from=period - dt.timedelta(days=5),
        valid_to=period + dt.timedelta(days=60),
        status=PlanStatus.APPROVED,
    )
    session.add(plan)
    session.flush()
    items = []
    for k, price in enumerate(prices):
        service = ServiceItem(
            code=f"X{n}-{k}",
            name_zh="护理",
            name_en="Care",
            category="basic_care",
            standard_min=45,
            required_skill="personal_care",
            price_fen=price,
        )
        session.add(service)
        session.flush()
        item = PlanItem(
            plan_id=plan.id,
            service_item_id=service.id,
            times_per_week=3,
            windows=[["09:00", "11:00"]],
        )
        session.add(item)
        session.flush()
        items.append(item)
    cg_user = make_user(session, Role.CAREGIVER, agency, f"cg-p{n}", caregiver_id=caregiver.id)
    admin = make_user(session, Role.AGENCY_ADMIN, agency, f"admin-p{n}")
    session.commit()
    return period, items, cg_user, admin, agency


def _id_number(n: int) -> str:
    first17 = f"32060219380501{n % 1000:03d}"
    return first17 + id_check_digit(first17)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    prices=st.tuples(st.integers(0, 20_000), st.integers(1, 20_000)),
    city=st.sampled_from([None, "nantong", "shanghai"]),
    month=st.lists(visit_plan, max_size=12),
)
def test_totals_reconcile_with_verified_visits(
    app: Flask,
    session: Session,
    prices: tuple[int, int],
    city: str | None,
    month: list[tuple[int, int, bool, int]],
) -> None:
    period, items, cg_user, admin, agency = make_month(session, prices, city)
    for seq, (day, which, at_home, minutes) in enumerate(month):
        date = period + dt.timedelta(days=day - 1)
        visit = add_visit(session, items[which], date, VisitStatus.ASSIGNED, seq=seq)
        visit.duration_min = minutes
        assign(session, visit, caregiver=session.get(Caregiver, cg_user.caregiver_id))
        session.commit()
        where = HOME if at_home else TWO_KM_NORTH
        for kind, hhmm in (("check_in", "09:05"), ("check_out", "09:55")):
            at = local(date, hhmm)
            evv.record_action(session, cg_user, action(visit, kind, at, where), now=at)

    result, _ = settlement.open_settlement(session, admin, period)

    # The oracle, straight from the visits: verified ones, paid in date order up to the cap.
    pct = load_policy().fund_share("home", city)
    cap = load_policy().entitlement(5).minutes_per_month  # type: ignore[union-attr]
    verified = session.scalars(
        select(Visit)
        .where(Visit.agency_id == agency.id, Visit.status == VisitStatus.VERIFIED)
        .order_by(Visit.date, Visit.id)
    )
    used = fund = copay = 0
    for v in verified:
        if used + v.duration_min > cap:
            continue
        used += v.duration_min
        price = prices[items.index(v.plan_item)]
        fund += price * pct // 100
        copay += price - price * pct // 100
    assert (result.fund_fen, result.copay_fen) == (fund, copay)
    assert result.claimed_fen == fund + copay
    assert result.line_count == len(month)
