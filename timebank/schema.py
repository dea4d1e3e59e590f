"""The ledger's tables, constraints and triggers, on timebank's own ``MetaData``.

Three tables, prefixed ``tb_``:

- ``tb_accounts``: one row per account with TigerBeetle's four counters, the entry count
  (``version``) and the head of the account's hash chain. Only the counters, version and
  head change, and only together with a new entry (trigger).
- ``tb_transfers``: immutable transfers; the primary key is the client's idempotency key.
- ``tb_entries``: the two legs of every transfer, each with the account's balances before
  and after, its place in the account's history (``version``) and the previous hash.

Invariants held by the database itself, on SQLite and PostgreSQL alike:

- no overdraft: ``CHECK`` on accounts flagged ``no_overdraft``
  (``debits_posted + debits_pending <= credits_posted``), all counters non-negative;
- a transfer moves a positive amount between two different accounts; a post/void names
  its pending transfer and at most one post/void exists per pending (``UNIQUE``); a
  correction names the transfer it reverses, has a reason, and a transfer is reversed at
  most once (``UNIQUE``);
- each entry's ``after = before + delta`` (``CHECK``), one entry per account version
  (``UNIQUE``), and the two legs of a transfer cancel out (trigger), so every transfer
  keeps the sum of all balances at zero;
- an account's counters may only change to the values of its newest entry, its identity
  never (trigger);
- no ``UPDATE``/``DELETE`` (nor PostgreSQL ``TRUNCATE``) of transfers and entries, no
  ``DELETE`` of accounts (triggers).

The Alembic migration is written from :data:`metadata`, :func:`trigger_ddl` and
:func:`drop_trigger_ddl`; tests and benchmarks use :func:`create_schema`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Connection,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from timebank.model import AccountKind, TransferCode, TransferKind

__all__ = [
    "NAMING_CONVENTION",
    "UTCDateTime",
    "accounts",
    "create_schema",
    "drop_schema",
    "drop_trigger_ddl",
    "entries",
    "metadata",
    "transfers",
    "trigger_ddl",
]

# The same convention as the app's metadata, so constraint names are stable in migrations.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

# SQLite only auto-increments an INTEGER PRIMARY KEY.
_ID = BigInteger().with_variant(Integer(), "sqlite")
_HASH = String(64)
_TRANSFER_ID = String(128)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware datetimes stored in UTC; SQLite's naive values are re-labelled UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)  # type: ignore[no-any-return]
        return value.astimezone(dt.UTC)  # type: ignore[no-any-return]


def _in(column: str, values: list[str]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


accounts = Table(
    "tb_accounts",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("ledger", Integer, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("owner_ref", String(128), nullable=False),
    Column("no_overdraft", Boolean(create_constraint=False), nullable=False),
    Column("debits_pending_min", BigInteger, nullable=False, default=0),
    Column("debits_posted_min", BigInteger, nullable=False, default=0),
    Column("credits_pending_min", BigInteger, nullable=False, default=0),
    Column("credits_posted_min", BigInteger, nullable=False, default=0),
    Column("version", BigInteger, nullable=False, default=0),
    Column("head_hash", _HASH, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("ledger", "kind", "owner_ref"),
    CheckConstraint(_in("kind", [k.value for k in AccountKind]), name="kind"),
    CheckConstraint(
        "debits_pending_min >= 0 AND debits_posted_min >= 0"
        " AND credits_pending_min >= 0 AND credits_posted_min >= 0 AND version >= 0",
        name="counters_non_negative",
    ),
    CheckConstraint(
        "NOT no_overdraft OR debits_posted_min + debits_pending_min <= credits_posted_min",
        name="no_overdraft",
    ),
)

transfers = Table(
    "tb_transfers",
    metadata,
    Column("id", _TRANSFER_ID, primary_key=True),
    Column("ledger", Integer, nullable=False),
    Column("code", String(20), nullable=False),
    Column("kind", String(8), nullable=False),
    Column("debit_account_id", _ID, ForeignKey("tb_accounts.id"), nullable=False),
    Column("credit_account_id", _ID, ForeignKey("tb_accounts.id"), nullable=False),
    Column("amount_min", BigInteger, nullable=False),
    Column("pending_id", _TRANSFER_ID, ForeignKey("tb_transfers.id"), unique=True),
    Column("timeout_s", Integer),
    Column("expires_at", UTCDateTime, index=True),
    Column("user_data", String(256), index=True),
    Column("reason", Text),
    Column("reverses_id", _TRANSFER_ID, ForeignKey("tb_transfers.id"), unique=True),
    Column("batch_id", _TRANSFER_ID, nullable=False),
    Column("created_at", UTCDateTime, nullable=False, index=True),
    Column("hash", _HASH, nullable=False),
    CheckConstraint(_in("code", [c.value for c in TransferCode]), name="code"),
    CheckConstraint(_in("kind", [k.value for k in TransferKind]), name="kind"),
    CheckConstraint("amount_min > 0", name="amount_positive"),
    CheckConstraint("debit_account_id <> credit_account_id", name="distinct_accounts"),
    CheckConstraint(
        "(kind IN ('post', 'void')) = (pending_id IS NOT NULL)", name="pending_id_iff_resolution"
    ),
    CheckConstraint(
        "timeout_s IS NULL OR (kind = 'pending' AND timeout_s > 0)", name="timeout_on_pending"
    ),
    CheckConstraint(
        "(code = 'correction') = (reverses_id IS NOT NULL)", name="correction_iff_reverses"
    ),
    CheckConstraint(
        "code <> 'correction' OR (reason IS NOT NULL AND reason <> '')", name="correction_reason"
    ),
)

entries = Table(
    "tb_entries",
    metadata,
    Column("transfer_id", _TRANSFER_ID, ForeignKey("tb_transfers.id"), primary_key=True),
    Column("side", String(6), primary_key=True),
    Column("account_id", _ID, ForeignKey("tb_accounts.id"), nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("prev_hash", _HASH, nullable=False),
    Column("posted_delta_min", BigInteger, nullable=False),
    Column("pending_delta_min", BigInteger, nullable=False),
    Column("balance_before_min", BigInteger, nullable=False),
    Column("balance_after_min", BigInteger, nullable=False),
    Column("pending_before_min", BigInteger, nullable=False),
    Column("pending_after_min", BigInteger, nullable=False),
    UniqueConstraint("account_id", "version"),
    CheckConstraint("side IN ('debit', 'credit')", name="side"),
    CheckConstraint("version >= 1", name="version_positive"),
    CheckConstraint(
        "balance_after_min = balance_before_min + posted_delta_min", name="balance_follows"
    ),
    CheckConstraint(
        "pending_after_min = pending_before_min + pending_delta_min", name="pending_follows"
    ),
    CheckConstraint(
        "(side = 'debit' AND posted_delta_min <= 0) OR (side = 'credit' AND posted_delta_min >= 0)",
        name="posted_sign",
    ),
)


_SQLITE_TRIGGERS = [
    *(
        f"CREATE TRIGGER {table}_no_{op.lower()} BEFORE {op} ON {table} "
        f"BEGIN SELECT RAISE(ABORT, 'timebank: {table} is append-only ({op} refused)'); END"
        for table in ("tb_transfers", "tb_entries")
        for op in ("UPDATE", "DELETE")
    ),
    "CREATE TRIGGER tb_accounts_no_delete BEFORE DELETE ON tb_accounts "
    "BEGIN SELECT RAISE(ABORT, 'timebank: accounts are never deleted'); END",
    "CREATE TRIGGER tb_accounts_identity BEFORE UPDATE ON tb_accounts "
    "WHEN NEW.id IS NOT OLD.id OR NEW.ledger IS NOT OLD.ledger OR NEW.kind IS NOT OLD.kind "
    "OR NEW.owner_ref IS NOT OLD.owner_ref OR NEW.no_overdraft IS NOT OLD.no_overdraft "
    "OR NEW.created_at IS NOT OLD.created_at "
    "BEGIN SELECT RAISE(ABORT, 'timebank: an account''s identity never changes'); END",
    "CREATE TRIGGER tb_accounts_follow_entries BEFORE UPDATE ON tb_accounts "
    "WHEN NEW.version <= OLD.version OR NOT EXISTS ("
    "SELECT 1 FROM tb_entries e JOIN tb_transfers t ON t.id = e.transfer_id "
    "WHERE e.account_id = NEW.id AND e.version = NEW.version "
    "AND e.balance_after_min = NEW.credits_posted_min - NEW.debits_posted_min "
    "AND e.pending_after_min = NEW.credits_pending_min - NEW.debits_pending_min "
    "AND t.hash = NEW.head_hash) "
    "BEGIN SELECT RAISE(ABORT, 'timebank: account counters must match its newest entry'); END",
    "CREATE TRIGGER tb_entries_balanced AFTER INSERT ON tb_entries "
    "WHEN NEW.side = 'credit' AND NOT EXISTS ("
    "SELECT 1 FROM tb_entries d WHERE d.transfer_id = NEW.transfer_id AND d.side = 'debit' "
    "AND d.posted_delta_min = -NEW.posted_delta_min "
    "AND d.pending_delta_min = -NEW.pending_delta_min) "
    "BEGIN SELECT RAISE(ABORT, 'timebank: the legs of a transfer must cancel out'); END",
]

_PG_FUNCTIONS = [
    """CREATE OR REPLACE FUNCTION tb_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'timebank: % is append-only (% refused)', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'restrict_violation';
