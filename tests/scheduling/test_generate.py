"""The seeded Nantong day generator: determinism, proportions, plausibility."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from geopy.distance import geodesic

from scheduling.check import check
from scheduling.generate import DISTRICTS, UNPLANTED_REASON, generate_day, generate_day_with_witness
from scheduling.io import dump_problem, load_problem, parse_json
from scheduling.problem import Caregiver, DayProblem, Visit


def share(visits: tuple[Visit, ...], pred: object) -> float:
    assert callable(pred)
    return sum(1 for v in visits if pred(v)) / len(visits)


def test_same_seed_same_day() -> None:
    a = generate_day(150, seed=7)
    b = generate_day(150, seed=7)
    assert a == b
    assert json.dumps(dump_problem(a)) == json.dumps(dump_problem(b))


def test_different_seeds_differ() -> None:
    assert generate_day(50, seed=1) != generate_day(50, seed=2)


def test_date_and_counts_can_be_chosen() -> None:
    p = generate_day(30, seed=0, date=dt.date(2027, 1, 5), n_caregivers=9, n_volunteers=2)
    assert p.date == dt.date(2027, 1, 5)
    assert len(p.visits) == 30
    assert len(p.caregivers) == 9
    assert sum(c.volunteer for c in p.caregivers) == 2


@pytest.mark.parametrize(("kwargs"), [{"n_visits": -1}, {"n_caregivers": 3, "n_volunteers": 4}])
def test_impossible_counts_are_refused(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="must be|n_volunteers"):
        generate_day(**kwargs)


def test_staff_scales_with_visits(day_400: DayProblem) -> None:
    assert len(day_400.visits) == 400
    assert 68 <= len(day_400.caregivers) <= 74
    assert 6 <= sum(c.volunteer for c in day_400.caregivers) <= 10
    big = generate_day(1000, seed=3)
    assert 170 <= len(big.caregivers) <= 185


def test_visit_mix_proportions(day_400: DayProblem) -> None:
    vs = day_400.visits
    assert share(vs, lambda v: "nursing" in v.skills) == pytest.approx(0.20, abs=0.05)
    assert share(vs, lambda v: v.staff == 2) == pytest.approx(0.05, abs=0.025)
    assert share(vs, lambda v: v.gender is not None) == pytest.approx(0.25, abs=0.06)
    assert share(vs, lambda v: bool(v.preferred_caregivers)) == pytest.approx(0.70, abs=0.06)
    assert 0.0 < share(vs, lambda v: len(v.windows) == 2) < 0.08
    assert {v.priority for v in vs} == {1, 2, 3}


def test_windows_and_durations(day_400: DayProblem) -> None:
    for v in day_400.visits:
        assert 20 <= v.duration_min <= 90
        for a, b in v.windows:
            assert 3600 <= b - a <= 3 * 3600
            assert a >= 8 * 3600
        if len(v.windows) == 2:
            assert v.windows[0][1] < v.windows[1][0]


def test_caregivers_shifts_breaks_and_modes(day_400: DayProblem) -> None:
    staff = [c for c in day_400.caregivers if not c.volunteer]
    for c in staff:
        assert 7 * 3600 + 1800 <= c.shift[0] <= 8 * 3600 + 1800
        assert 8 * 3600 <= c.shift[1] - c.shift[0] <= 9 * 3600
        (lunch,) = c.breaks
        assert lunch.window == (11 * 3600, 14 * 3600)
        assert 30 * 60 <= lunch.duration_s <= 60 * 60
    modes = [c.mode for c in staff]
    assert modes.count("ebike") > 0.7 * len(staff)
    assert 0 < modes.count("car") < modes.count("ebike")
    assert modes.count("walk") > 0


def test_volunteers_only_fit_companionship(day_400: DayProblem) -> None:
    volunteers = [c for c in day_400.caregivers if c.volunteer]
    assert volunteers
    for c in volunteers:
        assert c.skills == frozenset({"companionship"})
    for v in day_400.visits:
        assert v.volunteer_ok == (v.skills == frozenset({"companionship"}))


def can_serve(c: Caregiver, v: Visit) -> bool:
    return (
        v.skills <= c.skills
        and (v.gender is None or v.gender == c.gender)
        and c.id not in v.excluded_caregivers
        and (v.volunteer_ok or not c.volunteer)
    )


def test_preferred_caregivers_are_plausible(day_400: DayProblem) -> None:
    caregivers = {c.id: c for c in day_400.caregivers}
    for v in day_400.visits:
        for cid in v.preferred_caregivers:
            assert can_serve(caregivers[cid], v), (v.id, cid)
            assert geodesic(caregivers[cid].start, v.location).km < 10.1


def test_places_cluster_around_district_centres(day_400: DayProblem) -> None:
    places = [v.location for v in day_400.visits] + [c.start for c in day_400.caregivers]
    nearest = [min(geodesic(p, d.centre).km for d in DISTRICTS) for p in places]
    assert max(nearest) <= 10.1
    assert sum(km <= 5 for km in nearest) > 0.8 * len(places)


def test_generated_day_round_trips_through_json(small_day: DayProblem) -> None:
    text = json.dumps(dump_problem(small_day))
    assert load_problem(parse_json(text)) == small_day


@pytest.mark.parametrize(("n_visits", "seed"), [(400, 0), (400, 1), (400, 2), (60, 5), (1000, 3)])
def test_the_witness_is_a_valid_plan_serving_every_visit(n_visits: int, seed: int) -> None:
    generated = generate_day_with_witness(n_visits, seed)
    report = check(generated.problem, generated.witness)
    assert report.ok, report.violations[:3]
    assert report.kpis.assigned == n_visits
    assert generated.witness.unassigned == ()
    assert generated.problem == generate_day(n_visits, seed)


def test_too_few_caregivers_leave_visits_no_witness_holds() -> None:
    generated = generate_day_with_witness(120, 4, n_caregivers=6, n_volunteers=1)
    report = check(generated.problem, generated.witness)
    assert report.ok, report.violations[:3]
    assert len(generated.problem.visits) == 120
    out = generated.witness.unassigned
    assert out
    assert {u.reason for u in out} == {UNPLANTED_REASON}
    assert report.kpis.assigned + len(out) == 120
