"""Caregivers, volunteers and the insured persons they serve, with their assessments."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    Time,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, TimestampMixin, UTCDateTime
from .enums import Gender, PersonStatus, Skill, TravelMode, check_in

_LAT_OK = "BETWEEN -90 AND 90"
_LON_OK = "BETWEEN -180 AND 180"


class Caregiver(TimestampMixin, Base):
    """Paid staff of an agency, with a home place, travel mode and default shift."""

    __tablename__ = "caregiver"
    __table_args__ = (
        UniqueConstraint("agency_id", "staff_no", name="uq_caregiver_agency_staff_no"),
        check_in("gender", Gender),
        check_in("travel_mode", TravelMode),
        CheckConstraint(f"home_lat {_LAT_OK}", name="home_lat_range"),
        CheckConstraint(f"home_lon {_LON_OK}", name="home_lon_range"),
        CheckConstraint("shift_end > shift_start", name="shift_order"),
        CheckConstraint("break_min >= 0", name="break_min_nonneg"),
        CheckConstraint("max_work_min > 0", name="max_work_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), index=True)
    staff_no: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(100))
    gender: Mapped[str] = mapped_column(String(1))
    phone: Mapped[str | None] = mapped_column(String(32))
    home_lat: Mapped[float] = mapped_column(Float)
    home_lon: Mapped[float] = mapped_column(Float)
    travel_mode: Mapped[str] = mapped_column(String(8), default=TravelMode.EBIKE)
    shift_start: Mapped[dt.time] = mapped_column(Time, default=dt.time(8, 0))
    shift_end: Mapped[dt.time] = mapped_column(Time, default=dt.time(17, 0))
    break_window_start: Mapped[dt.time | None] = mapped_column(Time)
    break_window_end: Mapped[dt.time | None] = mapped_column(Time)
    break_min: Mapped[int] = mapped_column(Integer, default=0)
    max_work_min: Mapped[int] = mapped_column(Integer, default=480)
    max_visits: Mapped[int | None] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    qualifications: Mapped[list[Qualification]] = relationship(
        back_populates="caregiver", cascade="all, delete-orphan", order_by="Qualification.skill"
    )


class Qualification(Base):
    """A certified skill of a caregiver, with its level and expiry."""

    __tablename__ = "qualification"
    __table_args__ = (
        UniqueConstraint("caregiver_id", "skill", name="uq_qualification_caregiver_skill"),
        check_in("skill", Skill),
        CheckConstraint("level BETWEEN 1 AND 5", name="level_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    caregiver_id: Mapped[int] = mapped_column(ForeignKey("caregiver.id"), index=True)
    skill: Mapped[str] = mapped_column(String(32))
    level: Mapped[int] = mapped_column(Integer, default=1)
    expires_on: Mapped[dt.date | None] = mapped_column(Date)

    caregiver: Mapped[Caregiver] = relationship(back_populates="qualifications")


class Volunteer(TimestampMixin, Base):
    """A time-bank member who gives companionship and light help."""

    __tablename__ = "volunteer"
    __table_args__ = (
        check_in("gender", Gender),
        check_in("travel_mode", TravelMode),
        CheckConstraint(f"home_lat {_LAT_OK}", name="home_lat_range"),
        CheckConstraint(f"home_lon {_LON_OK}", name="home_lon_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), index=True)
    member_no: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    gender: Mapped[str] = mapped_column(String(1))
    birth_date: Mapped[dt.date] = mapped_column(Date)
    phone: Mapped[str | None] = mapped_column(String(32))
    home_lat: Mapped[float] = mapped_column(Float)
    home_lon: Mapped[float] = mapped_column(Float)
    travel_mode: Mapped[str] = mapped_column(String(8), default=TravelMode.WALK)
    # {"mon": [["09:00", "12:00"]], ...}: weekly availability in local time.
    availability: Mapped[dict[str, list[list[str]]]] = mapped_column(JSON, default=dict)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    relatives: Mapped[list[VolunteerRelative]] = relationship(
        back_populates="volunteer",
        cascade="all, delete-orphan",
        foreign_keys="VolunteerRelative.volunteer_id",
    )


class VolunteerRelative(Base):
    """A registered relative of a member: another member or an insured person.

    Gifts of time credits and redemption on a relative's behalf are allowed only along
    these links.
    """

    __tablename__ = "volunteer_relative"
    __table_args__ = (
        CheckConstraint(
            "(relative_volunteer_id IS NOT NULL) OR (relative_person_id IS NOT NULL)",
            name="has_relative",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    volunteer_id: Mapped[int] = mapped_column(ForeignKey("volunteer.id"), index=True)
    relation: Mapped[str] = mapped_column(String(32))
    relative_volunteer_id: Mapped[int | None] = mapped_column(ForeignKey("volunteer.id"))
    relative_person_id: Mapped[int | None] = mapped_column(ForeignKey("insured_person.id"))

    volunteer: Mapped[Volunteer] = relationship(
        back_populates="relatives", foreign_keys=[volunteer_id]
    )


class InsuredPerson(TimestampMixin, Base):
    """A person covered by LTCI. The ID number is masked in every listing and export."""

    __tablename__ = "insured_person"
    __table_args__ = (
        check_in("gender", Gender),
        check_in("status", PersonStatus),
        CheckConstraint(f"lat {_LAT_OK}", name="lat_range"),
        CheckConstraint(f"lon {_LON_OK}", name="lon_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    gender: Mapped[str] = mapped_column(String(1))
    birth_date: Mapped[dt.date] = mapped_column(Date)
    id_number: Mapped[str] = mapped_column(String(18), unique=True)
    address: Mapped[str] = mapped_column(String(300))
    district: Mapped[str] = mapped_column(String(50))
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    phone: Mapped[str | None] = mapped_column(String(32))
    emergency_contact_name: Mapped[str | None] = mapped_column(String(100))
    emergency_contact_phone: Mapped[str | None] = mapped_column(String(32))
    consent_given_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    consent_by: Mapped[str | None] = mapped_column(String(100))
    disability_since: Mapped[dt.date | None] = mapped_column(Date)
    care_notes: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=PersonStatus.ACTIVE)
    # argon2 hash of the PIN the person or family gives to confirm a visit; never the PIN.
    confirmation_pin_hash: Mapped[str | None] = mapped_column(String(255))

    assessments: Mapped[list[Assessment]] = relationship(
        back_populates="person", order_by="Assessment.assessed_at"
    )

    @property
    def id_number_masked(self) -> str:
        return mask_id_number(self.id_number)

    @property
    def has_confirmation_pin(self) -> bool:
        return self.confirmation_pin_hash is not None


def mask_id_number(id_number: str) -> str:
    """Keep the first 4 and last 4 characters of a resident ID number."""
    if len(id_number) <= 8:
        return "*" * len(id_number)
    return id_number[:4] + "*" * (len(id_number) - 8) + id_number[-4:]


class Assessment(TimestampMixin, Base):
    """A disability assessment on the national 2021 standard.

    Item scores are kept as given; totals and the grade are derived by the policy file's
    tables (``app/policy``) when the assessment is recorded.
    """

    __tablename__ = "assessment"
    __table_args__ = (
        CheckConstraint("grade BETWEEN 0 AND 5", name="grade_range"),
        CheckConstraint("valid_until >= assessed_at", name="validity_order"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("insured_person.id"), index=True)
    adl_scores: Mapped[list[int]] = mapped_column(JSON)
    cognition_scores: Mapped[list[int]] = mapped_column(JSON)
    perception_scores: Mapped[list[int]] = mapped_column(JSON)
    adl_total: Mapped[int] = mapped_column(Integer)
    cognition_total: Mapped[int] = mapped_column(Integer)
    perception_total: Mapped[int] = mapped_column(Integer)
    grade: Mapped[int] = mapped_column(Integer)
    assessed_at: Mapped[dt.date] = mapped_column(Date)
    assessor: Mapped[str] = mapped_column(String(100))
    valid_until: Mapped[dt.date] = mapped_column(Date)

    person: Mapped[InsuredPerson] = relationship(back_populates="assessments")
