"""A verified visit credited by two workers at the same moment is credited once
(PostgreSQL: real row locks between two connections; SQLite in memory has one)."""

from __future__ import annotations

import threading

import pytest
from flask import Flask
from sqlalchemy.orm import Session

import timebank
from app.extensions import db
from app.models import Visit, VisitVerification
from app.services import evv_events
from app.services import timebank as tb_service
from app.services.timebank_hooks import on_visit_verified
from tests.app.timebank.conftest import TbWorld, verify_visit, volunteer_visit


def test_two_simultaneous_credits_of_one_visit_make_one(
    app: Flask, session: Session, tb: TbWorld
) -> None:
    if db.engine.dialect.name != "postgresql":
        pytest.skip("needs TEST_DATABASE_URL=postgresql+psycopg://... (two real connections)")
    visit = volunteer_visit(session, tb)
    evv_events.VERIFIED_LISTENERS.remove(on_visit_verified)
    try:  # verify without crediting, so that both threads below race for the first credit
        record = verify_visit(session, tb.user, visit, "09:05", "09:55")
    finally:
        evv_events.on_visit_verified(on_visit_verified)
    tb_service.member_account(session, f"volunteer:{tb.volunteer.id}")
    session.commit()
    start = threading.Barrier(2)
    outcomes: list[timebank.Outcome | None] = []

    def credit() -> None:
        with app.app_context(), Session(db.engine) as s:
            v = s.get(Visit, visit.id)
            r = s.get(VisitVerification, record.id)
            assert v is not None
            assert r is not None
            start.wait(timeout=10)
            result = tb_service.earn_for_verification(s, v, r)
            s.commit()
            outcomes.append(result.outcome if result else None)

    threads = [threading.Thread(target=credit) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(str(o) for o in outcomes) == ["created", "exists"]
    session.expire_all()
    assert tb_service.my_balance(session, tb.user).balance_min == 50
    assert timebank.verify(session).ok
