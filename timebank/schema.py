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

On PostgreSQL, :func:`server_function_ddl` adds ``tb_create_transfer``: the ledger's
write path for one posted transfer in a single round trip (see ``timebank.ledger``), and
``tb_json_string``, which renders text exactly as ``json.dumps(..., ensure_ascii=True)``
does, so that the function's hashes are Python's.

The Alembic migrations are written from :data:`metadata`, :func:`trigger_ddl`,
:func:`server_function_ddl` and their ``drop_*`` pairs; tests and benchmarks use
:func:`create_schema`.
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
    "batch_function_ddl",
    "create_schema",
    "drop_batch_function_ddl",
    "drop_schema",
    "drop_server_function_ddl",
    "drop_trigger_ddl",
    "entries",
    "metadata",
    "server_function_ddl",
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


# The server-side write path. Every refusal and every written value mirrors
# ledger._prepare for a lone posted transfer that references no other; the hash is built
# as hashing.transfer_hash builds it (canonical JSON, ASCII only, then SHA-256), so that
# verify() cannot tell which path wrote a transfer. It answers 'declined' (nothing
# written, the caller's Python path decides) where it could not answer as Python does:
# non-ASCII text on a server whose encoding is not UTF8, or a replay of a stored row that
# differs from the request in a field the result does not carry. A compare-and-set that
# fails despite the lock raises SQLSTATE TB001.
_PG_WRITE_FUNCTIONS = [
    r"""CREATE OR REPLACE FUNCTION tb_json_string(s text) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    out text := '"';
    ch text;
    cp integer;
BEGIN
    IF s !~ '[^ !#-\[\]-~]' THEN
        RETURN '"' || s || '"';
    END IF;
    FOREACH ch IN ARRAY regexp_split_to_array(s, '') LOOP
        cp := ascii(ch);
        out := out || CASE
            WHEN cp = 34 THEN '\"'
            WHEN cp = 92 THEN '\\'
            WHEN cp = 8 THEN '\b'
            WHEN cp = 12 THEN '\f'
            WHEN cp = 10 THEN '\n'
            WHEN cp = 13 THEN '\r'
            WHEN cp = 9 THEN '\t'
            WHEN cp BETWEEN 32 AND 126 THEN ch
            WHEN cp < 65536 THEN '\u' || lpad(to_hex(cp), 4, '0')
            ELSE '\u' || to_hex(55296 + ((cp - 65536) >> 10))
                || '\u' || to_hex(56320 + ((cp - 65536) & 1023))
        END;
    END LOOP;
    RETURN out || '"';
END $$""",
    r"""CREATE OR REPLACE FUNCTION tb_create_transfer(
    p_id text, p_debit bigint, p_credit bigint, p_amount bigint, p_code text,
    p_user_data text, p_reason text, p_credit_cap bigint, p_now timestamptz,
    OUT outcome text, OUT detail text, OUT ledger integer, OUT batch_id text,
    OUT created_at timestamptz, OUT hash text)
LANGUAGE plpgsql AS $$
DECLARE
    a tb_accounts;
    existing tb_transfers;
    d tb_accounts;
    c tb_accounts;
    d_balance bigint;
    c_balance bigint;
    d_pending bigint;
    c_pending bigint;
    updated integer;
BEGIN
    IF current_setting('server_encoding') <> 'UTF8'
       AND p_id || coalesce(p_user_data, '') || coalesce(p_reason, '') ~ '[^\x01-\x7f]' THEN
        outcome := 'declined';
        RETURN;
    END IF;
    FOR a IN SELECT * FROM tb_accounts x WHERE x.id IN (p_debit, p_credit)
             ORDER BY x.id FOR NO KEY UPDATE LOOP
        IF a.id = p_debit THEN d := a; END IF;
        IF a.id = p_credit THEN c := a; END IF;
    END LOOP;
    d_balance := d.credits_posted_min - d.debits_posted_min;
    c_balance := c.credits_posted_min - c.debits_posted_min;
    IF d.id IS NULL THEN
        outcome := 'account_not_found'; detail := format('no account %s', p_debit);
    ELSIF c.id IS NULL THEN
        outcome := 'account_not_found'; detail := format('no account %s', p_credit);
    ELSIF p_debit = p_credit THEN
        outcome := 'accounts_must_be_different';
        detail := 'debit and credit are the same account';
    ELSIF d.ledger <> c.ledger THEN
        outcome := 'ledger_mismatch'; detail := format('ledgers %s and %s', d.ledger, c.ledger);
    ELSIF d.no_overdraft AND d_balance - d.debits_pending_min < p_amount THEN
        outcome := 'exceeds_balance';
        detail := format('account %s has %s min available, not %s',
                         d.id, d_balance - d.debits_pending_min, p_amount);
    ELSIF c_balance + p_amount > p_credit_cap THEN
        outcome := 'exceeds_credit_cap';
        detail := format('account %s would hold %s > %s', c.id, c_balance + p_amount, p_credit_cap);
    END IF;
    IF outcome IS NULL THEN
        d_pending := d.credits_pending_min - d.debits_pending_min;
        c_pending := c.credits_pending_min - c.debits_pending_min;
        hash := encode(sha256(convert_to(
            '["tb1","transfer",[' || tb_json_string(p_id) || ',' || d.ledger || ','
            || tb_json_string(p_code) || ',"single",' || p_debit || ',' || p_credit || ','
            || p_amount || ',null,null,null,' || coalesce(tb_json_string(p_user_data), 'null')
            || ',' || coalesce(tb_json_string(p_reason), 'null') || ',null,'
            || tb_json_string(p_id) || ',"'
            || to_char(p_now AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')
            || '"],["debit",' || d.id || ',' || d.version + 1 || ','
            || tb_json_string(d.head_hash) || ',' || -p_amount || ',0,' || d_balance || ','
            || d_balance - p_amount || ',' || d_pending || ',' || d_pending
            || '],["credit",' || c.id || ',' || c.version + 1 || ','
            || tb_json_string(c.head_hash) || ',' || p_amount || ',0,' || c_balance || ','
            || c_balance + p_amount || ',' || c_pending || ',' || c_pending || ']]',
            'UTF8')), 'hex');
        INSERT INTO tb_transfers (id, ledger, code, kind, debit_account_id, credit_account_id,
                                  amount_min, user_data, reason, batch_id, created_at, hash)
        VALUES (p_id, d.ledger, p_code, 'single', p_debit, p_credit, p_amount, p_user_data,
                p_reason, p_id, p_now, hash)
        ON CONFLICT (id) DO NOTHING;
        IF FOUND THEN
            INSERT INTO tb_entries (transfer_id, side, account_id, version, prev_hash,
                                    posted_delta_min, pending_delta_min, balance_before_min,
                                    balance_after_min, pending_before_min, pending_after_min)
            VALUES (p_id, 'debit', d.id, d.version + 1, d.head_hash, -p_amount, 0,
                    d_balance, d_balance - p_amount, d_pending, d_pending),
                   (p_id, 'credit', c.id, c.version + 1, c.head_hash, p_amount, 0,
                    c_balance, c_balance + p_amount, c_pending, c_pending);
            UPDATE tb_accounts x
            SET debits_posted_min = CASE WHEN x.id = d.id
                    THEN d.debits_posted_min + p_amount ELSE x.debits_posted_min END,
                credits_posted_min = CASE WHEN x.id = c.id
                    THEN c.credits_posted_min + p_amount ELSE x.credits_posted_min END,
                version = x.version + 1,
                head_hash = hash
            WHERE x.id IN (d.id, c.id)
              AND x.version = CASE WHEN x.id = d.id THEN d.version ELSE c.version END;
            GET DIAGNOSTICS updated = ROW_COUNT;
            IF updated <> 2 THEN
                RAISE EXCEPTION 'timebank: an account changed under the ledger''s lock'
                    USING ERRCODE = 'TB001';
            END IF;
            outcome := 'created';
            ledger := d.ledger;
            batch_id := p_id;
            created_at := p_now;
            RETURN;
        END IF;
        hash := NULL;
    END IF;
    -- An existing id takes precedence over any refusal: the request is a replay.
    SELECT * INTO existing FROM tb_transfers x WHERE x.id = p_id;
    IF NOT FOUND THEN
        IF outcome IS NULL THEN
            RAISE EXCEPTION 'timebank: transfer % conflicted but cannot be read', p_id;
        END IF;
    ELSIF existing.debit_account_id = p_debit AND existing.credit_account_id = p_credit
          AND existing.amount_min = p_amount AND existing.code = p_code
          AND existing.kind = 'single' AND existing.pending_id IS NULL
          AND existing.timeout_s IS NULL AND existing.reverses_id IS NULL
          AND existing.user_data IS NOT DISTINCT FROM p_user_data
          AND existing.reason IS NOT DISTINCT FROM p_reason THEN
        -- The caller rebuilds the original from its request and these columns; a row
        -- that differs elsewhere (written behind the ledger) is the Python path's to read.
        outcome := CASE WHEN existing.expires_at IS NULL THEN 'exists' ELSE 'declined' END;
        detail := NULL;
        ledger := existing.ledger;
        batch_id := existing.batch_id;
        created_at := existing.created_at;
        hash := existing.hash;
    ELSE
        outcome := 'exists_with_different_body';
        detail := NULL;
    END IF;
END $$""",
]


