"""Concurrent writers, each thread on its own connection, on a SQLite file and PostgreSQL.

The PostgreSQL runs need ``TEST_DATABASE_URL`` (skipped otherwise, with the reason); the
SQLite file runs always happen, so the ``BEGIN IMMEDIATE`` path is exercised for real.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import pytest
from sqlalchemy import Connection, Engine

from tests.timebank.conftest import T0, member, setup_bank
from timebank import (
    Outcome,
    TransferCode,
    TransferSpec,
    cancel_redemption,
    complete_redemption,
    create_transfers,
    earn_for_visit,
    get_account,
    hold_redemption,
    verify,
)

R = TypeVar("R")
WORKERS = 16


def run_together(engine: Engine, tasks: list[Callable[[Connection], R]]) -> list[R]:
    """Run each task in its own transaction on its own pooled connection, all released at once."""
    start = threading.Event()

    def run(task: Callable[[Connection], R]) -> R:
        start.wait()
        with engine.begin() as connection:
            return task(connection)

    with ThreadPoolExecutor(min(WORKERS, len(tasks))) as pool:
        futures = [pool.submit(run, task) for task in tasks]
        start.set()
        return [f.result() for f in futures]


def _fund(engine: Engine, ref: str, minutes: int) -> int:
    with engine.begin() as connection:
        account = member(connection, ref)
        earn_for_visit(
            connection, visit_id=f"fund-{ref}", member_account_id=account, verified_min=minutes
        )
    return account


def _verified(engine: Engine) -> None:
    with engine.connect() as connection:
        report = verify(connection)
    assert report.ok, report.summary()


@pytest.mark.parametrize("round_", range(3))
def test_200_concurrent_redemptions_against_100_never_overdraw(
    concurrent_engine: Engine, round_: int
) -> None:
    setup_bank(concurrent_engine)
    account = _fund(concurrent_engine, f"v:{round_}", 100 * 60)

    def redeem(i: int) -> Callable[[Connection], Outcome]:
        def task(connection: Connection) -> Outcome:
            return hold_redemption(
                connection,
                redemption_id=f"{round_}-{i}",
                member_account_id=account,
                amount_min=60,
                beneficiary_age_years=70,
            ).outcome

        return task

    outcomes = Counter(run_together(concurrent_engine, [redeem(i) for i in range(200)]))
    assert outcomes == {Outcome.CREATED: 100, Outcome.EXCEEDS_BALANCE: 100}
    with concurrent_engine.connect() as connection:
        funded = get_account(connection, account)
    assert funded is not None
    assert (funded.balance_min, funded.held_min, funded.available_min) == (6000, 6000, 0)
    _verified(concurrent_engine)


def test_10_concurrent_replays_of_one_id_make_one_transfer(concurrent_engine: Engine) -> None:
    setup_bank(concurrent_engine)
    volunteer = _fund(concurrent_engine, "v:1", 30)
    relative = _fund(concurrent_engine, "v:2", 0)
    gift = TransferSpec("gift:1", 20, volunteer, relative, TransferCode.GIFT)

    def earn(connection: Connection) -> Outcome | None:
        return earn_for_visit(
            connection, visit_id=99, member_account_id=volunteer, verified_min=45, now=T0
        ).outcome

    def give(connection: Connection) -> Outcome:
        return create_transfers(connection, [gift])[0].outcome

    earned = Counter(run_together(concurrent_engine, [earn] * 10))
    given = Counter(run_together(concurrent_engine, [give] * 10))
    assert earned == {Outcome.CREATED: 1, Outcome.EXISTS: 9}
    assert given == {Outcome.CREATED: 1, Outcome.EXISTS: 9}
    with concurrent_engine.connect() as connection:
        balances = [get_account(connection, a) for a in (volunteer, relative)]
        report = verify(connection)
    assert [a.balance_min for a in balances if a] == [30 + 45 - 20, 20]
    assert report.ok
    assert report.transfers == 3  # funding, the visit, the gift


def test_concurrent_post_and_void_of_one_hold_exactly_one_wins(
    concurrent_engine: Engine,
) -> None:
    setup_bank(concurrent_engine)
    account = _fund(concurrent_engine, "v:1", 10 * 60)
    winners: Counter[str] = Counter()
    for rid in range(10):
        with concurrent_engine.begin() as connection:
            hold_redemption(
                connection,
                redemption_id=rid,
                member_account_id=account,
                amount_min=60,
                beneficiary_age_years=70,
            )

        def post(connection: Connection, rid: int = rid) -> Outcome:
            return complete_redemption(connection, redemption_id=rid).outcome

        def void(connection: Connection, rid: int = rid) -> Outcome:
            return cancel_redemption(connection, redemption_id=rid).outcome

        posted, voided = run_together(concurrent_engine, [post, void])
        assert sorted([posted.ok, voided.ok]) == [False, True]
        if posted.ok:
            assert voided is Outcome.PENDING_ALREADY_POSTED
            winners["post"] += 1
        else:
            assert posted is Outcome.PENDING_ALREADY_VOIDED
            winners["void"] += 1
    with concurrent_engine.connect() as connection:
        final = get_account(connection, account)
    assert final is not None
    assert final.held_min == 0
    assert final.balance_min == 600 - 60 * winners["post"]
    _verified(concurrent_engine)
