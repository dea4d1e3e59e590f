"""The batched server path ``tb_create_transfers`` (PostgreSQL) against the Python path.

A request of several independent lone posted transfers is written on PostgreSQL by one
call of ``tb_create_transfers``; every transfer's outcome, detail and stored bytes must
be those of the Python path (``on_server=False``) for the same request from the same
state, so that ``verify`` cannot tell which path wrote a row. Also: migration
``cccee5076d8c`` (which creates the function) upgrades and downgrades cleanly and
upgrades to what ``create_schema`` builds. Skipped without ``TEST_DATABASE_URL``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import importlib.util
import random
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy import Connection, Engine, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tests.timebank.conftest import PG_SCHEMA, T0
from tests.timebank.test_tb_fast_path import (
    CODES,
    MISSING,
    Bank,
    _fresh,
    _ledger_dump,
    _open_bank,
    _random_text,
    _statements,
)
from timebank import (
    Outcome,
    TransferCode,
    TransferKind,
    TransferResult,
    TransferSpec,
    create_transfers,
    verify,
)
from timebank.schema import (
    accounts,
    batch_function_ddl,
    drop_batch_function_ddl,
    entries,
    transfers,
)

pytestmark = pytest.mark.postgres

MIGRATION = next(
    (Path(__file__).parents[2] / "migrations" / "versions").glob("*_cccee5076d8c_*.py")
)


def _batch_calls(statements: list[str]) -> int:
    return sum("tb_create_transfers(" in s for s in statements)


def _rows(connection: Connection, ids: set[str]) -> tuple[Any, ...]:
    """Everything a request may have changed: its transfers and entries, every account."""
    wanted = sorted(ids)
    found = connection.execute(
        select(transfers).where(transfers.c.id.in_(wanted)).order_by(transfers.c.id)
    ).mappings()
    legs = connection.execute(
        select(entries)
        .where(entries.c.transfer_id.in_(wanted))
        .order_by(entries.c.transfer_id, entries.c.side)
    ).mappings()
    balances = connection.execute(select(accounts).order_by(accounts.c.id)).mappings()
    return (
        tuple(dict(r) for r in found),
        tuple(dict(r) for r in legs),
        tuple(dict(r) for r in balances),
    )


def _attempt(
    engine: Engine,
    specs: list[TransferSpec],
    now: dt.datetime,
    *,
    on_server: bool,
    keep: bool,
) -> tuple[list[TransferResult], tuple[Any, ...]]:
    """Run the request in its own transaction; commit it if ``keep``, else roll it back."""
    with engine.connect() as connection:
        transaction = connection.begin()
        results = create_transfers(connection, specs, now=now, on_server=on_server)
        rows = _rows(connection, {s.id for s in specs if isinstance(s.id, str)})
        if keep:
            transaction.commit()
        else:
            transaction.rollback()
    return results, rows


def _account(rng: random.Random, bank: Bank) -> int:
    pick = rng.random()
    if pick < 0.78:
        return rng.choice(bank.members)
    if pick < 0.86:
        return bank.issuance
    if pick < 0.93:
        return bank.pool
    return rng.choice([bank.foreign, MISSING])


def _new_spec(rng: random.Random, bank: Bank, name: str) -> TransferSpec:
    debit = _account(rng, bank)
    credit = _account(rng, bank)
    while credit == debit and rng.random() < 0.9:
        credit = _account(rng, bank)
    return TransferSpec(
        id=name,
        amount_min=rng.choice([1, rng.randint(1, 120), rng.randint(1, 120), 400, 5000]),
        debit_account_id=debit,
        credit_account_id=credit,
        code=rng.choice(CODES),
        user_data=_random_text(rng) if rng.random() < 0.5 else None,
        reason=_random_text(rng) if rng.random() < 0.3 else None,
        credit_cap_min=None if rng.random() < 0.7 else rng.randint(0, 1500),
    )


def _changed(rng: random.Random, bank: Bank, original: TransferSpec) -> TransferSpec:
    changes: list[dict[str, Any]] = [
        {"amount_min": (original.amount_min or 0) + 1},
        {"user_data": "changed"},
        {"reason": None if original.reason else "changed"},
        {"code": TransferCode.DONATION if original.code is TransferCode.GIFT else None},
        {"credit_account_id": bank.pool},
    ]
    fields: dict[str, Any] = {**vars(original), **rng.choice(changes)}
    return TransferSpec(**fields)


def _random_request(
    rng: random.Random, bank: Bank, step: int, written: dict[str, TransferSpec]
) -> list[TransferSpec]:
    request: list[TransferSpec] = []
    for k in range(rng.randint(2, 8)):
        pick = rng.random()
        if written and pick < 0.15:
            original = written[rng.choice(sorted(written))]
            request.append(original if rng.random() < 0.5 else _changed(rng, bank, original))
        elif request and pick < 0.25:  # the same id twice in one request
            original = rng.choice(request)
            request.append(original if rng.random() < 0.5 else _changed(rng, bank, original))
        elif pick < 0.3:
            invalid = _new_spec(rng, bank, f"b:{step}:{k}")
            request.append(dataclasses.replace(invalid, user_data="u" * 257))
        else:
            request.append(_new_spec(rng, bank, f"b:{step}:{k}:{rng.choice(['', 'é', '😀'])}"))
    return request


def test_batched_requests_answer_and_write_as_the_python_path(pg_engine: Engine) -> None:
    """Both paths from the same state: same results and same rows; one of them is kept."""
    bank = _open_bank(pg_engine)
    with pg_engine.begin() as connection:
        extra = [
            TransferSpec(f"extra:{m}", 1000, bank.issuance, m, TransferCode.PLEDGE)
            for m in (*bank.members, bank.pool)
        ]
        create_transfers(connection, extra, now=T0, on_server=False)
    rng = random.Random(20261126)
    written: dict[str, TransferSpec] = {}
    outcomes: Counter[Outcome] = Counter()
    kept: Counter[bool] = Counter()
    with _statements(pg_engine) as statements:
        for step in range(120):
            request = _random_request(rng, bank, step, written)
            micro = rng.choice([0, 1, 999_999, rng.randint(0, 999_999)])
            now = T0 + dt.timedelta(seconds=step, microseconds=micro)
            keep_server = rng.random() < 0.5
            order = [False, True] if keep_server else [True, False]
            attempts = {}
            for i, on_server in enumerate(order):
                attempts[on_server] = _attempt(
                    pg_engine, request, now, on_server=on_server, keep=i == 1
                )
            assert attempts[True] == attempts[False], f"step {step}: {request}"
            for spec, result in zip(request, attempts[True][0], strict=True):
                outcomes[result.outcome] += 1
                if result.outcome is Outcome.CREATED:
                    written[spec.id] = spec
                    kept[keep_server] += 1
        # Every request was one call of the function (invalid specs are answered first).
        assert _batch_calls(statements) == 120
        assert sum("tb_create_transfer(" in s for s in statements) == 0
    with pg_engine.connect() as connection:
        report = verify(connection)
    assert report.ok, report.summary()
    assert kept[True] > 30
    assert kept[False] > 30
    assert {
        Outcome.CREATED,
        Outcome.EXISTS,
        Outcome.EXISTS_WITH_DIFFERENT_BODY,
        Outcome.EXCEEDS_BALANCE,
        Outcome.EXCEEDS_CREDIT_CAP,
        Outcome.ACCOUNT_NOT_FOUND,
        Outcome.ACCOUNTS_MUST_BE_DIFFERENT,
        Outcome.LEDGER_MISMATCH,
        Outcome.INVALID,
    } <= set(outcomes)


def test_a_batch_replays_conflicts_and_refuses_item_by_item(pg_engine: Engine) -> None:
    """Fixed cases, each failing transfer alone: the others are written."""
    bank = _open_bank(pg_engine)
    a, b, c = bank.members[:3]  # funded with 300 each
    first = TransferSpec("g:1", 100, a, b, TransferCode.GIFT, user_data="gift:1")
    with pg_engine.begin() as connection:
        assert create_transfers(connection, [first], now=T0)[0].outcome is Outcome.CREATED
    request = [
        TransferSpec("g:2", 50, a, c, TransferCode.GIFT),  # created
        first,  # a replay: exists, even though a can no longer pay it twice over
        TransferSpec("g:1", 101, a, b, TransferCode.GIFT, user_data="gift:1"),  # conflict
        TransferSpec("g:3", 151, a, c, TransferCode.GIFT),  # 150 left: exceeds_balance
        TransferSpec("g:4", 10, c, b, TransferCode.GIFT, credit_cap_min=409),  # over the cap
        TransferSpec("g:5", 0, c, b, TransferCode.GIFT),  # invalid
        TransferSpec("g:6", 150, a, c, TransferCode.GIFT),  # exactly what is left
        TransferSpec("g:6", 150, a, c, TransferCode.GIFT),  # the same again: exists
        TransferSpec("g:6", 1, a, c, TransferCode.GIFT),  # the same id, another body
        TransferSpec("g:7", 1, a, MISSING, TransferCode.GIFT),  # account_not_found
    ]
    later = T0 + dt.timedelta(minutes=5)
    server, server_rows = _attempt(pg_engine, request, later, on_server=True, keep=False)
    python, python_rows = _attempt(pg_engine, request, later, on_server=False, keep=True)
    assert server == python
    assert server_rows == python_rows
    assert [r.outcome for r in server] == [
        Outcome.CREATED,
        Outcome.EXISTS,
        Outcome.EXISTS_WITH_DIFFERENT_BODY,
        Outcome.EXCEEDS_BALANCE,
        Outcome.EXCEEDS_CREDIT_CAP,
        Outcome.INVALID,
        Outcome.CREATED,
        Outcome.EXISTS,
        Outcome.EXISTS_WITH_DIFFERENT_BODY,
        Outcome.ACCOUNT_NOT_FOUND,
    ]
    assert server[1].transfer is not None
    assert server[1].transfer.created_at == T0  # the original, not the replay's time
    with pg_engine.connect() as connection:
        assert verify(connection).ok


def test_the_same_history_batched_or_in_python_is_the_same_ledger(pg_engine: Engine) -> None:
    """One sequence of requests on two fresh schemas: identical tables, hashes included."""
    dumps = []
    for on_server in (True, False):
        _fresh(pg_engine)
        bank = _open_bank(pg_engine)
        rng = random.Random(11)
        for step in range(25):
            request = []
            for k in range(rng.randint(2, 6)):
                debit, credit = rng.sample(bank.members, 2)
                request.append(
                    TransferSpec(
                        f"h:{step}:{k}",
                        rng.randint(1, 90),
                        debit,
                        credit,
                        TransferCode.GIFT,
                        user_data=_random_text(rng),
                        reason=_random_text(rng) if k % 2 else None,
                    )
                )
            now = T0 + dt.timedelta(minutes=step, microseconds=rng.randint(0, 999_999))
            with pg_engine.begin() as connection:
                create_transfers(connection, request, now=now, on_server=on_server)
        dumps.append(_ledger_dump(pg_engine))
        with pg_engine.connect() as connection:
            assert verify(connection).ok
    assert dumps[0] == dumps[1]
    assert len(dumps[0][1]) > 60  # enough of the gifts were funded and written


def test_requests_the_batch_does_not_serve_stay_on_the_python_path(pg_engine: Engine) -> None:
    bank = _open_bank(pg_engine)
    a, b = bank.members[:2]
    others = [
        [
            TransferSpec("l1", 1, a, b, TransferCode.GIFT, linked=True),
            TransferSpec("l2", 1, a, b, TransferCode.GIFT),
        ],
        [
            TransferSpec("h1", 5, a, bank.issuance, TransferCode.REDEMPTION, TransferKind.PENDING),
            TransferSpec("s1", 5, a, b, TransferCode.GIFT),
        ],
        [
            TransferSpec("s2", 5, a, b, TransferCode.GIFT),
            TransferSpec("p1", kind=TransferKind.POST, pending_id="h1"),
        ],
    ]
    with _statements(pg_engine) as statements:
        for request in others:
            with pg_engine.begin() as connection:
                assert all(r.ok for r in create_transfers(connection, request, now=T0))
        with pg_engine.begin() as connection:
            request = [
                TransferSpec("s3", 5, a, b, TransferCode.GIFT),
                TransferSpec("s4", 5, b, a, TransferCode.GIFT),
            ]
            create_transfers(connection, request, now=T0, on_server=False)
    assert _batch_calls(statements) == 0
    with pg_engine.begin() as connection, _statements(pg_engine) as statements:
        request = [
            TransferSpec("s5", 5, a, b, TransferCode.GIFT),
            TransferSpec("s6", 5, b, a, TransferCode.GIFT),
        ]
        assert all(r.ok for r in create_transfers(connection, request, now=T0))
    assert len(statements) == 1
    assert _batch_calls(statements) == 1


def test_a_declined_transfer_goes_to_python_and_the_rest_back_to_the_server(
    pg_engine: Engine,
) -> None:
    """A stored row the function cannot describe (written behind the ledger) is declined."""
    bank = _open_bank(pg_engine)
    a, b, c = bank.members[:3]
    odd = [  # 'single' rows with an expires_at: the function rebuilds answers without one
        TransferSpec("odd:1", 7, b, c, TransferCode.GIFT, user_data="x"),
        TransferSpec("odd:2", 8, c, b, TransferCode.GIFT),
    ]
    with pg_engine.begin() as connection:
        for spec in odd:
            connection.execute(
                transfers.insert(),
                {
                    "id": spec.id,
                    "ledger": 1,
                    "code": "gift",
                    "kind": "single",
                    "debit_account_id": spec.debit_account_id,
                    "credit_account_id": spec.credit_account_id,
                    "amount_min": spec.amount_min,
                    "expires_at": T0 + dt.timedelta(hours=1),
                    "user_data": spec.user_data,
                    "batch_id": spec.id,
                    "created_at": T0,
                    "hash": "0" * 64,
                },
            )
    request = [
        TransferSpec("d:1", 100, a, b, TransferCode.GIFT),
        odd[0],
        TransferSpec("d:2", 150, a, c, TransferCode.GIFT),
        TransferSpec("d:3", 100, a, c, TransferCode.GIFT),  # 50 left: exceeds_balance
        odd[1],
        TransferSpec("d:4", 50, a, b, TransferCode.GIFT),
    ]
    with _statements(pg_engine) as statements:
        server, server_rows = _attempt(pg_engine, request, T0, on_server=True, keep=False)
    python, python_rows = _attempt(pg_engine, request, T0, on_server=False, keep=True)
    assert server == python
    assert server_rows == python_rows
    assert [r.outcome for r in server] == [
        Outcome.CREATED,
        Outcome.EXISTS,
        Outcome.CREATED,
        Outcome.EXCEEDS_BALANCE,
        Outcome.EXISTS,
        Outcome.CREATED,
    ]
    assert server[1].transfer is not None
    assert server[1].transfer.expires_at == T0 + dt.timedelta(hours=1)
    # The first call stops at odd:1, the second at odd:2, the third writes d:4.
    assert _batch_calls(statements) == 3


def test_concurrent_batches_never_deadlock_nor_overdraw(pg_engine: Engine) -> None:
    """Batches over the same accounts in every order: locks in id order, no overdraft."""
    bank = _open_bank(pg_engine)
    members = bank.members[:3]  # 300 each
    failures: list[BaseException] = []
    results: list[TransferResult] = []
    start = threading.Barrier(8)
    lock = threading.Lock()

    def writer(w: int) -> None:
        rng = random.Random(w)
        try:
            start.wait()
            for r in range(10):
                request = []
                for k in range(5):
                    debit, credit = rng.sample(members, 2)
                    request.append(
                        TransferSpec(
                            f"c:{w}:{r}:{k}", rng.randint(5, 60), debit, credit, TransferCode.GIFT
                        )
                    )
                with pg_engine.begin() as connection:
                    answered = create_transfers(connection, request)
                with lock:
                    results.extend(answered)
        except BaseException as error:  # noqa: BLE001 - reported below
            failures.append(error)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert len(results) == 400
    outcomes = Counter(r.outcome for r in results)
    assert set(outcomes) <= {Outcome.CREATED, Outcome.EXCEEDS_BALANCE}
    assert outcomes[Outcome.CREATED] > 50
    with pg_engine.connect() as connection:
        report = verify(connection)
        total = connection.execute(
            text(
                "SELECT sum(credits_posted_min - debits_posted_min) FROM tb_accounts "
                "WHERE id IN (:a, :b, :c)"
            ),
            dict(zip("abc", members, strict=True)),
        ).scalar_one()
    assert report.ok, report.summary()
    assert total == 900  # gifts only move minutes among the three


# --- migration cccee5076d8c ----------------------------------------------------------


def _migration() -> ModuleType:
    spec = importlib.util.spec_from_file_location("migration_cccee5076d8c", MIGRATION)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(connection: Connection, step: str) -> None:
    context = MigrationContext.configure(connection)
    with Operations.context(context):
        getattr(_migration(), step)()


def _catalog(connection: Connection) -> dict[str, Any]:
    """The ledger's constraints, indexes and functions in the test schema."""
    constraints = connection.execute(
        text(
            "SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid) "
            "FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace "
            "WHERE n.nspname = :schema ORDER BY 1, 2"
        ),
        {"schema": PG_SCHEMA},
    ).all()
    indexes = connection.execute(
        text(
            "SELECT tablename, indexname, indexdef FROM pg_indexes "
            "WHERE schemaname = :schema ORDER BY 1, 2"
        ),
        {"schema": PG_SCHEMA},
    ).all()
    functions = connection.execute(
        text(
            "SELECT p.proname, pg_get_function_identity_arguments(p.oid), p.prosrc "
            "FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
            "WHERE n.nspname = :schema ORDER BY 1, 2"
        ),
        {"schema": PG_SCHEMA},
    ).all()
    return {
        "constraints": [tuple(r) for r in constraints],
        "indexes": [tuple(r) for r in indexes],
        "functions": [tuple(r) for r in functions],
    }


