"""Schema guards and tamper evidence: triggers refuse changes; verify finds what bypasses them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tests.timebank.conftest import T0, member
from timebank import (
    Outcome,
    TransferCode,
    TransferKind,
    TransferSpec,
    create_transfers,
    drop_trigger_ddl,
    earn_for_visit,
    ensure_system_accounts,
    metadata,
    trigger_ddl,
    verify,
)
from timebank.schema import create_schema, drop_schema


def _fill(session: Session) -> dict[str, int]:
    """Two members with earnings, a gift and a posted redemption hold."""
    system = ensure_system_accounts(session, now=T0)
    a, b = member(session, "v:a"), member(session, "v:b")
    earn_for_visit(session, visit_id=1, member_account_id=a, verified_min=90, now=T0)
    earn_for_visit(session, visit_id=2, member_account_id=b, verified_min=30, now=T0)
    create_transfers(
        session,
        [
            TransferSpec("gift", 20, a, b, TransferCode.GIFT),
            TransferSpec(
                "hold", 15, b, system.issuance.id, TransferCode.REDEMPTION, TransferKind.PENDING
            ),
            TransferSpec("post", 10, kind=TransferKind.POST, pending_id="hold"),
        ],
        now=T0,
    )
    session.commit()
    return {"a": a, "b": b, "iss": system.issuance.id}


@pytest.fixture(params=["sqlite", "postgresql"])
def any_session(request: pytest.FixtureRequest, engine: Engine) -> Iterator[Session]:
    chosen = engine if request.param == "sqlite" else request.getfixturevalue("pg_engine")
    with Session(chosen) as s:
        yield s


def _drop_triggers(session: Session) -> None:
    for statement in drop_trigger_ddl(session.get_bind().dialect.name):
        session.execute(text(statement))


def _checks(session: Session) -> set[str]:
    report = verify(session)
    assert not report.ok
    assert "problem" in report.summary()
    return {p.check for p in report.problems}


def test_clean_ledger_verifies(any_session: Session) -> None:
    _fill(any_session)
    report = verify(any_session)
    assert report.ok, report.summary()
    assert (report.transfers, report.entries, report.accounts) == (5, 10, 5)
    assert len(report.digest) == 64


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE tb_transfers SET amount_min = 21 WHERE id = 'gift'",
        "DELETE FROM tb_transfers WHERE id = 'post'",
        "UPDATE tb_entries SET prev_hash = 'x' WHERE transfer_id = 'gift'",
        "DELETE FROM tb_entries WHERE transfer_id = 'post'",
        "DELETE FROM tb_accounts WHERE owner_ref = 'v:a'",
        "UPDATE tb_accounts SET owner_ref = 'v:z' WHERE owner_ref = 'v:a'",
        "UPDATE tb_accounts SET credits_posted_min = 500 WHERE owner_ref = 'v:a'",
        "UPDATE tb_accounts SET version = version + 1 WHERE owner_ref = 'v:a'",
    ],
)
def test_triggers_refuse_changes_to_ledger_rows(any_session: Session, statement: str) -> None:
    _fill(any_session)
    with pytest.raises(IntegrityError, match="timebank"):
        any_session.execute(text(statement))


def test_no_overdraft_is_a_database_constraint(any_session: Session) -> None:
    ids = _fill(any_session)
    _drop_triggers(any_session)
    with pytest.raises(IntegrityError, match="no_overdraft"):
        any_session.execute(
            text("UPDATE tb_accounts SET debits_posted_min = 10000 WHERE id = :id"),
            {"id": ids["a"]},
        )


def test_pending_is_resolved_once_by_the_database(any_session: Session) -> None:
    _fill(any_session)
    _drop_triggers(any_session)
    table = metadata.tables["tb_transfers"]
    row = any_session.execute(select(table).where(table.c.id == "post")).mappings().one()
    with pytest.raises(IntegrityError):
        any_session.execute(table.insert(), [{**row, "id": "post-2"}])


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        ("UPDATE tb_transfers SET amount_min = 21 WHERE id = 'gift'", {"hash", "entry_amounts"}),
        ("UPDATE tb_transfers SET user_data = 'forged' WHERE id = 'gift'", {"hash"}),
        (
            "UPDATE tb_entries SET balance_before_min = balance_before_min + 5,"
            " balance_after_min = balance_after_min + 5"
            " WHERE transfer_id = 'gift' AND side = 'credit'",
            {"hash", "running_balance"},
        ),
        (
            "UPDATE tb_accounts SET credits_posted_min = credits_posted_min + 60"
            " WHERE owner_ref = 'v:a'",
            {"account_counters", "sum_nonzero"},
        ),
        ("UPDATE tb_accounts SET owner_ref = 'v:z' WHERE owner_ref = 'v:a'", {"chain_link"}),
        (
            "UPDATE tb_entries SET prev_hash = (SELECT hash FROM tb_transfers WHERE id = 'gift')"
            " WHERE transfer_id = 'post' AND side = 'debit'",
            {"hash", "chain_link"},
        ),
    ],
)
def test_verify_reports_rows_altered_behind_the_triggers(
    any_session: Session, statement: str, expected: set[str]
) -> None:
    _fill(any_session)
    _drop_triggers(any_session)
    any_session.execute(text(statement))
    assert expected <= _checks(any_session)


def test_verify_reports_a_deleted_transfer(any_session: Session) -> None:
    _fill(any_session)
    _drop_triggers(any_session)
    any_session.execute(text("DELETE FROM tb_entries WHERE transfer_id = 'gift'"))
    any_session.execute(text("DELETE FROM tb_transfers WHERE id = 'gift'"))
    found = _checks(any_session)
    assert {"chain_link", "version_gap", "running_balance", "account_counters"} <= found


def test_verify_reports_a_transfer_without_entries(any_session: Session) -> None:
    _fill(any_session)
    _drop_triggers(any_session)
    any_session.execute(text("DELETE FROM tb_entries WHERE transfer_id = 'post'"))
    assert {"entries_missing", "account_counters"} <= _checks(any_session)


def test_verify_caps_the_problem_list(session: Session) -> None:
    _fill(session)
    _drop_triggers(session)
    session.execute(text("UPDATE tb_transfers SET reason = 'x'"))
    report = verify(session, max_problems=2)
    assert len(report.problems) == 2
    assert report.truncated
    assert "more problems" in report.summary()


def test_constraint_names_follow_the_convention() -> None:
    names = {c.name for t in metadata.sorted_tables for c in t.constraints}
    assert {
        "pk_tb_accounts",
        "uq_tb_accounts_ledger",
        "ck_tb_accounts_no_overdraft",
        "fk_tb_transfers_debit_account_id_tb_accounts",
        "uq_tb_transfers_pending_id",
        "uq_tb_entries_account_id",
        "ck_tb_entries_balance_follows",
    } <= names
    assert all(t.name.startswith("tb_") for t in metadata.sorted_tables)


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_trigger_ddl_pairs_with_its_drop(dialect: str) -> None:
    created = trigger_ddl(dialect)
    dropped = drop_trigger_ddl(dialect)
    assert len([s for s in created if "CREATE TRIGGER" in s]) == 8
    assert len([s for s in dropped if "DROP TRIGGER" in s]) == 8


def test_unknown_dialect_is_refused() -> None:
    with pytest.raises(ValueError, match="mysql"):
        trigger_ddl("mysql")


def test_schema_can_be_dropped_and_recreated(engine: Engine) -> None:
    with engine.begin() as connection:
        drop_schema(connection)
        create_schema(connection)
    with Session(engine) as s:
        _fill(s)
        assert verify(s).ok
        result = create_transfers(s, [TransferSpec("gift", 20, 4, 5, TransferCode.GIFT)], now=T0)
        assert result[0].outcome is Outcome.EXISTS
