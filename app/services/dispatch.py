"""Dispatch: plan an agency's day, edit and repair the plan, publish it.

The use cases behind ``/api/v1/dispatch``, the ``flask plan`` commands and the solve jobs.
Each takes the session first and the acting user, checks what that user may touch, and
owns its commit; what it announces goes through ``dispatch_events``.

- ``request_plan`` queues an optimisation of a day (a ``SolveJob``); the worker builds the
  day from the database (``dayproblem``), keeps the locks of the day's latest version,
  solves, and stores a new ``PlanVersion``. Versions are never changed afterwards.
- ``edit_version`` applies one manual edit (move, lock, unlock, absent, urgent) to a
  version: ``check`` mode stores the edited plan at once with the checker's verdict;
  ``reoptimise`` mode queues a solve around the locks that starts from the edited plan.
- ``request_repair`` records an absence and re-plans the rest of the day around it
  (``dispatch_repair``), keeping what has started and charging every move.
- ``publish_version`` makes a valid version the day's plan (``dispatch_publish``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import (
    Agency,
    Assessment,
    CapOverride,
    Caregiver,
    CaregiverAbsence,
    PlanItem,
    PlanVersion,
    Role,
    RouteNotice,
    SolveJob,
    User,
    Visit,
    VisitStatus,
    Volunteer,
)
from app.policy import load_policy
from app.security import is_cross_agency
from app.services import dispatch_board, dispatch_edits, dispatch_publish
from app.services import dispatch_jobs as jobs
from app.services import dispatch_versions as versions
from app.services.assessments import latest_assessment
from app.services.crud import LOCAL_TZ, invalid, local_today
from app.services.dayproblem import (
    build_day_problem,
    caregiver_ref,
    over_cap_visits,
    parse_ref,
    visit_task,
)
from app.services.dispatch_repair import repair_problem
from app.services.errors import Conflict, NotFound, ValidationFailed
from app.services.visits import NOT_STARTED
from app.services.visits_manual import create_visit
from scheduling import DayPlan, DayProblem, Lock, dump_plan, dump_problem, load_plan

log = logging.getLogger(__name__)

DEFAULT_TIME_LIMIT_S = 20
REPAIR_TIME_LIMIT_S = 4  # the repair benchmark's budget: a new plan within 5 s


def hhmm_s(text: str) -> int:
    hours, minutes = text.split(":")[:2]
    return int(hours) * 3600 + int(minutes) * 60


def local_now_s() -> int:
    now = dt.datetime.now(LOCAL_TZ)
    return now.hour * 3600 + now.minute * 60 + now.second


# --------------------------------------------------------------------------- scoping


def board_agency(session: Session, actor: User, agency_id: int | None) -> Agency:
    """The agency whose day ``actor`` reads: their own, or the one an auditor names."""
    if is_cross_agency(actor):
        if agency_id is None:
            raise invalid("agency_id", _("Name the agency (agency_id) to read its day."))
        agency = session.get(Agency, agency_id)
        if agency is None:
            raise invalid("agency_id", _("Unknown agency."))
        return agency
    if agency_id is not None and agency_id != actor.agency_id:
        raise NotFound(_("%(what)s not found.") % {"what": _("Agency")})
    return own_agency(session, actor)


def own_agency(session: Session, actor: User) -> Agency:
    agency = session.get(Agency, actor.agency_id) if actor.agency_id is not None else None
    if agency is None:
        raise ValidationFailed(_("Only agency staff can do this."))
    return agency


def _not_found(what: str) -> NotFound:
    return NotFound(_("%(what)s not found.") % {"what": what})


def visible_version(session: Session, actor: User, version_id: int) -> PlanVersion:
    version = session.get(PlanVersion, version_id)
    if version is None or not (is_cross_agency(actor) or version.agency_id == actor.agency_id):
        raise _not_found(_("Plan version"))
    return version


def _managed_version(session: Session, actor: User, version_id: int) -> PlanVersion:
    version = session.get(PlanVersion, version_id)
    if version is None or version.agency_id != actor.agency_id:
        raise _not_found(_("Plan version"))
    return version


def _visible_job(session: Session, actor: User, job_id: str) -> SolveJob:
    job = session.get(SolveJob, job_id)
    if job is None or not (is_cross_agency(actor) or job.agency_id == actor.agency_id):
        raise _not_found(_("Job"))
    return job


def _plannable(day: dt.date) -> None:
    if day < local_today():
        raise invalid("date", _("A day that is over cannot be planned."))


def _editable(version: PlanVersion) -> None:
    if version.date < local_today():
        message = _("A day that is over cannot be planned.")
        raise Conflict(message, {"date": message})


# --------------------------------------------------------------------------- jobs


def _submit(job: SolveJob) -> None:
    jobs.queue().submit(job.id, partial(_work, job.id))


def _work(job_id: str, session: Session, should_stop: jobs.ShouldStop) -> None:
    jobs.run_job(session, job_id, should_stop, _prepare)


def request_plan(session: Session, actor: User, day: dt.date, time_limit_s: int) -> SolveJob:
    """Queue an optimisation of ``day`` for the actor's agency; 409 while one is running."""
    agency = own_agency(session, actor)
    _plannable(day)
    job = jobs.new_job(
        session, agency.id, day, "optimise", {"time_limit_s": time_limit_s}, actor.id
    )
    session.commit()
    _submit(job)
    return job


