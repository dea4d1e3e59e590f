"""Verified visits (EVV): recording the caregiver app's check-ins and check-outs exactly
once, verifying each worker's part of a visit, and the dispatchers' decisions on
exceptions.

Exactly once, in any order: an action's id is made on the phone and is the primary key of
``EvvAction``. A replayed id answers what was stored the first time and changes nothing.
A check-out whose check-in has not arrived is kept as ``pending`` and applied when the
check-in comes; a second check-in or check-out of the same worker for the same visit (two
ids, say two taps offline) is stored as ``ignored``. Nothing a phone sent is dropped.
The person's or family's confirmation (a PIN, checked then, or a signature) is settled
when the action is first stored (``app.services.evv_confirmation``).

Visit status (only through ``app.services.visits.transition``): the first check-in moves
the visit ``assigned -> in_progress``; when every assigned worker has checked out it moves
to ``completed``; when every worker's current verification is ``verified`` it moves to
``verified`` and the time-bank listeners run (``app.services.evv_events``).

Records are immutable: a dispatcher's approval or rejection of an exception is a new
``VisitVerification`` that supersedes the evaluation (one successor per record, enforced
by a unique key, so two concurrent decisions cannot both win). After the lock period
(``EvvRules.lock_days``) nothing more is accepted for the visit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import ColumnElement, exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from app.models import (
    Caregiver,
    EvvAction,
    InsuredPerson,
    Role,
    User,
    Visit,
    VisitAssignment,
    VisitStatus,
    VisitVerification,
    Volunteer,
    utcnow,
)
from app.services import evv_confirmation, evv_events
from app.services.crud import PageResult
from app.services.errors import Conflict, Forbidden, NotFound
from app.services.evv_rules import (
    Evidence,
    EvvRules,
    Planned,
    Position,
    evaluate,
    locked,
    rules_from_config,
)
from app.services.visits import transition

S = VisitStatus
CHECK_IN = "check_in"
CHECK_OUT = "check_out"
DECIDERS = frozenset({Role.DISPATCHER, Role.AGENCY_ADMIN})


@dataclass(frozen=True)
class Worker:
    """A caregiver or a volunteer: who gives a visit."""

    kind: str  # "caregiver" | "volunteer"
    id: int

    @property
    def ref(self) -> str:
        return f"{'cg' if self.kind == 'caregiver' else 'vol'}-{self.id}"

    def columns(self) -> dict[str, int | None]:
        return {
            "caregiver_id": self.id if self.kind == "caregiver" else None,
            "volunteer_id": self.id if self.kind == "volunteer" else None,
        }

    def matches(self, model: Any) -> ColumnElement[bool]:
        column = model.caregiver_id if self.kind == "caregiver" else model.volunteer_id
        return column == self.id  # type: ignore[no-any-return]


def worker_of(u: User) -> Worker:
    """The caregiver or volunteer a mobile user acts as."""
    if u.role == Role.CAREGIVER and u.caregiver_id is not None:
        return Worker("caregiver", u.caregiver_id)
    if u.role == Role.VOLUNTEER and u.volunteer_id is not None:
        return Worker("volunteer", u.volunteer_id)
    raise Forbidden(_("Only a caregiver or volunteer login can do this."))


def worker_from_row(row: Any) -> Worker:
    if row.caregiver_id is not None:
        return Worker("caregiver", row.caregiver_id)
    return Worker("volunteer", row.volunteer_id)


def current_rules() -> EvvRules:
    return rules_from_config(current_app.config)


# --- recording actions -------------------------------------------------------------------


@dataclass(frozen=True)
class ActionIn:
    """A check-in or check-out as the phone sends it (already validated for shape)."""

    id: str
    visit_id: int
    kind: str
    occurred_at: dt.datetime
    position: Position | None = None
    items_done: tuple[str, ...] = ()
    confirmation: evv_confirmation.Confirmation | None = None


@dataclass(frozen=True)
class ActionResult:
    action: EvvAction
    duplicate: bool
    verification: VisitVerification | None
    visit: Visit


def assigned_visit(
    session: Session, worker: Worker, visit_id: int, *, for_update: bool = False
) -> Visit:
    """The visit if ``worker`` is assigned to it; else NotFound (nothing is revealed).

    ``for_update`` locks the visit's row until the commit (PostgreSQL; SQLite lets one
    writer in at a time and ignores it) and reloads it as the lock found it.
    """
    stmt = (
        select(Visit)
        .join(VisitAssignment, VisitAssignment.visit_id == Visit.id)
        .where(Visit.id == visit_id, worker.matches(VisitAssignment))
    )
    if for_update:
        stmt = stmt.with_for_update(of=Visit).execution_options(populate_existing=True)
    visit = session.scalar(stmt)
    if visit is None:
        raise NotFound(_("No such visit on your route."), {"visit_id": _("Not on your route.")})
    return visit


def record_action(
    session: Session,
    u: User,
    data: ActionIn,
    *,
    rules: EvvRules | None = None,
    now: dt.datetime | None = None,
) -> ActionResult:
    """Store one phone action exactly once and apply what it allows; commits.

    Raises
    ------
    NotFound
        The visit is not assigned to the user's caregiver or volunteer.
    Conflict
        The id was already used by another user.
    """
    rules = rules or current_rules()
    now = now or utcnow()
    worker = worker_of(u)
    stored = session.get(EvvAction, data.id)
    if stored is not None:
        return _replayed(session, u, stored)
    # One action of a visit at a time: each is decided on what the visit's other actions
    # did, so two check-ins with different ids at the same instant must not both see
    # "not checked in yet", nor a check-in miss a check-out still uncommitted as pending.
    visit = assigned_visit(session, worker, data.visit_id, for_update=True)
    confirmation = (
        evv_confirmation.resolve(
            session, visit.person_id, data.confirmation, now=now, timezone=rules.timezone
        )
        if data.confirmation is not None
        else None
    )
    action = EvvAction(
        id=data.id,
        visit_id=visit.id,
        user_id=u.id,
        kind=data.kind,
        occurred_at=data.occurred_at,
        received_at=now,
        lat=data.position.lat if data.position else None,
        lon=data.position.lon if data.position else None,
        accuracy_m=data.position.accuracy_m if data.position else None,
        items_done=list(data.items_done),
        confirmation=confirmation,
        state="pending",
        **worker.columns(),
    )
    try:
        with session.begin_nested():
            session.add(action)
            session.flush()
    except IntegrityError:
        # The same id raced in from another request: the first one stored wins. Nothing
        # was written here; ending the transaction lets go of the visit's lock.
        session.rollback()
        stored = session.get(EvvAction, data.id)
        if stored is None:
            raise
        return _replayed(session, u, stored)
    before = visit.status
    verification = _apply(session, visit, action, worker, rules, now)
    session.commit()
    if visit.status != before or verification is not None:
        _announce(visit, worker, verification)
    return ActionResult(action, False, verification, visit)


def _replayed(session: Session, u: User, stored: EvvAction) -> ActionResult:
    if stored.user_id != u.id:
        raise Conflict(_("This action id is already used."), {"id": _("Already in use.")})
    visit = session.get(Visit, stored.visit_id)
    assert visit is not None
    verification = session.scalar(
        select(VisitVerification)
        .where(VisitVerification.check_out_action_id == stored.id)
        .order_by(VisitVerification.id.desc())
        .limit(1)
    )
    return ActionResult(stored, True, verification, visit)


def _apply(
    session: Session,
    visit: Visit,
    action: EvvAction,
    worker: Worker,
    rules: EvvRules,
    now: dt.datetime,
) -> VisitVerification | None:
    if locked(visit.date, now, rules):
        _settle(action, "refused", "locked")
        return None
    if action.kind == CHECK_IN:
        return _apply_check_in(session, visit, action, worker, rules)
    return _apply_check_out(session, visit, action, worker, rules)


def _settle(action: EvvAction, state: str, note: str | None = None) -> None:
    action.state = state
    action.note = note


def _applied(session: Session, visit_id: int, worker: Worker, kind: str) -> EvvAction | None:
    return session.scalar(
        select(EvvAction).where(
            EvvAction.visit_id == visit_id,
            EvvAction.kind == kind,
            EvvAction.state == "applied",
            worker.matches(EvvAction),
        )
    )


def _apply_check_in(
    session: Session, visit: Visit, action: EvvAction, worker: Worker, rules: EvvRules
) -> VisitVerification | None:
    if _applied(session, visit.id, worker, CHECK_IN) is not None:
        _settle(action, "ignored", "already checked in")
        return None
    if visit.status == S.ASSIGNED:
        transition(session, visit, S.IN_PROGRESS, at=action.occurred_at)
    elif visit.status != S.IN_PROGRESS:
        _settle(action, "refused", f"visit is {visit.status}")
        return None
    _settle(action, "applied")
    session.flush()
    waiting = session.scalars(
        select(EvvAction)
        .where(
            EvvAction.visit_id == visit.id,
            EvvAction.kind == CHECK_OUT,
            EvvAction.state == "pending",
            worker.matches(EvvAction),
        )
        .order_by(EvvAction.received_at, EvvAction.id)
    ).all()
    verification = None
    for pending in waiting:
        found = _apply_check_out(session, visit, pending, worker, rules)
        verification = verification or found
    return verification


def _apply_check_out(
    session: Session, visit: Visit, action: EvvAction, worker: Worker, rules: EvvRules
) -> VisitVerification | None:
    check_in = _applied(session, visit.id, worker, CHECK_IN)
    if check_in is None:
        _settle(action, "pending", "waiting for the check-in")
        return None
    if _applied(session, visit.id, worker, CHECK_OUT) is not None:
        _settle(action, "ignored", "already checked out")
        return None
    _settle(action, "applied")
    session.flush()
    verification = evaluate_pair(session, visit, check_in, action, worker, rules)
    _advance(session, visit)
    return verification


def _position(action: EvvAction) -> Position | None:
    if action.lat is None or action.lon is None:
        return None
    return Position(action.lat, action.lon, action.accuracy_m)


def planned_items(visit: Visit) -> list[str]:
    """Codes of the service items a visit is for (its checklist)."""
    return [visit.plan_item.service_item.code]


def evaluate_pair(
    session: Session,
    visit: Visit,
    check_in: EvvAction,
    check_out: EvvAction,
    worker: Worker,
    rules: EvvRules,
) -> VisitVerification:
    """Judge one worker's applied check-in and check-out under ``rules`` and add the
    verification record (an applied check-out calls this; so does the month simulator,
    which writes a past month's actions in bulk)."""
    person = visit.person
    items = planned_items(visit)
    finding = evaluate(
        Evidence(
            check_in_at=check_in.occurred_at,
            check_out_at=check_out.occurred_at,
            check_in_position=_position(check_in),
            check_out_position=_position(check_out),
            items_done=check_out.items_done,
            confirmed=evv_confirmation.is_confirmed(check_out.confirmation),
        ),
        Planned(visit.date, visit.windows, visit.duration_min, person.lat, person.lon, items),
        rules,
    )
    record = VisitVerification(
        visit_id=visit.id,
        agency_id=visit.agency_id,
        kind="evaluation",
        outcome=finding.outcome,
        reasons=list(finding.reasons),
        person_id=visit.person_id,
        items_planned=items,
        items_done=list(check_out.items_done),
        check_in_action_id=check_in.id,
        check_out_action_id=check_out.id,
        check_in_at=check_in.occurred_at,
        check_out_at=check_out.occurred_at,
        check_in_distance_m=finding.check_in_distance_m,
        check_out_distance_m=finding.check_out_distance_m,
        duration_s=finding.duration_s,
        confirmation=check_out.confirmation,
        rules=rules.as_dict(),
        **worker.columns(),
    )
    session.add(record)
    session.flush()
    return record


def not_superseded() -> ColumnElement[bool]:
    """A verification record nothing supersedes: the worker's current one."""
    later = aliased(VisitVerification)
    return ~exists().where(later.supersedes_id == VisitVerification.id)


def current_verifications(session: Session, visit_id: int) -> list[VisitVerification]:
    """Each worker's current record for a visit (the ones nothing supersedes)."""
    return list(
        session.scalars(
            select(VisitVerification)
            .where(VisitVerification.visit_id == visit_id, not_superseded())
            .order_by(VisitVerification.id)
        )
    )


def _advance(session: Session, visit: Visit) -> None:
    """Move the visit on as far as its workers' check-outs and verifications allow."""
    assignments = select(VisitAssignment).where(VisitAssignment.visit_id == visit.id)
    workers = {worker_from_row(a) for a in session.scalars(assignments)}
    outs = {
        worker_from_row(a): a
        for a in session.scalars(
            select(EvvAction).where(
                EvvAction.visit_id == visit.id,
                EvvAction.kind == CHECK_OUT,
                EvvAction.state == "applied",
            )
        )
    }
    if visit.status == S.IN_PROGRESS and workers <= outs.keys():
        transition(session, visit, S.COMPLETED, at=max(a.occurred_at for a in outs.values()))
    records = current_verifications(session, visit.id)
    verified = {worker_from_row(r) for r in records if r.outcome == "verified"}
    if visit.status == S.COMPLETED and workers <= verified:
        transition(session, visit, S.VERIFIED)
        for record in records:
            for listener in list(evv_events.VERIFIED_LISTENERS):
                listener(session, visit, record)


# --- dispatcher decisions ----------------------------------------------------------------


def decide(
    session: Session,
    u: User,
    verification_id: int,
    *,
    approve: bool,
    reason: str,
    rules: EvvRules | None = None,
    now: dt.datetime | None = None,
) -> VisitVerification:
    """Approve or reject an exception: a new record superseding it; commits.

    Raises
    ------
    NotFound
        No such record in the user's agency.
    Conflict
        The record was already decided or superseded, or the visit is locked.
    """
    rules = rules or current_rules()
    now = now or utcnow()
    record = session.get(VisitVerification, verification_id)
    if record is None or (u.role not in DECIDERS or record.agency_id != u.agency_id):
        raise NotFound(_("No such verification."))
    visit = session.get(Visit, record.visit_id)
    assert visit is not None
    if record.outcome != "exception" or record not in current_verifications(session, visit.id):
        message = _("This verification was already decided.")
        raise Conflict(message, {"verification_id": message})
    if locked(visit.date, now, rules):
        message = _("This visit is locked: its verification period is over.")
        raise Conflict(message, {"verification_id": message})
    decision = _successor(record, u, approve, reason)
    session.add(decision)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        message = _("This verification was already decided.")
        raise Conflict(message, {"verification_id": message}) from None
    _advance(session, visit)
    session.commit()
    _announce(visit, worker_from_row(decision), decision)
    return decision


_COPIED = (
    "visit_id",
    "agency_id",
    "reasons",
    "caregiver_id",
    "volunteer_id",
    "person_id",
    "items_planned",
    "items_done",
    "check_in_action_id",
    "check_out_action_id",
    "check_in_at",
    "check_out_at",
    "check_in_distance_m",
    "check_out_distance_m",
    "duration_s",
    "confirmation",
    "rules",
)


def _successor(record: VisitVerification, u: User, approve: bool, reason: str) -> VisitVerification:
    fields = {name: getattr(record, name) for name in _COPIED}
    return VisitVerification(
        **fields,
        supersedes_id=record.id,
        kind="approval" if approve else "rejection",
        outcome="verified" if approve else "rejected",
        decided_by_id=u.id,
        decision_reason=reason,
    )


# --- reading -----------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueEntry:
    """An exception waiting for a dispatcher, with what the page shows about it."""

    verification: VisitVerification
    visit: Visit
    person_name: str
    worker_name: str


def exception_queue(
    session: Session,
    u: User,
    agency_id: int | None = None,
    page: int = 1,
    per_page: int = 50,
) -> PageResult[QueueEntry]:
    """Current exceptions of the user's agency (cross-agency readers: one agency or all),
    oldest visit first, one page of them."""
    where = [VisitVerification.outcome == "exception", not_superseded()]
    if u.role in (Role.AUDITOR, Role.SYS_ADMIN):
        if agency_id is not None:
            where.append(VisitVerification.agency_id == agency_id)
    else:
        where.append(VisitVerification.agency_id == u.agency_id)
    total = session.scalar(select(func.count()).select_from(VisitVerification).where(*where))
    stmt = (
        select(VisitVerification, Visit, InsuredPerson.name, Caregiver.name, Volunteer.name)
        .join(Visit, Visit.id == VisitVerification.visit_id)
        .join(InsuredPerson, InsuredPerson.id == VisitVerification.person_id)
        .outerjoin(Caregiver, Caregiver.id == VisitVerification.caregiver_id)
        .outerjoin(Volunteer, Volunteer.id == VisitVerification.volunteer_id)
        .where(*where)
        .order_by(Visit.date, VisitVerification.check_in_at, VisitVerification.id)
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    entries = [
        QueueEntry(record, visit, person, cg or vol or "")
        for record, visit, person, cg, vol in session.execute(stmt)
    ]
    return PageResult(entries, int(total or 0), page, per_page)


def visit_evv(session: Session, u: User, visit_id: int) -> tuple[Visit, list[VisitVerification]]:
    """A visit and every verification record of it (history included), for staff."""
    visit = session.get(Visit, visit_id)
    cross = u.role in (Role.AUDITOR, Role.SYS_ADMIN)
    if visit is None or (not cross and visit.agency_id != u.agency_id):
        raise NotFound(_("No such visit."))
    records = session.scalars(
        select(VisitVerification)
        .where(VisitVerification.visit_id == visit_id)
        .order_by(VisitVerification.id)
    ).all()
    return visit, list(records)


def actions_of(session: Session, visit_id: int, worker: Worker) -> Sequence[EvvAction]:
    return session.scalars(
        select(EvvAction)
        .where(EvvAction.visit_id == visit_id, worker.matches(EvvAction))
        .order_by(EvvAction.occurred_at, EvvAction.id)
    ).all()


# --- announcing --------------------------------------------------------------------------


def _announce(visit: Visit, worker: Worker, record: VisitVerification | None) -> None:
    payload: dict[str, Any] = {
        "visit_id": visit.id,
        "visit_ref": f"v-{visit.id}",
        "status": visit.status,
        "worker_ref": worker.ref,
        "evv": None
        if record is None
        else {
            "verification_id": record.id,
            "outcome": record.outcome,
            "reasons": list(record.reasons),
        },
        "at": utcnow().isoformat(),
    }
    room = f"board:{visit.agency_id}:{visit.date.isoformat()}"
    evv_events.announce(room, payload)
