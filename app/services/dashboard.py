"""The figures on each role's home page, read from the database within the user's scope.

Services return keys and numbers, never display text: the web layer owns the labels so
the same figures can be shown in any language.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from app.models import (
    Agency,
    Caregiver,
    CarePlan,
    InsuredPerson,
    PersonStatus,
    PlanStatus,
    Role,
    User,
    UserSession,
    Visit,
    VisitAssignment,
    VisitStatus,
    Volunteer,
    utcnow,
)
from app.security import scope_to_agency
from app.services.months import month_bounds

DONE_STATUSES = (VisitStatus.COMPLETED, VisitStatus.VERIFIED)


@dataclass(frozen=True)
class Figure:
    """One number on a home page; ``key`` names what it counts (for its label)."""

    key: str
    value: int


@dataclass(frozen=True)
class Panel:
    """A group of figures, about one ``day``, one ``month`` (its first day) or neither."""

    key: str
    figures: tuple[Figure, ...]
    day: dt.date | None = None
    month: dt.date | None = None


@dataclass(frozen=True)
class VisitLine:
    """A visit on a caregiver's or volunteer's day: where, when, for whom."""

    visit_id: int
    person_name: str
    address: str
    district: str
    window: str
    duration_min: int
    status: str


@dataclass(frozen=True)
class Home:
    """Everything a role's home page shows."""

    role: str
    panels: tuple[Panel, ...]
    visits: tuple[VisitLine, ...] = ()


def home_for(session: Session, u: User, today: dt.date) -> Home:
    """The home page figures for ``u``'s role and scope on ``today`` (a local date)."""
    builders = {
        Role.DISPATCHER: _dispatcher,
        Role.CAREGIVER: _caregiver,
        Role.VOLUNTEER: _volunteer,
        Role.AGENCY_ADMIN: _agency_admin,
        Role.AUDITOR: _auditor,
        Role.SYS_ADMIN: _sys_admin,
    }
    role = Role(u.role)
    return Home(role=role.value, **builders[role](session, u, today))


def _dispatcher(session: Session, u: User, today: dt.date) -> dict[str, Any]:
    tomorrow = today + dt.timedelta(days=1)
    return {
        "panels": (
            Panel("agency", _agency_counts(session, u, today)),
            Panel("tomorrow_visits", _visits_by_status(session, u, tomorrow, tomorrow), tomorrow),
            Panel("today_visits", _visits_by_status(session, u, today, today), today),
        )
    }


def _agency_admin(session: Session, u: User, today: dt.date) -> dict[str, Any]:
    first, last = month_bounds(today)
    users = _scoped_count(session, select(User.id).where(User.active), User.agency_id, u)
    return {
        "panels": (
            Panel("agency", (*_agency_counts(session, u, today), Figure("users", users))),
            Panel(
                "month_visits_by_status", _visits_by_status(session, u, first, last), month=first
            ),
        )
    }


def _auditor(session: Session, u: User, today: dt.date) -> dict[str, Any]:
    first, last = month_bounds(today)
    agencies = _count(session, select(Agency.id).where(Agency.active))
    return {
        "panels": (
            Panel(
                "all_agencies", (Figure("agencies", agencies), *_agency_counts(session, u, today))
            ),
            Panel(
                "month_visits_by_status", _visits_by_status(session, u, first, last), month=first
            ),
        )
    }


def _sys_admin(session: Session, u: User, today: dt.date) -> dict[str, Any]:
    agencies = _count(session, select(Agency.id).where(Agency.active))
    live = _count(
        session,
        select(UserSession.id).where(
            UserSession.revoked_at.is_(None), UserSession.expires_at > utcnow()
        ),
    )
    rows = session.execute(
        select(User.role, func.count()).where(User.active).group_by(User.role)
    ).all()
    by_role: dict[str, int] = {role: count for role, count in rows}
    return {
        "panels": (
            Panel("system", (Figure("agencies", agencies), Figure("live_sessions", live))),
            Panel("users_by_role", tuple(Figure(r.value, by_role.get(r.value, 0)) for r in Role)),
        )
    }


def _caregiver(session: Session, u: User, today: dt.date) -> dict[str, Any]:
    if u.caregiver_id is None:
        return {"panels": (Panel("my_day", _day_counts(())),)}
    lines = _assigned_visits(session, VisitAssignment.caregiver_id == u.caregiver_id, today)
    return {"panels": (Panel("my_day", _day_counts(lines), today),), "visits": lines}


