"""/api/v1/visits: the visits of approved plans, by date."""

from __future__ import annotations

from flask import Response, url_for

from app.api import bp
from app.api.http import list_args, one_json, page_json, parse_body, parse_query, spec
from app.api.schemas import Page, VisitCancel, VisitCreate, VisitOut, VisitQuery, VisitUpdate
from app.extensions import db
from app.models import Role, Visit
from app.security import ALL_ROLES, allow, user
from app.services import visits_manual, visits_query

MANAGERS = (Role.DISPATCHER, Role.AGENCY_ADMIN)


def visit_out(visit: Visit, assigned: tuple[list[int], list[int]]) -> VisitOut:
    out = VisitOut.model_validate(visit)
    out.caregiver_ids, out.volunteer_ids = assigned
    return out


def one_visit(visit: Visit, status: int = 200, location: str | None = None) -> Response:
    assigned = visits_query.assignees(db.session, [visit])[visit.id]
    return one_json(visit_out(visit, assigned), status, location)


@bp.get("/v1/visits")
@allow(*ALL_ROLES)
@spec(query=VisitQuery, response=Page[VisitOut])
def list_visits() -> Response:
    """List visits, by date, then priority.

    Agency staff see their agency's, auditors and operators all, caregivers and
    volunteers only the visits assigned to them.
    """
    query = parse_query(VisitQuery)
    result = visits_query.list_visits(db.session, user(), **list_args(query))
    assigned = visits_query.assignees(db.session, result.items)
    return page_json(result, lambda v: visit_out(v, assigned[v.id]))


@bp.get("/v1/visits/<int:visit_id>")
@allow(*ALL_ROLES)
@spec(response=VisitOut)
def get_visit(visit_id: int) -> Response:
    """Read one visit."""
    return one_visit(visits_query.get_visit(db.session, user(), visit_id))


@bp.post("/v1/visits")
@allow(*MANAGERS)
@spec(body=VisitCreate, response=VisitOut, status=201, errors=[409])
def create_visit() -> Response:
    """Add a manual (for example urgent) visit of an approved plan item.

    The date must be today or later and inside the plan's validity (400 naming date);
    409 when the plan is not approved or the person is not eligible on that date.
    """
    body = parse_body(VisitCreate)
    visit = visits_manual.create_visit(db.session, user(), body.model_dump())
    return one_visit(visit, 201, url_for("api.get_visit", visit_id=visit.id))


@bp.patch("/v1/visits/<int:visit_id>")
@allow(*MANAGERS)
@spec(body=VisitUpdate, response=VisitOut, errors=[409])
def update_visit(visit_id: int) -> Response:
    """Change windows, duration or priority of a planned or assigned visit (else 409)."""
    body = parse_body(VisitUpdate)
    visit = visits_manual.update_visit(
        db.session, user(), visit_id, body.model_dump(exclude_unset=True)
    )
    return one_visit(visit)


@bp.post("/v1/visits/<int:visit_id>/cancel")
@allow(*MANAGERS)
@spec(body=VisitCancel, response=VisitOut, errors=[409])
def cancel_visit(visit_id: int) -> Response:
    """Cancel a planned or assigned visit, with a reason (409 from any other status)."""
    body = parse_body(VisitCancel)
    visit = visits_manual.cancel_visit(db.session, user(), visit_id, body.reason)
    return one_visit(visit)
