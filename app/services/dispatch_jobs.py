"""Solve jobs: their rows, the queue they go to, and what a worker does with one.

A job is a ``SolveJob`` row first (queued), then work handed to the job runner that
``app.jobs`` installs on the application (``JOBS_EXTENSION``): an in-process thread pool by
default, inline in tests, a distributed queue later. The runner calls ``run_job`` with a
session and a ``should_stop`` callable; everything the job does to the database happens
there, in the worker, and is announced through ``dispatch_events``.

The services see the runner only through the small ``JobQueue`` protocol below, so they
never import ``app.jobs`` (which sits above them).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import SolveJob, utcnow
from app.services import dispatch_events as events
from app.services.errors import Conflict
from scheduling import DayPlan, DayProblem, Progress, SolveParams, solve

log = logging.getLogger(__name__)

JOBS_EXTENSION = "careroute.jobs"
ACTIVE = ("queued", "running")
PROGRESS_INTERVAL_S = 0.5  # at most two progress events a second per job

ShouldStop = Callable[[], bool]
Work = Callable[[Session, ShouldStop], None]


class JobQueue(Protocol):
    """What the services need of a job runner."""

    def submit(self, job_id: str, work: Work) -> None:
        """Run ``work`` for ``job_id`` (now, or later on a worker)."""

    def cancel(self, job_id: str) -> bool:
        """Ask a running job to stop; False when the runner does not know it."""


def queue() -> JobQueue:
    """The application's job runner."""
    runner: JobQueue = current_app.extensions[JOBS_EXTENSION]
    return runner


def solver_limits() -> dict[str, Any]:
    """Solver settings from the configuration that every job records with its params."""
    limit = current_app.config.get("DISPATCH_SOLUTION_LIMIT")
    settings: dict[str, Any] = {"solution_limit": int(limit)} if limit else {}
    workers = int(current_app.config.get("DISPATCH_SOLVER_WORKERS") or 1)
    if workers > 1:
        settings["workers"] = workers  # a repair runs in one process whatever it says
    return settings


def ensure_idle(session: Session, agency_id: int, day: dt.date) -> None:
    """Refuse a second job on a day while one is queued or running (versions stay ordered)."""
    busy = session.scalar(
        select(SolveJob.id).where(
            SolveJob.agency_id == agency_id, SolveJob.date == day, SolveJob.status.in_(ACTIVE)
        )
    )
    if busy is not None:
        message = _("A plan of this day is being computed; wait for it or cancel it.")
        raise Conflict(message, {"job_id": busy})


def new_job(
    session: Session,
    agency_id: int,
    day: dt.date,
    kind: str,
    params: dict[str, Any],
    created_by_id: int | None,
) -> SolveJob:
    """Add a queued job (flushed, not committed)."""
    ensure_idle(session, agency_id, day)
    job = SolveJob(
        id=str(uuid.uuid4()),
        agency_id=agency_id,
        date=day,
        kind=kind,
        status="queued",
        params=params | solver_limits(),
        created_by_id=created_by_id,
    )
    session.add(job)
    session.flush()
    return job


def progress_json(job: SolveJob) -> dict[str, Any]:
    """The job's progress as the API shows it (zeros before the first report)."""
    return {"elapsed_s": 0.0, "objective": None, "assigned": 0, "visits": 0} | (job.progress or {})


def job_json(job: SolveJob) -> dict[str, Any]:
    return {
        "id": job.id,
        "kind": job.kind,
        "date": job.date.isoformat(),
        "status": job.status,
        "progress": progress_json(job),
        "plan_version_id": job.plan_version_id,
        "error": job.error,
        "created_at": job.created_at.isoformat() if job.created_at else None,
        "started_at": job.started_at.isoformat() if job.started_at else None,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
    }


@dataclass(frozen=True)
class Prepared:
    """What a job solves and how its result is stored."""

    problem: DayProblem
    hint: DayPlan | None
    store: Callable[[Session, DayPlan], int]


Prepare = Callable[[Session, SolveJob], Prepared]


class _Reporter:
    """Throttled progress: stored on the job and announced to the board."""

    def __init__(self, session: Session, job: SolveJob) -> None:
        self.session = session
        self.job = job
        self.room = events.board_room(job.agency_id, job.date)
        self.last = -PROGRESS_INTERVAL_S

    def __call__(self, p: Progress, *, force: bool = False) -> None:
        if p.phase is not None:
            return  # the board shows the clock until the first plan; phases are for logs
        now = time.monotonic()
        if not force and now - self.last < PROGRESS_INTERVAL_S:
            return
        self.last = now
        data = {
            "elapsed_s": round(p.elapsed_s, 2),
            "objective": p.objective,
            "assigned": p.assigned,
            "visits": p.visits,
        }
        self.job.progress = data
        self.session.commit()
        events.announce(events.job_progress, self.room, {"job_id": self.job.id, **data})


def run_job(session: Session, job_id: str, should_stop: ShouldStop, prepare: Prepare) -> None:
    """Run a queued job to its end: solve, store the plan version, announce.

    A job cancelled before it starts is skipped; one cancelled while solving stores
    nothing. Any error marks the job failed with the message (and is logged).
    """
    job = session.get(SolveJob, job_id)
    if job is None or job.status != "queued":
        return
    job.status, job.started_at = "running", utcnow()
    session.commit()
    stopped = False

    def stop() -> bool:
        nonlocal stopped
        stopped = stopped or should_stop()
        return stopped

    try:
        prepared = prepare(session, job)
        report = _Reporter(session, job)
        params = SolveParams(
            time_limit_s=float(job.params.get("time_limit_s", 20)),
            solution_limit=job.params.get("solution_limit"),
            workers=int(job.params.get("workers", 1)),
        )
        plan = solve(
            prepared.problem, params, on_progress=report, should_stop=stop, hint=prepared.hint
        )
        if stopped:
            _finish(session, job, "cancelled")
            return
        report(_final_progress(plan), force=True)
        job.plan_version_id = prepared.store(session, plan)
        _finish(session, job, "succeeded")
    except Exception as exc:  # a failed job must say why, whatever went wrong
        log.exception("solve job %s failed", job_id)
        session.rollback()
        failed = session.get(SolveJob, job_id)
        if failed is not None:
            failed.error = str(exc)[:2000] or type(exc).__name__
            _finish(session, failed, "failed")


def _final_progress(plan: DayPlan) -> Progress:
    return Progress(plan.solver.wall_s, plan.solver.objective, plan.kpis.assigned, plan.kpis.visits)


def _finish(session: Session, job: SolveJob, status: str) -> None:
    job.status, job.finished_at = status, utcnow()
    session.commit()
    events.announce(
        events.job_finished,
        events.board_room(job.agency_id, job.date),
        {"job_id": job.id, "status": status, "plan_version_id": job.plan_version_id},
    )


def cancel(session: Session, job: SolveJob) -> None:
    """Stop a job: a queued one is cancelled at once, a running one asked to stop.

    A running job its runner no longer knows (the process that ran it is gone) is marked
    cancelled here, so that the day is not blocked for ever.
    """
    if job.status == "queued" or (job.status == "running" and not queue().cancel(job.id)):
        queue().cancel(job.id)
        _finish(session, job, "cancelled")
    elif job.status != "running":
        message = _("This job has already finished.")
        raise Conflict(message, {"status": message})
