"""/api/v1/caregivers and /api/v1/volunteers: the people who give the care."""

from __future__ import annotations

from flask import Response, url_for

from app.api import bp
from app.api.http import list_args, one_json, page_json, parse_body, parse_query, spec
from app.api.schemas import (
    CaregiverCreate,
    CaregiverOut,
    CaregiverQuery,
    CaregiverUpdate,
    Page,
    VolunteerCreate,
    VolunteerOut,
    VolunteerQuery,
    VolunteerUpdate,
)
from app.extensions import db
from app.models import Role
from app.security import STAFF_ROLES, allow, user
from app.services import caregivers, volunteers

MANAGERS = (Role.DISPATCHER, Role.AGENCY_ADMIN)


@bp.get("/v1/caregivers")
@allow(*STAFF_ROLES)
@spec(query=CaregiverQuery, response=Page[CaregiverOut])
def list_caregivers() -> Response:
    """List caregivers of the caller's agency (all agencies for auditors and operators)."""
    query = parse_query(CaregiverQuery)
    result = caregivers.list_caregivers(db.session, user(), **list_args(query))
    return page_json(result, CaregiverOut.model_validate)


@bp.get("/v1/caregivers/<int:caregiver_id>")
@allow(*STAFF_ROLES)
@spec(response=CaregiverOut)
def get_caregiver(caregiver_id: int) -> Response:
    """Read one caregiver with qualifications."""
    row = caregivers.get_caregiver(db.session, user(), caregiver_id)
    return one_json(CaregiverOut.model_validate(row))


@bp.post("/v1/caregivers")
@allow(*MANAGERS)
@spec(body=CaregiverCreate, response=CaregiverOut, status=201, errors=[409])
def create_caregiver() -> Response:
    """Add a caregiver to the caller's agency; 409 when the staff number is taken there."""
    body = parse_body(CaregiverCreate)
    row = caregivers.create_caregiver(db.session, user(), body.model_dump())
    location = url_for("api.get_caregiver", caregiver_id=row.id)
    return one_json(CaregiverOut.model_validate(row), 201, location)


@bp.patch("/v1/caregivers/<int:caregiver_id>")
@allow(*MANAGERS)
@spec(body=CaregiverUpdate, response=CaregiverOut, errors=[409])
def update_caregiver(caregiver_id: int) -> Response:
    """Change a caregiver; a given qualifications list replaces the old one."""
    body = parse_body(CaregiverUpdate)
    row = caregivers.update_caregiver(
        db.session, user(), caregiver_id, body.model_dump(exclude_unset=True)
    )
    return one_json(CaregiverOut.model_validate(row))


@bp.get("/v1/volunteers")
@allow(*STAFF_ROLES)
@spec(query=VolunteerQuery, response=Page[VolunteerOut])
def list_volunteers() -> Response:
    """List time-bank volunteers of the caller's agency (all for auditors and operators)."""
    query = parse_query(VolunteerQuery)
    result = volunteers.list_volunteers(db.session, user(), **list_args(query))
    return page_json(result, VolunteerOut.model_validate)


@bp.get("/v1/volunteers/<int:volunteer_id>")
@allow(*STAFF_ROLES)
@spec(response=VolunteerOut)
def get_volunteer(volunteer_id: int) -> Response:
    """Read one volunteer."""
    row = volunteers.get_volunteer(db.session, user(), volunteer_id)
    return one_json(VolunteerOut.model_validate(row))


@bp.post("/v1/volunteers")
@allow(*MANAGERS)
@spec(body=VolunteerCreate, response=VolunteerOut, status=201, errors=[409])
def create_volunteer() -> Response:
    """Enrol a volunteer in the caller's agency; 409 when the member number is taken."""
    body = parse_body(VolunteerCreate)
    row = volunteers.create_volunteer(db.session, user(), body.model_dump())
    location = url_for("api.get_volunteer", volunteer_id=row.id)
    return one_json(VolunteerOut.model_validate(row), 201, location)


@bp.patch("/v1/volunteers/<int:volunteer_id>")
@allow(*MANAGERS)
@spec(body=VolunteerUpdate, response=VolunteerOut, errors=[409])
def update_volunteer(volunteer_id: int) -> Response:
    """Change a volunteer."""
    body = parse_body(VolunteerUpdate)
    row = volunteers.update_volunteer(
        db.session, user(), volunteer_id, body.model_dump(exclude_unset=True)
    )
    return one_json(VolunteerOut.model_validate(row))
