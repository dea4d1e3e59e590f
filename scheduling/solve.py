"""Solve a day: the public entry point of the scheduling package.

``solve(problem, params)`` returns a ``DayPlan`` that serves as many visits as the rules
allow, and never fails: a visit that cannot be served is listed as unassigned with the
reason. Two engines:

``"portfolio"`` (the real one: ``_portfolio``)
    1. pre-analysis (``_reasons``): eligibility, reachability and locks; visits nobody may
       serve are left out with a precise reason;
    2. routes: a previous plan (``hint``), else PyVRP's iterated local search on a
       relaxation of the day (``_seed``: exact for the VRPTW benchmarks, where it also
       removes routes one at a time; breaks and two-staff synchronisation approximated
       on a care day), for 85 % of the time limit (30 % on a care day);
    3. repair and completion by exact route timing (``_construct``, ``_timing``): routes
       that break a rule give up their least urgent visits, then visits still out are
       inserted, if need be in place of less urgent ones;
    4. OR-Tools (``_routing``, the model holding every rule) reads those routes, checks
       them, and improves them by guided local search for the rest of the time limit;
       in turn, while it leaves visits out, ``_construct``'s moves (ending with ruin
       and recreate around each visit still out, then an ejection-pool walk) insert
       them into its routes, which a fresh model reads for the search to resume
       (``_refill``); on a care day a search ends once it has found nothing better for
       a tenth of the time limit, and, in a solve by time (not a repair) while visits
       are out, after a tenth at most, as does a refill's walk after 0.15 (the search
       seldom serves a visit); a visit still out after a refill gets its district
       (the nine caregivers nearest it who may serve it and three members of staff who
       may not) solved alone, once (``_district``);
    5. on a care day whose plan serves every visit: ruin and recreate on cost (``_lns``)
       for most of the time left, read into a fresh model for a last search (with visits
       still out, that search has all of it); the cheapest plan found is returned.

``"plain"`` (the baseline)
    The same OR-Tools model solved the way the OR-Tools documentation teaches:
    ``PATH_CHEAPEST_ARC`` then guided local search. Kept so benchmarks compare honestly.
    Like the peers it stands for, it does not model continuity of caregiver (the model
    has no per-caregiver cost of a visit; the plan is still judged with it), and it
    cannot do two-staff visits: it leaves them out
    (unassigned, with ``PLAIN_TWO_STAFF_REASON``). Given them as two synchronised nodes
    (both or neither served, on different caregivers, equal start times), its
    first-solution heuristic finds no solution at all: none in 30 s on a generated
    400-visit day with 25 of them, with breaks and with breaks removed; the same day
    without them has a first solution after 1.4 s. PATH_CHEAPEST_ARC extends one route
    at a time and has no way to place the second staff member of a pair it has just
    routed.

With ``SolveParams.workers`` above 1, a day planned afresh by the portfolio is solved
that many times at once with consecutive seeds, each in its own process, and the plan the
checker prices lowest is returned (``_workers``).

A search bounded by ``solution_limit`` (and PyVRP by iterations) is deterministic.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from . import _workers
from ._extract import RouteNodes, read_routes, to_plan
from ._portfolio import solve_portfolio
from ._reasons import VisitScope, analyse
from ._routing import COST_SCALE, DayModel, ModelOptions, build
from ._search import Progress, Watch, monitor, search_parameters
from .problem import DayPlan, DayProblem, Kpis, SolverInfo, Unassigned
from .travel import TravelTimes, build_travel_times

__all__ = ["ENGINES", "PLAIN_TWO_STAFF_REASON", "Progress", "SolveParams", "solve"]


ENGINES = ("portfolio", "plain")
"""The engines ``SolveParams.engine`` may name."""
PLAIN_TWO_STAFF_REASON = "left out by the plain baseline, which cannot do two-staff visits"
"""Why the plain engine leaves a two-staff visit unassigned."""
MOVE_COST_TRAVEL_S = 1800
"""When repairing a previous plan, moving a visit to another caregiver costs as much as
this much travel: the dispatcher wants few caregivers' days to change."""


@dataclass(frozen=True)
class SolveParams:
    """How to solve.

    Attributes
    ----------
    time_limit_s
        Wall-clock budget of the whole solve, in seconds (always enforced).
    seed
        Seed of every random choice (PyVRP's search).
    solution_limit
        When set, OR-Tools stops after this many solutions and PyVRP after a matching
        number of iterations, so the same input gives the same plan.
    minimise_routes
        Use as few routes as possible first (a fixed cost per used route:
        ``Weights.route_fixed``, or a cost above any saving in travel when that is 0).
    engine
        ``"portfolio"`` or ``"plain"``.
    log_search
        Let OR-Tools log its search to stderr.
    workers
        Processes solving the day at once, each with its own seed (``seed``, ``seed + 1``,
        ...); the cheapest plan wins (``_workers``). The portfolio planning afresh only:
        the plain engine and a repair (``hint``, whose cost of moving a visit the checker's
        price of a plan leaves out) run in one.
    """

    time_limit_s: float = 30.0
    seed: int = 0
    solution_limit: int | None = None
    minimise_routes: bool = False
    engine: str = "portfolio"
    log_search: bool = False
    workers: int = 1


def _check_params(params: SolveParams) -> None:
    if params.engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}, not {params.engine!r}")
    if not params.time_limit_s > 0:
        raise ValueError(f"time_limit_s must be positive, not {params.time_limit_s}")
    if params.solution_limit is not None and params.solution_limit < 1:
        raise ValueError(f"solution_limit must be at least 1, not {params.solution_limit}")
    if params.workers < 1:
        raise ValueError(f"workers must be at least 1, not {params.workers}")


