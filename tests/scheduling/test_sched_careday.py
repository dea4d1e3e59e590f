"""Tests of the care-day work on the solver: the plain baseline without two-staff visits,
routes cleared for an urgent visit, and the local search on exact timing.

Hand-made days use the line of places of ``test_solve`` (place ``i`` to place ``j`` takes
``300 * |i - j|`` seconds); every plan from ``solve`` goes through the checker.
"""

from __future__ import annotations

import dataclasses
import random

import pytest
from test_solve import FAST, cg, checked, day, hm, reason, served_by, visit

from scheduling._builder import Builder
from scheduling._construct import _clear_into, construct
from scheduling._pool import _perturb
from scheduling._reasons import analyse
from scheduling._routing import DayModel, ModelOptions, build
from scheduling._timing import RouteTimer
from scheduling.benchmarks.day import run_day
from scheduling.benchmarks.report import day_table
from scheduling.generate import generate_day
from scheduling.problem import DayProblem, Lock, Weights
from scheduling.solve import PLAIN_TWO_STAFF_REASON, SolveParams
from scheduling.travel import build_travel_times

PLAIN = dataclasses.replace(FAST, engine="plain")


def model_of(problem: DayProblem) -> DayModel:
    travel = build_travel_times(problem)
    return build(problem, travel, analyse(problem, travel))


def node(model: DayModel, visit_id: str) -> int:
    i = next(i for i, v in enumerate(model.problem.visits) if v.id == visit_id)
    return model.nodes.of_visit[i][0][0]


def visit_ids(model: DayModel, route: list[int]) -> list[str]:
    return [model.problem.visits[model.nodes.visit[n]].id for n in route]


def assert_routes_hold(model: DayModel, routes: list[list[int]]) -> None:
    """Each route is feasible by exact timing as its caregiver's (no pinned starts)."""
    timer = RouteTimer(model)
    for k, route in enumerate(routes):
        assert timer.feasible(timer.vehicles[k], route, {}, exact=True) is not None, k


def test_plain_engine_leaves_two_staff_visits_out_with_the_reason(tiny_day: DayProblem) -> None:
    plan = checked(tiny_day, PLAIN)
    doubles = [v.id for v in tiny_day.visits if v.staff == 2]
    assert doubles
    for vid in doubles:
        assert vid not in served_by(plan)
        assert reason(plan, vid) == PLAIN_TWO_STAFF_REASON


def test_plain_engine_finds_a_first_solution_on_a_day_with_two_staff_visits() -> None:
    # With two-staff visits as synchronised node pairs, PATH_CHEAPEST_ARC found no first
    # solution at all on days of 100 visits or more; without them it finds one at once.
    problem = generate_day(100, seed=0)
    doubles = {v.id for v in problem.visits if v.staff == 2}
    assert len(doubles) >= 3
    plan = checked(problem, SolveParams(time_limit_s=20.0, solution_limit=1, engine="plain"))
    assert plan.kpis.assigned >= 40
    assert doubles.isdisjoint(served_by(plan))
    assert {u.visit_id for u in plan.unassigned if u.reason == PLAIN_TWO_STAFF_REASON} == doubles


def urgent_day(with_urgent: bool) -> DayProblem:
    """One caregiver, three fixed priority-3 visits from 10:00 to 11:40, and (optionally)
    a 90-minute priority-1 visit due at 10:00-10:30 that overlaps all three."""
    visits = [
        visit("low-1", 1, (hm(10), hm(10, 1)), priority=3),
        visit("low-2", 1, (hm(10, 35), hm(10, 36)), priority=3),
        visit("low-3", 1, (hm(11, 10), hm(11, 11)), priority=3),
    ]
    if with_urgent:
        visits.append(visit("urgent", 2, (hm(10), hm(10, 30)), duration_min=90, priority=1))
    return day([cg("a")], visits)


def test_a_route_is_cleared_for_an_urgent_visit_that_three_others_block() -> None:
    model = model_of(urgent_day(with_urgent=True))
    low = [node(model, f"low-{k}") for k in (1, 2, 3)]
    (route,) = construct(model, [low])
    assert visit_ids(model, route) == ["urgent"]


