"""/api/v1/supervision/anomalies: a month's anomaly and fraud findings, each with the visits
behind it, the numbers that explain it and that explanation in the request's language.

Agency admins read their agency; auditors and sys_admins every agency or the one they
name. Dispatchers are not let in: they assign the visits and approve the EVV exceptions
that the findings are about (see ``app.services.anomalies``). The rules and their
thresholds are defined in ``app.services.anomaly_rules``.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated, Literal

from flask import Response, current_app
from pydantic import BaseModel, Field, PlainValidator, WithJsonSchema

from app.api import bp
from app.api.http import page_json, page_size, parse_query, spec
from app.api.schemas import Id, Page, Query
from app.extensions import db
from app.security import allow, user
from app.services import anomalies, months
from app.services.anomaly_rules import RULE_CODES, Finding, Subject
from app.services.crud import PageResult, local_today

RuleCode = StrEnum("RuleCode", {code: code for code in RULE_CODES})  # type: ignore[misc]

Month = Annotated[
    dt.date,
    PlainValidator(months.parse_month),
    WithJsonSchema({"type": "string", "pattern": months.MONTH_PATTERN}),
]


# --- shapes ---------------------------------------------------------------------------------


class AnomalyQuery(Query):
    month: Month | None = Field(None, description="YYYY-MM; default: the previous calendar month.")
    agency_id: Id | None = Field(
        None,
        description="One agency. Cross-agency roles: default every agency; agency admins: "
        "only their own (another agency's, or an unknown one, answers 404).",
    )
    rule: RuleCode | None = Field(None, description="Only the findings of this rule.")


class SubjectOut(BaseModel):
    kind: Literal["caregiver", "volunteer", "person"]
    id: int
    name: str | None = Field(description="None when the row is gone.")


class AnomalyOut(BaseModel):
    """One finding: what rule, about whom, the visits behind it and why."""

    rule: RuleCode
    rule_label: str
    severity: Literal["high", "medium", "low"]
    agency_id: int
    subject: SubjectOut
    related: list[SubjectOut] = Field(description="Other workers and the persons involved.")
    visit_ids: list[int]
    day: dt.date | None = Field(description="The day of the first visit behind it.")
    numbers: dict[str, int | float | str] = Field(
        description="What explains it: metres, seconds or minutes, km/h, counts, shares in %."
    )
    explanation: str


# --- handler --------------------------------------------------------------------------------


@bp.get("/v1/supervision/anomalies")
@allow(*anomalies.SUPERVISORS)
@spec(query=AnomalyQuery, response=Page[AnomalyOut], errors=[404])
def list_anomalies() -> Response:
    """Anomaly findings of one month, by agency, rule and subject.

    Single visits: check-in away from the home, far too short or long, overlapping visits
    of one worker, impossible travel between two check-ins, a missing or expired
    qualification. Across the month: visits to one person mostly unconfirmed or without
    positions, several workers at exactly the same point, one point replayed, identical
    durations, hours over the monthly cap under another caregiver's id.
    """
    query = parse_query(AnomalyQuery)
    today = local_today(current_app.config["BABEL_DEFAULT_TIMEZONE"])
    month = query.month or months.previous_month(today)
    found = anomalies.findings(db.session, user(), month, query.agency_id)
    if query.rule is not None:
        found = [f for f in found if f.rule == query.rule]
    per_page = page_size(query.per_page)
    start = (query.page - 1) * per_page
    shown = found[start : start + per_page]
    names = anomalies.subject_names(db.session, shown)
    result = PageResult(shown, len(found), query.page, per_page)
    return page_json(result, lambda f: anomaly_out(f, names))


def subject_out(subject: Subject, names: dict[Subject, str]) -> SubjectOut:
    return SubjectOut(kind=subject.kind, id=subject.id, name=names.get(subject))  # type: ignore[arg-type]


def anomaly_out(finding: Finding, names: dict[Subject, str]) -> AnomalyOut:
    return AnomalyOut(
        rule=RuleCode(finding.rule),
        rule_label=anomalies.rule_label(finding.rule),
        severity=finding.severity,
        agency_id=finding.agency_id,
        subject=subject_out(finding.subject, names),
        related=[subject_out(s, names) for s in finding.related],
        visit_ids=list(finding.visit_ids),
        day=finding.day,
        numbers=dict(finding.numbers),
        explanation=anomalies.explain(finding, names),
    )
