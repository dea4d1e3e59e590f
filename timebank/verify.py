"""Audit: recompute every hash, chain link and balance, and report each mismatch.

:func:`verify` trusts nothing stored except the transfers' content: it recomputes each
transfer's hash from its fields and entries, walks every account's history in version
order checking the chain links and running balances, rebuilds the four counters and
compares them with the account row, and checks that all balances sum to zero. A row
changed or deleted behind the ledger's back (triggers dropped, raw SQL) shows up as one
or more problems naming the transfer or account. The app exposes it as
``flask timebank verify``.

What it cannot detect on its own: someone who rewrites a transfer *and* recomputes every
later hash of the accounts it touches. Recording :attr:`VerifyReport.digest` outside the
database (an auditor's note, a signed log) turns that into a detectable change too.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, select

from timebank.hashing import genesis_hash, transfer_hash
from timebank.ledger import Executor, account_from_row, transfer_content, transfer_from_row
from timebank.model import Account, Entry, Transfer, TransferCode, TransferKind
from timebank.schema import accounts, entries, transfers

__all__ = ["Problem", "VerifyReport", "verify"]

_BATCH = 2000
_LEG_COLUMNS = (
    "account_id",
    "version",
    "prev_hash",
    "posted_delta_min",
    "pending_delta_min",
    "balance_before_min",
    "balance_after_min",
    "pending_before_min",
    "pending_after_min",
)


_ACCOUNTS = select(accounts).order_by(accounts.c.id)
_REVERSED = select(transfers.c.reverses_id).where(transfers.c.reverses_id.is_not(None))
_REFS = select(
    transfers.c.id,
    transfers.c.kind,
    transfers.c.debit_account_id,
    transfers.c.credit_account_id,
    transfers.c.amount_min,
    transfers.c.code,
).where((transfers.c.kind == TransferKind.PENDING.value) | transfers.c.id.in_(_REVERSED))
_DEBIT, _CREDIT = entries.alias("d"), entries.alias("c")
_TRANSFERS_WITH_LEGS = (
    select(
        *transfers.c,
        *(_DEBIT.c[name].label(f"d_{name}") for name in _LEG_COLUMNS),
        *(_CREDIT.c[name].label(f"c_{name}") for name in _LEG_COLUMNS),
    )
    .select_from(
        transfers.outerjoin(
            _DEBIT, and_(_DEBIT.c.transfer_id == transfers.c.id, _DEBIT.c.side == "debit")
        ).outerjoin(
            _CREDIT, and_(_CREDIT.c.transfer_id == transfers.c.id, _CREDIT.c.side == "credit")
        )
    )
    .order_by(transfers.c.id)
    .execution_options(yield_per=_BATCH)
)
_HISTORIES = (
    select(entries, transfers.c.hash)
    .select_from(entries.outerjoin(transfers, transfers.c.id == entries.c.transfer_id))
    .order_by(entries.c.account_id, entries.c.version)
    .execution_options(yield_per=_BATCH)
)


@dataclass(frozen=True)
class Problem:
    """One mismatch: which check failed, on what (``transfer <id>``/``account <id>``), how."""

    check: str
    subject: str
    detail: str


@dataclass(frozen=True)
class VerifyReport:
    """The result of :func:`verify`.

    ``digest`` is a hash of every account's chain head and version: recorded outside the
    database, it pins the whole history as of this check.
    """

    accounts: int
    transfers: int
    entries: int
    problems: tuple[Problem, ...]
    truncated: bool
    digest: str

    @property
    def ok(self) -> bool:
        """True when no problem was found."""
        return not self.problems

    def summary(self) -> str:
        """Return a short human-readable account of the check."""
        head = f"{self.transfers} transfers, {self.entries} entries, {self.accounts} accounts: " + (
            "OK" if self.ok else f"{len(self.problems)} problem(s)"
        )
        lines = [head, *(f"  {p.check}: {p.subject}: {p.detail}" for p in self.problems)]
        if self.truncated:
            lines.append("  (more problems not listed)")
        lines.append(f"digest {self.digest}")
        return "\n".join(lines)


class _Problems:
    def __init__(self, limit: int) -> None:
        self.items: list[Problem] = []
        self.limit = limit
        self.truncated = False

    def add(self, check: str, subject: str, detail: str) -> None:
        if len(self.items) < self.limit:
            self.items.append(Problem(check, subject, detail))
        else:
            self.truncated = True


def _stream(session: Executor, statement: Any) -> Iterator[Any]:
    yield from session.execute(statement)


def _load_accounts(session: Executor) -> dict[int, Account]:
    rows = session.execute(_ACCOUNTS)
    return {row.id: account_from_row(row) for row in rows}


@dataclass(frozen=True)
class _Ref:
    kind: str
    debit: int
    credit: int
    amount: int
    code: str


def _load_refs(session: Executor) -> dict[str, _Ref]:
    """Transfers that others point to: pendings and reversed transfers."""
    rows = session.execute(_REFS)
    return {
        r.id: _Ref(r.kind, r.debit_account_id, r.credit_account_id, r.amount_min, r.code)
        for r in rows
    }


def _leg(row: Any, prefix: str, transfer_id: str, side: str) -> Entry | None:
    m = row._mapping
    if m[f"{prefix}account_id"] is None:
        return None
    values = {name: m[f"{prefix}{name}"] for name in _LEG_COLUMNS}
    return Entry(transfer_id=transfer_id, side=side, **values)


def _expected_deltas(t: Transfer, refs: dict[str, _Ref], out: _Problems) -> tuple[int, int]:
    """Posted and pending movement that ``t`` must have, checking its references."""
    subject = f"transfer {t.id}"
    if t.kind is TransferKind.SINGLE:
        return t.amount_min, 0
    if t.kind is TransferKind.PENDING:
        return 0, t.amount_min
    pending = refs.get(t.pending_id or "")
    if pending is None or pending.kind != TransferKind.PENDING.value:
        out.add("pending_reference", subject, f"{t.pending_id!r} is not a pending transfer")
        return (t.amount_min if t.kind is TransferKind.POST else 0), 0
    if (pending.debit, pending.credit, pending.code) != (
        t.debit_account_id,
        t.credit_account_id,
        t.code.value,
    ):
        out.add("pending_reference", subject, "accounts or code differ from the pending's")
    if t.amount_min > pending.amount or (
        t.kind is TransferKind.VOID and t.amount_min != pending.amount
    ):
        out.add("pending_reference", subject, f"amount {t.amount_min} vs pending {pending.amount}")
    posted = t.amount_min if t.kind is TransferKind.POST else 0
    return posted, -pending.amount


def _check_reversal(t: Transfer, refs: dict[str, _Ref], out: _Problems) -> None:
    if t.code is not TransferCode.CORRECTION:
        return
    target = refs.get(t.reverses_id or "")
    subject = f"transfer {t.id}"
    if target is None:
        out.add("reversal_reference", subject, f"reversed transfer {t.reverses_id!r} is missing")
        return
    swapped = (target.credit, target.debit) == (t.debit_account_id, t.credit_account_id)
    if not swapped or t.amount_min > target.amount or target.kind not in ("single", "post"):
        out.add("reversal_reference", subject, f"does not reverse {t.reverses_id!r}")


def _check_transfers(session: Executor, out: _Problems) -> int:
    refs = _load_refs(session)
    count = 0
    for row in _stream(session, _TRANSFERS_WITH_LEGS):
        count += 1
        _check_transfer(row, refs, out)
    return count


def _check_transfer(row: Any, refs: dict[str, _Ref], out: _Problems) -> None:
    t = transfer_from_row(row)
    subject = f"transfer {t.id}"
    debit, credit = _leg(row, "d_", t.id, "debit"), _leg(row, "c_", t.id, "credit")
    if debit is None or credit is None:
        out.add("entries_missing", subject, "a transfer must have a debit and a credit entry")
        return
    if (debit.account_id, credit.account_id) != (t.debit_account_id, t.credit_account_id):
        out.add("entry_account", subject, "entries are not on the transfer's accounts")
    posted, held = _expected_deltas(t, refs, out)
    if (
        debit.posted_delta_min,
        debit.pending_delta_min,
        credit.posted_delta_min,
        credit.pending_delta_min,
    ) != (
        -posted,
        -held,
        posted,
        held,
    ):
        out.add("entry_amounts", subject, f"entries do not move {posted} posted / {held} pending")
    _check_reversal(t, refs, out)
    if transfer_hash(transfer_content(t), debit, credit) != t.hash:
        out.add("hash", subject, "stored hash does not match the transfer's content")


@dataclass
class _Walk:
    """Running state of one account's history while its entries stream by."""

    account_id: int
    version: int = 0
    head: str = ""
    debits_pending: int = 0
    debits_posted: int = 0
    credits_pending: int = 0
    credits_posted: int = 0

    @property
    def balance(self) -> int:
        return self.credits_posted - self.debits_posted

    @property
    def pending(self) -> int:
        return self.credits_pending - self.debits_pending


