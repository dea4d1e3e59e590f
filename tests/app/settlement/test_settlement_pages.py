"""The settlement pages: open a month, submit, review a line, approve and reconcile by
form posts, with the totals shown in yuan and foreign settlements hidden."""

from __future__ import annotations

import re

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import ClaimLine, Role, Settlement
from app.services.claims import yuan
from tests.app.settlement.conftest import MonthWorld, deliver, deliver_away
from tests.conftest import login, make_user


def test_yuan_formats_integer_fen() -> None:
    assert yuan(0) == "¥0.00"
    assert yuan(123456) == "¥1,234.56"
    assert yuan(-5) == "-¥0.05"


def test_a_month_through_the_pages(app: Flask, session: Session, mw: MonthWorld) -> None:
    deliver(session, mw, mw.day(2))
    away = deliver_away(session, mw, mw.day(3))
    admin = app.test_client()
    login(admin, session, mw.user(Role.AGENCY_ADMIN))

    bad = admin.post("/settlements/open", data={"period": "soon"}, follow_redirects=True)
    assert bad.status_code == 200
    assert session.scalars(select(Settlement)).all() == []

    r = admin.post("/settlements/open", data={"period": mw.period.strftime("%Y-%m")})
    assert r.status_code == 302
    settlement = session.scalars(select(Settlement)).one()
    assert r.headers["Location"].endswith(f"/settlements/{settlement.id}")
    page = admin.get(f"/settlements/{settlement.id}").get_data(as_text=True)
    assert "¥42.00" in page  # the fund's 70 % of 60 yuan
    assert "张秀英" in page  # the person and the caregiver are named beside each line
    assert "王芳" in page
    assert f'data-visit-id="{away.id}" data-status="rejected"' in page
    assert 'data-reason="not_verified"' in page
    assert re.search(r'<form [^>]*data-action="submit"', page)

    admin.post(f"/settlements/{settlement.id}/step", data={"action": "submit"})
    session.refresh(settlement)
    assert settlement.status == "submitted"

    auditor = app.test_client()
    login(auditor, session, mw.user(Role.AUDITOR))
    page = auditor.get(f"/settlements/{settlement.id}").get_data(as_text=True)
    assert re.search(r'<form [^>]*data-action="approve"', page)
    assert re.search(r'<form [^>]*data-action="reject"', page)
    line = session.scalars(select(ClaimLine).where(ClaimLine.status == "claimable")).one()
    auditor.post(
        f"/settlements/{settlement.id}/lines/{line.id}/review",
        data={"decision": "disallow", "reason": "无护理记录"},
    )
    session.refresh(line)
    assert (line.review, line.review_reason) == ("disallowed", "无护理记录")
    auditor.post(
        f"/settlements/{settlement.id}/lines/{line.id}/review", data={"decision": "accept"}
    )
    auditor.post(f"/settlements/{settlement.id}/step", data={"action": "approve"})
    auditor.post(
        f"/settlements/{settlement.id}/step", data={"action": "reconcile", "payment_ref": "P-1"}
    )
    session.refresh(settlement)
    assert (settlement.status, settlement.payment_ref, settlement.fund_fen) == (
        "reconciled",
        "P-1",
        4200,
    )
    listing = auditor.get("/settlements").get_data(as_text=True)
    assert re.search(rf'data-settlement-id="{settlement.id}" data-status="reconciled"', listing)
    done = auditor.get(f"/settlements/{settlement.id}").get_data(as_text=True)
    assert 'id="actions-title"' not in done  # nothing left to do
    history = re.findall(r'<li data-action="(\w+)"', done)
    assert history == ["open", "submit", "approve", "reconcile"]

    stranger = make_user(session, Role.AGENCY_ADMIN, mw.w.other_agency, "admin-b2-pages")
    session.commit()
    other = app.test_client()
    login(other, session, stranger)
    assert other.get(f"/settlements/{settlement.id}").status_code == 404
