"""A small two-agency world for the API tests, and a client that acts as a chosen user.

Agency A has two persons (a1 eligible with an approved plan and a visit tomorrow assigned
to a caregiver and a volunteer of A; a2 eligible with a draft plan), agency B one person
with an approved plan and a visit. There is a user for every role in A, a dispatcher in B,
an auditor and an operator.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from app.models import (
    Agency,
    Base,
    Caregiver,
    CarePlan,
    InsuredPerson,
    PlanItem,
    Qualification,
    Role,
    ServiceItem,
    User,
    Visit,
    VisitAssignment,
    Volunteer,
    utcnow,
)
from app.services.crud import local_today
from tests.conftest import (
    add_severe_assessment,
    login,
    make_agency,
    make_service_items,
    make_user,
)

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def id_number(born: dt.date, serial: int, region: str = "320602") -> str:
    """A resident ID number with a correct check digit."""
    body = f"{region}{born:%Y%m%d}{serial:03d}"
    total = sum(int(d) * w for d, w in zip(body, _WEIGHTS, strict=True))
    return body + "10X98765432"[total % 11]


def count(session: Session, model: type[Any]) -> int:
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


# Tables a failed request may still touch: logins open sessions, reads are logged.
_UNTRACKED = {"user_session", "access_log"}


def snapshot(session: Session) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every domain table, to prove that a failed request wrote nothing."""
    session.expire_all()
    return {
        table.name: sorted(
            (tuple(map(repr, row)) for row in session.execute(select(table))), key=str
        )
        for table in Base.metadata.sorted_tables
        if table.name not in _UNTRACKED
    }


def person_body(**overrides: Any) -> dict[str, Any]:
    born = dt.date(1940, 5, 17)
    body = {
        "name": "王秀英",
        "gender": "f",
        "birth_date": born.isoformat(),
        "id_number": id_number(born, 42),
        "address": "崇川区青年中路 88 号 3 幢 201 室",
        "district": "崇川区",
        "lat": 32.01,
        "lon": 120.86,
        "phone": "13900000001",
        "disability_since": "2023-01-01",
        "care_notes": "糖尿病，需监测血糖",
    }
    return body | overrides


@dataclass
class World:
    today: dt.date
    a: Agency
    b: Agency
    users: dict[str, User]
    item_care: ServiceItem
    item_company: ServiceItem
    cg_a: Caregiver
    cg_b: Caregiver
    vol_a: Volunteer
    vol_b: Volunteer
    a1: InsuredPerson
    a2: InsuredPerson
    b1: InsuredPerson
    plan_a: CarePlan
    plan_b: CarePlan
    draft_a: CarePlan
    visit_a: Visit
    visit_b: Visit


def _person(session: Session, agency: Agency, name: str, serial: int, district: str) -> Any:
    born = dt.date(1938, 3, 9)
    person = InsuredPerson(
        agency_id=agency.id,
        name=name,
        gender="f",
        birth_date=born,
        id_number=id_number(born, serial),
        address=f"{district} 人民路 {serial} 号",
        district=district,
        lat=32.0 + serial / 1000,
        lon=120.86,
        disability_since=dt.date(2020, 1, 1),
        care_notes="secret notes",
    )
    session.add(person)
    session.flush()
    return person


def _assess(session: Session, person: InsuredPerson, today: dt.date) -> None:
    add_severe_assessment(session, person, today)


def _caregiver(session: Session, agency: Agency, staff_no: str) -> Caregiver:
    caregiver = Caregiver(
        agency_id=agency.id,
        staff_no=staff_no,
        name=f"护理员 {staff_no}",
        gender="f",
        home_lat=32.0,
        home_lon=120.85,
        qualifications=[Qualification(skill="personal_care", level=2)],
    )
    session.add(caregiver)
    session.flush()
    return caregiver


def _volunteer(session: Session, agency: Agency, member_no: str) -> Volunteer:
    volunteer = Volunteer(
        agency_id=agency.id,
        member_no=member_no,
        name=f"志愿者 {member_no}",
        gender="m",
        birth_date=dt.date(1960, 1, 1),
        home_lat=32.0,
        home_lon=120.87,
    )
    session.add(volunteer)
    session.flush()
    return volunteer


def _plan(session: Session, person: InsuredPerson, item: ServiceItem, today: dt.date) -> CarePlan:
    plan = CarePlan(
        person_id=person.id,
        agency_id=person.agency_id,
        valid_from=today - dt.timedelta(days=10),
        valid_to=today + dt.timedelta(days=180),
        status="approved",
        approved_at=utcnow(),
        items=[PlanItem(service_item_id=item.id, weekdays=[1, 3, 5], windows=[["08:00", "10:00"]])],
    )
    session.add(plan)
    session.flush()
    return plan


def _visit(session: Session, plan: CarePlan, day: dt.date) -> Visit:
    visit = Visit(
        plan_item_id=plan.items[0].id,
        person_id=plan.person_id,
        agency_id=plan.agency_id,
        date=day,
        windows=[["08:00", "10:00"]],
        duration_min=45,
        skills=["personal_care"],
    )
    session.add(visit)
    session.flush()
    return visit


