"""The server function ``tb_create_transfer`` (PostgreSQL) against the Python write path.

A lone posted transfer is written on PostgreSQL by one call of ``tb_create_transfer``; the
Python path (``on_server=False``) must stay interchangeable with it: same outcomes and
details, same stored bytes (hash, entries, account counters and heads), so that ``verify``
accepts a ledger written by both, interleaved. Skipped without ``TEST_DATABASE_URL``.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest
from sqlalchemy import Connection, Engine, event, select, text
from sqlalchemy.exc import DataError

from tests.timebank.conftest import T0
from timebank import (
    AccountKind,
    Outcome,
    TransferCode,
    TransferKind,
    TransferResult,
    TransferSpec,
    create_transfers,
    drop_trigger_ddl,
    open_account,
    verify,
)
from timebank.schema import (
    accounts,
    create_schema,
    drop_schema,
    drop_server_function_ddl,
    entries,
    server_function_ddl,
    transfers,
)

pytestmark = pytest.mark.postgres

R = TypeVar("R")
CODES = [code for code in TransferCode if code is not TransferCode.CORRECTION]
MISSING = 10**9
ID_SUFFIXES = ["", "é", "😀", '\\"']
TEXTS = [
    None,
    "",
    "visit:42",
    'a "quote", a back\\slash, a /slash',
    "tab\tnewline\ncr\rbs\x08ff\x0c ctrl\x01\x1f del\x7f",
    "长期护理保险 时间银行",
    "emoji 😀 and a clef 𝄞",
    "\u2028\u2029\ufeff\uffff\ue000",
    "x" * 256,
    "y" * 257,  # too long for user_data: invalid on both paths
]


@dataclass(frozen=True)
class Bank:
    issuance: int
    pool: int
    members: tuple[int, ...]
    foreign: int  # a member account on another ledger


def _open_bank(engine: Engine) -> Bank:
    with engine.begin() as connection:
        issuance = open_account(connection, AccountKind.ISSUANCE, "system", now=T0).id
        pool = open_account(connection, AccountKind.POOL, "system", now=T0).id
        members = tuple(
            open_account(connection, AccountKind.MEMBER, f"v:{i}", now=T0).id for i in range(5)
        )
        foreign = open_account(connection, AccountKind.MEMBER, "v:x", ledger=2, now=T0).id
        funding = [
            TransferSpec(f"fund:{m}", 300, issuance, m, TransferCode.SERVICE_CREDIT)
            for m in members[:3]
        ]
        create_transfers(connection, funding, now=T0, on_server=False)
    return Bank(issuance, pool, members, foreign)


def _fresh(engine: Engine) -> None:
    with engine.begin() as connection:
        drop_schema(connection)
        create_schema(connection)


@contextmanager
def _statements(engine: Engine) -> Iterator[list[str]]:
    """Collect the SQL statements run on ``engine`` while the block runs."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def _server_calls(statements: list[str]) -> int:
    return sum("tb_create_transfer(" in s for s in statements)


def _rows(connection: Connection, transfer_id: str) -> tuple[Any, ...]:
    """Everything a write may have changed: the transfer, its entries, every account."""
    transfer = connection.execute(select(transfers).where(transfers.c.id == transfer_id)).mappings()
    legs = connection.execute(
        select(entries).where(entries.c.transfer_id == transfer_id).order_by(entries.c.side)
    ).mappings()
    balances = connection.execute(select(accounts).order_by(accounts.c.id)).mappings()
    return (
        tuple(dict(r) for r in transfer),
        tuple(dict(r) for r in legs),
        tuple(dict(r) for r in balances),
    )


def _attempt(
    engine: Engine, spec: TransferSpec, now: dt.datetime, *, on_server: bool, keep: bool
) -> tuple[TransferResult, tuple[Any, ...]]:
    """Run ``spec`` in its own transaction; commit it if ``keep``, else roll it back."""
    with engine.connect() as connection:
        transaction = connection.begin()
        result = create_transfers(connection, [spec], now=now, on_server=on_server)[0]
        rows = _rows(connection, spec.id)
        if keep:
            transaction.commit()
        else:
            transaction.rollback()
    return result, rows


