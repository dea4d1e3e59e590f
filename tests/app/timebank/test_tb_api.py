"""/api/v1/timebank over HTTP: a volunteer's minutes, the one error shape, the admins'
reversal reaching both volunteers over Socket.IO, and the liability report."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Flask, g
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from app.extensions import socketio
from app.models import Role, User
from tests.app.timebank.conftest import TbWorld, verify_visit, volunteer_visit
from tests.conftest import login


def _client(app: Flask, session: Session, u: User) -> FlaskClient:
    client = app.test_client()
    login(client, session, u)
    return client


def _earn(session: Session, tb: TbWorld) -> None:
    visit = volunteer_visit(session, tb)
    visit.windows = [["09:00", "20:00"]]
    session.commit()
    verify_visit(session, tb.user, visit, "09:00", "11:00")  # 120 min


def test_a_volunteer_sees_balance_and_statement(app: Flask, session: Session, tb: TbWorld) -> None:
    _earn(session, tb)
    client = _client(app, session, tb.user)
    assert client.get("/api/v1/timebank/me/balance").json == {
        "balance_min": 120,
        "held_min": 0,
        "available_min": 120,
        "cap_min": 90_000,
    }
    st = client.get("/api/v1/timebank/me/statement").json
    assert (st["opening_min"], st["closing_min"], st["name"]) == (0, 120, "李强")
    assert [(x["code"], x["amount_min"], x["balance_after_min"]) for x in st["lines"]] == [
        ("service_credit", 120, 120)
    ]


def test_redeem_gift_donate_and_their_errors(app: Flask, session: Session, tb: TbWorld) -> None:
    _earn(session, tb)
    client = _client(app, session, tb.user)
    r = client.post(
        "/api/v1/timebank/me/redemptions",
        json={"plan_item_id": tb.companion_item.id, "date": tb.w.today.isoformat()},
    )
    assert r.status_code == 201, r.json
    assert (r.json["amount_min"], r.json["balance"]["held_min"]) == (60, 60)
    assert r.json["hold_id"] == f"redeem:visit:{r.json['visit_id']}"
    rid = str(uuid.uuid4())
    body = {"relative_id": tb.daughter_link.id, "amount_min": 20, "request_id": rid}
    gift = client.post("/api/v1/timebank/me/gifts", json=body)
    assert gift.status_code == 201
    assert gift.json["outcome"] == "created"
    assert gift.json["balance"]["available_min"] == 40
    again = client.post("/api/v1/timebank/me/gifts", json=body)
    assert again.json["outcome"] == "exists"
    too_much = client.post(
        "/api/v1/timebank/me/donations", json={"amount_min": 41, "request_id": str(uuid.uuid4())}
    )
    assert too_much.status_code == 409
    assert too_much.json["code"] == "conflict"
    assert set(too_much.json["errors"]) == {"amount_min"}
    bad = client.post("/api/v1/timebank/me/donations", json={"amount_min": "5"})
    assert bad.status_code == 400
    assert set(bad.json["errors"]) == {"amount_min", "request_id"}
    cancel = client.post(f"/api/v1/timebank/me/redemptions/{r.json['visit_id']}/cancel", json={})
    assert cancel.status_code == 200
    assert cancel.json["held_min"] == 0
    ok = client.post(
        "/api/v1/timebank/me/donations", json={"amount_min": 41, "request_id": str(uuid.uuid4())}
    )
    assert ok.status_code == 201


def _fresh_g() -> None:
    vars(g._get_current_object()).clear()


def test_a_reversal_reaches_both_volunteers_live(app: Flask, session: Session, tb: TbWorld) -> None:
    _earn(session, tb)
    giver = _client(app, session, tb.user)
    gift = giver.post(
        "/api/v1/timebank/me/gifts",
        json={"relative_id": tb.daughter_link.id, "amount_min": 30, "request_id": "gift-0001"},
    ).json
    socks = []
    for u, vid in ((tb.user, tb.volunteer.id), (tb.daughter_user, tb.daughter.id)):
        client = _client(app, session, u)
        _fresh_g()
        sock = socketio.test_client(app, flask_test_client=client)
        _fresh_g()
        assert sock.emit("join", {"room": f"volunteer:{vid}"}, callback=True)["ok"]
        socks.append(sock)
    admin = _client(app, session, tb.w.users[Role.AGENCY_ADMIN])
    r = admin.post(
        "/api/v1/timebank/corrections",
        json={"transfer_id": gift["transfer_id"], "reason": "wrong relative"},
    )
    assert r.status_code == 201, r.json
    assert r.json["correction_id"] == f"correction:{gift['transfer_id']}"
    got: list[dict[str, Any]] = []
    for sock in socks:
        events = [e for e in sock.get_received() if e["name"] == "timebank_correction"]
        assert len(events) == 1
        got.append(events[0]["args"][0])
        sock.disconnect()
    assert [(e["delta_min"], e["balance_after_min"], e["reason"]) for e in got] == [
        (30, 120, "wrong relative"),
        (-30, 0, "wrong relative"),
    ]
    again = admin.post(
        "/api/v1/timebank/corrections",
        json={"transfer_id": gift["transfer_id"], "reason": "twice"},
    )
    assert again.status_code == 409
    assert set(again.json["errors"]) == {"transfer_id"}


def test_admins_read_statements_and_the_liability_report(
    app: Flask, session: Session, tb: TbWorld
) -> None:
    _earn(session, tb)
    auditor = _client(app, session, tb.w.users[Role.AUDITOR])
    st = auditor.get(f"/api/v1/timebank/volunteers/{tb.volunteer.id}/statement")
    assert st.status_code == 200
    assert st.json["closing_min"] == 120
    report = auditor.get("/api/v1/timebank/liability").json
    assert (report["members_balance_min"], report["owed_min"], report["balanced"]) == (
        120,
        120,
        True,
    )
    assert report["by_code"] == [{"code": "service_credit", "transfers": 1, "amount_min": 120}]
    # The auditor reads but may not reverse.
    denied = auditor.post("/api/v1/timebank/corrections", json={"transfer_id": "x", "reason": "y"})
    assert denied.status_code == 403
    assert denied.json["code"] == "forbidden"
