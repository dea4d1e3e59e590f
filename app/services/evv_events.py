"""What the EVV services announce, as in-process signals, and the time-bank hook.

Services commit, then send a signal; ``app.realtime.events`` (the one module that emits
Socket.IO events) listens and broadcasts to the board room, so the services know nothing
of Socket.IO. Each signal is sent with keyword ``room`` and ``payload`` (the Socket.IO
event's data), like ``app.services.dispatch_events``.

``visit_status_changed`` -> Socket.IO ``visit_status`` in ``board:<agency_id>:<date>``,
payload ``{"visit_id", "visit_ref", "status", "worker_ref", "evv": null | {"outcome",
"reasons", "verification_id"}, "at"}``.

Time bank: ``VERIFIED_LISTENERS`` is a plain list of callables
``listener(session, visit, verification)``, called once per worker's verification when a
visit becomes verified (a volunteer's companionship visit is then credited), inside the
unit of work before its commit, so a failing listener undoes the verification too.
Register with ``on_visit_verified(listener)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from blinker import Namespace

_signals = Namespace()

visit_status_changed = _signals.signal("evv-visit-status-changed")

VerifiedListener = Callable[[Any, Any, Any], None]
VERIFIED_LISTENERS: list[VerifiedListener] = []


def on_visit_verified(listener: VerifiedListener) -> VerifiedListener:
    """Register ``listener(session, visit, verification)``; usable as a decorator."""
    if listener not in VERIFIED_LISTENERS:
        VERIFIED_LISTENERS.append(listener)
    return listener


def announce(room: str, payload: dict[str, Any]) -> None:
    visit_status_changed.send(None, room=room, payload=payload)