def _random_text(rng: random.Random) -> str | None:
    if rng.random() < 0.7:
        return rng.choice(TEXTS)
    chars = []
    for _ in range(rng.randint(1, 40)):
        pick = rng.random()
        if pick < 0.4:
            cp = rng.randint(1, 0x7F)
        elif pick < 0.7:
            cp = rng.randint(0x80, 0xD7FF)
        elif pick < 0.85:
            cp = rng.randint(0xE000, 0xFFFF)
        else:
            cp = rng.randint(0x10000, 0x10FFFF)
        chars.append(chr(cp))
    return "".join(chars)


def _random_account(rng: random.Random, bank: Bank) -> int:
    pick = rng.random()
    if pick < 0.75:
        return rng.choice(bank.members)
    if pick < 0.85:
        return bank.issuance
    if pick < 0.92:
        return bank.pool
    return rng.choice([bank.foreign, MISSING])


def _random_spec(
    rng: random.Random, bank: Bank, step: int, written: dict[str, TransferSpec]
) -> TransferSpec:
    if written and rng.random() < 0.15:
        original = written[rng.choice(sorted(written))]
        if rng.random() < 0.5:
            return original  # a replay
        change = rng.choice(
            [
                {"amount_min": (original.amount_min or 0) + 1},
                {"user_data": "changed"},
                {"reason": None if original.reason else "changed"},
                {"code": TransferCode.DONATION if original.code is TransferCode.GIFT else None},
                {"credit_account_id": bank.pool},
            ]
        )
        return TransferSpec(**{**vars(original), **change})
    debit = _random_account(rng, bank)
    credit = _random_account(rng, bank)
    while credit == debit and rng.random() < 0.9:
        credit = _random_account(rng, bank)
    return TransferSpec(
        id=f"t:{step}:{rng.choice(ID_SUFFIXES)}",
        amount_min=rng.choice([1, rng.randint(1, 120), rng.randint(1, 120), 600, 5000]),
        debit_account_id=debit,
        credit_account_id=credit,
        code=rng.choice(CODES),
        user_data=_random_text(rng),
        reason=_random_text(rng),
        credit_cap_min=None if rng.random() < 0.7 else rng.randint(0, 1500),
    )


def test_server_function_writes_exactly_what_the_python_path_writes(pg_engine: Engine) -> None:
    """Both paths from the same state: same result and same rows; one of them is kept."""
    bank = _open_bank(pg_engine)
    with pg_engine.begin() as connection:
        extra = [
            TransferSpec(f"extra:{m}", 1000, bank.issuance, m, TransferCode.PLEDGE)
            for m in (*bank.members, bank.pool)
        ]
        create_transfers(connection, extra, now=T0)
    rng = random.Random(20261126)
    written: dict[str, TransferSpec] = {}
    outcomes: Counter[Outcome] = Counter()
    kept: Counter[bool] = Counter()
    sent_to_server = 0
    with _statements(pg_engine) as statements:
        for step in range(250):
            spec = _random_spec(rng, bank, step, written)
            micro = rng.choice([0, 1, 999_999, rng.randint(0, 999_999)])
            now = T0 + dt.timedelta(seconds=step, microseconds=micro)
            keep_server = rng.random() < 0.5
            order = [False, True] if keep_server else [True, False]
            python, server = None, None
            for i, on_server in enumerate(order):
                attempt = _attempt(pg_engine, spec, now, on_server=on_server, keep=i == 1)
                if on_server:
                    server = attempt
                else:
                    python = attempt
            assert server == python, f"step {step}: {spec}"
            assert server is not None
            result = server[0]
            outcomes[result.outcome] += 1
            sent_to_server += result.outcome is not Outcome.INVALID
            if result.outcome is Outcome.CREATED:
                written[spec.id] = spec
                kept[keep_server] += 1
        assert _server_calls(statements) == sent_to_server
    with pg_engine.connect() as connection:
        report = verify(connection)
    assert report.ok, report.summary()
    assert kept[True] > 30
    assert kept[False] > 30
    assert outcomes[Outcome.EXISTS] > 10
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


