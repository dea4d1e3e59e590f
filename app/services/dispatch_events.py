"""What the dispatch services announce, as in-process signals.

Services commit, then send one of these signals; ``app.realtime.events`` (the one module
that emits Socket.IO events) listens and broadcasts. The services thereby know nothing of
Socket.IO, and a job worker or a CLI command that runs a service announces the same way.
Each signal is sent with the payload of its Socket.IO event as keyword ``payload`` and the
room it concerns as ``room``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from blinker import Namespace

_signals = Namespace()

job_progress = _signals.signal("job-progress")
job_finished = _signals.signal("job-finished")
plan_published = _signals.signal("plan-published")
route_changed = _signals.signal("route-changed")
notice_acknowledged = _signals.signal("notice-acknowledged")


def board_room(agency_id: int, day: dt.date) -> str:
    """The room of an agency's board for one date."""
    return f"board:{agency_id}:{day.isoformat()}"


def worker_room(kind: str, worker_id: int) -> str:
    """The room of one caregiver (``kind`` "caregiver") or volunteer ("volunteer")."""
    return f"{kind}:{worker_id}"


def announce(signal: Any, room: str, payload: dict[str, Any]) -> None:
    signal.send(None, room=room, payload=payload)
