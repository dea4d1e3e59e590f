"""Caregivers of an agency, with their qualifications, home place and shift."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session, selectinload

from app.models import Caregiver, Qualification, User
from app.services.crud import (
    PageResult,
    apply,
    ensure_unique,
    filter_agency,
    get_visible,
    invalid,
    local_today,
    own_agency_id,
    paginate,
    visible_to,
)


def _visible(actor: User) -> Select[Any]:
    stmt = select(Caregiver).options(selectinload(Caregiver.qualifications))
    return visible_to(stmt, Caregiver.agency_id, actor)


def list_caregivers(
    session: Session,
    actor: User,
    *,
    skill: str | None = None,
    active: bool | None = None,
    q: str | None = None,
    agency_id: int | None = None,
    page: int = 1,
    per_page: int = 50,
) -> PageResult[Caregiver]:
    stmt = filter_agency(session, _visible(actor), Caregiver.agency_id, actor, agency_id)
    if skill:
        today = local_today()
        stmt = stmt.where(
            Caregiver.qualifications.any(
                (Qualification.skill == skill)
                & or_(Qualification.expires_on.is_(None), Qualification.expires_on >= today)
            )
        )
    if active is not None:
        stmt = stmt.where(Caregiver.active == active)
    if q:
        pattern = f"%{q}%"
        stmt = stmt.where(or_(Caregiver.name.ilike(pattern), Caregiver.staff_no.ilike(pattern)))
    return paginate(session, stmt.order_by(Caregiver.id), page, per_page)


def get_caregiver(session: Session, actor: User, caregiver_id: int) -> Caregiver:
    stmt = _visible(actor).where(Caregiver.id == caregiver_id)
    return get_visible(session, stmt, _("Caregiver"))  # type: ignore[no-any-return]


def _merged(fields: Mapping[str, Any], current: Caregiver | None, name: str) -> Any:
    if name in fields:
        return fields[name]
    return getattr(current, name) if current is not None else None


def _check_shift(fields: Mapping[str, Any], current: Caregiver | None) -> None:
    """Rules across fields, on the caregiver as it will be after the change."""

    def value(name: str, default: Any = None) -> Any:
        found = _merged(fields, current, name)
        return default if found is None else found

    start, end = value("shift_start", dt.time(8, 0)), value("shift_end", dt.time(17, 0))
    if end <= start:
        raise invalid("shift_end", _("The shift must end after it starts."))
    b_start, b_end = value("break_window_start"), value("break_window_end")
    if (b_start is None) != (b_end is None):
        field = "break_window_end" if b_end is None else "break_window_start"
        raise invalid(field, _("Give both ends of the break window, or neither."))
    if b_start is not None and b_end <= b_start:
        raise invalid("break_window_end", _("The break window must end after it starts."))
    break_min = value("break_min", 0)
    if b_start is not None:
        window_min = (b_end.hour * 60 + b_end.minute) - (b_start.hour * 60 + b_start.minute)
        if break_min > window_min:
            raise invalid("break_min", _("The break does not fit in its window."))


def _qualifications(rows: Sequence[Mapping[str, Any]]) -> list[Qualification]:
    return [Qualification(**row) for row in rows]


def create_caregiver(session: Session, actor: User, fields: Mapping[str, Any]) -> Caregiver:
    """Add a caregiver to ``actor``'s agency."""
    agency_id = own_agency_id(actor)
    data = dict(fields)
    quals = data.pop("qualifications", [])
    ensure_unique(
        session,
        Caregiver.staff_no,
        data["staff_no"],
        "staff_no",
        extra=(Caregiver.agency_id == agency_id,),
    )
    _check_shift(data, None)
    caregiver = Caregiver(agency_id=agency_id, qualifications=_qualifications(quals), **data)
    session.add(caregiver)
    session.commit()
    return caregiver


def update_caregiver(
    session: Session, actor: User, caregiver_id: int, fields: Mapping[str, Any]
) -> Caregiver:
    caregiver = get_caregiver(session, actor, caregiver_id)
    data = dict(fields)
    quals = data.pop("qualifications", None)
    if "staff_no" in data:
        ensure_unique(
            session,
            Caregiver.staff_no,
            data["staff_no"],
            "staff_no",
            exclude_id=caregiver.id,
            extra=(Caregiver.agency_id == caregiver.agency_id,),
        )
    _check_shift(data, caregiver)
    apply(caregiver, data)
    if quals is not None:
        # A flush inserts before it deletes orphans, so a kept skill would collide with
        # its old row on (caregiver, skill): delete the old rows first.
        caregiver.qualifications.clear()
        session.flush()
        caregiver.qualifications = _qualifications(quals)
    session.commit()
    return caregiver
