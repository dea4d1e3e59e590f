"""The one module that emits Socket.IO events.

The dispatch services announce through ``app.services.dispatch_events`` signals once
their work is committed; ``connect_signals`` forwards each signal here, to its room:

- ``job_progress`` {job_id, elapsed_s, objective, assigned, visits} and ``job_finished``
  {job_id, status, plan_version_id} to the board room ``board:<agency_id>:<date>``;
- ``plan_published`` {plan_version_id, publication_id} and ``notice_acknowledged``
  {notice_id, caregiver_ref, acknowledged_at} to the board room;
- ``route_changed`` {notice_id, date, publication_id, first_affected_at} to the room of
  each caregiver (``caregiver:<id>``) or volunteer (``volunteer:<id>``) concerned;
- ``visit_status`` {visit_id, visit_ref, status, worker_ref, evv: null | {verification_id,
  outcome, reasons}, at} to the board room, when a check-in, check-out or a dispatcher's
  decision moves a visit or verifies it (``app.services.evv_events``);
- ``timebank_correction`` {correction_id, transfer_id, delta_min, balance_after_min, reason,
  at} to the room of each volunteer whose minutes a reversal changed
  (``app.services.timebank_events``).

With ``REDIS_URL`` set the Socket.IO server sends through Redis, so an event emitted by a
job worker reaches clients connected to any server process.
"""

from __future__ import annotations

from typing import Any

from app.extensions import socketio
from app.services import dispatch_events as signals
from app.services import evv_events, timebank_events

EVENTS = {
    "job_progress": signals.job_progress,
    "job_finished": signals.job_finished,
    "plan_published": signals.plan_published,
    "route_changed": signals.route_changed,
    "notice_acknowledged": signals.notice_acknowledged,
    "visit_status": evv_events.visit_status_changed,
    "timebank_correction": timebank_events.correction_posted,
}


def emit(event: str, room: str, payload: dict[str, Any]) -> None:
    """Send ``event`` with ``payload`` to everyone in ``room`` (default namespace)."""
    socketio.emit(event, payload, to=room)


def _forwarder(event: str) -> Any:
    def forward(sender: object, *, room: str, payload: dict[str, Any]) -> None:
        emit(event, room, payload)

    forward.__name__ = f"forward_{event}"
    return forward


# Strong references: blinker holds receivers weakly, and these must live as long as the app.
_FORWARDERS = {event: _forwarder(event) for event in EVENTS}


def connect_signals() -> None:
    """Forward every dispatch signal to its Socket.IO event (idempotent)."""
    for event, signal in EVENTS.items():
        signal.connect(_FORWARDERS[event])
