"""Read-only views of the ledger: the liability report and an account statement.

Both are computed from the ledger's own rows, never from a separate tally, so they cannot
disagree with the transfers (and :func:`timebank.verify.verify` proves the account
counters they sum are the transfers' sum).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import and_, func, select

from timebank.ledger import Executor, get_account
from timebank.model import (
    MINUTES_LEDGER,
    Account,
    AccountKind,
    TransferCode,
    TransferKind,
)
from timebank.schema import accounts, entries, transfers

__all__ = [
    "CodeTotal",
    "LiabilityReport",
    "Statement",
    "StatementLine",
    "liability_report",
    "statement",
]


@dataclass(frozen=True)
class CodeTotal:
    """Posted minutes moved for one reason (pending holds excluded)."""

    code: TransferCode
    transfers: int
    amount_min: int


@dataclass(frozen=True)
class LiabilityReport:
    """Minutes the bank owes, set against the sponsor's guarantee.

    Attributes
    ----------
    members
        Number of member accounts.
    members_balance_min
        Minutes held by members (posted), including those reserved by holds.
    members_held_min
        Of which reserved by pending redemptions.
    pool_min
        Minutes in the donation pool.
    owed_min
        ``members_balance_min + pool_min``: every minute the bank may have to honour.
    guarantee_min
        Minutes pledged by the sponsor.
    uncovered_min
        ``max(0, owed_min - guarantee_min)``.
    issued_net_min
        The issuance account's net debit: must equal ``owed_min + guarantee_min``.
    balanced
        Whether the sum of all balances (posted and pending) is zero.
    by_code
        Posted totals per transfer code, from the transfers themselves.
    """

    ledger: int
    members: int
    members_balance_min: int
    members_held_min: int
    pool_min: int
    owed_min: int
    guarantee_min: int
    uncovered_min: int
    issued_net_min: int
    balanced: bool
    by_code: tuple[CodeTotal, ...]


def liability_report(session: Executor, *, ledger: int = MINUTES_LEDGER) -> LiabilityReport:
    """Return what the bank owes its members on ``ledger``, against the guarantee.

    Parameters
    ----------
    session
        The caller's session or connection.
    ledger
        The ledger of minutes.
    """
    balance = accounts.c.credits_posted_min - accounts.c.debits_posted_min
    rows = session.execute(
        select(
            accounts.c.kind,
            func.count(),
            func.coalesce(func.sum(balance), 0),
            func.coalesce(func.sum(accounts.c.debits_pending_min), 0),
            func.coalesce(
                func.sum(accounts.c.credits_pending_min - accounts.c.debits_pending_min), 0
            ),
        )
        .where(accounts.c.ledger == ledger)
        .group_by(accounts.c.kind)
    ).all()
    by_kind = {AccountKind(kind): (int(n), int(b), int(h), int(p)) for kind, n, b, h, p in rows}
    empty = (0, 0, 0, 0)
    members = by_kind.get(AccountKind.MEMBER, empty)
    pool = by_kind.get(AccountKind.POOL, empty)[1]
    guarantee = by_kind.get(AccountKind.GUARANTEE, empty)[1]
    issued = -by_kind.get(AccountKind.ISSUANCE, empty)[1]
    balanced = sum(v[1] for v in by_kind.values()) == 0 and sum(v[3] for v in by_kind.values()) == 0
    owed = members[1] + pool
    totals = session.execute(
        select(transfers.c.code, func.count(), func.sum(transfers.c.amount_min))
        .where(
            transfers.c.ledger == ledger,
            transfers.c.kind.in_([TransferKind.SINGLE.value, TransferKind.POST.value]),
        )
        .group_by(transfers.c.code)
        .order_by(transfers.c.code)
    ).all()
    return LiabilityReport(
        ledger=ledger,
        members=members[0],
        members_balance_min=members[1],
        members_held_min=members[2],
        pool_min=pool,
        owed_min=owed,
        guarantee_min=guarantee,
        uncovered_min=max(0, owed - guarantee),
        issued_net_min=issued,
        balanced=balanced,
        by_code=tuple(CodeTotal(TransferCode(c), int(n), int(a)) for c, n, a in totals),
    )


@dataclass(frozen=True)
class StatementLine:
    """One entry of an account, with the running balance.

    ``amount_min`` is the change of the posted balance (negative when minutes leave),
    ``pending_delta_min`` that of the net pending amount (negative when a hold starts).
    """

    version: int
    at: dt.datetime
    transfer_id: str
    code: TransferCode
    kind: TransferKind
    counterparty_account_id: int
    counterparty_owner_ref: str
    amount_min: int
    pending_delta_min: int
    balance_before_min: int
    balance_after_min: int
    pending_after_min: int
    user_data: str | None
    reason: str | None


@dataclass(frozen=True)
class Statement:
    """An account's entries in order, with opening and closing balances of the range."""

    account: Account
    opening_balance_min: int
    closing_balance_min: int
    lines: tuple[StatementLine, ...]


