"""Who may call what, and which rows they may see.

Every view declares its roles with ``@allow(...)`` or is marked ``@public``; the
access-matrix test walks ``app.url_map`` and fails on a view that declares neither.
Reads are scoped to the user's agency unless the role is cross-agency (auditor,
sys_admin); a caregiver or volunteer sees only the persons on their own visits.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import abort, request
from flask_login import current_user
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from app.extensions import login_manager
from app.models import CROSS_AGENCY_ROLES, AccessLog, Role, User, Visit, VisitAssignment

F = TypeVar("F", bound=Callable[..., Any])
SESSION_TOKEN_KEY = "_user_id"  # Flask-Login stores get_id() here; ours is the session token


def allow(*roles: Role) -> Callable[[F], F]:
    """Let only logged-in users with one of ``roles`` call the view."""
    allowed = frozenset(roles)

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                abort(401)
            if current_user.role not in allowed:
                abort(403)
            return view(*args, **kwargs)

        wrapper.allowed_roles = allowed  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate


def public(view: F) -> F:
    """Mark a view as open to anyone (login page, health check, static docs)."""
    view.allowed_roles = frozenset(Role)  # type: ignore[attr-defined]
    view.is_public = True  # type: ignore[attr-defined]
    return view


ALL_ROLES = tuple(Role)
STAFF_ROLES = (Role.DISPATCHER, Role.AGENCY_ADMIN, Role.AUDITOR, Role.SYS_ADMIN)


def user() -> User:
    """The logged-in user (views behind ``@allow`` only)."""
    return current_user._get_current_object().row  # type: ignore[no-any-return]


def is_cross_agency(u: User) -> bool:
    return u.role in CROSS_AGENCY_ROLES


def scope_to_agency(stmt: Select[Any], agency_column: Any, u: User) -> Select[Any]:
    """Limit ``stmt`` to ``u``'s agency unless ``u`` reads across agencies."""
    if is_cross_agency(u):
        return stmt
    return stmt.where(agency_column == u.agency_id)


def own_person_ids(u: User) -> Select[Any]:
    """Persons on the visits assigned to a caregiver or volunteer user."""
    stmt = select(Visit.person_id).join(VisitAssignment, VisitAssignment.visit_id == Visit.id)
    if u.role == Role.CAREGIVER:
        return stmt.where(VisitAssignment.caregiver_id == u.caregiver_id)
    return stmt.where(VisitAssignment.volunteer_id == u.volunteer_id)


def can_see_agency(u: User, agency_id: int) -> bool:
    return is_cross_agency(u) or u.agency_id == agency_id


def log_health_read(
    session: Session, u: User, subject_type: str, subject_id: int, what: str
) -> None:
    """Record a read of health data; the caller's unit of work commits it."""
    session.add(
        AccessLog(
            user_id=u.id,
            role=u.role,
            subject_type=subject_type,
            subject_id=subject_id,
            what=what,
            endpoint=request.endpoint if request else None,
        )
    )


class LoginUser:
    """What Flask-Login holds for a request: the user row plus the session token."""

    def __init__(self, row: User, token: str) -> None:
        self.row = row
        self.token = token

    def __getattr__(self, name: str) -> Any:
        return getattr(self.row, name)

    is_authenticated = True
    is_active = True
    is_anonymous = False

    def get_id(self) -> str:
        return self.token


@login_manager.user_loader
def _load_user(token: str) -> LoginUser | None:
    from app.extensions import db
    from app.services.auth import user_for_token

    row = user_for_token(db.session, token)
    return LoginUser(row, token) if row is not None else None