def _close(walk: _Walk, account: Account | None, out: _Problems) -> None:
    subject = f"account {walk.account_id}"
    if account is None:
        out.add("orphan_entry", subject, "entries on an account that does not exist")
        return
    rebuilt = (
        walk.debits_pending,
        walk.debits_posted,
        walk.credits_pending,
        walk.credits_posted,
        walk.version,
    )
    stored = (
        account.debits_pending_min,
        account.debits_posted_min,
        account.credits_pending_min,
        account.credits_posted_min,
        account.version,
    )
    if rebuilt != stored:
        out.add("account_counters", subject, f"stored {stored} but entries give {rebuilt}")
    if walk.head != account.head_hash:
        out.add("account_head", subject, "head hash is not the last transfer's hash")


def _step(walk: _Walk, row: Any, account: Account | None, out: _Problems) -> None:
    subject = f"account {walk.account_id}"
    at = f"version {row.version} ({row.transfer_id})"
    if row.hash is None:
        out.add("orphan_entry", subject, f"{at}: its transfer does not exist")
    if row.version != walk.version + 1:
        out.add("version_gap", subject, f"{at} follows version {walk.version}")
    if row.prev_hash != walk.head:
        out.add("chain_link", subject, f"{at} does not link to the previous transfer")
    if (row.balance_before_min, row.pending_before_min) != (walk.balance, walk.pending):
        out.add("running_balance", subject, f"{at} starts from a balance the history does not give")
    if row.side == "debit":
        walk.debits_posted -= row.posted_delta_min
        walk.debits_pending -= row.pending_delta_min
    else:
        walk.credits_posted += row.posted_delta_min
        walk.credits_pending += row.pending_delta_min
    if (row.balance_after_min, row.pending_after_min) != (walk.balance, walk.pending):
        out.add("running_balance", subject, f"{at} ends on a balance the history does not give")
    overdrawn = walk.debits_posted + walk.debits_pending > walk.credits_posted
    if account is not None and account.no_overdraft and overdrawn:
        out.add("overdraft", subject, f"{at} overdraws the account")
    walk.version = row.version
    walk.head = row.hash or ""