# Several lone posted transfers in one call (PostgreSQL): the ledger's batched write path.
# It locks every account of the request in id order, as the Python path does for a
# multi-transfer request (so that it never deadlocks with any other writer), and only then
# reads the request's ids. It decides each transfer in request order against the state
# the earlier ones left (balances, heads, ids written earlier in the request), exactly as
# tb_create_transfer decides a lone one (same refusals and details, same hash, same rows),
# and then writes all of them in three statements: transfers, legs, accounts (one
# compare-and-set per account). It stops after the first transfer it answers 'declined'
# (nothing written for it): the caller writes that one itself and sends the rest again.
# A concurrent writer of one of the request's ids on other accounts makes the insert fail
# with a unique violation, as on the Python path.
_PG_BATCH_FUNCTIONS = [
    r"""CREATE OR REPLACE FUNCTION tb_create_transfers(
    p_ids text[], p_debits bigint[], p_credits bigint[], p_amounts bigint[], p_codes text[],
    p_user_data text[], p_reasons text[], p_credit_caps bigint[], p_now timestamptz)
RETURNS TABLE (item integer, outcome text, detail text, ledger integer, batch_id text,
               created_at timestamptz, hash text)
LANGUAGE plpgsql AS $$
DECLARE
    n integer := coalesce(cardinality(p_ids), 0);
    utf8 boolean := current_setting('server_encoding') = 'UTF8';
    -- the locked accounts, by position in a_id (ascending), as they evolve
    a_id bigint[]; a_ledger integer[]; a_no_overdraft boolean[]; a_dp bigint[];
    a_dposted bigint[]; a_cp bigint[]; a_cposted bigint[]; a_version bigint[];
    a_old_version bigint[]; a_head text[];
    -- transfers with the request's ids: stored before, or written by this request
    k_id text[]; k_debit bigint[]; k_credit bigint[]; k_amount bigint[]; k_code text[];
    k_plain boolean[]; k_user_data text[]; k_reason text[]; k_describable boolean[];
    k_ledger integer[]; k_batch_id text[]; k_created_at timestamptz[]; k_hash text[];
    -- what this request writes
    w integer := 0;
    w_id text[]; w_ledger integer[]; w_code text[]; w_debit bigint[]; w_credit bigint[];
    w_amount bigint[]; w_user_data text[]; w_reason text[]; w_hash text[];
    e_account bigint[]; e_version bigint[]; e_prev text[]; e_delta bigint[];
    e_before bigint[]; e_after bigint[]; e_pending bigint[];
    -- answers
    r_outcome text[]; r_detail text[]; r_ledger integer[]; r_batch_id text[];
    r_created_at timestamptz[]; r_hash text[];
    i integer; k integer; dx integer; cx integer; answered integer := 0;
    d_balance bigint; c_balance bigint; d_pending bigint; c_pending bigint;
    digest text; updated integer; changed integer;
BEGIN
    IF coalesce(cardinality(p_debits), 0) <> n OR coalesce(cardinality(p_credits), 0) <> n
       OR coalesce(cardinality(p_amounts), 0) <> n OR coalesce(cardinality(p_codes), 0) <> n
       OR coalesce(cardinality(p_user_data), 0) <> n OR coalesce(cardinality(p_reasons), 0) <> n
       OR coalesce(cardinality(p_credit_caps), 0) <> n THEN
        RAISE EXCEPTION 'timebank: tb_create_transfers needs arrays of one length'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF n = 0 THEN
        RETURN;
    END IF;
    -- Lock every account of the request in id order, then read the request's ids.
    SELECT array_agg(x.id ORDER BY x.id), array_agg(x.ledger ORDER BY x.id),
           array_agg(x.no_overdraft ORDER BY x.id),
           array_agg(x.debits_pending_min ORDER BY x.id),
           array_agg(x.debits_posted_min ORDER BY x.id),
           array_agg(x.credits_pending_min ORDER BY x.id),
           array_agg(x.credits_posted_min ORDER BY x.id), array_agg(x.version ORDER BY x.id),
           array_agg(x.head_hash ORDER BY x.id)
      INTO a_id, a_ledger, a_no_overdraft, a_dp, a_dposted, a_cp, a_cposted, a_version, a_head
      FROM (SELECT * FROM tb_accounts y WHERE y.id = ANY (p_debits || p_credits)
            ORDER BY y.id FOR NO KEY UPDATE) x;
    a_old_version := a_version;
    SELECT array_agg(t.id), array_agg(t.debit_account_id), array_agg(t.credit_account_id),
           array_agg(t.amount_min), array_agg(t.code),
           array_agg(t.kind = 'single' AND t.pending_id IS NULL AND t.timeout_s IS NULL
                     AND t.reverses_id IS NULL),
           array_agg(t.user_data), array_agg(t.reason), array_agg(t.expires_at IS NULL),
           array_agg(t.ledger), array_agg(t.batch_id), array_agg(t.created_at), array_agg(t.hash)
      INTO k_id, k_debit, k_credit, k_amount, k_code, k_plain, k_user_data, k_reason,
           k_describable, k_ledger, k_batch_id, k_created_at, k_hash
      FROM tb_transfers t WHERE t.id = ANY (p_ids);
    FOR i IN 1..n LOOP
        answered := i;
        r_detail[i] := NULL; r_ledger[i] := NULL; r_batch_id[i] := NULL;
        r_created_at[i] := NULL; r_hash[i] := NULL;
        IF NOT utf8 AND p_ids[i] || coalesce(p_user_data[i], '') || coalesce(p_reasons[i], '')
                        ~ '[^\x01-\x7f]' THEN
            r_outcome[i] := 'declined';
            EXIT;
        END IF;
        k := array_position(k_id, p_ids[i]);
        IF k IS NOT NULL THEN
            -- An existing id takes precedence over any refusal: the request is a replay.
            IF k_debit[k] = p_debits[i] AND k_credit[k] = p_credits[i]
               AND k_amount[k] = p_amounts[i] AND k_code[k] = p_codes[i] AND k_plain[k]
               AND k_user_data[k] IS NOT DISTINCT FROM p_user_data[i]
               AND k_reason[k] IS NOT DISTINCT FROM p_reasons[i] THEN
                IF NOT k_describable[k] THEN
                    r_outcome[i] := 'declined';
                    EXIT;
                END IF;
                r_outcome[i] := 'exists';
                r_ledger[i] := k_ledger[k];
                r_batch_id[i] := k_batch_id[k];
                r_created_at[i] := k_created_at[k];
                r_hash[i] := k_hash[k];
            ELSE
                r_outcome[i] := 'exists_with_different_body';
            END IF;
            CONTINUE;
        END IF;
        dx := array_position(a_id, p_debits[i]);
        cx := array_position(a_id, p_credits[i]);
        IF dx IS NULL THEN
            r_outcome[i] := 'account_not_found';
            r_detail[i] := format('no account %s', p_debits[i]);
            CONTINUE;
        ELSIF cx IS NULL THEN
            r_outcome[i] := 'account_not_found';
            r_detail[i] := format('no account %s', p_credits[i]);
            CONTINUE;
        ELSIF dx = cx THEN
            r_outcome[i] := 'accounts_must_be_different';
            r_detail[i] := 'debit and credit are the same account';
            CONTINUE;
        ELSIF a_ledger[dx] <> a_ledger[cx] THEN
            r_outcome[i] := 'ledger_mismatch';
            r_detail[i] := format('ledgers %s and %s', a_ledger[dx], a_ledger[cx]);
            CONTINUE;
        END IF;
        d_balance := a_cposted[dx] - a_dposted[dx];
        c_balance := a_cposted[cx] - a_dposted[cx];
        IF a_no_overdraft[dx] AND d_balance - a_dp[dx] < p_amounts[i] THEN
            r_outcome[i] := 'exceeds_balance';
            r_detail[i] := format('account %s has %s min available, not %s',
                                  a_id[dx], d_balance - a_dp[dx], p_amounts[i]);
            CONTINUE;
        ELSIF c_balance + p_amounts[i] > p_credit_caps[i] THEN
            r_outcome[i] := 'exceeds_credit_cap';
            r_detail[i] := format('account %s would hold %s > %s',
                                  a_id[cx], c_balance + p_amounts[i], p_credit_caps[i]);
            CONTINUE;
        END IF;
        d_pending := a_cp[dx] - a_dp[dx];
        c_pending := a_cp[cx] - a_dp[cx];
        digest := encode(sha256(convert_to(
            '["tb1","transfer",[' || tb_json_string(p_ids[i]) || ',' || a_ledger[dx] || ','
            || tb_json_string(p_codes[i]) || ',"single",' || p_debits[i] || ','
            || p_credits[i] || ',' || p_amounts[i] || ',null,null,null,'
            || coalesce(tb_json_string(p_user_data[i]), 'null') || ','
            || coalesce(tb_json_string(p_reasons[i]), 'null') || ',null,'
            || tb_json_string(p_ids[i]) || ',"'
            || to_char(p_now AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')
            || '"],["debit",' || a_id[dx] || ',' || a_version[dx] + 1 || ','
            || tb_json_string(a_head[dx]) || ',' || -p_amounts[i] || ',0,' || d_balance || ','
            || d_balance - p_amounts[i] || ',' || d_pending || ',' || d_pending
            || '],["credit",' || a_id[cx] || ',' || a_version[cx] + 1 || ','
            || tb_json_string(a_head[cx]) || ',' || p_amounts[i] || ',0,' || c_balance || ','
            || c_balance + p_amounts[i] || ',' || c_pending || ',' || c_pending || ']]',
            'UTF8')), 'hex');
        w := w + 1;
        w_id[w] := p_ids[i]; w_ledger[w] := a_ledger[dx]; w_code[w] := p_codes[i];
        w_debit[w] := p_debits[i]; w_credit[w] := p_credits[i]; w_amount[w] := p_amounts[i];
        w_user_data[w] := p_user_data[i]; w_reason[w] := p_reasons[i]; w_hash[w] := digest;
        -- the legs: debit at 2w - 1, credit at 2w
        e_account[2 * w - 1] := a_id[dx]; e_account[2 * w] := a_id[cx];
        e_version[2 * w - 1] := a_version[dx] + 1; e_version[2 * w] := a_version[cx] + 1;
        e_prev[2 * w - 1] := a_head[dx]; e_prev[2 * w] := a_head[cx];
        e_delta[2 * w - 1] := -p_amounts[i]; e_delta[2 * w] := p_amounts[i];
        e_before[2 * w - 1] := d_balance; e_before[2 * w] := c_balance;
        e_after[2 * w - 1] := d_balance - p_amounts[i]; e_after[2 * w] := c_balance + p_amounts[i];
        e_pending[2 * w - 1] := d_pending; e_pending[2 * w] := c_pending;
        a_dposted[dx] := a_dposted[dx] + p_amounts[i];
        a_cposted[cx] := a_cposted[cx] + p_amounts[i];
        a_version[dx] := a_version[dx] + 1; a_version[cx] := a_version[cx] + 1;
        a_head[dx] := digest; a_head[cx] := digest;
        k := coalesce(cardinality(k_id), 0) + 1;
        k_id[k] := p_ids[i]; k_debit[k] := p_debits[i]; k_credit[k] := p_credits[i];
        k_amount[k] := p_amounts[i]; k_code[k] := p_codes[i]; k_plain[k] := true;
        k_user_data[k] := p_user_data[i]; k_reason[k] := p_reasons[i]; k_describable[k] := true;
        k_ledger[k] := a_ledger[dx]; k_batch_id[k] := p_ids[i]; k_created_at[k] := p_now;
        k_hash[k] := digest;
        r_outcome[i] := 'created'; r_ledger[i] := a_ledger[dx]; r_batch_id[i] := p_ids[i];
        r_created_at[i] := p_now; r_hash[i] := digest;
    END LOOP;
    IF w > 0 THEN
        -- Three statements for the whole request. A concurrent writer of one of these ids
        -- (on other accounts, so not serialised by our locks) makes the first one fail
        -- with a unique violation, as on the Python path: roll back and retry.
        INSERT INTO tb_transfers (id, ledger, code, kind, debit_account_id, credit_account_id,
                                  amount_min, user_data, reason, batch_id, created_at, hash)
        SELECT t.id, t.ledger, t.code, 'single', t.debit, t.credit, t.amount, t.user_data,
               t.reason, t.id, p_now, t.hash
          FROM unnest(w_id, w_ledger, w_code, w_debit, w_credit, w_amount, w_user_data,
                      w_reason, w_hash)
               AS t(id, ledger, code, debit, credit, amount, user_data, reason, hash);
        INSERT INTO tb_entries (transfer_id, side, account_id, version, prev_hash,
                                posted_delta_min, pending_delta_min, balance_before_min,
                                balance_after_min, pending_before_min, pending_after_min)
        SELECT w_id[(e.n::integer + 1) / 2], CASE WHEN e.n % 2 = 1 THEN 'debit' ELSE 'credit' END,
               e.account, e.version, e.prev, e.delta, 0, e.before, e.after, e.pending, e.pending
          FROM unnest(e_account, e_version, e_prev, e_delta, e_before, e_after, e_pending)
               WITH ORDINALITY AS e(account, version, prev, delta, before, after, pending, n);
        SELECT count(*) INTO changed FROM unnest(a_version, a_old_version) AS v(nv, ov)
         WHERE v.nv <> v.ov;
        UPDATE tb_accounts x
           SET debits_posted_min = u.dposted, credits_posted_min = u.cposted,
               version = u.version, head_hash = u.head
          FROM unnest(a_id, a_dposted, a_cposted, a_version, a_old_version, a_head)
               AS u(id, dposted, cposted, version, old_version, head)
         WHERE x.id = u.id AND u.version <> u.old_version AND x.version = u.old_version;
        GET DIAGNOSTICS updated = ROW_COUNT;
        IF updated <> changed THEN
            RAISE EXCEPTION 'timebank: an account changed under the ledger''s lock'
                USING ERRCODE = 'TB001';
        END IF;
    END IF;
    RETURN QUERY
        SELECT r.n::integer, r.outcome, r.detail, r.ledger, r.batch_id, r.created_at, r.hash
          FROM unnest(r_outcome, r_detail, r_ledger, r_batch_id, r_created_at, r_hash)
               WITH ORDINALITY AS r(outcome, detail, ledger, batch_id, created_at, hash, n)
         WHERE r.n <= answered;
END $$""",
]