def _volunteer(session: Session, u: User, today: dt.date) -> dict[str, Any]:
    if u.volunteer_id is None:
        return {"panels": (Panel("my_day", _day_counts(())),)}
    mine = VisitAssignment.volunteer_id == u.volunteer_id
    lines = _assigned_visits(session, mine, today)
    first, last = month_bounds(today)
    base = select(Visit.id).join(VisitAssignment, VisitAssignment.visit_id == Visit.id).where(mine)
    upcoming = _count(
        session,
        base.where(
            Visit.date > today,
            Visit.date <= today + dt.timedelta(days=7),
            Visit.status.not_in([VisitStatus.CANCELLED]),
        ),
    )
    done_this_month = _count(
        session,
        base.where(Visit.date.between(first, last), Visit.status.in_(DONE_STATUSES)),
    )
    month = (Figure("next_7_days", upcoming), Figure("done_this_month", done_this_month))
    return {
        "panels": (
            Panel("my_day", _day_counts(lines), today),
            Panel("my_month", month, month=first),
        ),
        "visits": lines,
    }


def _agency_counts(session: Session, u: User, today: dt.date) -> tuple[Figure, ...]:
    persons = select(InsuredPerson.id).where(InsuredPerson.status == PersonStatus.ACTIVE)
    plans = select(CarePlan.id).where(
        CarePlan.status == PlanStatus.APPROVED,
        CarePlan.valid_from <= today,
        CarePlan.valid_to >= today,
    )
    caregivers = select(Caregiver.id).where(Caregiver.active)
    volunteers = select(Volunteer.id).where(Volunteer.active)
    return (
        Figure("persons", _scoped_count(session, persons, InsuredPerson.agency_id, u)),
        Figure("active_plans", _scoped_count(session, plans, CarePlan.agency_id, u)),
        Figure("caregivers", _scoped_count(session, caregivers, Caregiver.agency_id, u)),
        Figure("volunteers", _scoped_count(session, volunteers, Volunteer.agency_id, u)),
    )


def _visits_by_status(
    session: Session, u: User, first: dt.date, last: dt.date
) -> tuple[Figure, ...]:
    stmt = (
        select(Visit.status, func.count())
        .where(Visit.date.between(first, last))
        .group_by(Visit.status)
    )
    rows = session.execute(scope_to_agency(stmt, Visit.agency_id, u)).all()
    counts: dict[str, int] = {status: count for status, count in rows}
    total = sum(counts.values())
    return (
        Figure("total", total),
        *(Figure(s.value, counts.get(s.value, 0)) for s in VisitStatus),
    )


def _assigned_visits(session: Session, mine: Any, day: dt.date) -> tuple[VisitLine, ...]:
    rows = session.execute(
        select(Visit, InsuredPerson)
        .join(VisitAssignment, VisitAssignment.visit_id == Visit.id)
        .join(InsuredPerson, InsuredPerson.id == Visit.person_id)
        .where(mine, Visit.date == day, Visit.status != VisitStatus.CANCELLED)
    ).all()
    lines = [
        VisitLine(
            visit_id=visit.id,
            person_name=person.name,
            address=person.address,
            district=person.district,
            window=_window_text(visit.windows),
            duration_min=visit.duration_min,
            status=visit.status,
        )
        for visit, person in rows
    ]
    # "HH:MM" strings sort in time order; visits without a window go last.
    return tuple(sorted(lines, key=lambda line: (line.window or "~", line.visit_id)))


def _day_counts(lines: Iterable[VisitLine]) -> tuple[Figure, ...]:
    statuses = [line.status for line in lines]
    done = sum(1 for s in statuses if s in DONE_STATUSES)
    return (
        Figure("visits_today", len(statuses)),
        Figure("done", done),
        Figure("remaining", len(statuses) - done),
    )


def _window_text(windows: list[list[str]]) -> str:
    return ", ".join(f"{start}–{end}" for start, end in windows)


def _scoped_count(session: Session, stmt: Select[Any], agency_column: Any, u: User) -> int:
    return _count(session, scope_to_agency(stmt, agency_column, u))


def _count(session: Session, stmt: Select[Any]) -> int:
    return int(session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)
