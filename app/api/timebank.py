"""/api/v1/timebank: a volunteer's minutes (balance, statement, redeem, gift, donate) and
the admins' side (a member's statement, reversals, the liability report)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from flask import Response
from pydantic import BaseModel, Field

import timebank
from app.api import bp
from app.api.http import one_json, parse_body, spec
from app.api.schemas import Body, Empty, Id
from app.extensions import db
from app.models import Role
from app.security import allow, user
from app.services import timebank as tb
from app.services import timebank_hooks  # noqa: F401  (registers the verified-visit listener)
from app.services import timebank_redemption as redemption

ADMINS = (Role.AGENCY_ADMIN, Role.AUDITOR, Role.SYS_ADMIN)
REVERSERS = (Role.AGENCY_ADMIN, Role.SYS_ADMIN)

Minutes = Annotated[int, Field(ge=1, le=1_000_000, description="Whole minutes.")]
RequestId = Annotated[
    str,
    Field(
        pattern=r"^[A-Za-z0-9\-]{8,64}$",
        description="Made by the client once per form (a UUID); sending it again is a no-op.",
    ),
]


# --- shapes ---------------------------------------------------------------------------------


class BalanceOut(BaseModel):
    """A member's minutes: all posted, held by pending redemptions, and available."""

    balance_min: int
    held_min: int
    available_min: int
    cap_min: int | None = Field(description="Storage cap per member; null: none.")


class LineOut(BaseModel):
    at: dt.datetime
    transfer_id: str
    code: str
    kind: Literal["single", "pending", "post", "void"]
    description: str
    amount_min: int = Field(description="Change of the balance (negative when minutes leave).")
    held_change_min: int
    balance_after_min: int = Field(description="Running balance.")
    held_after_min: int
    reason: str | None


class StatementOut(BaseModel):
    owner_ref: str
    name: str
    balance: BalanceOut
    opening_min: int
    closing_min: int
    lines: list[LineOut]


class RedeemIn(Body):
    plan_item_id: Id = Field(description="A volunteer-eligible item of a relative's plan.")
    date: dt.date


class RedemptionOut(BaseModel):
    visit_id: int
    date: dt.date
    amount_min: int
    hold_id: str
    expires_at: dt.datetime | None
    balance: BalanceOut


class GiftIn(Body):
    relative_id: Id = Field(description="One of the volunteer's registered relatives.")
    amount_min: Minutes
    request_id: RequestId


class DonationIn(Body):
    amount_min: Minutes
    request_id: RequestId


class TransferOut(BaseModel):
    transfer_id: str
    outcome: Literal["created", "exists"]
    amount_min: int
    balance: BalanceOut


class CorrectionIn(Body):
    transfer_id: Annotated[str, Field(min_length=1, max_length=128)]
    reason: Annotated[str, Field(min_length=1, max_length=300)]
    amount_min: Minutes | None = Field(None, description="Part of the amount; all by default.")


class PartyOut(BaseModel):
    owner_ref: str
    delta_min: int
    balance_after_min: int


class CorrectionOut(BaseModel):
    correction_id: str
    transfer_id: str
    amount_min: int
    parties: list[PartyOut]


class CodeTotalOut(BaseModel):
    code: str
    transfers: int
    amount_min: int


class LiabilityOut(BaseModel):
    """Minutes the time bank owes (members and pool) against the sponsor's guarantee."""

    members: int
    members_balance_min: int
    members_held_min: int
    pool_min: int
    owed_min: int
    guarantee_min: int
    uncovered_min: int
    issued_net_min: int
    balanced: bool
    by_code: list[CodeTotalOut]


# --- a volunteer's own minutes -------------------------------------------------------------


def balance_out(b: tb.Balance) -> BalanceOut:
    return BalanceOut(
        balance_min=b.balance_min,
        held_min=b.held_min,
        available_min=b.available_min,
        cap_min=b.cap_min,
    )


def statement_out(st: tb.MemberStatement) -> StatementOut:
    return StatementOut(
        owner_ref=st.owner_ref,
        name=st.name,
        balance=balance_out(st.balance),
        opening_min=st.opening_min,
        closing_min=st.closing_min,
        lines=[LineOut.model_validate(line, from_attributes=True) for line in st.lines],
    )


@bp.get("/v1/timebank/me/balance")
@allow(Role.VOLUNTEER)
@spec(response=BalanceOut)
def my_timebank_balance() -> Response:
    """My minutes: balance, held by redemptions, available."""
    return one_json(balance_out(tb.my_balance(db.session, user())))


@bp.get("/v1/timebank/me/statement")
@allow(Role.VOLUNTEER)
@spec(response=StatementOut)
def my_timebank_statement() -> Response:
    """My statement, oldest first, with the running balance."""
    return one_json(statement_out(tb.my_statement(db.session, user())))


