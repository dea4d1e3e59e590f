"""A caregiver's (or volunteer's) route of the day, as the mobile app shows it.

The stops are the visits assigned to the worker on the date (``VisitAssignment``), in the
order and at the start times of the latest published plan version of the agency's day
(``Publication`` -> ``PlanVersion.plan``, stops ``{"visit_id": "v-<id>", "start":
"HH:MM:SS"}``); visits that version does not place, or every visit when nothing is
published, follow in window order. Care notes and items are health data: reading a route
writes one access-log row per person on it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app.models import (
    Caregiver,
    InsuredPerson,
    PlanItem,
    PlanVersion,
    Publication,
    RouteNotice,
    User,
    Visit,
    VisitAssignment,
    VisitStatus,
    Volunteer,
)
from app.security import log_health_read
from app.services.evv import (
    CHECK_IN,
    CHECK_OUT,
    Worker,
    actions_of,
    current_verifications,
    worker_of,
)

HIDDEN = frozenset({VisitStatus.CANCELLED.value})


@dataclass(frozen=True)
class Stop:
    """One visit on the route, with what the worker needs at the door."""

    visit: Visit
    person: InsuredPerson
    planned_start: str | None  # "HH:MM" from the published plan
    items: tuple[dict[str, str], ...]
    partners: tuple[str, ...]
    checked_in_at: dt.datetime | None
    checked_out_at: dt.datetime | None
    outcome: str | None
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class Route:
    day: dt.date
    worker: Worker
    worker_name: str
    publication_id: int | None
    stops: tuple[Stop, ...]
    notices: tuple[RouteNotice, ...]


def _published_starts(
    session: Session, agency_id: int, day: dt.date, ref: str
) -> tuple[int | None, dict[str, str]]:
    row = session.execute(
        select(Publication.id, PlanVersion.plan)
        .join(PlanVersion, PlanVersion.id == Publication.plan_version_id)
        .where(Publication.agency_id == agency_id, Publication.date == day)
        .order_by(Publication.published_at.desc(), Publication.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return None, {}
    publication_id, plan = row
    starts: dict[str, str] = {}
    for route in (plan or {}).get("routes", []):
        if route.get("caregiver_id") == ref:
            for stop in route.get("stops", []):
                starts[str(stop.get("visit_id"))] = str(stop.get("start", ""))[:5]
    return publication_id, starts


def _names(session: Session, visit_ids: list[int], me: Worker) -> dict[int, list[str]]:
    partners: dict[int, list[str]] = {vid: [] for vid in visit_ids}
    rows = session.execute(
        select(VisitAssignment, Caregiver.name, Volunteer.name)
        .outerjoin(Caregiver, Caregiver.id == VisitAssignment.caregiver_id)
        .outerjoin(Volunteer, Volunteer.id == VisitAssignment.volunteer_id)
        .where(VisitAssignment.visit_id.in_(visit_ids))
        .order_by(VisitAssignment.id)
    )
    for assignment, cg_name, vol_name in rows:
        if not (
            assignment.caregiver_id == me.columns()["caregiver_id"]
            and assignment.volunteer_id == me.columns()["volunteer_id"]
        ):
            partners[assignment.visit_id].append(cg_name or vol_name or "")
    return partners


def _worker_name(session: Session, worker: Worker) -> str:
    row: Caregiver | Volunteer | None = (
        session.get(Caregiver, worker.id)
        if worker.kind == "caregiver"
        else session.get(Volunteer, worker.id)
    )
    return row.name if row is not None else ""


def route_for(session: Session, u: User, day: dt.date) -> Route:
    """The user's route on ``day``; logs one health-data read per person; commits."""
    worker = worker_of(u)
    visits = list(
        session.scalars(
            select(Visit)
            .join(VisitAssignment, VisitAssignment.visit_id == Visit.id)
            .where(Visit.date == day, worker.matches(VisitAssignment), Visit.status.not_in(HIDDEN))
            .options(
                selectinload(Visit.person),
                selectinload(Visit.plan_item).selectinload(PlanItem.service_item),
            )
        )
    )
    publication_id, starts = (
        _published_starts(session, visits[0].agency_id, day, worker.ref) if visits else (None, {})
    )
    visits.sort(key=lambda v: (starts.get(f"v-{v.id}") or "99", v.windows[0][0], v.id))
    partners = _names(session, [v.id for v in visits], worker)
    stops = tuple(
        _stop(session, v, worker, starts.get(f"v-{v.id}"), partners[v.id]) for v in visits
    )
    for person_id in sorted({v.person_id for v in visits}):
        log_health_read(session, u, "person", person_id, "care_notes,items")
    notices = tuple(
        session.scalars(
            select(RouteNotice)
            .join(Publication, Publication.id == RouteNotice.publication_id)
            .where(Publication.date == day, worker.matches(RouteNotice))
            .order_by(RouteNotice.id)
        )
    )
    session.commit()
    return Route(day, worker, _worker_name(session, worker), publication_id, stops, notices)


def _stop(
    session: Session, visit: Visit, worker: Worker, start: str | None, partners: list[str]
) -> Stop:
    service = visit.plan_item.service_item
    actions = actions_of(session, visit.id, worker)
    applied = {a.kind: a.occurred_at for a in actions if a.state == "applied"}
    mine = [r for r in current_verifications(session, visit.id) if _is(r, worker)]
    record = mine[-1] if mine else None
    return Stop(
        visit=visit,
        person=visit.person,
        planned_start=start,
        items=({"code": service.code, "name_zh": service.name_zh, "name_en": service.name_en},),
        partners=tuple(partners),
        checked_in_at=applied.get(CHECK_IN),
        checked_out_at=applied.get(CHECK_OUT),
        outcome=record.outcome if record else None,
        reasons=tuple(record.reasons) if record else (),
    )


def _is(row: Any, worker: Worker) -> bool:
    return bool(
        row.caregiver_id == worker.columns()["caregiver_id"]
        and row.volunteer_id == worker.columns()["volunteer_id"]
    )