def test_repair_serves_an_urgent_visit_added_to_a_planned_day() -> None:
    before = checked(urgent_day(with_urgent=False))
    assert set(served_by(before)) == {"low-1", "low-2", "low-3"}
    after = checked(urgent_day(with_urgent=True), hint=before)
    assert served_by(after) == {"urgent": ["a"]}


def test_polish_uncrosses_two_routes() -> None:
    # a lives at place 0 and b at place 11; the routes given serve each one's neighbour
    # from the far end of the line (20 places of travel each), which no rule requires.
    problem = day(
        [cg("a", 0), cg("b", 11)],
        [visit("near-a", 1), visit("near-b", 10)],
        weights=Weights(continuity_miss=0),
    )
    model = model_of(problem)
    routes = construct(model, [[node(model, "near-b")], [node(model, "near-a")]])
    assert [visit_ids(model, r) for r in routes] == [["near-a"], ["near-b"]]


def test_polish_moves_a_visit_to_its_preferred_caregiver_when_that_pays() -> None:
    # Both caregivers live at place 0; the visit prefers b. A miss costs 30, the same
    # route from b costs nothing more, so the visit goes to b.
    problem = day(
        [cg("a", 0), cg("b", 0)],
        [visit("v", 3, preferred_caregivers=("b",))],
    )
    model = model_of(problem)
    routes = construct(model, [[node(model, "v")], []])
    assert [visit_ids(model, r) for r in routes] == [[], ["v"]]


def test_day_bench_reports_the_plain_two_staff_figure_as_it_is() -> None:
    lines: list[str] = []
    params = SolveParams(time_limit_s=20.0, solution_limit=20)
    doubles = sum(v.staff == 2 for v in generate_day(60, 0).visits)
    assert doubles >= 2
    witness, portfolio, plain, same, travel_only = run_day(60, 0, params, lines.append)
    for r in (same, travel_only):
        assert r.valid
        assert r.visits == plain.assigned
    assert witness.engine == "witness"
    assert witness.valid
    assert witness.assigned == witness.visits == 60
    assert (portfolio.two_staff.total, plain.two_staff.total) == (doubles, doubles)
    assert plain.two_staff.assigned == 0
    assert portfolio.two_staff.assigned >= 1
    assert portfolio.valid
    assert plain.valid
    for r in (portfolio, plain):
        assert r.assigned == sum(s.assigned for s in r.by_priority.values())
        assert r.travel_min_per_visit == pytest.approx(60 * r.travel_h / r.assigned)
    (row,) = [x for x in day_table([portfolio, plain]).splitlines() if "two-staff" in x]
    assert row.split()[-2:] == [f"{portfolio.two_staff.assigned}/{doubles}", f"0/{doubles}"]


def test_plain_engine_does_not_model_continuity() -> None:
    # The visit at place 1 prefers "far" (who lives at place 9) over "near" (place 0). With a
    # miss costing more than the detour, the portfolio sends "far"; the plain baseline, whose
    # model has no continuity cost, sends whoever travels least.
    problem = day(
        [cg("near", 0), cg("far", 9)],
        [visit("v", 1, preferred_caregivers=("far",))],
        weights=Weights(1, 10_000, {1: 100_000, 2: 10_000, 3: 1_000}),
    )
    assert served_by(checked(problem)) == {"v": ["far"]}
    assert served_by(checked(problem, dataclasses.replace(FAST, engine="plain"))) == {"v": ["near"]}


NURSE = frozenset({"personal_care", "nursing"})


def test_a_visit_moves_to_a_colleague_to_make_room_for_one_only_its_caregiver_can_serve() -> None:
    # "x" can go to either caregiver; "u" (as urgent) needs the nurse "a". Both are due
    # at 10:00, so "u" is served only if "x" moves from "a" to "b".
    problem = day(
        [cg("a", 0, skills=NURSE), cg("b", 0)],
        [
            visit("x", 1, (hm(10), hm(10, 1)), priority=3, duration_min=60),
            visit("u", 1, (hm(10), hm(10, 1)), priority=3, duration_min=60, skills=NURSE),
        ],
    )
    model = model_of(problem)
    routes = construct(model, [[node(model, "x")], []])
    assert [visit_ids(model, r) for r in routes] == [["u"], ["x"]]


