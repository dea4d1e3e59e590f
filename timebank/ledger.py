"""The ledger's write path: accounts, transfers (linked, two-phase, corrections), lookups.

It works on a SQLAlchemy ``Session`` or ``Connection`` it is handed and never commits:
the calling service owns the unit of work. One call to :func:`create_transfers` is one
TigerBeetle request: each transfer (or linked chain) succeeds or fails on its own, with an
:class:`~timebank.model.Outcome` per transfer; failed transfers are not recorded.

The write path, and why it is safe under concurrency on both databases:

1. read the pending/reversed transfers referenced by the request (immutable rows, so a
   read before locking is as good as one after);
2. lock every account involved, in id order (``FOR NO KEY UPDATE`` on PostgreSQL; SQLite
   serialises writers itself, see :func:`timebank.engine.configure_sqlite`);
3. only then look up the request's ids, the pendings' resolutions and the reversals:
   under READ COMMITTED the statement sees every transfer committed by a writer that held
   those locks before us, so a replay, a second post or a void racing a post sees the
   winner;
4. compute every balance in Python, then insert transfers and entries and update each
   account with a compare-and-set on its ``version``. The database re-checks what matters
   (``CHECK`` no-overdraft, unique resolution, balanced legs, counters = newest entry), so
   a bug or a lost lock cannot break an invariant, only fail the transaction.

On PostgreSQL the common request, one posted transfer that references no other, is one
round trip instead: the server function ``tb_create_transfer`` (``timebank.schema``) runs
the same steps (lock, idempotency, refusals, entries, hash, compare-and-set) and writes the
same rows, byte for byte, so both paths can write to one ledger. A request of several such
transfers (none linked) is one round trip too: ``tb_create_transfers`` decides them in
order as the Python path would and writes them in three statements.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn, cast

from sqlalchemy import (
    Connection,
    CursorResult,
    Dialect,
    Row,
    and_,
    bindparam,
    case,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.orm import Session

from timebank.hashing import genesis_hash, timestamp_text, transfer_hash
from timebank.model import (
    AMOUNT_MAX_MIN,
    MINUTES_LEDGER,
    Account,
    AccountKind,
    Entry,
    Outcome,
    Transfer,
    TransferCode,
    TransferKind,
    TransferResult,
    TransferSpec,
)
from timebank.schema import accounts, entries, transfers

__all__ = [
    "Executor",
    "LedgerConflictError",
    "account_from_row",
    "as_utc",
    "create_transfers",
    "find_account",
    "get_account",
    "get_transfer",
    "get_transfers",
    "lock_accounts",
    "open_account",
    "submit_transfers",
    "transfer_content",
    "transfer_from_row",
    "utcnow",
]

Executor = Session | Connection
"""What the ledger runs on: the caller's ``Session`` or ``Connection``."""

# Statements built once: building and cache-keying a statement costs more than running it.
_ACCOUNT_BY_ID = select(accounts).where(accounts.c.id == bindparam("id"))
_ACCOUNT_BY_IDENTITY = select(accounts).where(
    accounts.c.ledger == bindparam("ledger"),
    accounts.c.kind == bindparam("kind"),
    accounts.c.owner_ref == bindparam("owner_ref"),
)
_LOCK_ACCOUNTS = (
    select(accounts)
    .where(accounts.c.id.in_(bindparam("ids", expanding=True)))
    .order_by(accounts.c.id)
    .with_for_update(key_share=True)
)
_TRANSFERS_BY_ID = select(transfers).where(transfers.c.id.in_(bindparam("ids", expanding=True)))
_TRANSFERS_STATE = select(transfers).where(
    or_(
        transfers.c.id.in_(bindparam("ids", expanding=True)),
        transfers.c.pending_id.in_(bindparam("pending_ids", expanding=True)),
        transfers.c.reverses_id.in_(bindparam("reversed_ids", expanding=True)),
    )
)
_INSERT_TRANSFERS = transfers.insert()

_ID_MAX_LEN = 128
_USER_DATA_MAX_LEN = 256
_OWNER_REF_MAX_LEN = 128


class LedgerConflictError(RuntimeError):
    """An account changed under the ledger's lock: the caller must roll back and retry.

    It cannot happen while accounts are locked as documented; it exists so that a broken
    lock (e.g. an engine not configured for SQLite) fails loudly instead of writing.
    """


def utcnow() -> dt.datetime:
    """Return the current time, timezone-aware in UTC."""
    return dt.datetime.now(dt.UTC)


def as_utc(now: dt.datetime | None) -> dt.datetime:
    """Return ``now`` in UTC, or the current time if None; refuse naive datetimes."""
    if now is None:
        return utcnow()
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(dt.UTC)


def _dialect(executor: Executor) -> Dialect:
    if isinstance(executor, Connection):
        return executor.dialect
    return executor.get_bind().dialect


# --- accounts ------------------------------------------------------------------------


def account_from_row(row: Row[Any]) -> Account:
    """Return the :class:`Account` of a ``tb_accounts`` row."""
    m = row._mapping
    return Account(
        id=m["id"],
        ledger=m["ledger"],
        kind=AccountKind(m["kind"]),
        owner_ref=m["owner_ref"],
        no_overdraft=bool(m["no_overdraft"]),
        debits_pending_min=m["debits_pending_min"],
        debits_posted_min=m["debits_posted_min"],
        credits_pending_min=m["credits_pending_min"],
        credits_posted_min=m["credits_posted_min"],
        version=m["version"],
        head_hash=m["head_hash"],
    )


def get_account(executor: Executor, account_id: int) -> Account | None:
    """Return the account ``account_id``, or None.

    Parameters
    ----------
    executor
        The caller's session or connection.
    account_id
        The account's id.
    """
    row = executor.execute(_ACCOUNT_BY_ID, {"id": account_id}).first()
    return None if row is None else account_from_row(row)


