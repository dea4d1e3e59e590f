"""The anomaly page (``/supervision/anomalies``): a month's findings of the anomaly and
fraud rules, grouped by rule, each explained and with the visits behind it.

Server-rendered from ``app.services.anomalies``; the same findings as
``/api/v1/supervision/anomalies``. Agency admins see their agency; auditors and sys_admins
pick an agency or see all.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from flask import current_app, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from app.extensions import db
from app.models import Agency, User
from app.security import allow, is_cross_agency, user
from app.services import anomalies, months
from app.services.agencies import get_agency, list_agencies
from app.services.anomaly_rules import RULE_CODES, Finding, Subject
from app.services.crud import local_today
from app.services.errors import NotFound
from app.views import bp

MAX_AGENCIES = 200


@dataclass(frozen=True)
class Scope:
    """The month, agency and rule shown, and what the user may pick instead."""

    month: dt.date
    agency: Agency | None  # None: every agency (cross-agency readers only)
    agencies: tuple[Agency, ...]
    cross: bool
    rule: str | None
    errors: dict[str, str]


@dataclass(frozen=True)
class Group:
    """The findings of one rule."""

    rule: str
    label: str
    severity: str
    findings: list[tuple[Finding, str]]  # with its explanation


@bp.route("/supervision/anomalies")
@allow(*anomalies.SUPERVISORS)
def anomalies_page() -> ResponseReturnValue:
    """A month's anomaly findings (``?month=YYYY-MM&agency_id=&rule=``), grouped by rule."""
    u = user()
    scope = anomaly_scope(u, request.args)
    agency_id = scope.agency.id if scope.agency else None
    found = anomalies.findings(db.session, u, scope.month, agency_id)
    if scope.rule:
        found = [f for f in found if f.rule == scope.rule]
    names = anomalies.subject_names(db.session, found)
    return render_template(
        "supervision/anomalies.html",
        scope=scope,
        groups=group(found, names),
        total=len(found),
        names=names,
        codes=RULE_CODES,
        rule_label=anomalies.rule_label,
        severity_label=anomalies.severity_label,
        subject_label=subject_label,
        prev_month=(scope.month - dt.timedelta(days=1)).replace(day=1),
        next_month=(scope.month + dt.timedelta(days=32)).replace(day=1),
    )


def anomaly_scope(u: User, args: Any) -> Scope:
    """The month, agency and rule asked for, or the defaults, with an error per field that
    could not be used."""
    errors: dict[str, str] = {}
    today = local_today(current_app.config["BABEL_DEFAULT_TIMEZONE"])
    month = months.previous_month(today)
    raw_month = args.get("month")
    if raw_month:
        try:
            month = months.parse_month(raw_month)
        except ValueError:
            errors["month"] = _("Not a month (YYYY-MM): %(value)s", value=raw_month[:40])
    rule = args.get("rule") or None
    if rule is not None and rule not in RULE_CODES:
        errors["rule"] = _("No such rule: %(value)s", value=rule[:40])
        rule = None
    if not is_cross_agency(u):
        agency = get_agency(db.session, u, u.agency_id) if u.agency_id else None
        return Scope(month, agency, (), False, rule, errors)
    agencies = tuple(list_agencies(db.session, u, per_page=MAX_AGENCIES).items)
    agency = None
    raw_agency = args.get("agency_id")
    if raw_agency:
        try:
            agency = get_agency(db.session, u, int(raw_agency))
        except (ValueError, NotFound):
            errors["agency_id"] = _("No such agency: %(value)s", value=raw_agency[:40])
    return Scope(month, agency, agencies, True, rule, errors)


def group(found: list[Finding], names: dict[Subject, str]) -> list[Group]:
    """The findings by rule, in the rules' order, each with its explanation."""
    groups = []
    for code in RULE_CODES:
        mine = [f for f in found if f.rule == code]
        if mine:
            explained = [(f, anomalies.explain(f, names)) for f in mine]
            label = anomalies.rule_label(code)
            groups.append(Group(code, label, mine[0].severity, explained))
    return groups


def subject_label(subject: Subject, names: dict[Subject, str]) -> str:
    name = names.get(subject, f"#{subject.id}")
    kinds = {
        "caregiver": _("Caregiver %(name)s", name=name),
        "volunteer": _("Volunteer %(name)s", name=name),
        "person": _("Insured person %(name)s", name=name),
    }
    return kinds.get(subject.kind, name)
