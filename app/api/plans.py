"""/api/v1/plans: care plans, drafted by the agency and approved by the insurer.

Plans are health data: every plan returned, in a list or alone, is logged.
"""

from __future__ import annotations

from flask import Response, url_for

from app.api import bp
from app.api.http import list_args, one_json, page_json, parse_body, parse_query, spec
from app.api.schemas import Empty, Page, PlanCreate, PlanOut, PlanQuery, PlanUpdate
from app.extensions import db
from app.models import Role
from app.security import STAFF_ROLES, allow, user
from app.services import plans

MANAGERS = (Role.DISPATCHER, Role.AGENCY_ADMIN)
INSURER = (Role.AUDITOR, Role.SYS_ADMIN)


@bp.get("/v1/plans")
@allow(*STAFF_ROLES)
@spec(query=PlanQuery, response=Page[PlanOut])
def list_plans() -> Response:
    """List care plans with their items (each plan returned is logged as a health read)."""
    query = parse_query(PlanQuery)
    result = plans.list_plans(db.session, user(), **list_args(query))
    return page_json(result, PlanOut.model_validate)


@bp.get("/v1/plans/<int:plan_id>")
@allow(*STAFF_ROLES)
@spec(response=PlanOut)
def get_plan(plan_id: int) -> Response:
    """Read one care plan with its items (logged)."""
    return one_json(PlanOut.model_validate(plans.read_plan(db.session, user(), plan_id)))


@bp.post("/v1/plans")
@allow(*MANAGERS)
@spec(body=PlanCreate, response=PlanOut, status=201)
def create_plan() -> Response:
    """Draft a care plan with its items for a person of the caller's agency.

    Unknown or foreign ids in the body (person_id, items[i].service_item_id,
    items[i].preferred_caregiver_id) are answered 400 naming the field.
    """
    body = parse_body(PlanCreate)
    plan = plans.create_plan(db.session, user(), body.model_dump())
    location = url_for("api.get_plan", plan_id=plan.id)
    return one_json(PlanOut.model_validate(plan), 201, location)


@bp.patch("/v1/plans/<int:plan_id>")
@allow(*MANAGERS)
@spec(body=PlanUpdate, response=PlanOut, errors=[409])
def update_plan(plan_id: int) -> Response:
    """Change a draft plan (409 once it is approved); given items replace all items."""
    body = parse_body(PlanUpdate)
    plan = plans.update_plan(db.session, user(), plan_id, body.model_dump(exclude_unset=True))
    return one_json(PlanOut.model_validate(plan))


@bp.post("/v1/plans/<int:plan_id>/approve")
@allow(*INSURER)
@spec(body=Empty, response=PlanOut, errors=[409])
def approve_plan(plan_id: int) -> Response:
    """Approve a plan: the insurer's act, so auditors and operators only.

    409 when the plan has expired (valid_to before today), is not a draft or suspended,
    overlaps another approved plan of the person, or the person is not active or not
    eligible (latest valid assessment below grade 3, or disabled less than 6 months) on
    the later of today and the plan's first day. Send an empty JSON object.
    """
    parse_body(Empty)
    return one_json(PlanOut.model_validate(plans.approve_plan(db.session, user(), plan_id)))
