"""/api/v1/agencies: the certified home-care providers."""

from __future__ import annotations

from flask import Response, url_for

from app.api import bp
from app.api.http import list_args, one_json, page_json, parse_body, parse_query, spec
from app.api.schemas import AgencyCreate, AgencyOut, AgencyQuery, AgencyUpdate, Page
from app.extensions import db
from app.models import Role
from app.security import ALL_ROLES, allow, user
from app.services import agencies


@bp.get("/v1/agencies")
@allow(*ALL_ROLES)
@spec(query=AgencyQuery, response=Page[AgencyOut])
def list_agencies() -> Response:
    """List agencies.

    Agency staff see only their own agency; auditors and operators see all.
    """
    query = parse_query(AgencyQuery)
    result = agencies.list_agencies(db.session, user(), **list_args(query))
    return page_json(result, AgencyOut.model_validate)


@bp.get("/v1/agencies/<int:agency_id>")
@allow(*ALL_ROLES)
@spec(response=AgencyOut)
def get_agency(agency_id: int) -> Response:
    """Read one agency."""
    return one_json(AgencyOut.model_validate(agencies.get_agency(db.session, user(), agency_id)))


@bp.post("/v1/agencies")
@allow(Role.SYS_ADMIN)
@spec(body=AgencyCreate, response=AgencyOut, status=201, errors=[409])
def create_agency() -> Response:
    """Register an agency (operators only).

    409 when the code or the licence number is already registered.
    """
    body = parse_body(AgencyCreate)
    agency = agencies.create_agency(db.session, user(), body.model_dump())
    location = url_for("api.get_agency", agency_id=agency.id)
    return one_json(AgencyOut.model_validate(agency), 201, location)


@bp.patch("/v1/agencies/<int:agency_id>")
@allow(Role.SYS_ADMIN)
@spec(body=AgencyUpdate, response=AgencyOut, errors=[409])
def update_agency(agency_id: int) -> Response:
    """Change an agency (operators only)."""
    body = parse_body(AgencyUpdate)
    agency = agencies.update_agency(
        db.session, user(), agency_id, body.model_dump(exclude_unset=True)
    )
    return one_json(AgencyOut.model_validate(agency))
