"""Tamper evidence: the canonical bytes of a transfer and the per-account hash chains.

Every account starts from a *genesis* hash derived from its identity. A transfer's hash
covers its content, both of its entries (balances before and after, versions) and the
previous hash of **both** accounts' chains; the new hash then becomes the head of both
chains. The transfers thus form a DAG of hash links that follows exactly the order in
which each account's balance evolved.

Why per-account chains rather than one global chain: the account rows are locked anyway
to update balances, so linking to their heads costs nothing, whereas a single global head
would be one more row that every writer must lock until commit, serialising all writers
on the commit latency (see docs/TIMEBANK.md for the measurement).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Sequence

from timebank.model import Entry

__all__ = ["HASH_VERSION", "genesis_hash", "timestamp_text", "transfer_hash"]

#: Prefix of every hashed document; bump it if the canonical form ever changes.
HASH_VERSION = "tb1"


def _digest(document: Sequence[object]) -> str:
    text = json.dumps(document, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def timestamp_text(value: dt.datetime | None) -> str | None:
    """Return the canonical text of a UTC timestamp (microseconds, ``+00:00``)."""
    if value is None:
        return None
    return value.astimezone(dt.UTC).isoformat(timespec="microseconds")


def genesis_hash(ledger: int, kind: str, owner_ref: str) -> str:
    """Return the first chain head of the account ``(ledger, kind, owner_ref)``.

    Parameters
    ----------
    ledger, kind, owner_ref
        The account's unique identity; changing it would break the chain.

    Returns
    -------
    str
        64 lowercase hex digits.
    """
    return _digest([HASH_VERSION, "genesis", ledger, kind, owner_ref])


def _entry_document(entry: Entry) -> list[object]:
    return [
        entry.side,
        entry.account_id,
        entry.version,
        entry.prev_hash,
        entry.posted_delta_min,
        entry.pending_delta_min,
        entry.balance_before_min,
        entry.balance_after_min,
        entry.pending_before_min,
        entry.pending_after_min,
    ]


def transfer_hash(content: Sequence[object], debit: Entry, credit: Entry) -> str:
    """Return the hash of a transfer: its content, both entries and both previous heads.

    Parameters
    ----------
    content
        The transfer's stored fields in canonical order (see ``ledger.transfer_content``).
    debit, credit
        Its two entries; their ``prev_hash`` link it into both accounts' chains.

    Returns
    -------
    str
        64 lowercase hex digits.
    """
    return _digest(
        [HASH_VERSION, "transfer", list(content), _entry_document(debit), _entry_document(credit)]
    )
