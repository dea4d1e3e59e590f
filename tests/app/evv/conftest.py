"""The test world of tests/app plus a second caregiver with a visit of their own, and
helpers to make phone actions at given local times and places."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.orm import Session

from app.models import Caregiver, InsuredPerson, Role, User, Visit, VisitStatus
from app.services.evv import ActionIn
from app.services.evv_rules import Position
from tests.app.conftest import World, add_person, add_visit, assign
from tests.conftest import make_user

TZ = ZoneInfo("Asia/Shanghai")
HOME = (32.0, 120.9)  # where add_person puts everyone
TWO_KM_NORTH = (32.018, 120.9)


@dataclass
class EvvWorld:
    w: World
    other_caregiver: Caregiver
    other_user: User
    other_person: InsuredPerson
    other_visit: Visit

    @property
    def visit(self) -> Visit:
        return self.w.visits[0]

    @property
    def user(self) -> User:
        return self.w.users[Role.CAREGIVER]


@pytest.fixture
def ew(world: World, session: Session) -> EvvWorld:
    other = Caregiver(
        agency_id=world.agency.id,
        staff_no="C002",
        name="赵敏",
        gender="f",
        home_lat=32.0,
        home_lon=120.9,
    )
    session.add(other)
    session.flush()
    person = add_person(session, world.agency, "钱桂兰", "320602194001010011")
    person.care_notes = "糖尿病，注意低血糖"
    visit = add_visit(session, world.item, world.today, VisitStatus.ASSIGNED, seq=5)
    visit.person_id = person.id
    assign(session, visit, caregiver=other)
    u = make_user(session, Role.CAREGIVER, world.agency, "cg-other", caregiver_id=other.id)
    session.commit()
    return EvvWorld(world, other, u, person, visit)


def local(day: dt.date, hhmm: str) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.fromisoformat(hhmm), tzinfo=TZ)


def action(
    visit: Visit,
    kind: str,
    at: dt.datetime,
    where: tuple[float, float] | None = HOME,
    *,
    items: tuple[str, ...] = ("BC01",),
    accuracy_m: float = 10.0,
    action_id: str | None = None,
) -> ActionIn:
    return ActionIn(
        id=action_id or str(uuid.uuid4()),
        visit_id=visit.id,
        kind=kind,
        occurred_at=at,
        position=Position(where[0], where[1], accuracy_m) if where else None,
        items_done=items if kind == "check_out" else (),
    )