def find_account(
    executor: Executor, kind: AccountKind, owner_ref: str, *, ledger: int = MINUTES_LEDGER
) -> Account | None:
    """Return the account of ``owner_ref`` of this kind on ``ledger``, or None.

    Parameters
    ----------
    executor
        The caller's session or connection.
    kind, owner_ref, ledger
        The account's identity.
    """
    row = executor.execute(
        _ACCOUNT_BY_IDENTITY, {"ledger": ledger, "kind": kind.value, "owner_ref": owner_ref}
    ).first()
    return None if row is None else account_from_row(row)


def open_account(
    executor: Executor,
    kind: AccountKind,
    owner_ref: str,
    *,
    ledger: int = MINUTES_LEDGER,
    now: dt.datetime | None = None,
) -> Account:
    """Return the account ``(ledger, kind, owner_ref)``, creating it if needed (idempotent).

    Member, pool and guarantee accounts may never be overdrawn; the issuance account may.

    Parameters
    ----------
    executor
        The caller's session or connection (flushed, not committed).
    kind
        What the account is for.
    owner_ref
        An opaque reference to the owner in the app (TigerBeetle's ``user_data``), e.g.
        ``"volunteer:17"``; at most 128 characters.
    ledger
        The unit; :data:`~timebank.model.MINUTES_LEDGER` by default.
    now
        Creation time (UTC-aware); the current time by default.

    Returns
    -------
    Account
        The new or existing account.

    Raises
    ------
    ValueError
        If ``owner_ref`` is empty or too long.
    """
    if not owner_ref or len(owner_ref) > _OWNER_REF_MAX_LEN:
        raise ValueError(f"owner_ref must have 1 to {_OWNER_REF_MAX_LEN} characters")
    existing = find_account(executor, kind, owner_ref, ledger=ledger)
    if existing is not None:
        return existing
    values = {
        "ledger": ledger,
        "kind": kind.value,
        "owner_ref": owner_ref,
        "no_overdraft": kind is not AccountKind.ISSUANCE,
        "debits_pending_min": 0,
        "debits_posted_min": 0,
        "credits_pending_min": 0,
        "credits_posted_min": 0,
        "version": 0,
        "head_hash": genesis_hash(ledger, kind.value, owner_ref),
        "created_at": as_utc(now),
    }
    keys = [accounts.c.ledger, accounts.c.kind, accounts.c.owner_ref]
    # A concurrent opener may win the race; the unique key makes that a no-op, not an error.
    if _dialect(executor).name == "postgresql":
        statement: Any = (
            pg_insert(accounts).values(values).on_conflict_do_nothing(index_elements=keys)
        )
    else:
        statement = (
            sqlite_insert(accounts).values(values).on_conflict_do_nothing(index_elements=keys)
        )
    executor.execute(statement)
    created = find_account(executor, kind, owner_ref, ledger=ledger)
    assert created is not None
    return created


def lock_accounts(executor: Executor, account_ids: Iterable[int]) -> dict[int, Account]:
    """Lock the given accounts until the caller's transaction ends, and return them.

    Locks are taken in id order, the order every ledger write uses, so two writers never
    deadlock. Call it before deciding on an amount from a balance (e.g. a storage cap):
    what is read stays true until commit. Missing ids are simply absent from the result.

    Parameters
    ----------
    executor
        The caller's session or connection.
    account_ids
        Ids to lock.
    """
    ids = sorted(set(account_ids))
    if not ids:
        return {}
    rows = executor.execute(_LOCK_ACCOUNTS, {"ids": ids})
    return {row.id: account_from_row(row) for row in rows}


# --- transfers -----------------------------------------------------------------------


def transfer_from_row(row: Row[Any]) -> Transfer:
    """Return the :class:`Transfer` of a row holding ``tb_transfers``' columns."""
    m = row._mapping
    return Transfer(
        id=m["id"],
        ledger=m["ledger"],
        code=TransferCode(m["code"]),
        kind=TransferKind(m["kind"]),
        debit_account_id=m["debit_account_id"],
        credit_account_id=m["credit_account_id"],
        amount_min=m["amount_min"],
        pending_id=m["pending_id"],
        timeout_s=m["timeout_s"],
        expires_at=m["expires_at"],
        user_data=m["user_data"],
        reason=m["reason"],
        reverses_id=m["reverses_id"],
        batch_id=m["batch_id"],
        created_at=m["created_at"],
        hash=m["hash"],
    )


def get_transfers(executor: Executor, ids: Iterable[str]) -> dict[str, Transfer]:
    """Return the stored transfers among ``ids``, by id.

    Parameters
    ----------
    executor
        The caller's session or connection.
    ids
        Transfer ids (idempotency keys).
    """
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    rows = executor.execute(_TRANSFERS_BY_ID, {"ids": wanted})
    return {row.id: transfer_from_row(row) for row in rows}


def get_transfer(executor: Executor, transfer_id: str) -> Transfer | None:
    """Return the transfer ``transfer_id``, or None.

    Parameters
    ----------
    executor
        The caller's session or connection.
    transfer_id
        Its id (idempotency key).
    """
    return get_transfers(executor, [transfer_id]).get(transfer_id)


def transfer_content(t: Transfer) -> list[object]:
    """Return the fields of ``t`` that its hash covers, in canonical order.

    Parameters
    ----------
    t
        A transfer (its ``hash`` is not part of its content).
    """
    return [
        t.id,
        t.ledger,
        t.code.value,
        t.kind.value,
        t.debit_account_id,
        t.credit_account_id,
        t.amount_min,
        t.pending_id,
        t.timeout_s,
        timestamp_text(t.expires_at),
        t.user_data,
        t.reason,
        t.reverses_id,
        t.batch_id,
        timestamp_text(t.created_at),
    ]


class _Failed(Exception):
    """A transfer that cannot be created; carries its outcome (internal control flow)."""

    def __init__(self, outcome: Outcome, detail: str) -> None:
        super().__init__(detail)
        self.outcome = outcome
        self.detail = detail


@dataclass(frozen=True)
class _Resolved:
    """A spec with its defaults filled in from the pending or reversed transfer."""

    debit_account_id: int
    credit_account_id: int
    amount_min: int
    code: TransferCode
    pending: Transfer | None


