"""The caregiver app's pages (shell, service worker, exception queue) and its Socket.IO
side: visit status events reach the board room; a caregiver joins only their own room."""

from __future__ import annotations

import re
import uuid
from typing import Any

from flask import Flask, g
from flask_socketio import SocketIOTestClient
from sqlalchemy.orm import Session

from app.extensions import socketio
from app.models import Role, User, Visit, VisitStatus
from app.services.evv_rules import REASON_CODES
from app.views.mobile import JS_STRINGS
from tests.app.evv.conftest import TWO_KM_NORTH, EvvWorld, local
from tests.conftest import login


def _fresh_g() -> None:
    # One application context stays pushed in the suite and Socket.IO events reuse it.
    vars(g._get_current_object()).clear()


def _socket(app: Flask, session: Session, u: User) -> tuple[Any, SocketIOTestClient]:
    client = app.test_client()
    login(client, session, u)
    _fresh_g()
    return client, socketio.test_client(app, flask_test_client=client)


def _join(sock: SocketIOTestClient, room: str) -> bool:
    _fresh_g()
    return bool(sock.emit("join", {"room": room}, callback=True)["ok"])


def _post(client: Any, visit: Visit, kind: str, at: Any, where: Any = (32.0, 120.9)) -> Any:
    return client.post(
        "/api/v1/my/evv/actions",
        json={
            "id": str(uuid.uuid4()),
            "visit_id": visit.id,
            "kind": kind,
            "occurred_at": at.isoformat(),
            "position": {"lat": where[0], "lon": where[1], "accuracy_m": 8},
            "items_done": ["BC01"],
        },
    )


def test_a_caregiver_may_join_only_their_own_room(
    app: Flask, session: Session, ew: EvvWorld
) -> None:
    _client, sock = _socket(app, session, ew.user)
    assert _join(sock, f"caregiver:{ew.w.caregiver.id}")
    assert not _join(sock, f"caregiver:{ew.other_caregiver.id}")
    assert not _join(sock, f"board:{ew.w.agency.id}:{ew.w.today.isoformat()}")
    sock.disconnect()


def test_check_in_and_out_are_seen_live_on_the_board(
    app: Flask, session: Session, ew: EvvWorld
) -> None:
    _, board = _socket(app, session, ew.w.users[Role.DISPATCHER])
    assert _join(board, f"board:{ew.w.agency.id}:{ew.w.today.isoformat()}")
    board.get_received()
    worker = app.test_client()
    login(worker, session, ew.user)
    _post(worker, ew.visit, "check_in", local(ew.w.today, "09:05"))
    _post(worker, ew.visit, "check_out", local(ew.w.today, "09:55"))
    events = [(m["name"], m["args"][0]) for m in board.get_received()]
    status = [(e["visit_id"], e["status"]) for name, e in events if name == "visit_status"]
    assert status == [(ew.visit.id, "in_progress"), (ew.visit.id, "verified")]
    final = events[-1][1]
    assert final["evv"]["outcome"] == "verified"
    assert final["worker_ref"] == f"cg-{ew.w.caregiver.id}"
    board.disconnect()


def test_the_app_shell_and_the_service_worker(app: Flask, session: Session, ew: EvvWorld) -> None:
    client = app.test_client()
    login(client, session, ew.user)
    page = client.get("/m/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'rel="manifest"' in html
    assert f'"id": {ew.w.caregiver.id}' in html
    assert ew.w.person.name not in html  # route data comes from the API, never the shell
    sw = app.test_client().get("/sw.js")
    assert sw.status_code == 200
    assert sw.headers["Service-Worker-Allowed"] == "/"
    assert sw.mimetype == "text/javascript"
    assert "/api/" not in sw.get_data(as_text=True).split("PRECACHE", 1)[1].split("]")[0]
    # The cache is named after the static files' content, not a hand-kept constant.
    assert re.search(r'const VERSION = "careroute-[0-9a-f]{12}";', sw.get_data(as_text=True))


def test_every_reason_code_has_words_in_the_app() -> None:
    assert all(f"reason_{code}" in JS_STRINGS for code in REASON_CODES)


def test_exception_queue_page_shows_and_decides(app: Flask, session: Session, ew: EvvWorld) -> None:
    worker = app.test_client()
    login(worker, session, ew.user)
    _post(worker, ew.visit, "check_in", local(ew.w.today, "09:05"), TWO_KM_NORTH)
    answer = _post(worker, ew.visit, "check_out", local(ew.w.today, "09:55")).json
    record_id = answer["verification"]["id"]
    dispatcher = app.test_client()
    login(dispatcher, session, ew.w.users[Role.DISPATCHER])
    html = dispatcher.get("/dispatch/exceptions").get_data(as_text=True)
    assert f'data-verification-id="{record_id}"' in html
    assert 'data-reason="outside_geofence"' in html
    url = f"/dispatch/exceptions/{record_id}/decision"
    assert dispatcher.post(url, data={"decision": "approve", "reason": ""}).status_code == 302
    assert session.get(Visit, ew.visit.id).status == VisitStatus.COMPLETED  # no reason, no change
    dispatcher.post(url, data={"decision": "approve", "reason": "GPS drift"})
    session.expire_all()
    assert session.get(Visit, ew.visit.id).status == VisitStatus.VERIFIED
    after = dispatcher.get("/dispatch/exceptions").get_data(as_text=True)
    assert f'data-verification-id="{record_id}"' not in after
    auditor = app.test_client()
    login(auditor, session, ew.w.users[Role.AUDITOR])
    assert auditor.get("/dispatch/exceptions").status_code == 200
