"""Socket.IO: who may connect and join which room, and the events a board and a caregiver
receive while a day is planned, published and acknowledged."""

from __future__ import annotations

from typing import Any

from flask import Flask, g
from flask.testing import FlaskClient
from flask_socketio import SocketIOTestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.extensions import socketio
from app.models import RouteNotice
from tests.app.dispatch.conftest import Day
from tests.conftest import login


def _fresh_g() -> None:
    # The suite keeps one application context pushed, and a Socket.IO event reuses it, so
    # flask.g (where Flask-Login caches the user) would leak from one client to the next.
    # In production every event gets a context of its own.
    vars(g._get_current_object()).clear()


def _socket(
    app: Flask, session: Session, day: Day, who: str | None
) -> tuple[FlaskClient, SocketIOTestClient]:
    client = app.test_client()
    if who is not None:
        login(client, session, day.users[who])
    _fresh_g()
    return client, socketio.test_client(app, flask_test_client=client)


def _join(sock: SocketIOTestClient, room: str) -> dict[str, Any]:
    _fresh_g()
    answer: dict[str, Any] = sock.emit("join", {"room": room}, callback=True)
    return answer


def _events(sock: SocketIOTestClient) -> list[tuple[str, dict[str, Any]]]:
    return [(m["name"], m["args"][0]) for m in sock.get_received()]


def test_anonymous_clients_are_refused(app: Flask, session: Session, day: Day) -> None:
    _client, sock = _socket(app, session, day, None)
    assert not sock.is_connected()


def test_rooms_are_joined_only_by_those_they_concern(
    app: Flask, session: Session, day: Day
) -> None:
    board = f"board:{day.agency.id}:{day.day.isoformat()}"
    other_board = f"board:{day.other.id}:{day.day.isoformat()}"
    mine = f"caregiver:{day.caregivers[0].id}"
    cases = {
        "dispatcher": {board: True, other_board: False, mine: False},
        "agency_admin": {board: True, other_board: False},
        "auditor": {board: True, other_board: True, mine: False},
        "caregiver": {board: False, mine: True, f"caregiver:{day.caregivers[1].id}": False},
        "volunteer": {f"volunteer:{day.volunteer.id}": True, mine: False, board: False},
        "dispatcher_b": {board: False, other_board: True},
    }
    for who, rooms in cases.items():
        _client, sock = _socket(app, session, day, who)
        assert sock.is_connected(), who
        for room, allowed in rooms.items():
            assert _join(sock, room)["ok"] is allowed, (who, room)
        assert _join(sock, "board:1:not-a-date")["ok"] is False
        assert _join(sock, "everything")["ok"] is False
        sock.disconnect()


def test_board_and_caregiver_receive_the_days_events(
    app: Flask, session: Session, day: Day
) -> None:
    client, board = _socket(app, session, day, "dispatcher")
    _c2, other_board = _socket(app, session, day, "dispatcher_b")
    day_key = day.day.isoformat()
    assert _join(board, f"board:{day.agency.id}:{day_key}")["ok"]
    assert _join(other_board, f"board:{day.other.id}:{day_key}")["ok"]
    workers = {}
    for who, cg in (("caregiver", day.caregivers[0]), ("caregiver2", day.caregivers[1])):
        _c, sock = _socket(app, session, day, who)
        assert _join(sock, f"caregiver:{cg.id}")["ok"]
        workers[cg.id] = (who, sock)

    started = client.post(f"/api/v1/dispatch/days/{day_key}/plan", json={"time_limit_s": 2})
    assert started.status_code == 202
    job_id = started.json["job_id"]
    received = _events(board)
    names = [n for n, _p in received]
    assert "job_progress" in names
    assert names[-1] == "job_finished"
    progress = next(p for n, p in received if n == "job_progress")
    assert progress["job_id"] == job_id
    assert set(progress) == {"job_id", "elapsed_s", "objective", "assigned", "visits"}
    finished = received[-1][1]
    assert finished["job_id"] == job_id
    assert finished["status"] == "succeeded"
    version_id = finished["plan_version_id"]

    published = client.post(f"/api/v1/dispatch/versions/{version_id}/publish", json={})
    assert published.status_code == 200
    assert _events(board) == [
        (
            "plan_published",
            {"plan_version_id": version_id, "publication_id": published.json["publication_id"]},
        ),
    ]
    assert _events(other_board) == []
    notices = {n.caregiver_id: n for n in session.scalars(select(RouteNotice))}
    for cg_id, (who, sock) in workers.items():
        got = _events(sock)
        if cg_id not in notices:
            assert got == []
            continue
        assert [n for n, _p in got] == ["route_changed"]
        payload = got[0][1]
        assert payload["notice_id"] == notices[cg_id].id
        assert payload["date"] == day_key
        assert payload["publication_id"] == published.json["publication_id"]

        ack_client = app.test_client()
        login(ack_client, session, day.users[who])
        assert (
            ack_client.post(f"/api/v1/my/notices/{payload['notice_id']}/ack", json={}).status_code
            == 200
        )
        acked = _events(board)
        assert [n for n, _p in acked] == ["notice_acknowledged"]
        assert acked[0][1]["caregiver_ref"] == f"cg-{cg_id}"
