"""/api/v1/supervision/kpis: the supervision dashboard's figures for one month.

Agency admins read their agency; auditors and sys_admins every agency or the one they name.
The definitions of the figures are in ``app.services.supervision``.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from flask import Response, current_app
from pydantic import BaseModel, ConfigDict, Field, PlainValidator, WithJsonSchema

from app.api import bp
from app.api.http import one_json, parse_query, spec
from app.api.schemas import Id, Out
from app.extensions import db
from app.models import Role
from app.security import allow, user
from app.services import months, supervision
from app.services.crud import local_today
from app.services.evv import current_rules

SUPERVISORS = (Role.AGENCY_ADMIN, Role.AUDITOR, Role.SYS_ADMIN)

Month = Annotated[
    dt.date,
    PlainValidator(months.parse_month),
    WithJsonSchema({"type": "string", "pattern": months.MONTH_PATTERN}),
]


# --- shapes ---------------------------------------------------------------------------------


class SupervisionQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    month: Month | None = Field(
        None, description="YYYY-MM; default: the previous calendar month (the last whole one)."
    )
    agency_id: Id | None = Field(
        None,
        description="One agency. Cross-agency roles: default every agency; agency roles: "
        "only their own (another agency's answers 404).",
    )
    months: int = Field(
        supervision.DEFAULT_MONTHS,
        ge=1,
        le=supervision.MAX_MONTHS,
        description="Months of the spending series, ending with `month`.",
    )


class KpiFulfilment(Out):
    due: int = Field(description="Visits of the counted days, cancelled ones excepted.")
    verified: int
    missed: int
    exception: int = Field(description="A verification record awaits a decision.")
    rejected: int
    open: int = Field(description="Not started, under way, or completed and not yet verified.")
    cancelled: int = Field(description="Not part of `due`.")
    rate: float | None = Field(description="verified / due; null when nothing was due.")


class KpiOnTime(Out):
    verified: int
    on_time: int = Field(description="First check-in inside a window, grace included.")
    rate: float | None


class KpiTravel(Out):
    days: int = Field(description="Days of the month with a published plan.")
    travel_s: int
    assigned: int = Field(description="Visits those plans assign.")
    min_per_visit: float | None = Field(description="Travel minutes per assigned visit.")


class KpiContinuity(Out):
    with_preferred: int = Field(description="Verified visits naming a preferred caregiver.")
    by_preferred: int = Field(description="... served by that caregiver.")
    rate: float | None


class KpiFigures(Out):
    fulfilment: KpiFulfilment
    on_time: KpiOnTime
    travel: KpiTravel
    continuity: KpiContinuity
    anomalies: int


class KpiAgency(KpiFigures):
    agency_id: int
    code: str
    name: str


class KpiSpending(Out):
    month: str = Field(description="YYYY-MM.")
    visits: int = Field(description="Verified visits.")
    price_fen: int
    fund_fen: int = Field(description="The fund's share of their prices, rounded per visit.")
    co_pay_fen: int


class SupervisionOut(Out):
    month: str = Field(description="YYYY-MM.")
    through: dt.date | None = Field(description="Last counted day; null: none is over yet.")
    agency_id: int | None
    grace_min: int = Field(description="The EVV grace around a window, for on-time.")
    agencies: list[KpiAgency]
    total: KpiFigures
    spending: list[KpiSpending]


def _figures(f: supervision.Figures) -> dict[str, Any]:
    return {
        "fulfilment": KpiFulfilment.model_validate(f.fulfilment),
        "on_time": KpiOnTime.model_validate(f.on_time),
        "travel": KpiTravel.model_validate(f.travel),
        "continuity": KpiContinuity.model_validate(f.continuity),
        "anomalies": f.anomalies,
    }


def supervision_out(data: supervision.Supervision) -> SupervisionOut:
    return SupervisionOut(
        month=data.month.strftime("%Y-%m"),
        through=data.through,
        agency_id=data.agency_id,
        grace_min=data.grace_min,
        agencies=[
            KpiAgency(agency_id=a.agency_id, code=a.code, name=a.name, **_figures(a.figures))
            for a in data.agencies
        ],
        total=KpiFigures(**_figures(data.total)),
        spending=[
            KpiSpending(
                month=s.month.strftime("%Y-%m"),
                visits=s.visits,
                price_fen=s.price_fen,
                fund_fen=s.fund_fen,
                co_pay_fen=s.co_pay_fen,
            )
            for s in data.spending
        ],
    )


# --- views ----------------------------------------------------------------------------------


@bp.get("/v1/supervision/kpis")
@allow(*SUPERVISORS)
@spec(query=SupervisionQuery, response=SupervisionOut)
def supervision_kpis() -> Response:
    """Supervision KPIs of a month, per agency and in total.

    Plan fulfilment, on-time rate, travel per visit (published plans), continuity,
    anomalies per agency, and the fund share and co-pay of verified visits by month (fen).
    A month counts only its days that are over. 404 when `agency_id` is another
    agency's or unknown.
    """
    query = parse_query(SupervisionQuery)
    today = local_today(current_app.config["BABEL_DEFAULT_TIMEZONE"])
    data = supervision.dashboard(
        db.session,
        user(),
        query.month or months.previous_month(today),
        agency_id=query.agency_id,
        months=query.months,
        today=today,
        rules=current_rules(),
    )
    return one_json(supervision_out(data))
