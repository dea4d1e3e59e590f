"""Plan versions: storing one (never changing it), reading it back, and what the board shows.

A version keeps the careroute.day/1 problem it answers and the careroute.plan/1 plan, so
any version can be reproduced or compared outside the app; ``valid`` and ``violations``
are ``scheduling.check``'s verdict at the time it was stored.
"""

from __future__ import annotations

import datetime as dt
import statistics
from dataclasses import asdict
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import PlanVersion, Publication
from app.services.dispatch_repair import compare_plans
from scheduling import DayPlan, DayProblem, check, dump_plan, dump_problem, load_plan, load_problem
from scheduling.io import format_time

KINDS = ("optimise", "edit", "repair", "import")


def latest(session: Session, agency_id: int, day: dt.date) -> PlanVersion | None:
    """The newest version of a day (the board's current one)."""
    stmt = (
        select(PlanVersion)
        .where(PlanVersion.agency_id == agency_id, PlanVersion.date == day)
        .order_by(PlanVersion.number.desc())
        .limit(1)
    )
    return session.scalar(stmt)


def store(
    session: Session,
    agency_id: int,
    day: dt.date,
    kind: str,
    problem: DayProblem,
    plan: DayPlan,
    *,
    parent_id: int | None = None,
    note: str | None = None,
    created_by_id: int | None = None,
) -> PlanVersion:
    """Check ``plan`` against ``problem`` and add it as the day's next version (flushed).

    The number is the day's highest plus one; two writers racing for it meet the unique
    (agency, date, number) constraint, and the loser's request fails as a conflict.
    """
    report = check(problem, plan)
    number = 1 + (
        session.scalar(
            select(func.max(PlanVersion.number)).where(
                PlanVersion.agency_id == agency_id, PlanVersion.date == day
            )
        )
        or 0
    )
    version = PlanVersion(
        agency_id=agency_id,
        date=day,
        number=number,
        parent_id=parent_id,
        kind=kind,
        note=note[:300] if note else None,
        problem=dump_problem(problem),
        plan=dump_plan(plan),
        valid=report.ok,
        violations=[asdict(v) for v in report.violations],
        created_by_id=created_by_id,
    )
    session.add(version)
    session.flush()
    return version


def problem_of(version: PlanVersion) -> DayProblem:
    return load_problem(version.problem)


def plan_of(version: PlanVersion) -> DayPlan:
    return load_plan(version.plan)


def published_at(session: Session, version_ids: list[int]) -> dict[int, dt.datetime]:
    """When each version was last published."""
    if not version_ids:
        return {}
    rows = session.execute(
        select(Publication.plan_version_id, func.max(Publication.published_at))
        .where(Publication.plan_version_id.in_(version_ids))
        .group_by(Publication.plan_version_id)
    )
    return {vid: at for vid, at in rows}


def summary(version: PlanVersion, published: dt.datetime | None) -> dict[str, Any]:
    """A version as the board lists it."""
    kpis = version.plan.get("kpis", {})
    return {
        "id": version.id,
        "number": version.number,
        "kind": version.kind,
        "parent_id": version.parent_id,
        "created_at": version.created_at.isoformat(),
        "valid": version.valid,
        "note": version.note,
        "published_at": published.isoformat() if published else None,
        "kpis": {k: kpis.get(k) for k in ("visits", "assigned", "travel_s", "continuity_rate")},
    }


def kpis_detail(problem: DayProblem, plan: DayPlan) -> dict[str, Any]:
    """Figures beyond the plan's own KPIs: service by priority, travel, workload spread."""
    served = {s.visit_id for r in plan.routes for s in r.stops}
    by_priority: dict[str, list[int]] = {}
    for v in problem.visits:
        counts = by_priority.setdefault(str(v.priority), [0, 0])
        counts[0] += v.id in served
        counts[1] += 1
    work = {r.caregiver_id: r.work_s // 60 for r in plan.routes if r.stops}
    loads = list(work.values())
    spread = {
        "min": min(loads, default=0),
        "max": max(loads, default=0),
        "stdev": round(statistics.pstdev(loads), 1) if loads else 0.0,
    }
    return {
        "assigned_by_priority": dict(sorted(by_priority.items())),
        "travel_h": round(plan.kpis.travel_s / 3600, 2),
        "continuity_rate": plan.kpis.continuity_rate,
        "work_min_by_caregiver": work,
        "work_min_spread": spread,
    }


def version_json(version: PlanVersion) -> dict[str, Any]:
    """One version in full: its plan document, violations and detailed KPIs."""
    problem, plan = problem_of(version), plan_of(version)
    return {
        "id": version.id,
        "agency_id": version.agency_id,
        "date": version.date.isoformat(),
        "number": version.number,
        "kind": version.kind,
        "parent_id": version.parent_id,
        "note": version.note,
        "created_at": version.created_at.isoformat(),
        "valid": version.valid,
        "violations": version.violations,
        "locks": version.problem.get("locks", []),
        "plan": version.plan,
        "kpis_detail": kpis_detail(problem, plan),
    }


def compare_json(a: PlanVersion, b: PlanVersion) -> dict[str, Any]:
    """Visits whose caregivers differ between versions ``a`` and ``b``."""
    moved, unchanged = compare_plans(plan_of(a), plan_of(b))
    return {
        "from_version_id": a.id,
        "to_version_id": b.id,
        "moved": [
            {
                "visit_ref": m.visit_id,
                "from": m.before[0] if m.before else None,
                "to": m.after[0] if m.after else None,
                "from_all": list(m.before),
                "to_all": list(m.after),
                "from_start": format_time(m.before_start_s)
                if m.before_start_s is not None
                else None,
                "to_start": format_time(m.after_start_s) if m.after_start_s is not None else None,
            }
            for m in moved
        ],
        "unchanged": unchanged,
    }
