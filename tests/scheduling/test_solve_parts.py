"""Tests of the solver's private parts: the pre-analysis reasons and exact route timing.

They use the day builders of ``test_solve`` (a line of places 5 minutes apart).
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from test_solve import cg, closed_model, day, hm, read, visit

from scheduling._builder import Builder
from scheduling._construct import construct
from scheduling._extract import read_routes
from scheduling._portfolio import (
    _CARE_OUT_SEARCH_SHARE,
    _CARE_OUT_WALK_SHARE,
    _POOL_STEPS,
    _READ_LIMIT_S,
    _for_cost_only,
    _refill,
    _search,
    _search_s,
    _walk_steps,
)
from scheduling._reasons import VisitScope, analyse, capacity_reason, merge_windows
from scheduling._routing import COST_SCALE, DayModel, ModelOptions, build
from scheduling._search import Watch, assigned_count, is_vrptw, search_parameters
from scheduling._timing import RouteTimer, Slack
from scheduling.check import check
from scheduling.generate import generate_day
from scheduling.problem import Break, DayProblem, Lock, Route, Stop
from scheduling.solve import SolveParams, solve
from scheduling.travel import build_travel_times

FAST_READ = SolveParams(time_limit_s=20.0, solution_limit=10)


def scopes_of(problem: DayProblem) -> tuple[VisitScope, ...]:
    return analyse(problem, build_travel_times(problem))


def test_reason_names_every_missing_skill() -> None:
    problem = day([cg("a")], [visit("v", 1, skills=frozenset({"nursing", "wound_care"}))])
    (scope,) = scopes_of(problem)
    assert scope.reason == "no caregiver has skills 'nursing', 'wound_care' on this day"


def test_reason_when_skills_exist_only_apart() -> None:
    problem = day(
        [cg("a", skills=frozenset({"nursing"})), cg("b", skills=frozenset({"bathing"}))],
        [visit("v", 1, skills=frozenset({"nursing", "bathing"}))],
    )
    (scope,) = scopes_of(problem)
    assert scope.reason == "no caregiver has all of the skills 'bathing', 'nursing' on this day"


def test_reason_when_only_volunteers_qualify() -> None:
    company = frozenset({"companionship"})
    problem = day([cg("vol", skills=company, volunteer=True)], [visit("v", 1, skills=company)])
    (scope,) = scopes_of(problem)
    assert scope.reason == (
        "only volunteers qualify with skills 'companionship' and the visit is not open to "
        "volunteers"
    )


def test_reason_when_the_client_excludes_everyone() -> None:
    problem = day([cg("a"), cg("b")], [visit("v", 1, excluded_caregivers=frozenset({"a", "b"}))])
    (scope,) = scopes_of(problem)
    assert scope.reason == "the client excludes every eligible caregiver (a, b)"


def test_reason_for_a_lock_to_an_unknown_caregiver() -> None:
    problem = day([cg("a")], [visit("v", 1)], locks=[Lock("v", "ghost")])
    (scope,) = scopes_of(problem)
    assert scope.reason == "locked to unknown caregiver 'ghost'"


def test_scope_keeps_only_reachable_windows_and_caregivers() -> None:
    # "late" starts at 12:00, so the 09:00-10:00 window is reachable by "early" alone.
    problem = day(
        [cg("early"), cg("late", shift=(hm(12), hm(17)))],
        [visit("v", 2, windows=((hm(9), hm(10)), (hm(14), hm(15))))],
    )
    (scope,) = scopes_of(problem)
    assert scope.allowed == (0, 1)
    assert scope.windows == ((hm(9), hm(10)), (hm(14), hm(15)))
    problem = day([cg("late", shift=(hm(12), hm(17)))], [visit("v", 2, (hm(9), hm(10)))])
    (scope,) = scopes_of(problem)
    assert scope.reason is not None


def test_capacity_reason_states_the_booked_hours() -> None:
    problem = day([cg("a")], [visit("v", 1)])
    (scope,) = scopes_of(problem)
    busy = Route("a", stops=(Stop("other", hm(9), hm(9), hm(16)),), work_s=7 * 3600)
    text = capacity_reason(problem, problem.visits[0], scope, [busy])
    assert text.startswith("not enough capacity: 1 eligible caregiver(s) (a) have 7.0 h of 9.0 h")


def test_merge_windows_joins_touching_intervals() -> None:
    assert merge_windows([(10, 20), (0, 5), (21, 30), (40, 50)]) == ((0, 5), (10, 30), (40, 50))


def timer_for(problem: DayProblem) -> tuple[DayModel, RouteTimer]:
    travel = build_travel_times(problem)
    model = build(problem, travel, analyse(problem, travel))
    return model, RouteTimer(model)


def test_timer_takes_the_break_while_waiting_for_a_window() -> None:
    problem = day(
        [cg("a", breaks=(Break((hm(9), hm(12)), 1800),))],
        [visit("am", 1, (hm(8, 30), hm(8, 30))), visit("pm", 1, (hm(11), hm(11)))],
    )
    model, timer = timer_for(problem)
    seq = [model.nodes.of_visit[0][0][0], model.nodes.of_visit[1][0][0]]
    timing = timer.feasible(timer.vehicles[0], seq, {})
    assert timing is not None
    assert timing.starts == (hm(8, 30), hm(11))
    assert timing.travel_s == 2 * 300


def test_timer_refuses_a_route_with_no_room_for_the_break() -> None:
    # Each visit fits alone; together they leave 25 minutes for a 30-minute break that
    # must lie inside 09:00-10:00.
    problem = day(
        [cg("a", breaks=(Break((hm(9), hm(10)), 1800),))],
        [
            visit("a1", 1, (hm(8, 30), hm(8, 30)), duration_min=60),
            visit("a2", 1, (hm(9, 55), hm(9, 55))),
        ],
    )
    model, timer = timer_for(problem)
    seq = [model.nodes.of_visit[0][0][0], model.nodes.of_visit[1][0][0]]
    assert timer.feasible(timer.vehicles[0], seq[:1], {}) is not None
    assert timer.feasible(timer.vehicles[0], seq, {}, exact=True) is None


def test_timer_honours_a_pinned_start() -> None:
    problem = day([cg("a")], [visit("v", 2)])
    model, timer = timer_for(problem)
    n = model.nodes.of_visit[0][0][0]
    timing = timer.feasible(timer.vehicles[0], [n], {n: hm(13)})
    assert timing is not None
    assert timing.starts == (hm(13),)
    assert timer.feasible(timer.vehicles[0], [n], {n: hm(8)}) is None


def test_insertion_bounds_never_refuse_a_feasible_insertion() -> None:
    # The bounds only skip timing work: every insertion they refuse must be one the exact
    # timing refuses too, on real routes with breaks, two-staff partners and pinned starts.
    problem = generate_day(60, 3)
    travel = build_travel_times(problem)
    model = build(problem, travel, analyse(problem, travel))
    timer = RouteTimer(model)
    routes = construct(model)
    pinned = {n: a for n, (a, b) in enumerate(model.nodes.window) if a == b}
    refused = checked = 0
    for k, seq in enumerate(routes):
        veh = timer.vehicles[k]
        slack = timer.slack(veh, seq, pinned)
        others = [
            n
            for i, copies in model.nodes.of_visit.items()
            if k in model.scopes[i].allowed
            for n in copies[0]
            if n not in seq
        ]
        for n in others:
            kept = {p for p, m in timer.open_positions(veh, seq, slack, (n,), pinned)}
            for p in set(range(len(seq) + 1)) - kept:
                refused += 1
                trial = [*seq[:p], n, *seq[p:]]
                assert timer.feasible(veh, trial, pinned, exact=True) is None, (k, p, n)
            checked += len(seq) + 1
    assert refused > checked // 4  # and they do skip most of the work


def test_a_two_staff_visit_keeps_its_known_start_where_re_timing_would_drop_it() -> None:
    # a's break (30 min, due 09:00-09:45) fits before the pair only if the pair starts at
    # 09:30 or later; b is busy until 09:00. Re-timed, the pair gets the later of the two
    # earliest starts, 09:00, where a's break fits nowhere; its known start holds.
    problem = day(
        [cg("a", breaks=(Break((hm(9), hm(9, 45)), 1800),)), cg("b", 1)],
        [
            visit("pair", 1, (hm(8), hm(12)), staff=2),
            visit("x", 1, (hm(10, 15), hm(10, 15))),
            visit("y", 1, (hm(8), hm(8)), duration_min=60),
        ],
    )
    model, _ = timer_for(problem)
    (pa,), (pb,) = model.nodes.of_visit[0]
    x, y = model.nodes.of_visit[1][0][0], model.nodes.of_visit[2][0][0]
    initial = [[pa, x], [y, pb]]
    assert construct(model, initial, starts={pa: hm(9, 30), pb: hm(9, 30)}) == initial
    assert construct(model, initial) == [[x], [y]]


@pytest.mark.parametrize(
    ("limits", "open_"),
    [({}, True), ({"max_work_min": 70}, False), ({"max_visits": 1}, False)],
)
def test_open_positions_hold_the_work_and_visit_limits(limits: dict[str, int], open_: bool) -> None:
    # Two 30-minute visits and the travel to them are over 70 minutes of work whatever the
    # times: the bound refuses the second at once, as the exact timing does.
    problem = day([cg("a", **limits)], [visit("v", 1), visit("w", 2)])
    model, timer = timer_for(problem)
    veh = timer.vehicles[0]
    v, w = model.nodes.of_visit[0][0][0], model.nodes.of_visit[1][0][0]
    slack = timer.slack(veh, [v], {})
    positions = timer.open_positions(veh, [v], slack, (w,), {})
    assert bool(positions) is open_
    assert (timer.feasible(veh, [v, w], {}, exact=True) is not None) is open_


def test_no_insertion_costs_less_than_its_floor() -> None:
    # The floor lets ``cheapest`` skip a route without looking at a position: it must be
    # at or below the cost of every position, on routes with continuity and empty ones.
    problem = generate_day(60, 3)
    travel = build_travel_times(problem)
    model = build(problem, travel, analyse(problem, travel))
    builder = Builder(model, RouteTimer(model))
    builder.routes = construct(model)
    builder.routes[0] = []
    misses = 0
    for k, seq in enumerate(builder.routes):
        veh = builder.timer.vehicles[k]
        for i, copies in model.nodes.of_visit.items():
            n = copies[0][0]
            if n in seq or k not in model.scopes[i].allowed:
                continue
            floor = builder.insertion_floor(k, seq, (n,))
            costs = [builder.arc_delta(veh, seq, p, n) for p in range(len(seq) + 1)]
            assert min(costs) >= floor, (k, n)
            misses += floor > 0
    assert misses  # continuity misses make the floor a real bound


def test_a_route_s_kept_slack_follows_its_visits_and_their_pins() -> None:
    # The same visits in the same order with one pin moved must not reuse the slack.
    problem = day([cg("a")], [visit("v", 2), visit("w", 2, (hm(9), hm(16)))])
    model, timer = timer_for(problem)
    builder = Builder(model, timer)
    v, w = model.nodes.of_visit[0][0][0], model.nodes.of_visit[1][0][0]
    veh = timer.vehicles[0]

    def fresh() -> Slack:
        return timer.slack(veh, builder.routes[0], builder.pinned)

    assert builder.route_slack(0) == fresh()
    builder.routes[0] = [v, w]
    assert builder.route_slack(0) == fresh()
    builder.pinned[w] = hm(15)
    assert builder.route_slack(0) == fresh() != timer.slack(veh, [v, w], {})
    builder.routes[0].reverse()
    assert builder.route_slack(0) == fresh()


def test_a_search_stops_at_its_own_limit_and_gives_back_what_searches_overran() -> None:
    problem = day([cg("a")], [visit("v", 1)])
    watch = Watch(problem, SolveParams(time_limit_s=60.0), None, None)
    assert not watch.search_limit()
    watch.search_until = time.monotonic() - 1.0
    assert watch.search_limit()
    # 2 s asked, 2.5 s overrun measured before: no time left, so no search at all (the
    # model is not even touched) and the start comes back.
    watch.overrun = 2.5
    start = object()
    assert _search(None, start, SolveParams(), watch, 2.0) is start


def _read(model: DayModel, params: SolveParams, leave_out: int = 0) -> object:
    """A first assignment of ``model``: the construction's routes, less ``leave_out``
    single-staff visits."""
    model.routing.CloseModelWithParameters(search_parameters(params, _READ_LIMIT_S))
    routes = construct(model)
    singles = {n for copies in model.nodes.of_visit.values() if len(copies) == 1 for n in copies[0]}
    out = [n for r in routes for n in r if n in singles][:leave_out]
    indices = [[model.index(n) for n in r if n not in out] for r in routes]
    assignment = model.routing.ReadAssignmentFromRoutes(indices, True)
    assert assignment is not None
    return assignment


def _prepared(
    problem: DayProblem, leave_out: int = 0
) -> tuple[DayModel, object, SolveParams, Watch]:
    travel = build_travel_times(problem)
    model = build(problem, travel, analyse(problem, travel))
    params = SolveParams(time_limit_s=60.0)
    return model, _read(model, params, leave_out), params, Watch(problem, params, None, None)


def _care_day(leave_out: int) -> tuple[DayModel, object, SolveParams, Watch]:
    return _prepared(generate_day(40, 1), leave_out)  # the construction serves all 40 visits


def test_a_care_day_serving_every_visit_searches_on_without_insertion_operators() -> None:
    model, best, params, watch = _care_day(leave_out=0)
    assert assigned_count(model, best) == len(model.nodes.of_visit)
    fresh, read, insertion = _for_cost_only(model, best, params, watch)
    assert fresh is not model
    assert not insertion
    assert read.ObjectiveValue() == best.ObjectiveValue()  # type: ignore[attr-defined]
    assert read_routes(fresh, read) == read_routes(model, best)


def test_a_care_day_with_visits_left_out_keeps_its_model_and_operators() -> None:
    model, best, params, watch = _care_day(leave_out=1)
    assert assigned_count(model, best) == len(model.nodes.of_visit) - 1
    assert _for_cost_only(model, best, params, watch) == (model, best, True)


def test_a_vrptw_day_keeps_its_model_and_operators() -> None:
    problem = day([cg("a"), cg("b")], [visit("v", 1), visit("w", 2)])
    assert is_vrptw(problem)  # no breaks, no work limits, no two-staff visits
    model, best, params, watch = _prepared(problem)
    assert _for_cost_only(model, best, params, watch) == (model, best, True)


def test_a_refill_keeps_routes_serving_fewer_visits_when_they_cost_less() -> None:
    # OR-Tools' plan serves three priority-3 visits and leaves out the 90-minute
    # priority-1 visit they block. Clearing the route for it serves one visit instead of
    # three, and the day's price of the visits out falls from 100,000 to 3,000.
    low = [visit(f"low-{k}", 1, (hm(10, 35 * k), hm(10, 35 * k + 1)), priority=3) for k in range(3)]
    urgent = visit("urgent", 2, (hm(10), hm(10, 30)), duration_min=90, priority=1)
    problem = day([cg("a")], [*low, urgent])
    travel = build_travel_times(problem)
    model = build(problem, travel, analyse(problem, travel))
    params = SolveParams(time_limit_s=60.0, solution_limit=10)  # a counted walk
    model.routing.CloseModelWithParameters(search_parameters(params, _READ_LIMIT_S))
    given = [[model.index(model.nodes.of_visit[i][0][0]) for i in range(3)]]
    assignment = model.routing.ReadAssignmentFromRoutes(given, True)
    assert assigned_count(model, assignment) == 3
    refilled = _refill(model, assignment, params, Watch(problem, params, None, None))
    assert refilled is not None
    fresh, read = refilled
    (route,) = read_routes(fresh, read)
    assert [problem.visits[fresh.nodes.visit[n]].id for n in route.nodes] == ["urgent"]
    assert read.ObjectiveValue() < assignment.ObjectiveValue()


def test_a_refill_walk_is_counted_only_where_the_solve_must_be_deterministic() -> None:
    # A time-limited solve's walk ends at the refill's deadline, not after a count; one
    # bounded by a solution count must give the same plan twice, so its walk is counted.
    assert _walk_steps(SolveParams(time_limit_s=30.0, solution_limit=10)) == _POOL_STEPS
    assert _walk_steps(SolveParams(time_limit_s=30.0)) > 1000 * _POOL_STEPS


def care_model(served: int, options: ModelOptions | None = None) -> tuple[DayModel, Any]:
    """A care day of two caregivers and two visits, the first ``served`` of them on
    caregiver 0's route."""
    staff = [cg(f"c{k}", max_work_min=480) for k in range(2)]  # work limits: not a VRPTW
    model, first = closed_model(day(staff, [visit("v0", 1), visit("v1", 2)]), options)
    return model, read(model, [[first[f"v{i}"] for i in range(served)], []])


