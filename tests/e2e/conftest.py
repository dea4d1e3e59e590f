"""Browser tests: the real application served on a free local port, driven by Debian's
headless Chromium through Playwright.

The server is the application as deployed in the embedded setup: a SQLite *file*
database (requests, solver jobs and Socket.IO run on several threads), the demo city
loaded with ``load_demo(seed=1)`` and the visits of tomorrow generated, Flask-SocketIO
in threading mode on werkzeug's threaded server. Playwright's own browsers are never
installed; the system Chromium is used.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server

from app import create_app, jobs
from app.cli.i18n import compile_catalogs
from app.config import TestConfig
from app.extensions import db, socketio
from app.services.crud import local_today
from app.services.demo import DEMO_PASSWORD, load_demo
from app.services.visits import generate_visits
from timebank import create_schema as create_ledger

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT = {"width": 1440, "height": 900}
DEMO_SEED = 1


@dataclass(frozen=True)
class LiveServer:
    """The running application: where it answers and the demo day it holds."""

    app: Flask
    url: str
    day: dt.date
    today: dt.date
    password: str = DEMO_PASSWORD


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    if not CHROMIUM.exists():
        pytest.skip(f"browser tests need Debian's chromium at {CHROMIUM}")
    return CHROMIUM


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The demo city on a fresh SQLite file, served on 127.0.0.1 and a free port."""
    compile_catalogs()
    database = tmp_path_factory.mktemp("e2e") / "careroute.db"
    saved = _socketio_state()
    # Solves run on the worker pool, as deployed, not inline in the request.
    app = create_app(
        TestConfig, SQLALCHEMY_DATABASE_URI=f"sqlite:///{database}", JOBS_RUNNER="threads"
    )
    with app.app_context():
        db.create_all()
        with db.engine.begin() as conn:
            create_ledger(conn)  # the time bank's tables and triggers, as the migration makes
        today = local_today(app.config["BABEL_DEFAULT_TIMEZONE"])
        load_demo(db.session, seed=DEMO_SEED, today=today)
        day = _next_day_with_visits(today)
        db.session.remove()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="e2e-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(app, f"http://127.0.0.1:{server.server_port}", day, today)
    finally:
        _stop(server, thread)
        jobs.runner(app).shutdown(wait=True)
        with app.app_context():
            db.engine.dispose()
        _restore_socketio(saved)


def _next_day_with_visits(today: dt.date) -> dt.date:
    """Tomorrow, or the first day after it with visits to plan: the demo's care plans have
    none on Sundays, and a board test run on a Saturday (in the agencies' time zone)
    found an empty map."""
    for ahead in range(1, 8):
        day = today + dt.timedelta(days=ahead)
        if generate_visits(db.session, day).created:
            return day
    raise AssertionError(f"the demo has no visits in the week after {today}")


def _stop(server: BaseWSGIServer, thread: threading.Thread) -> None:
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


def _socketio_state() -> dict[str, Any]:
    # create_app re-initialises the one SocketIO object for its app; the rest of the
    # suite's application must get its own server back afterwards.
    return {name: getattr(socketio, name, None) for name in ("server", "async_mode", "sockio_mw")}


def _restore_socketio(saved: dict[str, Any]) -> None:
    for name, value in saved.items():
        setattr(socketio, name, value)


@pytest.fixture(scope="module")
def browser(chromium_path: Path) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(chromium_path), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield chromium
        finally:
            chromium.close()
