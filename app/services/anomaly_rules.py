"""Anomaly and fraud rules over a month of visits: pure functions, no database, no Flask.

The input is one ``PartFact`` per worker's part of a visit (the visit's current
verification record: who, to whom, when and where they checked in and out, whether the
person or family confirmed, and the worker's qualification for the required skill). The
output is a list of ``Finding``: a stable rule code, a severity, the agency, the subject
(a caregiver, volunteer or person), the visits behind it and the numbers that explain it.
``detect(parts, rules)`` runs every enabled rule.

Thresholds live in ``app/policy/supervision_rules.json`` (``load_rules``), each rule with
its severity and parameters, so a city tunes them without a code change. Distances are
great-circle metres; durations come from the check-in and check-out instants.

Single visits (one finding per worker's part, or per pair of one worker's parts):

- ``outside_geofence``: a check-in or check-out position lies farther from the person's
  home than ``geofence_m``, after allowing for the phone's reported accuracy up to
  ``accuracy_allowance_m`` (``distance - min(accuracy, allowance) > geofence_m``, the EVV
  rule's measure). A missing position is not judged here (see ``positions_missing``).
- ``too_short`` / ``too_long``: check-in to check-out is below ``min_pct`` / above
  ``max_pct`` per cent of the planned duration.
- ``overlapping_visits``: two parts of one worker on one day overlap by at least
  ``min_overlap_min`` minutes (the later check-in falls before the earlier check-out).
- ``impossible_travel``: between consecutive parts of one worker on one day that do not
  overlap, from the earlier part's last position (check-out, else check-in) to the later
  check-in, the distance less both positions' accuracies (each up to the allowance) is at
  least ``min_distance_m`` and covered faster than ``max_speed_kmh``.
- ``qualification_expired``: a caregiver served a visit whose required skill they do not
  hold, or whose certificate expired before the visit's day. Volunteers hold no
  certificates and serve only the items volunteers may give: not judged.

Across visits of the month (honest data must not trip these; each is a pattern, never one
unlucky visit):

- ``not_confirmed``: of one worker's parts with one person, at least ``min_visits`` and at
  least ``min_share_pct`` per cent carry no confirmation by the person or family. The
  city's EVV rules accept an occasional unconfirmed visit (a sleeping person, a relative
  out); a worker whose visits to one person are mostly unconfirmed is what ghost visits
  look like. Set ``min_visits`` to 1 and ``min_share_pct`` to 0 to flag every one.
- ``positions_missing``: of one worker's parts with one person, at least ``min_visits``
  and at least ``min_share_pct`` per cent lack the check-in or the check-out position:
  location switched off for the visits to that home, not a GPS fix lost now and then.
- ``shared_point``: at one person's home, at least ``min_workers`` different workers
  reported exactly the same coordinates (rounded to ``decimals`` places, ~0.1 m at 6).
  Real fixes jitter by metres, so different phones never agree to the decimetre; a
  fake-location app or one phone passed around does.
- ``repeated_point``: one worker reported exactly the same coordinates (as above) in at
  least ``min_visits`` different visits: a fake-location app replaying one point.
- ``repeated_durations``: at least ``min_repeats`` of one worker's parts last exactly the
  same number of seconds: visits clocked by a script or typed in, not lived.
- ``cap_shift``: a caregiver's verified minutes in the month reach ``near_cap_pct`` per
  cent of ``monthly_cap_min`` at the check-out of some visit (instant T). Another
  caregiver of the agency then has visits, checked in after T, with persons the capped
  caregiver served before T and the other had never served before T: at least
  ``min_visits`` of them, making at least ``min_share_pct`` per cent of all the other's
  visits after T. The hours over the cap reappear under another id at the same
  addresses; a colleague covering a few of those persons besides their own does not.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.services.evv_rules import Position, distance_m

RULES_FILE = Path(__file__).resolve().parents[1] / "policy" / "supervision_rules.json"
FORMAT = "careroute.supervision_rules/1"
SEVERITIES = ("high", "medium", "low")

OUTSIDE_GEOFENCE = "outside_geofence"
TOO_SHORT = "too_short"
TOO_LONG = "too_long"
OVERLAPPING_VISITS = "overlapping_visits"
IMPOSSIBLE_TRAVEL = "impossible_travel"
QUALIFICATION_EXPIRED = "qualification_expired"
NOT_CONFIRMED = "not_confirmed"
POSITIONS_MISSING = "positions_missing"
SHARED_POINT = "shared_point"
REPEATED_POINT = "repeated_point"
REPEATED_DURATIONS = "repeated_durations"
CAP_SHIFT = "cap_shift"

# Every rule code with the parameters its entry in the policy file must give.
RULE_PARAMS: Mapping[str, tuple[str, ...]] = {
    OUTSIDE_GEOFENCE: ("geofence_m", "accuracy_allowance_m"),
    TOO_SHORT: ("min_pct",),
    TOO_LONG: ("max_pct",),
    OVERLAPPING_VISITS: ("min_overlap_min",),
    IMPOSSIBLE_TRAVEL: ("max_speed_kmh", "min_distance_m", "accuracy_allowance_m"),
    QUALIFICATION_EXPIRED: (),
    NOT_CONFIRMED: ("min_visits", "min_share_pct"),
    POSITIONS_MISSING: ("min_visits", "min_share_pct"),
    SHARED_POINT: ("decimals", "min_workers"),
    REPEATED_POINT: ("decimals", "min_visits"),
    REPEATED_DURATIONS: ("min_repeats",),
    CAP_SHIFT: ("monthly_cap_min", "near_cap_pct", "min_visits", "min_share_pct"),
}
RULE_CODES = tuple(RULE_PARAMS)

CAREGIVER = "caregiver"
VOLUNTEER = "volunteer"
PERSON = "person"

Number = int | float | str


class RulesError(ValueError):
    """The rules file is malformed; ``path`` is the JSON path at fault."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


