"""The anomaly rules one by one, on hand-made facts: each just inside and just outside its
thresholds (read from the shipped rules file), and the rules file's validation."""

from __future__ import annotations

import copy
import datetime as dt
import json
import math
from collections.abc import Sequence
from dataclasses import replace
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from app.services import anomaly_rules as ar
from app.services.anomaly_rules import PartFact, Position, Rules, Subject

TZ = ZoneInfo("Asia/Shanghai")
DAY = dt.date(2026, 10, 6)
HOME = (32.0, 120.9)
RAW = json.loads(ar.RULES_FILE.read_text(encoding="utf-8"))
RULES = ar.parse_rules(RAW)
CG1, CG2, CG3 = (Subject("caregiver", n) for n in (1, 2, 3))
VOL = Subject("volunteer", 9)


def num(code: str, name: str) -> float:
    return RULES[code].num(name)


def moved(
    point: tuple[float, float], north_m: float = 0.0, east_m: float = 0.0, accuracy: float = 10.0
) -> Position:
    """A position ``north_m``/``east_m`` metres from ``point``."""
    lat = point[0] + north_m / 111_195
    lon = point[1] + east_m / (111_195 * math.cos(math.radians(point[0])))
    return Position(lat, lon, accuracy)


def at(hhmm: str, day: dt.date = DAY) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.fromisoformat(hhmm), tzinfo=TZ).astimezone(dt.UTC)


def part(
    visit_id: int = 1,
    *,
    worker: Subject = CG1,
    person: int = 10,
    home: tuple[float, float] = HOME,
    day: dt.date = DAY,
    start: str = "09:00",
    seconds: int = 45 * 60,
    planned: int = 45,
    check_in: Position | None | str = "home",
    check_out: Position | None | str = "home",
    confirmed: bool = True,
    skill: str = "personal_care",
    held: bool | None = True,
    expires: dt.date | None = None,
    agency: int = 1,
) -> PartFact:
    begin = at(start, day)
    return PartFact(
        visit_id=visit_id,
        agency_id=agency,
        day=day,
        person_id=person,
        home_lat=home[0],
        home_lon=home[1],
        worker=worker,
        planned_min=planned,
        check_in_at=begin,
        check_out_at=begin + dt.timedelta(seconds=seconds),
        check_in=_fix(home, visit_id, 1) if check_in == "home" else check_in,  # type: ignore[arg-type]
        check_out=_fix(home, visit_id, 2) if check_out == "home" else check_out,  # type: ignore[arg-type]
        confirmed=confirmed,
        skill=skill,
        skill_held=None if worker.kind == "volunteer" else held,
        skill_expires_on=expires,
    )


def _fix(home: tuple[float, float], visit_id: int, n: int) -> Position:
    """An honest fix a few metres from the home, different for every visit and action."""
    angle = visit_id * 2.4 + n
    return moved(home, 2 + 5 * math.sin(angle), 3 * math.cos(angle * 1.7))


def found(parts: list[PartFact], code: str, rules: Rules = RULES) -> list[ar.Finding]:
    return [f for f in ar.detect(parts, rules) if f.rule == code]


def test_an_honest_day_has_no_findings() -> None:
    day = [
        part(1, start="08:30", home=HOME),
        part(2, start="09:40", home=(32.004, 120.9), person=11),
        part(3, start="10:50", home=(32.008, 120.9), person=12),
    ]
    assert ar.detect(day, RULES) == []


# --- outside_geofence -------------------------------------------------------------------


def test_check_in_just_outside_the_fence_after_the_accuracy_allowance() -> None:
    fence = num("outside_geofence", "geofence_m")
    accuracy = 30.0
    just_out = moved(HOME, fence + accuracy + 2, accuracy=accuracy)
    just_in = moved(HOME, fence + accuracy - 2, accuracy=accuracy)

    flagged = found([part(1, check_in=just_out)], "outside_geofence")
    assert found([part(2, check_in=just_in)], "outside_geofence") == []

    assert [(f.subject, f.visit_ids) for f in flagged] == [(CG1, (1,))]
    assert flagged[0].numbers == {
        "check_in_m": round(fence + accuracy + 2),
        "check_in_accuracy_m": 30,
        "geofence_m": round(fence),
    }
    assert flagged[0].severity == RULES["outside_geofence"].severity
    assert flagged[0].related == (Subject("person", 10),)