@dataclass
class _Batch:
    """The request's working state; copied at each linked chain so a failure rolls back."""

    accounts: dict[int, Account]
    known: dict[str, Transfer]
    resolutions: dict[str, TransferKind]
    reversed: set[str]
    written: list[tuple[Transfer, Entry, Entry]]

    def copy(self) -> _Batch:
        return _Batch(
            dict(self.accounts),
            dict(self.known),
            dict(self.resolutions),
            set(self.reversed),
            list(self.written),
        )


def _positive_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _validate(spec: TransferSpec) -> None:
    if not isinstance(spec.id, str) or not spec.id or len(spec.id) > _ID_MAX_LEN:
        raise _Failed(Outcome.INVALID, f"id must have 1 to {_ID_MAX_LEN} characters")
    if spec.amount_min is not None and not (
        _positive_int(spec.amount_min) and spec.amount_min <= AMOUNT_MAX_MIN
    ):
        raise _Failed(Outcome.INVALID, f"amount_min must be an integer in 1..{AMOUNT_MAX_MIN}")
    if spec.user_data is not None and len(spec.user_data) > _USER_DATA_MAX_LEN:
        raise _Failed(Outcome.INVALID, f"user_data is longer than {_USER_DATA_MAX_LEN}")
    resolving = spec.kind in (TransferKind.POST, TransferKind.VOID)
    if resolving != (spec.pending_id is not None):
        raise _Failed(Outcome.INVALID, "pending_id is required for post/void and only there")
    if spec.timeout_s is not None and (
        spec.kind is not TransferKind.PENDING or not _positive_int(spec.timeout_s)
    ):
        raise _Failed(Outcome.INVALID, "timeout_s must be a positive integer, on pending only")
    correcting = spec.code is TransferCode.CORRECTION
    if correcting != (spec.reverses_id is not None):
        raise _Failed(Outcome.INVALID, "reverses_id is required for corrections and only there")
    if correcting and (spec.kind is not TransferKind.SINGLE or not (spec.reason or "").strip()):
        raise _Failed(Outcome.INVALID, "a correction is a single transfer with a reason")
    if spec.credit_cap_min is not None and not (
        isinstance(spec.credit_cap_min, int) and spec.credit_cap_min >= 0
    ):
        raise _Failed(Outcome.INVALID, "credit_cap_min must be a non-negative integer")
    if not resolving and not correcting:
        missing = [
            name
            for name in ("amount_min", "debit_account_id", "credit_account_id", "code")
            if getattr(spec, name) is None
        ]
        if missing:
            raise _Failed(Outcome.INVALID, f"missing {', '.join(missing)}")


def _same_body(spec: TransferSpec, t: Transfer) -> bool:
    """Whether ``spec`` asks for ``t``; fields left to default match whatever was resolved."""
    defaulted = {
        "debit_account_id": spec.debit_account_id,
        "credit_account_id": spec.credit_account_id,
        "amount_min": spec.amount_min,
        "code": spec.code,
    }
    if any(value is not None and value != getattr(t, name) for name, value in defaulted.items()):
        return False
    return (
        spec.kind is t.kind
        and spec.pending_id == t.pending_id
        and spec.timeout_s == t.timeout_s
        and spec.user_data == t.user_data
        and spec.reason == t.reason
        and spec.reverses_id == t.reverses_id
    )


def _must_match(given: object, expected: object, outcome: Outcome, name: str) -> None:
    if given is not None and given != expected:
        raise _Failed(outcome, f"{name} {given!r} does not match {expected!r}")


def _resolve_pending(spec: TransferSpec, batch: _Batch, now: dt.datetime) -> _Resolved:
    assert spec.pending_id is not None
    pending = batch.known.get(spec.pending_id)
    if pending is None or pending.kind is not TransferKind.PENDING:
        raise _Failed(Outcome.PENDING_NOT_FOUND, f"no pending transfer {spec.pending_id!r}")
    mismatch = Outcome.PENDING_MISMATCH
    _must_match(spec.debit_account_id, pending.debit_account_id, mismatch, "debit_account_id")
    _must_match(spec.credit_account_id, pending.credit_account_id, mismatch, "credit_account_id")
    _must_match(spec.code, pending.code, mismatch, "code")
    resolution = batch.resolutions.get(pending.id)
    if resolution is TransferKind.POST:
        raise _Failed(Outcome.PENDING_ALREADY_POSTED, f"{pending.id!r} was already posted")
    if resolution is TransferKind.VOID:
        raise _Failed(Outcome.PENDING_ALREADY_VOIDED, f"{pending.id!r} was already voided")
    amount = pending.amount_min if spec.amount_min is None else spec.amount_min
    if spec.kind is TransferKind.POST:
        if pending.expires_at is not None and now >= pending.expires_at:
            raise _Failed(Outcome.PENDING_EXPIRED, f"{pending.id!r} timed out")
        if amount > pending.amount_min:
            raise _Failed(Outcome.EXCEEDS_PENDING_AMOUNT, f"{amount} > {pending.amount_min}")
    elif amount != pending.amount_min:
        raise _Failed(Outcome.INVALID, "a void releases the whole pending amount")
    return _Resolved(
        pending.debit_account_id, pending.credit_account_id, amount, pending.code, pending
    )


def _resolve_reversal(spec: TransferSpec, batch: _Batch) -> _Resolved:
    assert spec.reverses_id is not None
    target = batch.known.get(spec.reverses_id)
    if target is None:
        raise _Failed(Outcome.REVERSAL_TARGET_NOT_FOUND, f"no transfer {spec.reverses_id!r}")
    if target.kind not in (TransferKind.SINGLE, TransferKind.POST):
        raise _Failed(
            Outcome.REVERSAL_TARGET_INVALID, "only posted transfers are reversed; void a pending"
        )
    if target.id in batch.reversed:
        raise _Failed(Outcome.ALREADY_REVERSED, f"{target.id!r} was already reversed")
    invalid = Outcome.REVERSAL_TARGET_INVALID
    _must_match(spec.debit_account_id, target.credit_account_id, invalid, "debit_account_id")
    _must_match(spec.credit_account_id, target.debit_account_id, invalid, "credit_account_id")
    amount = target.amount_min if spec.amount_min is None else spec.amount_min
    if amount > target.amount_min:
        raise _Failed(invalid, f"cannot reverse {amount} of {target.amount_min}")
    return _Resolved(
        target.credit_account_id, target.debit_account_id, amount, TransferCode.CORRECTION, None
    )


