"""The verification rules of a visit (EVV) and the pure function that applies them.

Defaults are below; each can be overridden in the application config under the key in
``CONFIG_KEYS`` (e.g. ``EVV_GEOFENCE_M = 200``), so a city sets its own rules without a
code change:

- ``geofence_m`` (150): check-in and check-out must be within this distance of the
  person's home, after an allowance for the phone's reported accuracy of at most
  ``accuracy_allowance_m`` (100) -> else ``outside_geofence``;
- ``max_accuracy_m`` (500): a position vaguer than this is no evidence -> ``low_accuracy``;
  no position at all -> ``no_position``;
- ``grace_min`` (30): the check-in must fall inside one of the visit's windows widened by
  this much on each side -> else ``early`` or ``late``;
- ``min_duration_pct`` (80): the time between check-in and check-out must be at least this
  share of the planned duration -> else ``too_short``;
- every planned item must be ticked -> else ``items_missing``;
- ``require_confirmation`` (False): when set, the person or family must confirm (the
  right PIN or a signature; see ``evv_confirmation``) -> else ``not_confirmed``;
- ``lock_days`` (7): a visit's EVV record accepts no new action or decision once this many
  days have passed after the visit's date (local time).

The outcome is ``verified`` when no rule fails, else ``exception`` with the reason codes,
for a dispatcher to approve or reject.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any
from zoneinfo import ZoneInfo

EARTH_RADIUS_M = 6_371_008.8

OUTSIDE_GEOFENCE = "outside_geofence"
NO_POSITION = "no_position"
LOW_ACCURACY = "low_accuracy"
EARLY = "early"
LATE = "late"
TOO_SHORT = "too_short"
ITEMS_MISSING = "items_missing"
NOT_CONFIRMED = "not_confirmed"
REASON_CODES = (
    OUTSIDE_GEOFENCE,
    NO_POSITION,
    LOW_ACCURACY,
    EARLY,
    LATE,
    TOO_SHORT,
    ITEMS_MISSING,
    NOT_CONFIRMED,
)


@dataclass(frozen=True)
class EvvRules:
    """The thresholds a visit is verified against (see the module docstring)."""

    geofence_m: float = 150.0
    accuracy_allowance_m: float = 100.0
    max_accuracy_m: float = 500.0
    grace_min: int = 30
    min_duration_pct: int = 80
    require_confirmation: bool = False
    lock_days: int = 7
    timezone: str = "Asia/Shanghai"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


CONFIG_KEYS = {f.name: f"EVV_{f.name.upper()}" for f in fields(EvvRules) if f.name != "timezone"}


def rules_from_config(config: Mapping[str, Any]) -> EvvRules:
    """The defaults with every ``EVV_*`` key of ``config`` applied."""
    given = {name: config[key] for name, key in CONFIG_KEYS.items() if key in config}
    tz = config.get("BABEL_DEFAULT_TIMEZONE", EvvRules.timezone)
    return EvvRules(**given, timezone=tz)


@dataclass(frozen=True)
class Position:
    lat: float
    lon: float
    accuracy_m: float | None


@dataclass(frozen=True)
class Evidence:
    """What the phone reported for one worker's part of a visit."""

    check_in_at: dt.datetime
    check_out_at: dt.datetime
    check_in_position: Position | None
    check_out_position: Position | None
    items_done: Sequence[str]
    confirmed: bool


@dataclass(frozen=True)
class Planned:
    """What the visit asked for."""

    day: dt.date
    windows: Sequence[Sequence[str]]
    duration_min: int
    home_lat: float
    home_lon: float
    items: Sequence[str]


@dataclass(frozen=True)
class Finding:
    outcome: str
    reasons: tuple[str, ...]
    check_in_distance_m: float | None
    check_out_distance_m: float | None
    duration_s: int


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres; plenty for a 150 m fence."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def _place(
    position: Position | None, planned: Planned, rules: EvvRules
) -> tuple[str | None, float | None]:
    if position is None:
        return NO_POSITION, None
    d = distance_m(position.lat, position.lon, planned.home_lat, planned.home_lon)
    accuracy = position.accuracy_m or 0.0
    if accuracy > rules.max_accuracy_m:
        return LOW_ACCURACY, d
    if d - min(accuracy, rules.accuracy_allowance_m) > rules.geofence_m:
        return OUTSIDE_GEOFENCE, d
    return None, d


def _timing(at: dt.datetime, planned: Planned, rules: EvvRules) -> str | None:
    tz = ZoneInfo(rules.timezone)
    grace = dt.timedelta(minutes=rules.grace_min)
    bounds = [
        (
            dt.datetime.combine(planned.day, dt.time.fromisoformat(start), tzinfo=tz) - grace,
            dt.datetime.combine(planned.day, dt.time.fromisoformat(end), tzinfo=tz) + grace,
        )
        for start, end in planned.windows
    ]
    if not bounds or any(lo <= at <= hi for lo, hi in bounds):
        return None
    return EARLY if at < bounds[0][0] else LATE


def evaluate(evidence: Evidence, planned: Planned, rules: EvvRules) -> Finding:
    """Apply the rules to one worker's check-in and check-out of a visit."""
    reasons: list[str] = []
    in_reason, in_d = _place(evidence.check_in_position, planned, rules)
    out_reason, out_d = _place(evidence.check_out_position, planned, rules)
    for reason in (in_reason, out_reason):
        if reason is not None and reason not in reasons:
            reasons.append(reason)
    timing = _timing(evidence.check_in_at, planned, rules)
    if timing is not None:
        reasons.append(timing)
    duration_s = int((evidence.check_out_at - evidence.check_in_at).total_seconds())
    if duration_s * 100 < planned.duration_min * 60 * rules.min_duration_pct:
        reasons.append(TOO_SHORT)
    if not set(planned.items) <= set(evidence.items_done):
        reasons.append(ITEMS_MISSING)
    if rules.require_confirmation and not evidence.confirmed:
        reasons.append(NOT_CONFIRMED)
    ordered = tuple(code for code in REASON_CODES if code in reasons)
    return Finding(
        outcome="exception" if ordered else "verified",
        reasons=ordered,
        check_in_distance_m=None if in_d is None else round(in_d, 1),
        check_out_distance_m=None if out_d is None else round(out_d, 1),
        duration_s=duration_s,
    )


def locked(day: dt.date, now: dt.datetime, rules: EvvRules) -> bool:
    """Whether a visit on ``day`` no longer accepts EVV actions or decisions."""
    tz = ZoneInfo(rules.timezone)
    last = dt.datetime.combine(day + dt.timedelta(days=rules.lock_days + 1), dt.time(), tzinfo=tz)
    return now >= last
