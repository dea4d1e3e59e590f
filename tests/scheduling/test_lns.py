"""Tests of ruin and recreate on cost (``scheduling._lns``) and where the solver uses it.

Days are generated and seeded; every search here is bounded by a count of attempts, so
the results are the same on every machine.
"""

from __future__ import annotations

import importlib
import math
import time
from collections.abc import Callable
from typing import Any

import pytest
from test_solve_parts import _prepared

from scheduling import _lns
from scheduling._builder import Builder, unassigned_loss
from scheduling._extract import RouteNodes, read_routes
from scheduling._portfolio import _improve, _read_into_fresh_model
from scheduling._routing import DayModel
from scheduling._search import Watch, assigned_count
from scheduling._timing import RouteTimer
from scheduling.check import check
from scheduling.generate import generate_day
from scheduling.problem import DayProblem
from scheduling.solve import SolveParams, solve

portfolio = importlib.import_module("scheduling._portfolio")
_ATTEMPTS = 300


def _start(visits: int, seed: int) -> tuple[DayModel, list[RouteNodes]]:
    """A generated day's model and the construction's routes as OR-Tools reads them."""
    model, best, _, _ = _prepared(generate_day(visits, seed))
    return model, read_routes(model, best)


def _cost(model: DayModel, routes: list[list[int]]) -> int:
    """The day's cost in the solver's units: travel, continuity and visits left out."""
    builder = Builder(model, RouteTimer(model))
    builder.routes = routes
    return unassigned_loss(builder)


def _improved(model: DayModel, start: list[RouteNodes], seed: int = 0) -> list[list[int]]:
    far = time.monotonic() + 3600.0
    return _lns.improve(model, start, seed, far, attempts=_ATTEMPTS)


def test_ruin_and_recreate_lowers_the_cost_of_a_day_served_in_full_and_keeps_it_so() -> None:
    model, start = _start(60, 2)
    visit = model.nodes.visit
    served = sorted(visit[n] for r in start for n in r.nodes)
    assert len(set(served)) == len(model.nodes.of_visit)
    routes = _improved(model, start)
    assert _cost(model, routes) < 0.95 * _cost(model, [list(r.nodes) for r in start])
    assert sorted(visit[n] for r in routes for n in r) == served


def test_ruin_and_recreate_may_trade_visits_only_as_the_day_s_cost_says() -> None:
    # The construction leaves visits of this day out. The search counts a visit out at its
    # priority's price: it serves more of them here, and the day costs less.
    model, start = _start(80, 4)
    routes = _improved(model, start)
    assert sum(map(len, routes)) > sum(len(r.nodes) for r in start)
    assert _cost(model, routes) < _cost(model, [list(r.nodes) for r in start])


def test_ruin_and_recreate_moves_two_staff_visits_as_pairs_the_model_accepts() -> None:
    model, start = _start(80, 3)
    pairs = {
        n
        for copies in model.nodes.of_visit.values()
        if len(copies) == 2
        for alternatives in copies
        for n in alternatives
    }
    before = {n: r.caregiver for r in start for n in r.nodes if n in pairs}
    routes = _improved(model, start)
    after = {n: k for k, r in enumerate(routes) for n in r if n in pairs}
    assert len(after) >= len(before) > 0
    assert after != before  # some pair went elsewhere
    # Both staff of each pair on two routes with a common start: the model reads them.
    indices = [[model.index(n) for n in r] for r in routes]
    assert model.routing.ReadAssignmentFromRoutes(indices, True) is not None


def test_ruin_and_recreate_counted_gives_the_same_routes_for_the_same_seed() -> None:
    model, start = _start(60, 5)
    assert _improved(model, start, seed=7) == _improved(model, start, seed=7)


def test_a_care_day_serving_every_visit_is_improved_and_searched_without_insertion() -> None:
    model, best, _, _ = _prepared(generate_day(60, 2))
    params = SolveParams(time_limit_s=60.0, solution_limit=50)
    watch = Watch(model.problem, params, None, None)
    fresh, read, insertion = _improve(model, best, params, watch)
    assert fresh is not model
    assert not insertion
    assert read.ObjectiveValue() < best.ObjectiveValue()  # type: ignore[attr-defined]
    assert assigned_count(fresh, read) == assigned_count(model, best) == len(model.nodes.of_visit)