# --------------------------------------------------------------------------- the rules file


@dataclass(frozen=True)
class Rule:
    code: str
    severity: str
    enabled: bool
    params: Mapping[str, float] = field(hash=False)

    def num(self, name: str) -> float:
        return self.params[name]

    def whole(self, name: str) -> int:
        return int(self.params[name])


@dataclass(frozen=True)
class Rules:
    """Every rule's severity and thresholds, as the policy file gives them."""

    by_code: Mapping[str, Rule] = field(hash=False)

    def __getitem__(self, code: str) -> Rule:
        return self.by_code[code]

    def enabled(self, code: str) -> bool:
        return self.by_code[code].enabled


def parse_rules(data: Any) -> Rules:
    """Validate a decoded rules document (every rule present, known keys, numbers > 0)."""
    if not isinstance(data, dict):
        raise RulesError("$", "must be an object")
    if data.get("format") != FORMAT:
        raise RulesError("$.format", f"must be {FORMAT!r}")
    unknown = sorted(set(data) - {"format", "notes", "rules"})
    if unknown:
        raise RulesError(f"$.{unknown[0]}", "unknown key")
    raw = data.get("rules")
    if not isinstance(raw, dict):
        raise RulesError("$.rules", "must be an object")
    missing = [code for code in RULE_CODES if code not in raw]
    if missing:
        raise RulesError(f"$.rules.{missing[0]}", "missing")
    extra = sorted(set(raw) - set(RULE_CODES))
    if extra:
        raise RulesError(f"$.rules.{extra[0]}", "unknown rule")
    return Rules({code: _rule(code, raw[code]) for code in RULE_CODES})


def _rule(code: str, entry: Any) -> Rule:
    path = f"$.rules.{code}"
    if not isinstance(entry, dict):
        raise RulesError(path, "must be an object")
    wanted = RULE_PARAMS[code]
    unknown = sorted(set(entry) - {"severity", "enabled", *wanted})
    if unknown:
        raise RulesError(f"{path}.{unknown[0]}", "unknown key")
    severity = entry.get("severity")
    if severity not in SEVERITIES:
        raise RulesError(f"{path}.severity", f"must be one of {list(SEVERITIES)}")
    enabled = entry.get("enabled", True)
    if not isinstance(enabled, bool):
        raise RulesError(f"{path}.enabled", "must be true or false")
    params: dict[str, float] = {}
    for name in wanted:
        value = entry.get(name)
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise RulesError(f"{path}.{name}", "must be a number >= 0")
        params[name] = value
    return Rule(code, severity, enabled, params)


