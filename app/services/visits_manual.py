"""A dispatcher's hand on single visits: add an extra (urgent) visit, adjust one, cancel one.

Status changes go through ``app.services.visits.transition``, the one writer of a
visit's status. A manual visit belongs to a plan item of an approved plan valid on its
date, for an active person who is eligible on that date.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import (
    CarePlan,
    PersonStatus,
    PlanItem,
    PlanStatus,
    User,
    Visit,
    VisitStatus,
)
from app.services.assessments import is_eligible
from app.services.crud import invalid, local_today, visible_to
from app.services.errors import Conflict
from app.services.visits import GENERATED_SEQ_LIMIT, NOT_STARTED, desired_fields, transition
from app.services.visits_query import get_visit


def _conflict(field: str, message: str) -> Conflict:
    return Conflict(message, {field: message})


def _plan_item(session: Session, actor: User, plan_item_id: int) -> PlanItem:
    stmt = visible_to(
        select(PlanItem).join(CarePlan, CarePlan.id == PlanItem.plan_id),
        CarePlan.agency_id,
        actor,
    ).where(PlanItem.id == plan_item_id)
    item: PlanItem | None = session.scalar(stmt)
    if item is None:
        raise invalid("plan_item_id", _("Unknown plan item."))
    return item


def create_visit(session: Session, actor: User, fields: Mapping[str, Any]) -> Visit:
    """Add a visit of a plan item on a date, beside any generated one."""
    item = _plan_item(session, actor, fields["plan_item_id"])
    plan, person, day = item.plan, item.plan.person, fields["date"]
    if day < local_today():
        raise invalid("date", _("Must be today or later."))
    if plan.status != PlanStatus.APPROVED:
        raise _conflict("plan_item_id", _("The plan is not approved."))
    if not plan.valid_from <= day <= plan.valid_to:
        raise invalid("date", _("Outside the plan's validity."))
    if person.status != PersonStatus.ACTIVE or not is_eligible(session, person, day):
        raise _conflict("plan_item_id", _("The person is not eligible on this date."))
    wanted = desired_fields(item, plan, person)
    for name in ("windows", "duration_min", "priority"):
        if fields.get(name) is not None:
            wanted[name] = fields[name]
    wanted["windows"] = [list(w) for w in wanted["windows"]]
    last = session.scalar(
        select(func.max(Visit.seq)).where(Visit.plan_item_id == item.id, Visit.date == day)
    )
    seq = max(GENERATED_SEQ_LIMIT, (last or 0) + 1)
    visit = Visit(plan_item_id=item.id, date=day, seq=seq, status=VisitStatus.PLANNED, **wanted)
    session.add(visit)
    session.commit()
    return visit


def update_visit(session: Session, actor: User, visit_id: int, fields: Mapping[str, Any]) -> Visit:
    """Change windows, duration or priority of a visit that has not started."""
    visit = get_visit(session, actor, visit_id)
    if visit.status not in NOT_STARTED:
        raise _conflict("status", _("Only a planned or assigned visit can be changed."))
    for name, value in fields.items():
        setattr(visit, name, [list(w) for w in value] if name == "windows" else value)
    session.commit()
    return visit


def cancel_visit(session: Session, actor: User, visit_id: int, reason: str) -> Visit:
    visit = get_visit(session, actor, visit_id)
    transition(session, visit, VisitStatus.CANCELLED, reason=reason)
    session.commit()
    return visit
