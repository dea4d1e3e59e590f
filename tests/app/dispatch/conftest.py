"""A small agency day for the dispatch tests: 12 visits tomorrow, three caregivers and a
volunteer, every person eligible (grade 5), plus a second agency and a user per role.

Solves are bounded by a solution limit and a 2 s time limit, so they are deterministic
and quick; jobs run inline (the testing application's job runner).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from app.models import (
    Agency,
    Caregiver,
    CarePlan,
    InsuredPerson,
    PlanItem,
    Qualification,
    Role,
    ServiceItem,
    User,
    Visit,
    Volunteer,
)
from app.services.crud import local_today
from tests.app.api.conftest import id_number
from tests.conftest import (
    add_severe_assessment,
    login,
    make_agency,
    make_service_items,
    make_user,
)

SOLUTION_LIMIT = 40
CENTRE = (32.00, 120.86)
WINDOWS = (
    ("08:00", "10:00"),
    ("08:30", "10:30"),
    ("09:00", "11:00"),
    ("10:00", "12:00"),
    ("13:30", "15:30"),
    ("14:00", "16:00"),
)


@pytest.fixture(autouse=True)
def _bounded_solves(app: Flask) -> Iterator[None]:
    previous = app.config.get("DISPATCH_SOLUTION_LIMIT")
    app.config["DISPATCH_SOLUTION_LIMIT"] = SOLUTION_LIMIT
    yield
    app.config["DISPATCH_SOLUTION_LIMIT"] = previous


@dataclass
class Day:
    """The agency, its people and the day under test."""

    agency: Agency
    other: Agency
    day: dt.date
    caregivers: list[Caregiver]
    volunteer: Volunteer
    persons: list[InsuredPerson]
    items: list[PlanItem]
    visits: list[Visit]
    users: dict[str, User]
    other_visit: Visit
    extra: dict[str, Any] = field(default_factory=dict)


def _point(k: int) -> tuple[float, float]:
    # A small grid of homes within about 3 km of the centre: short e-bike rides.
    return (CENTRE[0] + 0.006 * (k % 4), CENTRE[1] + 0.007 * (k // 4))


def add_caregiver(session: Session, agency: Agency, n: int, **fields: Any) -> Caregiver:
    lat, lon = _point(n + 5)
    values: dict[str, Any] = {
        "agency_id": agency.id,
        "staff_no": f"{agency.code}-C{n:02d}",
        "name": f"护理员{n}",
        "gender": "f",
        "home_lat": lat,
        "home_lon": lon,
        "shift_start": dt.time(8, 0),
        "shift_end": dt.time(17, 0),
        "break_window_start": dt.time(11, 30),
        "break_window_end": dt.time(13, 30),
        "break_min": 30,
        "qualifications": [Qualification(skill="personal_care", level=2)],
    }
    caregiver = Caregiver(**(values | fields))
    session.add(caregiver)
    session.flush()
    return caregiver


def add_person(session: Session, agency: Agency, n: int, today: dt.date) -> InsuredPerson:
    born = dt.date(1938, 1, 1) + dt.timedelta(days=37 * n)
    lat, lon = _point(n)
    person = InsuredPerson(
        agency_id=agency.id,
        name=f"老人{agency.code}{n}",
        gender="f",
        birth_date=born,
        id_number=id_number(born, 100 + n),
        address=f"崇川区 人民路 {n} 号",
        district="崇川区",
        lat=lat,
        lon=lon,
        disability_since=dt.date(2020, 1, 1),
    )
    session.add(person)
    session.flush()
    add_severe_assessment(session, person, today)
    return person


def add_plan_item(
    session: Session, person: InsuredPerson, service: ServiceItem, today: dt.date
) -> PlanItem:
    plan = CarePlan(
        person_id=person.id,
        agency_id=person.agency_id,
        valid_from=today - dt.timedelta(days=10),
        valid_to=today + dt.timedelta(days=180),
        status="approved",
        items=[
            PlanItem(
                service_item_id=service.id,
                weekdays=[1, 2, 3, 4, 5, 6, 7],
                windows=[["08:00", "12:00"]],
                priority=2,
            )
        ],
    )
    session.add(plan)
    session.flush()
    return plan.items[0]


def add_visit(
    session: Session,
    item: PlanItem,
    day: dt.date,
    window: tuple[str, str],
    *,
    seq: int = 0,
    duration_min: int = 45,
    priority: int = 2,
    status: str = "planned",
    **fields: Any,
) -> Visit:
    visit = Visit(
        plan_item_id=item.id,
        person_id=item.plan.person_id,
        agency_id=item.plan.agency_id,
        date=day,
        seq=seq,
        windows=[list(window)],
        duration_min=duration_min,
        skills=[fields.pop("skill", "personal_care")],
        priority=priority,
        status=status,
        **fields,
    )
    session.add(visit)
    session.flush()
    return visit


@pytest.fixture
def day(app: Flask, session: Session) -> Day:
    today = local_today()
    tomorrow = today + dt.timedelta(days=1)
    agency, other = make_agency(session, "A1"), make_agency(session, "B2")
    care, company = make_service_items(session)
    caregivers = [add_caregiver(session, agency, n) for n in range(3)]
    volunteer = Volunteer(
        agency_id=agency.id,
        member_no="TB-A1-0001",
        name="志愿者",
        gender="m",
        birth_date=dt.date(1960, 1, 1),
        home_lat=CENTRE[0],
        home_lon=CENTRE[1],
        availability={
            k: [["09:00", "12:00"]] for k in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
        },
    )
    session.add(volunteer)
    session.flush()
    persons = [add_person(session, agency, n, today) for n in range(8)]
    items = [add_plan_item(session, p, care, today) for p in persons]
    visits = [
        add_visit(session, items[k % 8], tomorrow, WINDOWS[k % len(WINDOWS)], seq=k // 8)
        for k in range(11)
    ]
    company_item = add_plan_item(session, persons[0], company, today)
    visits.append(
        add_visit(
            session,
            company_item,
            tomorrow,
            ("09:00", "12:00"),
            duration_min=60,
            skill="companionship",
            volunteer_ok=True,
        )
    )
    other_cg = add_caregiver(session, other, 9)
    other_person = add_person(session, other, 20, today)
    other_item = add_plan_item(session, other_person, care, today)
    other_visit = add_visit(session, other_item, tomorrow, ("09:00", "11:00"))
    session.commit()
    users = {
        "dispatcher": make_user(session, Role.DISPATCHER, agency),
        "agency_admin": make_user(session, Role.AGENCY_ADMIN, agency),
        "caregiver": make_user(session, Role.CAREGIVER, agency, caregiver_id=caregivers[0].id),
        "caregiver2": make_user(
            session, Role.CAREGIVER, agency, "caregiver-2", caregiver_id=caregivers[1].id
        ),
        "volunteer": make_user(session, Role.VOLUNTEER, agency, volunteer_id=volunteer.id),
        "dispatcher_b": make_user(session, Role.DISPATCHER, other),
        "auditor": make_user(session, Role.AUDITOR, None),
        "sys_admin": make_user(session, Role.SYS_ADMIN, None),
    }
    return Day(
        agency,
        other,
        tomorrow,
        caregivers,
        volunteer,
        persons,
        items,
        visits,
        users,
        other_visit,
        {"other_caregiver": other_cg, "care": care, "company": company},
    )


class Api:
    """Calls the API as one of the day's users."""

    def __init__(self, client: FlaskClient, session: Session, day: Day) -> None:
        self.client, self.session, self.day = client, session, day
        self._tokens: dict[int, str] = {}

    def as_user(self, who: str) -> None:
        u = self.day.users[who]
        token = self._tokens.get(u.id) or login(self.client, self.session, u)
        self._tokens[u.id] = token
        with self.client.session_transaction() as s:
            s["_user_id"] = token
            s["_fresh"] = True

    def get(self, who: str, url: str, **query: Any) -> TestResponse:
        self.as_user(who)
        return self.client.get(url, query_string=query or None)

    def post(self, who: str, url: str, json: Any = None) -> TestResponse:
        self.as_user(who)
        return self.client.post(url, json={} if json is None else json)


@pytest.fixture
def api(client: FlaskClient, session: Session, day: Day) -> Api:
    return Api(client, session, day)
