"""Planning a day: solver jobs, immutable plan versions, publications and their
acknowledgements, absences, and dispatcher overrides of entitlement caps.

Plan versions are immutable: every change to a day's plan (a new optimisation, an edit, a
repair, an import) is a new ``PlanVersion`` row, so what was published or compared stays
reproducible. The ORM refuses to update or delete a stored version: a ``before_update`` /
``before_delete`` mapper event raises ``PlanVersionImmutable`` during the flush. (Bulk SQL
statements bypass the ORM; only the test suite's table cleaning uses them.)
"""

from __future__ import annotations

import datetime as dt
from typing import Any

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
    Time,
    UniqueConstraint,
    event,
)
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, Mapper, mapped_column, relationship

from .base import Base, UTCDateTime, utcnow


class CaregiverAbsence(Base):
    """A caregiver away on a date: all day, or from ``from_time`` (a sick call at noon)."""

    __tablename__ = "caregiver_absence"
    __table_args__ = (Index("ix_caregiver_absence_caregiver_date", "caregiver_id", "date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    caregiver_id: Mapped[int] = mapped_column(ForeignKey("caregiver.id"))
    date: Mapped[dt.date] = mapped_column(Date)
    from_time: Mapped[dt.time | None] = mapped_column(Time)
    reason: Mapped[str] = mapped_column(String(200))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class SolveJob(Base):
    """A background optimisation of one agency's day."""

    __tablename__ = "solve_job"
    __table_args__ = (
        CheckConstraint(
            "status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')",
            name="status_valid",
        ),
        Index("ix_solve_job_agency_date", "agency_id", "date"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"))
    date: Mapped[dt.date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="queued")
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    progress: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    plan_version_id: Mapped[int | None] = mapped_column(ForeignKey("plan_version.id"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class PlanVersion(Base):
    """One version of an agency's plan for a date. Never updated once written.

    ``problem`` is the careroute.day/1 document the plan answers and ``plan`` the
    careroute.plan/1 document, so any version can be reproduced outside the app.
    """

    __tablename__ = "plan_version"
    __table_args__ = (
        UniqueConstraint("agency_id", "date", "number", name="uq_plan_version_agency_date_number"),
        CheckConstraint("kind IN ('optimise', 'edit', 'repair', 'import')", name="kind_valid"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"))
    date: Mapped[dt.date] = mapped_column(Date)
    number: Mapped[int] = mapped_column(Integer)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("plan_version.id"))
    kind: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(String(300))
    problem: Mapped[dict[str, Any]] = mapped_column(JSON)
    plan: Mapped[dict[str, Any]] = mapped_column(JSON)
    valid: Mapped[bool] = mapped_column(Boolean)
    violations: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    parent: Mapped[PlanVersion | None] = relationship(remote_side=[id])


class PlanVersionImmutable(RuntimeError):
    """Raised when a flush would update or delete a stored plan version."""


@event.listens_for(PlanVersion, "before_update")
def _refuse_update(mapper: Mapper[Any], connection: Connection, target: PlanVersion) -> None:
    raise PlanVersionImmutable(
        f"plan version {target.id} is immutable: store a new version instead"
    )


@event.listens_for(PlanVersion, "before_delete")
def _refuse_delete(mapper: Mapper[Any], connection: Connection, target: PlanVersion) -> None:
    raise PlanVersionImmutable(f"plan version {target.id} is immutable and is never deleted")


class Publication(Base):
    """A plan version sent to the caregivers of its day."""

    __tablename__ = "publication"
    __table_args__ = (Index("ix_publication_agency_date", "agency_id", "date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_version_id: Mapped[int] = mapped_column(ForeignKey("plan_version.id"))
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"))
    date: Mapped[dt.date] = mapped_column(Date)
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    published_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    plan_version: Mapped[PlanVersion] = relationship()
    notices: Mapped[list[RouteNotice]] = relationship(back_populates="publication")


class RouteNotice(Base):
    """A caregiver's (or volunteer's) changed route in a publication, and whether they
    acknowledged it."""

    __tablename__ = "route_notice"
    __table_args__ = (
        UniqueConstraint("publication_id", "caregiver_id", name="uq_route_notice_pub_caregiver"),
        UniqueConstraint("publication_id", "volunteer_id", name="uq_route_notice_pub_volunteer"),
        CheckConstraint("(caregiver_id IS NULL) <> (volunteer_id IS NULL)", name="one_assignee"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    publication_id: Mapped[int] = mapped_column(ForeignKey("publication.id"), index=True)
    caregiver_id: Mapped[int | None] = mapped_column(ForeignKey("caregiver.id"), index=True)
    volunteer_id: Mapped[int | None] = mapped_column(ForeignKey("volunteer.id"), index=True)
    first_affected_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    publication: Mapped[Publication] = relationship(back_populates="notices")


class CapOverride(Base):
    """A dispatcher's logged decision to plan a visit beyond the person's entitlement."""

    __tablename__ = "cap_override"

    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visit.id"), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    reason: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
