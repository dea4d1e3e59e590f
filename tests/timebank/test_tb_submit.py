"""``submit_transfers``: a request that is its own transaction.

On PostgreSQL a lone posted transfer goes to ``tb_create_transfer`` as one statement in
autocommit mode (no ``BEGIN``, no ``COMMIT`` on the wire); every other request runs in
``connection.begin()``. Either way the transfers are committed on return, and the
connection is left as it was: its next ``begin()`` is a real transaction again.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, select
from sqlalchemy.exc import DBAPIError

import timebank.ledger
from tests.timebank.conftest import T0, member, setup_bank
from timebank import (
    Outcome,
    TransferCode,
    TransferKind,
    TransferSpec,
    create_transfers,
    submit_transfers,
    system_accounts,
)
from timebank.schema import transfers


def _fund(engine: Engine, *refs: str, minutes: int = 100) -> list[int]:
    setup_bank(engine)
    with engine.begin() as connection:
        issuance = system_accounts(connection).issuance.id
        ids = [member(connection, ref) for ref in refs]
        specs = [
            TransferSpec(f"fund:{ref}", minutes, issuance, i, TransferCode.PLEDGE)
            for ref, i in zip(refs, ids, strict=True)
        ]
        assert all(r.ok for r in create_transfers(connection, specs, now=T0))
    return ids


def _stored(engine: Engine, transfer_id: str) -> bool:
    with engine.connect() as other:
        row = other.execute(select(transfers.c.id).where(transfers.c.id == transfer_id))
        return row.first() is not None


def _gift(transfer_id: str, debit: int, credit: int, minutes: int = 10) -> TransferSpec:
    return TransferSpec(transfer_id, minutes, debit, credit, TransferCode.GIFT)


def _still_transactional(connection: Connection, ids: list[int]) -> None:
    """A write in the connection's next ``begin()`` is undone by its rollback."""
    with connection.begin() as transaction:
        (result,) = create_transfers(connection, [_gift("rolled-back", *ids)], now=T0)
        assert result.outcome is Outcome.CREATED
        transaction.rollback()
    assert not connection.in_transaction()
    with connection.begin():
        assert (
            connection.execute(
                select(transfers.c.id).where(transfers.c.id == "rolled-back")
            ).first()
            is None
        )


def test_a_lone_transfer_is_one_statement_without_begin_or_commit(
    pg_engine: Engine, tmp_path: Path
) -> None:
    ids = _fund(pg_engine, "a", "b")
    trace = tmp_path / "libpq.trace"
    with pg_engine.connect() as connection, trace.open("w") as out:
        pgconn = connection.connection.driver_connection.pgconn  # type: ignore[union-attr]
        pgconn.trace(out.fileno())
        (result,) = submit_transfers(connection, [_gift("g1", *ids)], now=T0)
        pgconn.untrace()
        assert result.outcome is Outcome.CREATED
        assert _stored(pg_engine, "g1")  # committed: another connection sees it
        _still_transactional(connection, ids)
    wire = trace.read_text()
    assert "tb_create_transfer(" in wire
    assert "BEGIN" not in wire
    assert "COMMIT" not in wire


def test_replays_conflicts_and_refusals_answer_as_create_transfers(pg_engine: Engine) -> None:
    a, b = _fund(pg_engine, "a", "b", minutes=30)
    with pg_engine.connect() as connection:
        assert submit_transfers(connection, [_gift("g1", a, b)])[0].outcome is Outcome.CREATED
        replay = submit_transfers(connection, [_gift("g1", a, b)])[0]
        assert replay.outcome is Outcome.EXISTS
        other = submit_transfers(connection, [_gift("g1", a, b, minutes=11)])[0]
        assert other.outcome is Outcome.EXISTS_WITH_DIFFERENT_BODY
        too_much = submit_transfers(connection, [_gift("g2", a, b, minutes=21)])[0]
        assert too_much.outcome is Outcome.EXCEEDS_BALANCE
        assert not connection.in_transaction()
    assert not _stored(pg_engine, "g2")


def test_the_connection_is_restored_when_the_call_fails(
    pg_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = _fund(pg_engine, "a", "b")
    failing = "SELECT ARRAY[CAST(1 / (%(amount)s - %(amount)s) AS text)]"
    with pg_engine.connect() as connection:
        default = connection.get_isolation_level()
        with monkeypatch.context() as patch:
            patch.setattr(timebank.ledger, "_CREATE_ON_SERVER_SQL", failing)
            with pytest.raises(DBAPIError, match="division by zero"):
                submit_transfers(connection, [_gift("g1", *ids)])
        assert not connection.in_transaction()
        assert connection.get_isolation_level() == default
        _still_transactional(connection, ids)
        assert submit_transfers(connection, [_gift("g1", *ids)])[0].outcome is Outcome.CREATED
    assert _stored(pg_engine, "g1")


def test_other_requests_commit_in_one_transaction(concurrent_engine: Engine) -> None:
    a, b = _fund(concurrent_engine, "a", "b", minutes=30)
    hold = TransferSpec("h1", 5, a, b, TransferCode.GIFT, kind=TransferKind.PENDING)
    linked = [
        TransferSpec("l1", 10, a, b, TransferCode.GIFT, linked=True),
        _gift("l2", a, b, minutes=1000),  # fails, so the chain fails
    ]
    with concurrent_engine.connect() as connection:
        assert submit_transfers(connection, [hold])[0].outcome is Outcome.CREATED
        first, second = submit_transfers(connection, linked)
        assert first.outcome is Outcome.LINKED_EVENT_FAILED
        assert second.outcome is Outcome.EXCEEDS_BALANCE
        both = submit_transfers(connection, [_gift("p1", a, b), _gift("p2", b, a)])
        assert [r.outcome for r in both] == [Outcome.CREATED, Outcome.CREATED]
        assert not connection.in_transaction()
    assert [_stored(concurrent_engine, i) for i in ("h1", "l1", "l2", "p1", "p2")] == [
        True,
        False,
        False,
        True,
        True,
    ]


def test_a_connection_inside_a_transaction_is_refused(engine: Engine) -> None:
    ids = _fund(engine, "a", "b")
    with (
        engine.connect() as connection,
        connection.begin(),
        pytest.raises(ValueError, match="commits its own transaction"),
    ):
        submit_transfers(connection, [_gift("g1", *ids)])


def test_a_declined_transfer_is_written_by_python_after_one_call(
    pg_engine: Engine, tmp_path: Path
) -> None:
    """A stored row the function cannot describe (written behind the ledger) is declined."""
    a, b = _fund(pg_engine, "a", "b")
    with pg_engine.begin() as connection:
        connection.execute(
            transfers.insert(),
            {  # a 'single' row with an expires_at: the function answers without one
                "id": "odd",
                "ledger": 1,
                "code": "gift",
                "kind": "single",
                "debit_account_id": a,
                "credit_account_id": b,
                "amount_min": 10,
                "expires_at": T0 + dt.timedelta(hours=1),
                "batch_id": "odd",
                "created_at": T0,
                "hash": "0" * 64,
            },
        )
    trace = tmp_path / "libpq.trace"
    with pg_engine.connect() as connection, trace.open("w") as out:
        pgconn = connection.connection.driver_connection.pgconn  # type: ignore[union-attr]
        pgconn.trace(out.fileno())
        (result,) = submit_transfers(connection, [_gift("odd", a, b)], now=T0)
        pgconn.untrace()
    assert result.outcome is Outcome.EXISTS
    assert result.transfer is not None
    assert result.transfer.expires_at == T0 + dt.timedelta(hours=1)
    assert trace.read_text().count("tb_create_transfer(") == 1
