"""Reading visits: a dispatcher sees the agency's, a caregiver or volunteer their own."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from app.models import Role, User, Visit, VisitAssignment
from app.services.crud import PageResult, filter_agency, get_visible, invalid, paginate, visible_to


def visible_visits(actor: User) -> Select[Any]:
    """Visits ``actor`` may read."""
    stmt = visible_to(select(Visit), Visit.agency_id, actor)
    if actor.role == Role.CAREGIVER:
        mine = select(VisitAssignment.visit_id).where(
            VisitAssignment.caregiver_id == actor.caregiver_id
        )
        stmt = stmt.where(Visit.id.in_(mine))
    elif actor.role == Role.VOLUNTEER:
        mine = select(VisitAssignment.visit_id).where(
            VisitAssignment.volunteer_id == actor.volunteer_id
        )
        stmt = stmt.where(Visit.id.in_(mine))
    return stmt


def list_visits(
    session: Session,
    actor: User,
    *,
    date: dt.date | None = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    status: str | None = None,
    person_id: int | None = None,
    caregiver_id: int | None = None,
    agency_id: int | None = None,
    page: int = 1,
    per_page: int = 50,
) -> PageResult[Visit]:
    if date_from and date_to and date_to < date_from:
        raise invalid("date_to", _("Must not be before date_from."))
    stmt = filter_agency(session, visible_visits(actor), Visit.agency_id, actor, agency_id)
    if date:
        stmt = stmt.where(Visit.date == date)
    if date_from:
        stmt = stmt.where(Visit.date >= date_from)
    if date_to:
        stmt = stmt.where(Visit.date <= date_to)
    if status:
        stmt = stmt.where(Visit.status == status)
    if person_id is not None:
        stmt = stmt.where(Visit.person_id == person_id)
    if caregiver_id is not None:
        served = select(VisitAssignment.visit_id).where(
            VisitAssignment.caregiver_id == caregiver_id
        )
        stmt = stmt.where(Visit.id.in_(served))
    stmt = stmt.order_by(Visit.date, Visit.priority, Visit.id)
    return paginate(session, stmt, page, per_page)


def get_visit(session: Session, actor: User, visit_id: int) -> Visit:
    stmt = visible_visits(actor).where(Visit.id == visit_id)
    return get_visible(session, stmt, _("Visit"))  # type: ignore[no-any-return]


def assignees(session: Session, visits: Sequence[Visit]) -> dict[int, tuple[list[int], list[int]]]:
    """Visit id -> (caregiver ids, volunteer ids) currently assigned, in one query."""
    found: dict[int, tuple[list[int], list[int]]] = defaultdict(lambda: ([], []))
    ids = [v.id for v in visits]
    if ids:
        rows = session.execute(
            select(
                VisitAssignment.visit_id,
                VisitAssignment.caregiver_id,
                VisitAssignment.volunteer_id,
            )
            .where(VisitAssignment.visit_id.in_(ids))
            .order_by(VisitAssignment.id)
        )
        for visit_id, caregiver_id, volunteer_id in rows:
            if caregiver_id is not None:
                found[visit_id][0].append(caregiver_id)
            if volunteer_id is not None:
                found[visit_id][1].append(volunteer_id)
    return {v.id: found[v.id] for v in visits}