def _resolve(spec: TransferSpec, batch: _Batch, now: dt.datetime) -> _Resolved:
    if spec.pending_id is not None:
        return _resolve_pending(spec, batch, now)
    if spec.reverses_id is not None:
        return _resolve_reversal(spec, batch)
    assert spec.debit_account_id is not None
    assert spec.credit_account_id is not None
    assert spec.amount_min is not None
    assert spec.code is not None
    return _Resolved(
        spec.debit_account_id, spec.credit_account_id, spec.amount_min, spec.code, None
    )


def _deltas(kind: TransferKind, amount: int, pending: Transfer | None) -> tuple[int, int]:
    """Posted and pending movement ``(posted, held)`` from debit to credit."""
    if kind is TransferKind.SINGLE:
        return amount, 0
    if kind is TransferKind.PENDING:
        return 0, amount
    assert pending is not None
    if kind is TransferKind.POST:
        return amount, -pending.amount_min
    return 0, -pending.amount_min


def _entry(
    transfer_id: str, side: str, before: Account, after: Account, posted: int, held: int
) -> Entry:
    return Entry(
        transfer_id=transfer_id,
        side=side,
        account_id=before.id,
        version=after.version,
        prev_hash=before.head_hash,
        posted_delta_min=posted,
        pending_delta_min=held,
        balance_before_min=before.balance_min,
        balance_after_min=after.balance_min,
        pending_before_min=before.credits_pending_min - before.debits_pending_min,
        pending_after_min=after.credits_pending_min - after.debits_pending_min,
    )


def _prepare(
    spec: TransferSpec, batch: _Batch, batch_id: str, now: dt.datetime
) -> tuple[Outcome, Transfer]:
    """Check one spec against the batch state and apply it there; raise _Failed if not."""
    _validate(spec)
    existing = batch.known.get(spec.id)
    if existing is not None:
        if _same_body(spec, existing):
            return Outcome.EXISTS, existing
        raise _Failed(Outcome.EXISTS_WITH_DIFFERENT_BODY, f"{spec.id!r} exists with another body")
    r = _resolve(spec, batch, now)
    debit = batch.accounts.get(r.debit_account_id)
    credit = batch.accounts.get(r.credit_account_id)
    if debit is None or credit is None:
        missing = r.debit_account_id if debit is None else r.credit_account_id
        raise _Failed(Outcome.ACCOUNT_NOT_FOUND, f"no account {missing}")
    if debit.id == credit.id:
        raise _Failed(Outcome.ACCOUNTS_MUST_BE_DIFFERENT, "debit and credit are the same account")
    if debit.ledger != credit.ledger:
        raise _Failed(Outcome.LEDGER_MISMATCH, f"ledgers {debit.ledger} and {credit.ledger}")
    posted, held = _deltas(spec.kind, r.amount_min, r.pending)
    new_debit = dataclasses.replace(
        debit,
        debits_posted_min=debit.debits_posted_min + posted,
        debits_pending_min=debit.debits_pending_min + held,
        version=debit.version + 1,
    )
    new_credit = dataclasses.replace(
        credit,
        credits_posted_min=credit.credits_posted_min + posted,
        credits_pending_min=credit.credits_pending_min + held,
        version=credit.version + 1,
    )
    if new_debit.no_overdraft and new_debit.available_min < 0:
        raise _Failed(
            Outcome.EXCEEDS_BALANCE,
            f"account {debit.id} has {debit.available_min} min available, not {r.amount_min}",
        )
    if spec.credit_cap_min is not None and new_credit.balance_min > spec.credit_cap_min:
        raise _Failed(
            Outcome.EXCEEDS_CREDIT_CAP,
            f"account {credit.id} would hold {new_credit.balance_min} > {spec.credit_cap_min}",
        )
    expires_at = None if spec.timeout_s is None else now + dt.timedelta(seconds=spec.timeout_s)
    draft = Transfer(
        id=spec.id,
        ledger=debit.ledger,
        code=r.code,
        kind=spec.kind,
        debit_account_id=debit.id,
        credit_account_id=credit.id,
        amount_min=r.amount_min,
        pending_id=spec.pending_id,
        timeout_s=spec.timeout_s,
        expires_at=expires_at,
        user_data=spec.user_data,
        reason=spec.reason,
        reverses_id=spec.reverses_id,
        batch_id=batch_id,
        created_at=now,
        hash="",
    )
    debit_entry = _entry(spec.id, "debit", debit, new_debit, -posted, -held)
    credit_entry = _entry(spec.id, "credit", credit, new_credit, posted, held)
    digest = transfer_hash(transfer_content(draft), debit_entry, credit_entry)
    transfer = dataclasses.replace(draft, hash=digest)
    batch.accounts[debit.id] = dataclasses.replace(new_debit, head_hash=digest)
    batch.accounts[credit.id] = dataclasses.replace(new_credit, head_hash=digest)
    batch.known[transfer.id] = transfer
    if r.pending is not None:
        batch.resolutions[r.pending.id] = spec.kind
    if spec.reverses_id is not None:
        batch.reversed.add(spec.reverses_id)
    batch.written.append((transfer, debit_entry, credit_entry))
    return Outcome.CREATED, transfer


def _chains(specs: Sequence[TransferSpec]) -> list[list[int]]:
    chains: list[list[int]] = []
    current: list[int] = []
    for i, spec in enumerate(specs):
        current.append(i)
        if not spec.linked:
            chains.append(current)
            current = []
    if current:
        chains.append(current)
    return chains


