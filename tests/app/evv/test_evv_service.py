"""Recording check-ins and check-outs: exactly once in any order, the visit's status moves,
verification records, exceptions and decisions, immutability, the time-bank hook."""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import (
    EvvAction,
    EvvRecordImmutable,
    Role,
    User,
    Visit,
    VisitStatus,
    VisitVerification,
)
from app.services import evv, evv_events
from app.services.errors import Conflict, NotFound
from app.services.evv_rules import EvvRules
from tests.app.conftest import add_visit, assign
from tests.app.evv.conftest import TWO_KM_NORTH, EvvWorld, action, local


@pytest.fixture
def verified_calls() -> Iterator[list[tuple[int, int]]]:
    calls: list[tuple[int, int]] = []

    def listener(session: Session, visit: Visit, record: VisitVerification) -> None:
        calls.append((visit.id, record.id))

    evv_events.on_visit_verified(listener)
    yield calls
    evv_events.VERIFIED_LISTENERS.remove(listener)


@pytest.fixture
def announced() -> Iterator[list[dict[str, Any]]]:
    seen: list[dict[str, Any]] = []

    def receiver(sender: object, *, room: str, payload: dict[str, Any]) -> None:
        seen.append({"room": room, **payload})

    evv_events.visit_status_changed.connect(receiver)
    yield seen
    evv_events.visit_status_changed.disconnect(receiver)


def test_check_in_then_out_at_home_verifies_the_visit(
    session: Session, ew: EvvWorld, verified_calls: list[Any], announced: list[Any]
) -> None:
    day = ew.w.today
    r1 = _record(session, ew, action(ew.visit, "check_in", local(day, "09:05")))
    assert (r1.action.state, r1.visit.status) == ("applied", VisitStatus.IN_PROGRESS)
    assert r1.visit.started_at == local(day, "09:05")
    r2 = _record(session, ew, action(ew.visit, "check_out", local(day, "09:55")))
    assert r2.action.state == "applied"
    assert r2.verification is not None
    assert (r2.verification.outcome, r2.verification.reasons) == ("verified", [])
    assert r2.visit.status == VisitStatus.VERIFIED
    assert r2.visit.completed_at == local(day, "09:55")
    rec = r2.verification
    # The six elements: who, to whom, which items, where and when.
    assert rec.caregiver_id == ew.w.caregiver.id
    assert rec.person_id == ew.w.person.id
    assert (rec.items_planned, rec.items_done) == (["BC01"], ["BC01"])
    assert rec.check_in_distance_m == 0.0
    assert (rec.check_in_at, rec.check_out_at) == (local(day, "09:05"), local(day, "09:55"))
    assert verified_calls == [(ew.visit.id, rec.id)]
    room = f"board:{ew.w.agency.id}:{day.isoformat()}"
    assert [(a["room"], a["status"]) for a in announced] == [
        (room, "in_progress"),
        (room, "verified"),
    ]
    assert announced[-1]["evv"]["outcome"] == "verified"
    assert announced[-1]["worker_ref"] == f"cg-{ew.w.caregiver.id}"


def test_a_replayed_action_is_answered_from_the_record_and_changes_nothing(
    session: Session, ew: EvvWorld
) -> None:
    day = ew.w.today
    check_in = action(ew.visit, "check_in", local(day, "09:05"))
    _record(session, ew, check_in)
    again = _record(session, ew, check_in)
    assert again.duplicate
    assert again.action.state == "applied"
    assert session.scalar(select(func.count()).select_from(EvvAction)) == 1


def test_a_check_out_before_its_check_in_waits_and_is_resolved(
    session: Session, ew: EvvWorld
) -> None:
    day = ew.w.today
    out = _record(session, ew, action(ew.visit, "check_out", local(day, "09:55")))
    assert (out.action.state, out.visit.status) == ("pending", VisitStatus.ASSIGNED)
    _record(session, ew, action(ew.visit, "check_in", local(day, "09:05")))
    session.refresh(out.action)
    assert out.action.state == "applied"
    assert session.get(Visit, ew.visit.id).status == VisitStatus.VERIFIED


def test_a_second_check_in_with_another_id_is_kept_but_ignored(
    session: Session, ew: EvvWorld
) -> None:
    day = ew.w.today
    _record(session, ew, action(ew.visit, "check_in", local(day, "09:05")))
    second = _record(session, ew, action(ew.visit, "check_in", local(day, "09:06")))
    assert second.action.state == "ignored"
    assert session.get(Visit, ew.visit.id).started_at == local(day, "09:05")