def test_a_move_two_routes_deep_makes_room_when_one_is_not_enough() -> None:
    # "u" needs nurse "a", whose 10:00 slot "x" holds; "x" can go to "b" only if "b"'s
    # "y" moves on to "c". All equally urgent, all due at 10:00.
    due = (hm(10), hm(10, 1))
    problem = day(
        [cg("a", 0, skills=NURSE), cg("b", 0), cg("c", 0)],
        [
            visit("u", 1, due, priority=3, duration_min=60, skills=NURSE),
            visit("x", 1, due, priority=3, duration_min=60, excluded_caregivers=frozenset({"c"})),
            visit("y", 1, due, priority=3, duration_min=60),
        ],
    )
    model = model_of(problem)
    routes = construct(model, [[node(model, "x")], [node(model, "y")], []])
    assert [visit_ids(model, r) for r in routes] == [["u"], ["x"], ["y"]]


def test_a_two_staff_visit_moves_an_equally_urgent_visit_to_a_third_caregiver() -> None:
    # Only a and b may do the nursing pair at 10:00; b's 10:00 is taken by a visit as
    # urgent as the pair (so not one to give up), which c, farther away, can do instead.
    nursing = frozenset({"personal_care", "nursing"})
    problem = day(
        [cg("a", 1, skills=nursing), cg("b", 1, skills=nursing), cg("c", 5)],
        [
            visit("pair", 1, (hm(10), hm(10, 1)), staff=2, priority=2, skills=nursing),
            visit("busy", 2, (hm(10), hm(10, 1)), priority=2),
        ],
        weights=Weights(continuity_miss=0),
    )
    model = model_of(problem)
    routes = construct(model, [[], [node(model, "busy")], []])
    assert [visit_ids(model, r) for r in routes] == [["pair"], ["pair"], ["busy"]]


def test_a_given_route_loses_a_visit_its_caregiver_may_not_serve() -> None:
    # PyVRP only prices forbidden arcs high, so its routes may hold a nursing visit on a
    # caregiver without the skill; the visit must move, and the route's other visit stay.
    nursing = frozenset({"personal_care", "nursing"})
    problem = day(
        [cg("a", 1), cg("b", 9, skills=nursing)],
        [visit("care", 1), visit("nurse", 2, skills=nursing)],
        weights=Weights(continuity_miss=0),
    )
    model = model_of(problem)
    routes = construct(model, [[node(model, "care"), node(model, "nurse")], []])
    assert [visit_ids(model, r) for r in routes] == [["care"], ["nurse"]]


def test_clearing_two_routes_puts_back_a_visit_only_where_it_may_go() -> None:
    # The pair clears a's dementia visit off a; b is nearer to it but lacks the skill, so
    # the visit must go back on a (or c), never on b.
    nursing = frozenset({"personal_care", "nursing"})
    both = nursing | {"dementia"}
    problem = day(
        [cg("a", 0, skills=both), cg("b", 8, skills=nursing), cg("c", 0, skills=both)],
        [
            visit("pair", 4, (hm(10), hm(10, 1)), staff=2, priority=1, skills=nursing),
            visit("low", 8, priority=3, skills=frozenset({"dementia"})),
        ],
        weights=Weights(continuity_miss=0),
    )
    model = model_of(problem)
    builder = Builder(model, RouteTimer(model))
    builder.routes = [[node(model, "low")], [], []]
    assert _clear_into(builder, 0, (0, 1), everything=False)
    on = [visit_ids(model, r) for r in builder.routes]
    assert "pair" in on[0]
    assert "pair" in on[1]
    assert "low" not in on[1], on
    assert "low" in on[0] + on[2], on