def plan_now(
    session: Session,
    agency: Agency,
    day: dt.date,
    time_limit_s: float,
) -> SolveJob:
    """Plan ``day`` synchronously (the CLI): the same job, run in the calling thread."""
    job = jobs.new_job(session, agency.id, day, "optimise", {"time_limit_s": time_limit_s}, None)
    session.commit()
    jobs.run_job(session, job.id, lambda: False, _prepare)
    session.refresh(job)
    return job


def get_job(session: Session, actor: User, job_id: str) -> SolveJob:
    return _visible_job(session, actor, job_id)


def cancel_job(session: Session, actor: User, job_id: str) -> SolveJob:
    """Cancel a queued job, or ask a running one to stop (409 once it has finished)."""
    job = _visible_job(session, actor, job_id)
    if job.agency_id != actor.agency_id:
        raise _not_found(_("Job"))
    jobs.cancel(session, job)
    return job


def _prepare(session: Session, job: SolveJob) -> jobs.Prepared:
    preparers = {
        "optimise": _prepare_optimise,
        "edit": _prepare_reoptimise,
        "repair": _prepare_repair,
    }
    return preparers[job.kind](session, job)


def _storer(
    job: SolveJob, kind: str, problem: DayProblem, parent_id: int | None, note: str
) -> Callable[[Session, DayPlan], int]:
    def store(session: Session, plan: DayPlan) -> int:
        version = versions.store(
            session,
            job.agency_id,
            job.date,
            kind,
            problem,
            plan,
            parent_id=parent_id,
            note=note,
            created_by_id=job.created_by_id,
        )
        return version.id

    return store


def _prepare_optimise(session: Session, job: SolveJob) -> jobs.Prepared:
    base = versions.latest(session, job.agency_id, job.date)
    locks = versions.problem_of(base).locks if base is not None else ()
    problem = build_day_problem(session, job.agency_id, job.date, locks=locks).problem
    note = _("Optimised (%(s)s s).", s=job.params.get("time_limit_s"))
    return jobs.Prepared(problem, None, _storer(job, "optimise", problem, None, note))


def _prepare_reoptimise(session: Session, job: SolveJob) -> jobs.Prepared:
    p = job.params
    locks = tuple(Lock(lk["visit_id"], lk["caregiver_id"], lk.get("start_s")) for lk in p["locks"])
    problem = build_day_problem(session, job.agency_id, job.date, locks=locks).problem
    hint = load_plan(p["hint"])
    note = _("%(edit)s, re-optimised", edit=p["note"])
    return jobs.Prepared(problem, hint, _storer(job, "edit", problem, p["version_id"], note))


