"""The time bank's vocabulary: account kinds, transfer codes and kinds, outcomes, and records.

Everything here is plain data with no database access, so the ledger, the policy rules,
the reports and the app can share it. The shapes follow TigerBeetle's documented data
model: an account keeps four cumulative counters (debits/credits, pending/posted), a
transfer moves one positive integer amount from one debit account to one credit account,
carries a client-chosen id that is its idempotency key, a ``code`` saying why, and is
immutable once written.

Minutes are integers; an account's *balance* is ``credits_posted - debits_posted`` (the
bank owes members minutes, so member accounts are credit-normal).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

#: The default ledger: time-bank minutes. Accounts only transact within one ledger.
MINUTES_LEDGER = 1
#: The owner reference of the bank's own accounts (issuance, pool, guarantee).
SYSTEM_OWNER = "system"
#: Upper bound of one transfer; far above any real amount, it keeps sums inside BIGINT.
AMOUNT_MAX_MIN = 10**12


class AccountKind(StrEnum):
    """What an account is for; member, pool and guarantee accounts may never be overdrawn."""

    MEMBER = "member"
    POOL = "pool"
    ISSUANCE = "issuance"
    GUARANTEE = "guarantee"


class TransferCode(StrEnum):
    """Why minutes moved (TigerBeetle's ``code``).

    ``cap_overflow``, ``pool_grant`` and ``pledge`` extend the issue's list so that
    statistics can tell a forced overflow from a voluntary donation, a grant from the pool
    from a family gift, and the sponsor's guarantee from earned minutes.
    """

    SERVICE_CREDIT = "service_credit"
    REDEMPTION = "redemption"
    GIFT = "gift"
    DONATION = "donation"
    CAP_OVERFLOW = "cap_overflow"
    POOL_GRANT = "pool_grant"
    PLEDGE = "pledge"
    CORRECTION = "correction"
    EXPIRY = "expiry"


class TransferKind(StrEnum):
    """TigerBeetle's transfer flags as one value: posted at once, or a two-phase step."""

    SINGLE = "single"
    PENDING = "pending"
    POST = "post"
    VOID = "void"


class Outcome(StrEnum):
    """The result of one transfer in a request (TigerBeetle's ``CreateTransferResult``).

    ``created`` and ``exists`` are successes: ``exists`` means the same id with the same
    body had already been written and nothing new was written now.
    """

    CREATED = "created"
    EXISTS = "exists"
    EXISTS_WITH_DIFFERENT_BODY = "exists_with_different_body"
    LINKED_EVENT_FAILED = "linked_event_failed"
    LINKED_EVENT_CHAIN_OPEN = "linked_event_chain_open"
    INVALID = "invalid"
    ACCOUNT_NOT_FOUND = "account_not_found"
    ACCOUNTS_MUST_BE_DIFFERENT = "accounts_must_be_different"
    LEDGER_MISMATCH = "ledger_mismatch"
    EXCEEDS_BALANCE = "exceeds_balance"
    EXCEEDS_CREDIT_CAP = "exceeds_credit_cap"
    PENDING_NOT_FOUND = "pending_transfer_not_found"
    PENDING_ALREADY_POSTED = "pending_transfer_already_posted"
    PENDING_ALREADY_VOIDED = "pending_transfer_already_voided"
    PENDING_EXPIRED = "pending_transfer_expired"
    PENDING_MISMATCH = "pending_transfer_mismatch"
    EXCEEDS_PENDING_AMOUNT = "exceeds_pending_transfer_amount"
    REVERSAL_TARGET_NOT_FOUND = "reversal_target_not_found"
    REVERSAL_TARGET_INVALID = "reversal_target_invalid"
    ALREADY_REVERSED = "already_reversed"

    @property
    def ok(self) -> bool:
        """True for ``created`` and ``exists``."""
        return self in (Outcome.CREATED, Outcome.EXISTS)


@dataclass(frozen=True)
class TransferSpec:
    """One transfer to create, as the caller asks for it.

    Parameters
    ----------
    id
        The idempotency key, chosen by the caller (e.g. ``"earn:visit:42"``); at most
        128 characters.
    amount_min
        Minutes moved. Required for ``single`` and ``pending``; for ``post`` it may be
        less than the pending amount (the rest is released) and defaults to all of it;
        for ``void`` it must be omitted or equal the pending amount.
    debit_account_id, credit_account_id
        Required for ``single`` and ``pending``. For ``post``/``void`` they default to the
        pending transfer's; for a correction, to the reversed transfer's, swapped.
    code
        Why. For ``post``/``void`` it defaults to (and must equal) the pending's code.
    kind
        ``single`` (posted at once), ``pending`` (a hold), ``post`` or ``void``.
    pending_id
        The pending transfer that a ``post`` or ``void`` resolves.
    timeout_s
        For a ``pending`` transfer: after this many seconds it can no longer be posted.
    user_data
        An opaque reference for the app (a visit, a redemption), stored and indexed.
    reason
        Free text; required for corrections.
    reverses_id
        For a ``correction``: the transfer it reverses (at most once per transfer).
    linked
        Link this transfer's outcome to the next one in the request: the chain succeeds
        or fails as a whole.
    credit_cap_min
        A condition, not stored: refuse (``exceeds_credit_cap``) if the credit account's
        balance after the transfer would exceed this.
    """

    id: str
    amount_min: int | None = None
    debit_account_id: int | None = None
    credit_account_id: int | None = None
    code: TransferCode | None = None
    kind: TransferKind = TransferKind.SINGLE
    pending_id: str | None = None
    timeout_s: int | None = None
    user_data: str | None = None
    reason: str | None = None
    reverses_id: str | None = None
    linked: bool = False
    credit_cap_min: int | None = None


@dataclass(frozen=True)
class Transfer:
    """A stored, immutable transfer.

    ``batch_id`` is the id of the first transfer of the linked chain it was written in,
    so the association survives (TigerBeetle forgets it). ``hash`` covers the content,
    both entries and the previous hash of both accounts' chains.
    """

    id: str
    ledger: int
    code: TransferCode
    kind: TransferKind
    debit_account_id: int
    credit_account_id: int
    amount_min: int
    pending_id: str | None
    timeout_s: int | None
    expires_at: dt.datetime | None
    user_data: str | None
    reason: str | None
    reverses_id: str | None
    batch_id: str
    created_at: dt.datetime
    hash: str


@dataclass(frozen=True)
class TransferResult:
    """The outcome of one requested transfer; ``transfer`` is the stored one on success."""

    id: str
    outcome: Outcome
    transfer: Transfer | None = None
    detail: str = ""

    @property
    def ok(self) -> bool:
        """True when the transfer now exists as asked (created now or before)."""
        return self.outcome.ok


@dataclass(frozen=True)
class Account:
    """An account and its cumulative counters, in minutes.

    ``version`` counts the account's entries; ``head_hash`` is the hash of the last
    transfer that touched it (or the account's genesis hash).
    """

    id: int
    ledger: int
    kind: AccountKind
    owner_ref: str
    no_overdraft: bool
    debits_pending_min: int
    debits_posted_min: int
    credits_pending_min: int
    credits_posted_min: int
    version: int
    head_hash: str

    @property
    def balance_min(self) -> int:
        """Posted balance: ``credits_posted - debits_posted``."""
        return self.credits_posted_min - self.debits_posted_min

    @property
    def held_min(self) -> int:
        """Minutes reserved by pending transfers out of this account."""
        return self.debits_pending_min

    @property
    def available_min(self) -> int:
        """What may still be spent or held: the balance minus the holds."""
        return self.balance_min - self.debits_pending_min


@dataclass(frozen=True)
class Entry:
    """One leg of a transfer on one account, with the account's balances around it.

    ``balance_*`` is the posted balance (``credits_posted - debits_posted``);
    ``pending_*`` the net pending amount (``credits_pending - debits_pending``).
    ``prev_hash`` is the account's chain head before this entry.
    """

    transfer_id: str
    side: str
    account_id: int
    version: int
    prev_hash: str
    posted_delta_min: int
    pending_delta_min: int
    balance_before_min: int
    balance_after_min: int
    pending_before_min: int
    pending_after_min: int
