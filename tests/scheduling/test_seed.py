"""Tests of PyVRP's relaxation of a care day (``scheduling._seed``): breaks as clients,
every visit required first, and the neighbourhoods PyVRP searches.

Hand-made days use the line of places of ``test_solve`` (5 minutes apart). PyVRP runs are
bounded by iterations, so they are deterministic.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from pyvrp.search import NeighbourhoodParams, compute_neighbours
from test_solve import cg, checked, day, hm, served_by, visit

from scheduling import _seed
from scheduling._reasons import analyse
from scheduling._routing import DayModel, build
from scheduling.generate import generate_day
from scheduling.problem import Break, DayProblem, Lock
from scheduling.travel import build_travel_times

LUNCH = Break(window=(hm(11), hm(14)), duration_s=1800)


def model(problem: DayProblem) -> DayModel:
    travel = build_travel_times(problem)
    return build(problem, travel, analyse(problem, travel))


def profile_of(relax: _seed._Relaxation) -> dict[int, int]:
    """Each caregiver's PyVRP profile."""
    data = relax.data
    return {k: data.vehicle_type(t).profile for t, ks in enumerate(relax.members) for k in ks}


@pytest.fixture
def shared_profiles(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every day too big for break clients and for a profile of each caregiver's own."""
    monkeypatch.setattr(_seed, "_MAX_PROFILE_BYTES", 0)
    monkeypatch.setattr(_seed, "_MAX_OWN_PROFILE_BYTES", 0)


def break_clients(relax: _seed._Relaxation) -> list[Any]:
    data = relax.data
    return [data.client(c) for c in range(len(relax.client_nodes), data.num_clients)]


def test_each_break_is_a_required_client_in_its_window() -> None:
    problem = day([cg("a", breaks=(LUNCH,)), cg("b", at=9)], [visit("v", 3)])
    relax = _seed._relaxation(model(problem))
    (lunch,) = break_clients(relax)
    assert (lunch.tw_early, lunch.tw_late, lunch.service_duration) == (hm(11), hm(13, 30), 1800)
    assert lunch.required


def test_only_its_caregiver_may_take_a_break() -> None:
    problem = day([cg("a", breaks=(LUNCH,)), cg("b", at=5, breaks=(LUNCH,))], [visit("v", 3)])
    m = model(problem)
    relax = _seed._relaxation(m)
    data = relax.data
    into = {}
    for t, ks in enumerate(relax.members):
        durations = data.duration_matrix(data.vehicle_type(t).profile)
        for k in ks:
            into[k] = [int(durations[0, c.location]) for c in break_clients(relax)]
    assert [into[0][0], into[1][1]] == [0, 0]
    assert min(into[0][1], into[1][0]) >= _seed._BIG


def test_every_route_starts_out_holding_its_own_breaks() -> None:
    problem = day(
        [cg("a", breaks=(LUNCH,)), cg("b", at=9), cg("c", at=5, breaks=(LUNCH,))],
        [visit("v", 3)],
    )
    relax = _seed._relaxation(model(problem))
    first = len(relax.client_nodes)
    held = {relax.members[t][0]: clients for t, clients in relax.start}
    assert held == {0: [first], 2: [first + 1]}


def test_leaving_a_break_takes_the_mean_of_the_shortest_arcs_into_the_next_visit() -> None:
    travel = np.array([[0, 1, 5, 9], [2, 0, 3, 9], [4, 6, 0, 9], [8, 7, 1, 0]])
    # into node 0: arcs 2, 4, 8; into 1: 1, 6, 7; into 2: 5, 3, 1; into 3: 9, 9, 9
    assert _seed._after_break(travel).tolist() == [4, 4, 3, 9]


def test_break_clients_stay_out_of_the_visits_neighbourhoods() -> None:
    """At no travel from anywhere, each break would be every visit's nearest client: with
    PyVRP's own neighbourhoods most of a visit's neighbours are breaks."""
    relax = _seed._relaxation(model(generate_day(200, seed=3)))
    visits = len(relax.client_nodes)

    def share_of_breaks(neighbours: dict[Any, list[Any]]) -> float:
        lists = [ns for a, ns in neighbours.items() if a.idx < visits]
        found = sum(1 for ns in lists for b in ns if b.idx >= visits)
        return found / sum(len(ns) for ns in lists)

    assert share_of_breaks(compute_neighbours(relax.data, NeighbourhoodParams())) > 0.5
    assert share_of_breaks(_seed._neighbours(relax.data)) < 0.2


def test_a_day_that_can_hold_every_visit_gets_them_all() -> None:
    problem = day(
        [cg("a", breaks=(LUNCH,)), cg("b", at=8, breaks=(LUNCH,))],
        [visit(f"v{i}", i, (hm(8), hm(16))) for i in range(1, 11)],
    )
    m = model(problem)
    result = _seed.seed(m, 0, max_runtime_s=None, max_iterations=200)
    assert result is not None
    assert result.feasible
    routed = sorted(m.nodes.visit[n] for r in result.routes for n in r)
    assert routed == list(range(10))


def test_a_day_that_cannot_hold_every_visit_falls_back_to_prizes() -> None:
    """Two visits at the same hour at the two ends of the line, and one caregiver: with
    both required no plan is feasible, so the visits become optional and one is kept."""
    at_nine = (hm(9), hm(9))
    problem = day([cg("a", at=5)], [visit("v1", 0, at_nine), visit("v2", 11, at_nine)])
    m = model(problem)
    result = _seed.seed(m, 0, max_runtime_s=None, max_iterations=200)
    assert result is not None
    assert result.feasible
    assert sum(len(r) for r in result.routes) == 1


def test_on_a_day_too_big_for_a_profile_each_breaks_shorten_the_span_and_visits_have_prizes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_seed, "_MAX_PROFILE_BYTES", 0)
    problem = day([cg("a", breaks=(LUNCH,))], [visit("v", 3)])
    relax = _seed._relaxation(model(problem))
    assert relax.data.num_clients == len(relax.client_nodes)
    assert relax.data.vehicle_type(0).shift_duration == hm(17) - hm(8) - 1800
    assert relax.prizes
    assert not relax.data.client(0).required