def test_a_care_day_with_visits_out_searches_briefly_before_its_refill() -> None:
    # Solved by time, the search leaves its time to the refills and districts that serve
    # visits; counted, with every visit in, or in a repair, it runs up to the refill's share.
    out, everyone = care_model(1), care_model(2)
    repair = care_model(1, ModelOptions(moved_cost=1800, previous={0: frozenset({0})}))
    by_time, counted = SolveParams(time_limit_s=30.0), SolveParams(30.0, solution_limit=10)
    watch = Watch(out[0].problem, by_time, None, None)
    assert _search_s(*out, by_time, watch, 0.3) == _CARE_OUT_SEARCH_SHARE * 30.0
    assert _search_s(*out, counted, watch, 0.3) > 15.0  # about 30 - 9 s
    assert _search_s(*everyone, by_time, watch, 0.3) > 15.0
    assert _search_s(*repair, by_time, watch, 0.3) > 15.0


@pytest.mark.parametrize("limit", [None, 10])
def test_a_refill_walk_on_a_care_day_solved_by_time_has_its_own_bound(
    monkeypatch: pytest.MonkeyPatch, limit: int | None
) -> None:
    # A walk that fails runs to its end. Solved by time, the refill ends it early, so a
    # district gets the time; a counted walk ends by its count, the deadline only a backstop.
    ends: list[float] = []

    def insert(
        day: DayModel,
        routes: Sequence[Sequence[int]],
        p: SolveParams,
        w: Watch,
        until: float,
        starts: Mapping[int, int],
    ) -> list[list[int]]:
        ends.append(until)
        return [list(r) for r in routes]

    monkeypatch.setattr(importlib.import_module("scheduling._portfolio"), "_insert", insert)
    params = SolveParams(time_limit_s=30.0, solution_limit=limit)
    model, assignment = care_model(1)
    watch = Watch(model.problem, params, None, None)
    started = time.monotonic()
    assert _refill(model, assignment, params, watch) is None  # nothing inserted
    bound = time.monotonic() + _CARE_OUT_WALK_SHARE * 30.0
    if limit is None:
        assert started < ends[0] <= bound
    else:
        assert ends[0] > bound + 5.0


