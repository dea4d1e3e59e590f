"""The visit status machine: the legal moves stamp their time, every other move is refused."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.orm import Session

from app.models import (
    CarePlan,
    InsuredPerson,
    PlanItem,
    PlanStatus,
    ServiceItem,
    Visit,
    VisitStatus,
)
from app.services.errors import Conflict, ValidationFailed
from app.services.visits import TRANSITIONS, transition
from tests.conftest import make_agency

S = VisitStatus
T0 = dt.datetime(2026, 3, 4, 1, 0, tzinfo=dt.UTC)


@pytest.fixture
def visit(session: Session) -> Visit:
    agency = make_agency(session)
    person = InsuredPerson(
        agency_id=agency.id,
        name="顾秀英",
        gender="f",
        birth_date=dt.date(1940, 1, 1),
        id_number="320602194001010020",
        address="南通市崇川区文峰新村3幢201室",
        district="崇川区",
        lat=32.01,
        lon=120.86,
    )
    item = ServiceItem(
        code="BC01",
        name_zh="协助沐浴",
        name_en="Bathing assistance",
        category="basic_care",
        standard_min=45,
        required_skill="personal_care",
        price_fen=8000,
    )
    session.add_all([person, item])
    session.flush()
    plan = CarePlan(
        person_id=person.id,
        agency_id=agency.id,
        valid_from=dt.date(2026, 1, 1),
        valid_to=dt.date(2026, 12, 31),
        status=PlanStatus.APPROVED,
    )
    plan.items.append(
        PlanItem(service_item_id=item.id, times_per_week=2, windows=[["09:00", "11:00"]])
    )
    session.add(plan)
    session.flush()
    v = Visit(
        plan_item_id=plan.items[0].id,
        person_id=person.id,
        agency_id=agency.id,
        date=dt.date(2026, 3, 4),
        windows=[["09:00", "11:00"]],
        duration_min=45,
        skills=["personal_care"],
        status=S.PLANNED,
    )
    session.add(v)
    session.commit()
    return v


def test_the_whole_way_to_verified_stamps_each_step(session: Session, visit: Visit) -> None:
    steps = [
        (S.ASSIGNED, "assigned_at"),
        (S.IN_PROGRESS, "started_at"),
        (S.COMPLETED, "completed_at"),
        (S.VERIFIED, "verified_at"),
    ]
    for n, (status, stamp) in enumerate(steps):
        at = T0 + dt.timedelta(minutes=10 * n)
        transition(session, visit, status, at=at)
        assert visit.status == status
        assert getattr(visit, stamp) == at
        assert visit.status_changed_at == at
    session.commit()
    session.expire_all()
    assert session.get(Visit, visit.id).status == S.VERIFIED  # type: ignore[union-attr]


@pytest.mark.parametrize("start", [S.PLANNED, S.ASSIGNED])
def test_cancel_before_start_keeps_the_reason(
    session: Session, visit: Visit, start: VisitStatus
) -> None:
    if start == S.ASSIGNED:
        transition(session, visit, S.ASSIGNED, at=T0)
    transition(session, visit, S.CANCELLED, at=T0, reason="住院")
    assert visit.status == S.CANCELLED
    assert visit.cancelled_at == T0
    assert visit.cancel_reason == "住院"


def test_missed_and_unassigned(session: Session, visit: Visit) -> None:
    transition(session, visit, S.ASSIGNED, at=T0)
    transition(session, visit, S.PLANNED, at=T0)
    assert visit.status == S.PLANNED
    assert visit.assigned_at is None
    transition(session, visit, S.ASSIGNED, at=T0)
    transition(session, visit, S.MISSED, at=T0 + dt.timedelta(hours=3))
    assert visit.missed_at == T0 + dt.timedelta(hours=3)


def test_time_defaults_to_now(session: Session, visit: Visit) -> None:
    before = dt.datetime.now(dt.UTC)
    transition(session, visit, S.ASSIGNED)
    assert visit.assigned_at is not None
    assert visit.assigned_at >= before


ALL = list(S)
ILLEGAL = [(a, b) for a in ALL for b in ALL if (a, b) not in TRANSITIONS]


@pytest.mark.parametrize(("start", "to"), ILLEGAL)
def test_every_other_move_is_a_conflict(
    session: Session, visit: Visit, start: VisitStatus, to: VisitStatus
) -> None:
    # Set up the start status directly: this test is about what transition refuses.
    visit.status = start
    session.flush()
    with pytest.raises(Conflict) as err:
        transition(session, visit, to, at=T0)
    assert "status" in err.value.errors
    assert visit.status == start


def test_reason_only_for_cancellation_and_time_must_be_aware(
    session: Session, visit: Visit
) -> None:
    with pytest.raises(ValidationFailed) as err:
        transition(session, visit, S.ASSIGNED, reason="why")
    assert set(err.value.errors) == {"reason"}
    with pytest.raises(ValidationFailed) as err:
        transition(session, visit, S.ASSIGNED, at=dt.datetime(2026, 3, 4, 9, 0))
    assert set(err.value.errors) == {"at"}
    assert visit.status == S.PLANNED


def test_the_table_is_the_documented_machine() -> None:
    assert set(TRANSITIONS) == {
        (S.PLANNED, S.ASSIGNED),
        (S.ASSIGNED, S.IN_PROGRESS),
        (S.IN_PROGRESS, S.COMPLETED),
        (S.COMPLETED, S.VERIFIED),
        (S.PLANNED, S.CANCELLED),
        (S.ASSIGNED, S.CANCELLED),
        (S.ASSIGNED, S.MISSED),
        (S.ASSIGNED, S.PLANNED),
    }
