"""What the time-bank services announce, as in-process signals.

Services commit, then send; ``app.realtime.events`` (the one module that emits Socket.IO
events) forwards each signal, sent with keyword ``room`` and ``payload``:

``correction_posted`` -> Socket.IO ``timebank_correction`` in ``volunteer:<id>``, once per
volunteer whose minutes a reversal changed, payload ``{"correction_id", "transfer_id",
"delta_min", "balance_after_min", "reason", "at"}``.
"""

from __future__ import annotations

from typing import Any

from blinker import Namespace

_signals = Namespace()

correction_posted = _signals.signal("timebank-correction-posted")


def announce_correction(room: str, payload: dict[str, Any]) -> None:
    correction_posted.send(None, room=room, payload=payload)
