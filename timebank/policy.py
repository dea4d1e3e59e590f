"""The time bank's rules, as plain functions the app calls with explicit inputs.

Each function takes the caller's session first, writes through :mod:`timebank.ledger`
(flush only) and returns what happened; the app commits, notifies and broadcasts. Ids
are derived from the app's own objects (``earn:visit:{id}``, ``redeem:{id}``...), so a
replayed or duplicated request is answered with the original transfers.

The rules, after the Nanjing and Shanghai schemes:

- earning: verified minutes are credited once per visit, optionally weighted per service
  category (off by default: 1 min = 1 min), up to a storage cap per member (default
  1,500 h = 90,000 min); the overflow goes to the donation pool in the same linked batch;
- redemption (for services, never cash, from about age 65): a pending hold on the
  member's account, posted when the service is verified, voided on cancellation or when
  it times out (:func:`expire_holds`);
- gifts only to registered relatives (the app decides who is one), within their cap;
- donations to the pool, and grants from the pool to members;
- an optional expiry rule (off by default): minutes not spent within N days expire,
  oldest first;
- the sponsor's guarantee (:func:`pledge_guarantee`) and corrections by reversal
  (:func:`correct`), which return both parties for the app to notify.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from sqlalchemy import bindparam, func, select

from timebank.ledger import (
    Executor,
    account_from_row,
    as_utc,
    create_transfers,
    get_transfer,
    get_transfers,
    lock_accounts,
    open_account,
)
from timebank.model import (
    MINUTES_LEDGER,
    SYSTEM_OWNER,
    Account,
    AccountKind,
    Outcome,
    Transfer,
    TransferCode,
    TransferKind,
    TransferResult,
    TransferSpec,
)
from timebank.schema import UTCDateTime, accounts, entries, transfers

__all__ = [
    "DEFAULT_POLICY",
    "Correction",
    "EarnResult",
    "Party",
    "Policy",
    "PolicyError",
    "SystemAccounts",
    "cancel_redemption",
    "complete_redemption",
    "correct",
    "credited_minutes",
    "donate",
    "earn_for_visit",
    "ensure_system_accounts",
    "expire_credits",
    "expire_holds",
    "gift",
    "grant_from_pool",
    "hold_redemption",
    "pledge_guarantee",
    "system_accounts",
]

_DAY_S = 24 * 3600

_SYSTEM_ACCOUNTS = select(accounts).where(
    accounts.c.ledger == bindparam("ledger"), accounts.c.owner_ref == SYSTEM_OWNER
)
_LEGS_OF = (
    select(entries.c.account_id, entries.c.posted_delta_min, entries.c.balance_after_min)
    .where(entries.c.transfer_id == bindparam("transfer_id"))
    .order_by(entries.c.side.desc())
)
_RESOLUTION = transfers.alias("resolution")
_EXPIRED_HOLDS = (
    select(transfers.c.id)
    .where(
        transfers.c.kind == TransferKind.PENDING.value,
        transfers.c.expires_at <= bindparam("now", type_=UTCDateTime()),
        ~select(_RESOLUTION.c.id).where(_RESOLUTION.c.pending_id == transfers.c.id).exists(),
    )
    .order_by(transfers.c.expires_at, transfers.c.id)
    .limit(bindparam("limit"))
)


class PolicyError(ValueError):
    """A request the rules refuse before touching the ledger (e.g. a gift to a stranger)."""


@dataclass(frozen=True)
class Policy:
    """The time bank's configurable rules.

    Parameters
    ----------
    storage_cap_min
        Most minutes a member may hold; earnings above it go to the pool and gifts or
        grants above it are refused. None: no cap. Default 90,000 (Nanjing's 1,500 h).
    category_weight_pct
        Credit per verified minute, in percent, by service category (e.g.
        ``{"nursing": 150}``); categories not listed count 100 %. Credits round down.
    expiry_days
        Minutes not spent within this many days of being received expire. None: never.
    redemption_min_age_years
        Youngest beneficiary of a redemption. None: no age limit.
    redemption_hold_timeout_s
        How long a redemption hold lasts before it can only be voided.
    ledger
        The ledger of minutes.
    """

    storage_cap_min: int | None = 90_000
    category_weight_pct: Mapping[str, int] = field(default_factory=dict)
    expiry_days: int | None = None
    redemption_min_age_years: int | None = 65
    redemption_hold_timeout_s: int = 7 * _DAY_S
    ledger: int = MINUTES_LEDGER

    def __post_init__(self) -> None:
        if self.storage_cap_min is not None and self.storage_cap_min <= 0:
            raise ValueError("storage_cap_min must be positive or None")
        for category, pct in self.category_weight_pct.items():
            if not isinstance(pct, int) or not 1 <= pct <= 1000:
                raise ValueError(f"category_weight_pct[{category!r}] must be 1..1000")
        if self.expiry_days is not None and self.expiry_days <= 0:
            raise ValueError("expiry_days must be positive or None")
        if self.redemption_hold_timeout_s <= 0:
            raise ValueError("redemption_hold_timeout_s must be positive")
        object.__setattr__(
            self, "category_weight_pct", MappingProxyType(dict(self.category_weight_pct))
        )


DEFAULT_POLICY = Policy()


@dataclass(frozen=True)
class SystemAccounts:
    """The bank's own accounts on one ledger."""

    issuance: Account
    pool: Account
    guarantee: Account


def ensure_system_accounts(
    session: Executor, *, ledger: int = MINUTES_LEDGER, now: dt.datetime | None = None
) -> SystemAccounts:
    """Create (idempotently) and return the issuance, pool and guarantee accounts.

    Parameters
    ----------
    session
        The caller's session (flushed, not committed).
    ledger
        The ledger of minutes.
    now
        Creation time, UTC-aware; the current time by default.
    """
    return SystemAccounts(
        *(
            open_account(session, kind, SYSTEM_OWNER, ledger=ledger, now=now)
            for kind in (AccountKind.ISSUANCE, AccountKind.POOL, AccountKind.GUARANTEE)
        )
    )


def system_accounts(session: Executor, *, ledger: int = MINUTES_LEDGER) -> SystemAccounts:
    """Return the bank's own accounts.

    Raises
    ------
    LookupError
        If :func:`ensure_system_accounts` never ran on this ledger.
    """
    rows = session.execute(_SYSTEM_ACCOUNTS, {"ledger": ledger}).all()
    found = {AccountKind(row.kind): account_from_row(row) for row in rows}
    try:
        return SystemAccounts(
            found[AccountKind.ISSUANCE], found[AccountKind.POOL], found[AccountKind.GUARANTEE]
        )
    except KeyError:
        raise LookupError(f"the system accounts of ledger {ledger} do not exist") from None


def credited_minutes(verified_min: int, category: str | None, policy: Policy) -> int:
    """Return the minutes credited for ``verified_min`` of service in ``category``.

    Parameters
    ----------
    verified_min
        Verified service time, whole minutes (>= 0).
    category
        The service category, or None (weight 100 %).
    policy
        Supplies the weights.
    """
    if verified_min < 0:
        raise ValueError("verified_min must be >= 0")
    pct = policy.category_weight_pct.get(category, 100) if category is not None else 100
    return verified_min * pct // 100


@dataclass(frozen=True)
class EarnResult:
    """What :func:`earn_for_visit` did.

    ``outcome`` is that of the credit (``created``, ``exists`` on a replay,
    ``exists_with_different_body`` if the visit was credited with other minutes), or
    None if the weighted credit was zero and nothing was written.
    """

    visit_id: str
    outcome: Outcome | None
    credited_min: int
    overflow_min: int
    credit: Transfer | None
    overflow: Transfer | None
    detail: str = ""


def _earn_ids(visit_id: str) -> tuple[str, str]:
    base = f"earn:visit:{visit_id}"
    return base, f"{base}:overflow"


def earn_for_visit(
    session: Executor,
    *,
    visit_id: int | str,
    member_account_id: int,
    verified_min: int,
    category: str | None = None,
    policy: Policy = DEFAULT_POLICY,
    now: dt.datetime | None = None,
) -> EarnResult:
    """Credit a volunteer's verified minutes for one visit, exactly once.

    The credit's id is ``earn:visit:{visit_id}``. Replays (a verification sent twice, or
    twice at the same moment) find it under the account locks and return it unchanged.
    Minutes above the storage cap go to the pool in the same linked batch
    (``earn:visit:{visit_id}:overflow``), so the member never holds more than the cap.

    Parameters
    ----------
    session
        The caller's session (flushed, not committed).
    visit_id
        The verified visit.
    member_account_id
        The volunteer's member account.
    verified_min
        Verified minutes of service (>= 0).
    category
        Service category, for the optional weight.
    policy
        The rules.
    now
        Ledger time, UTC-aware; the current time by default.
    """
    vid = str(visit_id)
    credit_id, overflow_id = _earn_ids(vid)
    credited = credited_minutes(verified_min, category, policy)
    system = system_accounts(session, ledger=policy.ledger)
    locked = lock_accounts(session, [system.issuance.id, system.pool.id, member_account_id])
    stored = get_transfers(session, [credit_id, overflow_id])
    if credit_id in stored:
        credit = stored[credit_id]
        overflow = stored.get(overflow_id)
        same = credit.amount_min == credited and credit.credit_account_id == member_account_id
        return EarnResult(
            vid,
            Outcome.EXISTS if same else Outcome.EXISTS_WITH_DIFFERENT_BODY,
            credit.amount_min,
            overflow.amount_min if overflow else 0,
            credit,
            overflow,
            "" if same else f"visit {vid} was credited {credit.amount_min} min",
        )
    if credited == 0:
        return EarnResult(vid, None, 0, 0, None, None, "nothing to credit")
    member = locked.get(member_account_id)
    if member is None or member.kind is not AccountKind.MEMBER:
        raise PolicyError(f"account {member_account_id} is not a member account")
    overflow_min = 0
    if policy.storage_cap_min is not None:
        room = max(0, policy.storage_cap_min - member.balance_min)
        overflow_min = max(0, credited - room)
    user_data = f"visit:{vid}"
    specs = [
        TransferSpec(
            id=credit_id,
            amount_min=credited,
            debit_account_id=system.issuance.id,
            credit_account_id=member_account_id,
            code=TransferCode.SERVICE_CREDIT,
            user_data=user_data,
            linked=overflow_min > 0,
        )
    ]
    if overflow_min:
        specs.append(
            TransferSpec(
                id=overflow_id,
                amount_min=overflow_min,
                debit_account_id=member_account_id,
                credit_account_id=system.pool.id,
                code=TransferCode.CAP_OVERFLOW,
                user_data=user_data,
            )
        )
    results = create_transfers(session, specs, now=now)
    first = results[0]
    return EarnResult(
        vid,
        first.outcome,
        credited if first.ok else 0,
        overflow_min if first.ok else 0,
        first.transfer,
        results[1].transfer if len(results) > 1 else None,
        first.detail or (results[1].detail if len(results) > 1 else ""),
    )


def _single(
    session: Executor,
    spec: TransferSpec,
    now: dt.datetime | None,
) -> TransferResult:
    return create_transfers(session, [spec], now=now)[0]


def hold_redemption(
    session: Executor,
    *,
    redemption_id: int | str,
    member_account_id: int,
    amount_min: int,
    beneficiary_age_years: int,
    policy: Policy = DEFAULT_POLICY,
    now: dt.datetime | None = None,
) -> TransferResult:
    """Reserve minutes for a redemption: a pending transfer ``redeem:{redemption_id}``.

    The held minutes cannot be spent elsewhere; :func:`complete_redemption` posts them
    once the service is verified, :func:`cancel_redemption` releases them. Minutes are
    only ever redeemed for services, never paid out.

    Parameters
    ----------
    session
        The caller's session (flushed, not committed).
    redemption_id
        The app's redemption (booking) id.
    member_account_id
        The account the minutes come from.
    amount_min
        Minutes to hold.
    beneficiary_age_years
        Age of the person who receives the service (the member or, after a gift, a
        relative), checked against the policy's minimum.
    policy
        The rules.
    now
        Ledger time, UTC-aware.

    Raises
    ------
    PolicyError
        If the beneficiary is younger than the policy allows.
    """
    minimum = policy.redemption_min_age_years
    if minimum is not None and beneficiary_age_years < minimum:
        raise PolicyError(
            f"redemption starts at age {minimum}, beneficiary is {beneficiary_age_years}"
        )
    system = system_accounts(session, ledger=policy.ledger)
    return _single(
        session,
        TransferSpec(
            id=f"redeem:{redemption_id}",
            amount_min=amount_min,
            debit_account_id=member_account_id,
            credit_account_id=system.issuance.id,
            code=TransferCode.REDEMPTION,
            kind=TransferKind.PENDING,
            timeout_s=policy.redemption_hold_timeout_s,
            user_data=f"redemption:{redemption_id}",
        ),
        now,
    )


def complete_redemption(
    session: Executor,
    *,
    redemption_id: int | str,
    used_min: int | None = None,
    now: dt.datetime | None = None,
) -> TransferResult:
    """Post a redemption hold once the service is verified (``redeem:{id}:post``).

    Parameters
    ----------
    session
        The caller's session (flushed, not committed).
    redemption_id
        The redemption whose hold is posted.
    used_min
        Minutes actually used, at most the hold (the rest is released); all by default.
    now
        Ledger time, UTC-aware. A hold past its timeout cannot be posted
        (``pending_transfer_expired``).
    """
    return _single(
        session,
        TransferSpec(
            id=f"redeem:{redemption_id}:post",
            amount_min=used_min,
            kind=TransferKind.POST,
            pending_id=f"redeem:{redemption_id}",
            user_data=f"redemption:{redemption_id}",
        ),
        now,
    )


def cancel_redemption(
    session: Executor,
    *,
    redemption_id: int | str,
    reason: str = "cancelled",
    now: dt.datetime | None = None,
) -> TransferResult:
    """Void a redemption hold (``redeem:{id}:void``), releasing its minutes.

    Parameters
    ----------
    session
        The caller's session (flushed, not committed).
    redemption_id
        The redemption whose hold is voided.
    reason
        Why, kept on the void.
    now
        Ledger time, UTC-aware.
    """
    return _single(
        session,
        TransferSpec(
            id=f"redeem:{redemption_id}:void",
            kind=TransferKind.VOID,
            pending_id=f"redeem:{redemption_id}",
            user_data=f"redemption:{redemption_id}",
            reason=reason,
        ),
        now,
    )


def expire_holds(
    session: Executor, *, now: dt.datetime | None = None, limit: int = 500
) -> list[TransferResult]:
    """Void pending transfers whose timeout has passed (``expire:{pending_id}``).

    Run it periodically (a job): until then an expired hold keeps its minutes reserved
    but can no longer be posted. A void racing a post or a cancellation loses cleanly
    (``pending_transfer_already_posted``/``voided``).

    Parameters
    ----------
    session
        The caller's session (flushed, not committed).
    now
        Ledger time, UTC-aware.
    limit
        Most holds voided in one call.
    """
    when = as_utc(now)
    rows = session.execute(_EXPIRED_HOLDS, {"now": when, "limit": limit}).all()
    specs = [
        TransferSpec(
            id=f"expire:{row.id}", kind=TransferKind.VOID, pending_id=row.id, reason="timeout"
        )
        for row in rows
    ]
    return create_transfers(session, specs, now=when) if specs else []


def gift(
    session: Executor,
    *,
    gift_id: int | str,
    from_account_id: int,
    to_account_id: int,
    amount_min: int,
    recipient_is_registered_relative: bool,
    policy: Policy = DEFAULT_POLICY,
    now: dt.datetime | None = None,
) -> TransferResult:
    """Give minutes to a registered relative (``gift:{gift_id}``).

    Parameters
    ----------
    session
        The caller's session (flushed, not committed).
    gift_id
        The app's gift id.
    from_account_id, to_account_id
        Giver's and recipient's member accounts.
    amount_min
        Minutes given.
    recipient_is_registered_relative
        The app's verdict on the relationship; gifts go to registered relatives only.
    policy
        The rules (the recipient's storage cap applies: ``exceeds_credit_cap``).
    now
        Ledger time, UTC-aware.

    Raises
    ------
    PolicyError
        If the recipient is not a registered relative.
    """
    if not recipient_is_registered_relative:
        raise PolicyError("gifts go to registered relatives only")
    return _single(
        session,
        TransferSpec(
            id=f"gift:{gift_id}",
            amount_min=amount_min,
            debit_account_id=from_account_id,
            credit_account_id=to_account_id,
            code=TransferCode.GIFT,
            user_data=f"gift:{gift_id}",
            credit_cap_min=policy.storage_cap_min,
        ),
        now,
    )


def donate(
    session: Executor,
    *,
    donation_id: int | str,
    from_account_id: int,
    amount_min: int,
    policy: Policy = DEFAULT_POLICY,
    now: dt.datetime | None = None,
) -> TransferResult:
    """Donate minutes to the pool (``donation:{donation_id}``).

    Parameters
    ----------
    session
        The caller's session (flushed, not committed).
    donation_id
        The app's donation id.
    from_account_id
        The donor's member account.
    amount_min
        Minutes donated.
    policy
        Supplies the ledger.
    now
        Ledger time, UTC-aware.
    """
    system = system_accounts(session, ledger=policy.ledger)
    return _single(
        session,
        TransferSpec(
            id=f"donation:{donation_id}",
            amount_min=amount_min,
            debit_account_id=from_account_id,
            credit_account_id=system.pool.id,
            code=TransferCode.DONATION,
            user_data=f"donation:{donation_id}",
        ),
        now,
    )


def grant_from_pool(
    session: Executor,
    *,
    grant_id: int | str,
    to_account_id: int,
    amount_min: int,
    reason: str,
    policy: Policy = DEFAULT_POLICY,
    now: dt.datetime | None = None,
) -> TransferResult:
    """Grant pooled minutes to a member in need (``grant:{grant_id}``).

    Parameters
    ----------
    session
        The caller's session (flushed, not committed).
    grant_id
        The app's grant id.
    to_account_id
        The recipient's member account (its storage cap applies).
    amount_min
        Minutes granted.
    reason
        Why, kept on the transfer for auditors.
    policy
        The rules.
    now
        Ledger time, UTC-aware.
    """
    system = system_accounts(session, ledger=policy.ledger)
    return _single(
        session,
        TransferSpec(
            id=f"grant:{grant_id}",
            amount_min=amount_min,
            debit_account_id=system.pool.id,
            credit_account_id=to_account_id,
            code=TransferCode.POOL_GRANT,
            user_data=f"grant:{grant_id}",
            reason=reason,
            credit_cap_min=policy.storage_cap_min,
        ),
        now,
    )


def pledge_guarantee(
    session: Executor,
    *,
    pledge_id: int | str,
    amount_min: int,
    reason: str,
    policy: Policy = DEFAULT_POLICY,
    now: dt.datetime | None = None,
) -> TransferResult:
    """Record the sponsor's guarantee of ``amount_min`` more minutes (``pledge:{id}``).

    The guarantee account holds what the sponsor (city, insurer) has pledged to honour;
    the liability report sets it against the minutes owed. Withdraw a pledge with
    :func:`correct`.

    Parameters
    ----------
    session
        The caller's session (flushed, not committed).
    pledge_id
        The app's pledge id.
    amount_min
        Minutes pledged.
    reason
        The pledge's reference (decision, budget line).
    policy
        Supplies the ledger.
    now
        Ledger time, UTC-aware.
    """
    system = system_accounts(session, ledger=policy.ledger)
    return _single(
        session,
        TransferSpec(
            id=f"pledge:{pledge_id}",
            amount_min=amount_min,
            debit_account_id=system.issuance.id,
            credit_account_id=system.guarantee.id,
            code=TransferCode.PLEDGE,
            reason=reason,
        ),
        now,
    )


@dataclass(frozen=True)
class Party:
    """One side of a correction, for the app to notify: its owner and new balance."""

    account_id: int
    owner_ref: str
    kind: AccountKind
    delta_min: int
    balance_after_min: int


@dataclass(frozen=True)
class Correction:
    """What :func:`correct` did; ``parties`` is empty unless the reversal succeeded."""

    result: TransferResult
    original: Transfer | None
    parties: tuple[Party, ...]


def correct(
    session: Executor,
    *,
    transfer_id: str,
    correction_id: int | str,
    reason: str,
    amount_min: int | None = None,
    now: dt.datetime | None = None,
) -> Correction:
    """Reverse a posted transfer, wholly or partly, with a reason (``correction:{id}``).

    Ledger rows are never changed: a correction is a new transfer in the opposite
    direction, linked to the original by ``reverses_id``; a transfer is reversed at most
    once. It fails (``exceeds_balance``) if the original recipient no longer has the
    minutes; the app then decides on a partial correction.

    Parameters
    ----------
    session
        The caller's session (flushed, not committed).
    transfer_id
        The transfer to reverse (``single`` or ``post``).
    correction_id
        The app's correction id.
    reason
        Why; required, shown to both parties.
    amount_min
        Minutes to reverse, at most the original; all by default.
    now
        Ledger time, UTC-aware.

    Returns
    -------
    Correction
        The ledger result, the original transfer and, on success, both parties with
        their signed change and new balance.
    """
    result = _single(
        session,
        TransferSpec(
            id=f"correction:{correction_id}",
            amount_min=amount_min,
            code=TransferCode.CORRECTION,
            reverses_id=transfer_id,
            reason=reason,
        ),
        now,
    )
    original = get_transfer(session, transfer_id)
    if not result.ok or result.transfer is None:
        return Correction(result, original, ())
    t = result.transfer
    rows = session.execute(_LEGS_OF, {"transfer_id": t.id}).all()
    owners = lock_accounts(session, [row.account_id for row in rows])
    parties = tuple(
        Party(
            row.account_id,
            owners[row.account_id].owner_ref,
            owners[row.account_id].kind,
            row.posted_delta_min,
            row.balance_after_min,
        )
        for row in rows
    )
    return Correction(result, original, parties)


def expire_credits(
    session: Executor,
    *,
    member_account_id: int,
    policy: Policy = DEFAULT_POLICY,
    now: dt.datetime | None = None,
) -> TransferResult | None:
    """Apply the optional expiry rule to one member (``expiry:{account}:{date}``).

    Minutes are spent oldest first, so what remains from before the cutoff
    (``now - expiry_days``) is the balance minus what was received since; that much
    expires, never more than is available (held minutes are spared). At most one expiry
    per member per UTC day; a replay the same day returns it.

    Parameters
    ----------
    session
        The caller's session (flushed, not committed).
    member_account_id
        The member account.
    policy
        The rules; nothing happens when ``expiry_days`` is None.
    now
        Ledger time, UTC-aware.

    Returns
    -------
    TransferResult or None
        None when the rule is off or nothing expires.
    """
    if policy.expiry_days is None:
        return None
    when = as_utc(now)
    transfer_id = f"expiry:{member_account_id}:{when.date().isoformat()}"
    system = system_accounts(session, ledger=policy.ledger)
    member = lock_accounts(session, [system.issuance.id, member_account_id]).get(member_account_id)
    if member is None:
        raise PolicyError(f"no account {member_account_id}")
    existing = get_transfer(session, transfer_id)
    if existing is not None:
        return TransferResult(transfer_id, Outcome.EXISTS, existing)
    cutoff = when - dt.timedelta(days=policy.expiry_days)
    recent = session.execute(
        select(func.coalesce(func.sum(entries.c.posted_delta_min), 0))
        .select_from(entries.join(transfers, transfers.c.id == entries.c.transfer_id))
        .where(
            entries.c.account_id == member_account_id,
            entries.c.side == "credit",
            transfers.c.created_at > cutoff,
        )
    ).scalar_one()
    expiring = min(member.available_min, member.balance_min - int(recent))
    if expiring <= 0:
        return None
    return _single(
        session,
        TransferSpec(
            id=transfer_id,
            amount_min=expiring,
            debit_account_id=member_account_id,
            credit_account_id=system.issuance.id,
            code=TransferCode.EXPIRY,
            reason=f"not spent within {policy.expiry_days} days",
        ),
        when,
    )