END $$""",
    """CREATE OR REPLACE FUNCTION tb_account_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.id IS DISTINCT FROM OLD.id OR NEW.ledger IS DISTINCT FROM OLD.ledger
       OR NEW.kind IS DISTINCT FROM OLD.kind OR NEW.owner_ref IS DISTINCT FROM OLD.owner_ref
       OR NEW.no_overdraft IS DISTINCT FROM OLD.no_overdraft
       OR NEW.created_at IS DISTINCT FROM OLD.created_at THEN
        RAISE EXCEPTION 'timebank: an account''s identity never changes'
            USING ERRCODE = 'restrict_violation';
    END IF;
    IF NEW.version <= OLD.version OR NOT EXISTS (
        SELECT 1 FROM tb_entries e JOIN tb_transfers t ON t.id = e.transfer_id
        WHERE e.account_id = NEW.id AND e.version = NEW.version
          AND e.balance_after_min = NEW.credits_posted_min - NEW.debits_posted_min
          AND e.pending_after_min = NEW.credits_pending_min - NEW.debits_pending_min
          AND t.hash = NEW.head_hash) THEN
        RAISE EXCEPTION 'timebank: account % counters must match its newest entry', NEW.id
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$""",
    """CREATE OR REPLACE FUNCTION tb_entries_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM tb_entries d
        WHERE d.transfer_id = NEW.transfer_id AND d.side = 'debit'
          AND d.posted_delta_min = -NEW.posted_delta_min
          AND d.pending_delta_min = -NEW.pending_delta_min) THEN
        RAISE EXCEPTION 'timebank: the legs of transfer % must cancel out', NEW.transfer_id
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$""",
]

_PG_TRIGGERS = [
    *(
        f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
        "FOR EACH ROW EXECUTE FUNCTION tb_refuse_change()"
        for table in ("tb_transfers", "tb_entries")
    ),
    *(
        f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION tb_refuse_change()"
        for table in ("tb_transfers", "tb_entries", "tb_accounts")
    ),
    "CREATE TRIGGER tb_accounts_no_delete BEFORE DELETE ON tb_accounts "
    "FOR EACH ROW EXECUTE FUNCTION tb_refuse_change()",
    "CREATE TRIGGER tb_accounts_guard BEFORE UPDATE ON tb_accounts "
    "FOR EACH ROW EXECUTE FUNCTION tb_account_guard()",
    # AFTER ROW triggers fire at the end of the INSERT statement, when both legs exist.
    "CREATE TRIGGER tb_entries_balanced AFTER INSERT ON tb_entries "
    "FOR EACH ROW WHEN (NEW.side = 'credit') EXECUTE FUNCTION tb_entries_balanced()",
]

_TRIGGER_NAMES = {
    "sqlite": [
        ("tb_transfers", "tb_transfers_no_update"),
        ("tb_transfers", "tb_transfers_no_delete"),
        ("tb_entries", "tb_entries_no_update"),
        ("tb_entries", "tb_entries_no_delete"),
        ("tb_accounts", "tb_accounts_no_delete"),
        ("tb_accounts", "tb_accounts_identity"),
        ("tb_accounts", "tb_accounts_follow_entries"),
        ("tb_entries", "tb_entries_balanced"),
    ],
    "postgresql": [
        ("tb_transfers", "tb_transfers_append_only"),
        ("tb_entries", "tb_entries_append_only"),
        ("tb_transfers", "tb_transfers_no_truncate"),
        ("tb_entries", "tb_entries_no_truncate"),
        ("tb_accounts", "tb_accounts_no_truncate"),
        ("tb_accounts", "tb_accounts_no_delete"),
        ("tb_accounts", "tb_accounts_guard"),
        ("tb_entries", "tb_entries_balanced"),
    ],
}


def _check_dialect(dialect_name: str) -> None:
    if dialect_name not in _TRIGGER_NAMES:
        raise ValueError(f"timebank supports sqlite and postgresql, not {dialect_name!r}")


def trigger_ddl(dialect_name: str) -> list[str]:
    """Return the statements that create the ledger's triggers, one statement per string.

    Parameters
    ----------
    dialect_name
        ``"sqlite"`` or ``"postgresql"`` (SQLAlchemy's ``dialect.name``).

    Returns
    -------
    list of str
        Run them in order after the tables exist.

    Raises
    ------
    ValueError
        For any other dialect.
    """
    _check_dialect(dialect_name)
    if dialect_name == "sqlite":
        return list(_SQLITE_TRIGGERS)
    return [*_PG_FUNCTIONS, *_PG_TRIGGERS]


def drop_trigger_ddl(dialect_name: str) -> list[str]:
    """Return the statements that drop what :func:`trigger_ddl` created.

    Parameters
    ----------
    dialect_name
        ``"sqlite"`` or ``"postgresql"``.

    Returns
    -------
    list of str
        Statements using ``IF EXISTS``, safe to run on a partly created schema.
    """
    _check_dialect(dialect_name)
    if dialect_name == "sqlite":
        return [f"DROP TRIGGER IF EXISTS {name}" for _, name in _TRIGGER_NAMES["sqlite"]]
    return [
        *(
            f"DROP TRIGGER IF EXISTS {name} ON {table}"
            for table, name in _TRIGGER_NAMES[dialect_name]
        ),
        "DROP FUNCTION IF EXISTS tb_entries_balanced()",
        "DROP FUNCTION IF EXISTS tb_account_guard()",
        "DROP FUNCTION IF EXISTS tb_refuse_change()",
    ]


def create_schema(connection: Connection) -> None:
    """Create the ledger's tables and triggers on ``connection`` (no commit).

    Parameters
    ----------
    connection
        An open connection; the caller commits (``engine.begin()`` does).
    """
    metadata.create_all(connection)
    # text(), as Alembic's op.execute uses, so this path is the migration's path.
    for statement in trigger_ddl(connection.dialect.name):
        connection.execute(text(statement))


def drop_schema(connection: Connection) -> None:
    """Drop the ledger's triggers and tables (tests and benchmarks only; no commit).

    Parameters
    ----------
    connection
        An open connection; the caller commits.
    """
    metadata.drop_all(connection)  # triggers go with their tables
    for statement in drop_trigger_ddl(connection.dialect.name):
        if statement.startswith("DROP FUNCTION"):
            connection.execute(text(statement))