def _pg_only(dialect_name: str, statements: list[str]) -> list[str]:
    _check_dialect(dialect_name)
    return list(statements) if dialect_name == "postgresql" else []


def server_function_ddl(dialect_name: str) -> list[str]:
    """Return the statements that create the server-side write functions.

    Parameters
    ----------
    dialect_name
        ``"sqlite"`` (nothing: SQLite runs in the client's process) or ``"postgresql"``.

    Returns
    -------
    list of str
        One statement per string, free of ``:name`` patterns; run them after the
        tables exist (PostgreSQL checks the body, which declares their row types).

    Raises
    ------
    ValueError
        For any other dialect.
    """
    return _pg_only(dialect_name, _PG_WRITE_FUNCTIONS)


def drop_server_function_ddl(dialect_name: str) -> list[str]:
    """Return the statements that drop what :func:`server_function_ddl` created.

    Parameters
    ----------
    dialect_name
        ``"sqlite"`` or ``"postgresql"``.

    Returns
    -------
    list of str
        ``DROP FUNCTION IF EXISTS`` statements (in reverse order of creation).
    """
    return _pg_only(
        dialect_name,
        [
            "DROP FUNCTION IF EXISTS tb_create_transfer("
            "text, bigint, bigint, bigint, text, text, text, bigint, timestamptz)",
            "DROP FUNCTION IF EXISTS tb_json_string(text)",
        ],
    )