def test_own_profiles_carry_continuity_on_a_day_too_big_for_break_clients(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_seed, "_MAX_PROFILE_BYTES", 0)
    problem = day(
        [cg("a"), cg("b", at=9)],
        [visit("v1", 3, preferred_caregivers=("b",)), visit("v2", 6)],
    )
    relax = _seed._relaxation(model(problem))
    data = relax.data
    profile = profile_of(relax)
    v1, v2 = (data.client(c).location for c in range(2))

    def miss_cost(k: int, frm: int, to: int) -> int:
        distance = np.asarray(data.distance_matrix(profile[k]))[frm, to]
        duration = np.asarray(data.duration_matrix(profile[k]))[frm, to]
        return int(distance - duration)

    assert miss_cost(0, v2, v1) > 0
    assert miss_cost(1, v2, v1) == 0
    assert miss_cost(0, v1, v2) == miss_cost(1, v1, v2) == 0


@pytest.mark.usefixtures("shared_profiles")
def test_on_a_day_too_big_for_a_profile_each_alike_caregivers_share_one() -> None:
    """Alike: mode, skills, gender, volunteer and the half for two-staff visits (index
    parity). An exclusion or another shift no longer makes a profile of its own."""
    nursing = frozenset({"personal_care", "nursing"})
    caregivers = [
        cg("a"),
        cg("b", at=3),
        cg("c", at=6, shift=(hm(9), hm(17))),
        cg("d", at=9, skills=nursing),
    ]
    visits = [
        visit("v1", 2, excluded_caregivers=frozenset({"a"})),
        visit("v2", 5),
        visit("v3", 8, skills=frozenset({"nursing"})),
    ]
    profile = profile_of(_seed._relaxation(model(day(caregivers, visits))))
    # b is in the other half, which matters only with two-staff visits (none here).
    assert profile[0] == profile[1] == profile[2]
    assert profile[3] != profile[0]


def test_on_a_day_too_big_for_a_profile_each_two_staff_split_by_index_parity() -> None:
    problem = day([cg(x, at=i) for i, x in enumerate("abcd")], [visit("pair", 5, staff=2)])
    m = model(problem)
    allowed = _seed._allowed(m, m.nodes.count, [], coarse=True)
    ((first,), (second,)) = m.nodes.of_visit[0]
    assert [bool(allowed[k][first]) for k in range(4)] == [True, False, True, False]
    assert [bool(allowed[k][second]) for k in range(4)] == [False, True, False, True]


@pytest.mark.usefixtures("shared_profiles")
def test_a_plan_from_shared_profiles_still_holds_every_rule() -> None:
    """A shared profile lets PyVRP route a caregiver to a visit it may not serve (here
    the client excludes "a", the nearest); the repair takes it off."""
    caregivers = [cg("a", at=2), cg("b", at=9), cg("c", at=4)]
    visits = [visit("v1", 2, excluded_caregivers=frozenset({"a"})), visit("v2", 8)]
    who = served_by(checked(day(caregivers, visits)))
    assert set(who) == {"v1", "v2"}
    assert who["v1"] != ["a"]


@pytest.mark.usefixtures("shared_profiles")
def test_a_lock_holds_when_the_locked_caregiver_shares_a_profile() -> None:
    """The class's profile lets PyVRP give the locked visit to a classmate nearer to it;
    the repair takes it off, and it goes back to the caregiver it is locked to."""
    caregivers = [cg("near", at=2), cg("b", at=9), cg("far", at=10)]
    problem = day(caregivers, [visit("v1", 2), visit("v2", 3)], locks=[Lock("v1", "far")])
    who = served_by(checked(problem))
    assert who["v1"] == ["far"]
    assert "v2" in who


def test_a_generated_day_solved_with_shared_profiles_holds_every_rule(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two-staff visits, breaks, skills, gender, exclusions and volunteers, with the
    caregivers sharing profiles by class."""
    problem = generate_day(100, seed=2)
    m = model(problem)
    monkeypatch.setattr(_seed, "_MAX_PROFILE_BYTES", 0)
    own = _seed._relaxation(m).data.num_profiles
    monkeypatch.setattr(_seed, "_MAX_OWN_PROFILE_BYTES", 0)
    assert _seed._relaxation(m).data.num_profiles < own
    who = served_by(checked(problem))
    assert any(v.id in who for v in problem.visits if v.staff == 2)
