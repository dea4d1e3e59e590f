"""Publishing a plan version: the visits' assignments follow it, and every caregiver (or
volunteer) whose route changed gets a notice to acknowledge.

A route changed when its set of (visit, start) differs from the one last published for the
day (every route with a visit changes at the first publication). The notice's
``first_affected_at`` is the earliest start among the visits added, removed or moved in
time; a notice still unacknowledged 30 minutes before it is flagged on the board.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import (
    PlanVersion,
    Publication,
    RouteNotice,
    Visit,
    VisitAssignment,
    VisitStatus,
    utcnow,
)
from app.services import dispatch_events as events
from app.services import dispatch_versions as versions
from app.services.crud import LOCAL_TZ
from app.services.dayproblem import parse_ref
from app.services.errors import Conflict
from app.services.visits import NOT_STARTED, transition
from scheduling import DayPlan
from scheduling.io import format_time


@dataclass(frozen=True)
class Published:
    publication: Publication
    notified: tuple[str, ...]


def local_instant(day: dt.date, seconds: int) -> dt.datetime:
    """The UTC instant of ``seconds`` after local midnight of ``day``."""
    midnight = dt.datetime.combine(day, dt.time(0), tzinfo=LOCAL_TZ)
    return (midnight + dt.timedelta(seconds=seconds)).astimezone(dt.UTC)


def _stops_by_worker(plan: DayPlan | None) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = defaultdict(dict)
    if plan is not None:
        for r in plan.routes:
            for s in r.stops:
                out[r.caregiver_id][s.visit_id] = s.start_s
    return out


def _changes(before: dict[str, int], after: dict[str, int]) -> dict[str, Any] | None:
    added = sorted(v for v in after if v not in before)
    removed = sorted(v for v in before if v not in after)
    retimed = sorted(v for v in after if v in before and before[v] != after[v])
    if not (added or removed or retimed):
        return None
    starts = [after[v] for v in added + retimed] + [before[v] for v in removed]
    return {
        "added": added,
        "removed": removed,
        "retimed": retimed,
        "stops": len(after),
        "first_affected_s": min(starts),
        "first_affected": format_time(min(starts)),
    }


def _last_published(session: Session, agency_id: int, day: dt.date) -> PlanVersion | None:
    pub = session.scalar(
        select(Publication)
        .where(Publication.agency_id == agency_id, Publication.date == day)
        .order_by(Publication.published_at.desc(), Publication.id.desc())
        .limit(1)
    )
    return pub.plan_version if pub is not None else None


def _sync_assignments(session: Session, version: PlanVersion, plan: DayPlan) -> None:
    """Make VisitAssignment rows and statuses of the day's open visits follow ``plan``."""
    wanted: dict[int, set[tuple[str, int]]] = defaultdict(set)
    for r in plan.routes:
        kind, worker_id = parse_ref(r.caregiver_id)
        for s in r.stops:
            wanted[parse_ref(s.visit_id)[1]].add((kind, worker_id))
    visits = session.scalars(
        select(Visit).where(
            Visit.agency_id == version.agency_id,
            Visit.date == version.date,
            Visit.status.in_(NOT_STARTED),
        )
    ).all()
    now = utcnow()
    for visit in visits:
        rows = session.scalars(
            select(VisitAssignment).where(VisitAssignment.visit_id == visit.id)
        ).all()
        have = {
            ("cg", a.caregiver_id) if a.caregiver_id is not None else ("vol", a.volunteer_id): a
            for a in rows
        }
        want = wanted.get(visit.id, set())
        for key, row in have.items():
            if key not in want:
                session.delete(row)
        for kind, worker_id in want - have.keys():
            session.add(
                VisitAssignment(
                    visit_id=visit.id,
                    caregiver_id=worker_id if kind == "cg" else None,
                    volunteer_id=worker_id if kind == "vol" else None,
                    assigned_at=now,
                )
            )
        if want and visit.status == VisitStatus.PLANNED:
            transition(session, visit, VisitStatus.ASSIGNED, at=now)
        elif not want and visit.status == VisitStatus.ASSIGNED:
            transition(session, visit, VisitStatus.PLANNED, at=now)
    session.flush()


def publish(session: Session, version: PlanVersion, published_by_id: int | None) -> Published:
    """Publish ``version`` (it must be valid); commit, then announce to board and workers."""
    if not version.valid:
        message = _("This version breaks planning rules; fix them before publishing.")
        raise Conflict(message, {"plan_version_id": message})
    plan = versions.plan_of(version)
    previous = _last_published(session, version.agency_id, version.date)
    before = _stops_by_worker(versions.plan_of(previous) if previous is not None else None)
    after = _stops_by_worker(plan)
    _sync_assignments(session, version, plan)
    publication = Publication(
        plan_version_id=version.id,
        agency_id=version.agency_id,
        date=version.date,
        published_by_id=published_by_id,
    )
    session.add(publication)
    session.flush()
    notices: list[tuple[str, RouteNotice]] = []
    for ref in sorted(before.keys() | after.keys()):
        change = _changes(before.get(ref, {}), after.get(ref, {}))
        if change is None:
            continue
        kind, worker_id = parse_ref(ref)
        notice = RouteNotice(
            publication_id=publication.id,
            caregiver_id=worker_id if kind == "cg" else None,
            volunteer_id=worker_id if kind == "vol" else None,
            first_affected_at=local_instant(version.date, change["first_affected_s"]),
            summary=change,
        )
        session.add(notice)
        notices.append((ref, notice))
    session.flush()
    session.commit()
    _announce(version, publication, notices)
    return Published(publication, tuple(ref for ref, _n in notices))


def _announce(
    version: PlanVersion, publication: Publication, notices: list[tuple[str, RouteNotice]]
) -> None:
    events.announce(
        events.plan_published,
        events.board_room(version.agency_id, version.date),
        {"plan_version_id": version.id, "publication_id": publication.id},
    )
    for ref, notice in notices:
        kind, worker_id = parse_ref(ref)
        room = events.worker_room("caregiver" if kind == "cg" else "volunteer", worker_id)
        first = notice.first_affected_at
        events.announce(
            events.route_changed,
            room,
            {
                "notice_id": notice.id,
                "date": version.date.isoformat(),
                "publication_id": publication.id,
                "first_affected_at": first.isoformat() if first else None,
            },
        )


def acknowledge(session: Session, notice: RouteNotice, ref: str) -> RouteNotice:
    """Record that the worker saw the change (the first time only); commit, announce."""
    if notice.acknowledged_at is None:
        notice.acknowledged_at = utcnow()
        session.commit()
        pub = notice.publication
        events.announce(
            events.notice_acknowledged,
            events.board_room(pub.agency_id, pub.date),
            {
                "notice_id": notice.id,
                "caregiver_ref": ref,
                "acknowledged_at": notice.acknowledged_at.isoformat(),
            },
        )
    return notice
