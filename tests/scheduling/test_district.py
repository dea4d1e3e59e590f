"""The district re-solve: a visit left out served by solving the routes near it alone.

A hand-made day on the line of ``test_solve`` (places 5 minutes apart): nine caregivers
start at place 0 and two at place 11. OR-Tools' routes leave out a visit at place 1, and
a two-staff visit is shared by a caregiver of each end. These tests check the cut, the
splice and the step's keep-or-drop rule; what the step gains on generated days is
measured in ``docs/BENCHMARKS.md``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from test_solve import cg, closed_model, day, hm, place, read, visit

from scheduling._district import DISTRICT_HELPERS, DISTRICT_ROUTES, district, splice
from scheduling._extract import read_routes, to_plan
from scheduling._portfolio import _has_districts, _resolve_district
from scheduling._reasons import analyse
from scheduling._routing import DayModel, ModelOptions, build
from scheduling._search import Watch
from scheduling.check import check
from scheduling.problem import DayProblem, Lock, SolverInfo
from scheduling.solve import SolveParams
from scheduling.travel import build_travel_times

PARAMS = SolveParams(time_limit_s=20.0, solution_limit=10)
NEAR = [f"near-{k}" for k in range(DISTRICT_ROUTES)]


def the_day() -> DayProblem:
    caregivers = [cg(c, 0) for c in NEAR] + [cg("far-a", 11), cg("far-b", 11)]
    visits = [visit(f"n-{k}", 2) for k in range(DISTRICT_ROUTES)]
    visits += [visit("f-a", 10), visit("f-b", 10)]
    visits += [visit("pair", 6, (hm(9), hm(9, 10)), staff=2), visit("out", 1)]
    return day(caregivers, visits)


def model_with_routes(problem: DayProblem, out_on: int | None = None) -> tuple[DayModel, Any]:
    """The day's model and an assignment of each caregiver's own visit, the pair shared
    by near-0 and far-a, and ``out`` left out (or last on route ``out_on``)."""
    model, first = closed_model(problem)
    second = model.nodes.of_visit[problem.visits.index(problem.visit("pair"))][1][0]
    routes = [[first[f"n-{k}"]] for k in range(DISTRICT_ROUTES)] + [[first["f-a"]], [first["f-b"]]]
    routes[0].append(first["pair"])
    routes[DISTRICT_ROUTES].insert(0, second)
    if out_on is not None:
        routes[out_on].append(first["out"])
    routes += [[] for _ in problem.caregivers[len(routes) :]]  # caregivers a test adds
    return model, read(model, routes)


def by_caregiver(model: DayModel, assignment: Any) -> dict[str, list[tuple[str, int]]]:
    """Caregiver id -> (visit id, start) of each stop."""
    problem = model.problem
    return {
        problem.caregivers[r.caregiver].id: [
            (problem.visits[model.nodes.visit[n]].id, s)
            for n, s in zip(r.nodes, r.starts_s, strict=True)
        ]
        for r in read_routes(model, assignment)
    }


def test_the_district_is_the_nearest_caregivers_with_a_shared_pair_locked_at_its_start() -> None:
    problem = the_day()
    model, assignment = model_with_routes(problem)
    pair_start = dict(by_caregiver(model, assignment)["near-0"])["pair"]
    cut = district(
        model, read_routes(model, assignment), problem.visits.index(problem.visit("out"))
    )
    assert cut is not None
    assert [c.id for c in cut.caregivers] == NEAR
    assert {v.id for v in cut.visits} == {
        *(f"n-{k}" for k in range(DISTRICT_ROUTES)),
        "pair",
        "out",
    }
    assert cut.visit("pair").staff == 1  # its other member of staff stays outside
    assert cut.locks == (Lock("pair", "near-0", pair_start),)


def test_districts_only_on_a_care_day_bigger_than_one_and_not_in_a_repair() -> None:
    problem = the_day()
    model, _ = model_with_routes(problem)
    assert _has_districts(model)
    small = day(problem.caregivers[:DISTRICT_ROUTES], [visit("v", 1)])
    travel = build_travel_times(small)
    assert not _has_districts(build(small, travel, analyse(small, travel)))
    repair = ModelOptions(previous={0: frozenset({0})})
    assert not _has_districts(build(problem, model.travel, model.scopes, repair))


def test_a_district_solved_again_serves_the_visit_out_and_leaves_the_rest_of_the_day() -> None:
    problem = the_day()
    model, assignment = model_with_routes(problem)
    before = by_caregiver(model, assignment)
    tried: set[int] = set()
    resolved = _resolve_district(
        model, assignment, PARAMS, Watch(problem, PARAMS, None, None), tried
    )
    assert resolved is not None
    fresh, read = resolved
    assert read.ObjectiveValue() < assignment.ObjectiveValue()
    after = by_caregiver(fresh, read)
    assert any(v == "out" for c in NEAR for v, _ in after[c])
    assert after["far-a"] == before["far-a"]
    assert after["far-b"] == before["far-b"]
    pair = [s for stops in after.values() for v, s in stops if v == "pair"]
    assert pair == [before["far-a"][0][1]] * 2  # both members of staff at the same start
    plan = to_plan(fresh, read_routes(fresh, read), SolverInfo("test", 20.0, 0.0, 0))
    report = check(problem, plan)
    assert report.ok, [v.message for v in report.violations]
    assert tried == {problem.visits.index(problem.visit("out"))}


def test_a_visit_is_given_its_district_once_per_solve() -> None:
    problem = the_day()
    model, assignment = model_with_routes(problem)
    out = problem.visits.index(problem.visit("out"))
    watch = Watch(problem, PARAMS, None, None)
    assert _resolve_district(model, assignment, PARAMS, watch, {out}) is None


def test_splice_puts_back_the_same_routes_unchanged() -> None:
    problem = the_day()
    model, assignment = model_with_routes(problem)
    routes = read_routes(model, assignment)
    plan = to_plan(model, routes, SolverInfo("test", 20.0, 0.0, 0))
    spliced, starts = splice(model, routes, plan)
    assert spliced == [list(r.nodes) for r in routes]
    assert starts == {n: t for r in routes for n, t in zip(r.nodes, r.starts_s, strict=True)}


def test_a_district_around_a_visit_served_outside_it_leaves_that_visit_where_it_is() -> None:
    # ``out`` is served by far-b, who is not among the nine caregivers nearest it.
    problem = the_day()
    model, assignment = model_with_routes(problem, out_on=DISTRICT_ROUTES + 1)
    out = problem.visits.index(problem.visit("out"))
    cut = district(model, read_routes(model, assignment), out)
    assert [c.id for c in cut.caregivers] == NEAR
    assert "out" not in {v.id for v in cut.visits}


def test_a_district_takes_in_the_nearest_staff_who_may_not_serve_its_visit() -> None:
    # Nurses without ``out``'s personal-care skill join it; the farthest and the volunteer
    # do not.
    helpers = [cg(f"nurse-{k}", 1, skills=frozenset({"nursing"})) for k in range(4)]
    helpers[-1] = replace(helpers[-1], start=place(11), end=place(11))  # the farthest
    volunteer = cg("volunteer", 1, volunteer=True)
    base = the_day()
    problem = replace(base, caregivers=(*base.caregivers, *helpers, volunteer))
    model, assignment = model_with_routes(problem)
    out = problem.visits.index(problem.visit("out"))
    cut = district(model, read_routes(model, assignment), out)
    assert len(helpers) - 1 == DISTRICT_HELPERS
    assert {c.id for c in cut.caregivers} == {*NEAR, "nurse-0", "nurse-1", "nurse-2"}


def full_day() -> DayProblem:
    """Nine caregivers near ``out`` (priority 1) who may serve one visit each and hold one
    of priority 3 each, and one far away with room for them all."""
    near = [cg(c, 0, max_visits=1) for c in NEAR]
    visits = [visit(f"n-{k}", 2, priority=3) for k in range(DISTRICT_ROUTES)]
    visits += [visit("f", 10), visit("out", 1)]
    return day([*near, cg("far", 11, max_work_min=540)], visits)  # a care day, not a VRPTW


def test_a_visit_the_district_leaves_out_for_its_own_goes_to_a_caregiver_outside() -> None:
    problem = full_day()
    model, first = closed_model(problem)
    assignment = read(model, [[first[f"n-{k}"]] for k in range(DISTRICT_ROUTES)] + [[first["f"]]])
    watch = Watch(problem, PARAMS, None, None)
    resolved = _resolve_district(model, assignment, PARAMS, watch, set())
    assert resolved is not None
    after = by_caregiver(*resolved)
    # The district's own solve serves ``out`` and leaves one of priority 3 out.
    assert sorted(v for stops in after.values() for v, _ in stops) == sorted(first)
