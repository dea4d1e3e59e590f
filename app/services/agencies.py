"""Agencies: list, read, create and change them (creating and changing is the operator's)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.models import Agency, User
from app.policy import load_policy
from app.services.crud import (
    PageResult,
    apply,
    ensure_unique,
    get_visible,
    invalid,
    paginate,
    visible_to,
)


def _visible(actor: User) -> Any:
    return visible_to(select(Agency), Agency.id, actor)


def list_agencies(
    session: Session,
    actor: User,
    *,
    q: str | None = None,
    active: bool | None = None,
    page: int = 1,
    per_page: int = 50,
) -> PageResult[Agency]:
    stmt = _visible(actor)
    if q:
        pattern = f"%{q}%"
        stmt = stmt.where(or_(Agency.name.ilike(pattern), Agency.code.ilike(pattern)))
    if active is not None:
        stmt = stmt.where(Agency.active.is_(active))
    return paginate(session, stmt.order_by(Agency.id), page, per_page)


def get_agency(session: Session, actor: User, agency_id: int) -> Agency:
    return get_visible(session, _visible(actor).where(Agency.id == agency_id), _("Agency"))  # type: ignore[no-any-return]


def _check_unique(session: Session, fields: Mapping[str, Any], exclude_id: int | None) -> None:
    if "code" in fields:
        ensure_unique(session, Agency.code, fields["code"], "code", exclude_id=exclude_id)
    if "licence_no" in fields:
        ensure_unique(
            session, Agency.licence_no, fields["licence_no"], "licence_no", exclude_id=exclude_id
        )
    city = fields.get("city")
    if city is not None and city not in load_policy().cities:
        raise invalid("city", _("Not a city of the LTCI policy file."))


def create_agency(session: Session, actor: User, fields: Mapping[str, Any]) -> Agency:
    _check_unique(session, fields, None)
    agency = Agency(**fields)
    session.add(agency)
    session.commit()
    return agency


def update_agency(
    session: Session, actor: User, agency_id: int, fields: Mapping[str, Any]
) -> Agency:
    agency = get_agency(session, actor, agency_id)
    _check_unique(session, fields, agency.id)
    apply(agency, fields)
    session.commit()
    return agency
