"""/api/v1/settlements: monthly LTCI settlements of an agency, their claim lines, the steps
from draft to reconciled, the auditor's review of lines, and the CSV/XLSX exports."""

from __future__ import annotations

import datetime as dt
import os
from typing import Annotated, Literal

from flask import Response, send_file, stream_with_context
from pydantic import Field

from app.api import bp
from app.api.http import list_args, one_json, page_json, parse_body, parse_query, spec
from app.api.schemas import Body, Empty, Id, Out, Page, Query
from app.extensions import db
from app.models import Agency, Role
from app.security import allow, user
from app.services import exports
from app.services import settlement as svc

READERS = (Role.AGENCY_ADMIN, Role.AUDITOR, Role.SYS_ADMIN)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
Month = Annotated[str, Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="A month, YYYY-MM.")]
SettlementStatus = Literal[
    "draft", "submitted", "approved", "partly_rejected", "resubmitted", "reconciled"
]


class SettlementQuery(Query):
    agency_id: Id | None = Field(None, description="Cross-agency roles only.")
    status: SettlementStatus | None = None


class SettlementOpen(Body):
    period: Month


class StepIn(Body):
    action: Literal["submit", "resubmit", "approve", "reject", "reconcile"]
    reason: Annotated[str, Field(min_length=1, max_length=300)] | None = None
    payment_ref: Annotated[str, Field(min_length=1, max_length=64)] | None = None


class ReviewIn(Body):
    disallow: bool
    reason: Annotated[str, Field(min_length=1, max_length=300)] | None = None


class LineQuery(Query):
    status: Literal["claimable", "rejected"] | None = None
    review: Literal["pending", "accepted", "disallowed"] | None = None


class ExportQuery(Query):
    format: Literal["csv", "xlsx"] = "csv"


class SettlementOut(Out):
    id: int
    agency_id: int
    period: dt.date
    status: SettlementStatus
    revision: int
    claimed_fen: int
    fund_fen: int
    copay_fen: int
    rejected_fen: int
    disallowed_fen: int
    line_count: int
    payment_ref: str | None
    updated_at: dt.datetime


class ClaimLineOut(Out):
    id: int
    visit_id: int
    verification_id: int | None
    person_id: int
    caregiver_id: int | None
    item_code: str
    service_date: dt.date
    minutes: int
    fund_share_pct: int
    price_fen: int
    fund_fen: int
    copay_fen: int
    status: Literal["claimable", "rejected"]
    reasons: list[str]
    review: Literal["pending", "accepted", "disallowed"]
    review_reason: str | None


class SettlementEventOut(Out):
    id: int
    action: str
    from_status: str | None
    to_status: str
    revision: int
    user_id: int | None
    reason: str | None
    totals: dict[str, int]
    at: dt.datetime


class EventList(Out):
    items: list[SettlementEventOut]


@bp.get("/v1/settlements")
@allow(*READERS)
@spec(query=SettlementQuery, response=Page[SettlementOut])
def list_settlements() -> Response:
    """Settlements, newest month first (agency roles see their agency's)."""
    query = parse_query(SettlementQuery)
    result = svc.list_settlements(db.session, user(), **list_args(query))
    return page_json(result, SettlementOut.model_validate)


@bp.post("/v1/settlements")
@allow(Role.AGENCY_ADMIN)
@spec(body=SettlementOpen, response=SettlementOut, status=201)
def open_settlement() -> Response:
    """Open the agency's settlement of an ended month: a draft with its claim lines built
    from the visits. 200 with the existing one when it is already open."""
    body = parse_body(SettlementOpen)
    period = dt.date.fromisoformat(body.period + "-01")
    settlement, created = svc.open_settlement(db.session, user(), period)
    return one_json(
        SettlementOut.model_validate(settlement),
        201 if created else 200,
        location=f"/api/v1/settlements/{settlement.id}",
    )