def _ledger_dump(engine: Engine) -> tuple[Any, ...]:
    with engine.connect() as connection:
        return tuple(
            tuple(
                dict(r) for r in connection.execute(select(t).order_by(*t.primary_key)).mappings()
            )
            for t in (accounts, transfers, entries)
        )


def test_the_same_history_written_by_either_path_is_the_same_ledger(pg_engine: Engine) -> None:
    """One sequence on two fresh schemas, all server then all Python: identical tables."""
    dumps = []
    for on_server in (True, False):
        _fresh(pg_engine)
        bank = _open_bank(pg_engine)
        rng = random.Random(7)
        for step in range(60):
            a, b = rng.sample(bank.members, 2)
            spec = TransferSpec(
                f"g:{step}",
                rng.randint(1, 90),
                a,
                b,
                TransferCode.GIFT,
                user_data=_random_text(rng),
            )
            now = T0 + dt.timedelta(minutes=step, microseconds=rng.randint(0, 999_999))
            with pg_engine.begin() as connection:
                create_transfers(connection, [spec], now=now, on_server=on_server)
        dumps.append(_ledger_dump(pg_engine))
        with pg_engine.connect() as connection:
            assert verify(connection).ok
    assert dumps[0] == dumps[1]
    assert len(dumps[0][1]) > 40  # enough of the gifts were funded and written


def test_json_string_renders_text_as_python_json(pg_engine: Engine) -> None:
    rng = random.Random(3)
    samples = [t for t in TEXTS if t is not None] + [
        text_ for text_ in (_random_text(rng) for _ in range(400)) if text_ is not None
    ]
    query = text("SELECT tb_json_string(:s)")
    with pg_engine.connect() as connection:
        for sample in samples:
            rendered = connection.execute(query, {"s": sample}).scalar_one()
            assert rendered == json.dumps(sample, ensure_ascii=True), repr(sample)
        assert connection.execute(query, {"s": None}).scalar_one() is None


def test_replays_and_conflicts_answer_as_the_python_path(pg_engine: Engine) -> None:
    bank = _open_bank(pg_engine)
    a, b, c = bank.members[:3]
    gift = TransferSpec("gift:1", 250, a, b, TransferCode.GIFT, user_data="gift:1", reason="生日")
    created, _ = _attempt(pg_engine, gift, T0, on_server=True, keep=True)
    assert created.outcome is Outcome.CREATED
    assert created.transfer is not None
    later = T0 + dt.timedelta(days=1)
    for on_server in (True, False):
        # Account a can no longer pay 250, yet a replay answers with the original.
        replay, _ = _attempt(pg_engine, gift, later, on_server=on_server, keep=False)
        assert replay == TransferResult("gift:1", Outcome.EXISTS, created.transfer)
    conflicts = [
        TransferSpec("gift:1", 251, a, b, TransferCode.GIFT, user_data="gift:1", reason="生日"),
        TransferSpec("gift:1", 250, a, b, TransferCode.GIFT, user_data="gift:1"),
        TransferSpec("gift:1", 250, a, b, TransferCode.GIFT, user_data="", reason="生日"),
        TransferSpec("gift:1", 250, a, c, TransferCode.GIFT, user_data="gift:1", reason="生日"),
    ]
    for spec in conflicts:
        server, _ = _attempt(pg_engine, spec, later, on_server=True, keep=False)
        python, _ = _attempt(pg_engine, spec, later, on_server=False, keep=False)
        assert server == python
        assert server.outcome is Outcome.EXISTS_WITH_DIFFERENT_BODY
        assert server.detail == "'gift:1' exists with another body"


def test_a_transfer_written_in_a_linked_chain_replays_with_its_batch(pg_engine: Engine) -> None:
    bank = _open_bank(pg_engine)
    a, b = bank.members[:2]
    first = TransferSpec("chain:1", 10, a, b, TransferCode.GIFT, linked=True)
    second = TransferSpec("chain:2", 20, a, b, TransferCode.GIFT)
    with pg_engine.begin() as connection:
        stored = create_transfers(connection, [first, second], now=T0)
    assert stored[1].transfer is not None
    assert stored[1].transfer.batch_id == "chain:1"
    server, _ = _attempt(pg_engine, second, T0, on_server=True, keep=False)
    python, _ = _attempt(pg_engine, second, T0, on_server=False, keep=False)
    assert server == python == TransferResult("chain:2", Outcome.EXISTS, stored[1].transfer)


