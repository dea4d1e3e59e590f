"""Background jobs: the runner interface and its in-process implementations.

A runner takes a job id and its work, a callable of ``(session, should_stop)``. The work
is whatever a service hands over (``app.services.dispatch`` hands its solve jobs); the
runner only decides where and when it runs, gives it a database session of its own and
a way to learn that it should stop:

``ThreadPoolRunner`` (the default)
    A small pool of worker threads in this process; each job runs in an application
    context with its own session, removed afterwards. Cancellation sets a flag the work
    polls. Jobs queued here are lost if the process stops (their rows stay queued or
    running; cancelling such a job marks it cancelled).
``InlineRunner`` (tests, ``JOBS_RUNNER = "inline"``)
    Runs the work at once, in the caller's thread and session, so a test sees the result
    as soon as the request returns; deterministic.

A distributed queue (workers on other machines) would implement the same two methods,
``submit`` and ``cancel``, and poll cancellation from the job's row or a shared key.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

from flask import Flask
from sqlalchemy.orm import Session

from app.extensions import db
from app.services.dispatch_jobs import JOBS_EXTENSION

log = logging.getLogger(__name__)

ShouldStop = Callable[[], bool]
Work = Callable[[Session, ShouldStop], None]

__all__ = ["InlineRunner", "JobRunner", "ThreadPoolRunner", "init_app", "runner"]


class JobRunner(Protocol):
    """Where jobs run."""

    def submit(self, job_id: str, work: Work) -> None:
        """Run ``work`` for ``job_id``, now or on a worker."""

    def cancel(self, job_id: str) -> bool:
        """Ask the job to stop; False when this runner does not know it (finished or lost)."""

    def shutdown(self, wait: bool = True) -> None:
        """Stop taking jobs; with ``wait``, let running ones finish."""


class _Flags:
    """Stop flags of the jobs a runner knows, guarded for use across threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._flags: dict[str, threading.Event] = {}

    def add(self, job_id: str) -> threading.Event:
        with self._lock:
            return self._flags.setdefault(job_id, threading.Event())

    def set(self, job_id: str) -> bool:
        with self._lock:
            flag = self._flags.get(job_id)
        if flag is None:
            return False
        flag.set()
        return True

    def drop(self, job_id: str) -> None:
        with self._lock:
            self._flags.pop(job_id, None)


class InlineRunner:
    """Runs each job immediately in the calling thread, with the caller's session."""

    def __init__(self) -> None:
        self._flags = _Flags()

    def submit(self, job_id: str, work: Work) -> None:
        flag = self._flags.add(job_id)
        try:
            work(db.session, flag.is_set)
        finally:
            self._flags.drop(job_id)

    def cancel(self, job_id: str) -> bool:
        return self._flags.set(job_id)

    def shutdown(self, wait: bool = True) -> None:
        """Nothing runs in the background."""


class ThreadPoolRunner:
    """Runs jobs on a few worker threads of this process."""

    def __init__(self, app: Flask, max_workers: int = 1) -> None:
        self._app = app
        self._flags = _Flags()
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="careroute-job")

    def submit(self, job_id: str, work: Work) -> None:
        flag = self._flags.add(job_id)
        self._pool.submit(self._run, job_id, work, flag)

    def _run(self, job_id: str, work: Work, flag: threading.Event) -> None:
        try:
            with self._app.app_context():
                try:
                    work(db.session, flag.is_set)
                finally:
                    db.session.remove()
        except Exception:  # a worker thread must outlive any one job
            log.exception("job %s crashed", job_id)
        finally:
            self._flags.drop(job_id)

    def cancel(self, job_id: str) -> bool:
        return self._flags.set(job_id)

    def shutdown(self, wait: bool = True) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=True)


def init_app(app: Flask) -> JobRunner:
    """Install the runner the configuration names (``JOBS_RUNNER``: threads or inline).

    Testing applications run jobs inline unless told otherwise; ``JOBS_WORKERS`` sizes
    the pool (one by default: a solve already keeps a core busy).
    """
    kind = app.config.get("JOBS_RUNNER") or ("inline" if app.testing else "threads")
    installed: JobRunner
    if kind == "inline":
        installed = InlineRunner()
    elif kind == "threads":
        installed = ThreadPoolRunner(app, int(app.config.get("JOBS_WORKERS", 1)))
    else:
        raise ValueError(f"JOBS_RUNNER must be 'threads' or 'inline', not {kind!r}")
    app.extensions[JOBS_EXTENSION] = installed
    return installed


def runner(app: Flask) -> JobRunner:
    """The runner installed on ``app``."""
    installed: JobRunner = app.extensions[JOBS_EXTENSION]
    return installed
