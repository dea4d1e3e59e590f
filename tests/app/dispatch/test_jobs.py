"""The job runners: inline runs at once; the thread pool runs in the background with its
own session, can be asked to stop, survives a crashing job, and cancels what it does
not know."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from app.extensions import db
from app.jobs import InlineRunner, ThreadPoolRunner, init_app, runner
from app.services.dispatch_jobs import JOBS_EXTENSION

WAIT_S = 10  # generous bound on a thread hand-over; never reached when things work


def test_the_testing_app_runs_jobs_inline(app: Flask) -> None:
    assert isinstance(runner(app), InlineRunner)
    assert app.extensions[JOBS_EXTENSION] is runner(app)


def test_inline_runs_at_once_with_the_callers_session(app: Flask) -> None:
    seen: list[Any] = []
    InlineRunner().submit("j1", lambda session, stop: seen.append((session, stop())))
    assert seen == [(db.session, False)]


def test_inline_cancel_reaches_the_running_job() -> None:
    inline = InlineRunner()
    stopped: list[bool] = []

    def work(session: Session, should_stop: Any) -> None:
        assert inline.cancel("j2") is True
        stopped.append(should_stop())

    inline.submit("j2", work)
    assert stopped == [True]
    assert inline.cancel("j2") is False  # finished: no longer known


def test_thread_pool_runs_in_an_app_context_and_can_be_stopped(app: Flask) -> None:
    pool = ThreadPoolRunner(app, max_workers=1)
    started, done = threading.Event(), threading.Event()
    seen: dict[str, Any] = {}

    def work(session: Session, should_stop: Any) -> None:
        seen["thread"] = threading.current_thread().name
        seen["session"] = session is db.session
        started.set()
        seen["stopped"] = _wait_for(should_stop)
        done.set()

    try:
        pool.submit("j3", work)
        assert started.wait(WAIT_S)
        assert pool.cancel("j3") is True
        assert done.wait(WAIT_S)
    finally:
        pool.shutdown()
    assert seen["thread"].startswith("careroute-job")
    assert seen["session"] is True
    assert seen["stopped"] is True
    assert pool.cancel("j3") is False


def _wait_for(flag: Any) -> bool:
    event = threading.Event()
    for _ in range(WAIT_S * 100):
        if flag():
            return True
        event.wait(0.01)
    return False


def test_a_crashing_job_does_not_stop_the_pool(app: Flask) -> None:
    pool = ThreadPoolRunner(app, max_workers=1)
    done = threading.Event()

    def crash(session: Session, should_stop: Any) -> None:
        raise RuntimeError("boom")

    try:
        pool.submit("bad", crash)
        pool.submit("good", lambda session, stop: done.set())
        assert done.wait(WAIT_S)
    finally:
        pool.shutdown()


def test_unknown_runner_kind_is_refused() -> None:
    other = Flask("other")
    other.config["JOBS_RUNNER"] = "celery"
    with pytest.raises(ValueError, match="JOBS_RUNNER"):
        init_app(other)
