"""The ledger's write path: idempotency, linked chains, two-phase transfers, corrections."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.orm import Session

from tests.timebank.conftest import T0, member
from timebank import (
    AccountKind,
    Outcome,
    TransferCode,
    TransferKind,
    TransferSpec,
    create_transfers,
    get_account,
    open_account,
    verify,
)

SC = TransferCode.SERVICE_CREDIT


@pytest.fixture
def ids(session: Session) -> dict[str, int]:
    """Issuance ``iss`` and members ``a`` (funded with 100 min) and ``b``."""
    iss = open_account(session, AccountKind.ISSUANCE, "system", now=T0).id
    a, b = member(session, "v:a"), member(session, "v:b")
    create_transfers(session, [TransferSpec("fund", 100, iss, a, SC)], now=T0)
    return {"iss": iss, "a": a, "b": b}


def _one(session: Session, spec: TransferSpec, now: dt.datetime = T0) -> Outcome:
    return create_transfers(session, [spec], now=now)[0].outcome


def _balance(session: Session, account_id: int) -> tuple[int, int]:
    account = get_account(session, account_id)
    assert account is not None
    return account.balance_min, account.held_min


def test_transfer_moves_minutes_and_records_both_legs(
    session: Session, ids: dict[str, int]
) -> None:
    result = create_transfers(
        session, [TransferSpec("g1", 30, ids["a"], ids["b"], TransferCode.GIFT)], now=T0
    )[0]
    assert result.outcome is Outcome.CREATED
    assert result.transfer is not None
    assert result.transfer.amount_min == 30
    assert result.transfer.created_at == T0
    assert _balance(session, ids["a"]) == (70, 0)
    assert _balance(session, ids["b"]) == (30, 0)
    assert _balance(session, ids["iss"]) == (-100, 0)
    assert verify(session).ok


def test_same_id_same_body_returns_the_original(session: Session, ids: dict[str, int]) -> None:
    spec = TransferSpec("g1", 30, ids["a"], ids["b"], TransferCode.GIFT)
    first = create_transfers(session, [spec], now=T0)[0]
    again = create_transfers(session, [spec], now=T0 + dt.timedelta(hours=1))[0]
    assert again.outcome is Outcome.EXISTS
    assert again.transfer == first.transfer
    assert _balance(session, ids["b"]) == (30, 0)


@pytest.mark.parametrize(
    "change",
    [
        {"amount_min": 31},
        {"credit_account_id": -1},
        {"code": TransferCode.DONATION},
        {"user_data": "x"},
    ],
)
def test_same_id_other_body_is_a_conflict(
    session: Session, ids: dict[str, int], change: dict[str, object]
) -> None:
    base = {
        "id": "g1",
        "amount_min": 30,
        "debit_account_id": ids["a"],
        "credit_account_id": ids["b"],
    }
    base["code"] = TransferCode.GIFT
    assert _one(session, TransferSpec(**base)) is Outcome.CREATED  # type: ignore[arg-type]
    other = {**base, **change}
    if other["credit_account_id"] == -1:
        other["credit_account_id"] = ids["iss"]
    outcome = _one(session, TransferSpec(**other))  # type: ignore[arg-type]
    assert outcome is Outcome.EXISTS_WITH_DIFFERENT_BODY
    assert _balance(session, ids["b"]) == (30, 0)


def test_member_account_is_never_overdrawn(session: Session, ids: dict[str, int]) -> None:
    assert _one(session, TransferSpec("g1", 101, ids["a"], ids["b"], TransferCode.GIFT)) is (
        Outcome.EXCEEDS_BALANCE
    )
    assert _one(session, TransferSpec("g2", 100, ids["a"], ids["b"], TransferCode.GIFT)) is (
        Outcome.CREATED
    )
    assert _balance(session, ids["a"]) == (0, 0)


def test_failed_transfer_leaves_its_id_free(session: Session, ids: dict[str, int]) -> None:
    spec = TransferSpec("g1", 150, ids["a"], ids["b"], TransferCode.GIFT)
    assert _one(session, spec) is Outcome.EXCEEDS_BALANCE
    create_transfers(session, [TransferSpec("fund2", 50, ids["iss"], ids["a"], SC)], now=T0)
    assert _one(session, spec) is Outcome.CREATED


def test_linked_chain_fails_as_a_whole(session: Session, ids: dict[str, int]) -> None:
    results = create_transfers(
        session,
        [
            TransferSpec("solo", 10, ids["a"], ids["b"], TransferCode.GIFT),
            TransferSpec("l1", 30, ids["a"], ids["b"], TransferCode.GIFT, linked=True),
            TransferSpec("l2", 30, ids["a"], ids["b"], TransferCode.GIFT, linked=True),
            TransferSpec("l3", 31, ids["a"], ids["b"], TransferCode.GIFT),
            TransferSpec("after", 5, ids["b"], ids["a"], TransferCode.GIFT),
        ],
        now=T0,
    )
    assert [r.outcome for r in results] == [
        Outcome.CREATED,
        Outcome.LINKED_EVENT_FAILED,
        Outcome.LINKED_EVENT_FAILED,
        Outcome.EXCEEDS_BALANCE,
        Outcome.CREATED,
    ]
    assert _balance(session, ids["a"]) == (95, 0)
    assert _balance(session, ids["b"]) == (5, 0)
    assert verify(session).ok


def test_linked_chain_sees_its_own_earlier_transfers(session: Session, ids: dict[str, int]) -> None:
    results = create_transfers(
        session,
        [
            TransferSpec("in", 50, ids["iss"], ids["b"], SC, linked=True),
            TransferSpec("out", 50, ids["b"], ids["a"], TransferCode.GIFT),
        ],
        now=T0,
    )
    assert all(r.outcome is Outcome.CREATED for r in results)
    assert results[0].transfer is not None
    assert results[0].transfer.batch_id == "in"
    assert results[1].transfer is not None
    assert results[1].transfer.batch_id == "in"
    assert _balance(session, ids["b"]) == (0, 0)


def test_open_linked_chain_is_refused(session: Session, ids: dict[str, int]) -> None:
    results = create_transfers(
        session,
        [
            TransferSpec("l1", 5, ids["a"], ids["b"], TransferCode.GIFT, linked=True),
            TransferSpec("l2", 5, ids["a"], ids["b"], TransferCode.GIFT, linked=True),
        ],
        now=T0,
    )
    assert [r.outcome for r in results] == [
        Outcome.LINKED_EVENT_FAILED,
        Outcome.LINKED_EVENT_CHAIN_OPEN,
    ]
    assert _balance(session, ids["b"]) == (0, 0)


@pytest.mark.parametrize(
    ("spec", "outcome"),
    [
        (TransferSpec("x", 0, 1, 2, TransferCode.GIFT), Outcome.INVALID),
        (TransferSpec("x", -5, 1, 2, TransferCode.GIFT), Outcome.INVALID),
        (TransferSpec("x", 10**13, 1, 2, TransferCode.GIFT), Outcome.INVALID),
        (TransferSpec("", 5, 1, 2, TransferCode.GIFT), Outcome.INVALID),
        (TransferSpec("x" * 129, 5, 1, 2, TransferCode.GIFT), Outcome.INVALID),
        (TransferSpec("x", 5, 1, None, TransferCode.GIFT), Outcome.INVALID),
        (TransferSpec("x", 5, 1, 2, None), Outcome.INVALID),
        (TransferSpec("x", 5, 1, 2, TransferCode.GIFT, timeout_s=60), Outcome.INVALID),
        (TransferSpec("x", 5, kind=TransferKind.POST), Outcome.INVALID),
        (TransferSpec("x", 5, 1, 2, TransferCode.GIFT, pending_id="p"), Outcome.INVALID),
        (TransferSpec("x", 5, 1, 2, TransferCode.CORRECTION, reason="r"), Outcome.INVALID),
        (TransferSpec("x", 5, 1, 2, TransferCode.GIFT, reverses_id="fund"), Outcome.INVALID),
        (TransferSpec("x", 5, 2, 2, TransferCode.GIFT), Outcome.ACCOUNTS_MUST_BE_DIFFERENT),
        (TransferSpec("x", 5, 2, 99, TransferCode.GIFT), Outcome.ACCOUNT_NOT_FOUND),
        (TransferSpec("x", 5, 1, 2, TransferCode.GIFT, credit_cap_min=-1), Outcome.INVALID),
    ],
)
def test_invalid_transfers_are_refused_with_a_reason(
    session: Session, ids: dict[str, int], spec: TransferSpec, outcome: Outcome
) -> None:
    result = create_transfers(session, [spec], now=T0)[0]
    assert result.outcome is outcome
    assert result.detail
    assert verify(session).transfers == 1


def test_accounts_on_different_ledgers_cannot_transact(
    session: Session, ids: dict[str, int]
) -> None:
    other = open_account(session, AccountKind.MEMBER, "v:a", ledger=2, now=T0).id
    assert _one(session, TransferSpec("x", 5, ids["a"], other, TransferCode.GIFT)) is (
        Outcome.LEDGER_MISMATCH
    )


def test_credit_cap_refuses_a_transfer_that_would_exceed_it(
    session: Session, ids: dict[str, int]
) -> None:
    spec = TransferSpec("g", 40, ids["a"], ids["b"], TransferCode.GIFT, credit_cap_min=39)
    assert _one(session, spec) is Outcome.EXCEEDS_CREDIT_CAP
    spec = TransferSpec("g", 40, ids["a"], ids["b"], TransferCode.GIFT, credit_cap_min=40)
    assert _one(session, spec) is Outcome.CREATED


def _hold(
    session: Session, ids: dict[str, int], amount: int = 60, timeout_s: int | None = 600
) -> None:
    spec = TransferSpec(
        "h",
        amount,
        ids["a"],
        ids["iss"],
        TransferCode.REDEMPTION,
        kind=TransferKind.PENDING,
        timeout_s=timeout_s,
    )
    assert _one(session, spec) is Outcome.CREATED


def test_pending_hold_reserves_minutes(session: Session, ids: dict[str, int]) -> None:
    _hold(session, ids)
    assert _balance(session, ids["a"]) == (100, 60)
    assert _one(session, TransferSpec("g", 41, ids["a"], ids["b"], TransferCode.GIFT)) is (
        Outcome.EXCEEDS_BALANCE
    )
    assert _one(session, TransferSpec("g", 40, ids["a"], ids["b"], TransferCode.GIFT)) is (
        Outcome.CREATED
    )


def test_post_spends_part_and_releases_the_rest(session: Session, ids: dict[str, int]) -> None:
    _hold(session, ids)
    post = TransferSpec("p", 45, kind=TransferKind.POST, pending_id="h")
    result = create_transfers(session, [post], now=T0)[0]
    assert result.outcome is Outcome.CREATED
    assert result.transfer is not None
    assert result.transfer.code is TransferCode.REDEMPTION
    assert result.transfer.debit_account_id == ids["a"]
    assert _balance(session, ids["a"]) == (55, 0)
    assert _balance(session, ids["iss"]) == (-55, 0)
    assert verify(session).ok


def test_void_releases_the_hold(session: Session, ids: dict[str, int]) -> None:
    _hold(session, ids)
    assert _one(session, TransferSpec("v", kind=TransferKind.VOID, pending_id="h")) is (
        Outcome.CREATED
    )
    assert _balance(session, ids["a"]) == (100, 0)


@pytest.mark.parametrize(
    ("first", "second", "outcome"),
    [
        (TransferKind.POST, TransferKind.POST, Outcome.PENDING_ALREADY_POSTED),
        (TransferKind.POST, TransferKind.VOID, Outcome.PENDING_ALREADY_POSTED),
        (TransferKind.VOID, TransferKind.POST, Outcome.PENDING_ALREADY_VOIDED),
        (TransferKind.VOID, TransferKind.VOID, Outcome.PENDING_ALREADY_VOIDED),
    ],
)
def test_pending_is_resolved_exactly_once(
    session: Session,
    ids: dict[str, int],
    first: TransferKind,
    second: TransferKind,
    outcome: Outcome,
) -> None:
    _hold(session, ids)
    assert _one(session, TransferSpec("r1", kind=first, pending_id="h")) is Outcome.CREATED
    assert _one(session, TransferSpec("r2", kind=second, pending_id="h")) is outcome
    assert _one(session, TransferSpec("r1", kind=first, pending_id="h")) is Outcome.EXISTS


def test_expired_pending_cannot_be_posted_but_can_be_voided(
    session: Session, ids: dict[str, int]
) -> None:
    _hold(session, ids, timeout_s=600)
    late = T0 + dt.timedelta(seconds=600)
    post = TransferSpec("p", kind=TransferKind.POST, pending_id="h")
    assert _one(session, post, now=late) is Outcome.PENDING_EXPIRED
    assert _one(session, TransferSpec("v", kind=TransferKind.VOID, pending_id="h"), now=late) is (
        Outcome.CREATED
    )
    assert _balance(session, ids["a"]) == (100, 0)


@pytest.mark.parametrize(
    ("spec", "outcome"),
    [
        (
            TransferSpec("p", 61, kind=TransferKind.POST, pending_id="h"),
            Outcome.EXCEEDS_PENDING_AMOUNT,
        ),
        (TransferSpec("p", kind=TransferKind.POST, pending_id="nope"), Outcome.PENDING_NOT_FOUND),
        (TransferSpec("p", kind=TransferKind.POST, pending_id="fund"), Outcome.PENDING_NOT_FOUND),
        (
            TransferSpec("p", kind=TransferKind.POST, pending_id="h", code=TransferCode.GIFT),
            Outcome.PENDING_MISMATCH,
        ),
        (TransferSpec("v", 5, kind=TransferKind.VOID, pending_id="h"), Outcome.INVALID),
    ],
)
def test_bad_resolutions_are_refused(
    session: Session, ids: dict[str, int], spec: TransferSpec, outcome: Outcome
) -> None:
    _hold(session, ids)
    assert _one(session, spec) is outcome
    assert _balance(session, ids["a"]) == (100, 60)


def test_pending_and_its_post_in_one_request(session: Session, ids: dict[str, int]) -> None:
    results = create_transfers(
        session,
        [
            TransferSpec("h", 10, ids["a"], ids["b"], TransferCode.GIFT, kind=TransferKind.PENDING),
            TransferSpec("p", kind=TransferKind.POST, pending_id="h"),
        ],
        now=T0,
    )
    assert [r.outcome for r in results] == [Outcome.CREATED, Outcome.CREATED]
    assert _balance(session, ids["b"]) == (10, 0)


def test_correction_reverses_once_with_a_reason(session: Session, ids: dict[str, int]) -> None:
    _one(session, TransferSpec("g", 30, ids["a"], ids["b"], TransferCode.GIFT))
    fix = TransferSpec(
        "c1", 20, code=TransferCode.CORRECTION, reverses_id="g", reason="entered twice"
    )
    result = create_transfers(session, [fix], now=T0)[0]
    assert result.outcome is Outcome.CREATED
    assert result.transfer is not None
    assert (result.transfer.debit_account_id, result.transfer.credit_account_id) == (
        ids["b"],
        ids["a"],
    )
    assert _balance(session, ids["b"]) == (10, 0)
    again = TransferSpec("c2", code=TransferCode.CORRECTION, reverses_id="g", reason="again")
    assert _one(session, again) is Outcome.ALREADY_REVERSED
    assert verify(session).ok


@pytest.mark.parametrize(
    ("spec", "outcome"),
    [
        (
            TransferSpec("c", code=TransferCode.CORRECTION, reverses_id="zz", reason="r"),
            Outcome.REVERSAL_TARGET_NOT_FOUND,
        ),
        (
            TransferSpec("c", code=TransferCode.CORRECTION, reverses_id="h", reason="r"),
            Outcome.REVERSAL_TARGET_INVALID,
        ),
        (
            TransferSpec("c", 101, code=TransferCode.CORRECTION, reverses_id="fund", reason="r"),
            Outcome.REVERSAL_TARGET_INVALID,
        ),
        (
            TransferSpec("c", code=TransferCode.CORRECTION, reverses_id="fund", reason=" "),
            Outcome.INVALID,
        ),
    ],
)
def test_bad_corrections_are_refused(
    session: Session, ids: dict[str, int], spec: TransferSpec, outcome: Outcome
) -> None:
    _hold(session, ids)
    assert _one(session, spec) is outcome


def test_correction_cannot_overdraw_the_original_recipient(
    session: Session, ids: dict[str, int]
) -> None:
    _one(session, TransferSpec("g", 30, ids["a"], ids["b"], TransferCode.GIFT))
    _one(session, TransferSpec("spend", 25, ids["b"], ids["a"], TransferCode.GIFT))
    fix = TransferSpec("c", code=TransferCode.CORRECTION, reverses_id="g", reason="mistake")
    assert _one(session, fix) is Outcome.EXCEEDS_BALANCE


def test_naive_now_is_refused(session: Session, ids: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        create_transfers(session, [], now=dt.datetime(2026, 1, 1))


def test_open_account_is_idempotent_and_validated(session: Session) -> None:
    first = open_account(session, AccountKind.MEMBER, "v:z", now=T0)
    assert open_account(session, AccountKind.MEMBER, "v:z", now=T0) == first
    assert first.no_overdraft
    assert not open_account(session, AccountKind.ISSUANCE, "system", now=T0).no_overdraft
    with pytest.raises(ValueError, match="owner_ref"):
        open_account(session, AccountKind.MEMBER, "", now=T0)