def _run_chain(
    specs: Sequence[TransferSpec],
    chain: list[int],
    batch: _Batch,
    now: dt.datetime,
    results: list[TransferResult | None],
) -> _Batch:
    """Apply one linked chain to a copy of ``batch``; return the copy, or ``batch`` on failure."""
    trial = batch.copy()
    batch_id = specs[chain[0]].id
    outcomes: list[TransferResult] = []
    for i in chain:
        spec = specs[i]
        try:
            if spec.linked and i == len(specs) - 1:
                raise _Failed(Outcome.LINKED_EVENT_CHAIN_OPEN, "the last transfer is linked")
            outcome, transfer = _prepare(spec, trial, batch_id, now)
        except _Failed as failure:
            for j in chain:
                results[j] = TransferResult(
                    specs[j].id, Outcome.LINKED_EVENT_FAILED, None, f"failed with {spec.id!r}"
                )
            results[i] = TransferResult(spec.id, failure.outcome, None, failure.detail)
            return batch
        outcomes.append(TransferResult(spec.id, outcome, transfer))
    for i, result in zip(chain, outcomes, strict=True):
        results[i] = result
    return trial


def _referenced_ids(specs: Sequence[TransferSpec]) -> set[str]:
    own = {s.id for s in specs}
    refs = {s.pending_id for s in specs if s.pending_id} | {
        s.reverses_id for s in specs if s.reverses_id
    }
    return {r for r in refs if r not in own}


def _account_ids(specs: Sequence[TransferSpec], refs: Mapping[str, Transfer]) -> set[int]:
    ids: set[int] = set()
    for spec in specs:
        ids.update(i for i in (spec.debit_account_id, spec.credit_account_id) if i is not None)
        ref = refs.get(spec.pending_id or spec.reverses_id or "")
        if ref is not None:
            ids.update((ref.debit_account_id, ref.credit_account_id))
    return {i for i in ids if isinstance(i, int) and not isinstance(i, bool)}


def _load_state(
    executor: Executor, specs: Sequence[TransferSpec], refs: Mapping[str, Transfer]
) -> tuple[dict[str, Transfer], dict[str, TransferKind], set[str]]:
    """Read, after locking, the request's ids, its pendings' resolutions and its reversals."""
    ids = sorted({s.id for s in specs if isinstance(s.id, str)})
    pending_ids = sorted({s.pending_id for s in specs if s.pending_id})
    reversed_ids = sorted({s.reverses_id for s in specs if s.reverses_id})
    known = dict(refs)
    resolutions: dict[str, TransferKind] = {}
    reversed_: set[str] = set()
    params = {"ids": ids, "pending_ids": pending_ids, "reversed_ids": reversed_ids}
    for row in executor.execute(_TRANSFERS_STATE, params):
        t = transfer_from_row(row)
        known[t.id] = t
        if t.pending_id is not None:
            resolutions[t.pending_id] = t.kind
        if t.reverses_id is not None:
            reversed_.add(t.reverses_id)
    return known, resolutions, reversed_


_UPDATE_ACCOUNT = (
    update(accounts)
    .where(accounts.c.id == bindparam("b_id"), accounts.c.version == bindparam("b_old_version"))
    .values(
        debits_pending_min=bindparam("b_dp"),
        debits_posted_min=bindparam("b_dP"),
        credits_pending_min=bindparam("b_cp"),
        credits_posted_min=bindparam("b_cP"),
        version=bindparam("b_version"),
        head_hash=bindparam("b_head"),
    )
)


def _transfer_row(t: Transfer) -> dict[str, object]:
    row = dict(vars(t))  # shallow: asdict() deep-copies every value
    row["code"] = t.code.value
    row["kind"] = t.kind.value
    return row


def _write(executor: Executor, batch: _Batch, locked: Mapping[int, Account]) -> None:
    if not batch.written:
        return
    rows = [_transfer_row(t) for t, _, _ in batch.written]
    # A single row goes as one statement: an executemany costs a pipeline sync on psycopg.
    executor.execute(_INSERT_TRANSFERS, rows[0] if len(rows) == 1 else rows)
    _write_entries_and_accounts(executor, batch, locked)


def _write_entries_and_accounts(
    executor: Executor, batch: _Batch, locked: Mapping[int, Account]
) -> None:
    # Both legs of a transfer in one statement, debit first: SQLite runs the balance
    # trigger row by row, when the credit leg arrives. Several transfers: one executemany
    # (a single pipelined round trip on psycopg).
    pairs = []
    for _, debit, credit in batch.written:
        pair = {f"{name}_d": value for name, value in vars(debit).items()}
        pair.update({f"{name}_c": value for name, value in vars(credit).items()})
        pairs.append(pair)
    executor.execute(_INSERT_ENTRY_PAIR, pairs[0] if len(pairs) == 1 else pairs)
    changes = [
        (old, new)
        for account_id, old in locked.items()
        if (new := batch.accounts[account_id]).version != old.version
    ]
    if len(changes) == 2:  # the usual case, one statement
        params = {**_update_params(*changes[0], "1"), **_update_params(*changes[1], "2")}
        groups: list[tuple[Any, Any, int]] = [(_UPDATE_TWO_ACCOUNTS, params, 2)]
    elif len(changes) > 2 and _dialect(executor).supports_sane_multi_rowcount:
        many = [_update_params(old, new, "") for old, new in changes]
        groups = [(_UPDATE_ACCOUNT, many, len(many))]
    else:
        groups = [(_UPDATE_ACCOUNT, _update_params(old, new, ""), 1) for old, new in changes]
    for statement, values, expected in groups:
        result = executor.execute(statement, values)
        if cast(CursorResult[Any], result).rowcount != expected:
            raise LedgerConflictError("an account changed under the ledger's lock")


def _update_params(old: Account, new: Account, suffix: str) -> dict[str, object]:
    return {
        f"b_id{suffix}": old.id,
        f"b_old_version{suffix}": old.version,
        f"b_dp{suffix}": new.debits_pending_min,
        f"b_dP{suffix}": new.debits_posted_min,
        f"b_cp{suffix}": new.credits_pending_min,
        f"b_cP{suffix}": new.credits_posted_min,
        f"b_version{suffix}": new.version,
        f"b_head{suffix}": new.head_hash,
    }


