"""The service-item catalogue, approved care plans and the visits made from them."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, TimestampMixin, UTCDateTime
from .enums import Gender, ItemCategory, PlanStatus, Skill, VisitStatus, check_in
from .people import Caregiver, InsuredPerson

# Windows are stored as [["HH:MM", "HH:MM"], ...] in local time: readable in the database
# and in exports, and exactly what the day-problem format takes.
Windows = list[list[str]]


class ServiceItem(Base):
    """An item of the LTCI home-care service list (服务项目清单)."""

    __tablename__ = "service_item"
    __table_args__ = (
        check_in("category", ItemCategory),
        check_in("required_skill", Skill),
        CheckConstraint("standard_min > 0", name="standard_min_positive"),
        CheckConstraint("price_fen >= 0", name="price_nonneg"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))
    category: Mapped[str] = mapped_column(String(20))
    standard_min: Mapped[int] = mapped_column(Integer)
    required_skill: Mapped[str] = mapped_column(String(32))
    price_fen: Mapped[int] = mapped_column(Integer)
    volunteer_ok: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class CarePlan(TimestampMixin, Base):
    """A care plan approved by the insurer for one person, delivered by one agency."""

    __tablename__ = "care_plan"
    __table_args__ = (
        check_in("status", PlanStatus),
        CheckConstraint("valid_to >= valid_from", name="validity_order"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("insured_person.id"), index=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), index=True)
    valid_from: Mapped[dt.date] = mapped_column(Date)
    valid_to: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default=PlanStatus.DRAFT)
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    approved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    notes: Mapped[str | None] = mapped_column(Text)

    person: Mapped[InsuredPerson] = relationship()
    items: Mapped[list[PlanItem]] = relationship(
        back_populates="plan", cascade="all, delete-orphan", order_by="PlanItem.id"
    )


class PlanItem(Base):
    """One service item of a plan with its frequency: times per week, or given weekdays."""

    __tablename__ = "plan_item"
    __table_args__ = (
        CheckConstraint("(times_per_week IS NULL) <> (weekdays IS NULL)", name="one_frequency"),
        CheckConstraint("times_per_week BETWEEN 1 AND 7", name="times_per_week_range"),
        CheckConstraint("priority BETWEEN 1 AND 3", name="priority_range"),
        CheckConstraint("duration_min IS NULL OR duration_min > 0", name="duration_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("care_plan.id"), index=True)
    service_item_id: Mapped[int] = mapped_column(ForeignKey("service_item.id"))
    times_per_week: Mapped[int | None] = mapped_column(Integer)
    # ISO weekdays, 1 = Monday .. 7 = Sunday.
    # none_as_null: Python None must be SQL NULL, or the one_frequency check cannot see it.
    weekdays: Mapped[list[int] | None] = mapped_column(JSON(none_as_null=True))
    windows: Mapped[Windows] = mapped_column(JSON)
    duration_min: Mapped[int | None] = mapped_column(Integer)
    preferred_caregiver_id: Mapped[int | None] = mapped_column(ForeignKey("caregiver.id"))
    two_staff: Mapped[bool] = mapped_column(Boolean, default=False)
    same_gender: Mapped[bool] = mapped_column(Boolean, default=False)
    priority: Mapped[int] = mapped_column(Integer, default=2)

    plan: Mapped[CarePlan] = relationship(back_populates="items")
    service_item: Mapped[ServiceItem] = relationship()
    preferred_caregiver: Mapped[Caregiver | None] = relationship()


class Visit(TimestampMixin, Base):
    """A visit of a plan item on a date. Its status changes only through
    ``app.services.visits``; the timestamps record when each step happened."""

    __tablename__ = "visit"
    __table_args__ = (
        UniqueConstraint("plan_item_id", "date", "seq", name="uq_visit_plan_item_date_seq"),
        Index("ix_visit_agency_date", "agency_id", "date"),
        check_in("status", VisitStatus),
        check_in("gender_required", Gender),
        CheckConstraint("staff_count IN (1, 2)", name="staff_count_valid"),
        CheckConstraint("priority BETWEEN 1 AND 3", name="priority_range"),
        CheckConstraint("duration_min > 0", name="duration_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_item_id: Mapped[int] = mapped_column(ForeignKey("plan_item.id"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("insured_person.id"), index=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"))
    date: Mapped[dt.date] = mapped_column(Date)
    seq: Mapped[int] = mapped_column(Integer, default=0)
    windows: Mapped[Windows] = mapped_column(JSON)
    duration_min: Mapped[int] = mapped_column(Integer)
    skills: Mapped[list[str]] = mapped_column(JSON)
    staff_count: Mapped[int] = mapped_column(Integer, default=1)
    priority: Mapped[int] = mapped_column(Integer, default=2)
    gender_required: Mapped[str | None] = mapped_column(String(1))
    preferred_caregiver_id: Mapped[int | None] = mapped_column(ForeignKey("caregiver.id"))
    volunteer_ok: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), default=VisitStatus.PLANNED)
    status_changed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    assigned_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    verified_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    missed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    cancel_reason: Mapped[str | None] = mapped_column(String(200))

    plan_item: Mapped[PlanItem] = relationship()
    person: Mapped[InsuredPerson] = relationship()


class VisitAssignment(Base):
    """Who currently serves a visit (two rows for a two-staff visit).

    Kept in step with the published plan version by the dispatch services; it answers
    "whose visit is this?" for access control and the caregiver's route.
    """

    __tablename__ = "visit_assignment"
    __table_args__ = (
        UniqueConstraint("visit_id", "caregiver_id", name="uq_visit_assignment_visit_caregiver"),
        UniqueConstraint("visit_id", "volunteer_id", name="uq_visit_assignment_visit_volunteer"),
        CheckConstraint("(caregiver_id IS NULL) <> (volunteer_id IS NULL)", name="one_assignee"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visit.id"), index=True)
    caregiver_id: Mapped[int | None] = mapped_column(ForeignKey("caregiver.id"), index=True)
    volunteer_id: Mapped[int | None] = mapped_column(ForeignKey("volunteer.id"), index=True)
    assigned_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    visit: Mapped[Visit] = relationship()