@functools.lru_cache(maxsize=8)
def _read(path: str) -> Rules:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise RulesError("$", f"cannot read {path}: {exc.strerror}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RulesError("$", f"not valid JSON (line {exc.lineno}): {exc.msg}") from None
    return parse_rules(data)


def load_rules(path: str | Path | None = None) -> Rules:
    """The rules of ``path`` (default: the shipped file), read and validated once per path."""
    return _read(str(path or RULES_FILE))


# --------------------------------------------------------------------------- facts and findings


@dataclass(frozen=True, order=True)
class Subject:
    """Who a finding is about: a caregiver, a volunteer or an insured person."""

    kind: str
    id: int


@dataclass(frozen=True)
class PartFact:
    """One worker's part of a visit, as its current verification record states it.

    ``skill_held`` is None where qualifications do not apply (volunteers); else whether
    the worker holds the visit's required skill, which expires after ``skill_expires_on``
    (None: never).
    """

    visit_id: int
    agency_id: int
    day: dt.date
    person_id: int
    home_lat: float
    home_lon: float
    worker: Subject
    planned_min: int
    check_in_at: dt.datetime
    check_out_at: dt.datetime
    check_in: Position | None
    check_out: Position | None
    confirmed: bool
    skill: str
    skill_held: bool | None = None
    skill_expires_on: dt.date | None = None

    @property
    def duration_s(self) -> int:
        return int((self.check_out_at - self.check_in_at).total_seconds())

    @property
    def person(self) -> Subject:
        return Subject(PERSON, self.person_id)


@dataclass(frozen=True)
class Finding:
    """One anomaly: what rule, about whom, the visits behind it and the numbers that explain
    it (distances in metres, durations in minutes or seconds, counts, speeds in km/h)."""

    rule: str
    severity: str
    agency_id: int
    subject: Subject
    visit_ids: tuple[int, ...]
    day: dt.date | None = None
    related: tuple[Subject, ...] = ()
    numbers: Mapping[str, Number] = field(default_factory=dict, hash=False)

    @property
    def key(self) -> tuple[str, str, int, tuple[int, ...]]:
        """What identifies a finding: rule, subject and visits (numbers aside)."""
        return (self.rule, self.subject.kind, self.subject.id, self.visit_ids)


def _finding(
    rules: Rules,
    code: str,
    agency_id: int,
    subject: Subject,
    parts: Iterable[PartFact],
    numbers: Mapping[str, Number],
    related: Iterable[Subject] = (),
) -> Finding:
    parts = list(parts)
    return Finding(
        rule=code,
        severity=rules[code].severity,
        agency_id=agency_id,
        subject=subject,
        visit_ids=tuple(sorted({p.visit_id for p in parts})),
        day=min(p.day for p in parts),
        related=tuple(sorted(set(related))),
        numbers=dict(numbers),
    )


def detect(parts: Sequence[PartFact], rules: Rules) -> list[Finding]:
    """Every enabled rule over ``parts``, ordered by agency, rule, subject and visits."""
    found: list[Finding] = []
    for code, check in CHECKS.items():
        if rules.enabled(code):
            found.extend(check(parts, rules))
    order = {code: n for n, code in enumerate(RULE_CODES)}
    return sorted(found, key=lambda f: (f.agency_id, order[f.rule], f.subject, f.visit_ids))


# --------------------------------------------------------------------------- single visits


def outside_geofence(parts: Sequence[PartFact], rules: Rules) -> Iterator[Finding]:
    rule = rules[OUTSIDE_GEOFENCE]
    fence, allowance = rule.num("geofence_m"), rule.num("accuracy_allowance_m")
    for p in parts:
        numbers: dict[str, Number] = {}
        for name, position in (("check_in", p.check_in), ("check_out", p.check_out)):
            if position is None:
                continue
            d = distance_m(position.lat, position.lon, p.home_lat, p.home_lon)
            if d - min(position.accuracy_m or 0.0, allowance) > fence:
                numbers[f"{name}_m"] = round(d)
                numbers[f"{name}_accuracy_m"] = round(position.accuracy_m or 0.0)
        if numbers:
            numbers["geofence_m"] = round(fence)
            yield _finding(rules, OUTSIDE_GEOFENCE, p.agency_id, p.worker, [p], numbers, [p.person])


def _duration_numbers(p: PartFact) -> dict[str, Number]:
    return {
        "duration_min": p.duration_s // 60,
        "planned_min": p.planned_min,
        "pct": round(p.duration_s * 100 / (p.planned_min * 60)),
    }


def too_short(parts: Sequence[PartFact], rules: Rules) -> Iterator[Finding]:
    pct = rules[TOO_SHORT].num("min_pct")
    for p in parts:
        if p.duration_s * 100 < p.planned_min * 60 * pct:
            yield _finding(
                rules, TOO_SHORT, p.agency_id, p.worker, [p], _duration_numbers(p), [p.person]
            )


def too_long(parts: Sequence[PartFact], rules: Rules) -> Iterator[Finding]:
    pct = rules[TOO_LONG].num("max_pct")
    for p in parts:
        if p.duration_s * 100 > p.planned_min * 60 * pct:
            yield _finding(
                rules, TOO_LONG, p.agency_id, p.worker, [p], _duration_numbers(p), [p.person]
            )


def qualification_expired(parts: Sequence[PartFact], rules: Rules) -> Iterator[Finding]:
    for p in parts:
        if p.skill_held is None:
            continue
        expired = p.skill_expires_on is not None and p.skill_expires_on < p.day
        if p.skill_held and not expired:
            continue
        numbers: dict[str, Number] = {"skill": p.skill, "held": int(p.skill_held)}
        if p.skill_held and p.skill_expires_on is not None:
            numbers["expired_on"] = p.skill_expires_on.isoformat()
            numbers["days_expired"] = (p.day - p.skill_expires_on).days
        yield _finding(
            rules, QUALIFICATION_EXPIRED, p.agency_id, p.worker, [p], numbers, [p.person]
        )


def _worker_days(parts: Iterable[PartFact]) -> Iterator[list[PartFact]]:
    """Each worker's parts of one day, in check-in order."""
    groups: dict[tuple[Subject, dt.date], list[PartFact]] = defaultdict(list)
    for p in parts:
        groups[(p.worker, p.day)].append(p)
    for key in sorted(groups):
        yield sorted(groups[key], key=lambda p: (p.check_in_at, p.visit_id))


def overlapping_visits(parts: Sequence[PartFact], rules: Rules) -> Iterator[Finding]:
    least = dt.timedelta(minutes=rules[OVERLAPPING_VISITS].num("min_overlap_min"))
    for day in _worker_days(parts):
        for i, later in enumerate(day):
            for earlier in day[:i]:
                overlap = min(earlier.check_out_at, later.check_out_at) - later.check_in_at
                if overlap >= least and earlier.visit_id != later.visit_id:
                    numbers = {"overlap_min": int(overlap.total_seconds()) // 60}
                    yield _finding(
                        rules,
                        OVERLAPPING_VISITS,
                        later.agency_id,
                        later.worker,
                        [earlier, later],
                        numbers,
                        [earlier.person, later.person],
                    )


def impossible_travel(parts: Sequence[PartFact], rules: Rules) -> Iterator[Finding]:
    rule = rules[IMPOSSIBLE_TRAVEL]
    max_kmh, least_m = rule.num("max_speed_kmh"), rule.num("min_distance_m")
    allowance = rule.num("accuracy_allowance_m")
    for day in _worker_days(parts):
        for before, after in zip(day, day[1:], strict=False):
            if after.check_in_at < before.check_out_at or after.check_in is None:
                continue  # overlapping parts are the overlap rule's; no position, no speed
            left, left_at = before.check_out, before.check_out_at
            if left is None:
                left, left_at = before.check_in, before.check_in_at
            if left is None:
                continue
            slack = min(left.accuracy_m or 0.0, allowance)
            slack += min(after.check_in.accuracy_m or 0.0, allowance)
            metres = distance_m(left.lat, left.lon, after.check_in.lat, after.check_in.lon)
            metres -= slack
            seconds = max((after.check_in_at - left_at).total_seconds(), 1.0)
            kmh = metres / seconds * 3.6
            if metres >= least_m and kmh > max_kmh:
                numbers = {
                    "distance_m": round(metres),
                    "elapsed_s": int(seconds),
                    "speed_kmh": round(kmh, 1),
                    "max_speed_kmh": round(max_kmh),
                }
                yield _finding(
                    rules,
                    IMPOSSIBLE_TRAVEL,
                    after.agency_id,
                    after.worker,
                    [before, after],
                    numbers,
                    [before.person, after.person],
                )


# --------------------------------------------------------------------------- across visits


def _pairs(parts: Iterable[PartFact]) -> Iterator[list[PartFact]]:
    """Each worker's parts with one person, in a stable order."""
    groups: dict[tuple[Subject, int], list[PartFact]] = defaultdict(list)
    for p in parts:
        groups[(p.worker, p.person_id)].append(p)
    for key in sorted(groups):
        yield groups[key]


def _share_rule(
    parts: Sequence[PartFact], rules: Rules, code: str, odd: Any, count_name: str
) -> Iterator[Finding]:
    rule = rules[code]
    least, share = rule.num("min_visits"), rule.num("min_share_pct")
    for pair in _pairs(parts):
        flagged = [p for p in pair if odd(p)]
        if flagged and len(flagged) >= least and len(flagged) * 100 >= share * len(pair):
            first = pair[0]
            numbers = {
                count_name: len(flagged),
                "visits": len(pair),
                "share_pct": round(len(flagged) * 100 / len(pair)),
            }
            yield _finding(
                rules, code, first.agency_id, first.worker, flagged, numbers, [first.person]
            )


def not_confirmed(parts: Sequence[PartFact], rules: Rules) -> Iterator[Finding]:
    return _share_rule(parts, rules, NOT_CONFIRMED, lambda p: not p.confirmed, "unconfirmed")


def positions_missing(parts: Sequence[PartFact], rules: Rules) -> Iterator[Finding]:
    return _share_rule(
        parts,
        rules,
        POSITIONS_MISSING,
        lambda p: p.check_in is None or p.check_out is None,
        "missing",
    )


def _points(p: PartFact, decimals: int) -> set[tuple[float, float]]:
    return {
        (round(pos.lat, decimals), round(pos.lon, decimals))
        for pos in (p.check_in, p.check_out)
        if pos is not None
    }


def shared_point(parts: Sequence[PartFact], rules: Rules) -> Iterator[Finding]:
    rule = rules[SHARED_POINT]
    decimals, least = rule.whole("decimals"), rule.num("min_workers")
    at: dict[tuple[int, tuple[float, float]], list[PartFact]] = defaultdict(list)
    for p in parts:
        for point in _points(p, decimals):
            at[(p.person_id, point)].append(p)
    for (person_id, point), found in sorted(at.items()):
        workers = {p.worker for p in found}
        if len(workers) >= least:
            numbers = {
                "workers": len(workers),
                "visits": len({p.visit_id for p in found}),
                "lat": point[0],
                "lon": point[1],
            }
            yield _finding(
                rules,
                SHARED_POINT,
                found[0].agency_id,
                Subject(PERSON, person_id),
                found,
                numbers,
                workers,
            )


def repeated_point(parts: Sequence[PartFact], rules: Rules) -> Iterator[Finding]:
    rule = rules[REPEATED_POINT]
    decimals, least = rule.whole("decimals"), rule.num("min_visits")
    at: dict[tuple[Subject, tuple[float, float]], list[PartFact]] = defaultdict(list)
    for p in parts:
        for point in _points(p, decimals):
            at[(p.worker, point)].append(p)
    for (worker, point), found in sorted(at.items()):
        visits = {p.visit_id for p in found}
        if len(visits) >= least:
            numbers = {"visits": len(visits), "lat": point[0], "lon": point[1]}
            persons = {p.person for p in found}
            yield _finding(
                rules, REPEATED_POINT, found[0].agency_id, worker, found, numbers, persons
            )


def repeated_durations(parts: Sequence[PartFact], rules: Rules) -> Iterator[Finding]:
    least = rules[REPEATED_DURATIONS].num("min_repeats")
    by_worker: dict[Subject, list[PartFact]] = defaultdict(list)
    for p in parts:
        by_worker[p.worker].append(p)
    for worker in sorted(by_worker):
        mine = by_worker[worker]
        same: dict[int, list[PartFact]] = defaultdict(list)
        for p in mine:
            same[p.duration_s].append(p)
        for seconds, found in sorted(same.items()):
            if len(found) >= least:
                numbers = {"duration_s": seconds, "repeats": len(found), "visits": len(mine)}
                persons = {p.person for p in found}
                yield _finding(
                    rules, REPEATED_DURATIONS, found[0].agency_id, worker, found, numbers, persons
                )


def cap_shift(parts: Sequence[PartFact], rules: Rules) -> Iterator[Finding]:
    rule = rules[CAP_SHIFT]
    cap_min = rule.num("monthly_cap_min")
    near_s = cap_min * 60 * rule.num("near_cap_pct") / 100
    least, share = rule.num("min_visits"), rule.num("min_share_pct")
    by_worker: dict[Subject, list[PartFact]] = defaultdict(list)
    for p in parts:
        if p.worker.kind == CAREGIVER:
            by_worker[p.worker].append(p)
    for worker in sorted(by_worker):
        mine = sorted(by_worker[worker], key=lambda p: (p.check_out_at, p.visit_id))
        reached = _reached(mine, near_s)
        if reached is None:
            continue
        persons = {p.person_id for p in mine if p.check_in_at < reached}
        for other in sorted(by_worker):
            theirs = by_worker[other]
            if other == worker or theirs[0].agency_id != mine[0].agency_id:
                continue
            known = {p.person_id for p in theirs if p.check_in_at < reached}
            after = [p for p in theirs if p.check_in_at > reached]
            moved = [p for p in after if p.person_id in persons - known]
            if len(moved) >= least and len(moved) * 100 >= share * len(after):
                numbers = {
                    "cap_min": round(cap_min),
                    "month_min": sum(p.duration_s for p in mine) // 60,
                    "moved_visits": len(moved),
                    "other_visits": len(after),
                    "share_pct": round(len(moved) * 100 / len(after)),
                    "persons": len({p.person_id for p in moved}),
                    "other_id": other.id,
                }
                related = [other, *(p.person for p in moved)]
                yield _finding(rules, CAP_SHIFT, mine[0].agency_id, worker, moved, numbers, related)


def _reached(parts: Sequence[PartFact], near_s: float) -> dt.datetime | None:
    """The check-out at which the worker's running total of seconds reaches ``near_s``."""
    total = 0
    for p in parts:
        total += p.duration_s
        if total >= near_s:
            return p.check_out_at
    return None


CHECKS = {
    OUTSIDE_GEOFENCE: outside_geofence,
    TOO_SHORT: too_short,
    TOO_LONG: too_long,
    OVERLAPPING_VISITS: overlapping_visits,
    IMPOSSIBLE_TRAVEL: impossible_travel,
    QUALIFICATION_EXPIRED: qualification_expired,
    NOT_CONFIRMED: not_confirmed,
    POSITIONS_MISSING: positions_missing,
    SHARED_POINT: shared_point,
    REPEATED_POINT: repeated_point,
    REPEATED_DURATIONS: repeated_durations,
    CAP_SHIFT: cap_shift,
}
