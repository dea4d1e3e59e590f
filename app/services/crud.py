"""Small pieces shared by the CRUD use cases: paging, scoping by agency, uniqueness checks
and the local calendar date.

Services receive values already parsed to the right Python types (the API's schemas or a
CLI's options do that); what they check here is what needs the database.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from zoneinfo import ZoneInfo

from flask_babel import gettext as _
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from app.models import Agency, User
from app.security import is_cross_agency, scope_to_agency
from app.services.errors import Conflict, NotFound, ValidationFailed

T = TypeVar("T")
LOCAL_TZ = ZoneInfo("Asia/Shanghai")


def local_today(tz_name: str | None = None) -> dt.date:
    """Today's date where the care is given (plans and visits are dated in local time).

    ``tz_name`` overrides the agencies' zone (the views pass the configured one).
    """
    return dt.datetime.now(ZoneInfo(tz_name) if tz_name else LOCAL_TZ).date()


@dataclass(frozen=True)
class PageResult(Generic[T]):
    items: list[T]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return math.ceil(self.total / self.per_page) if self.per_page else 0


def paginate(session: Session, stmt: Select[Any], page: int, per_page: int) -> PageResult[Any]:
    """Run ``stmt`` (one entity per row, no duplicating joins) for one page, plus its count."""
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    rows = list(session.scalars(stmt.limit(per_page).offset((page - 1) * per_page)))
    return PageResult(rows, int(total or 0), page, per_page)


def visible_to(stmt: Select[Any], agency_column: Any, actor: User) -> Select[Any]:
    return scope_to_agency(stmt, agency_column, actor)


def filter_agency(
    session: Session, stmt: Select[Any], agency_column: Any, actor: User, agency_id: int | None
) -> Select[Any]:
    """Scope ``stmt`` to what ``actor`` may see, then narrow it to ``agency_id`` if given."""
    stmt = visible_to(stmt, agency_column, actor)
    if agency_id is None:
        return stmt
    if session.get(Agency, agency_id) is None:
        raise invalid("agency_id", _("Unknown agency."))
    return stmt.where(agency_column == agency_id)


def get_visible(session: Session, stmt: Select[Any], what: str) -> Any:
    """The one row of an already scoped ``stmt``, or NotFound (whether absent or hidden)."""
    row = session.scalar(stmt)
    if row is None:
        raise NotFound(_("%(what)s not found.") % {"what": what})
    return row


def own_agency_id(actor: User) -> int:
    """The agency an agency-scoped actor creates rows in."""
    if actor.agency_id is None or is_cross_agency(actor):
        raise ValidationFailed(_("Only agency staff can create this."))
    return actor.agency_id


def apply(row: Any, fields: Mapping[str, Any]) -> None:
    for name, value in fields.items():
        setattr(row, name, value)


def ensure_unique(
    session: Session,
    column: Any,
    value: Any,
    field: str,
    *,
    exclude_id: int | None = None,
    extra: tuple[Any, ...] = (),
) -> None:
    """Raise Conflict naming ``field`` if another row already holds ``value``.

    The database's unique constraint stays the real guard (a concurrent insert becomes an
    IntegrityError, answered 409 by the API); this check gives the usual case a clear field.
    """
    table = column.class_
    stmt = select(table.id).where(column == value, *extra)
    if exclude_id is not None:
        stmt = stmt.where(table.id != exclude_id)
    if session.scalar(stmt.limit(1)) is not None:
        raise Conflict(_("Already in use."), {field: _("Already in use.")})


def invalid(field: str, message: str) -> ValidationFailed:
    """A 400-style error naming one field."""
    return ValidationFailed(_("Some fields are not valid."), {field: message})
