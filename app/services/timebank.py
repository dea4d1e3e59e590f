"""The time bank in the app: members' accounts and balances, statements, earning on
verified visits, gifts, donations, reversals, and the auditors' reports.

The ledger itself is the ``timebank`` package (flush only); these functions decide who may
do what, derive the ledger ids from the app's objects, commit the unit of work and then
announce. Accounts belong to an owner reference: ``volunteer:<id>`` for a volunteer,
``person:<id>`` for an insured person who received a gift. Redemption (minutes held for
a visit the dispatcher plans) lives in ``app.services.timebank_redemption``.

Ids, so that any replay writes nothing new:

- earning: ``earn:visit:<visit>:v<volunteer>`` (one credit per volunteer and visit, whatever
  the number of verifications or listeners' calls);
- gifts and donations: ``gift:<volunteer>:<request_id>``, ``donation:<volunteer>:<request_id>``
  with a request id the client makes once per form (a double submission is one transfer);
- reversals: ``correction:<transfer id>`` (a transfer is reversed at most once).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

import timebank
from app.models import (
    InsuredPerson,
    Role,
    User,
    Visit,
    VisitVerification,
    Volunteer,
    VolunteerRelative,
)
from app.security import can_see_agency
from app.services.errors import Conflict, Forbidden, NotFound, ValidationFailed
from app.services.exports import safe_cell
from app.services.timebank_events import announce_correction
from app.services.timebank_policy import load_timebank_policy
from timebank.schema import accounts as tb_accounts

log = logging.getLogger(__name__)

VOLUNTEER = "volunteer"
PERSON = "person"
REVERSERS = frozenset({Role.AGENCY_ADMIN, Role.SYS_ADMIN})
READERS = frozenset({Role.AGENCY_ADMIN, Role.AUDITOR, Role.SYS_ADMIN})
_ID_ROOM = 110  # longest transfer id used as is inside "correction:<id>" (128 at most)


# --- accounts -----------------------------------------------------------------------------


def owner_ref(kind: str, number: int) -> str:
    return f"{kind}:{number}"


def parse_owner(ref: str) -> tuple[str, int] | None:
    kind, _sep, number = ref.partition(":")
    if kind in (VOLUNTEER, PERSON) and number.isdigit():
        return kind, int(number)
    return None


def system_accounts(session: Session) -> timebank.SystemAccounts:
    """The bank's own accounts, created on first use."""
    return timebank.ensure_system_accounts(session)


def member_account(session: Session, ref: str) -> timebank.Account:
    """The member account of ``ref``, opened on first use (with the system accounts)."""
    system_accounts(session)
    return timebank.open_account(session, timebank.AccountKind.MEMBER, ref)


def find_member(session: Session, ref: str) -> timebank.Account | None:
    return timebank.find_account(session, timebank.AccountKind.MEMBER, ref)


def volunteer_id_of(u: User) -> int:
    """The volunteer record of a volunteer's login."""
    if u.role != Role.VOLUNTEER or u.volunteer_id is None:
        raise Forbidden(_("Only volunteers have a time-bank account."))
    return u.volunteer_id


@dataclass(frozen=True)
class Balance:
    """A member's minutes: all posted, of which held by redemptions, and what is left."""

    balance_min: int
    held_min: int
    available_min: int
    cap_min: int | None


def balance_of(account: timebank.Account | None) -> Balance:
    cap = load_timebank_policy().storage_cap_min
    if account is None:
        return Balance(0, 0, 0, cap)
    return Balance(account.balance_min, account.debits_pending_min, account.available_min, cap)


def my_balance(session: Session, u: User) -> Balance:
    return balance_of(find_member(session, owner_ref(VOLUNTEER, volunteer_id_of(u))))