def _two_account_update() -> Any:
    """Update two accounts at once, each guarded by its old version (compare-and-set)."""

    def pick(column: str, name: str) -> Any:
        kind = accounts.c[column].type
        return case(
            (accounts.c.id == bindparam("b_id1"), bindparam(f"{name}1", type_=kind)),
            else_=bindparam(f"{name}2", type_=kind),
        )

    guard = or_(
        and_(
            accounts.c.id == bindparam("b_id1"), accounts.c.version == bindparam("b_old_version1")
        ),
        and_(
            accounts.c.id == bindparam("b_id2"), accounts.c.version == bindparam("b_old_version2")
        ),
    )
    return (
        update(accounts)
        .where(guard)
        .values(
            debits_pending_min=pick("debits_pending_min", "b_dp"),
            debits_posted_min=pick("debits_posted_min", "b_dP"),
            credits_pending_min=pick("credits_pending_min", "b_cp"),
            credits_posted_min=pick("credits_posted_min", "b_cP"),
            version=pick("version", "b_version"),
            head_hash=pick("head_hash", "b_head"),
        )
    )


_UPDATE_TWO_ACCOUNTS = _two_account_update()


def _entry_pair_statement() -> Any:
    # Text for the same reason as _INSERT_NEW: multi-row VALUES inserts are not cached.
    names = [c.name for c in entries.c]
    rows = ", ".join(f"({', '.join(f':{n}_{side}' for n in names)})" for side in "dc")
    sql = f"INSERT INTO {entries.name} ({', '.join(names)}) VALUES {rows}"
    return text(sql).bindparams(
        *(bindparam(f"{c.name}_{side}", type_=c.type) for side in "dc" for c in entries.c)
    )


_INSERT_ENTRY_PAIR = _entry_pair_statement()


def create_transfers(
    executor: Executor,
    specs: Sequence[TransferSpec],
    *,
    now: dt.datetime | None = None,
    on_server: bool = True,
) -> list[TransferResult]:
    """Create transfers atomically per linked chain; flush, never commit.

    Parameters
    ----------
    executor
        The caller's session or connection, inside its transaction.
    specs
        The request, in order. Consecutive specs with ``linked=True`` form a chain with
        the first following spec without it; a chain succeeds or fails as a whole.
    now
        The ledger time of the request (UTC-aware); the current time by default. It
        stamps ``created_at``, computes ``expires_at`` and decides pending timeouts.
    on_server
        On PostgreSQL, write a lone posted transfer that references no other with the
        server function ``tb_create_transfer``, and a request made only of such transfers
        (none linked) with ``tb_create_transfers`` (one round trip, same rows and
        outcomes). False keeps every write in Python (comparisons, benchmarks); no effect
        on SQLite.

    Returns
    -------
    list of TransferResult
        One per spec, in order. ``created`` and ``exists`` (same id, same body, written
        before) are successes; ``exists_with_different_body`` is the idempotency
        conflict. Nothing is written for a failed transfer, so its id stays free.

    Raises
    ------
    LedgerConflictError
        If an account changed despite the lock (misconfigured engine); roll back.
    sqlalchemy.exc.IntegrityError
        If a concurrent writer created one of the ids with a different body between
        our lookup and our insert; roll back and retry, the retry reports the conflict.
    """
    when = as_utc(now)
    if not specs:
        return []
    if len(specs) == 1:
        fast = _create_single(executor, specs[0], when, on_server)
        if fast is not None:
            return [fast]
    elif on_server:
        served = _create_many_on_server(executor, specs, when)
        if served is not None:
            return served
    referenced = _referenced_ids(specs)
    refs = get_transfers(executor, referenced) if referenced else {}
    locked = lock_accounts(executor, _account_ids(specs, refs))
    known, resolutions, reversed_ = _load_state(executor, specs, refs)
    batch = _Batch(dict(locked), known, resolutions, reversed_, [])
    results: list[TransferResult | None] = [None] * len(specs)
    for chain in _chains(specs):
        batch = _run_chain(specs, chain, batch, when, results)
    _write(executor, batch, locked)
    return [r for r in results if r is not None]


def submit_transfers(
    connection: Connection,
    specs: Sequence[TransferSpec],
    *,
    now: dt.datetime | None = None,
    on_server: bool = True,
) -> list[TransferResult]:
    """Create ``specs`` as a request of its own: one transaction, committed on return.

    For callers with nothing else to commit together with the transfers (TigerBeetle's
    request semantics). Outcomes are those of :func:`create_transfers`. On PostgreSQL a
    lone posted transfer that ``tb_create_transfer`` can write is sent as one statement
    outside a transaction block: the function is atomic, so the server commits it on its
    own, and the request costs one round trip instead of three (``BEGIN``, the call,
    ``COMMIT``). Everything else (and everything with a driver other than psycopg 3)
    runs in ``connection.begin()``.

    Raises
    ------
    ValueError
        If ``connection`` is already in a transaction.
    LedgerConflictError
        As :func:`create_transfers`; nothing was committed.
    """
    if connection.in_transaction():
        raise ValueError("submit_transfers commits its own transaction; the connection is in one")
    when = as_utc(now)
    if (
        on_server
        and connection.dialect.driver == "psycopg"
        and len(specs) == 1
        and _lone_posted(specs[0])
        and _server_can_write(connection, specs[0])
    ):
        served = _submit_alone(connection, specs[0], when)
        if served is not None:
            return [served]
        on_server = False  # it declined: only the Python path can write this one
    with connection.begin():
        return create_transfers(connection, specs, now=when, on_server=on_server)


