"""LTCI claims: one claim line per delivered visit, gathered into a monthly settlement per
agency that moves from draft to reconciled.

A claim line records what the fund is asked to pay for one visit and why it may not be
paid: the item's price in fen, its split into fund share and co-pay, and — for a line the
rules reject — the reasons. The insurer's auditor may disallow a claimable line on review.
Once a settlement is reconciled neither it nor its lines change again: the ORM refuses
(``SettlementLocked``), as it does for plan versions and verification records.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    event,
    select,
)
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, Mapper, mapped_column, relationship

from .base import Base, UTCDateTime, utcnow

SETTLEMENT_STATES = (
    "draft",
    "submitted",
    "approved",
    "partly_rejected",
    "resubmitted",
    "reconciled",
)
LINE_STATES = ("claimable", "rejected")
REVIEW_STATES = ("pending", "accepted", "disallowed")
EXPORT_FORMATS = ("csv", "xlsx")


def _one_of(column: str, values: tuple[str, ...]) -> CheckConstraint:
    listed = ", ".join(f"'{v}'" for v in values)
    return CheckConstraint(f"{column} IN ({listed})", name=f"{column}_valid")


class Settlement(Base):
    """One agency's claim for one calendar month, with its totals in fen."""

    __tablename__ = "settlement"
    __table_args__ = (
        UniqueConstraint("agency_id", "period", name="uq_settlement_agency_period"),
        _one_of("status", SETTLEMENT_STATES),
        CheckConstraint("fund_fen + copay_fen = claimed_fen", name="totals_add_up"),
        CheckConstraint("revision >= 0", name="revision_nonneg"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"))
    # The first day of the month settled.
    period: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="draft")
    # Increments on each submission, so reviews and exports name what they saw.
    revision: Mapped[int] = mapped_column(Integer, default=0)
    # Totals of the claimable lines the auditor has not disallowed.
    claimed_fen: Mapped[int] = mapped_column(Integer, default=0)
    fund_fen: Mapped[int] = mapped_column(Integer, default=0)
    copay_fen: Mapped[int] = mapped_column(Integer, default=0)
    rejected_fen: Mapped[int] = mapped_column(Integer, default=0)
    disallowed_fen: Mapped[int] = mapped_column(Integer, default=0)
    line_count: Mapped[int] = mapped_column(Integer, default=0)
    payment_ref: Mapped[str | None] = mapped_column(String(64))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    lines: Mapped[list[ClaimLine]] = relationship(
        back_populates="settlement", order_by="ClaimLine.id", passive_deletes=True
    )


class ClaimLine(Base):
    """What the fund is asked to pay for one visit, or why it is not."""

    __tablename__ = "claim_line"
    __table_args__ = (
        UniqueConstraint("settlement_id", "visit_id", name="uq_claim_line_settlement_visit"),
        _one_of("status", LINE_STATES),
        _one_of("review", REVIEW_STATES),
        CheckConstraint("price_fen >= 0", name="price_nonneg"),
        CheckConstraint("fund_fen + copay_fen = price_fen", name="split_adds_up"),
        CheckConstraint("minutes > 0", name="minutes_positive"),
        Index("ix_claim_line_person_date", "person_id", "service_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    settlement_id: Mapped[int] = mapped_column(ForeignKey("settlement.id"), index=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visit.id"))
    verification_id: Mapped[int | None] = mapped_column(ForeignKey("visit_verification.id"))
    person_id: Mapped[int] = mapped_column(ForeignKey("insured_person.id"))
    caregiver_id: Mapped[int | None] = mapped_column(ForeignKey("caregiver.id"))
    service_item_id: Mapped[int] = mapped_column(ForeignKey("service_item.id"))
    item_code: Mapped[str] = mapped_column(String(16))
    service_date: Mapped[dt.date] = mapped_column(Date)
    minutes: Mapped[int] = mapped_column(Integer)
    fund_share_pct: Mapped[int] = mapped_column(Integer)
    price_fen: Mapped[int] = mapped_column(Integer)
    fund_fen: Mapped[int] = mapped_column(Integer)
    copay_fen: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    review: Mapped[str] = mapped_column(String(16), default="pending")
    review_reason: Mapped[str | None] = mapped_column(String(300))
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    reviewed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    settlement: Mapped[Settlement] = relationship(back_populates="lines")


class SettlementEvent(Base):
    """Each step of a settlement: who moved it from which state to which, and why."""

    __tablename__ = "settlement_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    settlement_id: Mapped[int] = mapped_column(ForeignKey("settlement.id"), index=True)
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    revision: Mapped[int] = mapped_column(Integer)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    reason: Mapped[str | None] = mapped_column(String(300))
    # The totals as they stood after the step.
    totals: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ExportLog(Base):
    """Every export of a settlement: who took which file of which revision, and when."""

    __tablename__ = "export_log"
    __table_args__ = (_one_of("format", EXPORT_FORMATS),)

    id: Mapped[int] = mapped_column(primary_key=True)
    settlement_id: Mapped[int] = mapped_column(ForeignKey("settlement.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    format: Mapped[str] = mapped_column(String(8))
    revision: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    rows: Mapped[int] = mapped_column(Integer)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class SettlementLocked(RuntimeError):
    """Raised when a flush would change a reconciled settlement or one of its lines."""


def _stored_status(connection: Connection, settlement_id: int | None) -> str | None:
    # Asks the database, not the session: bulk updates bypass the identity map.
    if settlement_id is None:
        return None
    return connection.scalar(select(Settlement.status).where(Settlement.id == settlement_id))


@event.listens_for(Settlement, "before_update")
@event.listens_for(Settlement, "before_delete")
def _refuse_settlement_change(mapper: Mapper[Any], connection: Connection, target: Any) -> None:
    if _stored_status(connection, target.id) == "reconciled":
        raise SettlementLocked(f"settlement {target.id} is reconciled and cannot change")


@event.listens_for(ClaimLine, "before_update")
@event.listens_for(ClaimLine, "before_delete")
def _refuse_line_change(mapper: Mapper[Any], connection: Connection, target: Any) -> None:
    if _stored_status(connection, target.settlement_id) == "reconciled":
        raise SettlementLocked(
            f"settlement {target.settlement_id} is reconciled: line {target.id} is final"
        )