# --- statements ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    """One statement line: a change of the member's minutes, with the running balance.

    ``amount_min`` changes the balance (negative when minutes leave); ``held_min`` is what
    is held after the line (a hold raises it, its post or release lowers it).
    """

    at: dt.datetime
    transfer_id: str
    code: str
    kind: str
    description: str
    amount_min: int
    held_change_min: int
    balance_after_min: int
    held_after_min: int
    reason: str | None


@dataclass(frozen=True)
class MemberStatement:
    owner_ref: str
    name: str
    balance: Balance
    opening_min: int
    closing_min: int
    lines: tuple[Line, ...]


def _ref_of(user_data: str | None, prefix: str) -> str:
    # "visit:42:v7" / "redemption:visit:42" -> "v-42"
    rest = (user_data or "").removeprefix(prefix)
    number = rest.split(":", 1)[0]
    return f"v-{number}" if number.isdigit() else "?"


def _names(session: Session, refs: Iterable[str]) -> dict[str, str]:
    wanted: dict[str, set[int]] = {VOLUNTEER: set(), PERSON: set()}
    for ref in refs:
        parsed = parse_owner(ref)
        if parsed:
            wanted[parsed[0]].add(parsed[1])
    names: dict[str, str] = {}
    for model, kind in ((Volunteer, VOLUNTEER), (InsuredPerson, PERSON)):
        if wanted[kind]:
            rows = session.execute(select(model.id, model.name).where(model.id.in_(wanted[kind])))
            names.update({owner_ref(kind, i): n for i, n in rows})
    return names


def describe(line: timebank.StatementLine, names: dict[str, str]) -> str:
    """What a ledger entry means to the member, in the request's language."""
    code, kind = line.code, line.kind
    other = names.get(line.counterparty_owner_ref, line.counterparty_owner_ref)
    C, K = timebank.TransferCode, timebank.TransferKind
    if code is C.SERVICE_CREDIT:
        return _("Service given, visit %(ref)s", ref=_ref_of(line.user_data, "visit:"))
    if code is C.CAP_OVERFLOW:
        return _("Above the storage cap: to the pool")
    if code is C.REDEMPTION:
        ref = _ref_of(line.user_data, "redemption:visit:")
        if kind is K.PENDING:
            return _("Held for visit %(ref)s", ref=ref)
        if kind is K.POST:
            return _("Spent on visit %(ref)s", ref=ref)
        return _("Hold released, visit %(ref)s", ref=ref)
    if code is C.GIFT:
        if line.amount_min < 0:
            return _("Gift to %(name)s", name=other)
        return _("Gift from %(name)s", name=other)
    if code is C.DONATION:
        return _("Donation to the pool")
    if code is C.POOL_GRANT:
        return _("Grant from the pool")
    if code is C.CORRECTION:
        return _("Correction: %(reason)s", reason=line.reason or "")
    if code is C.EXPIRY:
        return _("Expired: not spent in time")
    return str(code)


def statement_of(session: Session, ref: str, name: str) -> MemberStatement:
    account = find_member(session, ref)
    if account is None:
        return MemberStatement(ref, name, balance_of(None), 0, 0, ())
    st = timebank.statement(session, account.id)
    names = _names(session, {line.counterparty_owner_ref for line in st.lines})
    lines = tuple(
        Line(
            at=line.at,
            transfer_id=line.transfer_id,
            code=line.code.value,
            kind=line.kind.value,
            description=describe(line, names),
            amount_min=line.amount_min,
            # A member's net pending is minus what is held (holds are pending debits).
            held_change_min=-line.pending_delta_min,
            balance_after_min=line.balance_after_min,
            held_after_min=-line.pending_after_min,
            reason=line.reason,
        )
        for line in st.lines
    )
    return MemberStatement(
        ref, name, balance_of(account), st.opening_balance_min, st.closing_balance_min, lines
    )


def my_statement(session: Session, u: User) -> MemberStatement:
    vid = volunteer_id_of(u)
    volunteer = session.get(Volunteer, vid)
    return statement_of(session, owner_ref(VOLUNTEER, vid), volunteer.name if volunteer else "")


def volunteer_statement(session: Session, actor: User, volunteer_id: int) -> MemberStatement:
    """A volunteer's statement for the agency's admin, auditors and operators."""
    volunteer = session.get(Volunteer, volunteer_id)
    if volunteer is None or not can_see_agency(actor, volunteer.agency_id):
        raise NotFound(_("No such volunteer."))
    return statement_of(session, owner_ref(VOLUNTEER, volunteer_id), volunteer.name)


# Cells starting with these are formulas to a spreadsheet (OWASP "CSV injection").
def statement_csv(statement: MemberStatement, tz_name: str) -> bytes:
    """The statement as CSV: UTF-8 with a BOM (so spreadsheet programs read Chinese), text
    cells escaped against formula injection, times in the agencies' zone."""
    tz = ZoneInfo(tz_name)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            _("Time"),
            _("Transfer"),
            _("What"),
            _("Change (min)"),
            _("Held change (min)"),
            _("Balance (min)"),
            _("Held (min)"),
            _("Reason"),
        ]
    )
    for line in statement.lines:
        writer.writerow(
            [
                safe_cell(line.at.astimezone(tz).strftime("%Y-%m-%d %H:%M")),
                safe_cell(line.transfer_id),
                safe_cell(line.description),
                line.amount_min,
                line.held_change_min,
                line.balance_after_min,
                line.held_after_min,
                safe_cell(line.reason or ""),
            ]
        )
    return ("\ufeff" + out.getvalue()).encode("utf-8")


# --- earning --------------------------------------------------------------------------------