def _submit_alone(
    connection: Connection, spec: TransferSpec, now: dt.datetime
) -> TransferResult | None:
    """``tb_create_transfer`` on psycopg's own connection in autocommit mode; None if it
    declined (nothing written).

    Straight to the driver for the client's CPU: SQLAlchemy's execution context and
    switching its isolation level for every request cost 0.07-0.10 ms of the 0.22-0.27 ms
    per posting (16 writers). SQLAlchemy's connection is not in a transaction (the caller
    checked) and is left as it was.
    """
    raw: Any = connection.connection.driver_connection
    dbapi_error = connection.dialect.loaded_dbapi.Error
    params = _server_params(spec, now)
    raw.autocommit = True
    try:
        (answer,) = raw.execute(_CREATE_ON_SERVER_SQL, params).fetchone()
    except dbapi_error as error:
        _raise_ledger_error(DBAPIError.instance(_CREATE_ON_SERVER_SQL, params, error, dbapi_error))
    finally:
        if not raw.closed:  # a lost connection is SQLAlchemy's to invalidate on next use
            raw.autocommit = False
    return _answered(spec, answer)


def _create_single(
    executor: Executor, spec: TransferSpec, now: dt.datetime, on_server: bool
) -> TransferResult | None:
    """The common case in fewer statements: a lone transfer that references no other.

    A posted one goes to the server function on PostgreSQL (one statement, every outcome
    decided there). Otherwise the lookup of existing ids is skipped: the insert itself
    (``ON CONFLICT DO NOTHING``) tells whether the id is new. Returns None, having written
    nothing, whenever the full path must decide (the id exists, the transfer fails, or it
    references another).
    """
    if not _lone_posted(spec):
        return None
    if on_server and _server_can_write(executor, spec):
        served = _create_on_server(executor, spec, now)
        if served is not None:
            return served
    locked = lock_accounts(executor, _account_ids([spec], {}))
    batch = _Batch(dict(locked), {}, {}, set(), [])
    try:
        _, transfer = _prepare(spec, batch, spec.id, now)
    except _Failed:
        return None  # an existing id takes precedence over the failure: let the full path see
    inserted = executor.execute(_INSERT_NEW, _transfer_row(transfer)).first()
    if inserted is None:
        return None
    _write_entries_and_accounts(executor, batch, locked)
    return TransferResult(spec.id, Outcome.CREATED, transfer)


def _lone_posted(spec: TransferSpec) -> bool:
    """Whether ``spec`` is valid on its own and references no other transfer."""
    if spec.pending_id is not None or spec.reverses_id is not None or spec.linked:
        return False
    try:
        _validate(spec)
    except _Failed:
        return False
    return True


def _insert_new_statement() -> Any:
    # Written as text because the dialects' INSERT ... ON CONFLICT constructs are not
    # cacheable in SQLAlchemy 2.0 (recompiled on every call); the syntax is the same on
    # SQLite and PostgreSQL, and the typed bind parameters keep the UTC conversion.
    names = [c.name for c in transfers.c]
    sql = (
        f"INSERT INTO {transfers.name} ({', '.join(names)}) "
        f"VALUES ({', '.join(':' + n for n in names)}) "
        "ON CONFLICT (id) DO NOTHING RETURNING id"
    )
    return (
        text(sql)
        .bindparams(*(bindparam(c.name, type_=c.type) for c in transfers.c))
        .columns(transfers.c.id)
    )


_INSERT_NEW = _insert_new_statement()


# --- the lone posted transfer in one round trip (PostgreSQL) -------------------------

_BIGINT = range(-(2**63), 2**63)
_SURROGATE = re.compile("[\ud800-\udfff]")
_ACCOUNT_CHANGED_SQLSTATE = "TB001"  # raised by tb_create_transfer, see timebank.schema


def _server_text(value: object) -> bool:
    """Whether PostgreSQL receives ``value`` unchanged, so that its hash is Python's.

    NUL and lone surrogates cannot be sent as text at all; the Python path then fails
    the way it always did.
    """
    if value is None:
        return True
    if not isinstance(value, str) or "\x00" in value:
        return False
    return value.isascii() or _SURROGATE.search(value) is None


def _server_bigint(value: object) -> bool:
    return value is None or (
        isinstance(value, int) and not isinstance(value, bool) and value in _BIGINT
    )


def _server_can_write(executor: Executor, spec: TransferSpec) -> bool:
    """Whether ``tb_create_transfer`` decides ``spec`` exactly as the Python path would."""
    return (
        spec.kind is TransferKind.SINGLE
        and isinstance(spec.code, TransferCode)
        and _server_bigint(spec.debit_account_id)
        and _server_bigint(spec.credit_account_id)
        and _server_bigint(spec.credit_cap_min)
        and _server_text(spec.id)
        and _server_text(spec.user_data)
        and _server_text(spec.reason)
        and _dialect(executor).name == "postgresql"
    )


# On a Connection these go through the driver (exec_driver_sql: no statement
# compilation, no result type processing; the connection's events still fire) and psycopg
# prepares them after a few calls; a Session runs the same SQL as text(), as before. The
# answer is one text array per transfer rather than six columns: describing result
# columns cost the client more than the rest of the call (the timestamp comes as ISO
# text in UTC).
_ANSWER = (
    "ARRAY[f.outcome, f.detail, CAST(f.ledger AS text), f.batch_id, "
    "to_char(f.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US'), f.hash]"
)
_CREATE_ON_SERVER_SQL = (
    f"SELECT {_ANSWER} FROM tb_create_transfer("
    "CAST(%(id)s AS text), CAST(%(debit)s AS bigint), CAST(%(credit)s AS bigint), "
    "CAST(%(amount)s AS bigint), CAST(%(code)s AS text), CAST(%(user_data)s AS text), "
    "CAST(%(reason)s AS text), CAST(%(credit_cap)s AS bigint), "
    "CAST(%(now)s AS timestamptz)) AS f"
)
_CREATE_MANY_ON_SERVER_SQL = (
    f"SELECT f.item, {_ANSWER} FROM tb_create_transfers("
    "CAST(%(ids)s AS text[]), CAST(%(debits)s AS bigint[]), CAST(%(credits)s AS bigint[]), "
    "CAST(%(amounts)s AS bigint[]), CAST(%(codes)s AS text[]), "
    "CAST(%(user_data)s AS text[]), CAST(%(reasons)s AS text[]), "
    "CAST(%(credit_caps)s AS bigint[]), CAST(%(now)s AS timestamptz)) AS f ORDER BY f.item"
)
_AS_TEXT = {
    sql: text(re.sub(r"%\((\w+)\)s", r":\1", sql))
    for sql in (_CREATE_ON_SERVER_SQL, _CREATE_MANY_ON_SERVER_SQL)
}