def test_a_check_in_two_km_away_is_an_exception_for_the_queue(
    session: Session, ew: EvvWorld
) -> None:
    day = ew.w.today
    _record(session, ew, action(ew.visit, "check_in", local(day, "09:05"), TWO_KM_NORTH))
    r = _record(session, ew, action(ew.visit, "check_out", local(day, "09:55")))
    assert r.verification is not None
    assert r.verification.outcome == "exception"
    assert r.verification.reasons == ["outside_geofence"]
    assert r.verification.check_in_distance_m == pytest.approx(2001, abs=2)
    assert r.visit.status == VisitStatus.COMPLETED  # done, not payable until decided
    entries = evv_queue(session, ew)
    assert [e.verification.id for e in entries] == [r.verification.id]
    assert entries[0].person_name == ew.w.person.name


def evv_queue(session: Session, world: EvvWorld) -> list[evv.QueueEntry]:
    return evv.exception_queue(session, world.w.users[Role.DISPATCHER]).items


def test_approving_an_exception_adds_a_record_and_verifies_the_visit(
    session: Session, ew: EvvWorld, verified_calls: list[Any]
) -> None:
    record = _exception(session, ew)
    dispatcher = ew.w.users[Role.DISPATCHER]
    decision = evv.decide(session, dispatcher, record.id, approve=True, reason="GPS drift")
    assert (decision.kind, decision.outcome, decision.supersedes_id) == (
        "approval",
        "verified",
        record.id,
    )
    assert decision.decided_by_id == dispatcher.id
    assert decision.reasons == ["outside_geofence"]  # the finding stays on record
    assert session.get(Visit, ew.visit.id).status == VisitStatus.VERIFIED
    assert verified_calls == [(ew.visit.id, decision.id)]
    assert evv_queue(session, ew) == []
    with pytest.raises(Conflict):
        evv.decide(session, dispatcher, record.id, approve=False, reason="again")
    history = session.scalars(select(VisitVerification).order_by(VisitVerification.id)).all()
    assert [(h.kind, h.outcome) for h in history] == [
        ("evaluation", "exception"),
        ("approval", "verified"),
    ]


def test_rejecting_an_exception_leaves_the_visit_unverified(
    session: Session, ew: EvvWorld, verified_calls: list[Any]
) -> None:
    record = _exception(session, ew)
    decision = evv.decide(
        session, ew.w.users[Role.AGENCY_ADMIN], record.id, approve=False, reason="not there"
    )
    assert decision.outcome == "rejected"
    assert session.get(Visit, ew.visit.id).status == VisitStatus.COMPLETED
    assert verified_calls == []


def test_only_the_agency_dispatchers_decide(session: Session, ew: EvvWorld) -> None:
    record = _exception(session, ew)
    for role in (Role.AUDITOR, Role.CAREGIVER):
        with pytest.raises(NotFound):
            evv.decide(session, ew.w.users[role], record.id, approve=True, reason="x")


def test_decisions_and_actions_are_refused_after_the_lock_period(
    session: Session, ew: EvvWorld
) -> None:
    record = _exception(session, ew)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=9)
    with pytest.raises(Conflict):
        evv.decide(
            session, ew.w.users[Role.DISPATCHER], record.id, approve=True, reason="x", now=later
        )
    r = evv.record_action(
        session,
        ew.other_user,
        action(ew.other_visit, "check_in", local(ew.w.today, "09:05")),
        rules=EvvRules(),
        now=later,
    )
    assert (r.action.state, r.action.note) == ("refused", "locked")
    assert r.visit.status == VisitStatus.ASSIGNED


def test_verification_records_are_never_changed(session: Session, ew: EvvWorld) -> None:
    record = _exception(session, ew)
    record.outcome = "verified"
    with pytest.raises(EvvRecordImmutable):
        session.flush()
    session.rollback()
    session.delete(session.get(VisitVerification, record.id))
    with pytest.raises(EvvRecordImmutable):
        session.flush()
    session.rollback()


def test_a_caregiver_cannot_check_in_to_another_caregivers_visit(
    session: Session, ew: EvvWorld
) -> None:
    with pytest.raises(NotFound):
        _record(session, ew, action(ew.other_visit, "check_in", local(ew.w.today, "09:05")))
    assert session.scalar(select(func.count()).select_from(EvvAction)) == 0


def test_an_action_id_of_another_user_is_refused(session: Session, ew: EvvWorld) -> None:
    mine = action(ew.visit, "check_in", local(ew.w.today, "09:05"))
    _record(session, ew, mine)
    with pytest.raises(Conflict):
        evv.record_action(session, ew.other_user, mine, rules=EvvRules())


