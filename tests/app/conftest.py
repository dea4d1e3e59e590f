"""Fixtures for the web layer: compiled catalogs, and a small agency with one user per role.

The .mo files are build output (not committed); they are compiled once per test session
with the same code as ``flask i18n compile``, before any request loads translations.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from app.cli.i18n import compile_catalogs
from app.models import (
    Agency,
    Caregiver,
    CarePlan,
    InsuredPerson,
    PlanItem,
    PlanStatus,
    Role,
    ServiceItem,
    User,
    Visit,
    VisitAssignment,
    VisitStatus,
    Volunteer,
    utcnow,
)
from app.services.crud import local_today
from tests.conftest import make_agency, make_user


@pytest.fixture(scope="session", autouse=True)
def _compiled_catalogs() -> None:
    compile_catalogs()


@dataclass
class World:
    """One agency with a person, an approved plan, visits today and tomorrow, a caregiver
    and a volunteer record, and a user for every role (cross-agency roles have none)."""

    agency: Agency
    other_agency: Agency
    users: dict[Role, User]
    caregiver: Caregiver
    volunteer: Volunteer
    person: InsuredPerson
    plan: CarePlan
    item: PlanItem
    today: dt.date
    visits: list[Visit]

    def ids(self) -> dict[str, int]:
        """Ids that access-matrix rows may refer to by name."""
        return {
            "agency_id": self.agency.id,
            "other_agency_id": self.other_agency.id,
            "person_id": self.person.id,
            "plan_id": self.plan.id,
            "plan_item_id": self.item.id,
            "caregiver_id": self.caregiver.id,
            "volunteer_id": self.volunteer.id,
            "visit_id": self.visits[0].id,
            "service_item_id": self.item.service_item_id,
        }


def add_person(session: Session, agency: Agency, name: str, id_number: str) -> InsuredPerson:
    person = InsuredPerson(
        agency_id=agency.id,
        name=name,
        gender="f",
        birth_date=dt.date(1938, 5, 1),
        id_number=id_number,
        address="崇川区青年中路 8 号 2 单元 301",
        district="崇川区",
        lat=32.0,
        lon=120.9,
    )
    session.add(person)
    session.flush()
    return person


def add_visit(
    session: Session,
    item: PlanItem,
    day: dt.date,
    status: VisitStatus,
    *,
    seq: int = 0,
    window: tuple[str, str] = ("09:00", "10:00"),
) -> Visit:
    visit = Visit(
        plan_item_id=item.id,
        person_id=item.plan.person_id,
        agency_id=item.plan.agency_id,
        date=day,
        seq=seq,
        windows=[list(window)],
        duration_min=45,
        skills=["personal_care"],
        status=status,
    )
    session.add(visit)
    session.flush()
    return visit


def assign(
    session: Session,
    visit: Visit,
    *,
    caregiver: Caregiver | None = None,
    volunteer: Volunteer | None = None,
) -> None:
    session.add(
        VisitAssignment(
            visit_id=visit.id,
            caregiver_id=caregiver.id if caregiver else None,
            volunteer_id=volunteer.id if volunteer else None,
            assigned_at=utcnow(),
        )
    )
    session.flush()


@pytest.fixture
def world(app: Flask, session: Session) -> World:
    agency = make_agency(session, "A1")
    other = make_agency(session, "B2")
    caregiver = Caregiver(
        agency_id=agency.id, staff_no="C001", name="王芳", gender="f", home_lat=32.0, home_lon=120.9
    )
    volunteer = Volunteer(
        agency_id=agency.id,
        member_no="V001",
        name="李强",
        gender="m",
        birth_date=dt.date(1960, 3, 3),
        home_lat=32.0,
        home_lon=120.9,
    )
    session.add_all([caregiver, volunteer])
    session.flush()
    person = add_person(session, agency, "张秀英", "320602193805010026")
    service = ServiceItem(
        code="BC01",
        name_zh="协助洗浴",
        name_en="Help with bathing",
        category="basic_care",
        standard_min=45,
        required_skill="personal_care",
        price_fen=6000,
    )
    session.add(service)
    session.flush()
    today = local_today(app.config["BABEL_DEFAULT_TIMEZONE"])
    plan = CarePlan(
        person_id=person.id,
        agency_id=agency.id,
        valid_from=today - dt.timedelta(days=30),
        valid_to=today + dt.timedelta(days=150),
        status=PlanStatus.APPROVED,
    )
    session.add(plan)
    session.flush()
    item = PlanItem(
        plan_id=plan.id, service_item_id=service.id, times_per_week=3, windows=[["09:00", "11:00"]]
    )
    session.add(item)
    session.flush()
    visits = [
        add_visit(session, item, today, VisitStatus.ASSIGNED, window=("09:00", "10:00")),
        add_visit(session, item, today + dt.timedelta(days=1), VisitStatus.PLANNED),
    ]
    assign(session, visits[0], caregiver=caregiver)
    users = {
        Role.DISPATCHER: make_user(session, Role.DISPATCHER, agency),
        Role.CAREGIVER: make_user(session, Role.CAREGIVER, agency, caregiver_id=caregiver.id),
        Role.VOLUNTEER: make_user(session, Role.VOLUNTEER, agency, volunteer_id=volunteer.id),
        Role.AGENCY_ADMIN: make_user(session, Role.AGENCY_ADMIN, agency),
        Role.AUDITOR: make_user(session, Role.AUDITOR, None),
        Role.SYS_ADMIN: make_user(session, Role.SYS_ADMIN, None),
    }
    session.commit()
    return World(agency, other, users, caregiver, volunteer, person, plan, item, today, visits)
