"""Each supervision KPI on the hand-made October of ``supervision_world`` (answers worked
out by hand in its docstring), scoping by role and agency, and months with nothing in them."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.models import (
    PlanItem,
    ServiceItem,
    User,
    Visit,
    VisitAssignment,
    VisitStatus,
    Volunteer,
    utcnow,
)
from app.services import anomalies, months
from app.services import supervision as sv
from app.services.errors import NotFound
from app.services.evv_rules import EvvRules
from tests.app.supervision.supervision_world import MONTH, RULES, TODAY, SvWorld, build

ANOMALIES = {"A1": 3, "B2": 1}


@pytest.fixture
def w(app: Flask, session: Session) -> SvWorld:
    return build(session)


@pytest.fixture
def fake_anomalies(monkeypatch: pytest.MonkeyPatch, w: SvWorld) -> list[tuple[Any, ...]]:
    """Anomaly counts fixed per agency, and the calls made for them."""
    calls: list[tuple[Any, ...]] = []
    counts = {w.a.id: ANOMALIES["A1"], w.b.id: ANOMALIES["B2"]}

    def count_by_agency(session: Session, actor: User, month: dt.date) -> dict[int, int]:
        calls.append((actor.username, month))
        return {i: n for i, n in counts.items() if actor.agency_id in (None, i)}

    monkeypatch.setattr(anomalies, "count_by_agency", count_by_agency)
    return calls


def kpis(session: Session, u: User, month: dt.date = MONTH, **kw: Any) -> sv.Supervision:
    kw.setdefault("today", TODAY)
    return sv.dashboard(session, u, month, rules=RULES, **kw)


def by_code(data: sv.Supervision) -> dict[str, sv.Figures]:
    return {row.code: row.figures for row in data.agencies}


def test_plan_fulfilment_counts_every_due_visit_once(
    session: Session, w: SvWorld, fake_anomalies: list[Any]
) -> None:
    a = by_code(kpis(session, w.users["auditor"]))["A1"].fulfilment

    assert a == sv.Fulfilment(verified=5, missed=1, exception=1, rejected=1, open=1, cancelled=1)
    assert a.due == 9  # cancelled visits are not due
    assert a.rate == pytest.approx(5 / 9, abs=1e-4)


def test_on_time_uses_the_first_check_in_and_the_evv_grace(
    session: Session, w: SvWorld, fake_anomalies: list[Any]
) -> None:
    a = by_code(kpis(session, w.users["auditor"]))["A1"].on_time

    # 09:10, 10:20 (inside 10:00 + 30 min), 09:05, 09:05 are on time; the approved 11:00 not.
    assert (a.verified, a.on_time, a.rate) == (5, 4, 0.8)


def test_on_time_follows_the_grace_of_the_rules(
    session: Session, w: SvWorld, fake_anomalies: list[Any]
) -> None:
    strict = sv.dashboard(
        session, w.users["auditor"], MONTH, today=TODAY, rules=EvvRules(grace_min=10)
    )
    assert by_code(strict)["A1"].on_time.on_time == 3  # 10:20 is late with 10 minutes of grace
    assert strict.grace_min == 10


def test_checked_in_on_time_edges() -> None:
    tz = ZoneInfo("Asia/Shanghai")
    day = dt.date(2026, 10, 6)
    windows = [["09:00", "10:00"], ["14:00", "15:00"]]

    def at(hhmm: str) -> dt.datetime:
        return dt.datetime.combine(day, dt.time.fromisoformat(hhmm), tzinfo=tz)

    assert sv.checked_in_on_time(at("08:30"), day, windows, 30, tz)
    assert not sv.checked_in_on_time(at("08:29"), day, windows, 30, tz)
    assert sv.checked_in_on_time(at("10:30"), day, windows, 30, tz)
    assert not sv.checked_in_on_time(at("10:31"), day, windows, 30, tz)
    assert sv.checked_in_on_time(at("13:45"), day, windows, 30, tz)
    assert sv.checked_in_on_time(at("12:00"), day, [], 30, tz)
    # An instant given in UTC is compared as the same instant: 01:15Z is 09:15 in Shanghai.
    assert sv.checked_in_on_time(
        dt.datetime(2026, 10, 6, 1, 15, tzinfo=dt.UTC), day, windows, 0, tz
    )


def test_travel_per_visit_reads_the_last_publication_of_each_day(
    session: Session, w: SvWorld, fake_anomalies: list[Any]
) -> None:
    data = by_code(kpis(session, w.users["auditor"]))

    # 6 Oct: the second publication (3600 s, 10 visits); 7 Oct: 1800 s, 5; 3 Nov is outside.
    assert data["A1"].travel == sv.Travel(days=2, travel_s=5400, assigned=15)
    assert data["A1"].travel.min_per_visit == 6.0
    assert data["B2"].travel == sv.Travel()
    assert data["B2"].travel.min_per_visit is None


def test_continuity_counts_verified_visits_with_a_preferred_caregiver(
    session: Session, w: SvWorld, fake_anomalies: list[Any]
) -> None:
    data = by_code(kpis(session, w.users["auditor"]))

    # Care visits of 6, 7, 8 Oct name cg1; cg1 served 6 and 8, cg2 served 7.
    assert data["A1"].continuity == sv.Continuity(with_preferred=3, by_preferred=2)
    assert data["A1"].continuity.rate == pytest.approx(0.6667)
    assert data["B2"].continuity.rate is None  # no preferred caregiver named


def test_anomalies_come_from_the_anomaly_service_per_agency(
    session: Session, w: SvWorld, fake_anomalies: list[Any]
) -> None:
    data = kpis(session, w.users["auditor"])

    assert {r.code: r.figures.anomalies for r in data.agencies} == ANOMALIES
    assert data.total.anomalies == 4
    assert fake_anomalies == [("auditor", MONTH)]


def test_anomalies_are_the_anomaly_services_count_for_the_actor(
    session: Session, w: SvWorld
) -> None:
    for name in ("auditor", "admin_a"):
        u = w.users[name]
        data = kpis(session, u)
        counted = anomalies.count_by_agency(session, u, MONTH)
        assert {r.agency_id: r.figures.anomalies for r in data.agencies} == counted, name
        assert counted[w.a.id] > 0, name  # e.g. the caregivers hold no qualification rows


def test_spending_splits_each_visit_price_by_the_agency_city(
    session: Session, w: SvWorld, fake_anomalies: list[Any]
) -> None:
    data = kpis(session, w.users["auditor"], months=3)

    assert [s.month for s in data.spending] == [
        dt.date(2026, 8, 1),
        dt.date(2026, 9, 1),
        dt.date(2026, 10, 1),
    ]
    august, september, october = data.spending
    assert august == sv.MonthSpending(dt.date(2026, 8, 1))
    assert september == sv.MonthSpending(dt.date(2026, 9, 1), 1, 6000, 4200, 1800)
    # A1: three care visits (6000 -> 4200 + 1800) and two at 3335 (2334 + 1001 each);
    # B2 in Shanghai: 6000 -> 5400 + 600. Fund and co-pay add up to the prices.
    assert october == sv.MonthSpending(
        dt.date(2026, 10, 1),
        visits=6,
        price_fen=3 * 6000 + 2 * 3335 + 6000,
        fund_fen=3 * 4200 + 2 * 2334 + 5400,
        co_pay_fen=3 * 1800 + 2 * 1001 + 600,
    )
    assert october.fund_fen + october.co_pay_fen == october.price_fen
    assert all(isinstance(s.fund_fen, int) and isinstance(s.co_pay_fen, int) for s in data.spending)


def test_totals_add_up_the_agencies(
    session: Session, w: SvWorld, fake_anomalies: list[Any]
) -> None:
    data = kpis(session, w.users["auditor"])
    total = data.total

    assert total.fulfilment == sv.Fulfilment(
        verified=6, missed=1, exception=1, rejected=1, open=1, cancelled=1
    )
    assert (total.on_time.verified, total.on_time.on_time) == (6, 5)
    assert total.travel == sv.Travel(2, 5400, 15)
    assert total.continuity == sv.Continuity(3, 2)
    assert data.through == dt.date(2026, 10, 31)


def test_an_agency_admin_sees_only_their_agency(
    session: Session, w: SvWorld, fake_anomalies: list[Any]
) -> None:
    data = kpis(session, w.users["admin_b"])

    assert [r.code for r in data.agencies] == ["B2"]
    b = data.agencies[0].figures
    assert (b.fulfilment.verified, b.fulfilment.due, b.anomalies) == (1, 1, 1)
    assert data.total == b
    assert data.spending[-1] == sv.MonthSpending(MONTH, 1, 6000, 5400, 600)
    assert kpis(session, w.users["admin_b"], agency_id=w.b.id).agencies == data.agencies


def test_another_agency_or_an_unknown_one_is_not_found(
    session: Session, w: SvWorld, fake_anomalies: list[Any]
) -> None:
    with pytest.raises(NotFound):
        kpis(session, w.users["admin_b"], agency_id=w.a.id)
    with pytest.raises(NotFound):
        kpis(session, w.users["auditor"], agency_id=999_999)


def test_a_cross_agency_reader_may_name_one_agency(
    session: Session, w: SvWorld, fake_anomalies: list[Any]
) -> None:
    data = kpis(session, w.users["sys_admin"], agency_id=w.a.id)

    assert [r.code for r in data.agencies] == ["A1"]
    assert data.agency_id == w.a.id
    assert data.total.fulfilment.verified == 5
    assert data.total.anomalies == 3
    assert data.spending[-1].visits == 5  # B2's visit is not in A1's spending


def test_the_month_under_way_counts_the_days_that_are_over(
    session: Session, w: SvWorld, fake_anomalies: list[Any]
) -> None:
    data = kpis(session, w.users["auditor"], today=dt.date(2026, 10, 8))

    assert data.through == dt.date(2026, 10, 7)
    a = by_code(data)["A1"]
    assert a.fulfilment == sv.Fulfilment(verified=2)  # 6 and 7 October
    assert a.travel == sv.Travel(2, 5400, 15)
    assert data.spending[-1].visits == 3  # A1's 6 and 7, B2's 6 October


def test_a_month_with_nothing_in_it(
    session: Session, w: SvWorld, fake_anomalies: list[Any]
) -> None:
    empty = kpis(session, w.users["auditor"], dt.date(2026, 7, 1), months=2)

    assert [r.code for r in empty.agencies] == ["A1", "B2"]
    for row in empty.agencies:
        f = row.figures
        assert f.fulfilment.due == 0
        assert f.fulfilment.rate is None
        assert f.on_time.rate is None
        assert f.continuity.rate is None
        assert f.travel.min_per_visit is None
    assert [s.visits for s in empty.spending] == [0, 0]


def test_a_month_not_begun_counts_nothing_and_asks_no_anomalies(
    session: Session, w: SvWorld, fake_anomalies: list[Any]
) -> None:
    future = kpis(session, w.users["auditor"], dt.date(2026, 12, 1), months=2)

    assert future.through is None
    assert future.total.fulfilment.due == 0
    assert fake_anomalies == []
    # The spending series still shows the month before, which is over.
    assert future.spending[0].month == dt.date(2026, 11, 1)
    assert future.spending[0].visits == 1  # 3 November


def test_month_arithmetic() -> None:
    assert months.add_months(dt.date(2026, 1, 1), -1) == dt.date(2025, 12, 1)
    assert months.add_months(dt.date(2026, 11, 1), 2) == dt.date(2027, 1, 1)
    assert months.month_end(dt.date(2028, 2, 1)) == dt.date(2028, 2, 29)
    assert months.previous_month(dt.date(2026, 1, 15)) == dt.date(2025, 12, 1)
    assert months.parse_month(" 2026-03 ") == dt.date(2026, 3, 1)
    for bad in ("2026-13", "2026-3", "26-03", "1999-12", "2026-03-01", 202603):
        with pytest.raises(ValueError, match="YYYY-MM"):
            months.parse_month(bad)


def test_spending_leaves_out_visits_only_volunteers_served(
    session: Session, w: SvWorld, fake_anomalies: list[Any]
) -> None:
    # As claim lines do: a visit volunteers alone served is the time bank's, not the fund's.
    visit = session.scalars(
        select(Visit)
        .where(Visit.agency_id == w.a.id, Visit.status == VisitStatus.VERIFIED)
        .where(Visit.date >= dt.date(2026, 10, 1))
        .order_by(Visit.id)
    ).first()
    assert visit is not None
    price = session.scalar(
        select(ServiceItem.price_fen)
        .join(PlanItem, PlanItem.service_item_id == ServiceItem.id)
        .where(PlanItem.id == visit.plan_item_id)
    )
    before = kpis(session, w.users["auditor"], months=1).spending[-1]
    volunteer = Volunteer(
        agency_id=w.a.id,
        member_no="V-SV1",
        name="志愿者",
        gender="f",
        birth_date=dt.date(1960, 1, 1),
        home_lat=32.0,
        home_lon=120.9,
    )
    session.add(volunteer)
    session.flush()
    session.execute(delete(VisitAssignment).where(VisitAssignment.visit_id == visit.id))
    session.add(VisitAssignment(visit_id=visit.id, volunteer_id=volunteer.id, assigned_at=utcnow()))
    session.commit()
    after = kpis(session, w.users["auditor"], months=1).spending[-1]
    assert (after.visits, after.price_fen) == (before.visits - 1, before.price_fen - price)
