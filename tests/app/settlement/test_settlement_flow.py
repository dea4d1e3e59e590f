"""A month's settlement from draft to reconciled through the API: lines from the delivered
visits, the roles of each step, the auditor's review, rebuilds, and the lock at the end."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import (
    ClaimLine,
    Qualification,
    Role,
    Settlement,
    SettlementEvent,
    SettlementLocked,
    User,
    VisitStatus,
)
from app.services import evv
from tests.app.conftest import add_visit, assign
from tests.app.evv.conftest import local
from tests.app.settlement.conftest import MonthWorld, deliver, deliver_away
from tests.conftest import login, make_user


def client_for(app: Flask, session: Session, u: User) -> Any:
    client = app.test_client()
    login(client, session, u)
    return client


def open_month(app: Flask, session: Session, mw: MonthWorld) -> tuple[Any, dict[str, Any]]:
    admin = client_for(app, session, mw.user(Role.AGENCY_ADMIN))
    r = admin.post("/api/v1/settlements", json={"period": mw.period.strftime("%Y-%m")})
    assert r.status_code == 201, r.get_json()
    return admin, r.get_json()


def lines_of(client: Any, settlement_id: int) -> dict[int, dict[str, Any]]:
    r = client.get(f"/api/v1/settlements/{settlement_id}/lines?per_page=200")
    assert r.status_code == 200
    return {line["visit_id"]: line for line in r.get_json()["items"]}


def step(client: Any, settlement_id: int, action: str, **extra: str) -> Any:
    return client.post(
        f"/api/v1/settlements/{settlement_id}/steps", json={"action": action, **extra}
    )


def test_lines_price_verified_visits_and_give_reasons_for_the_rest(
    app: Flask, session: Session, mw: MonthWorld
) -> None:
    ok = deliver(session, mw, mw.day(2))
    away = deliver_away(session, mw, mw.day(3))
    planned_only = add_visit(session, mw.w.item, mw.day(4), VisitStatus.ASSIGNED, seq=10)
    by_volunteer = add_visit(session, mw.w.item, mw.day(5), VisitStatus.COMPLETED, seq=10)
    assign(session, by_volunteer, volunteer=mw.w.volunteer)
    session.commit()

    _, body = open_month(app, session, mw)
    lines = lines_of(client_for(app, session, mw.user(Role.AUDITOR)), body["id"])

    assert set(lines) == {ok.id, away.id}  # not delivered / volunteers' visits make no line
    assert (lines[ok.id]["status"], lines[ok.id]["reasons"]) == ("claimable", [])
    assert (lines[ok.id]["price_fen"], lines[ok.id]["fund_fen"], lines[ok.id]["copay_fen"]) == (
        6000,
        4200,
        1800,
    )
    assert (lines[away.id]["status"], lines[away.id]["reasons"]) == ("rejected", ["not_verified"])
    assert (body["claimed_fen"], body["fund_fen"], body["copay_fen"]) == (6000, 4200, 1800)
    assert (body["rejected_fen"], body["line_count"]) == (6000, 2)
    assert planned_only.id not in lines


def test_city_fund_share_and_unqualified_and_not_in_plan(
    app: Flask, session: Session, mw: MonthWorld
) -> None:
    mw.w.agency.city = "shanghai"
    session.commit()
    first = deliver(session, mw, mw.day(2))
    second = deliver(session, mw, mw.day(20))
    # The caregiver's only qualification lapsed on the 10th; the plan ended on the 15th.
    q = session.scalar(select(Qualification).where(Qualification.caregiver_id == mw.w.caregiver.id))
    assert q is not None
    q.expires_on = mw.day(10)
    mw.w.plan.valid_to = mw.day(15)
    session.commit()

    _, body = open_month(app, session, mw)
    lines = lines_of(client_for(app, session, mw.user(Role.AUDITOR)), body["id"])
    assert (lines[first.id]["fund_share_pct"], lines[first.id]["fund_fen"]) == (90, 5400)
    assert lines[first.id]["status"] == "claimable"
    assert lines[second.id]["reasons"] == ["not_in_plan", "caregiver_not_qualified"]


def test_the_monthly_minutes_cap_rejects_the_latest_visits(
    app: Flask, session: Session, mw: MonthWorld
) -> None:
    visits = [deliver(session, mw, mw.day(d)) for d in (3, 4, 5)]
    for v in visits:
        v.duration_min = 1000  # the grade-5 entitlement is 2400 minutes a month
    session.commit()
    _, body = open_month(app, session, mw)
    lines = lines_of(client_for(app, session, mw.user(Role.AUDITOR)), body["id"])
    assert [lines[v.id]["reasons"] for v in visits] == [[], [], ["over_cap"]]


def test_the_whole_flow_and_the_lock(app: Flask, session: Session, mw: MonthWorld) -> None:
    ok = deliver(session, mw, mw.day(2))
    other = deliver(session, mw, mw.day(3))
    admin, body = open_month(app, session, mw)
    sid = body["id"]
    auditor = client_for(app, session, mw.user(Role.AUDITOR))

    again = admin.post("/api/v1/settlements", json={"period": mw.period.strftime("%Y-%m")})
    assert (again.status_code, again.get_json()["id"]) == (200, sid)
    assert step(auditor, sid, "approve").status_code == 409  # a draft is not under review
    assert step(auditor, sid, "submit").status_code == 403
    r = step(admin, sid, "submit")
    assert (r.status_code, r.get_json()["status"], r.get_json()["revision"]) == (
        200,
        "submitted",
        1,
    )
    assert admin.post(f"/api/v1/settlements/{sid}/rebuild", json={}).status_code == 409

    review = f"/api/v1/settlements/{sid}/lines/{lines_of(auditor, sid)[other.id]['id']}/review"
    no_reason = auditor.post(review, json={"disallow": True})
    assert no_reason.status_code == 400
    assert "reason" in no_reason.get_json()["errors"]
    assert step(auditor, sid, "reject", reason="x").status_code == 400  # nothing disallowed yet
    assert auditor.post(review, json={"disallow": True, "reason": "重复收费"}).status_code == 200
    r = step(auditor, sid, "reject", reason="一条重复")
    assert (
        r.get_json()["status"],
        r.get_json()["claimed_fen"],
        r.get_json()["disallowed_fen"],
    ) == (
        "partly_rejected",
        6000,
        6000,
    )

    # A rebuild keeps the auditor's disallowance of an unchanged line.
    assert admin.post(f"/api/v1/settlements/{sid}/rebuild", json={}).status_code == 200
    assert lines_of(auditor, sid)[other.id]["review"] == "disallowed"
    assert lines_of(auditor, sid)[ok.id]["review"] == "accepted"
    r = step(admin, sid, "resubmit")
    assert (r.get_json()["status"], r.get_json()["revision"]) == ("resubmitted", 2)
    assert step(auditor, sid, "approve").get_json()["status"] == "approved"
    missing = step(auditor, sid, "reconcile")
    assert missing.status_code == 400
    assert "payment_ref" in missing.get_json()["errors"]
    r = step(auditor, sid, "reconcile", payment_ref="PAY-2026-001")
    assert (r.get_json()["status"], r.get_json()["fund_fen"]) == ("reconciled", 4200)

    for action in ("submit", "resubmit", "approve", "reject", "reconcile"):
        assert step(admin if action.endswith("submit") else auditor, sid, action).status_code == 409
    assert auditor.post(review, json={"disallow": False}).status_code == 409
    events = auditor.get(f"/api/v1/settlements/{sid}/events").get_json()["items"]
    assert [e["action"] for e in events] == [
        "open",
        "submit",
        "reject",
        "rebuild",
        "resubmit",
        "approve",
        "reconcile",
    ]
    assert events[-1]["totals"]["fund_fen"] == 4200

    settlement = session.get(Settlement, sid)
    assert settlement is not None
    settlement.fund_fen = 1
    with pytest.raises(SettlementLocked):
        session.flush()
    session.rollback()
    line = session.scalar(select(ClaimLine).where(ClaimLine.settlement_id == sid).limit(1))
    assert line is not None
    session.delete(line)
    with pytest.raises(SettlementLocked):
        session.flush()
    session.rollback()


def test_an_approved_exception_becomes_claimable_on_rebuild(
    app: Flask, session: Session, mw: MonthWorld
) -> None:
    away = deliver_away(session, mw, mw.day(2))
    admin, body = open_month(app, session, mw)
    assert lines_of(admin, body["id"])[away.id]["reasons"] == ["not_verified"]
    (record,) = evv.current_verifications(session, away.id)
    dispatcher = mw.user(Role.DISPATCHER)
    # Decided within the lock period (the month is long locked by now).
    at = local(mw.day(3), "10:00")
    evv.decide(session, dispatcher, record.id, approve=True, reason="GPS 漂移，已电话核实", now=at)
    rebuilt = admin.post(f"/api/v1/settlements/{body['id']}/rebuild", json={}).get_json()
    assert lines_of(admin, body["id"])[away.id]["status"] == "claimable"
    assert rebuilt["claimed_fen"] == 6000


def test_scoping_validation_and_roles(app: Flask, session: Session, mw: MonthWorld) -> None:
    deliver(session, mw, mw.day(2))
    _, body = open_month(app, session, mw)
    stranger = make_user(session, Role.AGENCY_ADMIN, mw.w.other_agency, "admin-b2")
    session.commit()
    foreign = client_for(app, session, stranger)
    assert foreign.get(f"/api/v1/settlements/{body['id']}").status_code == 404
    assert foreign.get(f"/api/v1/settlements/{body['id']}/export").status_code == 404
    assert step(foreign, body["id"], "submit").status_code == 404
    assert foreign.get("/api/v1/settlements").get_json()["total"] == 0

    admin = client_for(app, session, mw.user(Role.AGENCY_ADMIN))
    for period, field in (("2026-13", "period"), ("26-01", "period")):
        r = admin.post("/api/v1/settlements", json={"period": period})
        assert r.status_code == 400
        assert field in r.get_json()["errors"]
    this_month = mw.w.today.strftime("%Y-%m")
    r = admin.post("/api/v1/settlements", json={"period": this_month})
    assert r.status_code == 400
    assert "period" in r.get_json()["errors"]
    r = step(admin, body["id"], "explode")
    assert r.status_code == 400
    assert "action" in r.get_json()["errors"]
    assert session.scalar(select(func.count()).select_from(Settlement)) == 1
    assert session.scalar(select(func.count()).select_from(SettlementEvent)) == 1

    dispatcher = client_for(app, session, mw.user(Role.DISPATCHER))
    assert dispatcher.get("/api/v1/settlements").status_code == 403
    auditor = client_for(app, session, mw.user(Role.AUDITOR))
    listed = auditor.get(f"/api/v1/settlements?agency_id={mw.w.agency.id}").get_json()
    assert [s["id"] for s in listed["items"]] == [body["id"]]
    assert dt.date.fromisoformat(listed["items"][0]["period"]) == mw.period