def two_full_routes_day() -> DayProblem:
    """A 60-minute visit ``x`` at 10:00 that only a and b may do, each busy at 10:00 and
    10:30 with a visit as urgent; c may do only the visits a1 and b2 (skill y)."""
    x, y, z = frozenset({"x"}), frozenset({"y"}), frozenset({"z"})
    at = (hm(10), hm(10, 1))
    half = (hm(10, 30), hm(10, 31))
    return day(
        [cg("a", 0, skills=x | y | z), cg("b", 0, skills=x | y | z), cg("c", 3, skills=y)],
        [
            visit("x", 1, at, duration_min=60, priority=3, skills=x),
            visit("a1", 1, at, priority=3, skills=y),
            visit("a2", 1, half, priority=3, skills=z),
            visit("b1", 1, at, priority=3, skills=z),
            visit("b2", 1, half, priority=3, skills=y),
        ],
        weights=Weights(continuity_miss=0),
    )


def test_ruin_and_recreate_serves_a_visit_whose_room_spans_two_routes() -> None:
    # x needs a's or b's whole 10:00-11:00. Emptying one route is not enough: a2 (or b1)
    # has nowhere to go while the other route is full, and c may take only a1 and b2.
    # Emptying both, x takes one route, a2 and b1 the other, and c gets a1 and b2.
    model = model_of(two_full_routes_day())
    given = [[node(model, "a1"), node(model, "a2")], [node(model, "b1"), node(model, "b2")], []]
    without = construct(model, given)
    assert "x" not in [v for r in without for v in visit_ids(model, r)]
    routes = construct(model, given, seed=0, ruin_attempts=20)
    on = [visit_ids(model, r) for r in routes]
    assert sorted(v for r in on for v in r) == ["a1", "a2", "b1", "b2", "x"]
    assert sorted(on[2]) == ["a1", "b2"]
    assert sorted(on[0] + on[1]) == ["a2", "b1", "x"]
    assert_routes_hold(model, routes)
    assert construct(model, given, seed=0, ruin_attempts=20) == routes


def pair_between_full_routes_day() -> DayProblem:
    """``two_full_routes_day`` with ``x`` a two-staff visit, every visit of priority 2 (as
    urgent as ``x``), and d, who may do the visits of skill z (a2 and b1)."""
    base = two_full_routes_day()
    visits = tuple(
        dataclasses.replace(v, priority=2, staff=2 if v.id == "x" else 1) for v in base.visits
    )
    d = cg("d", 3, skills=frozenset({"z"}))
    return dataclasses.replace(base, caregivers=(*base.caregivers, d), visits=visits)


def test_ruin_and_recreate_serves_a_two_staff_visit_whose_two_routes_are_full() -> None:
    # x needs the whole 10:00-11:00 of both a and b. Nothing there is less urgent (no
    # clearing), and each route must give up two visits (more than a pair's ejection).
    # Ruining both routes, x takes them, c gets a1 and b2, and d a2 and b1.
    model = model_of(pair_between_full_routes_day())
    given = [[node(model, "a1"), node(model, "a2")], [node(model, "b1"), node(model, "b2")]]
    given += [[], []]
    without = construct(model, given)
    assert "x" not in [v for r in without for v in visit_ids(model, r)]
    routes = construct(model, given, seed=0, ruin_attempts=20)
    on = [visit_ids(model, r) for r in routes]
    assert on[:2] == [["x"], ["x"]]
    assert sorted(on[2]) == ["a1", "b2"]
    assert sorted(on[3]) == ["a2", "b1"]
    assert_routes_hold(model, routes)
    assert construct(model, given, seed=0, ruin_attempts=20) == routes


def chain_day() -> DayProblem:
    """A 60-minute visit ``n`` at 10:00 only a may do; a is busy then with ``p``, which
    only a and b may do; b with ``q`` (b or c); c with ``r`` (c or d, who lives far)."""
    n, p, q, r = (frozenset({s}) for s in "npqr")
    at = (hm(10), hm(10, 1))
    return day(
        [
            cg("a", 1, skills=n | p),
            cg("b", 1, skills=p | q),
            cg("c", 1, skills=q | r),
            cg("d", 9, skills=r),
        ],
        [
            visit(ident, 1, at, duration_min=60, priority=2, skills=skills)
            for ident, skills in (("n", n), ("p", p), ("q", q), ("r", r))
        ],
        weights=Weights(continuity_miss=0),
    )