@pytest.fixture
def pg_connection(pg_engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction that is rolled back: DDL leaves no trace."""
    with pg_engine.connect() as connection:
        transaction = connection.begin()
        yield connection
        transaction.rollback()


def test_migration_upgrades_to_create_schema_and_downgrades_cleanly(
    pg_connection: Connection,
) -> None:
    built = _catalog(pg_connection)  # create_schema's result
    _run(pg_connection, "downgrade")
    before = _catalog(pg_connection)
    functions = {name for name, _, _ in before["functions"]}
    assert "tb_create_transfers" not in functions
    assert "tb_create_transfer" in functions  # the previous revision's function stays
    assert before["constraints"] == built["constraints"]
    assert before["indexes"] == built["indexes"]
    _run(pg_connection, "upgrade")
    assert _catalog(pg_connection) == built
    _run(pg_connection, "downgrade")
    assert _catalog(pg_connection) == before
    _run(pg_connection, "upgrade")
    assert _catalog(pg_connection) == built


def test_batch_function_ddl_is_postgresql_only_and_pairs_with_its_drop() -> None:
    assert batch_function_ddl("sqlite") == []
    assert drop_batch_function_ddl("sqlite") == []
    created = batch_function_ddl("postgresql")
    assert [s.split("(")[0].split()[-1] for s in created] == ["tb_create_transfers"]
    assert [s.split("(")[0].split()[-1] for s in drop_batch_function_ddl("postgresql")] == [
        "tb_create_transfers"
    ]
    for statement in created:  # op.execute wraps each in text(): no bind parameters
        assert text(statement).compile().params == {}
    with pytest.raises(ValueError, match="mysql"):
        batch_function_ddl("mysql")


def test_a_session_writes_through_the_same_functions(pg_engine: Engine) -> None:
    """A Session (the app's executor) runs the same calls as text(), with the same results."""
    bank = _open_bank(pg_engine)
    a, b, c = bank.members[:3]
    request = [
        TransferSpec("s:1", 10, a, b, TransferCode.GIFT, user_data="visit:1"),
        TransferSpec("s:2", 301, a, c, TransferCode.GIFT),
        TransferSpec("s:3", 20, b, c, TransferCode.GIFT, reason="谢谢"),
    ]
    lone = [TransferSpec("s:4", 5, c, a, TransferCode.GIFT)]
    with pg_engine.connect() as connection, connection.begin() as transaction:
        python = [
            create_transfers(connection, request, now=T0, on_server=False),
            create_transfers(connection, lone, now=T0, on_server=False),
        ]
        python_rows = _rows(connection, {"s:1", "s:2", "s:3", "s:4"})
        transaction.rollback()
    with _statements(pg_engine) as statements, Session(pg_engine) as session:
        served = [
            create_transfers(session, request, now=T0),
            create_transfers(session, lone, now=T0),
        ]
        session.commit()
    assert served == python
    assert _batch_calls(statements) == 1
    assert sum("tb_create_transfer(" in s for s in statements) == 1
    with pg_engine.connect() as connection:
        assert _rows(connection, {"s:1", "s:2", "s:3", "s:4"}) == python_rows
        assert verify(connection).ok


def test_one_id_raced_in_batches_with_different_bodies_is_created_once(
    pg_engine: Engine,
) -> None:
    """Disjoint accounts: a loser may fail with IntegrityError; its retry reports the conflict."""
    bank = _open_bank(pg_engine)
    m = bank.members
    bodies = [(m[0], m[3]), (m[1], m[4]), (m[2], bank.pool)]
    start = threading.Barrier(6)
    outcomes: list[Outcome] = []
    lock = threading.Lock()

    def writer(w: int) -> None:
        debit, credit = bodies[w % 3]
        request = [
            TransferSpec(f"own:{w}", 1, debit, credit, TransferCode.GIFT),
            TransferSpec("raced", 10 + w, debit, credit, TransferCode.GIFT),
        ]
        start.wait()
        for _ in range(20):
            try:
                with pg_engine.begin() as connection:
                    answered = create_transfers(connection, request, now=T0)
            except IntegrityError:
                continue
            with lock:
                outcomes.append(answered[1].outcome)
            return

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert Counter(outcomes) == {Outcome.CREATED: 1, Outcome.EXISTS_WITH_DIFFERENT_BODY: 5}
    with pg_engine.connect() as connection:
        assert verify(connection).ok