def earn_for_verification(
    session: Session, visit: Visit, verification: VisitVerification
) -> timebank.EarnResult | None:
    """Credit a volunteer's verified minutes for their part in ``visit`` (flush only).

    Called by the EVV service inside its unit of work when the visit becomes verified. The
    ledger id makes it once per volunteer and visit: a replayed or concurrent verification
    finds the credit under the account locks and writes nothing.
    """
    if verification.volunteer_id is None:
        return None
    account = member_account(session, owner_ref(VOLUNTEER, verification.volunteer_id))
    result = timebank.earn_for_visit(
        session,
        visit_id=f"{visit.id}:v{verification.volunteer_id}",
        member_account_id=account.id,
        verified_min=max(0, verification.duration_s) // 60,
        category=visit.plan_item.service_item.category,
        policy=load_timebank_policy(),
    )
    if result.outcome is not None and not result.outcome.ok:
        # Never undo a verified visit over its credit: the auditors see it in the log.
        log.warning("visit %s not credited: %s %s", visit.id, result.outcome, result.detail)
    return result


# --- gifts, donations -----------------------------------------------------------------------


def _failed(result: timebank.TransferResult, field: str) -> Conflict:
    Out = timebank.Outcome
    messages = {
        Out.EXCEEDS_BALANCE: (field, _("You do not have that many minutes available.")),
        Out.EXCEEDS_CREDIT_CAP: (field, _("The recipient would hold more than the storage cap.")),
        Out.EXISTS_WITH_DIFFERENT_BODY: (
            "request_id",
            _("This request id was already used for another transfer."),
        ),
    }
    name, message = messages.get(
        result.outcome, (field, _("The time bank refused this: %(why)s.", why=result.outcome))
    )
    return Conflict(message, {name: message})


def _positive(amount_min: int) -> None:
    if amount_min <= 0:
        raise ValidationFailed(
            _("Some fields are not valid."), {"amount_min": _("Must be at least %(n)s.", n=1)}
        )


def relatives_of(session: Session, volunteer_id: int) -> Sequence[VolunteerRelative]:
    return session.scalars(
        select(VolunteerRelative)
        .where(VolunteerRelative.volunteer_id == volunteer_id)
        .order_by(VolunteerRelative.id)
    ).all()


def relative_ref(link: VolunteerRelative) -> str:
    if link.relative_volunteer_id is not None:
        return owner_ref(VOLUNTEER, link.relative_volunteer_id)
    assert link.relative_person_id is not None
    return owner_ref(PERSON, link.relative_person_id)


def gift_minutes(
    session: Session, u: User, *, relative_id: int, amount_min: int, request_id: str
) -> timebank.TransferResult:
    """Give minutes to one of the volunteer's registered relatives; commits."""
    vid = volunteer_id_of(u)
    _positive(amount_min)
    link = session.get(VolunteerRelative, relative_id)
    if link is None or link.volunteer_id != vid or link.relative_volunteer_id == vid:
        message = _("Not one of your registered relatives.")
        raise ValidationFailed(_("Some fields are not valid."), {"relative_id": message})
    giver = member_account(session, owner_ref(VOLUNTEER, vid))
    recipient = member_account(session, relative_ref(link))
    result = timebank.gift(
        session,
        gift_id=f"{vid}:{request_id}",
        from_account_id=giver.id,
        to_account_id=recipient.id,
        amount_min=amount_min,
        recipient_is_registered_relative=True,
        policy=load_timebank_policy(),
    )
    if not result.ok:
        session.rollback()
        raise _failed(result, "amount_min")
    session.commit()
    return result


def donate_minutes(
    session: Session, u: User, *, amount_min: int, request_id: str
) -> timebank.TransferResult:
    """Give minutes to the donation pool; commits."""
    vid = volunteer_id_of(u)
    _positive(amount_min)
    donor = member_account(session, owner_ref(VOLUNTEER, vid))
    result = timebank.donate(
        session,
        donation_id=f"{vid}:{request_id}",
        from_account_id=donor.id,
        amount_min=amount_min,
        policy=load_timebank_policy(),
    )
    if not result.ok:
        session.rollback()
        raise _failed(result, "amount_min")
    session.commit()
    return result


# --- reversals --------------------------------------------------------------------------------


def _agency_of(session: Session, ref: str) -> int | None:
    parsed = parse_owner(ref)
    if parsed is None:
        return None
    row: Volunteer | InsuredPerson | None
    if parsed[0] == VOLUNTEER:
        row = session.get(Volunteer, parsed[1])
    else:
        row = session.get(InsuredPerson, parsed[1])
    return row.agency_id if row is not None else None


def _may_reverse(session: Session, actor: User, transfer: timebank.Transfer) -> bool:
    if actor.role == Role.SYS_ADMIN:
        return True
    owners = []
    for account_id in (transfer.debit_account_id, transfer.credit_account_id):
        account = timebank.get_account(session, account_id)
        if account is not None:
            owners.append(_agency_of(session, account.owner_ref))
    return actor.agency_id is not None and actor.agency_id in owners


