"""The supervision dashboard (``/supervision``): a month's KPIs per agency, with charts.

The page is a shell, as the dispatcher board is: its figures come from
``/api/v1/supervision/kpis``, read and drawn by ``static/js/supervision.js`` with Chart.js
(vendored). The server renders the month and agency asked for, what the script needs to
start, and every word it shows, translated here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from flask import current_app, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import LazyString, get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.extensions import db
from app.models import Agency, Role, User
from app.security import allow, is_cross_agency, user
from app.services import months
from app.services.agencies import get_agency, list_agencies
from app.services.crud import local_today
from app.services.errors import NotFound
from app.views import bp

SUPERVISORS = (Role.AGENCY_ADMIN, Role.AUDITOR, Role.SYS_ADMIN)
MAX_AGENCIES = 200


@dataclass(frozen=True)
class DashboardScope:
    """The month and agencies shown, and what the user may pick instead."""

    month: dt.date
    agency: Agency | None  # None: every agency (cross-agency readers only)
    agencies: tuple[Agency, ...]  # the choices of a cross-agency reader
    cross: bool
    errors: dict[str, str]


@bp.route("/supervision")
@allow(*SUPERVISORS)
def supervision_dashboard() -> ResponseReturnValue:
    """The dashboard of one month (``?month=YYYY-MM``, default the previous month)."""
    u = user()
    scope = dashboard_scope(u, request.args)
    return render_template(
        "supervision/dashboard.html",
        scope=scope,
        prev_month=months.add_months(scope.month, -1),
        next_month=months.add_months(scope.month, 1),
        config=dashboard_config(scope),
        strings={key: str(text) for key, text in JS_STRINGS.items()},
    )


def dashboard_scope(u: User, args: Any) -> DashboardScope:
    """The month and agency asked for in the query string, or the defaults, with an error
    per field that could not be used."""
    errors: dict[str, str] = {}
    today = local_today(current_app.config["BABEL_DEFAULT_TIMEZONE"])
    month = months.previous_month(today)
    raw_month = args.get("month")
    if raw_month:
        try:
            month = months.parse_month(raw_month)
        except ValueError:
            errors["month"] = _("Not a month (YYYY-MM): %(value)s", value=raw_month[:40])
    if not is_cross_agency(u):
        agency = get_agency(db.session, u, u.agency_id) if u.agency_id else None
        return DashboardScope(month, agency, (), False, errors)
    agencies = tuple(list_agencies(db.session, u, per_page=MAX_AGENCIES).items)
    agency = None
    raw_agency = args.get("agency_id")
    if raw_agency:
        try:
            agency = get_agency(db.session, u, int(raw_agency))
        except (ValueError, NotFound):
            errors["agency_id"] = _("No such agency: %(value)s", value=raw_agency[:40])
    return DashboardScope(month, agency, agencies, True, errors)


def month_arg(month: dt.date) -> str:
    return month.strftime("%Y-%m")


def dashboard_config(scope: DashboardScope) -> dict[str, Any]:
    """What supervision.js needs to start, as JSON."""
    query = {"month": month_arg(scope.month)}
    if scope.cross and scope.agency is not None:
        query["agency_id"] = str(scope.agency.id)
    return {
        "api": url_for("api.supervision_kpis") + "?" + urlencode(query),
        "month": month_arg(scope.month),
        "locale": "en" if str(get_locale() or "").startswith("en") else "zh-CN",
        "currency": "CNY",
    }


# Every word supervision.js shows. Placeholders are %(name)s, filled in by the script.
JS_STRINGS: dict[str, LazyString] = {
    "loading": _l("Loading the figures…"),
    "load_failed": _l("Could not load the figures: %(message)s"),
    "network_error": _l("The server cannot be reached. Check the connection and try again."),
    "nothing_over": _l("No day of this month is over yet: there is nothing to count."),
    "counted_through": _l("Counted: the days up to %(day)s."),
    "none": _l("—"),
    # tiles
    "tile_fulfilment": _l("Plan fulfilment"),
    "tile_fulfilment_hint": _l("%(verified)s of %(due)s due visits verified"),
    "tile_on_time": _l("On-time rate"),
    "tile_on_time_hint": _l(
        "%(on_time)s of %(verified)s verified visits began in their window (±%(grace)s min)"
    ),
    "tile_travel": _l("Travel per visit"),
    "tile_travel_value": _l("%(min)s min"),
    "tile_travel_hint": _l("from the published plans of %(days)s day(s)"),
    "tile_travel_none": _l("no published plan this month"),
    "tile_continuity": _l("Continuity"),
    "tile_continuity_hint": _l("%(by)s of %(with)s visits served by the preferred caregiver"),
    "tile_anomalies": _l("Anomalies"),
    "tile_anomalies_hint": _l("findings of the anomaly rules this month"),
    "tile_fund": _l("Fund share of verified visits"),
    "tile_fund_hint": _l("%(visits)s verified visits this month"),
    "tile_co_pay": _l("Co-pay of verified visits"),
    "tile_co_pay_hint": _l("paid by the insured persons"),
    # charts (their titles are in the template)
    "series_fulfilment": _l("Plan fulfilment"),
    "series_on_time": _l("On time"),
    "series_anomalies": _l("Anomalies"),
    "series_fund": _l("Fund share"),
    "series_co_pay": _l("Co-pay"),
    "series_travel": _l("Travel minutes per visit"),
    "series_continuity": _l("Continuity"),
    "axis_minutes": _l("minutes per visit"),
    # tables
    "col_agency": _l("Agency"),
    "col_month": _l("Month"),
    "col_due": _l("Due"),
    "col_verified": _l("Verified"),
    "col_missed": _l("Missed"),
    "col_exception": _l("Awaiting a decision"),
    "col_rejected": _l("Rejected"),
    "col_open": _l("Open"),
    "col_cancelled": _l("Cancelled"),
    "col_fulfilment": _l("Fulfilment"),
    "col_on_time": _l("On time"),
    "col_anomalies": _l("Anomalies"),
    "col_visits": _l("Verified visits"),
    "col_fund": _l("Fund share"),
    "col_co_pay": _l("Co-pay"),
    "col_price": _l("Total price"),
    "col_days": _l("Published days"),
    "col_travel_min": _l("Travel (min)"),
    "col_assigned": _l("Visits assigned"),
    "col_per_visit": _l("Per visit (min)"),
    "col_with_preferred": _l("With a preferred caregiver"),
    "col_by_preferred": _l("Served by them"),
    "col_continuity": _l("Continuity"),
    "total": _l("All agencies"),
}
