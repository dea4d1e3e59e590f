"""Socket.IO handlers: who may connect, and which rooms they may join.

Clients join rooms by emitting ``join`` with ``{"room": ...}``; the answer (the event's
acknowledgement) is ``{"ok": true, "room": ...}`` or ``{"ok": false, "error": ...}``.

- ``board:<agency_id>:<date>``: dispatchers and agency admins of that agency; auditors
  and sys_admins (who read every agency);
- ``caregiver:<caregiver_id>``: that caregiver's own login;
- ``volunteer:<volunteer_id>``: that volunteer's own login.

Only logged-in users may connect (the session cookie of the web app is used).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from flask_login import current_user
from flask_socketio import join_room, leave_room

from app.extensions import socketio
from app.models import CROSS_AGENCY_ROLES, Role, User

_BOARD = re.compile(r"^board:(\d+):(\d{4}-\d{2}-\d{2})$")
_WORKER = re.compile(r"^(caregiver|volunteer):(\d+)$")
BOARD_ROLES = frozenset({Role.DISPATCHER, Role.AGENCY_ADMIN})


def may_join(u: User, room: str) -> bool:
    """Whether ``u`` may receive the events of ``room``."""
    board = _BOARD.fullmatch(room)
    if board is not None:
        try:
            dt.date.fromisoformat(board.group(2))
        except ValueError:
            return False
        if u.role in CROSS_AGENCY_ROLES:
            return True
        return u.role in BOARD_ROLES and u.agency_id == int(board.group(1))
    worker = _WORKER.fullmatch(room)
    if worker is None:
        return False
    kind, number = worker.group(1), int(worker.group(2))
    if kind == "caregiver":
        return u.role == Role.CAREGIVER and u.caregiver_id == number
    return u.role == Role.VOLUNTEER and u.volunteer_id == number


def on_connect(auth: Any = None) -> bool:
    return bool(current_user.is_authenticated)


def _room(data: Any) -> str | None:
    room = data.get("room") if isinstance(data, dict) else None
    return room if isinstance(room, str) else None


def on_join(data: Any) -> dict[str, Any]:
    room = _room(data)
    if room is None:
        return {"ok": False, "error": 'send {"room": "..."}'}
    if not current_user.is_authenticated or not may_join(current_user.row, room):
        return {"ok": False, "room": room, "error": "forbidden"}
    join_room(room)
    return {"ok": True, "room": room}


def on_leave(data: Any) -> dict[str, Any]:
    room = _room(data)
    if room is None:
        return {"ok": False, "error": 'send {"room": "..."}'}
    leave_room(room)
    return {"ok": True, "room": room}


def register() -> None:
    """Register the handlers on the Socket.IO server of the application being built."""
    socketio.on_event("connect", on_connect)
    socketio.on_event("join", on_join)
    socketio.on_event("leave", on_leave)