def _run_on_server(executor: Executor, sql: str, params: dict[str, Any]) -> list[Row[Any]]:
    try:
        if isinstance(executor, Connection):
            return list(executor.exec_driver_sql(sql, params))
        return list(executor.execute(_AS_TEXT[sql], params))
    except DBAPIError as error:
        _raise_ledger_error(error)


def _raise_ledger_error(error: StatementError) -> NoReturn:
    if getattr(error.orig, "sqlstate", None) == _ACCOUNT_CHANGED_SQLSTATE:
        raise LedgerConflictError("an account changed under the ledger's lock") from error
    raise error


def _server_result(spec: TransferSpec, answer: Sequence[str | None]) -> TransferResult:
    """The result of ``spec`` from the function's answer (see ``_ANSWER``; not 'declined')."""
    assert spec.code is not None
    assert spec.amount_min is not None
    assert spec.debit_account_id is not None
    assert spec.credit_account_id is not None
    outcome_text, detail, ledger, batch_id, created_at, digest = answer
    outcome = Outcome(cast(str, outcome_text))
    if outcome.ok:
        assert ledger is not None
        assert batch_id is not None
        assert created_at is not None
        assert digest is not None
        # Created now or before, the stored row is the request plus these columns (the
        # function answers 'exists' only when every other stored field equals the request).
        transfer = Transfer(
            id=spec.id,
            ledger=int(ledger),
            code=spec.code,
            kind=TransferKind.SINGLE,
            debit_account_id=spec.debit_account_id,
            credit_account_id=spec.credit_account_id,
            amount_min=spec.amount_min,
            pending_id=None,
            timeout_s=None,
            expires_at=None,
            user_data=spec.user_data,
            reason=spec.reason,
            reverses_id=None,
            batch_id=batch_id,
            created_at=dt.datetime.fromisoformat(created_at).replace(tzinfo=dt.UTC),
            hash=digest,
        )
        return TransferResult(spec.id, outcome, transfer)
    if outcome is Outcome.EXISTS_WITH_DIFFERENT_BODY:
        return TransferResult(spec.id, outcome, None, f"{spec.id!r} exists with another body")
    return TransferResult(spec.id, outcome, None, cast(str, detail))


def _create_on_server(
    executor: Executor, spec: TransferSpec, now: dt.datetime
) -> TransferResult | None:
    """Write ``spec`` with ``tb_create_transfer``; None if it declined (nothing written)."""
    ((answer,),) = _run_on_server(executor, _CREATE_ON_SERVER_SQL, _server_params(spec, now))
    return _answered(spec, answer)


def _answered(spec: TransferSpec, answer: Sequence[str | None]) -> TransferResult | None:
    return None if answer[0] == "declined" else _server_result(spec, answer)


def _server_params(spec: TransferSpec, now: dt.datetime) -> dict[str, Any]:
    assert spec.code is not None
    return {
        "id": spec.id,
        "debit": spec.debit_account_id,
        "credit": spec.credit_account_id,
        "amount": spec.amount_min,
        "code": spec.code.value,
        "user_data": spec.user_data,
        "reason": spec.reason,
        "credit_cap": spec.credit_cap_min,
        "now": now,
    }


# --- several lone posted transfers in one round trip (PostgreSQL) ---------------------


def _create_many_on_server(
    executor: Executor, specs: Sequence[TransferSpec], now: dt.datetime
) -> list[TransferResult] | None:
    """Write a request of independent lone posted transfers with ``tb_create_transfers``.

    Serves a request only if no spec is linked or references another transfer, and each
    is either invalid (answered here, as the Python path answers it: an invalid transfer
    neither reads nor changes anything) or one the server decides as Python would
    (:func:`_server_can_write`). Returns None otherwise, having sent nothing. The function
    locks every account of the request in id order, decides each transfer in order
    against the state the earlier ones left, as the Python path does, and writes them
    together; if it declines one (nothing written for it, see ``tb_create_transfer``),
    that one goes to the Python path under the same locks and the rest goes back to the
    function.
    """
    if _dialect(executor).name != "postgresql":
        return None
    results: list[TransferResult | None] = [None] * len(specs)
    todo: list[int] = []
    for i, spec in enumerate(specs):
        if spec.linked or spec.pending_id is not None or spec.reverses_id is not None:
            return None
        try:
            _validate(spec)
        except _Failed as failure:
            results[i] = TransferResult(spec.id, failure.outcome, None, failure.detail)
            continue
        if not _server_can_write(executor, spec):
            return None
        todo.append(i)
    while todo:
        chunk = [specs[i] for i in todo]
        params = {
            "ids": [s.id for s in chunk],
            "debits": [s.debit_account_id for s in chunk],
            "credits": [s.credit_account_id for s in chunk],
            "amounts": [s.amount_min for s in chunk],
            "codes": [cast(TransferCode, s.code).value for s in chunk],
            "user_data": [s.user_data for s in chunk],
            "reasons": [s.reason for s in chunk],
            "credit_caps": [s.credit_cap_min for s in chunk],
            "now": now,
        }
        done = 0
        for item, answer in _run_on_server(executor, _CREATE_MANY_ON_SERVER_SQL, params):
            i = todo[item - 1]
            done = item
            if answer[0] == "declined":
                results[i] = create_transfers(executor, [specs[i]], now=now, on_server=False)[0]
                break
            results[i] = _server_result(specs[i], answer)
        if done == 0:
            raise RuntimeError("tb_create_transfers answered nothing")
        todo = todo[done:]
    return [r for r in results if r is not None]
