"""Monthly settlement of an agency's LTCI claims with the insurer.

The states and who moves a settlement between them::

    draft --submit--> submitted --approve--> approved --reconcile--> reconciled
                          |                     ^
                        reject                approve
                          v                     |
                  partly_rejected --resubmit--> resubmitted --reject--> partly_rejected

The agency admin opens a draft for a month that has ended (its claim lines are built from
the visits), may rebuild it while it is a draft or partly rejected, and submits it. The
insurer's auditor reviews the lines (disallowing a claimable line needs a reason), then
approves the settlement — lines still disallowed stay out of the totals — or returns it
partly rejected, and reconciles it once paid. A reconciled settlement never changes.

Every step is a conditional update on the state the actor saw, so two people acting at
once cannot both move it; each step is recorded as a ``SettlementEvent`` with the totals.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import case, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.models import (
    Agency,
    Caregiver,
    ClaimLine,
    InsuredPerson,
    Role,
    Settlement,
    SettlementEvent,
    User,
    utcnow,
)
from app.security import is_cross_agency
from app.services import claims, months
from app.services.crud import PageResult, filter_agency, get_visible, invalid, local_today
from app.services.crud import paginate as paginate_stmt
from app.services.errors import Conflict, Forbidden, NotFound

REVIEWABLE = ("submitted", "resubmitted")
REBUILDABLE = ("draft", "partly_rejected")


@dataclass(frozen=True)
class Step:
    """A move between states: from which states, to which one, by which role."""

    sources: tuple[str, ...]
    target: str
    role: Role


STEPS = {
    "submit": Step(("draft",), "submitted", Role.AGENCY_ADMIN),
    "resubmit": Step(("partly_rejected",), "resubmitted", Role.AGENCY_ADMIN),
    "approve": Step(REVIEWABLE, "approved", Role.AUDITOR),
    "reject": Step(REVIEWABLE, "partly_rejected", Role.AUDITOR),
    "reconcile": Step(("approved",), "reconciled", Role.AUDITOR),
}


# --- reading -----------------------------------------------------------------------------


def visible(session: Session, actor: User, settlement_id: int) -> Settlement:
    """The settlement if ``actor`` may see it (its agency, or any for cross-agency roles)."""
    stmt = filter_agency(
        session,
        select(Settlement).where(Settlement.id == settlement_id),
        Settlement.agency_id,
        actor,
        None,
    )
    return get_visible(session, stmt, _("Settlement"))  # type: ignore[no-any-return]


def list_settlements(
    session: Session,
    actor: User,
    *,
    agency_id: int | None = None,
    status: str | None = None,
    page: int = 1,
    per_page: int = 50,
) -> PageResult[Settlement]:
    stmt = filter_agency(session, select(Settlement), Settlement.agency_id, actor, agency_id)
    if status is not None:
        stmt = stmt.where(Settlement.status == status)
    stmt = stmt.order_by(Settlement.period.desc(), Settlement.agency_id)
    return paginate_stmt(session, stmt, page, per_page)


def list_lines(
    session: Session,
    actor: User,
    settlement_id: int,
    *,
    status: str | None = None,
    review: str | None = None,
    page: int = 1,
    per_page: int = 50,
) -> PageResult[ClaimLine]:
    settlement = visible(session, actor, settlement_id)
    stmt = select(ClaimLine).where(ClaimLine.settlement_id == settlement.id)
    if status is not None:
        stmt = stmt.where(ClaimLine.status == status)
    if review is not None:
        stmt = stmt.where(ClaimLine.review == review)
    return paginate_stmt(
        session, stmt.order_by(ClaimLine.service_date, ClaimLine.id), page, per_page
    )


def names(session: Session, lines: list[ClaimLine]) -> dict[str, dict[int, str]]:
    """The names a page shows beside claim lines: persons and caregivers, by id."""
    person_ids = {line.person_id for line in lines}
    caregiver_ids = {line.caregiver_id for line in lines if line.caregiver_id is not None}
    persons = session.execute(
        select(InsuredPerson.id, InsuredPerson.name).where(InsuredPerson.id.in_(person_ids))
    )
    caregivers = session.execute(
        select(Caregiver.id, Caregiver.name).where(Caregiver.id.in_(caregiver_ids))
    )
    return {"persons": dict(persons.tuples().all()), "caregivers": dict(caregivers.tuples().all())}


def agency_names(session: Session) -> dict[int, str]:
    return dict(session.execute(select(Agency.id, Agency.name)).tuples().all())


def history(session: Session, actor: User, settlement_id: int) -> list[SettlementEvent]:
    settlement = visible(session, actor, settlement_id)
    stmt = select(SettlementEvent).where(SettlementEvent.settlement_id == settlement.id)
    return list(session.scalars(stmt.order_by(SettlementEvent.id)))


# --- the agency's side -------------------------------------------------------------------


def open_settlement(session: Session, actor: User, period: dt.date) -> tuple[Settlement, bool]:
    """The actor's agency's settlement of ``period``'s month, created as a draft with its
    lines when there is none yet. Returns it and whether it was created."""
    _require(actor, Role.AGENCY_ADMIN)
    first, last = months.month_bounds(period)
    if last >= local_today():
        raise invalid("period", _("Only a month that has ended can be settled."))
    agency = session.get(Agency, actor.agency_id)
    if agency is None:
        raise NotFound(_("%(what)s not found.") % {"what": _("Agency")})
    existing = _of_period(session, agency.id, first)
    if existing is not None:
        return existing, False
    settlement = Settlement(agency_id=agency.id, period=first, created_by_id=actor.id)
    try:
        with session.begin_nested():
            session.add(settlement)
            session.flush()
    except IntegrityError:
        # Another admin opened it at the same moment: theirs is the one.
        found = _of_period(session, agency.id, first)
        if found is None:
            raise
        return found, False
    _write_lines(session, settlement, agency, keep_reviews=False)
    _record(session, settlement, "open", None, actor, None)
    session.commit()
    return settlement, True


def rebuild(session: Session, actor: User, settlement_id: int) -> Settlement:
    """Rebuild the lines from the visits as they stand now (draft or partly rejected).

    An auditor's disallowance is kept on a line whose content did not change; a changed
    line (say an EVV exception approved since) goes back to review.
    """
    _require(actor, Role.AGENCY_ADMIN)
    settlement = visible(session, actor, settlement_id)
    _hold(session, settlement, REBUILDABLE)
    agency = session.get(Agency, settlement.agency_id)
    assert agency is not None
    _write_lines(session, settlement, agency, keep_reviews=settlement.status == "partly_rejected")
    _record(session, settlement, "rebuild", settlement.status, actor, None)
    session.commit()
    return settlement


def _write_lines(
    session: Session, settlement: Settlement, agency: Agency, *, keep_reviews: bool
) -> None:
    previous = {
        line.visit_id: line
        for line in session.scalars(
            select(ClaimLine).where(ClaimLine.settlement_id == settlement.id)
        )
    }
    session.execute(delete(ClaimLine).where(ClaimLine.settlement_id == settlement.id))
    for draft in claims.draft_lines(session, agency, settlement.period):
        line = _line(settlement, draft)
        before = previous.get(line.visit_id)
        if keep_reviews and before is not None and _same_claim(before, line):
            line.review = before.review
            line.review_reason = before.review_reason
            line.reviewed_by_id = before.reviewed_by_id
            line.reviewed_at = before.reviewed_at
        session.add(line)
    session.flush()
    _refresh_totals(session, settlement)


def _line(settlement: Settlement, draft: claims.LineDraft) -> ClaimLine:
    f = draft.facts
    return ClaimLine(
        settlement_id=settlement.id,
        visit_id=f.visit_id,
        verification_id=f.verification_id,
        person_id=f.person_id,
        caregiver_id=f.caregiver_ids[0] if f.caregiver_ids else None,
        service_item_id=f.service_item_id,
        item_code=f.item_code,
        service_date=f.service_date,
        minutes=f.minutes,
        fund_share_pct=draft.fund_share_pct,
        price_fen=f.price_fen,
        fund_fen=draft.fund_fen,
        copay_fen=draft.copay_fen,
        status="claimable" if draft.claimable else "rejected",
        reasons=list(draft.reasons),
        review="pending",
    )


def _same_claim(a: ClaimLine, b: ClaimLine) -> bool:
    keys = ("verification_id", "status", "reasons", "price_fen", "fund_fen", "minutes")
    return all(getattr(a, k) == getattr(b, k) for k in keys)


# --- steps -------------------------------------------------------------------------------


def advance(
    session: Session,
    actor: User,
    settlement_id: int,
    action: str,
    *,
    reason: str | None = None,
    payment_ref: str | None = None,
) -> Settlement:
    """Move the settlement by ``action`` (a key of ``STEPS``)."""
    step = STEPS.get(action)
    if step is None:
        raise invalid("action", _("Unknown action."))
    _require(actor, step.role)
    settlement = visible(session, actor, settlement_id)
    if settlement.status not in step.sources:
        raise _wrong_state(settlement)
    _check_step(session, settlement, action, reason, payment_ref)
    source = settlement.status
    if action in ("approve", "reject"):
        _settle_pending_reviews(session, settlement, actor)
    # Before the move: a reconciled settlement takes no more writes.
    _refresh_totals(session, settlement)
    values: dict[str, Any] = {"status": step.target, "updated_at": utcnow()}
    if action in ("submit", "resubmit"):
        values["revision"] = Settlement.revision + 1
    if payment_ref is not None:
        values["payment_ref"] = payment_ref
    moved = session.execute(
        update(Settlement)
        .where(Settlement.id == settlement.id, Settlement.status == source)
        .values(**values)
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        session.rollback()
        raise Conflict(_("Someone else changed this settlement; reload it."))
    session.refresh(settlement)
    _record(session, settlement, action, source, actor, reason or payment_ref)
    session.commit()
    return settlement


def _check_step(
    session: Session,
    settlement: Settlement,
    action: str,
    reason: str | None,
    payment_ref: str | None,
) -> None:
    if (
        action in ("submit", "resubmit")
        and months.month_bounds(settlement.period)[1] >= local_today()
    ):
        raise invalid("period", _("Only a month that has ended can be settled."))
    if action == "reject":
        if not (reason and reason.strip()):
            raise invalid("reason", _("Say why the settlement goes back to the agency."))
        if _count(session, settlement, review="disallowed") == 0:
            raise invalid("action", _("Disallow at least one line before returning it."))
    if action == "reconcile" and not (payment_ref and payment_ref.strip()):
        raise invalid("payment_ref", _("Give the payment reference."))


def _settle_pending_reviews(session: Session, settlement: Settlement, actor: User) -> None:
    """Lines the auditor left unreviewed are accepted by the decision."""
    session.execute(
        update(ClaimLine)
        .where(
            ClaimLine.settlement_id == settlement.id,
            ClaimLine.status == "claimable",
            ClaimLine.review == "pending",
        )
        .values(review="accepted", reviewed_by_id=actor.id, reviewed_at=utcnow())
    )


def review_line(
    session: Session,
    actor: User,
    settlement_id: int,
    line_id: int,
    *,
    disallow: bool,
    reason: str | None,
) -> ClaimLine:
    """The auditor disallows a claimable line (with a reason) or accepts it again."""
    _require(actor, Role.AUDITOR)
    settlement = visible(session, actor, settlement_id)
    _hold(session, settlement, REVIEWABLE)
    line = session.scalar(
        select(ClaimLine).where(ClaimLine.id == line_id, ClaimLine.settlement_id == settlement.id)
    )
    if line is None:
        raise NotFound(_("%(what)s not found.") % {"what": _("Claim line")})
    if line.status != "claimable":
        raise invalid("line_id", _("Only a claimable line can be reviewed."))
    if disallow and not (reason and reason.strip()):
        raise invalid("reason", _("Say why the line is disallowed."))
    line.review = "disallowed" if disallow else "accepted"
    line.review_reason = reason.strip() if disallow and reason else None
    line.reviewed_by_id = actor.id
    line.reviewed_at = utcnow()
    session.flush()
    _refresh_totals(session, settlement)
    session.commit()
    return line


# --- helpers -----------------------------------------------------------------------------


def _of_period(session: Session, agency_id: int, first: dt.date) -> Settlement | None:
    return session.scalar(
        select(Settlement).where(Settlement.agency_id == agency_id, Settlement.period == first)
    )


def _hold(session: Session, settlement: Settlement, states: tuple[str, ...]) -> None:
    """Lock the settlement's row for this transaction if it is in one of ``states``.

    A conditional update rather than a read: a step taken at the same moment (say a
    submission while the lines are rebuilt) either waits for this transaction or has
    already moved the state, and then this one stops with a conflict.
    """
    if settlement.status not in states:
        raise _wrong_state(settlement)
    held = session.execute(
        update(Settlement)
        .where(Settlement.id == settlement.id, Settlement.status.in_(states))
        .values(updated_at=utcnow())
    )
    if held.rowcount != 1:  # type: ignore[attr-defined]
        session.rollback()
        raise Conflict(_("Someone else changed this settlement; reload it."))


def _require(actor: User, role: Role) -> None:
    if actor.role != role or (role == Role.AGENCY_ADMIN and is_cross_agency(actor)):
        raise Forbidden(_("Your role cannot do this."))


def _wrong_state(settlement: Settlement) -> Conflict:
    return Conflict(
        _("Not possible while the settlement is %(status)s.") % {"status": settlement.status}
    )


def _count(session: Session, settlement: Settlement, **where: str) -> int:
    stmt = select(func.count()).where(ClaimLine.settlement_id == settlement.id)
    for column, value in where.items():
        stmt = stmt.where(getattr(ClaimLine, column) == value)
    return int(session.scalar(stmt) or 0)


def _refresh_totals(session: Session, settlement: Settlement) -> None:
    """Store the sums of the lines: paid = claimable and not disallowed."""
    paid = (ClaimLine.status == "claimable") & (ClaimLine.review != "disallowed")
    disallowed = (ClaimLine.status == "claimable") & (ClaimLine.review == "disallowed")

    def total(column: Any, when: Any) -> Any:
        return func.coalesce(func.sum(case((when, column), else_=0)), 0)

    row = session.execute(
        select(
            total(ClaimLine.price_fen, paid),
            total(ClaimLine.fund_fen, paid),
            total(ClaimLine.copay_fen, paid),
            total(ClaimLine.price_fen, ClaimLine.status == "rejected"),
            total(ClaimLine.price_fen, disallowed),
            func.count(),
        ).where(ClaimLine.settlement_id == settlement.id)
    ).one()
    (
        settlement.claimed_fen,
        settlement.fund_fen,
        settlement.copay_fen,
        settlement.rejected_fen,
        settlement.disallowed_fen,
        settlement.line_count,
    ) = (int(v) for v in row)
    settlement.updated_at = utcnow()
    session.flush()


def totals(settlement: Settlement) -> dict[str, int]:
    return {
        "claimed_fen": settlement.claimed_fen,
        "fund_fen": settlement.fund_fen,
        "copay_fen": settlement.copay_fen,
        "rejected_fen": settlement.rejected_fen,
        "disallowed_fen": settlement.disallowed_fen,
        "line_count": settlement.line_count,
    }


def _record(
    session: Session,
    settlement: Settlement,
    action: str,
    source: str | None,
    actor: User,
    reason: str | None,
) -> None:
    session.add(
        SettlementEvent(
            settlement_id=settlement.id,
            action=action,
            from_status=source,
            to_status=settlement.status,
            revision=settlement.revision,
            user_id=actor.id,
            reason=reason,
            totals=totals(settlement),
        )
    )
    session.flush()