def absent_preferred_day() -> DayProblem:
    """Two caregivers, both able to serve three visits due at 9:00 sharp that prefer a
    caregiver away today: one visit must be left out, and whoever serves the others
    misses continuity."""
    visits = [
        visit(f"v{k}", k, (hm(9), hm(9)), duration_min=60, preferred_caregivers=("away",))
        for k in (1, 2, 3)
    ]
    return day([cg("a"), cg("b")], visits)


def test_a_visit_every_caregiver_would_miss_continuity_on_can_be_left_out() -> None:
    # Each caregiver pays the continuity cost to serve it; OR-Tools must still be able to
    # leave it out, which it refused (even empty routes) while the care dimension charged
    # that cost as a transit at the visit.
    problem = absent_preferred_day()
    travel = build_travel_times(problem)
    model = build(problem, travel, analyse(problem, travel))
    model.routing.CloseModelWithParameters(search_parameters(FAST_READ, _READ_LIMIT_S))
    empty = model.routing.ReadAssignmentFromRoutes([[], []], True)
    assert empty is not None
    first = model.index(model.nodes.of_visit[0][0][0])
    served = model.routing.ReadAssignmentFromRoutes([[first], []], True)
    assert served is not None
    # The objectives differ by the format's cost of that change: travel there and back
    # (5 minutes each way), the continuity miss, less the price of the visit left out.
    w = problem.weights
    change = COST_SCALE * (w.travel_per_min * 10 + w.continuity_miss - w.unassigned_cost(1))
    assert served.ObjectiveValue() - empty.ObjectiveValue() == change


def test_a_solve_leaves_out_one_such_visit_and_serves_the_others() -> None:
    problem = absent_preferred_day()
    plan = solve(problem, FAST_READ)
    assert check(problem, plan).ok
    assert sorted(s.visit_id for r in plan.routes for s in r.stops) in (
        ["v1", "v2"],
        ["v1", "v3"],
        ["v2", "v3"],
    )
    assert len(plan.unassigned) == 1


def test_insertion_puts_a_locked_pair_on_the_copies_its_locks_name() -> None:
    # c is locked first, a second; a is nearer, so the cheaper insertion is a's. On the
    # wrong copies OR-Tools refuses the routes (each copy's vehicle is its lock's).
    problem = day(
        [cg("a", 0), cg("b", 3), cg("c", 6)],
        [visit("pair", 2, staff=2)],
        locks=[Lock("pair", "c", hm(10)), Lock("pair", "a", hm(10))],
    )
    model, _ = closed_model(problem)
    routes = construct(model, None)
    ((first,), (second,)) = model.nodes.of_visit[0]
    assert routes == [[second], [], [first]]
    read(model, routes)