def test_a_two_staff_visit_completes_when_both_have_checked_out(
    session: Session, ew: EvvWorld
) -> None:
    assign(session, ew.visit, caregiver=ew.other_caregiver)
    session.commit()
    day = ew.w.today
    _record(session, ew, action(ew.visit, "check_in", local(day, "09:05")))
    _record(session, ew, action(ew.visit, "check_out", local(day, "09:55")))
    assert session.get(Visit, ew.visit.id).status == VisitStatus.IN_PROGRESS
    other = ew.other_user
    for kind, hhmm in (("check_in", "09:06"), ("check_out", "09:56")):
        evv.record_action(session, other, action(ew.visit, kind, local(day, hhmm)))
    visit = session.get(Visit, ew.visit.id)
    assert visit.status == VisitStatus.VERIFIED
    assert visit.completed_at == local(day, "09:56")


def test_1000_replayed_actions_with_duplicates_and_reordering_are_each_recorded_once(
    session: Session, ew: EvvWorld
) -> None:
    rng = random.Random(20261125)
    day = ew.w.today
    visits = [
        add_visit(session, ew.w.item, day, VisitStatus.ASSIGNED, seq=10 + i) for i in range(200)
    ]
    for v in visits:
        assign(session, v, caregiver=ew.w.caregiver)
    session.commit()
    sent = []
    for v in visits:
        start = rng.randint(0, 50)
        where = TWO_KM_NORTH if rng.random() < 0.1 else (32.0, 120.9)
        sent.append(action(v, "check_in", local(day, "09:00") + dt.timedelta(minutes=start), where))
        sent.append(action(v, "check_out", local(day, "09:50") + dt.timedelta(minutes=start)))
    deliveries = sent + [rng.choice(sent) for _ in range(1000 - len(sent))]
    rng.shuffle(deliveries)
    assert len(deliveries) == 1000
    user_id, duplicates = ew.user.id, 0
    for item in deliveries:
        # Each delivery is its own request: a fresh session state, as in the app.
        session.expunge_all()
        u = session.get(User, user_id)
        duplicates += evv.record_action(session, u, item, rules=EvvRules()).duplicate
    assert duplicates == 1000 - len(sent)
    stored = {a.id: a for a in session.scalars(select(EvvAction))}
    assert stored.keys() == {a.id for a in sent}  # each exactly once, none lost
    assert {a.state for a in stored.values()} == {"applied"}
    records = session.scalars(select(VisitVerification)).all()
    assert sorted(r.visit_id for r in records) == sorted(v.id for v in visits)
    outcomes = {v.id: v.status for v in session.scalars(select(Visit).where(Visit.seq >= 10))}
    exceptions = {r.visit_id for r in records if r.outcome == "exception"}
    assert all(outcomes[i] == VisitStatus.COMPLETED for i in exceptions)
    assert all(outcomes[i] == VisitStatus.VERIFIED for i in outcomes.keys() - exceptions)
    assert 0 < len(exceptions) < len(visits)


def _record(session: Session, world: EvvWorld, data: evv.ActionIn) -> evv.ActionResult:
    return evv.record_action(session, world.user, data, rules=EvvRules())


def _exception(session: Session, world: EvvWorld) -> VisitVerification:
    day = world.w.today
    _record(session, world, action(world.visit, "check_in", local(day, "09:05"), TWO_KM_NORTH))
    r = _record(session, world, action(world.visit, "check_out", local(day, "09:55")))
    assert r.verification is not None
    assert r.verification.outcome == "exception"
    return r.verification


def test_action_ids_are_unique_keys(session: Session, ew: EvvWorld) -> None:
    same = str(uuid.uuid4())
    a = action(ew.visit, "check_in", local(ew.w.today, "09:05"), action_id=same)
    b = action(ew.visit, "check_out", local(ew.w.today, "09:55"), action_id=same)
    _record(session, ew, a)
    replay = _record(session, ew, b)  # the id decides, not the content
    assert replay.duplicate
    assert replay.action.kind == "check_in"


def test_a_volunteers_verified_visit_reaches_the_time_bank_listeners(
    session: Session, ew: EvvWorld, verified_calls: list[Any]
) -> None:
    visit = add_visit(session, ew.w.item, ew.w.today, VisitStatus.ASSIGNED, seq=40)
    assign(session, visit, volunteer=ew.w.volunteer)
    session.commit()
    volunteer = ew.w.users[Role.VOLUNTEER]
    for kind, hhmm in (("check_in", "09:05"), ("check_out", "09:55")):
        result = evv.record_action(
            session, volunteer, action(visit, kind, local(ew.w.today, hhmm)), rules=EvvRules()
        )
    assert result.verification is not None
    assert result.verification.volunteer_id == ew.w.volunteer.id
    assert result.visit.status == VisitStatus.VERIFIED
    assert verified_calls == [(visit.id, result.verification.id)]
    with pytest.raises(NotFound):  # a volunteer sees only their own visits too
        evv.record_action(
            session, volunteer, action(ew.visit, "check_in", local(ew.w.today, "09:05"))
        )
