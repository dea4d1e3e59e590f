"""The dispatcher board: one agency's day on a timeline and a map, planned, edited and
published in the browser.

The page is a shell: its data comes from the dispatch API (``/api/v1/dispatch``) and its
live updates from Socket.IO, both read by ``static/js/board.js``. The server renders what
the script needs to start (the agency, the date, whether the user may change anything)
and every word the script shows, translated here, so the page works in either language.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from flask import current_app, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import LazyString, get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.extensions import db
from app.models import Agency, Role, User
from app.security import allow, is_cross_agency, user
from app.services.agencies import get_agency, list_agencies
from app.services.crud import local_today
from app.services.errors import NotFound
from app.views import bp

BOARD_ROLES = (Role.DISPATCHER, Role.AGENCY_ADMIN, Role.AUDITOR, Role.SYS_ADMIN)
# Auditors and operators may look at any agency's board but change nothing.
EDITOR_ROLES = frozenset({Role.DISPATCHER, Role.AGENCY_ADMIN})
TIME_LIMITS_S = (5, 10, 20, 30, 60, 120)
DEFAULT_TIME_LIMIT_S = 20
MAX_AGENCIES = 200


@dataclass(frozen=True)
class BoardScope:
    """Whose day the board shows, and what the user may pick instead."""

    day: dt.date
    agency: Agency | None
    agencies: tuple[Agency, ...]
    errors: dict[str, str]


@bp.route("/dispatch/board")
@allow(*BOARD_ROLES)
def board() -> ResponseReturnValue:
    """The board of one agency's day (``?date=YYYY-MM-DD``, default tomorrow)."""
    u = user()
    scope = board_scope(u, request.args)
    return render_template(
        "dispatch/board.html",
        scope=scope,
        prev_day=scope.day - dt.timedelta(days=1),
        next_day=scope.day + dt.timedelta(days=1),
        config=board_config(u, scope),
        strings={key: str(text) for key, text in JS_STRINGS.items()},
        time_limits=TIME_LIMITS_S,
        default_time_limit=DEFAULT_TIME_LIMIT_S,
    )


def board_scope(u: User, args: Any) -> BoardScope:
    """The date and agency asked for in the query string, or the defaults, with an error
    per field that could not be used."""
    errors: dict[str, str] = {}
    today = local_today(current_app.config["BABEL_DEFAULT_TIMEZONE"])
    day = today + dt.timedelta(days=1)  # dispatchers plan tomorrow
    raw_date = args.get("date")
    if raw_date:
        try:
            day = dt.date.fromisoformat(raw_date)
        except ValueError:
            errors["date"] = _("Not a date (YYYY-MM-DD): %(value)s", value=raw_date[:40])
    if not is_cross_agency(u):
        agency = get_agency(db.session, u, u.agency_id) if u.agency_id else None
        return BoardScope(day, agency, (agency,) if agency else (), errors)
    agencies = tuple(list_agencies(db.session, u, per_page=MAX_AGENCIES).items)
    agency = agencies[0] if agencies else None
    raw_agency = args.get("agency_id")
    if raw_agency:
        try:
            agency = get_agency(db.session, u, int(raw_agency))
        except (ValueError, NotFound):
            errors["agency_id"] = _("No such agency: %(value)s", value=raw_agency[:40])
    return BoardScope(day, agency, agencies, errors)


def board_config(u: User, scope: BoardScope) -> dict[str, Any]:
    """What board.js needs to start, as JSON."""
    agency = scope.agency
    cross = is_cross_agency(u)
    return {
        "date": scope.day.isoformat(),
        "agency": ({"id": agency.id, "code": agency.code, "name": agency.name} if agency else None),
        "editable": u.role in EDITOR_ROLES,
        "api": "/api/v1/dispatch",
        # Cross-agency readers name the agency on every read; agency staff never need to.
        "agencyQuery": f"agency_id={agency.id}" if cross and agency else "",
        "apiRoot": "/api/v1",
        "boardUrl": url_for("views.board"),
        "locale": "en" if str(get_locale() or "").startswith("en") else "zh-CN",
        "timezone": current_app.config["BABEL_DEFAULT_TIMEZONE"],
        "tileUrl": current_app.config.get("BOARD_TILE_URL") or "",
        "tileAttribution": current_app.config.get("BOARD_TILE_ATTRIBUTION") or "",
        "axis": ["07:00", "19:00"],
    }


