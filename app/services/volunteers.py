"""Time-bank volunteers of an agency: who they are, where they live, when they are free."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from app.models import User, Volunteer
from app.services.crud import (
    PageResult,
    apply,
    ensure_unique,
    filter_agency,
    get_visible,
    own_agency_id,
    paginate,
    visible_to,
)


def _visible(actor: User) -> Select[Any]:
    return visible_to(select(Volunteer), Volunteer.agency_id, actor)


def _stored(fields: Mapping[str, Any]) -> dict[str, Any]:
    data = dict(fields)
    if "availability" in data:
        # JSON column: lists, the shape the day-problem exporter reads.
        data["availability"] = {
            day: [list(w) for w in windows] for day, windows in data["availability"].items()
        }
    return data


def list_volunteers(
    session: Session,
    actor: User,
    *,
    active: bool | None = None,
    q: str | None = None,
    agency_id: int | None = None,
    page: int = 1,
    per_page: int = 50,
) -> PageResult[Volunteer]:
    stmt = filter_agency(session, _visible(actor), Volunteer.agency_id, actor, agency_id)
    if active is not None:
        stmt = stmt.where(Volunteer.active == active)
    if q:
        pattern = f"%{q}%"
        stmt = stmt.where(or_(Volunteer.name.ilike(pattern), Volunteer.member_no.ilike(pattern)))
    return paginate(session, stmt.order_by(Volunteer.id), page, per_page)


def get_volunteer(session: Session, actor: User, volunteer_id: int) -> Volunteer:
    stmt = _visible(actor).where(Volunteer.id == volunteer_id)
    return get_visible(session, stmt, _("Volunteer"))  # type: ignore[no-any-return]


def create_volunteer(session: Session, actor: User, fields: Mapping[str, Any]) -> Volunteer:
    """Enrol a volunteer in ``actor``'s agency."""
    agency_id = own_agency_id(actor)
    ensure_unique(session, Volunteer.member_no, fields["member_no"], "member_no")
    volunteer = Volunteer(agency_id=agency_id, **_stored(fields))
    session.add(volunteer)
    session.commit()
    return volunteer


def update_volunteer(
    session: Session, actor: User, volunteer_id: int, fields: Mapping[str, Any]
) -> Volunteer:
    volunteer = get_volunteer(session, actor, volunteer_id)
    if "member_no" in fields:
        ensure_unique(
            session, Volunteer.member_no, fields["member_no"], "member_no", exclude_id=volunteer.id
        )
    apply(volunteer, _stored(fields))
    session.commit()
    return volunteer