def statement(
    session: Executor,
    account_id: int,
    *,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> Statement:
    """Return the statement of ``account_id`` between ``since`` and ``until``.

    Parameters
    ----------
    session
        The caller's session or connection.
    account_id
        The account.
    since, until
        Optional UTC-aware bounds on the transfers' ``created_at`` (``since`` inclusive,
        ``until`` exclusive).

    Raises
    ------
    LookupError
        If the account does not exist.
    """
    account = get_account(session, account_id)
    if account is None:
        raise LookupError(f"no account {account_id}")
    other = entries.alias("other")
    other_account = accounts.alias("other_account")
    query = (
        select(
            entries,
            transfers.c.created_at,
            transfers.c.code,
            transfers.c.kind,
            transfers.c.user_data,
            transfers.c.reason,
            other.c.account_id.label("counterparty_id"),
            other_account.c.owner_ref.label("counterparty_owner_ref"),
        )
        .select_from(
            entries.join(transfers, transfers.c.id == entries.c.transfer_id)
            .join(
                other,
                and_(other.c.transfer_id == entries.c.transfer_id, other.c.side != entries.c.side),
            )
            .join(other_account, other_account.c.id == other.c.account_id)
        )
        .where(entries.c.account_id == account_id)
        .order_by(entries.c.version)
    )
    if since is not None:
        query = query.where(transfers.c.created_at >= since)
    if until is not None:
        query = query.where(transfers.c.created_at < until)
    lines = tuple(
        StatementLine(
            version=row.version,
            at=row.created_at,
            transfer_id=row.transfer_id,
            code=TransferCode(row.code),
            kind=TransferKind(row.kind),
            counterparty_account_id=row.counterparty_id,
            counterparty_owner_ref=row.counterparty_owner_ref,
            amount_min=row.posted_delta_min,
            pending_delta_min=row.pending_delta_min,
            balance_before_min=row.balance_before_min,
            balance_after_min=row.balance_after_min,
            pending_after_min=row.pending_after_min,
            user_data=row.user_data,
            reason=row.reason,
        )
        for row in session.execute(query)
    )
    if lines:
        opening, closing = lines[0].balance_before_min, lines[-1].balance_after_min
    else:
        opening = closing = _balance_before(session, account_id, since)
    return Statement(account, opening, closing, lines)


def _balance_before(session: Executor, account_id: int, since: dt.datetime | None) -> int:
    """The balance just before ``since``: the last earlier entry's, else 0 (all start at 0)."""
    if since is None:
        return 0
    row = session.execute(
        select(entries.c.balance_after_min)
        .select_from(entries.join(transfers, transfers.c.id == entries.c.transfer_id))
        .where(entries.c.account_id == account_id, transfers.c.created_at < since)
        .order_by(entries.c.version.desc())
        .limit(1)
    ).first()
    return 0 if row is None else int(row.balance_after_min)