def _prepare_repair(session: Session, job: SolveJob) -> jobs.Prepared:
    p = job.params
    base = session.get(PlanVersion, p["version_id"]) if p.get("version_id") else None
    locks = versions.problem_of(base).locks if base is not None else ()
    problem = build_day_problem(session, job.agency_id, job.date, locks=locks).problem
    hint = None
    if base is not None:
        base_plan = versions.plan_of(base)
        problem = _with_started(problem, versions.problem_of(base), base_plan, p["now_s"])
        from_s = hhmm_s(p["from"]) if p.get("from") else None
        repair = repair_problem(problem, base_plan, p["caregiver_ref"], from_s, now_s=p["now_s"])
        problem, hint = repair.problem, repair.hint
    return jobs.Prepared(
        problem, hint, _storer(job, "repair", problem, base.id if base else None, p["note"])
    )


def _with_started(fresh: DayProblem, base: DayProblem, plan: DayPlan, now_s: int) -> DayProblem:
    """``fresh`` plus the visits that had started by ``now_s`` in ``plan``.

    A started or completed visit is no longer open, so a day built from the database
    leaves it out; the repair needs it back to keep its caregiver busy at that time.
    """
    have = {v.id for v in fresh.visits}
    known = {c.id for c in fresh.caregivers}
    started = {s.visit_id for r in plan.routes for s in r.stops if s.start_s < now_s}
    extra = [
        dataclasses.replace(
            v, preferred_caregivers=tuple(c for c in v.preferred_caregivers if c in known)
        )
        for v in base.visits
        if v.id in started and v.id not in have
    ]
    if not extra:
        return fresh
    return dataclasses.replace(fresh, visits=(*fresh.visits, *extra))


# --------------------------------------------------------------------------- reads


def board(session: Session, actor: User, day: dt.date, agency_id: int | None) -> dict[str, Any]:
    """The board of ``day``: caregivers, visits, versions, acknowledgements."""
    return dispatch_board.board(session, board_agency(session, actor, agency_id), day)


def read_version(session: Session, actor: User, version_id: int) -> dict[str, Any]:
    return versions.version_json(visible_version(session, actor, version_id))


def compare_versions(session: Session, actor: User, a_id: int, b_id: int) -> dict[str, Any]:
    """Visits moved between two versions of the same agency."""
    a, b = visible_version(session, actor, a_id), visible_version(session, actor, b_id)
    if a.agency_id != b.agency_id:
        raise _not_found(_("Plan version"))
    return versions.compare_json(a, b)


def day_problem_document(session: Session, agency: Agency, day: dt.date) -> dict[str, Any]:
    """The careroute.day/1 document of ``day`` as the solver would see it now."""
    base = versions.latest(session, agency.id, day)
    locks = versions.problem_of(base).locks if base is not None else ()
    return dump_problem(build_day_problem(session, agency.id, day, locks=locks).problem)


def export_day(
    session: Session, actor: User, day: dt.date, agency_id: int | None
) -> dict[str, Any]:
    return day_problem_document(session, board_agency(session, actor, agency_id), day)


# --------------------------------------------------------------------------- edits


@dataclass(frozen=True)
class EditOutcome:
    """A checked edit's new version, or the job that re-optimises around it."""

    version: PlanVersion | None = None
    job: SolveJob | None = None


def _edit_error(exc: dispatch_edits.EditError) -> ValidationFailed:
    return invalid(exc.field, exc.message)


def _open_visit(session: Session, agency_id: int, ref: str, field: str = "visit_ref") -> Visit:
    kind, number = _split_ref(ref, field)
    visit = session.get(Visit, number) if kind == "v" else None
    if visit is None or visit.agency_id != agency_id:
        raise invalid(field, _("Unknown visit."))
    if visit.status not in NOT_STARTED:
        message = _("Only a planned or assigned visit can be changed.")
        raise Conflict(message, {field: message})
    return visit


def _split_ref(ref: str, field: str) -> tuple[str, int]:
    try:
        return parse_ref(ref)
    except ValueError:
        raise invalid(field, _("Has the wrong format.")) from None


def _worker(session: Session, agency_id: int, ref: str, *, caregivers_only: bool = False) -> int:
    kind, number = _split_ref(ref, "caregiver_ref")
    row: Caregiver | Volunteer | None = None
    if kind == "cg":
        row = session.get(Caregiver, number)
    elif kind == "vol" and not caregivers_only:
        row = session.get(Volunteer, number)
    if row is None or row.agency_id != agency_id:
        raise invalid("caregiver_ref", _("Unknown caregiver."))
    return number


