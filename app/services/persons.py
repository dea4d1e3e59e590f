"""Insured persons and their assessments: who may see whom, and what of them.

Agency staff see their agency's persons; auditors and operators see all; a caregiver or a
volunteer sees only the persons on their own visits. The full ID number is shown only on
a single person read by staff; care notes are health data, shown to staff and caregivers
(never volunteers) and every read of them is logged.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from app.models import Assessment, InsuredPerson, Role, User
from app.security import log_health_read, own_person_ids
from app.services.assessments import record_assessment
from app.services.crud import (
    PageResult,
    apply,
    ensure_unique,
    filter_agency,
    get_visible,
    invalid,
    own_agency_id,
    paginate,
    visible_to,
)
from app.services.evv_confirmation import set_pin

OWN_VISIT_ROLES = frozenset({Role.CAREGIVER, Role.VOLUNTEER})
FULL_ID_ROLES = frozenset({Role.DISPATCHER, Role.AGENCY_ADMIN, Role.AUDITOR, Role.SYS_ADMIN})


def shows_full_id_number(actor: User) -> bool:
    """Whether ``actor`` sees a person's full ID number on a single read (never in lists)."""
    return actor.role in FULL_ID_ROLES


def shows_care_notes(actor: User) -> bool:
    return actor.role != Role.VOLUNTEER


def visible_persons(actor: User) -> Select[Any]:
    """Persons ``actor`` may read."""
    stmt = visible_to(select(InsuredPerson), InsuredPerson.agency_id, actor)
    if actor.role in OWN_VISIT_ROLES:
        stmt = stmt.where(InsuredPerson.id.in_(own_person_ids(actor)))
    return stmt


def list_persons(
    session: Session,
    actor: User,
    *,
    district: str | None = None,
    status: str | None = None,
    q: str | None = None,
    agency_id: int | None = None,
    page: int = 1,
    per_page: int = 50,
) -> PageResult[InsuredPerson]:
    stmt = filter_agency(session, visible_persons(actor), InsuredPerson.agency_id, actor, agency_id)
    if district:
        stmt = stmt.where(InsuredPerson.district == district)
    if status:
        stmt = stmt.where(InsuredPerson.status == status)
    if q:
        pattern = f"%{q}%"
        stmt = stmt.where(
            or_(InsuredPerson.name.ilike(pattern), InsuredPerson.address.ilike(pattern))
        )
    return paginate(session, stmt.order_by(InsuredPerson.id), page, per_page)


def find_person(session: Session, actor: User, person_id: int) -> InsuredPerson:
    """A person ``actor`` may read, or NotFound (also when it exists but is hidden)."""
    stmt = visible_persons(actor).where(InsuredPerson.id == person_id)
    return get_visible(session, stmt, _("Person"))  # type: ignore[no-any-return]


def read_person(session: Session, actor: User, person_id: int) -> InsuredPerson:
    """A person for a detail view; logs the read of the care notes when they are shown."""
    person = find_person(session, actor, person_id)
    if shows_care_notes(actor):
        _log_notes(session, actor, person)
        session.commit()
    return person


def _log_notes(session: Session, actor: User, person: InsuredPerson) -> None:
    # Create and update answer with the whole record, care notes included: a read too.
    session.flush()
    log_health_read(session, actor, "person", person.id, "care_notes")


def _check(session: Session, fields: Mapping[str, Any], current: InsuredPerson | None) -> None:
    if "id_number" in fields:
        ensure_unique(
            session,
            InsuredPerson.id_number,
            fields["id_number"],
            "id_number",
            exclude_id=current.id if current else None,
        )
    id_number = fields.get("id_number", current.id_number if current else None)
    birth_date: dt.date | None = fields.get("birth_date", current.birth_date if current else None)
    touched = "id_number" in fields or "birth_date" in fields
    if touched and id_number and birth_date and id_number[6:14] != birth_date.strftime("%Y%m%d"):
        field = "id_number" if "id_number" in fields else "birth_date"
        raise invalid(field, _("The ID number and the birth date disagree."))
    since = fields.get("disability_since", current.disability_since if current else None)
    if since is not None and birth_date is not None and since < birth_date:
        raise invalid("disability_since", _("Must not be before the birth date."))


def create_person(session: Session, actor: User, fields: Mapping[str, Any]) -> InsuredPerson:
    """Register a person in ``actor``'s agency."""
    agency_id = own_agency_id(actor)
    _check(session, fields, None)
    person = InsuredPerson(agency_id=agency_id, **fields)
    session.add(person)
    _log_notes(session, actor, person)
    session.commit()
    return person


def update_person(
    session: Session, actor: User, person_id: int, fields: Mapping[str, Any]
) -> InsuredPerson:
    person = find_person(session, actor, person_id)
    _check(session, fields, person)
    changes = dict(fields)
    if "confirmation_pin" in changes:
        set_pin(person, changes.pop("confirmation_pin"))
    apply(person, changes)
    _log_notes(session, actor, person)
    session.commit()
    return person


# --- assessments ---------------------------------------------------------------------------


def list_assessments(session: Session, actor: User, person_id: int) -> list[Assessment]:
    """A person's assessments, oldest first; each one read is logged."""
    person = find_person(session, actor, person_id)
    rows = list(
        session.scalars(
            select(Assessment)
            .where(Assessment.person_id == person.id)
            .order_by(Assessment.assessed_at, Assessment.id)
        )
    )
    for row in rows:
        log_health_read(session, actor, "assessment", row.id, "assessment")
    session.commit()
    return rows


def read_assessment(session: Session, actor: User, assessment_id: int) -> Assessment:
    stmt = (
        select(Assessment)
        .join(InsuredPerson, InsuredPerson.id == Assessment.person_id)
        .where(
            Assessment.id == assessment_id,
            InsuredPerson.id.in_(visible_persons(actor).with_only_columns(InsuredPerson.id)),
        )
    )
    row: Assessment = get_visible(session, stmt, _("Assessment"))
    log_health_read(session, actor, "assessment", row.id, "assessment")
    session.commit()
    return row


def add_assessment(
    session: Session, actor: User, person_id: int, fields: Mapping[str, Any]
) -> Assessment:
    """Record an assessment of a visible person (graded by the policy; commits).

    The assessment and the access-log row of the answer are two commits, because
    ``record_assessment`` owns its own.
    """
    person = find_person(session, actor, person_id)
    assessment = record_assessment(session, person, **fields)
    # record_assessment commits on its own; the answer shows the assessment, so log it.
    log_health_read(session, actor, "assessment", assessment.id, "assessment")
    session.commit()
    return assessment