def test_a_care_day_with_a_visit_out_keeps_its_model_and_insertion_operators() -> None:
    # OR-Tools' insertion operators get the time left: they may still serve the visit.
    model, best, _, _ = _prepared(generate_day(60, 2), leave_out=1)
    params = SolveParams(time_limit_s=60.0, solution_limit=50)
    watch = Watch(model.problem, params, None, None)
    assert _improve(model, best, params, watch) == (model, best, True)


def test_reading_routes_into_a_fresh_model_is_timed_for_the_reserves_after_it() -> None:
    model, best, params, watch = _prepared(generate_day(60, 2))
    watch.read_s = 0.0
    routes = [list(r.nodes) for r in read_routes(model, best)]
    fresh, read = _read_into_fresh_model(model, routes, params, watch)
    assert read is not None
    assert fresh is not model
    assert watch.read_s > 0.0


def test_ruin_and_recreate_that_finds_nothing_cheaper_costs_one_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A second read of the same routes had run a 4 s repair 0.3 s past its limit.
    model, best, _, _ = _prepared(generate_day(60, 2))
    params = SolveParams(time_limit_s=60.0, solution_limit=50)
    watch = Watch(model.problem, params, None, None)
    unchanged = lambda day, plan, *args: [list(r.nodes) for r in plan]  # noqa: E731
    monkeypatch.setattr(_lns, "improve", unchanged)
    reads: list[int] = []
    real_read = portfolio._read_into_fresh_model

    def counted(*args: Any, **kwargs: Any) -> Any:
        reads.append(1)
        return real_read(*args, **kwargs)

    monkeypatch.setattr(portfolio, "_read_into_fresh_model", counted)
    fresh, read, insertion = _improve(model, best, params, watch)
    assert len(reads) == 1
    assert fresh is not model
    assert not insertion
    assert read.ObjectiveValue() == best.ObjectiveValue()  # type: ignore[attr-defined]


def test_a_search_that_finds_nothing_better_for_its_stall_time_ends() -> None:
    problem: DayProblem = generate_day(20, 1)
    watch = Watch(problem, SolveParams(time_limit_s=60.0), None, None)
    assert not watch.search_limit()  # no stall time set: only the limits count
    watch.stall_s = 2.0
    watch.improved = time.monotonic()
    assert not watch.search_limit()
    watch.improved -= 3.0
    assert watch.search_limit()
    watch.report(100, 20)  # a better plan starts the stall time again
    assert not watch.search_limit()
    assert math.isinf(Watch(problem, SolveParams(), None, None).stall_s)


def test_a_counted_solve_of_a_care_day_is_valid_and_repeatable() -> None:
    problem = generate_day(60, 2)
    params = SolveParams(time_limit_s=60.0, solution_limit=40, seed=1)
    first, second = solve(problem, params), solve(problem, params)
    assert check(problem, first).ok
    assert first.routes == second.routes
    assert first.solver.name.endswith(" + ruin and recreate)")  # it found a cheaper plan


def test_ruin_and_recreate_reports_each_cheaper_plan_in_the_model_s_units() -> None:
    model, best, params, _ = _prepared(generate_day(60, 2))
    heard: list[tuple[int, int]] = []
    far = time.monotonic() + 3600.0
    start = read_routes(model, best)
    routes = _lns.improve(model, start, 0, far, attempts=_ATTEMPTS, on_best=_record(heard))
    costs = [c for c, _ in heard]
    assert len(costs) > 1
    assert costs == sorted(costs, reverse=True)
    assert len(set(costs)) == len(costs)  # each one cheaper than the one before
    fresh, read = _read_into_fresh_model(
        model, routes, params, Watch(model.problem, params, None, None)
    )
    assert heard[-1] == (read.ObjectiveValue(), len(model.nodes.of_visit))  # type: ignore[attr-defined]


def _record(heard: list[tuple[int, int]]) -> Callable[[int, int], None]:
    return lambda cost, served: heard.append((cost, served))
