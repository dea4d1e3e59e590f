"""Two people moving one settlement at the same instant (PostgreSQL, two connections):
exactly one step wins, the other gets a conflict, and the history records one step."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.extensions import db
from app.models import Role, Settlement, SettlementEvent, User
from app.services import settlement as svc
from app.services.errors import Conflict
from app.services.months import month_bounds
from tests.app.settlement.conftest import MonthWorld, deliver

ROUNDS = 5


@pytest.fixture(autouse=True)
def _postgresql_only() -> None:
    if db.engine.dialect.name != "postgresql":
        pytest.skip("needs TEST_DATABASE_URL=postgresql://... (two real connections)")


def race(app: Flask, calls: list[tuple[int, Callable[[Session, User], object]]]) -> list[str]:
    """Run each ``(user_id, call)`` in its own thread and connection, released together."""
    start = threading.Barrier(len(calls))
    outcomes = ["?"] * len(calls)

    def run(k: int, user_id: int, call: Callable[[Session, User], object]) -> None:
        with app.app_context(), Session(db.engine) as s:
            u = s.get(User, user_id)
            assert u is not None
            start.wait(timeout=10)
            try:
                call(s, u)
                outcomes[k] = "ok"
            except Conflict:
                s.rollback()
                outcomes[k] = "conflict"

    threads = [threading.Thread(target=run, args=(k, *c)) for k, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not any(t.is_alive() for t in threads)
    return sorted(outcomes)


def test_two_submissions_at_once_make_one_step(
    app: Flask, session: Session, mw: MonthWorld
) -> None:
    deliver(session, mw, mw.day(2))
    admin = mw.user(Role.AGENCY_ADMIN)
    for k in range(ROUNDS):
        month = month_bounds(mw.period - dt.timedelta(days=31 * k))[0]  # a month per round
        s, _created = svc.open_settlement(session, admin, month)
        submit = [(admin.id, lambda db_s, u, i=s.id: svc.advance(db_s, u, i, "submit"))] * 2
        assert race(app, submit) == ["conflict", "ok"]
        session.expire_all()
        assert session.get(Settlement, s.id).revision == 1  # type: ignore[union-attr]
        steps = session.scalars(
            select(SettlementEvent.action).where(SettlementEvent.settlement_id == s.id)
        ).all()
        assert steps == ["open", "submit"]


def test_a_rebuild_racing_a_submission_never_changes_submitted_lines(
    app: Flask, session: Session, mw: MonthWorld
) -> None:
    deliver(session, mw, mw.day(2))
    admin = mw.user(Role.AGENCY_ADMIN)
    s, _created = svc.open_settlement(session, admin, mw.period)
    calls = [
        (admin.id, lambda db_s, u: svc.advance(db_s, u, s.id, "submit")),
        (admin.id, lambda db_s, u: svc.rebuild(db_s, u, s.id)),
    ]
    outcomes = race(app, calls)
    session.expire_all()
    steps = session.scalars(
        select(SettlementEvent.action)
        .where(SettlementEvent.settlement_id == s.id)
        .order_by(SettlementEvent.id)
    ).all()
    # Either the rebuild came first and the submission after it, or the submission won
    # and the rebuild was refused: never a rebuild after the submission.
    assert steps in (["open", "rebuild", "submit"], ["open", "submit"])
    assert outcomes == (["ok", "ok"] if "rebuild" in steps else ["conflict", "ok"])
