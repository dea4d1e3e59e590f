"""The demo city: its size and shape, determinism, and the ``flask demo`` commands.

The city is loaded once for the module, through the command line; the facts the tests
check are read out right away, because the suite empties every table after each test.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from app.extensions import db
from app.models import (
    Agency,
    Assessment,
    Caregiver,
    CarePlan,
    InsuredPerson,
    PlanItem,
    Role,
    User,
    Visit,
    Volunteer,
    VolunteerRelative,
)
from app.services.demo import DEMO_PASSWORD, id_check_digit, load_demo
from app.services.errors import Conflict
from app.services.visits import generate_visits
from tests.conftest import make_agency
from timebank.schema import accounts as tb_accounts

SEED = 1


@dataclass(frozen=True)
class Facts:
    load_output: str
    today: dt.date
    persons_by_agency: dict[str, int]
    caregivers_by_agency: dict[str, int]
    volunteers: int
    relatives: int
    roles: Counter[str]
    users_without_agency: set[str]
    id_numbers: list[str]
    coordinates: list[tuple[float, float]]
    grades: Counter[int]
    items_per_plan: Counter[int]
    approved_plans: int
    persons_with_preferred: int
    two_staff_items: int
    same_gender_items: int
    weekday: dt.date
    visits_by_agency: dict[str, int]
    fingerprint: list[tuple[Any, ...]]
    logins_output: str
    reload_exit: int
    reload_output: str
    if_empty_exit: int
    if_empty_output: str


def fingerprint(session: Session) -> list[tuple[Any, ...]]:
    """Enough of the city to tell two loads apart."""
    persons = session.execute(
        select(
            InsuredPerson.name,
            InsuredPerson.id_number,
            InsuredPerson.lat,
            InsuredPerson.lon,
            InsuredPerson.disability_since,
        ).order_by(InsuredPerson.id)
    ).all()
    items = session.execute(
        select(PlanItem.times_per_week, PlanItem.weekdays, PlanItem.windows).order_by(PlanItem.id)
    ).all()
    staff = session.execute(select(Caregiver.name, Caregiver.home_lat).order_by(Caregiver.id)).all()
    return [tuple(r) for r in (*persons, *items, *staff)]


def _by_agency(session: Session, column: Any) -> dict[str, int]:
    rows = session.execute(
        select(Agency.code, func.count(column))
        .join_from(Agency, column.table)
        .group_by(Agency.code)
    ).all()
    return {code: n for code, n in rows}


def _km_from_centre(lat: float, lon: float) -> float:
    # Equirectangular distance is within metres of the geodesic at 12 km.
    dy = (lat - 32.0) * 110.9
    dx = (lon - 120.86) * 111.32 * math.cos(math.radians(32.0))
    return math.hypot(dx, dy)


@pytest.fixture(scope="module")
def facts(app: Flask) -> Facts:
    runner = app.test_cli_runner()
    loaded = runner.invoke(args=["demo", "load", "--seed", str(SEED)])
    assert loaded.exit_code == 0, loaded.output
    today = dt.date.fromisoformat(re.search(r"today (\d{4}-\d\d-\d\d)", loaded.output)[1])  # type: ignore[index]
    s = db.session
    weekday = today + dt.timedelta(days=(2 - today.isoweekday()) % 7 or 7)  # next Tuesday
    visits = {}
    for agency in s.scalars(select(Agency).order_by(Agency.code)):
        generate_visits(s, weekday, agency.id)
        visits[agency.code] = s.scalar(
            select(func.count()).select_from(Visit).where(Visit.agency_id == agency.id)
        )
    plans = s.scalars(select(CarePlan)).all()
    logins = runner.invoke(args=["demo", "logins"])
    reload = runner.invoke(args=["demo", "load", "--seed", str(SEED)])
    if_empty = runner.invoke(args=["demo", "load", "--if-empty"])
    return Facts(
        load_output=loaded.output,
        today=today,
        persons_by_agency=_by_agency(s, InsuredPerson.agency_id),
        caregivers_by_agency=_by_agency(s, Caregiver.agency_id),
        volunteers=s.scalar(select(func.count()).select_from(Volunteer)) or 0,
        relatives=s.scalar(select(func.count()).select_from(VolunteerRelative)) or 0,
        roles=Counter(s.scalars(select(User.role))),
        users_without_agency=set(s.scalars(select(User.role).where(User.agency_id.is_(None)))),
        id_numbers=list(s.scalars(select(InsuredPerson.id_number))),
        coordinates=[
            (r.lat, r.lon) for r in s.execute(select(InsuredPerson.lat, InsuredPerson.lon))
        ],
        grades=Counter(s.scalars(select(Assessment.grade))),
        items_per_plan=Counter(len(p.items) for p in plans),
        approved_plans=sum(p.status == "approved" for p in plans),
        persons_with_preferred=len(
            set(
                s.scalars(
                    select(CarePlan.person_id)
                    .join(PlanItem, PlanItem.plan_id == CarePlan.id)
                    .where(PlanItem.preferred_caregiver_id.is_not(None))
                )
            )
        ),
        two_staff_items=s.scalar(select(func.count()).where(PlanItem.two_staff.is_(True))) or 0,
        same_gender_items=s.scalar(select(func.count()).where(PlanItem.same_gender.is_(True))) or 0,
        weekday=weekday,
        visits_by_agency=visits,
        fingerprint=fingerprint(s),
        logins_output=logins.output,
        reload_exit=reload.exit_code,
        reload_output=reload.output,
        if_empty_exit=if_empty.exit_code,
        if_empty_output=if_empty.output,
    )


def test_city_size(facts: Facts) -> None:
    assert len(facts.persons_by_agency) == 3
    assert sum(facts.persons_by_agency.values()) >= 300
    assert all(15 <= n <= 20 for n in facts.caregivers_by_agency.values())
    assert sum(facts.caregivers_by_agency.values()) >= 45
    assert facts.volunteers >= 12
    assert facts.relatives >= 3
    assert "372 insured persons" in facts.load_output


def test_every_role_has_a_login(facts: Facts) -> None:
    assert set(facts.roles) == {r.value for r in Role}
    assert facts.roles["dispatcher"] == 3
    assert facts.roles["agency_admin"] == 3
    assert facts.users_without_agency == {"auditor", "sys_admin"}
    for line in ("yikang.dispatcher", "anran.admin", "jianghai.cg1", "auditor", "sysadmin"):
        assert line in facts.load_output
        assert line in facts.logins_output
    assert DEMO_PASSWORD in facts.logins_output


def test_persons_look_real(facts: Facts) -> None:
    assert len(set(facts.id_numbers)) == len(facts.id_numbers)
    for number in facts.id_numbers:
        assert re.fullmatch(r"\d{17}[\dX]", number)
        assert number[-1] == id_check_digit(number[:17])
    assert max(_km_from_centre(lat, lon) for lat, lon in facts.coordinates) <= 12.0


def test_assessments_and_plans(facts: Facts) -> None:
    persons = sum(facts.persons_by_agency.values())
    assert facts.approved_plans == persons
    assert set(facts.items_per_plan) <= {2, 3, 4, 5}
    severe = sum(n for grade, n in facts.grades.items() if grade >= 3)
    assert severe / persons > 0.8
    assert sum(n for grade, n in facts.grades.items() if grade < 3) >= 10
    assert 0.6 <= facts.persons_with_preferred / persons <= 0.8
    assert facts.two_staff_items >= 20
    assert facts.same_gender_items >= 20


def test_a_dispatchers_weekday_is_full_but_plannable(facts: Facts) -> None:
    assert facts.weekday.isoweekday() == 2
    for code, visits in facts.visits_by_agency.items():
        assert 100 <= visits <= 180, code
        assert visits / facts.caregivers_by_agency[code] <= 9


def test_loading_refuses_a_database_with_data(facts: Facts) -> None:
    assert facts.reload_exit == 2
    assert "already holds data" in facts.reload_output
    assert "--reset" in facts.reload_output
    assert facts.if_empty_exit == 0
    assert "demo not loaded" in facts.if_empty_output


def test_same_seed_same_city_other_seed_other_city(facts: Facts, session: Session) -> None:
    # reset: when this test runs alone, the module's load is still in the database.
    load_demo(session, seed=SEED, reset=True, today=facts.today)
    assert fingerprint(session) == facts.fingerprint
    with pytest.raises(Conflict):
        load_demo(session, seed=SEED, today=facts.today)
    load_demo(session, seed=SEED + 1, reset=True, today=facts.today)
    assert fingerprint(session) != facts.fingerprint
    assert session.scalar(select(func.count()).select_from(InsuredPerson)) == sum(
        facts.persons_by_agency.values()
    )


def test_reset_refuses_while_the_time_bank_ledger_has_accounts(
    facts: Facts, session: Session
) -> None:
    make_agency(session, "OLD")
    session.commit()
    # The suite's schema has the ledger tables (tests/conftest.py), emptied after the test.
    session.execute(
        insert(tb_accounts).values(
            ledger=1,
            kind="member",
            owner_ref="volunteer:1",
            no_overdraft=True,
            head_hash="0" * 64,
            created_at=dt.datetime.now(dt.UTC),
        )
    )
    session.commit()
    with pytest.raises(Conflict, match="ledger"):
        load_demo(session, seed=SEED, reset=True, today=facts.today)
    session.rollback()
    assert session.scalar(select(Agency.code)) == "OLD"
