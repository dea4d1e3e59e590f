"""The test world of tests/app plus what the time bank needs: a companionship item that
volunteers may give, on the plan of a person aged 88 registered as the volunteer's
mother, a second volunteer registered as the volunteer's daughter, and a helper that
verifies a volunteer's visit through the real EVV service."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

import pytest
from sqlalchemy.orm import Session

from app.models import (
    InsuredPerson,
    PlanItem,
    Role,
    ServiceItem,
    User,
    Visit,
    VisitStatus,
    VisitVerification,
    Volunteer,
    VolunteerRelative,
)
from app.services import evv
from app.services.evv_rules import EvvRules, Position
from tests.app.conftest import World, add_person, add_visit, assign
from tests.app.evv.conftest import HOME, local
from tests.conftest import make_user


@dataclass
class TbWorld:
    w: World
    volunteer: Volunteer
    user: User
    daughter: Volunteer
    daughter_user: User
    mother: InsuredPerson
    mother_link: VolunteerRelative
    daughter_link: VolunteerRelative
    companion_item: PlanItem
    stranger_link_id: int


@pytest.fixture
def tb(world: World, session: Session) -> TbWorld:
    chat = ServiceItem(
        code="CP01",
        name_zh="陪伴聊天",
        name_en="Companionship",
        category="companionship",
        standard_min=60,
        required_skill="companionship",
        price_fen=0,
        volunteer_ok=True,
    )
    session.add(chat)
    mother = add_person(session, world.agency, "李母", "320602193701010012")
    mother.birth_date = dt.date(1937, 1, 1)
    daughter = Volunteer(
        agency_id=world.agency.id,
        member_no="V002",
        name="李娜",
        gender="f",
        birth_date=dt.date(1990, 6, 1),
        home_lat=32.0,
        home_lon=120.9,
    )
    session.add(daughter)
    session.flush()
    world.plan.person_id = mother.id  # the approved plan is the mother's
    item = PlanItem(
        plan_id=world.plan.id, service_item_id=chat.id, weekdays=[6], windows=[["14:00", "17:00"]]
    )
    session.add(item)
    v = world.volunteer
    mother_link = VolunteerRelative(
        volunteer_id=v.id, relation="mother", relative_person_id=mother.id
    )
    daughter_link = VolunteerRelative(
        volunteer_id=v.id, relation="daughter", relative_volunteer_id=daughter.id
    )
    stranger = VolunteerRelative(
        volunteer_id=daughter.id, relation="friend", relative_person_id=world.person.id
    )
    session.add_all([mother_link, daughter_link, stranger])
    session.flush()
    daughter_user = make_user(
        session, Role.VOLUNTEER, world.agency, "vol-daughter", volunteer_id=daughter.id
    )
    session.commit()
    return TbWorld(
        world,
        v,
        world.users[Role.VOLUNTEER],
        daughter,
        daughter_user,
        mother,
        mother_link,
        daughter_link,
        item,
        stranger.id,
    )


def volunteer_visit(
    session: Session, tb: TbWorld, *, seq: int = 40, volunteer: Volunteer | None = None
) -> Visit:
    visit = add_visit(session, tb.w.item, tb.w.today, VisitStatus.ASSIGNED, seq=seq)
    assign(session, visit, volunteer=volunteer or tb.volunteer)
    session.commit()
    return visit


def verify_visit(
    session: Session, u: User, visit: Visit, start: str = "09:05", end: str = "09:55"
) -> VisitVerification:
    """Check in and out at the person's home through the EVV service: a verified visit."""
    result = None
    for kind, hhmm in (("check_in", start), ("check_out", end)):
        data = evv.ActionIn(
            id=str(uuid.uuid4()),
            visit_id=visit.id,
            kind=kind,
            occurred_at=local(visit.date, hhmm),
            position=Position(HOME[0], HOME[1], 10.0),
            items_done=tuple(evv.planned_items(visit)) if kind == "check_out" else (),
        )
        result = evv.record_action(session, u, data, rules=EvvRules())
    assert result is not None
    assert result.verification is not None
    assert result.verification.outcome == "verified", result.verification.reasons
    return result.verification