@bp.post("/v1/timebank/me/redemptions")
@allow(Role.VOLUNTEER)
@spec(body=RedeemIn, response=RedemptionOut, status=201, errors=[409])
def redeem_minutes() -> Response:
    """Redeem minutes for a service to a registered relative.

    The minutes are held and a visit is added to the day's planning; its verified
    completion spends them, a cancellation or the hold's timeout releases them.
    """
    body = parse_body(RedeemIn)
    u = user()
    r = redemption.request_redemption(db.session, u, plan_item_id=body.plan_item_id, day=body.date)
    out = RedemptionOut(
        visit_id=r.visit.id,
        date=r.visit.date,
        amount_min=r.amount_min,
        hold_id=r.hold.id,
        expires_at=r.hold.expires_at,
        balance=balance_out(tb.my_balance(db.session, u)),
    )
    return one_json(out, 201)


@bp.post("/v1/timebank/me/redemptions/<int:visit_id>/cancel")
@allow(Role.VOLUNTEER)
@spec(body=Empty, response=BalanceOut, errors=[409])
def cancel_my_redemption(visit_id: int) -> Response:
    """Withdraw a redemption before its visit starts.

    The visit is cancelled and the held minutes released.
    """
    parse_body(Empty)
    u = user()
    redemption.cancel_redemption(db.session, u, visit_id)
    return one_json(balance_out(tb.my_balance(db.session, u)))


def transfer_out(result: timebank.TransferResult, u_balance: tb.Balance) -> TransferOut:
    assert result.transfer is not None
    return TransferOut(
        transfer_id=result.id,
        outcome=result.outcome.value,  # type: ignore[arg-type]
        amount_min=result.transfer.amount_min,
        balance=balance_out(u_balance),
    )


@bp.post("/v1/timebank/me/gifts")
@allow(Role.VOLUNTEER)
@spec(body=GiftIn, response=TransferOut, status=201, errors=[409])
def gift_minutes() -> Response:
    """Give minutes to a registered relative (within their storage cap)."""
    body = parse_body(GiftIn)
    u = user()
    result = tb.gift_minutes(
        db.session,
        u,
        relative_id=body.relative_id,
        amount_min=body.amount_min,
        request_id=body.request_id,
    )
    return one_json(transfer_out(result, tb.my_balance(db.session, u)), 201)


@bp.post("/v1/timebank/me/donations")
@allow(Role.VOLUNTEER)
@spec(body=DonationIn, response=TransferOut, status=201, errors=[409])
def donate_minutes() -> Response:
    """Donate minutes to the time bank's pool."""
    body = parse_body(DonationIn)
    u = user()
    result = tb.donate_minutes(
        db.session, u, amount_min=body.amount_min, request_id=body.request_id
    )
    return one_json(transfer_out(result, tb.my_balance(db.session, u)), 201)


# --- admins ---------------------------------------------------------------------------------


@bp.get("/v1/timebank/volunteers/<int:volunteer_id>/statement")
@allow(*ADMINS)
@spec(response=StatementOut)
def volunteer_timebank_statement(volunteer_id: int) -> Response:
    """A volunteer's statement (the agency's admin; auditors and operators any)."""
    st = tb.volunteer_statement(db.session, user(), volunteer_id)
    return one_json(statement_out(st))


@bp.post("/v1/timebank/corrections")
@allow(*REVERSERS)
@spec(body=CorrectionIn, response=CorrectionOut, status=201, errors=[409])
def reverse_transfer() -> Response:
    """Reverse a posted transfer, wholly or in part, with a reason.

    Both parties see the correction on their statement; volunteers also get a
    ``timebank_correction`` Socket.IO event.
    """
    body = parse_body(CorrectionIn)
    c = tb.reverse_transfer(
        db.session,
        user(),
        transfer_id=body.transfer_id,
        reason=body.reason,
        amount_min=body.amount_min,
    )
    t = c.result.transfer
    assert t is not None
    out = CorrectionOut(
        correction_id=t.id,
        transfer_id=body.transfer_id,
        amount_min=t.amount_min,
        parties=[
            PartyOut(
                owner_ref=p.owner_ref, delta_min=p.delta_min, balance_after_min=p.balance_after_min
            )
            for p in c.parties
        ],
    )
    return one_json(out, 201)


@bp.get("/v1/timebank/liability")
@allow(*ADMINS)
@spec(response=LiabilityOut)
def timebank_liability() -> Response:
    """Minutes owed to members and the pool, against the sponsor's guarantee (city-wide)."""
    r = tb.liability(db.session, user())
    out = LiabilityOut(
        members=r.members,
        members_balance_min=r.members_balance_min,
        members_held_min=r.members_held_min,
        pool_min=r.pool_min,
        owed_min=r.owed_min,
        guarantee_min=r.guarantee_min,
        uncovered_min=r.uncovered_min,
        issued_net_min=r.issued_net_min,
        balanced=r.balanced,
        by_code=[
            CodeTotalOut(code=c.code.value, transfers=c.transfers, amount_min=c.amount_min)
            for c in r.by_code
        ],
    )
    return one_json(out)
