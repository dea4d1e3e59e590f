"""Hypothesis state machine: the ledger against a simple in-memory model of balances.

Every rule calls the real policy or ledger function on SQLite in memory (one transaction
per rule, as the app would) and applies the same operation to a dictionary model. After
every step the invariants are checked: each account's balance and holds equal the
model's, all balances sum to zero, no member/pool account is overdrawn, and ``verify``
recomputes every hash, link and counter without a problem.

The run is derandomised (same examples on every CI run) and bounded: 500 examples of up
to 20 steps. All examples share one engine (so SQL is compiled once); each starts from a
copy of a database with the accounts opened, restored with SQLite's backup API.
"""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
from dataclasses import dataclass

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    multiple,
    rule,
)
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from tests.timebank.conftest import T0, memory_engine
from timebank import (
    AccountKind,
    Outcome,
    Policy,
    PolicyError,
    SystemAccounts,
    TransferCode,
    TransferSpec,
    cancel_redemption,
    complete_redemption,
    correct,
    create_transfers,
    donate,
    earn_for_visit,
    ensure_system_accounts,
    expire_holds,
    get_transfer,
    gift,
    grant_from_pool,
    hold_redemption,
    lock_accounts,
    open_account,
    verify,
)

POLICY = Policy(
    storage_cap_min=300,
    category_weight_pct={"nursing": 150},
    redemption_hold_timeout_s=3600,
)
MEMBERS = 3


def _template() -> tuple[Engine, sqlite3.Connection, SystemAccounts, list[int]]:
    """The shared engine, and a copy of its database with the accounts opened, no transfer."""
    engine = memory_engine()
    with Session(engine) as s, s.begin():
        system = ensure_system_accounts(s, now=T0)
        members = [open_account(s, AccountKind.MEMBER, f"v:{i}", now=T0).id for i in range(MEMBERS)]
    copy = sqlite3.connect(":memory:")
    with engine.connect() as connection:
        connection.connection.driver_connection.backup(copy)  # type: ignore[union-attr]
    return engine, copy, system, members


ENGINE, OPENED, SYSTEM, MEMBER_IDS = _template()


def fresh_ledger() -> Engine:
    """Return the shared engine, its database reset to the opened accounts."""
    with ENGINE.connect() as connection:
        OPENED.backup(connection.connection.driver_connection)  # type: ignore[arg-type]
    return ENGINE


@dataclass(frozen=True)
class Hold:
    """A redemption hold the model knows about."""

    rid: int
    member: int
    amount: int
    expires_at: dt.datetime