def batch_function_ddl(dialect_name: str) -> list[str]:
    """Return the statements that create ``tb_create_transfers`` (the batched write path).

    Parameters
    ----------
    dialect_name
        ``"sqlite"`` (nothing) or ``"postgresql"``.

    Returns
    -------
    list of str
        One statement per string, free of ``:name`` patterns; run them after
        :func:`server_function_ddl` (the function calls ``tb_json_string``).

    Raises
    ------
    ValueError
        For any other dialect.
    """
    return _pg_only(dialect_name, _PG_BATCH_FUNCTIONS)


def drop_batch_function_ddl(dialect_name: str) -> list[str]:
    """Return the statements that drop what :func:`batch_function_ddl` created.

    Parameters
    ----------
    dialect_name
        ``"sqlite"`` or ``"postgresql"``.

    Returns
    -------
    list of str
        ``DROP FUNCTION IF EXISTS`` statements.
    """
    return _pg_only(
        dialect_name,
        [
            "DROP FUNCTION IF EXISTS tb_create_transfers("
            "text[], bigint[], bigint[], bigint[], text[], text[], text[], bigint[], timestamptz)"
        ],
    )


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
    # text(), as Alembic's op.execute uses, so this path is the migrations' path.
    dialect_name = connection.dialect.name
    for statement in [
        *trigger_ddl(dialect_name),
        *server_function_ddl(dialect_name),
        *batch_function_ddl(dialect_name),
    ]:
        connection.execute(text(statement))


def drop_schema(connection: Connection) -> None:
    """Drop the ledger's triggers and tables (tests and benchmarks only; no commit).

    Parameters
    ----------
    connection
        An open connection; the caller commits.
    """
    # The reverse of create_schema: the write functions first.
    dialect_name = connection.dialect.name
    for statement in [
        *drop_batch_function_ddl(dialect_name),
        *drop_server_function_ddl(dialect_name),
    ]:
        connection.execute(text(statement))
    metadata.drop_all(connection)  # triggers go with their tables
    for statement in drop_trigger_ddl(connection.dialect.name):
        if statement.startswith("DROP FUNCTION"):
            connection.execute(text(statement))