# Every word board.js shows. Placeholders are %(name)s, filled in by the script.
JS_STRINGS: dict[str, LazyString] = {
    # loading and errors
    "loading": _l("Loading the day…"),
    "load_failed": _l("Could not load the board: %(message)s"),
    "request_failed": _l("The request failed: %(message)s"),
    "network_error": _l("The server cannot be reached. Check the connection and try again."),
    "no_agency": _l("No agency to show."),
    "live_on": _l("Live"),
    "live_off": _l("Offline: refresh to see changes"),
    # the plan and its versions
    "no_plan": _l("No plan yet for this day. Choose a time limit and press “Plan day”."),
    "version_label": _l("Version %(number)s · %(kind)s"),
    "kind_optimise": _l("optimised"),
    "kind_edit": _l("edited"),
    "kind_repair": _l("repaired"),
    "kind_import": _l("imported"),
    "valid": _l("valid"),
    "invalid": _l("has problems"),
    "published": _l("published"),
    "published_at": _l("Published %(time)s"),
    "not_published": _l("Not published"),
    "showing_published": _l("This is the published version."),
    "publish_invalid": _l("Only a version without problems can be published."),
    "publish_done": _l("Version %(number)s published. Notified: %(who)s."),
    "publish_nobody": _l("nobody (no route changed)"),
    "confirm_publish": _l("Publish version %(number)s to the caregivers?"),
    # the solve job
    "job_queued": _l("Waiting for a free solver…"),
    "job_running": _l("Planning…"),
    "job_succeeded": _l("Plan ready: version %(number)s."),
    "job_failed": _l("Planning failed: %(message)s"),
    "job_cancelled": _l("Planning cancelled."),
    "job_elapsed": _l("%(elapsed)s of %(limit)s s"),
    "job_assigned": _l("%(assigned)s of %(visits)s visits placed"),
    "job_cost": _l("best cost %(cost)s"),
    "job_started": _l("Started planning (job %(job)s)."),
    # timeline
    "caregiver": _l("Caregiver"),
    "volunteer": _l("Volunteer"),
    "ack": _l("Acknowledged"),
    "ack_done": _l("Seen %(time)s"),
    "ack_waiting": _l("Not yet seen"),
    "ack_overdue": _l("Overdue: first change at %(time)s"),
    "no_route": _l("No visits"),
    "absent_all_day": _l("Absent all day: %(reason)s"),
    "absent_from": _l("Absent from %(time)s: %(reason)s"),
    "break": _l("Break %(start)s–%(end)s"),
    "travel": _l("Travel %(min)s min"),
    "waiting": _l("Waiting %(min)s min"),
    "shift": _l("Shift %(start)s–%(end)s"),
    "work_time": _l("Working time %(hours)s h, %(visits)s visits"),
    "locked": _l("Locked"),
    "moved": _l("Moved"),
    "now": _l("Now"),
    "map_label": _l("Map of the routes: caregivers' homes, visits and routes"),
    "map_note": _l("%(caregivers)s caregivers · %(visits)s visits"),
    # visits
    "priority_n": _l("Priority %(n)s"),
    "priority_1": _l("Priority 1 (essential)"),
    "priority_2": _l("Priority 2"),
    "priority_3": _l("Priority 3"),
    "window": _l("Window"),
    "duration_min": _l("%(n)s min"),
    "staff_2": _l("Two staff"),
    "skills": _l("Skills"),
    "status": _l("Status"),
    "service": _l("Service"),
    "address": _l("Address"),
    "assigned_to": _l("Assigned to"),
    "planned_time": _l("Planned time"),
    "unassigned": _l("Not assigned"),
    "preferred": _l("Preferred caregiver"),
    "over_cap": _l("Over the entitlement cap: %(reason)s"),
    "select_a_visit": _l("Click a visit on the timeline, the map or the lists to select it."),
    "status_planned": _l("Planned"),
    "status_assigned": _l("Assigned"),
    "status_in_progress": _l("In progress"),
    "status_completed": _l("Completed"),
    "status_verified": _l("Verified"),
    "status_cancelled": _l("Cancelled"),
    "status_missed": _l("Missed"),
    # edits
    "edit_checking": _l("Checking the change…"),
    "edit_valid": _l("Version %(number)s made: no problems found. Review it, then publish."),
    "edit_invalid": _l("Version %(number)s made with %(n)s problem(s): see the checks below."),
    "edit_reoptimise": _l("Re-planning around the change (job %(job)s)."),
    "move_same": _l("The visit is already with this caregiver."),
    "choose_caregiver": _l("Choose a caregiver"),
    "lock": _l("Lock to this caregiver"),
    "unlock": _l("Unlock"),
    "need_version": _l("Plan the day first: edits change a plan version."),
    "repair_started": _l("Re-planning the rest of the day without %(who)s (job %(job)s)."),
    "confirm_repair": _l("Record %(who)s as absent and re-plan the rest of the day?"),
    # checks
    "checks_ok": _l("No problems: every rule is kept."),
    "checks_n": _l("%(n)s problem(s) in this version"),
    "violation_skill": _l("Missing skill"),
    "violation_gender": _l("Gender"),
    "violation_timing": _l("Timing"),
    "violation_window": _l("Outside the time window"),
    "violation_break": _l("Break"),
    "violation_shift": _l("Outside the shift"),
    "violation_max_work": _l("Too much work"),
    "violation_max_visits": _l("Too many visits"),
    "violation_capacity": _l("Capacity"),
    "violation_duplicate": _l("Visit twice in the plan"),
    "violation_sync": _l("Two staff not together"),
    "violation_lock": _l("Lock broken"),
    "violation_kpi": _l("Figures do not add up"),
    "violation_unknown": _l("Unknown visit or caregiver"),
    "violation_other": _l("Problem"),
    # unassigned
    "unassigned_none": _l("Every visit is assigned."),
    "unassigned_n": _l("%(n)s visit(s) not assigned"),
    "cap_override": _l("Plan anyway"),
    "cap_override_reason": _l("Why plan this visit beyond the entitlement?"),
    "cap_override_done": _l("Override recorded: the visit enters the next plan."),
    # KPIs
    "kpi_assigned": _l("Visits assigned"),
    "kpi_travel": _l("Travel"),
    "kpi_travel_h": _l("%(h)s h"),
    "kpi_continuity": _l("Continuity"),
    "kpi_continuity_hint": _l("visits with the preferred caregiver"),
    "kpi_spread": _l("Working time spread"),
    "kpi_spread_value": _l("%(min)s–%(max)s min, σ %(stdev)s"),
    "kpi_by_priority": _l("P%(p)s: %(a)s/%(t)s"),
    "workload_empty": _l("No routes in this version."),
    # compare
    "compare_none": _l("The two versions assign every visit alike."),
    "compare_n": _l("%(n)s visit(s) moved, %(same)s unchanged"),
    "compare_need_two": _l("Pick two different versions."),
    "compare_from_to": _l("%(from)s → %(to)s"),
    # urgent visit
    "urgent_search_empty": _l("No person found."),
    "urgent_no_plan": _l("This person has no approved care plan."),
    "urgent_pick_person": _l("Pick a person first."),
    "urgent_pick_item": _l("Choose a service"),
    # misc
    "nobody": _l("nobody"),
    "minutes": _l("min"),
    "hours_short": _l("h"),
}
