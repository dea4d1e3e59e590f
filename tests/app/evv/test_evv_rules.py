"""The verification rules, one case per reason code, on the pure ``evaluate``."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from zoneinfo import ZoneInfo

import pytest

from app.services.evv_rules import (
    Evidence,
    EvvRules,
    Planned,
    Position,
    distance_m,
    evaluate,
    locked,
    rules_from_config,
)

TZ = ZoneInfo("Asia/Shanghai")
DAY = dt.date(2026, 3, 2)
HOME = Position(32.0, 120.9, 10.0)
PLANNED = Planned(DAY, [["09:00", "10:00"]], 60, 32.0, 120.9, ["BC01"])
RULES = EvvRules()


def at(hhmm: str) -> dt.datetime:
    return dt.datetime.combine(DAY, dt.time.fromisoformat(hhmm), tzinfo=TZ)


GOOD = Evidence(at("09:10"), at("10:10"), HOME, HOME, ["BC01"], confirmed=False)


def north(metres: float, accuracy: float = 10.0) -> Position:
    return Position(32.0 + metres / 111_195, 120.9, accuracy)


def test_a_visit_at_home_in_time_with_items_done_is_verified() -> None:
    finding = evaluate(GOOD, PLANNED, RULES)
    assert finding.outcome == "verified"
    assert finding.reasons == ()
    assert finding.duration_s == 3600
    assert finding.check_in_distance_m == 0.0


def test_distance_is_metres_on_the_ground() -> None:
    assert distance_m(32.0, 120.9, 32.018, 120.9) == pytest.approx(2001, abs=2)


@pytest.mark.parametrize(
    ("position", "reason"),
    [
        (north(2000), "outside_geofence"),
        (north(240, accuracy=50), "outside_geofence"),  # 240 - 50 > 150
        (north(240, accuracy=95), None),  # the accuracy allowance brings it inside
        (north(300, accuracy=400), "outside_geofence"),  # allowance capped at 100 m
        (north(10, accuracy=800), "low_accuracy"),
        (None, "no_position"),
    ],
)
def test_where(position: Position | None, reason: str | None) -> None:
    finding = evaluate(replace(GOOD, check_in_position=position), PLANNED, RULES)
    assert finding.reasons == ((reason,) if reason else ())


@pytest.mark.parametrize(
    ("check_in", "reason"),
    [("08:29", "early"), ("08:31", None), ("10:29", None), ("10:31", "late")],
)
def test_when_the_window_widened_by_the_grace_period(check_in: str, reason: str | None) -> None:
    evidence = replace(
        GOOD, check_in_at=at(check_in), check_out_at=at(check_in) + dt.timedelta(hours=1)
    )
    assert evaluate(evidence, PLANNED, RULES).reasons == ((reason,) if reason else ())


def test_too_short_below_the_share_of_the_planned_duration() -> None:
    assert evaluate(replace(GOOD, check_out_at=at("09:58")), PLANNED, RULES).reasons == ()
    short = evaluate(replace(GOOD, check_out_at=at("09:57")), PLANNED, RULES)  # 47 < 48 min
    assert short.reasons == ("too_short",)


def test_items_missing_and_confirmation_and_reasons_together() -> None:
    rules = replace(RULES, require_confirmation=True)
    evidence = replace(GOOD, items_done=[], check_out_position=north(2000))
    finding = evaluate(evidence, PLANNED, rules)
    assert finding.outcome == "exception"
    assert finding.reasons == ("outside_geofence", "items_missing", "not_confirmed")
    assert evaluate(replace(GOOD, confirmed=True), PLANNED, rules).outcome == "verified"


def test_rules_read_from_config_keys() -> None:
    rules = rules_from_config({"EVV_GEOFENCE_M": 50, "EVV_LOCK_DAYS": 2, "OTHER": 1})
    assert rules.geofence_m == 50
    assert rules.lock_days == 2
    assert rules.grace_min == 30
    assert evaluate(replace(GOOD, check_in_position=north(100)), PLANNED, rules).reasons == (
        "outside_geofence",
    )


def test_lock_after_the_set_days() -> None:
    rules = replace(RULES, lock_days=7)
    assert not locked(DAY, at("12:00") + dt.timedelta(days=7), rules)
    assert locked(DAY, dt.datetime.combine(DAY + dt.timedelta(days=8), dt.time(), tzinfo=TZ), rules)