@bp.get("/v1/settlements/<int:settlement_id>")
@allow(*READERS)
@spec(response=SettlementOut)
def get_settlement(settlement_id: int) -> Response:
    """One settlement with its totals in fen."""
    return one_json(SettlementOut.model_validate(svc.visible(db.session, user(), settlement_id)))


@bp.get("/v1/settlements/<int:settlement_id>/lines")
@allow(*READERS)
@spec(query=LineQuery, response=Page[ClaimLineOut])
def list_claim_lines(settlement_id: int) -> Response:
    """The claim lines, by service date; rejected lines carry their reasons."""
    query = parse_query(LineQuery)
    result = svc.list_lines(db.session, user(), settlement_id, **list_args(query))
    return page_json(result, ClaimLineOut.model_validate)


@bp.get("/v1/settlements/<int:settlement_id>/events")
@allow(*READERS)
@spec(response=EventList)
def list_settlement_events(settlement_id: int) -> Response:
    """Every step of the settlement, oldest first, with the totals after it."""
    events = svc.history(db.session, user(), settlement_id)
    return one_json(EventList(items=[SettlementEventOut.model_validate(e) for e in events]))


@bp.post("/v1/settlements/<int:settlement_id>/rebuild")
@allow(Role.AGENCY_ADMIN)
@spec(body=Empty, response=SettlementOut, errors=[409])
def rebuild_settlement(settlement_id: int) -> Response:
    """Rebuild the lines from the visits as they are now (draft or partly rejected)."""
    parse_body(Empty)
    return one_json(SettlementOut.model_validate(svc.rebuild(db.session, user(), settlement_id)))


@bp.post("/v1/settlements/<int:settlement_id>/steps")
@allow(Role.AGENCY_ADMIN, Role.AUDITOR)
@spec(body=StepIn, response=SettlementOut, errors=[409])
def step_settlement(settlement_id: int) -> Response:
    """Move the settlement on: the agency submits and resubmits; the auditor approves,
    rejects (with a reason, after disallowing lines) and reconciles (with the payment
    reference). 409 when its state does not allow the step or someone moved it first."""
    body = parse_body(StepIn)
    settlement = svc.advance(
        db.session,
        user(),
        settlement_id,
        body.action,
        reason=body.reason,
        payment_ref=body.payment_ref,
    )
    return one_json(SettlementOut.model_validate(settlement))


@bp.post("/v1/settlements/<int:settlement_id>/lines/<int:line_id>/review")
@allow(Role.AUDITOR)
@spec(body=ReviewIn, response=ClaimLineOut, errors=[409])
def review_claim_line(settlement_id: int, line_id: int) -> Response:
    """Disallow a claimable line (a reason is required) or accept it again, while the
    settlement is under review."""
    body = parse_body(ReviewIn)
    line = svc.review_line(
        db.session, user(), settlement_id, line_id, disallow=body.disallow, reason=body.reason
    )
    return one_json(ClaimLineOut.model_validate(line))


@bp.get("/v1/settlements/<int:settlement_id>/export")
@allow(*READERS)
@spec(query=ExportQuery, files=("text/csv", XLSX))
def export_settlement(settlement_id: int) -> Response:
    """The claim lines as CSV (UTF-8 with BOM, streamed) or XLSX; every export is logged."""
    query = parse_query(ExportQuery)
    actor = user()
    settlement = svc.visible(db.session, actor, settlement_id)
    exports.log_export(db.session, actor, settlement, query.format)
    agency = db.session.get(Agency, settlement.agency_id)
    assert agency is not None
    name = exports.filename(settlement, agency.code, query.format)
    header = exports.headers()
    if query.format == "csv":
        chunks = exports.csv_chunks(header, exports.rows(db.session, settlement))
        response = Response(stream_with_context(chunks), mimetype="text/csv")
        response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
        return response
    path = exports.write_xlsx(header, exports.rows(db.session, settlement), name)
    handle = open(path, "rb")  # noqa: SIM115  (the response closes it)
    os.remove(path)  # the open handle keeps the data until the response is closed
    return send_file(handle, as_attachment=True, download_name=name, mimetype=XLSX)