def edit_version(
    session: Session, actor: User, version_id: int, edit: Mapping[str, Any]
) -> EditOutcome:
    """Apply one edit to a version: store the checked result, or queue a re-optimisation."""
    base = _managed_version(session, actor, version_id)
    _editable(base)
    action, mode = edit["action"], edit.get("mode", "check")
    if action == "absent":
        return _absent(session, actor, base, edit, mode)
    problem, plan = versions.problem_of(base), versions.plan_of(base)
    try:
        if action in ("lock", "unlock"):
            _open_visit(session, base.agency_id, edit["visit_ref"])
            problem = dispatch_edits.set_lock(problem, plan, edit["visit_ref"], action == "lock")
            note = f"{action} {edit['visit_ref']}"
        elif action == "move":
            problem, plan, note = _move(session, base, problem, plan, edit, mode)
        else:
            problem, plan, note = _urgent(session, actor, base, problem, plan, edit)
    except dispatch_edits.EditError as exc:
        raise _edit_error(exc) from None
    if mode == "reoptimise":
        return EditOutcome(job=_reoptimise(session, actor, base, problem, plan, edit, note))
    version = versions.store(
        session, base.agency_id, base.date, "edit", problem, plan,
        parent_id=base.id, note=note, created_by_id=actor.id,
    )  # fmt: skip
    session.commit()
    return EditOutcome(version=version)


def _move(
    session: Session,
    base: PlanVersion,
    problem: DayProblem,
    plan: DayPlan,
    edit: Mapping[str, Any],
    mode: str,
) -> tuple[DayProblem, DayPlan, str]:
    ref, target = edit["visit_ref"], edit["caregiver_ref"]
    _open_visit(session, base.agency_id, ref)
    _worker(session, base.agency_id, target)
    start = hhmm_s(edit["start"]) if edit.get("start") else None
    plan = dispatch_edits.move(problem, plan, ref, target, start)
    note = f"move {ref} to {target}" + (f" at {edit['start']}" if start is not None else "")
    if mode == "reoptimise":
        # The dispatcher's choice is what the re-optimisation works around.
        locks = tuple(lk for lk in problem.locks if lk.visit_id != ref)
        problem = dataclasses.replace(problem, locks=(*locks, Lock(ref, target, start)))
    return problem, plan, note


def _urgent(
    session: Session,
    actor: User,
    base: PlanVersion,
    problem: DayProblem,
    plan: DayPlan,
    edit: Mapping[str, Any],
) -> tuple[DayProblem, DayPlan, str]:
    item = session.get(PlanItem, edit["plan_item_id"])
    if item is None or item.plan.agency_id != base.agency_id:
        raise invalid("plan_item_id", _("Unknown plan item."))
    if item.plan.person_id != edit["person_id"]:
        raise invalid("plan_item_id", _("This plan item is not the person's."))
    _refuse_over_cap(session, base.agency_id, edit["person_id"], base.date)
    fields = {
        "plan_item_id": item.id,
        "date": base.date,
        "windows": edit["windows"],
        "duration_min": edit["duration_min"],
        "priority": edit.get("priority", 1),
    }
    visit = create_visit(session, actor, fields)
    session.refresh(visit)
    task = visit_task(visit)
    known = {c.id for c in problem.caregivers}
    task = dataclasses.replace(
        task, preferred_caregivers=tuple(c for c in task.preferred_caregivers if c in known)
    )
    problem, plan = dispatch_edits.add_visit(problem, plan, task)
    return problem, plan, f"urgent visit {task.id}"


