"""The claim-line rules on plain facts, and a property: the split adds up to the fen and
the monthly cap is never passed, whatever the month looks like."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.services.claims import VisitFacts, judge
from app.services.months import month_bounds, parse_month

DAY = dt.date(2026, 10, 1)


def facts(visit_id: int = 1, **changes: object) -> VisitFacts:
    base = VisitFacts(
        visit_id=visit_id,
        person_id=1,
        service_date=DAY,
        minutes=45,
        service_item_id=1,
        item_code="BC01",
        price_fen=6000,
        verified=True,
        verification_id=10,
        caregiver_ids=(1,),
        in_plan=True,
        entitled=True,
        qualified=True,
        monthly_cap_min=2400,
    )
    return VisitFacts(**{**base.__dict__, **changes})  # type: ignore[arg-type]


def test_a_verified_visit_in_plan_is_claimable_and_split_70_30() -> None:
    (line,) = judge([facts()], 70)
    assert line.claimable
    assert line.reasons == ()
    assert (line.fund_fen, line.copay_fen) == (4200, 1800)


def test_the_fund_share_rounds_down_so_the_parts_add_up_to_the_price() -> None:
    (line,) = judge([facts(price_fen=3333)], 70)
    assert (line.fund_fen, line.copay_fen) == (2333, 1000)
    (shanghai,) = judge([facts(price_fen=3333)], 90)
    assert (shanghai.fund_fen, shanghai.copay_fen) == (2999, 334)


def test_each_failed_rule_is_a_reason() -> None:
    (line,) = judge([facts(verified=False, in_plan=False, entitled=False, qualified=False)], 70)
    assert not line.claimable
    assert line.reasons == (
        "not_verified",
        "not_in_plan",
        "not_entitled",
        "caregiver_not_qualified",
    )


def test_the_cap_pays_the_earliest_care_and_rejects_what_passes_it() -> None:
    month = [
        facts(visit_id=i, service_date=DAY + dt.timedelta(days=i), minutes=100, monthly_cap_min=250)
        for i in (3, 1, 2)
    ]
    lines = judge(month, 70)
    by_visit = {line.facts.visit_id: line.reasons for line in lines}
    assert by_visit == {1: (), 2: (), 3: ("over_cap",)}


def test_a_rejected_visit_does_not_use_up_the_cap() -> None:
    month = [
        facts(visit_id=1, minutes=200, monthly_cap_min=250, verified=False),
        facts(
            visit_id=2, minutes=200, monthly_cap_min=250, service_date=DAY + dt.timedelta(days=1)
        ),
    ]
    assert [line.reasons for line in judge(month, 70)] == [("not_verified",), ()]


def test_month_bounds() -> None:
    assert month_bounds(dt.date(2026, 2, 17)) == (dt.date(2026, 2, 1), dt.date(2026, 2, 28))
    assert month_bounds(dt.date(2024, 12, 31)) == (dt.date(2024, 12, 1), dt.date(2024, 12, 31))
    assert parse_month(" 2026-03 ") == dt.date(2026, 3, 1)
    for bad in ("2026-13", "1999-12", "26-01", "2026-1", None):
        with pytest.raises(ValueError, match="YYYY-MM"):
            parse_month(bad)


visit_facts = st.builds(
    lambda i, person, day, minutes, price, ok, cap: facts(
        visit_id=i,
        person_id=person,
        service_date=DAY + dt.timedelta(days=day),
        minutes=minutes,
        price_fen=price,
        verified=ok[0],
        in_plan=ok[1],
        entitled=ok[2],
        qualified=ok[3],
        monthly_cap_min=cap * 60,
    ),
    st.integers(1, 10**6),
    st.integers(1, 4),
    st.integers(0, 30),
    st.integers(1, 240),
    st.integers(0, 50_000),
    st.tuples(*[st.booleans()] * 4),
    st.sampled_from([20, 28, 40]),
)


@settings(max_examples=500, deadline=None)
@given(
    month=st.lists(visit_facts, max_size=60, unique_by=lambda f: f.visit_id),
    pct=st.integers(0, 100),
)
def test_property_split_and_cap(month: list[VisitFacts], pct: int) -> None:
    lines = judge(month, pct)
    assert sorted(line.facts.visit_id for line in lines) == sorted(f.visit_id for f in month)
    used: dict[int, int] = {}
    for line in lines:
        f = line.facts
        assert line.fund_fen + line.copay_fen == f.price_fen
        assert line.fund_fen == f.price_fen * pct // 100
        assert line.copay_fen >= 0
        rules_ok = f.verified and f.in_plan and f.entitled and f.qualified
        if line.claimable:
            used[f.person_id] = used.get(f.person_id, 0) + f.minutes
            assert used[f.person_id] <= f.monthly_cap_min
        else:
            # Rejected for a reason that holds: a failed rule, or the cap really was passed.
            assert not rules_ok or (
                line.reasons == ("over_cap",)
                and used.get(f.person_id, 0) + f.minutes > f.monthly_cap_min
            )