def test_overdraft_and_credit_cap_are_refused_with_nothing_written(pg_engine: Engine) -> None:
    bank = _open_bank(pg_engine)
    a, b = bank.members[:2]
    before = _ledger_dump(pg_engine)
    refusals = [
        (TransferSpec("too-much", 301, a, b, TransferCode.GIFT), Outcome.EXCEEDS_BALANCE),
        (
            TransferSpec("over-cap", 10, a, b, TransferCode.GIFT, credit_cap_min=309),
            Outcome.EXCEEDS_CREDIT_CAP,
        ),
    ]
    for spec, expected in refusals:
        server, _ = _attempt(pg_engine, spec, T0, on_server=True, keep=True)
        python, _ = _attempt(pg_engine, spec, T0, on_server=False, keep=False)
        assert server == python
        assert server.outcome is expected
        assert server.transfer is None
    assert _ledger_dump(pg_engine) == before
    ok, _ = _attempt(
        pg_engine,
        TransferSpec("exact", 300, a, b, TransferCode.GIFT),
        T0,
        on_server=True,
        keep=True,
    )
    assert ok.outcome is Outcome.CREATED  # the id of a refused transfer stays free too


def test_interleaved_writes_keep_every_chain_and_verify_clean(pg_engine: Engine) -> None:
    bank = _open_bank(pg_engine)
    a, b = bank.members[:2]
    for step in range(30):
        debit, credit = (a, b) if step % 3 else (b, a)
        spec = TransferSpec(f"i:{step}", 5 + step, debit, credit, TransferCode.GIFT)
        with pg_engine.begin() as connection:
            result = create_transfers(
                connection, [spec], now=T0 + dt.timedelta(seconds=step), on_server=step % 2 == 0
            )
        assert result[0].outcome is Outcome.CREATED
    with pg_engine.connect() as connection:
        report = verify(connection)
        heads = connection.execute(
            select(accounts.c.version, accounts.c.head_hash).where(accounts.c.id.in_([a, b]))
        ).all()
        last = connection.execute(select(transfers.c.hash).where(transfers.c.id == "i:29"))
        last_hash = last.scalar_one()
    assert report.ok, report.summary()
    assert [v for v, _ in heads] == [31, 31]  # its funding and the 30 transfers
    assert {h for _, h in heads} == {last_hash}


def test_a_row_altered_after_a_server_write_is_detected(pg_engine: Engine) -> None:
    bank = _open_bank(pg_engine)
    a, b = bank.members[:2]
    spec = TransferSpec("gift", 40, a, b, TransferCode.GIFT, user_data="visit:1", reason="谢谢")
    with pg_engine.connect() as connection:  # never committed: the triggers come back
        assert create_transfers(connection, [spec], now=T0)[0].outcome is Outcome.CREATED
        assert verify(connection).ok
        for statement in drop_trigger_ddl("postgresql"):
            connection.execute(text(statement))
        connection.execute(text("UPDATE tb_transfers SET reason = '谢谢!' WHERE id = 'gift'"))
        report = verify(connection)
    assert not report.ok
    assert {p.check for p in report.problems} == {"hash"}


def test_a_lone_transfer_is_one_statement(pg_engine: Engine) -> None:
    bank = _open_bank(pg_engine)
    a, b = bank.members[:2]
    with pg_engine.begin() as connection, _statements(pg_engine) as statements:
        create_transfers(connection, [TransferSpec("one", 5, a, b, TransferCode.GIFT)], now=T0)
    assert len(statements) == 1
    assert _server_calls(statements) == 1
    with pg_engine.begin() as connection, _statements(pg_engine) as statements:
        spec = TransferSpec("two", 5, a, b, TransferCode.GIFT)
        create_transfers(connection, [spec], now=T0, on_server=False)
    assert len(statements) > 1
    assert _server_calls(statements) == 0