def _refuse_over_cap(session: Session, agency_id: int, person_id: int, day: dt.date) -> None:
    """An urgent visit may not take a person past their weekly visits (override first)."""
    week_start = day - dt.timedelta(days=day.weekday())
    before = session.scalar(
        select(func.count(Visit.id)).where(
            Visit.agency_id == agency_id,
            Visit.person_id == person_id,
            Visit.date.between(week_start, day),
            Visit.status != VisitStatus.CANCELLED.value,
        )
    )
    grades = session.scalars(select(Assessment).where(Assessment.person_id == person_id)).all()
    latest = latest_assessment(grades, day)
    entitlement = load_policy().entitlement(latest.grade) if latest is not None else None
    cap = entitlement.max_visits_per_week if entitlement else 0
    if (before or 0) + 1 > cap:
        message = _(
            "The person's weekly cap of %(cap)s visits is reached: add the visit, record a "
            "cap override for it, then plan it.",
            cap=cap,
        )
        raise Conflict(message, {"person_id": message})


def _reoptimise(
    session: Session,
    actor: User,
    base: PlanVersion,
    problem: DayProblem,
    plan: DayPlan,
    edit: Mapping[str, Any],
    note: str,
) -> SolveJob:
    params = {
        "time_limit_s": edit.get("time_limit_s") or DEFAULT_TIME_LIMIT_S,
        "version_id": base.id,
        "note": note,
        "locks": [
            {"visit_id": lk.visit_id, "caregiver_id": lk.caregiver_id, "start_s": lk.start_s}
            for lk in problem.locks
        ],
        "hint": dump_plan(plan),
    }
    job = jobs.new_job(session, base.agency_id, base.date, "edit", params, actor.id)
    session.commit()
    _submit(job)
    return job


def _absent(
    session: Session, actor: User, base: PlanVersion, edit: Mapping[str, Any], mode: str
) -> EditOutcome:
    if mode == "reoptimise":
        job = _start_repair(
            session, actor, base.agency_id, base.date, base,
            edit["caregiver_ref"], edit.get("from"), edit["reason"], edit.get("time_limit_s"),
        )  # fmt: skip
        return EditOutcome(job=job)
    ref = edit["caregiver_ref"]
    caregiver_id = _worker(session, base.agency_id, ref, caregivers_only=True)
    from_s = hhmm_s(edit["from"]) if edit.get("from") else None
    try:
        problem, plan = dispatch_edits.mark_absent(
            versions.problem_of(base), versions.plan_of(base), ref, from_s, edit["reason"]
        )
    except dispatch_edits.EditError as exc:
        raise _edit_error(exc) from None
    _record_absence(session, actor, caregiver_id, base.date, edit.get("from"), edit["reason"])
    note = _absence_note(ref, edit.get("from"), edit["reason"])
    version = versions.store(
        session, base.agency_id, base.date, "edit", problem, plan,
        parent_id=base.id, note=note, created_by_id=actor.id,
    )  # fmt: skip
    session.commit()
    return EditOutcome(version=version)


def _absence_note(ref: str, from_hhmm: str | None, reason: str) -> str:
    when = _("from %(t)s", t=from_hhmm) if from_hhmm else _("all day")
    return f"{ref} {when}: {reason}"


def _record_absence(
    session: Session, actor: User, caregiver_id: int, day: dt.date, from_hhmm: str | None,
    reason: str,
) -> None:  # fmt: skip
    session.add(
        CaregiverAbsence(
            caregiver_id=caregiver_id,
            date=day,
            from_time=dt.time.fromisoformat(from_hhmm) if from_hhmm else None,
            reason=reason,
            created_by_id=actor.id,
        )
    )


# --------------------------------------------------------------------------- repair


def request_repair(
    session: Session,
    actor: User,
    day: dt.date,
    caregiver: str,
    from_hhmm: str | None,
    reason: str,
    time_limit_s: int | None = None,
) -> SolveJob:
    """Record that ``caregiver`` is away (from ``from_hhmm``) and queue the repair of the day."""
    agency = own_agency(session, actor)
    _plannable(day)
    base = versions.latest(session, agency.id, day)
    return _start_repair(
        session, actor, agency.id, day, base, caregiver, from_hhmm, reason, time_limit_s
    )