def test_ejection_pool_walk_serves_a_visit_at_the_end_of_a_chain_of_three_moves() -> None:
    # Room for n appears only once p, q and r each move one route on: a chain longer
    # than relocation's two steps, and ruin and recreate may ruin only a's route.
    model = model_of(chain_day())
    given = [[node(model, v)] for v in "pqr"] + [[]]
    without = construct(model, given, seed=0, ruin_attempts=20)
    assert "n" not in [v for r in without for v in visit_ids(model, r)]
    routes = construct(model, given, seed=0, ruin_attempts=20, pool_steps=10)
    assert [visit_ids(model, r) for r in routes] == [["n"], ["p"], ["q"], ["r"]]
    assert_routes_hold(model, routes)
    # n, p and q each push the next one off and r then fits on d, unless the random
    # relocations after each step have moved r or q on first: with seed 0 two steps
    # suffice. A walk cut short returns the routes it started from.
    assert construct(model, given, seed=0, pool_steps=2) == routes
    assert construct(model, given, seed=0, pool_steps=1) == without


def test_pool_perturbation_moves_visits_and_loses_none() -> None:
    # q is out. n may go only to a; p to a or b, but a holds n at 10:00; r to c or d,
    # whose route is empty: r is the one visit that can move, and it does.
    model = model_of(chain_day())
    builder = Builder(model, RouteTimer(model))
    builder.routes = [[node(model, "n")], [node(model, "p")], [node(model, "r")], []]
    _perturb(builder, random.Random(0), 30)
    on = [visit_ids(model, r) for r in builder.routes]
    assert on == [["n"], ["p"], [], ["r"]]
    assert_routes_hold(model, builder.routes)


def test_pool_perturbation_in_a_repair_leaves_visits_with_their_previous_caregiver() -> None:
    # As above, r is the one visit that can move, but in a repair it moves only when the
    # previous plan had it elsewhere: moving it away from c would change c's day.
    problem = chain_day()
    r = next(i for i, v in enumerate(problem.visits) if v.id == "r")
    travel = build_travel_times(problem)
    for before, moves in ((2, False), (3, True)):
        options = ModelOptions(moved_cost=1800, previous={r: frozenset({before})})
        model = build(problem, travel, analyse(problem, travel), options)
        builder = Builder(model, RouteTimer(model))
        builder.routes = [[node(model, "n")], [node(model, "p")], [node(model, "r")], []]
        _perturb(builder, random.Random(0), 30)
        on = [visit_ids(model, route) for route in builder.routes]
        assert on == ([["n"], ["p"], [], ["r"]] if moves else [["n"], ["p"], ["r"], []])


def test_ejection_pool_walk_goes_on_past_a_visit_that_fits_nowhere() -> None:
    # w may go only to e, whose 10:00 is held by l, locked there: no ejection lets w in.
    # Whichever the walk draws first, n still reaches the end of its chain.
    base = chain_day()
    w = frozenset({"w"})
    at = (hm(10), hm(10, 1))
    problem = dataclasses.replace(
        base,
        caregivers=(*base.caregivers, cg("e", 1, skills=w)),
        visits=(
            *base.visits,
            visit("l", 1, at, duration_min=60, skills=w),
            visit("w", 1, at, duration_min=60, priority=2, skills=w),
        ),
        locks=(Lock("l", "e", hm(10)),),
    )
    model = model_of(problem)
    given = [[node(model, v)] for v in "pqr"] + [[], [node(model, "l")]]
    for seed in range(6):
        routes = construct(model, given, seed=seed, pool_steps=20)
        on = [visit_ids(model, r) for r in routes]
        assert on == [["n"], ["p"], ["q"], ["r"], ["l"]], (seed, on)