def test_requests_the_function_does_not_serve_stay_on_the_python_path(pg_engine: Engine) -> None:
    bank = _open_bank(pg_engine)
    a, b = bank.members[:2]
    others = [
        [TransferSpec("hold", 5, a, bank.issuance, TransferCode.REDEMPTION, TransferKind.PENDING)],
        [TransferSpec("post", kind=TransferKind.POST, pending_id="hold")],
        [
            TransferSpec("l1", 1, a, b, TransferCode.GIFT, linked=True),
            TransferSpec("l2", 1, a, b, TransferCode.GIFT),
        ],
    ]
    with _statements(pg_engine) as statements:
        for request in others:
            with pg_engine.begin() as connection:
                assert all(r.ok for r in create_transfers(connection, request, now=T0))
        # Text PostgreSQL cannot receive fails as it always did, without the function.
        nul = TransferSpec("nul", 1, a, b, TransferCode.GIFT, user_data="a\x00b")
        with pytest.raises(DataError), pg_engine.begin() as connection:
            create_transfers(connection, [nul], now=T0)
    assert _server_calls(statements) == 0


def _run_together(engine: Engine, tasks: list[Callable[[Connection], R]]) -> list[R]:
    start = threading.Event()

    def run(task: Callable[[Connection], R]) -> R:
        start.wait()
        with engine.begin() as connection:
            return task(connection)

    with ThreadPoolExecutor(16) as pool:
        futures = [pool.submit(run, task) for task in tasks]
        start.set()
        return [f.result() for f in futures]


def _gift(spec: TransferSpec) -> Callable[[Connection], Outcome]:
    def task(connection: Connection) -> Outcome:
        return create_transfers(connection, [spec])[0].outcome

    return task


def test_concurrent_gifts_never_overdraw(pg_engine: Engine) -> None:
    bank = _open_bank(pg_engine)
    a = bank.members[0]  # funded with 300
    gifts = [
        _gift(TransferSpec(f"c:{i}", 6, a, bank.members[1 + i % 4], TransferCode.GIFT))
        for i in range(100)
    ]
    assert Counter(_run_together(pg_engine, gifts)) == {
        Outcome.CREATED: 50,
        Outcome.EXCEEDS_BALANCE: 50,
    }
    with pg_engine.connect() as connection:
        assert verify(connection).ok


def test_one_id_raced_with_different_bodies_is_created_once(pg_engine: Engine) -> None:
    """Disjoint accounts, so no account lock orders them: the insert itself decides."""
    bank = _open_bank(pg_engine)
    m = bank.members
    bodies = [(m[0], m[3]), (m[1], m[4]), (m[2], bank.pool)]
    tasks = [
        _gift(TransferSpec("raced", 10 + i, debit, credit, TransferCode.GIFT))
        for i in range(12)
        for debit, credit in [bodies[i % 3]]
    ]
    outcomes = Counter(_run_together(pg_engine, tasks))
    assert outcomes[Outcome.CREATED] == 1
    assert outcomes[Outcome.EXISTS_WITH_DIFFERENT_BODY] == 11
    with pg_engine.connect() as connection:
        assert verify(connection).ok


def test_server_function_ddl_is_postgresql_only_and_pairs_with_its_drop() -> None:
    assert server_function_ddl("sqlite") == []
    assert drop_server_function_ddl("sqlite") == []
    created = server_function_ddl("postgresql")
    dropped = drop_server_function_ddl("postgresql")
    assert [s.split("(")[0].split()[-1] for s in created] == [
        "tb_json_string",
        "tb_create_transfer",
    ]
    assert sorted(s.split("(")[0].split()[-1] for s in dropped) == sorted(
        ["tb_json_string", "tb_create_transfer"]
    )
    for statement in created:  # op.execute wraps each in text(): no bind parameters
        assert text(statement).compile().params == {}
    with pytest.raises(ValueError, match="mysql"):
        server_function_ddl("mysql")