def test_a_vague_position_earns_no_more_than_the_allowance() -> None:
    fence = num("outside_geofence", "geofence_m")
    allowance = num("outside_geofence", "accuracy_allowance_m")
    vague = moved(HOME, fence + allowance + 20, accuracy=400.0)
    assert len(found([part(check_out=vague)], "outside_geofence")) == 1
    assert "check_out_m" in found([part(check_out=vague)], "outside_geofence")[0].numbers


def test_missing_positions_are_not_judged_for_the_geofence() -> None:
    assert found([part(check_in=None, check_out=None)], "outside_geofence") == []


# --- too_short / too_long -----------------------------------------------------------------


def test_too_short_starts_below_the_minimum_share() -> None:
    least = round(45 * 60 * num("too_short", "min_pct") / 100)
    assert found([part(seconds=least)], "too_short") == []
    short = found([part(seconds=least - 1)], "too_short")
    assert [f.visit_ids for f in short] == [(1,)]
    assert short[0].numbers == {"duration_min": (least - 1) // 60, "planned_min": 45, "pct": 80}


def test_too_long_starts_above_the_maximum_share() -> None:
    most = round(45 * 60 * num("too_long", "max_pct") / 100)
    assert found([part(seconds=most)], "too_long") == []
    assert [f.numbers["duration_min"] for f in found([part(seconds=most + 1)], "too_long")] == [
        most // 60
    ]


# --- overlapping_visits ------------------------------------------------------------------


def test_overlap_of_the_minimum_is_flagged_and_a_second_less_is_not() -> None:
    least = int(num("overlapping_visits", "min_overlap_min") * 60)
    first = part(1, start="09:00", seconds=3600)
    exactly = part(2, person=11, start="09:00", seconds=3600)
    exactly = _shifted(exactly, 3600 - least)
    almost = _shifted(part(3, person=12, start="09:00", seconds=3600), 3600 - least + 1)

    flagged = found([first, exactly], "overlapping_visits")
    assert [(f.visit_ids, f.numbers["overlap_min"]) for f in flagged] == [((1, 2), least // 60)]
    assert found([first, almost], "overlapping_visits") == []


def _shifted(p: PartFact, seconds: int) -> PartFact:
    delta = dt.timedelta(seconds=seconds)
    return replace(p, check_in_at=p.check_in_at + delta, check_out_at=p.check_out_at + delta)


def test_a_long_visit_overlapping_two_others_makes_two_findings_and_days_are_apart() -> None:
    long_one = part(1, start="09:00", seconds=3 * 3600)
    inside = [part(2, person=11, start="09:30"), part(3, person=12, start="11:00")]
    other_worker = part(4, worker=CG2, start="09:30")
    next_day = part(5, start="09:30", day=DAY + dt.timedelta(days=1))
    flagged = found([long_one, *inside, other_worker, next_day], "overlapping_visits")
    assert [f.visit_ids for f in flagged] == [(1, 2), (1, 3)]


# --- impossible_travel -------------------------------------------------------------------


def _hop(metres: float, seconds: int, **kwargs: Any) -> list[PartFact]:
    """A visit 09:00-09:30, then one ``metres`` north checked in ``seconds`` later."""
    there = (HOME[0] + metres / 111_195, HOME[1])
    before = part(1, start="09:00", seconds=1800)
    after = part(2, person=11, home=there, start="09:30", **kwargs)
    return [before, _shifted(after, seconds)]


def test_five_km_in_three_minutes_is_impossible() -> None:
    flagged = found(_hop(5000, 180), "impossible_travel")
    assert [f.visit_ids for f in flagged] == [(1, 2)]
    numbers = flagged[0].numbers
    assert numbers["elapsed_s"] == 180
    assert 4950 < int(numbers["distance_m"]) < 5000  # less both accuracies
    assert float(numbers["speed_kmh"]) > num("impossible_travel", "max_speed_kmh")


def test_five_km_in_half_an_hour_is_an_e_bike() -> None:
    assert found(_hop(5000, 1800), "impossible_travel") == []


def test_short_hops_are_below_the_minimum_distance() -> None:
    least = num("impossible_travel", "min_distance_m")
    assert found(_hop(least - 100, 5), "impossible_travel") == []
    assert len(found(_hop(least + 100, 5), "impossible_travel")) == 1


def test_overlapping_parts_and_missing_fixes_are_left_to_other_rules() -> None:
    overlapping = _hop(5000, -600)
    assert found(overlapping, "impossible_travel") == []
    assert found(_hop(5000, 180, check_in=None), "impossible_travel") == []


def test_without_a_check_out_fix_the_check_in_fix_and_time_count() -> None:
    there = (HOME[0] + 12_000 / 111_195, HOME[1])
    before = part(1, start="09:00", seconds=300, check_out=None)
    after = part(2, person=11, home=there, start="09:08")
    flagged = found([before, after], "impossible_travel")
    assert [f.numbers["elapsed_s"] for f in flagged] == [8 * 60]  # from the 09:00 check-in


# --- qualification_expired -----------------------------------------------------------------


def test_a_certificate_expired_the_day_before_is_flagged_and_the_same_day_is_not() -> None:
    yesterday = DAY - dt.timedelta(days=1)
    flagged = found([part(skill="nursing", expires=yesterday)], "qualification_expired")
    assert [f.numbers for f in flagged] == [
        {"skill": "nursing", "held": 1, "expired_on": yesterday.isoformat(), "days_expired": 1}
    ]
    assert found([part(skill="nursing", expires=DAY)], "qualification_expired") == []


def test_a_skill_not_held_is_flagged_and_volunteers_are_not_judged() -> None:
    flagged = found([part(skill="rehab", held=False)], "qualification_expired")
    assert [f.numbers for f in flagged] == [{"skill": "rehab", "held": 0}]
    assert found([part(worker=VOL, skill="companionship")], "qualification_expired") == []


# --- not_confirmed / positions_missing ----------------------------------------------------


def _month(n: int, odd: int, **odd_kwargs: Any) -> list[PartFact]:
    """``n`` visits of CG1 to person 10 on successive days, the first ``odd`` with kwargs."""
    return [
        part(k + 1, day=DAY + dt.timedelta(days=k), **(odd_kwargs if k < odd else {}))
        for k in range(n)
    ]


@pytest.mark.parametrize(
    ("visits", "unconfirmed", "flagged"),
    [(4, 4, True), (3, 3, False), (6, 4, False), (8, 6, True), (8, 5, False)],
)
def test_not_confirmed_needs_both_the_count_and_the_share(
    visits: int, unconfirmed: int, flagged: bool
) -> None:
    assert num("not_confirmed", "min_visits") == 4
    assert num("not_confirmed", "min_share_pct") == 75
    result = found(_month(visits, unconfirmed, confirmed=False), "not_confirmed")
    if flagged:
        assert [f.visit_ids for f in result] == [tuple(range(1, unconfirmed + 1))]
        assert result[0].numbers == {
            "unconfirmed": unconfirmed,
            "visits": visits,
            "share_pct": round(unconfirmed * 100 / visits),
        }
    else:
        assert result == []


def test_not_confirmed_counts_each_person_apart() -> None:
    mixed = [replace(p, person_id=10 + p.visit_id % 2) for p in _month(8, 8, confirmed=False)]
    flagged = found(mixed, "not_confirmed")
    assert {(f.related, f.visit_ids) for f in flagged} == {
        ((Subject("person", 10),), (2, 4, 6, 8)),
        ((Subject("person", 11),), (1, 3, 5, 7)),
    }


def test_positions_missing_counts_a_missing_check_in_or_check_out() -> None:
    parts = _month(3, 2, check_in=None) + [
        part(5, day=DAY + dt.timedelta(days=5), check_out=None),
        part(6, day=DAY + dt.timedelta(days=6), check_in=None, check_out=None),
    ]
    assert [f.visit_ids for f in found(parts, "positions_missing")] == [(1, 2, 5, 6)]
    assert found(_month(4, 2, check_in=None), "positions_missing") == []


# --- shared_point / repeated_point ------------------------------------------------------


FAKE = Position(32.00009, 120.90004, 5.0)


def test_three_workers_at_exactly_one_point_of_one_home() -> None:
    parts = [
        part(1, worker=CG1, check_in=FAKE, check_out=FAKE),
        part(2, worker=CG2, day=DAY + dt.timedelta(days=1), check_in=FAKE),
        part(3, worker=CG3, day=DAY + dt.timedelta(days=2), check_out=FAKE),
    ]
    flagged = found(parts, "shared_point")
    assert [(f.subject, f.visit_ids, f.related) for f in flagged] == [
        (Subject("person", 10), (1, 2, 3), (CG1, CG2, CG3))
    ]
    assert flagged[0].numbers == {"workers": 3, "visits": 3, "lat": 32.00009, "lon": 120.90004}
    assert found(parts[:2], "shared_point") == []


def test_points_apart_in_the_sixth_decimal_or_at_other_homes_are_not_shared() -> None:
    near = Position(FAKE.lat + 0.000002, FAKE.lon, 5.0)
    apart = [
        part(1, worker=CG1, check_in=FAKE),
        part(2, worker=CG2, check_in=FAKE),
        part(3, worker=CG3, check_in=near),
    ]
    other_home = [
        part(4, worker=CG1, check_in=FAKE),
        part(5, worker=CG2, check_in=FAKE),
        part(6, worker=CG3, check_in=FAKE, person=11),
    ]
    assert found(apart, "shared_point") == []
    assert found(other_home, "shared_point") == []


def test_one_worker_replaying_one_point_in_three_visits() -> None:
    least = int(num("repeated_point", "min_visits"))
    days = [DAY + dt.timedelta(days=k) for k in range(least)]
    replayed = [part(k + 1, day=d, check_in=FAKE, check_out=FAKE) for k, d in enumerate(days)]
    flagged = found(replayed, "repeated_point")
    assert [(f.subject, f.visit_ids) for f in flagged] == [(CG1, tuple(range(1, least + 1)))]
    assert flagged[0].numbers["visits"] == least
    assert found(replayed[:-1], "repeated_point") == []


# --- repeated_durations -------------------------------------------------------------------


def test_identical_durations_to_the_second() -> None:
    least = int(num("repeated_durations", "min_repeats"))
    same = [part(k + 1, day=DAY + dt.timedelta(days=k), seconds=2711) for k in range(least)]
    flagged = found(same, "repeated_durations")
    assert [(f.visit_ids, f.numbers) for f in flagged] == [
        (tuple(range(1, least + 1)), {"duration_s": 2711, "repeats": least, "visits": least})
    ]
    one_off = [*same[:-1], replace(same[-1], check_out_at=same[-1].check_out_at + _s(1))]
    assert found(one_off, "repeated_durations") == []


def _s(seconds: int) -> dt.timedelta:
    return dt.timedelta(seconds=seconds)


# --- cap_shift ----------------------------------------------------------------------------


def _capped_month(
    after_b: Sequence[tuple[int, int]], before_b: Sequence[int] = ()
) -> list[PartFact]:
    """CG1 works five 72-minute visits a day for 20 days with persons 100-104 and passes
    the near-cap point on day ``_near_cap_day()``; CG2 serves person 200 on days 0-4, the
    persons ``before_b`` on days 0.., then the ``after_b`` (day, person) visits."""
    parts = []
    n = 0
    for d in range(20):
        for k in range(5):
            n += 1
            start = f"{8 + k * 80 // 60:02d}:{k * 80 % 60:02d}"
            day = DAY + dt.timedelta(days=d)
            parts.append(part(n, day=day, start=start, seconds=72 * 60, person=100 + k))
    b_visits = [(d, 200) for d in range(5)] + list(enumerate(before_b))
    for (d, person), start in [(v, "15:00") for v in b_visits] + [(v, "16:00") for v in after_b]:
        n += 1
        day = DAY + dt.timedelta(days=d)
        parts.append(part(n, worker=CG2, day=day, start=start, person=person))
    return parts


def _near_cap_day() -> int:
    near_min = num("cap_shift", "monthly_cap_min") * num("cap_shift", "near_cap_pct") / 100
    return math.ceil(near_min / (5 * 72)) - 1  # 5 visits of 72 min a day, from day 0


def test_hours_over_the_cap_reappearing_under_another_id() -> None:
    reached = _near_cap_day()
    assert reached < 17
    later = [(reached + 1, 100), (reached + 2, 101), (reached + 3, 102)]
    flagged = found(_capped_month(later), "cap_shift")
    assert len(flagged) == 1
    f = flagged[0]
    assert (f.subject, f.related[0]) == (CG1, CG2)
    assert {p.id for p in f.related[1:]} == {100, 101, 102}
    assert f.numbers["moved_visits"] == 3
    assert f.numbers["share_pct"] == 100
    assert f.numbers["cap_min"] == num("cap_shift", "monthly_cap_min")


def test_no_cap_shift_below_the_count_the_share_or_for_persons_already_known() -> None:
    reached = _near_cap_day()
    two = [(reached + 1, 100), (reached + 2, 101)]
    diluted = [*two, (reached + 3, 102), (reached + 3, 200), (reached + 4, 200), (reached + 5, 200)]
    known = [(reached + 1, 100), (reached + 2, 101), (reached + 3, 102)]
    assert found(_capped_month(two), "cap_shift") == []
    assert found(_capped_month(diluted), "cap_shift") == []  # 3 of 6: below 60 %
    assert found(_capped_month(known, before_b=[100, 101, 102]), "cap_shift") == []


def test_no_cap_shift_without_reaching_the_cap_or_across_agencies() -> None:
    reached = _near_cap_day()
    later = [(reached + 1, 100), (reached + 2, 101), (reached + 3, 102)]
    parts = _capped_month(later)
    short_month = [p for p in parts if p.worker != CG1 or p.day < DAY + dt.timedelta(days=10)]
    assert found(short_month, "cap_shift") == []
    elsewhere = [replace(p, agency_id=2) if p.worker == CG2 else p for p in parts]
    assert found(elsewhere, "cap_shift") == []


# --- the rules file -------------------------------------------------------------------------


def test_the_shipped_file_names_every_rule_once() -> None:
    assert set(RAW["rules"]) == set(ar.RULE_CODES) == set(ar.CHECKS)
    assert ar.load_rules() is ar.load_rules()


def test_a_disabled_rule_finds_nothing() -> None:
    raw = copy.deepcopy(RAW)
    raw["rules"]["too_short"]["enabled"] = False
    assert found([part(seconds=60)], "too_short", ar.parse_rules(raw)) == []
    assert len(found([part(seconds=60)], "too_short")) == 1


@pytest.mark.parametrize(
    ("change", "path"),
    [
        (lambda r: r.update(format="x"), "$.format"),
        (lambda r: r["rules"].pop("cap_shift"), "$.rules.cap_shift"),
        (lambda r: r["rules"].update(nope={"severity": "low"}), "$.rules.nope"),
        (lambda r: r["rules"]["too_short"].update(min_pct=-1), "$.rules.too_short.min_pct"),
        (lambda r: r["rules"]["too_short"].update(min_pct="80"), "$.rules.too_short.min_pct"),
        (lambda r: r["rules"]["too_short"].update(severity="dire"), "$.rules.too_short.severity"),
        (lambda r: r["rules"]["too_short"].update(extra=1), "$.rules.too_short.extra"),
        (lambda r: r["rules"]["too_short"].update(enabled="no"), "$.rules.too_short.enabled"),
    ],
)
def test_a_malformed_rules_file_names_the_path_at_fault(change: Any, path: str) -> None:
    raw = copy.deepcopy(RAW)
    change(raw)
    with pytest.raises(ar.RulesError) as caught:
        ar.parse_rules(raw)
    assert caught.value.path == path
