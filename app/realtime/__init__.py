"""Real-time updates over Socket.IO: the handlers (``handlers``) and the one emitter
(``events``)."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the handlers on ``app``'s Socket.IO server and forward dispatch signals."""
    from app.realtime import events, handlers

    handlers.register()
    events.connect_signals()
