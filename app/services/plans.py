"""Care plans: drafted by the agency, approved by the insurer, then turned into visits.

A plan is edited only while it is a draft. Approval is the insurer's act (auditor or
operator) and is refused (Conflict) for a plan that has already ended, is not a draft or
suspended, overlaps another approved plan of the person, or whose person is not active or
not eligible when the plan starts (or today, if it has started). Plans are health data:
every plan read is logged.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import Select, select
from sqlalchemy.orm import Session, selectinload

from app.models import (
    Caregiver,
    CarePlan,
    InsuredPerson,
    PersonStatus,
    PlanItem,
    PlanStatus,
    ServiceItem,
    User,
    utcnow,
)
from app.security import log_health_read
from app.services.assessments import is_eligible
from app.services.crud import (
    PageResult,
    filter_agency,
    get_visible,
    invalid,
    local_today,
    paginate,
    visible_to,
)
from app.services.errors import Conflict
from app.services.persons import visible_persons

APPROVABLE = frozenset({PlanStatus.DRAFT.value, PlanStatus.SUSPENDED.value})


def _visible(actor: User) -> Select[Any]:
    stmt = select(CarePlan).options(selectinload(CarePlan.items))
    return visible_to(stmt, CarePlan.agency_id, actor)


def _conflict(field: str, message: str) -> Conflict:
    return Conflict(message, {field: message})


def _log_reads(session: Session, actor: User, plans: Sequence[CarePlan]) -> None:
    """Log each plan as read; every answer carrying a plan (writes too) counts as a read."""
    session.flush()
    for plan in plans:
        log_health_read(session, actor, "care_plan", plan.id, "plan")
    session.commit()


def list_plans(
    session: Session,
    actor: User,
    *,
    status: str | None = None,
    person_id: int | None = None,
    agency_id: int | None = None,
    page: int = 1,
    per_page: int = 50,
) -> PageResult[CarePlan]:
    """Plans ``actor`` may see, newest validity first; each plan returned is logged."""
    stmt = filter_agency(session, _visible(actor), CarePlan.agency_id, actor, agency_id)
    if status:
        stmt = stmt.where(CarePlan.status == status)
    if person_id is not None:
        stmt = stmt.where(CarePlan.person_id == person_id)
    result = paginate(
        session, stmt.order_by(CarePlan.valid_from.desc(), CarePlan.id), page, per_page
    )
    _log_reads(session, actor, result.items)
    return result


def find_plan(session: Session, actor: User, plan_id: int) -> CarePlan:
    """A plan ``actor`` may see, or NotFound; not logged (for changes, not reads)."""
    return get_visible(session, _visible(actor).where(CarePlan.id == plan_id), _("Plan"))  # type: ignore[no-any-return]


def read_plan(session: Session, actor: User, plan_id: int) -> CarePlan:
    plan = find_plan(session, actor, plan_id)
    _log_reads(session, actor, [plan])
    return plan


def _check_dates(valid_from: dt.date, valid_to: dt.date) -> None:
    if valid_to < valid_from:
        raise invalid("valid_to", _("Must not be before valid_from."))
    if valid_to < local_today():
        raise invalid("valid_to", _("The plan would already have ended."))


def _plan_items(
    session: Session, person: InsuredPerson, rows: Sequence[Mapping[str, Any]]
) -> list[PlanItem]:
    """Plan items from parsed rows, each foreign id checked (400 naming ``items[i].field``)."""
    items = []
    for i, row in enumerate(rows):
        service = session.get(ServiceItem, row["service_item_id"])
        if service is None or not service.active:
            raise invalid(f"items[{i}].service_item_id", _("Unknown or inactive service item."))
        caregiver_id = row.get("preferred_caregiver_id")
        if caregiver_id is not None:
            caregiver = session.get(Caregiver, caregiver_id)
            if caregiver is None or caregiver.agency_id != person.agency_id:
                raise invalid(
                    f"items[{i}].preferred_caregiver_id",
                    _("Unknown caregiver in the person's agency."),
                )
        # Leave unset fields out: a JSON column given None stores JSON null, not SQL NULL,
        # and the one_frequency CHECK needs SQL NULL for the frequency not used.
        data = {name: value for name, value in row.items() if value is not None}
        data["windows"] = [list(w) for w in row["windows"]]
        items.append(PlanItem(**data))
    return items


def create_plan(session: Session, actor: User, fields: Mapping[str, Any]) -> CarePlan:
    """Draft a plan with its items for a person ``actor`` may manage."""
    data = dict(fields)
    person = session.scalar(visible_persons(actor).where(InsuredPerson.id == data["person_id"]))
    if person is None:
        raise invalid("person_id", _("Unknown person."))
    _check_dates(data["valid_from"], data["valid_to"])
    items = _plan_items(session, person, data.pop("items"))
    plan = CarePlan(agency_id=person.agency_id, status=PlanStatus.DRAFT, items=items, **data)
    session.add(plan)
    _log_reads(session, actor, [plan])
    return plan


def update_plan(session: Session, actor: User, plan_id: int, fields: Mapping[str, Any]) -> CarePlan:
    """Change a draft plan; ``items``, when given, replace all of its items."""
    plan = find_plan(session, actor, plan_id)
    if plan.status != PlanStatus.DRAFT:
        raise _conflict("status", _("Only a draft plan can be changed."))
    data = dict(fields)
    if "valid_from" in data or "valid_to" in data:
        _check_dates(data.get("valid_from", plan.valid_from), data.get("valid_to", plan.valid_to))
    if "items" in data:
        plan.items = _plan_items(session, plan.person, data.pop("items"))
    for name, value in data.items():
        setattr(plan, name, value)
    _log_reads(session, actor, [plan])
    return plan


def approve_plan(session: Session, actor: User, plan_id: int) -> CarePlan:
    """The insurer approves a plan (see the module docstring for when it refuses)."""
    plan = find_plan(session, actor, plan_id)
    today = local_today()
    if plan.status not in APPROVABLE:
        raise _conflict("status", _("Only a draft or suspended plan can be approved."))
    if plan.valid_to < today:
        raise _conflict("valid_to", _("The plan has expired."))
    person = plan.person
    if person.status != PersonStatus.ACTIVE:
        raise _conflict("person_id", _("The person is not active."))
    starts = max(today, plan.valid_from)
    if not is_eligible(session, person, starts):
        raise _conflict("person_id", _("The person is not eligible for LTCI care."))
    overlapping = session.scalar(
        select(CarePlan.id).where(
            CarePlan.person_id == plan.person_id,
            CarePlan.id != plan.id,
            CarePlan.status == PlanStatus.APPROVED,
            CarePlan.valid_from <= plan.valid_to,
            CarePlan.valid_to >= plan.valid_from,
        )
    )
    if overlapping is not None:
        raise _conflict("valid_from", _("Another approved plan of this person overlaps."))
    plan.status = PlanStatus.APPROVED
    plan.approved_by_id = actor.id
    plan.approved_at = utcnow()
    _log_reads(session, actor, [plan])
    return plan