def correction_id_for(transfer_id: str) -> str:
    if len(transfer_id) <= _ID_ROOM:
        return transfer_id
    return hashlib.sha256(transfer_id.encode()).hexdigest()[:40]


def reverse_transfer(
    session: Session,
    actor: User,
    *,
    transfer_id: str,
    reason: str,
    amount_min: int | None = None,
) -> timebank.Correction:
    """Reverse a posted transfer (wholly or ``amount_min``) with a reason; commits, then
    tells every volunteer whose minutes changed (Socket.IO ``timebank_correction``).

    Agency admins reverse transfers of their agency's members; operators any.
    """
    if actor.role not in REVERSERS:
        raise Forbidden(_("You may not do this."))
    reason = reason.strip()
    if not reason:
        raise ValidationFailed(
            _("Some fields are not valid."), {"reason": _("Give a reason for the correction.")}
        )
    if amount_min is not None:
        _positive(amount_min)
    original = timebank.get_transfer(session, transfer_id)
    if original is None or not _may_reverse(session, actor, original):
        message = _("No such transfer.")
        raise NotFound(message, {"transfer_id": message})
    correction = timebank.correct(
        session,
        transfer_id=transfer_id,
        correction_id=correction_id_for(transfer_id),
        reason=reason,
        amount_min=amount_min,
    )
    result = correction.result
    if not result.ok:
        session.rollback()
        raise _reversal_failed(result)
    session.commit()
    _announce(correction, reason)
    return correction


def _reversal_failed(result: timebank.TransferResult) -> Conflict:
    Out = timebank.Outcome
    if result.outcome is Out.EXCEEDS_BALANCE:
        message = _("The recipient no longer has these minutes; reverse a smaller amount.")
        return Conflict(message, {"amount_min": message})
    if result.outcome is Out.INVALID:
        message = _("At most the transfer's amount can be reversed.")
        return Conflict(message, {"amount_min": message})
    messages = {
        Out.ALREADY_REVERSED: _("This transfer was already reversed."),
        Out.REVERSAL_TARGET_INVALID: _("Only a posted transfer can be reversed."),
    }
    message = messages.get(result.outcome) or _(
        "The time bank refused this: %(why)s.", why=result.outcome
    )
    return Conflict(message, {"transfer_id": message})


def _announce(correction: timebank.Correction, reason: str) -> None:
    t = correction.result.transfer
    assert t is not None
    for party in correction.parties:
        parsed = parse_owner(party.owner_ref)
        if parsed is None or parsed[0] != VOLUNTEER:
            continue
        announce_correction(
            owner_ref(VOLUNTEER, parsed[1]),
            {
                "correction_id": t.id,
                "transfer_id": t.reverses_id,
                "delta_min": party.delta_min,
                "balance_after_min": party.balance_after_min,
                "reason": reason,
                "at": t.created_at.isoformat(),
            },
        )


# --- reports ------------------------------------------------------------------------------------


def liability(session: Session, actor: User) -> timebank.LiabilityReport:
    """Minutes owed to members and the pool, against the sponsor's guarantee (city-wide)."""
    if actor.role not in READERS:
        raise Forbidden(_("You may not do this."))
    return timebank.liability_report(session)


def verify_ledger(executor: Session | Connection) -> timebank.VerifyReport:
    """Recompute every hash chain and balance (read only)."""
    return timebank.verify(executor)


def pledge(session: Session, *, pledge_id: str, amount_min: int, reason: str) -> bool:
    """Record the sponsor's guarantee of ``amount_min`` more minutes; commits. True if new."""
    system_accounts(session)
    result = timebank.pledge_guarantee(
        session, pledge_id=pledge_id, amount_min=amount_min, reason=reason
    )
    if not result.ok:
        session.rollback()
        raise _failed(result, "amount_min")
    session.commit()
    return result.outcome is timebank.Outcome.CREATED


def expire_unspent(session: Session, *, now: dt.datetime | None = None) -> int:
    """Apply the policy's optional expiry rule to every member; commits. How many expired.

    Off by default (``expiry_days: null``): nothing happens.
    """
    policy = load_timebank_policy()
    if policy.expiry_days is None:
        return 0
    members = session.scalars(
        select(tb_accounts.c.id)
        .where(tb_accounts.c.kind == timebank.AccountKind.MEMBER.value)
        .order_by(tb_accounts.c.id)
    ).all()
    expired = 0
    for account_id in members:
        result = timebank.expire_credits(
            session, member_account_id=account_id, policy=policy, now=now
        )
        expired += result is not None and result.outcome is timebank.Outcome.CREATED
    session.commit()
    return expired


def local_tz() -> str:
    return str(current_app.config["BABEL_DEFAULT_TIMEZONE"])