def _check_histories(
    session: Executor, accounts_by_id: dict[int, Account], out: _Problems
) -> tuple[int, int, int]:
    """Walk every account's entries; return (entries, sum of balances, sum of pendings)."""
    seen: set[int] = set()
    walk: _Walk | None = None
    total_balance = total_pending = count = 0

    def finish(w: _Walk) -> None:
        nonlocal total_balance, total_pending
        _close(w, accounts_by_id.get(w.account_id), out)
        total_balance += w.balance
        total_pending += w.pending

    for row in _stream(session, _HISTORIES):
        count += 1
        if walk is None or row.account_id != walk.account_id:
            if walk is not None:
                finish(walk)
            account = accounts_by_id.get(row.account_id)
            walk = _Walk(row.account_id, head=_genesis(account))
            seen.add(row.account_id)
        _step(walk, row, accounts_by_id.get(row.account_id), out)
    if walk is not None:
        finish(walk)
    for account in accounts_by_id.values():
        if account.id not in seen:
            _close(_Walk(account.id, head=_genesis(account)), account, out)
    return count, total_balance, total_pending


def _genesis(account: Account | None) -> str:
    if account is None:
        return ""
    return genesis_hash(account.ledger, account.kind.value, account.owner_ref)


def _digest(accounts_by_id: dict[int, Account]) -> str:
    h = hashlib.sha256()
    for account in sorted(accounts_by_id.values(), key=lambda a: a.id):
        h.update(f"{account.id}:{account.version}:{account.head_hash};".encode("ascii"))
    return h.hexdigest()


def verify(session: Executor, *, max_problems: int = 1000) -> VerifyReport:
    """Recompute the whole ledger and report every mismatch.

    Parameters
    ----------
    session
        A session or connection; only reads. Run it in a transaction with a stable
        snapshot (PostgreSQL ``REPEATABLE READ``) if writers are active.
    max_problems
        Most problems listed (the rest are counted as ``truncated``).

    Returns
    -------
    VerifyReport
        ``ok`` when every hash, link, running balance and counter agrees and all
        balances sum to zero.
    """
    out = _Problems(max_problems)
    accounts_by_id = _load_accounts(session)
    transfer_count = _check_transfers(session, out)
    entry_count, total_balance, total_pending = _check_histories(session, accounts_by_id, out)
    stored_balance = sum(a.balance_min for a in accounts_by_id.values())
    stored_pending = sum(
        a.credits_pending_min - a.debits_pending_min for a in accounts_by_id.values()
    )
    if total_balance or total_pending or stored_balance or stored_pending:
        out.add(
            "sum_nonzero",
            "ledger",
            f"balances sum to {stored_balance} (entries: {total_balance}), "
            f"pendings to {stored_pending} (entries: {total_pending})",
        )
    return VerifyReport(
        accounts=len(accounts_by_id),
        transfers=transfer_count,
        entries=entry_count,
        problems=tuple(out.items),
        truncated=out.truncated,
        digest=_digest(accounts_by_id),
    )
