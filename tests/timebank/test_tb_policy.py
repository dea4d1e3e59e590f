"""The time bank's rules: earning, cap, weights, redemption, gifts, pool, expiry, reports."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.orm import Session

from tests.timebank.conftest import T0, member
from timebank import (
    AccountKind,
    Outcome,
    Policy,
    PolicyError,
    TransferCode,
    cancel_redemption,
    complete_redemption,
    correct,
    credited_minutes,
    donate,
    earn_for_visit,
    ensure_system_accounts,
    expire_credits,
    expire_holds,
    get_account,
    gift,
    grant_from_pool,
    hold_redemption,
    liability_report,
    pledge_guarantee,
    statement,
    system_accounts,
    verify,
)

CAP = Policy(storage_cap_min=120)


@pytest.fixture
def vol(session: Session) -> int:
    ensure_system_accounts(session, now=T0)
    return member(session, "volunteer:1")


def _balance(session: Session, account_id: int) -> int:
    account = get_account(session, account_id)
    assert account is not None
    return account.balance_min


def _pool(session: Session) -> int:
    return system_accounts(session).pool.balance_min


def test_visit_is_credited_exactly_once(session: Session, vol: int) -> None:
    first = earn_for_visit(session, visit_id=7, member_account_id=vol, verified_min=45, now=T0)
    again = earn_for_visit(session, visit_id=7, member_account_id=vol, verified_min=45, now=T0)
    assert first.outcome is Outcome.CREATED
    assert first.credit is not None
    assert first.credit.id == "earn:visit:7"
    assert again.outcome is Outcome.EXISTS
    assert again.credit == first.credit
    assert _balance(session, vol) == 45


def test_visit_replayed_with_other_minutes_is_a_conflict(session: Session, vol: int) -> None:
    earn_for_visit(session, visit_id=7, member_account_id=vol, verified_min=45, now=T0)
    other = earn_for_visit(session, visit_id=7, member_account_id=vol, verified_min=50, now=T0)
    assert other.outcome is Outcome.EXISTS_WITH_DIFFERENT_BODY
    assert other.credited_min == 45
    assert _balance(session, vol) == 45


def test_weights_are_off_by_default_and_round_down(session: Session, vol: int) -> None:
    weighted = Policy(category_weight_pct={"nursing": 150, "chat": 50})
    assert credited_minutes(45, "nursing", Policy()) == 45
    assert credited_minutes(45, "nursing", weighted) == 67
    assert credited_minutes(45, "other", weighted) == 45
    assert credited_minutes(1, "chat", weighted) == 0
    nothing = earn_for_visit(
        session, visit_id=1, member_account_id=vol, verified_min=1, category="chat", policy=weighted
    )
    assert nothing.outcome is None
    assert _balance(session, vol) == 0


def test_earnings_above_the_cap_go_to_the_pool_in_one_batch(session: Session, vol: int) -> None:
    earn_for_visit(session, visit_id=1, member_account_id=vol, verified_min=100, policy=CAP, now=T0)
    result = earn_for_visit(
        session, visit_id=2, member_account_id=vol, verified_min=50, policy=CAP, now=T0
    )
    assert (result.credited_min, result.overflow_min) == (50, 30)
    assert result.overflow is not None
    assert result.overflow.code is TransferCode.CAP_OVERFLOW
    assert result.credit is not None
    assert result.overflow.batch_id == result.credit.id
    assert _balance(session, vol) == 120
    assert _pool(session) == 30
    replay = earn_for_visit(
        session, visit_id=2, member_account_id=vol, verified_min=50, policy=CAP, now=T0
    )
    assert (replay.outcome, replay.overflow_min) == (Outcome.EXISTS, 30)


def test_default_cap_is_1500_hours() -> None:
    assert Policy().storage_cap_min == 90_000


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("storage_cap_min", 0),
        ("category_weight_pct", {"x": 0}),
        ("expiry_days", 0),
        ("redemption_hold_timeout_s", 0),
    ],
)
def test_policy_values_are_validated(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        Policy(**{field: value})  # type: ignore[arg-type]


def _funded(session: Session, vol: int, minutes: int = 120) -> None:
    earn_for_visit(session, visit_id="f", member_account_id=vol, verified_min=minutes, now=T0)


def test_redemption_holds_then_posts(session: Session, vol: int) -> None:
    _funded(session, vol)
    hold = hold_redemption(
        session, redemption_id=3, member_account_id=vol, amount_min=60, beneficiary_age_years=70
    )
    assert hold.outcome is Outcome.CREATED
    account = get_account(session, vol)
    assert account is not None
    assert (account.balance_min, account.available_min) == (120, 60)
    done = complete_redemption(session, redemption_id=3, used_min=50)
    assert done.outcome is Outcome.CREATED
    assert _balance(session, vol) == 70
    assert cancel_redemption(session, redemption_id=3).outcome is Outcome.PENDING_ALREADY_POSTED


def test_redemption_cancelled_releases_minutes(session: Session, vol: int) -> None:
    _funded(session, vol)
    hold_redemption(
        session, redemption_id=3, member_account_id=vol, amount_min=60, beneficiary_age_years=70
    )
    assert cancel_redemption(session, redemption_id=3, reason="client in hospital").ok
    account = get_account(session, vol)
    assert account is not None
    assert account.available_min == 120
    assert complete_redemption(session, redemption_id=3).outcome is Outcome.PENDING_ALREADY_VOIDED


def test_redemption_needs_the_minimum_age(session: Session, vol: int) -> None:
    _funded(session, vol)
    with pytest.raises(PolicyError, match="65"):
        hold_redemption(
            session, redemption_id=3, member_account_id=vol, amount_min=60, beneficiary_age_years=64
        )


def test_redemption_cannot_exceed_available_minutes(session: Session, vol: int) -> None:
    _funded(session, vol, 50)
    hold = hold_redemption(
        session, redemption_id=3, member_account_id=vol, amount_min=60, beneficiary_age_years=80
    )
    assert hold.outcome is Outcome.EXCEEDS_BALANCE


def test_timed_out_holds_are_voided_by_the_sweep(session: Session, vol: int) -> None:
    _funded(session, vol)
    policy = Policy(redemption_hold_timeout_s=3600)
    for rid in (1, 2):
        hold_redemption(
            session,
            redemption_id=rid,
            member_account_id=vol,
            amount_min=30,
            beneficiary_age_years=70,
            policy=policy,
            now=T0 + dt.timedelta(minutes=30 * rid),
        )
    swept = expire_holds(session, now=T0 + dt.timedelta(minutes=95))
    assert [r.id for r in swept] == ["expire:redeem:1"]
    assert all(r.ok for r in swept)
    late = complete_redemption(session, redemption_id=2, now=T0 + dt.timedelta(hours=3))
    assert late.outcome is Outcome.PENDING_EXPIRED
    assert expire_holds(session, now=T0 + dt.timedelta(hours=3))[0].ok
    assert expire_holds(session, now=T0 + dt.timedelta(hours=4)) == []
    account = get_account(session, vol)
    assert account is not None
    assert (account.balance_min, account.held_min) == (120, 0)


def test_gifts_go_to_registered_relatives_within_their_cap(session: Session, vol: int) -> None:
    _funded(session, vol)
    parent = member(session, "insured:9")
    with pytest.raises(PolicyError, match="relatives"):
        gift(
            session,
            gift_id=1,
            from_account_id=vol,
            to_account_id=parent,
            amount_min=10,
            recipient_is_registered_relative=False,
        )
    ok = gift(
        session,
        gift_id=1,
        from_account_id=vol,
        to_account_id=parent,
        amount_min=100,
        recipient_is_registered_relative=True,
        policy=CAP,
    )
    assert ok.outcome is Outcome.CREATED
    over = gift(
        session,
        gift_id=2,
        from_account_id=vol,
        to_account_id=parent,
        amount_min=20,
        recipient_is_registered_relative=True,
        policy=Policy(storage_cap_min=119),
    )
    assert over.outcome is Outcome.EXCEEDS_CREDIT_CAP
    assert _balance(session, parent) == 100


def test_donations_and_grants_go_through_the_pool(session: Session, vol: int) -> None:
    _funded(session, vol)
    other = member(session, "volunteer:2")
    assert donate(session, donation_id=1, from_account_id=vol, amount_min=40).ok
    assert _pool(session) == 40
    grant = grant_from_pool(
        session, grant_id=1, to_account_id=other, amount_min=50, reason="hardship"
    )
    assert grant.outcome is Outcome.EXCEEDS_BALANCE
    assert grant_from_pool(
        session, grant_id=1, to_account_id=other, amount_min=40, reason="hardship"
    ).ok
    assert (_pool(session), _balance(session, other)) == (0, 40)


def test_expiry_is_off_by_default(session: Session, vol: int) -> None:
    _funded(session, vol)
    assert expire_credits(session, member_account_id=vol, now=T0 + dt.timedelta(days=999)) is None


def test_expiry_takes_the_oldest_unspent_minutes(session: Session, vol: int) -> None:
    policy = Policy(expiry_days=365)
    earn_for_visit(session, visit_id=1, member_account_id=vol, verified_min=100, now=T0)
    later = T0 + dt.timedelta(days=200)
    earn_for_visit(session, visit_id=2, member_account_id=vol, verified_min=30, now=later)
    hold_redemption(
        session,
        redemption_id=1,
        member_account_id=vol,
        amount_min=20,
        beneficiary_age_years=70,
        now=later,
    )
    complete_redemption(session, redemption_id=1, now=later)
    when = T0 + dt.timedelta(days=400)
    result = expire_credits(session, member_account_id=vol, policy=policy, now=when)
    assert result is not None
    assert result.outcome is Outcome.CREATED
    assert result.transfer is not None
    assert (result.transfer.code, result.transfer.amount_min) == (TransferCode.EXPIRY, 80)
    assert _balance(session, vol) == 30
    replay = expire_credits(session, member_account_id=vol, policy=policy, now=when)
    assert replay is not None
    assert replay.outcome is Outcome.EXISTS
    assert (
        expire_credits(
            session, member_account_id=vol, policy=policy, now=when + dt.timedelta(days=1)
        )
        is None
    )


def test_correction_returns_both_parties(session: Session, vol: int) -> None:
    earned = earn_for_visit(session, visit_id=5, member_account_id=vol, verified_min=60, now=T0)
    assert earned.credit is not None
    fix = correct(
        session,
        transfer_id=earned.credit.id,
        correction_id=1,
        reason="visit not done",
        amount_min=15,
    )
    assert fix.result.outcome is Outcome.CREATED
    assert fix.original == earned.credit
    parties = {p.kind: p for p in fix.parties}
    assert parties[AccountKind.MEMBER].owner_ref == "volunteer:1"
    assert parties[AccountKind.MEMBER].delta_min == -15
    assert parties[AccountKind.MEMBER].balance_after_min == 45
    assert parties[AccountKind.ISSUANCE].delta_min == 15
    refused = correct(session, transfer_id=earned.credit.id, correction_id=2, reason="again")
    assert refused.result.outcome is Outcome.ALREADY_REVERSED
    assert refused.parties == ()


def test_liability_report_sets_owed_minutes_against_the_guarantee(
    session: Session, vol: int
) -> None:
    _funded(session, vol)
    donate(session, donation_id=1, from_account_id=vol, amount_min=20)
    hold_redemption(
        session, redemption_id=1, member_account_id=vol, amount_min=30, beneficiary_age_years=70
    )
    pledge_guarantee(session, pledge_id=1, amount_min=100, reason="city budget 2026")
    report = liability_report(session)
    assert report.members == 1
    assert (report.members_balance_min, report.members_held_min, report.pool_min) == (100, 30, 20)
    assert (report.owed_min, report.guarantee_min, report.uncovered_min) == (120, 100, 20)
    assert report.issued_net_min == report.owed_min + report.guarantee_min
    assert report.balanced
    totals = {t.code: t.amount_min for t in report.by_code}
    assert totals == {
        TransferCode.SERVICE_CREDIT: 120,
        TransferCode.DONATION: 20,
        TransferCode.PLEDGE: 100,
    }


def test_statement_has_a_running_balance(session: Session, vol: int) -> None:
    for i, minutes in enumerate((30, 40, 50)):
        earn_for_visit(
            session,
            visit_id=i,
            member_account_id=vol,
            verified_min=minutes,
            now=T0 + dt.timedelta(days=i),
        )
    donate(
        session, donation_id=1, from_account_id=vol, amount_min=25, now=T0 + dt.timedelta(days=3)
    )
    full = statement(session, vol)
    assert [line.amount_min for line in full.lines] == [30, 40, 50, -25]
    assert [line.balance_after_min for line in full.lines] == [30, 70, 120, 95]
    assert full.lines[-1].counterparty_owner_ref == "system"
    assert (full.opening_balance_min, full.closing_balance_min) == (0, 95)
    window = statement(
        session, vol, since=T0 + dt.timedelta(days=1), until=T0 + dt.timedelta(days=3)
    )
    assert [line.amount_min for line in window.lines] == [40, 50]
    assert (window.opening_balance_min, window.closing_balance_min) == (30, 120)
    empty = statement(session, vol, since=T0 + dt.timedelta(days=9))
    assert (empty.lines, empty.opening_balance_min, empty.closing_balance_min) == ((), 95, 95)
    assert verify(session).ok


def test_system_accounts_must_exist(session: Session) -> None:
    with pytest.raises(LookupError, match="system accounts"):
        system_accounts(session)
