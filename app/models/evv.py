"""Electronic visit verification (EVV): the check-in and check-out actions sent by the
caregiver app, and the verification records of each visit.

``EvvAction`` is the raw log of what phones sent. Its primary key is the id the phone made
(``crypto.randomUUID()``), so a replayed action is recognised and stored exactly once
whatever the duplicates or the order; an action is kept even when it cannot be applied yet
(a check-out that arrives before its check-in waits as ``pending``).

``VisitVerification`` holds the six elements of a verified visit (who, to whom, which
items, where at check-in and check-out, when) and the outcome. Rows are never changed: a
dispatcher's decision or a correction is a new row that ``supersedes`` the previous one,
so the record of what was verified stays auditable. The ORM refuses updates and deletes
(``EvvRecordImmutable``), as for plan versions.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    event,
)
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, Mapper, mapped_column

from .base import Base, UTCDateTime, utcnow

ACTION_KINDS = ("check_in", "check_out")
ACTION_STATES = ("applied", "pending", "ignored", "refused")
RECORD_KINDS = ("evaluation", "approval", "rejection")
OUTCOMES = ("verified", "exception", "rejected")


def _one_of(column: str, values: tuple[str, ...]) -> CheckConstraint:
    listed = ", ".join(f"'{v}'" for v in values)
    return CheckConstraint(f"{column} IN ({listed})", name=f"{column}_valid")


class EvvAction(Base):
    """One check-in or check-out as the phone recorded it, stored once per phone-made id."""

    __tablename__ = "evv_action"
    __table_args__ = (
        _one_of("kind", ACTION_KINDS),
        _one_of("state", ACTION_STATES),
        CheckConstraint("(caregiver_id IS NULL) <> (volunteer_id IS NULL)", name="one_worker"),
        CheckConstraint("accuracy_m IS NULL OR accuracy_m >= 0", name="accuracy_nonneg"),
        Index("ix_evv_action_visit_kind", "visit_id", "kind"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visit.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    caregiver_id: Mapped[int | None] = mapped_column(ForeignKey("caregiver.id"))
    volunteer_id: Mapped[int | None] = mapped_column(ForeignKey("volunteer.id"))
    kind: Mapped[str] = mapped_column(String(16))
    occurred_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    accuracy_m: Mapped[float | None] = mapped_column(Float)
    items_done: Mapped[list[str]] = mapped_column(JSON, default=list)
    # What app.services.evv_confirmation settled: a PIN's outcome (never the PIN itself) or
    # a signature's SVG path; {"method", "by", "ok", ...}.
    confirmation: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(String(200))


class VisitVerification(Base):
    """The six EVV elements of one worker's part in a visit, and the outcome. Immutable."""

    __tablename__ = "visit_verification"
    __table_args__ = (
        _one_of("kind", RECORD_KINDS),
        _one_of("outcome", OUTCOMES),
        CheckConstraint("(caregiver_id IS NULL) <> (volunteer_id IS NULL)", name="one_worker"),
        Index("ix_visit_verification_visit", "visit_id"),
        Index("ix_visit_verification_agency_outcome", "agency_id", "outcome"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visit.id"))
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"))
    supersedes_id: Mapped[int | None] = mapped_column(
        ForeignKey("visit_verification.id"), unique=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    outcome: Mapped[str] = mapped_column(String(16))
    reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    # The six elements: who, to whom, which items, where and when (in and out).
    caregiver_id: Mapped[int | None] = mapped_column(ForeignKey("caregiver.id"))
    volunteer_id: Mapped[int | None] = mapped_column(ForeignKey("volunteer.id"))
    person_id: Mapped[int] = mapped_column(ForeignKey("insured_person.id"))
    items_planned: Mapped[list[str]] = mapped_column(JSON, default=list)
    items_done: Mapped[list[str]] = mapped_column(JSON, default=list)
    check_in_action_id: Mapped[str] = mapped_column(ForeignKey("evv_action.id"))
    check_out_action_id: Mapped[str] = mapped_column(ForeignKey("evv_action.id"))
    check_in_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    check_out_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    check_in_distance_m: Mapped[float | None] = mapped_column(Float)
    check_out_distance_m: Mapped[float | None] = mapped_column(Float)
    duration_s: Mapped[int] = mapped_column(Integer)
    confirmation: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # The rules the outcome was decided under, so it can be explained later.
    rules: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    decision_reason: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class EvvRecordImmutable(RuntimeError):
    """Raised when a flush would update or delete a stored verification record."""


@event.listens_for(VisitVerification, "before_update")
def _refuse_update(mapper: Mapper[Any], connection: Connection, target: Any) -> None:
    raise EvvRecordImmutable(f"verification {target.id} is immutable: add a new record")


@event.listens_for(VisitVerification, "before_delete")
def _refuse_delete(mapper: Mapper[Any], connection: Connection, target: Any) -> None:
    raise EvvRecordImmutable(f"verification {target.id} is immutable and is never deleted")
