"""/api/v1/persons and their assessments.

The ID number is masked in every list; a single read shows it in full to agency staff,
auditors and operators, masked to caregivers and volunteers. Care notes appear only in a
single read, never to volunteers, and each such read is logged; so is every assessment read.
"""

from __future__ import annotations

from flask import Response, jsonify, url_for

from app.api import bp
from app.api.http import dump, list_args, one_json, page_json, parse_body, parse_query, spec
from app.api.schemas import (
    AssessmentCreate,
    AssessmentList,
    AssessmentOut,
    Page,
    PersonCreate,
    PersonDetail,
    PersonOut,
    PersonQuery,
    PersonUpdate,
)
from app.extensions import db
from app.models import InsuredPerson, Role, User, mask_id_number
from app.security import ALL_ROLES, STAFF_ROLES, allow, user
from app.services import persons

MANAGERS = (Role.DISPATCHER, Role.AGENCY_ADMIN)
INSURER = (Role.AUDITOR, Role.SYS_ADMIN)


def person_summary(person: InsuredPerson) -> PersonOut:
    out = PersonOut.model_validate(person)
    out.id_number = mask_id_number(person.id_number)
    return out


def person_detail(person: InsuredPerson, actor: User) -> PersonDetail:
    out = PersonDetail.model_validate(person)
    if not persons.shows_full_id_number(actor):
        out.id_number = mask_id_number(person.id_number)
    if not persons.shows_care_notes(actor):
        out.care_notes = None
    return out


@bp.get("/v1/persons")
@allow(*ALL_ROLES)
@spec(query=PersonQuery, response=Page[PersonOut])
def list_persons() -> Response:
    """List insured persons (ID numbers masked).

    Agency staff see their agency's persons, auditors and operators all, caregivers and
    volunteers only the persons on their own visits.
    """
    query = parse_query(PersonQuery)
    result = persons.list_persons(db.session, user(), **list_args(query))
    return page_json(result, person_summary)


@bp.get("/v1/persons/<int:person_id>")
@allow(*ALL_ROLES)
@spec(response=PersonDetail)
def get_person(person_id: int) -> Response:
    """Read one person, with care notes (logged).

    The ID number is in full for dispatchers, agency admins, auditors and operators, and
    masked for caregivers and volunteers; care notes are null for volunteers.
    """
    actor = user()
    person = persons.read_person(db.session, actor, person_id)
    return one_json(person_detail(person, actor))


@bp.post("/v1/persons")
@allow(*MANAGERS)
@spec(body=PersonCreate, response=PersonDetail, status=201, errors=[409])
def create_person() -> Response:
    """Register an insured person in the caller's agency.

    409 when the ID number is already registered (in any agency).
    """
    actor = user()
    body = parse_body(PersonCreate)
    person = persons.create_person(db.session, actor, body.model_dump())
    location = url_for("api.get_person", person_id=person.id)
    return one_json(person_detail(person, actor), 201, location)


@bp.patch("/v1/persons/<int:person_id>")
@allow(*MANAGERS)
@spec(body=PersonUpdate, response=PersonDetail, errors=[409])
def update_person(person_id: int) -> Response:
    """Change a person of the caller's agency."""
    actor = user()
    body = parse_body(PersonUpdate)
    person = persons.update_person(
        db.session, actor, person_id, body.model_dump(exclude_unset=True)
    )
    return one_json(person_detail(person, actor))


@bp.get("/v1/persons/<int:person_id>/assessments")
@allow(*STAFF_ROLES)
@spec(response=AssessmentList)
def list_assessments(person_id: int) -> Response:
    """A person's disability assessments, oldest first (each read is logged)."""
    rows = persons.list_assessments(db.session, user(), person_id)
    return jsonify({"items": [dump(AssessmentOut.model_validate(a)) for a in rows]})


@bp.post("/v1/persons/<int:person_id>/assessments")
@allow(*INSURER)
@spec(body=AssessmentCreate, response=AssessmentOut, status=201)
def create_assessment(person_id: int) -> Response:
    """Record an assessment; the grade is computed from the item scores by the policy.

    Assessment is the insurer's act (done by its commissioned assessors, not by the agency
    that is paid for the care), so only auditors and operators record one. Item scores
    are checked against the policy's scales; errors name the item, like adl_scores[3].
    """
    body = parse_body(AssessmentCreate)
    row = persons.add_assessment(db.session, user(), person_id, body.model_dump())
    location = url_for("api.get_assessment", assessment_id=row.id)
    return one_json(AssessmentOut.model_validate(row), 201, location)


@bp.get("/v1/assessments/<int:assessment_id>")
@allow(*STAFF_ROLES)
@spec(response=AssessmentOut)
def get_assessment(assessment_id: int) -> Response:
    """Read one assessment (logged)."""
    row = persons.read_assessment(db.session, user(), assessment_id)
    return one_json(AssessmentOut.model_validate(row))