@pytest.fixture
def api_world(session: Session) -> World:
    today = local_today()
    a, b = make_agency(session, "A"), make_agency(session, "B")
    item_care, item_company = make_service_items(session)
    cg_a, cg_b = _caregiver(session, a, "A-001"), _caregiver(session, b, "B-001")
    vol_a, vol_b = _volunteer(session, a, "V-A1"), _volunteer(session, b, "V-B1")
    a1 = _person(session, a, "张桂兰", 101, "崇川区")
    a2 = _person(session, a, "李建国", 102, "通州区")
    b1 = _person(session, b, "陈玉梅", 201, "海门区")
    for person in (a1, a2, b1):
        _assess(session, person, today)
    plan_a, plan_b = _plan(session, a1, item_care, today), _plan(session, b1, item_care, today)
    draft_a = _plan(session, a2, item_company, today)
    draft_a.status, draft_a.approved_at = "draft", None
    tomorrow = today + dt.timedelta(days=1)
    visit_a, visit_b = _visit(session, plan_a, tomorrow), _visit(session, plan_b, tomorrow)
    now = utcnow()
    session.add_all(
        [
            VisitAssignment(visit_id=visit_a.id, caregiver_id=cg_a.id, assigned_at=now),
            VisitAssignment(visit_id=visit_a.id, volunteer_id=vol_a.id, assigned_at=now),
            VisitAssignment(visit_id=visit_b.id, caregiver_id=cg_b.id, assigned_at=now),
        ]
    )
    session.commit()
    users = {
        "dispatcher": make_user(session, Role.DISPATCHER, a),
        "agency_admin": make_user(session, Role.AGENCY_ADMIN, a),
        "caregiver": make_user(session, Role.CAREGIVER, a, caregiver_id=cg_a.id),
        "volunteer": make_user(session, Role.VOLUNTEER, a, volunteer_id=vol_a.id),
        "dispatcher_b": make_user(session, Role.DISPATCHER, b),
        "auditor": make_user(session, Role.AUDITOR, None),
        "sys_admin": make_user(session, Role.SYS_ADMIN, None),
    }
    return World(
        today, a, b, users, item_care, item_company, cg_a, cg_b, vol_a, vol_b,
        a1, a2, b1, plan_a, plan_b, draft_a, visit_a, visit_b,
    )  # fmt: skip


class Api:
    """Calls the API as a given user (or anonymously with ``as_user=None``)."""

    def __init__(self, client: FlaskClient, session: Session, world: World) -> None:
        self.client = client
        self.session = session
        self.world = world
        self._tokens: dict[int, str] = {}

    def _act_as(self, who: str | None) -> None:
        if who is None:
            with self.client.session_transaction() as s:
                s.clear()
            return
        u = self.world.users[who]
        token = self._tokens.get(u.id) or login(self.client, self.session, u)
        self._tokens[u.id] = token
        with self.client.session_transaction() as s:
            s["_user_id"] = token
            s["_fresh"] = True

    def call(
        self,
        who: str | None,
        method: str,
        url: str,
        json: Any = None,
        query: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> TestResponse:
        self._act_as(who)
        return self.client.open(url, method=method, json=json, query_string=query, **kwargs)

    def get(self, who: str | None, url: str, **query: Any) -> TestResponse:
        return self.call(who, "GET", url, query=query or None)

    def post(self, who: str | None, url: str, json: Any = None) -> TestResponse:
        return self.call(who, "POST", url, json={} if json is None else json)

    def patch(self, who: str | None, url: str, json: Any) -> TestResponse:
        return self.call(who, "PATCH", url, json=json)


@pytest.fixture
def api(client: FlaskClient, session: Session, api_world: World) -> Api:
    return Api(client, session, api_world)


# --- request bodies that are valid in the world above; tests spoil one field at a time ---


def agency_body(w: World) -> dict[str, Any]:
    return {"code": "C", "name": "南通安康护理服务有限公司", "licence_no": "LIC-C"}


def item_body(w: World) -> dict[str, Any]:
    return {
        "code": "HC30",
        "name_zh": "助餐",
        "name_en": "Meal help",
        "category": "household",
        "standard_min": 30,
        "required_skill": "household",
        "price_fen": 2500,
    }


def caregiver_body(w: World) -> dict[str, Any]:
    return {
        "staff_no": "A-009",
        "name": "赵敏",
        "gender": "f",
        "home_lat": 32.0,
        "home_lon": 120.9,
        "break_window_start": "11:30",
        "break_window_end": "13:30",
        "break_min": 30,
        "qualifications": [{"skill": "personal_care", "level": 2}],
    }


def volunteer_body(w: World) -> dict[str, Any]:
    return {
        "member_no": "V-A9",
        "name": "钱伟",
        "gender": "m",
        "birth_date": "1958-04-01",
        "home_lat": 32.0,
        "home_lon": 120.9,
        "availability": {"mon": [["09:00", "12:00"]], "thu": [["14:00", "17:00"]]},
    }


def assessment_body(w: World) -> dict[str, Any]:
    return {
        "adl_scores": [0] * 10,
        "cognition_scores": [0] * 4,
        "perception_scores": [0] * 3,
        "assessed_at": w.today.isoformat(),
        "assessor": "评估员",
    }


def plan_body(w: World) -> dict[str, Any]:
    return {
        "person_id": w.a2.id,
        "valid_from": w.today.isoformat(),
        "valid_to": (w.today + dt.timedelta(days=90)).isoformat(),
        "items": [
            {
                "service_item_id": w.item_care.id,
                "times_per_week": 2,
                "windows": [["08:00", "10:00"], ["14:00", "16:00"]],
                "preferred_caregiver_id": w.cg_a.id,
            }
        ],
    }


def visit_body(w: World) -> dict[str, Any]:
    return {
        "plan_item_id": w.plan_a.items[0].id,
        "date": (w.today + dt.timedelta(days=2)).isoformat(),
    }
