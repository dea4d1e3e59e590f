"""Display names of the closed vocabularies and home-page figures, in the user's language.

Services hand out keys (``Role``, ``VisitStatus``, figure keys); pages look their labels
up here so that every word on screen goes through the catalogs.
"""

from __future__ import annotations

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l

from app.models import Role, VisitStatus

ROLE_LABELS: dict[str, LazyString] = {
    Role.DISPATCHER: _l("Dispatcher"),
    Role.CAREGIVER: _l("Caregiver"),
    Role.VOLUNTEER: _l("Volunteer"),
    Role.AGENCY_ADMIN: _l("Agency administrator"),
    Role.AUDITOR: _l("Insurance auditor"),
    Role.SYS_ADMIN: _l("System administrator"),
}

VISIT_STATUS_LABELS: dict[str, LazyString] = {
    VisitStatus.PLANNED: _l("Planned"),
    VisitStatus.ASSIGNED: _l("Assigned"),
    VisitStatus.IN_PROGRESS: _l("In progress"),
    VisitStatus.COMPLETED: _l("Completed"),
    VisitStatus.VERIFIED: _l("Verified"),
    VisitStatus.CANCELLED: _l("Cancelled"),
    VisitStatus.MISSED: _l("Missed"),
}

PANEL_LABELS: dict[str, LazyString] = {
    "agency": _l("My agency"),
    "all_agencies": _l("All agencies"),
    "tomorrow_visits": _l("Tomorrow's visits by status"),
    "today_visits": _l("Today's visits by status"),
    "month_visits_by_status": _l("This month's visits by status"),
    "system": _l("System"),
    "users_by_role": _l("Active users by role"),
    "my_day": _l("My day"),
    "my_month": _l("Coming up and this month"),
}

FIGURE_LABELS: dict[str, LazyString] = {
    "persons": _l("Insured persons in care"),
    "active_plans": _l("Active care plans"),
    "caregivers": _l("Caregivers"),
    "volunteers": _l("Volunteers"),
    "users": _l("User accounts"),
    "agencies": _l("Agencies"),
    "live_sessions": _l("Live login sessions"),
    "total": _l("All visits"),
    "visits_today": _l("Visits today"),
    "done": _l("Done"),
    "remaining": _l("Still to do"),
    "next_7_days": _l("Visits in the next 7 days"),
    "done_this_month": _l("Visits done this month"),
}


def figure_label(key: str) -> str:
    """The label of a figure key, which may also be a visit status or a role."""
    for table in (FIGURE_LABELS, VISIT_STATUS_LABELS, ROLE_LABELS):
        if key in table:
            return str(table[key])
    return key


def panel_label(key: str) -> str:
    return str(PANEL_LABELS.get(key, key))


def role_label(role: str | None) -> str:
    return str(ROLE_LABELS[role]) if role in ROLE_LABELS else (role or "")


def status_label(status: str) -> str:
    return str(VISIT_STATUS_LABELS.get(status, status))
