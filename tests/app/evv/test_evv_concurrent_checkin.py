"""Two actions of one worker for one visit arriving at the same instant, with different
ids (two phones, or an outbox replay racing a live tap): exactly one check-in applies, the
other is stored as ignored with a note, and nothing is lost (PostgreSQL: real row locks
between two connections; SQLite lets one writer in at a time). Also under the lock: a
check-out racing its check-in is applied, never left pending, and one id sent twice at
once is stored once.

Each round releases two threads, each on its own connection, together through a barrier.
So that the race does not depend on thread timing, every thread also waits briefly (a
gate with a timeout) right after reading whether the visit already has an applied
check-in: without the visit's row lock both threads read "no" before either commits and
both apply; with it the second thread cannot read before the first has committed, the
gate times out for the first, and the second reads the first's committed check-in.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.extensions import db
from app.models import EvvAction, User, Visit, VisitStatus
from app.services import evv
from app.services.evv_rules import EvvRules
from tests.app.conftest import add_visit, assign
from tests.app.evv.conftest import EvvWorld, action, local

ROUNDS = 5
GATE_TIMEOUT_S = 0.5
JOIN_TIMEOUT_S = 30
RULES = EvvRules()


@pytest.fixture(autouse=True)
def _postgresql_only() -> None:
    if db.engine.dialect.name != "postgresql":
        pytest.skip("needs TEST_DATABASE_URL=postgresql://... (two real connections)")


@dataclass
class Outcome:
    state: str | None = None
    note: str | None = None
    duplicate: bool | None = None
    error: Exception | None = None


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """Holds each thread after its read of the applied check-in, until both have read it
    or the timeout passes; ``reset()`` arms it for the next round."""
    holder: dict[str, threading.Barrier] = {}
    read = evv._applied

    def gated(session: Session, visit_id: int, worker: evv.Worker, kind: str) -> Any:
        found = read(session, visit_id, worker, kind)
        if kind == evv.CHECK_IN:
            # Broken: the other thread is waiting for our lock, or has finished.
            with contextlib.suppress(threading.BrokenBarrierError):
                holder["barrier"].wait(timeout=GATE_TIMEOUT_S)
        return found

    def reset() -> None:
        holder["barrier"] = threading.Barrier(2)

    monkeypatch.setattr(evv, "_applied", gated)
    reset()
    return reset


def fresh_visit(session: Session, ew: EvvWorld, seq: int) -> Visit:
    visit = add_visit(session, ew.w.item, ew.w.today, VisitStatus.ASSIGNED, seq=seq)
    assign(session, visit, caregiver=ew.w.caregiver)
    session.commit()
    return visit


def race(app: Flask, user_id: int, actions: list[evv.ActionIn]) -> list[Outcome]:
    """Record ``actions`` at once, one thread and connection each; their outcomes."""
    start = threading.Barrier(len(actions))
    outcomes = [Outcome() for _ in actions]
    now = dt.datetime.now(dt.UTC)

    def send(data: evv.ActionIn, out: Outcome) -> None:
        try:
            with app.app_context(), Session(db.engine) as s:
                u = s.get(User, user_id)
                assert u is not None
                start.wait(timeout=10)
                result = evv.record_action(s, u, data, rules=RULES, now=now)
                out.state, out.note = result.action.state, result.action.note
                out.duplicate = result.duplicate
        except Exception as exc:  # reported by the test, in the main thread
            out.error = exc

    threads = [
        threading.Thread(target=send, args=(data, out), name=f"evv-race-{i}")
        for i, (data, out) in enumerate(zip(actions, outcomes, strict=True))
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=JOIN_TIMEOUT_S)
    assert not any(t.is_alive() for t in threads), "a thread is still waiting (deadlock?)"
    errors = [o.error for o in outcomes if o.error is not None]
    assert not errors, errors
    return outcomes


def stored(session: Session, visit_id: int) -> dict[str, tuple[str, str | None]]:
    rows = session.scalars(select(EvvAction).where(EvvAction.visit_id == visit_id)).all()
    return {a.id: (a.state, a.note) for a in rows}


def test_two_check_ins_with_different_ids_at_once_apply_one(
    app: Flask, session: Session, ew: EvvWorld, gate: Callable[[], None]
) -> None:
    for n in range(ROUNDS):
        gate()
        visit = fresh_visit(session, ew, seq=10 + n)
        taps = [
            action(visit, "check_in", local(ew.w.today, "09:05"), action_id=str(uuid.uuid4())),
            action(visit, "check_in", local(ew.w.today, "09:06"), action_id=str(uuid.uuid4())),
        ]
        outcomes = race(app, ew.user.id, taps)

        assert sorted((o.state, o.note) for o in outcomes) == [
            ("applied", None),
            ("ignored", "already checked in"),
        ], f"round {n}"
        session.expire_all()
        rows = stored(session, visit.id)
        # Nothing lost: both ids are stored, with the state their request answered.
        assert rows == {t.id: (o.state, o.note) for t, o in zip(taps, outcomes, strict=True)}
        winner = next(t for t, o in zip(taps, outcomes, strict=True) if o.state == "applied")
        refreshed = session.get(Visit, visit.id)
        assert refreshed is not None
        assert refreshed.status == VisitStatus.IN_PROGRESS
        assert refreshed.started_at == winner.occurred_at


def test_a_check_out_racing_its_check_in_is_not_left_pending(
    app: Flask, session: Session, ew: EvvWorld, gate: Callable[[], None]
) -> None:
    for n in range(ROUNDS):
        gate()
        visit = fresh_visit(session, ew, seq=20 + n)
        check_in = action(visit, "check_in", local(ew.w.today, "09:05"))
        check_out = action(visit, "check_out", local(ew.w.today, "09:55"))
        race(app, ew.user.id, [check_in, check_out])

        session.expire_all()
        rows = stored(session, visit.id)
        # Whichever came first, the check-out is applied (at once, or by the check-in
        # that found it pending) and the visit is verified: never stuck as pending.
        assert rows == {check_in.id: ("applied", None), check_out.id: ("applied", None)}, (
            f"round {n}"
        )
        refreshed = session.get(Visit, visit.id)
        assert refreshed is not None
        assert refreshed.status == VisitStatus.VERIFIED


def test_the_same_check_in_sent_twice_at_once_is_stored_once(
    app: Flask, session: Session, ew: EvvWorld, gate: Callable[[], None]
) -> None:
    for n in range(ROUNDS):
        gate()
        visit = fresh_visit(session, ew, seq=30 + n)
        tap = action(visit, "check_in", local(ew.w.today, "09:05"))
        outcomes = race(app, ew.user.id, [tap, tap])

        # Both read "not stored yet"; the second then waits for the visit's lock, meets
        # the first's row and answers it as a duplicate.
        assert sorted((o.state, o.duplicate) for o in outcomes) == [
            ("applied", False),
            ("applied", True),
        ], f"round {n}"
        session.expire_all()
        assert stored(session, visit.id) == {tap.id: ("applied", None)}