def _route_fixed(problem: DayProblem, params: SolveParams, day_bound: int) -> int:
    if problem.weights.route_fixed > 0:
        return COST_SCALE * problem.weights.route_fixed
    return day_bound if params.minimise_routes else 0


def _travel_bound(problem: DayProblem, travel: TravelTimes) -> int:
    """Above the travel cost of any plan: one more route never pays for itself."""
    worst = max((int(m.max()) for m in travel.by_mode.values()), default=0)
    legs = sum(v.staff for v in problem.visits) + 2 * len(problem.caregivers)
    return worst * legs * problem.weights.travel_per_min + 1


def _previous(problem: DayProblem, hint: DayPlan) -> dict[int, frozenset[int]]:
    caregiver = {c.id: k for k, c in enumerate(problem.caregivers)}
    visit = {v.id: i for i, v in enumerate(problem.visits)}
    out: dict[int, set[int]] = {}
    for route in hint.routes:
        k = caregiver.get(route.caregiver_id)
        for stop in route.stops:
            i = visit.get(stop.visit_id)
            if k is not None and i is not None:
                out.setdefault(i, set()).add(k)
    return {i: frozenset(ks) for i, ks in out.items()}


def _solve_plain(day: DayModel, params: SolveParams, watch: Watch) -> tuple[Any, str]:
    search = search_parameters(params, max(watch.remaining(), 0.01), plain=True)
    monitor(day, watch)
    watch.begin("OR-Tools: path cheapest arc, then guided local search")
    name = "careroute-plain (ortools path-cheapest-arc + gls)"
    return day.routing.SolveWithParameters(search), name


def _without_two_staff(problem: DayProblem, scopes: Sequence[VisitScope]) -> tuple[VisitScope, ...]:
    """The scopes of the plain engine: every two-staff visit it could serve left out."""
    return tuple(
        VisitScope((), (), reason=PLAIN_TWO_STAFF_REASON)
        if v.staff == 2 and s.reason is None
        else s
        for v, s in zip(problem.visits, scopes, strict=True)
    )


def _empty_plan(
    problem: DayProblem, scopes: Sequence[VisitScope], params: SolveParams, watch: Watch
) -> DayPlan:
    unassigned = tuple(
        Unassigned(v.id, s.reason or "no caregiver works on this day")
        for v, s in zip(problem.visits, scopes, strict=True)
    )
    kpis = Kpis(visits=len(problem.visits), assigned=0, travel_s=0, continuity_rate=1.0)
    wall = time.monotonic() - watch.t0
    info = SolverInfo("careroute (no caregiver)", params.time_limit_s, wall, 0)
    return DayPlan((), unassigned, kpis, info)


def solve(
    problem: DayProblem,
    params: SolveParams = SolveParams(),
    *,
    travel: TravelTimes | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    hint: DayPlan | None = None,
) -> DayPlan:
    """Plan ``problem``: routes for the caregivers and a reason for every visit left out.

    Parameters
    ----------
    problem
        The day.
    params
        Time limit, seed, engine, route minimisation; see ``SolveParams``.
    travel
        Travel times of the day, if already computed (``build_travel_times(problem)``).
    on_progress
        Called with each improvement of the best plan.
    should_stop
        Polled during the search; once it returns True the best plan so far is returned.
    hint
        A previous plan of (a version of) this day to start from: its assignments are
        kept where they still fit, and moving a visit away from its caregiver costs extra.

    Returns
    -------
    DayPlan
        Valid against ``problem`` (``scheduling.check.check`` finds no violation).

    Raises
    ------
    ValueError
        If ``params`` names an unknown engine, a non-positive limit or no worker.
    """
    _check_params(params)
    if params.workers > 1 and params.engine == "portfolio" and hint is None:
        return _workers.best_of(
            problem,
            params,
            solve,
            travel=travel,
            on_progress=on_progress,
            should_stop=should_stop,
        )
    watch = Watch(problem, params, on_progress, should_stop)
    watch.begin("travel times and the routing model")
    travel = travel if travel is not None else build_travel_times(problem)
    scopes = analyse(problem, travel)
    if params.engine == "plain":
        scopes = _without_two_staff(problem, scopes)
    options = ModelOptions(
        route_fixed=_route_fixed(problem, params, _travel_bound(problem, travel)),
        moved_cost=MOVE_COST_TRAVEL_S * problem.weights.travel_per_min if hint else 0,
        previous=_previous(problem, hint) if hint is not None else {},
        continuity=params.engine != "plain",
    )
    if not problem.caregivers:
        # OR-Tools cannot hold a model without vehicles; every visit has its reason already.
        return _empty_plan(problem, scopes, params, watch)
    day = build(problem, travel, scopes, options)
    if params.engine == "plain":
        assignment, name = _solve_plain(day, params, watch)
    else:
        day, assignment, name = solve_portfolio(day, params, watch, hint)
    routes: Sequence[RouteNodes]
    if assignment is None:
        routes = [RouteNodes(k, (), (), 0, ()) for k in range(len(problem.caregivers))]
        objective = 0
    else:
        routes = read_routes(day, assignment)
        objective = day.cost(assignment)
    info = SolverInfo(name, params.time_limit_s, time.monotonic() - watch.t0, objective)
    return to_plan(day, routes, info)
