"""Visits: the status machine, and making a day's visits from approved care plans.

``transition`` is the only code that writes ``Visit.status``::

    planned -> assigned -> in_progress -> completed -> verified
    planned | assigned -> cancelled
    assigned -> missed
    assigned -> planned            (unassigned again)

``generate_visits`` turns the approved plans valid on a date into that date's visits, for
active persons who are eligible on it. It is idempotent and reconciles: run again after a
plan changed, it updates the visits that have not started, leaves started ones alone, and
cancels (never deletes) those whose plan item no longer applies.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app.models import (
    Assessment,
    CarePlan,
    InsuredPerson,
    PersonStatus,
    PlanItem,
    PlanStatus,
    Visit,
    VisitStatus,
    utcnow,
)
from app.policy import Policy, load_policy
from app.services.assessments import eligible_on
from app.services.errors import Conflict, ValidationFailed

S = VisitStatus

# Allowed moves, and the timestamp column each move stamps.
TRANSITIONS: Mapping[tuple[str, str], str | None] = {
    (S.PLANNED, S.ASSIGNED): "assigned_at",
    (S.ASSIGNED, S.IN_PROGRESS): "started_at",
    (S.IN_PROGRESS, S.COMPLETED): "completed_at",
    (S.COMPLETED, S.VERIFIED): "verified_at",
    (S.PLANNED, S.CANCELLED): "cancelled_at",
    (S.ASSIGNED, S.CANCELLED): "cancelled_at",
    (S.ASSIGNED, S.MISSED): "missed_at",
    (S.ASSIGNED, S.PLANNED): None,
}

NOT_STARTED = frozenset({S.PLANNED.value, S.ASSIGNED.value})
# Visits in these states are no longer wanted; the generator never revives them.
CLOSED = frozenset({S.CANCELLED.value, S.MISSED.value})
PLAN_CHANGED = "plan changed"
# The generator owns sequence numbers below this; visits added by hand use higher ones and
# are never touched by a generation run.
GENERATED_SEQ_LIMIT = 100

# ISO weekdays (1 = Monday) of an item given as "N times a week" without weekdays: spread
# over the working week first, so weekend staffing stays light, and evenly spaced.
WEEKDAY_PATTERNS: Mapping[int, tuple[int, ...]] = {
    1: (3,),
    2: (2, 5),
    3: (1, 3, 5),
    4: (1, 2, 4, 5),
    5: (1, 2, 3, 4, 5),
    6: (1, 2, 3, 4, 5, 6),
    7: (1, 2, 3, 4, 5, 6, 7),
}


def transition(
    session: Session,
    visit: Visit,
    to: str,
    *,
    at: dt.datetime | None = None,
    reason: str | None = None,
) -> Visit:
    """Move ``visit`` to status ``to``, stamping when; flushes, the caller commits.

    ``reason`` is kept for cancellations (``cancel_reason``) and refused for other moves.

    Raises
    ------
    Conflict
        If the move is not allowed from the visit's current status.
    ValidationFailed
        If ``at`` is naive or ``reason`` is given for a move other than a cancellation.
    """
    to = str(to)
    key = (visit.status, to)
    if key not in TRANSITIONS:
        message = _("A visit cannot go from %(current)s to %(to)s.", current=visit.status, to=to)
        raise Conflict(message, {"status": message})
    if at is not None and at.tzinfo is None:
        raise ValidationFailed(
            _("Some fields are not valid."), {"at": _("Give a time with a time zone.")}
        )
    if reason is not None and to != S.CANCELLED:
        raise ValidationFailed(
            _("Some fields are not valid."), {"reason": _("Only a cancellation takes a reason.")}
        )
    when = at or utcnow()
    stamp = TRANSITIONS[key]
    if stamp is not None:
        setattr(visit, stamp, when)
    if key == (S.ASSIGNED, S.PLANNED):
        visit.assigned_at = None
    if to == S.CANCELLED:
        visit.cancel_reason = (reason or "")[:200] or None
    visit.status = to
    visit.status_changed_at = when
    session.flush()
    return visit


@dataclass(frozen=True)
class GenerateResult:
    """What a generation run did to the visits of its date."""

    created: int
    updated: int
    removed: int
    unchanged: int


def item_days(item: PlanItem) -> tuple[int, ...]:
    """ISO weekdays on which a plan item is due."""
    if item.weekdays:
        return tuple(sorted(set(item.weekdays)))
    return WEEKDAY_PATTERNS.get(item.times_per_week or 0, ())


def desired_fields(item: PlanItem, plan: CarePlan, person: InsuredPerson) -> dict[str, Any]:
    """The visit a plan item asks for on one of its days (date and status aside)."""
    service = item.service_item
    return {
        "person_id": person.id,
        "agency_id": plan.agency_id,
        "windows": [list(w) for w in item.windows],
        "duration_min": item.duration_min or service.standard_min,
        "skills": [service.required_skill],
        "staff_count": 2 if item.two_staff else 1,
        "priority": item.priority,
        "gender_required": person.gender if item.same_gender else None,
        "preferred_caregiver_id": item.preferred_caregiver_id,
        "volunteer_ok": bool(service.volunteer_ok),
    }


def _due_items(
    session: Session, day: dt.date, agency_id: int | None, policy: Policy
) -> dict[int, dict[str, Any]]:
    """Plan item id -> wanted visit fields, for every item due on ``day``."""
    stmt = (
        select(CarePlan)
        .join(InsuredPerson, InsuredPerson.id == CarePlan.person_id)
        .where(
            CarePlan.status == PlanStatus.APPROVED,
            CarePlan.valid_from <= day,
            CarePlan.valid_to >= day,
            InsuredPerson.status == PersonStatus.ACTIVE,
        )
        .options(
            selectinload(CarePlan.person),
            selectinload(CarePlan.items).selectinload(PlanItem.service_item),
        )
        .order_by(CarePlan.id)
    )
    if agency_id is not None:
        stmt = stmt.where(CarePlan.agency_id == agency_id)
    plans = session.scalars(stmt).all()
    eligible = _eligible_ids(session, [p.person for p in plans], day, policy)
    weekday = day.isoweekday()
    due: dict[int, dict[str, Any]] = {}
    for plan in plans:
        if plan.person_id not in eligible:
            continue
        for item in plan.items:
            if item.service_item.active and weekday in item_days(item):
                due[item.id] = desired_fields(item, plan, plan.person)
    return due


def _eligible_ids(
    session: Session, persons: Iterable[InsuredPerson], day: dt.date, policy: Policy
) -> set[int]:
    # One query for every person's assessments, instead of one per person.
    by_id = {p.id: p for p in persons}
    found: dict[int, list[Assessment]] = defaultdict(list)
    if by_id:
        rows = session.scalars(
            select(Assessment).where(Assessment.person_id.in_(by_id), Assessment.assessed_at <= day)
        )
        for a in rows:
            found[a.person_id].append(a)
    return {
        pid
        for pid, person in by_id.items()
        if eligible_on(policy, person.disability_since, found[pid], day)
    }


def generate_visits(
    session: Session,
    day: dt.date,
    agency_id: int | None = None,
    *,
    policy: Policy | None = None,
) -> GenerateResult:
    """Make ``day``'s visits from approved plans (one agency's, or all); commits once.

    A visit is wanted for each item of an approved plan valid on ``day`` that is due on
    that weekday (its ``weekdays``, else ``WEEKDAY_PATTERNS[times_per_week]``), when the
    person is active and eligible on ``day``. Against the visits already there:

    - missing -> created (status planned); a day a dispatcher cancelled stays cancelled;
    - present and planned or assigned -> updated when the plan now asks for something
      else, otherwise unchanged;
    - present and started, done or missed -> left alone (unchanged);
    - planned or assigned but no longer wanted -> cancelled with reason 'plan changed'
      (counted as removed).

    Visits added by hand (``seq >= GENERATED_SEQ_LIMIT``) are never looked at.
    """
    policy = policy or load_policy()
    due = _due_items(session, day, agency_id, policy)
    stmt = (
        select(Visit)
        .where(Visit.date == day, Visit.seq < GENERATED_SEQ_LIMIT)
        .order_by(Visit.plan_item_id, Visit.seq)
    )
    if agency_id is not None:
        stmt = stmt.where(Visit.agency_id == agency_id)
    existing: dict[int, list[Visit]] = defaultdict(list)
    for visit in session.scalars(stmt):
        existing[visit.plan_item_id].append(visit)

    created = updated = removed = unchanged = 0
    now = utcnow()
    for item_id, fields in due.items():
        visits = existing.get(item_id, [])
        live = [v for v in visits if v.status not in CLOSED]
        if live:
            for visit in live:
                if visit.status in NOT_STARTED and _apply(visit, fields):
                    updated += 1
                else:
                    unchanged += 1
        elif visits and any(v.cancel_reason != PLAN_CHANGED for v in visits):
            # Cancelled or missed by people, not by a plan change: do not bring it back.
            unchanged += 1
        else:
            seq = max((v.seq for v in visits), default=-1) + 1
            session.add(Visit(plan_item_id=item_id, date=day, seq=seq, status=S.PLANNED, **fields))
            created += 1
    for item_id, visits in existing.items():
        if item_id in due:
            continue
        for visit in visits:
            if visit.status in NOT_STARTED:
                transition(session, visit, S.CANCELLED, at=now, reason=PLAN_CHANGED)
                removed += 1
    session.flush()
    session.commit()
    return GenerateResult(created=created, updated=updated, removed=removed, unchanged=unchanged)


def _apply(visit: Visit, fields: Mapping[str, Any]) -> bool:
    """Copy ``fields`` onto ``visit``; whether anything changed."""
    changed = False
    for name, value in fields.items():
        if getattr(visit, name) != value:
            setattr(visit, name, value)
            changed = True
    return changed
