"""Closed vocabularies stored as strings, each checked by a named CHECK constraint."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import CheckConstraint


class Role(StrEnum):
    DISPATCHER = "dispatcher"
    CAREGIVER = "caregiver"
    VOLUNTEER = "volunteer"
    AGENCY_ADMIN = "agency_admin"
    AUDITOR = "auditor"
    SYS_ADMIN = "sys_admin"


# Roles whose reads are not limited to one agency: the insurer's auditors and the operators.
CROSS_AGENCY_ROLES = frozenset({Role.AUDITOR, Role.SYS_ADMIN})


class Gender(StrEnum):
    FEMALE = "f"
    MALE = "m"


class TravelMode(StrEnum):
    WALK = "walk"
    EBIKE = "ebike"
    CAR = "car"


class PersonStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    WITHDRAWN = "withdrawn"
    DECEASED = "deceased"


class PlanStatus(StrEnum):
    DRAFT = "draft"
    APPROVED = "approved"
    SUSPENDED = "suspended"
    ENDED = "ended"


class VisitStatus(StrEnum):
    PLANNED = "planned"
    ASSIGNED = "assigned"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    VERIFIED = "verified"
    CANCELLED = "cancelled"
    MISSED = "missed"


class Skill(StrEnum):
    PERSONAL_CARE = "personal_care"
    NURSING = "nursing"
    REHAB = "rehab"
    COMPANIONSHIP = "companionship"
    HOUSEHOLD = "household"


class ItemCategory(StrEnum):
    BASIC_CARE = "basic_care"
    MEDICAL_CARE = "medical_care"
    REHAB = "rehab"
    COMPANIONSHIP = "companionship"
    HOUSEHOLD = "household"


def check_in(column: str, enum: type[StrEnum], name: str | None = None) -> CheckConstraint:
    """A named CHECK constraint keeping ``column`` inside ``enum``'s values."""
    values = ", ".join(f"'{member.value}'" for member in enum)
    return CheckConstraint(f"{column} IN ({values})", name=name or f"{column}_valid")