class LedgerMachine(RuleBasedStateMachine):
    """Drive the ledger with random operations and compare it to a dictionary model."""

    holds = Bundle("holds")
    posted = Bundle("posted")

    def __init__(self) -> None:
        super().__init__()
        self.engine = fresh_ledger()
        self.verified_versions: tuple[int, ...] = ()
        self.now = T0
        self.counter = 0
        self.balance: dict[int, int] = {}
        self.held: dict[int, int] = {}
        self.incoming_pending: dict[int, int] = {}
        self.earned: dict[str, tuple[int, int]] = {}
        self.resolved: dict[int, tuple[str, int]] = {}
        self.reversed: set[str] = set()

    # --- plumbing ---------------------------------------------------------------

    def _next_id(self) -> int:
        self.counter += 1
        return self.counter

    def _move(self, debit: int, credit: int, amount: int) -> None:
        self.balance[debit] -= amount
        self.balance[credit] += amount

    def available(self, account: int) -> int:
        return self.balance[account] - self.held[account]

    @initialize(funding=st.lists(st.integers(0, 300), min_size=MEMBERS, max_size=MEMBERS))
    def open_accounts(self, funding: list[int]) -> None:
        self.iss, self.pool, self.members = SYSTEM.issuance.id, SYSTEM.pool.id, MEMBER_IDS
        for account in [self.iss, self.pool, SYSTEM.guarantee.id, *self.members]:
            self.balance[account] = self.held[account] = self.incoming_pending[account] = 0
        with self.engine.begin() as s:
            # Start from funded accounts so that most operations have something to move.
            for i, (account, minutes) in enumerate(zip(self.members, funding, strict=True)):
                if minutes:
                    earn_for_visit(
                        s,
                        visit_id=f"seed-{i}",
                        member_account_id=account,
                        verified_min=minutes,
                        policy=POLICY,
                        now=T0,
                    )
                    self._move(self.iss, account, minutes)

    def _member(self, index: int) -> int:
        return self.members[index % MEMBERS]

    # --- rules ------------------------------------------------------------------

    @rule(
        who=st.integers(0, MEMBERS - 1),
        visit=st.integers(0, 6),
        minutes=st.integers(0, 240),
        category=st.sampled_from([None, "nursing"]),
    )
    def earn(self, who: int, visit: int, minutes: int, category: str | None) -> None:
        account = self._member(who)
        with self.engine.begin() as s:
            result = earn_for_visit(
                s,
                visit_id=visit,
                member_account_id=account,
                verified_min=minutes,
                category=category,
                policy=POLICY,
                now=self.now,
            )
        credited = minutes * (150 if category else 100) // 100
        key = str(visit)
        if key in self.earned:
            same = self.earned[key] == (account, credited)
            expected = Outcome.EXISTS if same else Outcome.EXISTS_WITH_DIFFERENT_BODY
            assert result.outcome is expected
            return
        if credited == 0:
            assert result.outcome is None
            return
        assert result.outcome is Outcome.CREATED
        overflow = max(0, credited - max(0, 300 - self.balance[account]))
        assert result.overflow_min == overflow
        self.earned[key] = (account, credited)
        self._move(self.iss, account, credited)
        if overflow:
            self._move(account, self.pool, overflow)

    @rule(
        giver=st.integers(0, MEMBERS - 1),
        taker=st.integers(0, MEMBERS - 1),
        amount=st.integers(1, 200),
        relative=st.booleans(),
    )
    def give(self, giver: int, taker: int, amount: int, relative: bool) -> None:
        a, b = self._member(giver), self._member(taker)
        try:
            with self.engine.begin() as s:
                result = gift(
                    s,
                    gift_id=self._next_id(),
                    from_account_id=a,
                    to_account_id=b,
                    amount_min=amount,
                    recipient_is_registered_relative=relative,
                    policy=POLICY,
                    now=self.now,
                )
        except PolicyError:
            assert not relative
            return
        assert relative
        if a == b:
            assert result.outcome is Outcome.ACCOUNTS_MUST_BE_DIFFERENT
        elif self.available(a) < amount:
            assert result.outcome is Outcome.EXCEEDS_BALANCE
        elif self.balance[b] + amount > 300:
            assert result.outcome is Outcome.EXCEEDS_CREDIT_CAP
        else:
            assert result.outcome is Outcome.CREATED
            self._move(a, b, amount)

    @rule(target=posted, who=st.integers(0, MEMBERS - 1), amount=st.integers(1, 200))
    def donate_to_pool(self, who: int, amount: int) -> object:
        account = self._member(who)
        with self.engine.begin() as s:
            result = donate(
                s,
                donation_id=self._next_id(),
                from_account_id=account,
                amount_min=amount,
                now=self.now,
            )
        if self.available(account) < amount:
            assert result.outcome is Outcome.EXCEEDS_BALANCE
            return multiple()
        assert result.outcome is Outcome.CREATED
        self._move(account, self.pool, amount)
        return result.id

    @rule(who=st.integers(0, MEMBERS - 1), amount=st.integers(1, 200))
    def grant(self, who: int, amount: int) -> None:
        account = self._member(who)
        with self.engine.begin() as s:
            result = grant_from_pool(
                s,
                grant_id=self._next_id(),
                to_account_id=account,
                amount_min=amount,
                reason="need",
                policy=POLICY,
                now=self.now,
            )
        if self.available(self.pool) < amount:
            assert result.outcome is Outcome.EXCEEDS_BALANCE
        elif self.balance[account] + amount > 300:
            assert result.outcome is Outcome.EXCEEDS_CREDIT_CAP
        else:
            assert result.outcome is Outcome.CREATED
            self._move(self.pool, account, amount)

    @rule(target=holds, who=st.integers(0, MEMBERS - 1), amount=st.integers(1, 200))
    def hold(self, who: int, amount: int) -> object:
        account = self._member(who)
        rid = self._next_id()
        with self.engine.begin() as s:
            result = hold_redemption(
                s,
                redemption_id=rid,
                member_account_id=account,
                amount_min=amount,
                beneficiary_age_years=70,
                policy=POLICY,
                now=self.now,
            )
        if self.available(account) < amount:
            assert result.outcome is Outcome.EXCEEDS_BALANCE
            return multiple()
        assert result.outcome is Outcome.CREATED
        self.held[account] += amount
        self.incoming_pending[self.iss] += amount
        return Hold(rid, account, amount, self.now + dt.timedelta(seconds=3600))

    def _release(self, h: Hold, how: str, used: int = 0) -> None:
        self.resolved[h.rid] = (how, used)
        self.held[h.member] -= h.amount
        self.incoming_pending[self.iss] -= h.amount

    def _expected_resolution(self, h: Hold, how: str, used: int = 0) -> Outcome | None:
        """The outcome a second resolution gets, or None if this one should succeed."""
        if h.rid in self.resolved:
            previous, previous_used = self.resolved[h.rid]
            if previous == how:  # same id: an idempotent replay
                same = previous_used == used
                return Outcome.EXISTS if same else Outcome.EXISTS_WITH_DIFFERENT_BODY
            if previous == "post":
                return Outcome.PENDING_ALREADY_POSTED
            return Outcome.PENDING_ALREADY_VOIDED
        if how == "post" and self.now >= h.expires_at:
            return Outcome.PENDING_EXPIRED
        return None

    @rule(target=posted, h=holds, share=st.integers(1, 100))
    def complete(self, h: Hold, share: int) -> object:
        used = max(1, h.amount * share // 100)
        with self.engine.begin() as s:
            result = complete_redemption(s, redemption_id=h.rid, used_min=used, now=self.now)
        expected = self._expected_resolution(h, "post", used)
        if expected is not None:
            assert result.outcome is expected
            return multiple()
        assert result.outcome is Outcome.CREATED
        self._release(h, "post", used)
        self._move(h.member, self.iss, used)
        return result.id

    @rule(h=consumes(holds))
    def cancel(self, h: Hold) -> None:
        with self.engine.begin() as s:
            result = cancel_redemption(s, redemption_id=h.rid, now=self.now)
        expected = self._expected_resolution(h, "void")
        if expected is not None:
            assert result.outcome is expected
            return
        assert result.outcome is Outcome.CREATED
        self._release(h, "void")

    @rule(seconds=st.sampled_from([1, 600, 3599, 3600, 7200]))
    def advance_clock(self, seconds: int) -> None:
        self.now += dt.timedelta(seconds=seconds)

    @rule(h=holds)
    def sweep_expired(self, h: Hold) -> None:
        with self.engine.begin() as s:
            results = expire_holds(s, now=self.now)
        swept = {r.id for r in results}
        assert all(r.outcome is Outcome.CREATED for r in results)
        if h.rid not in self.resolved and self.now >= h.expires_at:
            assert f"expire:redeem:{h.rid}" in swept
        for result in results:
            assert result.transfer is not None
            rid = int(result.id.rsplit(":", 1)[1])
            self.resolved[rid] = ("expired", 0)
            self.held[result.transfer.debit_account_id] -= result.transfer.amount_min
            self.incoming_pending[self.iss] -= result.transfer.amount_min

    @rule(transfer_id=consumes(posted), share=st.integers(1, 100))
    def reverse(self, transfer_id: str, share: int) -> None:
        with self.engine.begin() as s:
            original = get_transfer(s, transfer_id)
            assert original is not None
            amount = max(1, original.amount_min * share // 100)
            fix = correct(
                s,
                transfer_id=transfer_id,
                correction_id=self._next_id(),
                reason="audit",
                amount_min=amount,
                now=self.now,
            )
        payer = original.credit_account_id
        if payer != self.iss and self.available(payer) < amount:
            assert fix.result.outcome is Outcome.EXCEEDS_BALANCE
            return
        assert fix.result.outcome is Outcome.CREATED
        assert {p.account_id for p in fix.parties} == {payer, original.debit_account_id}
        self._move(payer, original.debit_account_id, amount)

    @rule(
        who=st.integers(0, MEMBERS - 1),
        first=st.integers(1, 150),
        second=st.integers(1, 150),
    )
    def linked_pair(self, who: int, first: int, second: int) -> None:
        account = self._member(who)
        base = self._next_id()
        specs = [
            TransferSpec(
                f"l{base}a", first, account, self.pool, TransferCode.DONATION, linked=True
            ),
            TransferSpec(f"l{base}b", second, account, self.pool, TransferCode.DONATION),
        ]
        with self.engine.begin() as s:
            results = create_transfers(s, specs, now=self.now)
            replay = create_transfers(s, specs, now=self.now)
        if self.available(account) >= first + second:
            assert [r.outcome for r in results] == [Outcome.CREATED] * 2
            assert [r.outcome for r in replay] == [Outcome.EXISTS] * 2
            self._move(account, self.pool, first + second)
        else:
            assert all(not r.ok for r in results)

    # --- invariants -------------------------------------------------------------

    @invariant()
    def ledger_matches_the_model(self) -> None:
        if not self.balance:
            return
        with self.engine.connect() as s:
            accounts = lock_accounts(s, self.balance)
            versions = tuple(a.version for a in accounts.values())
            # Every write bumps an account version: unchanged versions, unchanged ledger.
            if versions != self.verified_versions:
                report = verify(s)
                assert report.ok, report.summary()
                self.verified_versions = versions
        for account_id, account in accounts.items():
            assert account.balance_min == self.balance[account_id]
            assert account.held_min == self.held[account_id]
            assert account.credits_pending_min == self.incoming_pending[account_id]
            if account.no_overdraft:
                assert account.available_min >= 0
        assert sum(a.balance_min for a in accounts.values()) == 0
        assert sum(a.credits_pending_min - a.debits_pending_min for a in accounts.values()) == 0


# TB_EX lowers the count for a quick local run; CI never sets it, so every CI run makes 500.
LedgerMachine.TestCase.settings = settings(
    max_examples=int(os.environ.get("TB_EX", "500")),
    stateful_step_count=20,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_ledger_matches_its_model = LedgerMachine.TestCase