def _start_repair(
    session: Session,
    actor: User,
    agency_id: int,
    day: dt.date,
    base: PlanVersion | None,
    ref: str,
    from_hhmm: str | None,
    reason: str,
    time_limit_s: int | None,
) -> SolveJob:
    caregiver_id = _worker(session, agency_id, ref, caregivers_only=True)
    # Before the day begins nothing has started; on the day, what started by now stays.
    now_s = local_now_s() if day == local_today() else 0
    params = {
        "time_limit_s": time_limit_s or REPAIR_TIME_LIMIT_S,
        "version_id": base.id if base is not None else None,
        "caregiver_ref": caregiver_ref(caregiver_id),
        "from": from_hhmm,
        "now_s": now_s,
        "note": _absence_note(ref, from_hhmm, reason),
    }
    job = jobs.new_job(session, agency_id, day, "repair", params, actor.id)
    _record_absence(session, actor, caregiver_id, day, from_hhmm, reason)
    session.commit()
    _submit(job)
    return job


# --------------------------------------------------------------------------- publish


def publish_version(session: Session, actor: User, version_id: int) -> dispatch_publish.Published:
    """Publish a valid version of the actor's agency (409 if it breaks a rule)."""
    version = _managed_version(session, actor, version_id)
    _editable(version)
    return dispatch_publish.publish(session, version, actor.id)


def acknowledge_notice(session: Session, actor: User, notice_id: int) -> RouteNotice:
    """A caregiver or volunteer acknowledges their own route notice."""
    notice = session.get(RouteNotice, notice_id)
    if notice is None or not _is_own(actor, notice):
        raise _not_found(_("Notice"))
    return dispatch_publish.acknowledge(session, notice, dispatch_board.notice_worker_ref(notice))


def _is_own(actor: User, notice: RouteNotice) -> bool:
    if actor.role == Role.CAREGIVER:
        return actor.caregiver_id is not None and notice.caregiver_id == actor.caregiver_id
    if actor.role == Role.VOLUNTEER:
        return actor.volunteer_id is not None and notice.volunteer_id == actor.volunteer_id
    return False


# --------------------------------------------------------------------------- import, caps


def import_plan(session: Session, agency: Agency, day: dt.date, document: object) -> PlanVersion:
    """Store a plan made outside (``python -m scheduling solve``) as a version of kind import.

    It is checked against the day as it stands now; a plan that breaks a rule is stored
    with its violations (and cannot be published). Raises ``scheduling.FormatError`` when
    the document is not a careroute.plan/1 plan.
    """
    plan = load_plan(document)
    problem = load_plan_problem(session, agency, day)
    version = versions.store(
        session, agency.id, day, "import", problem, plan, note=_("Imported plan")
    )
    session.commit()
    return version


def load_plan_problem(session: Session, agency: Agency, day: dt.date) -> DayProblem:
    base = versions.latest(session, agency.id, day)
    locks = versions.problem_of(base).locks if base is not None else ()
    return build_day_problem(session, agency.id, day, locks=locks).problem


def override_cap(session: Session, actor: User, visit_id: int, reason: str) -> CapOverride:
    """Let a visit beyond the person's weekly cap enter planning; the decision is logged."""
    visit = session.get(Visit, visit_id)
    if visit is None or visit.agency_id != actor.agency_id:
        raise _not_found(_("Visit"))
    if session.scalar(select(CapOverride.id).where(CapOverride.visit_id == visit.id)):
        message = _("This visit's cap has already been overridden.")
        raise Conflict(message, {"visit_id": message})
    if visit.id not in over_cap_visits(session, visit.agency_id, visit.date, load_policy()):
        message = _("This visit is within the person's entitlement.")
        raise Conflict(message, {"visit_id": message})
    row = CapOverride(visit_id=visit.id, user_id=actor.id, reason=reason)
    session.add(row)
    session.commit()
    log.info("cap override: visit %s by user %s: %s", visit.id, actor.id, reason)
    return row


__all__ = [
    "EditOutcome",
    "acknowledge_notice",
    "board",
    "board_agency",
    "cancel_job",
    "compare_versions",
    "day_problem_document",
    "edit_version",
    "export_day",
    "get_job",
    "import_plan",
    "override_cap",
    "plan_now",
    "publish_version",
    "read_version",
    "request_plan",
    "request_repair",
]
