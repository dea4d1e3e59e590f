"""/api/v1/evv: the dispatchers' side of verified visits — the exception queue, decisions
on exceptions, and every verification record of a visit."""

from __future__ import annotations

from flask import Response

from app.api import bp
from app.api.http import list_args, one_json, page_json, parse_body, parse_query, spec
from app.api.mobile_schemas import (
    DecisionIn,
    EvvOut,
    QueueItemOut,
    QueueQuery,
    VisitEvvOut,
)
from app.api.schemas import Page
from app.extensions import db
from app.models import Role
from app.security import STAFF_ROLES, allow, user
from app.services import evv

MANAGERS = (Role.DISPATCHER, Role.AGENCY_ADMIN)


@bp.get("/v1/evv/exceptions")
@allow(*STAFF_ROLES)
@spec(query=QueueQuery, response=Page[QueueItemOut])
def list_evv_exceptions() -> Response:
    """Visits whose verification found problems, waiting for a decision (oldest first)."""
    query = parse_query(QueueQuery)
    result = evv.exception_queue(db.session, user(), **list_args(query))
    return page_json(result, queue_item)


@bp.post("/v1/evv/verifications/<int:verification_id>/decision")
@allow(*MANAGERS)
@spec(body=DecisionIn, response=EvvOut, status=201, errors=[409])
def decide_evv_exception(verification_id: int) -> Response:
    """Approve (the visit counts as verified) or reject an exception, with a reason.

    The decision is a new record superseding the exception; 409 when it was already
    decided or the visit is locked.
    """
    body = parse_body(DecisionIn)
    record = evv.decide(
        db.session, user(), verification_id, approve=body.approve, reason=body.reason
    )
    return one_json(EvvOut.model_validate(record), 201)


@bp.get("/v1/evv/visits/<int:visit_id>")
@allow(*STAFF_ROLES)
@spec(response=VisitEvvOut)
def get_visit_evv(visit_id: int) -> Response:
    """A visit's status and its verification records, history included."""
    visit, records = evv.visit_evv(db.session, user(), visit_id)
    return one_json(
        VisitEvvOut(
            visit_id=visit.id,
            status=visit.status,  # type: ignore[arg-type]
            verified_at=visit.verified_at,
            records=[EvvOut.model_validate(r) for r in records],
        )
    )


def queue_item(entry: evv.QueueEntry) -> QueueItemOut:
    return QueueItemOut(
        verification=EvvOut.model_validate(entry.verification),
        visit_date=entry.visit.date,
        visit_status=entry.visit.status,  # type: ignore[arg-type]
        windows=entry.visit.windows,
        duration_min=entry.visit.duration_min,
        person_name=entry.person_name,
        worker_name=entry.worker_name,
    )
