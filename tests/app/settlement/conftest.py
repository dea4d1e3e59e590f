"""A delivered month for settlement tests: the test world's person, eligible and with an
approved plan covering last month, and visits of last month delivered through the real
check-in/check-out path (verified, or an exception when the phone was 2 km away)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from sqlalchemy.orm import Session

from app.models import Qualification, Role, User, Visit, VisitStatus
from app.services import evv
from app.services.months import month_bounds
from tests.app.conftest import World, add_visit, assign
from tests.app.evv.conftest import HOME, TWO_KM_NORTH, action, local
from tests.conftest import add_severe_assessment


@dataclass
class MonthWorld:
    w: World
    period: dt.date

    def user(self, role: Role) -> User:
        return self.w.users[role]

    def day(self, n: int) -> dt.date:
        return self.period + dt.timedelta(days=n - 1)


@pytest.fixture
def mw(world: World, session: Session) -> MonthWorld:
    period, _ = month_bounds(world.today.replace(day=1) - dt.timedelta(days=1))
    world.plan.valid_from = period - dt.timedelta(days=10)
    world.person.disability_since = period - dt.timedelta(days=400)
    add_severe_assessment(session, world.person, period)
    session.add(
        Qualification(caregiver_id=world.caregiver.id, skill="personal_care", expires_on=None)
    )
    session.commit()
    return MonthWorld(world, period)


def deliver(
    session: Session,
    mw: MonthWorld,
    day: dt.date,
    *,
    seq: int = 10,
    where: tuple[float, float] = HOME,
) -> Visit:
    """A visit of ``day`` checked in at 09:05 and out at 09:55 at ``where``."""
    visit = add_visit(session, mw.w.item, day, VisitStatus.ASSIGNED, seq=seq)
    assign(session, visit, caregiver=mw.w.caregiver)
    session.commit()
    u = mw.user(Role.CAREGIVER)
    for kind, hhmm in (("check_in", "09:05"), ("check_out", "09:55")):
        at = local(day, hhmm)
        evv.record_action(session, u, action(visit, kind, at, where), now=at)
    return visit


def deliver_away(session: Session, mw: MonthWorld, day: dt.date, *, seq: int = 10) -> Visit:
    """A visit checked in and out 2 km from the home: an open EVV exception."""
    return deliver(session, mw, day, seq=seq, where=TWO_KM_NORTH)
