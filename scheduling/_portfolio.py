"""The portfolio engine: PyVRP's seed, construction, OR-Tools' search and the stages that
serve the visits it leaves out, then ruin and recreate on cost (see ``scheduling.solve``
for the order and why).
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ortools.constraint_solver import routing_enums_pb2

from . import _lns, _seed
from ._construct import construct
from ._district import DISTRICT_ROUTES, district, splice
from ._extract import RouteNodes, read_routes, starts_of, stop_node
from ._pool import SERVE_MORE_SLACK
from ._routing import DayModel, build
from ._search import Watch, assigned_count, is_vrptw, monitor, search_parameters
from .problem import DayPlan, DayProblem

if TYPE_CHECKING:
    from .solve import SolveParams

_SEED_SHARE = 0.85
"""Share of the time limit PyVRP gets where its relaxation is exact (no breaks, work
limits or two-staff visits: the VRPTW benchmarks). Measured on Solomon and Homberger
instances: OR-Tools' guided local search barely improves PyVRP's routes there (about
0.01 % of the objective in 3-5 s), so PyVRP gets most of the time."""
_CARE_SEED_SHARE = 0.3
"""PyVRP's share on a care day, where repairing its relaxation loses visits that the
exact stages must win back. Generated 400-visit days at 30 s, seeds 0-2, visits served
of 400: 397-398 at a share of 0.85, 397-399 at 0.4, 398-400 at 0.3, 399 at 0.2."""
_SEED_ITERATIONS_PER_SOLUTION = 20
"""PyVRP iterations per unit of ``solution_limit`` in a deterministic solve."""
_MIN_SEARCH_S = 0.05
_READ_LIMIT_S = 60.0
_REFILL_SHARE = 0.2
"""Share of the time limit kept after OR-Tools' search to insert the visits it left out."""
_CARE_REFILL_SHARE = 0.3
"""The same on a care day, where the insertion includes ruin and recreate (seconds of it
on 400 visits). Seed 1's generated 400-visit day at 30 s on the solver of this change:
400 visits served in 3 of 6 solves at 0.3 with 300 attempts, 0 of 2 at 0.35 with 400
(the last search cut short); the solver before it served 398-399 in 5 of 5. (Six more
solves at 0.3 after the refill's read-back margin: 398-399; see docs/BENCHMARKS.md.)"""
_RUIN_ATTEMPTS_PER_S = 10
_RUIN_ATTEMPTS_MAX = 300
"""Ruin-and-recreate attempts of each refill: so many per second of the time limit, at
most the maximum (an attempt takes 5-20 ms on a 400-visit day). Counted, so a bounded
solve stays deterministic."""
_POOL_STEPS = 2000
"""Steps of the ejection-pool walk in each refill of a solve bounded by a solution count
(1.4-2.4 ms each traced on 400 visits), which must stay deterministic. A solve bounded
by time alone walks until the refill's deadline instead: four refills of generated
400-visit days saved where 2,000 steps fell short (396-397 visits in), replayed with
four seeds each and their own deadlines (8.5-8.6 s), ended with 6,375 visits in all
after 2,000 steps and 6,380 walking to the deadline."""
_CARE_STALL_SHARE = 0.1
"""On a care day (solved by time), OR-Tools' search ends when it has found no better plan
for this share of the time limit: the refills and ruin and recreate use the time better."""
_CARE_OUT_SEARCH_SHARE = 0.1
_CARE_OUT_WALK_SHARE = 0.15
"""On a care day (a district's too) solved by time, not a repair, with visits out:
OR-Tools' search before a refill lasts at most the first share of the time limit, and a
refill's walk at most the second. In eight traced 30 s solves of hard cases that left
visits out, the first search ran its full 9-10 s and served none; a refill and one
district solve took the rest, with no time for a second. Whole 30 s solves of the 24
hard cases, two at a time: every visit served in 20, 22, 19 and 21 of 24 with both bounds
(5, 2, 5 and 3 visits out), against 16 and 18 of 24 (13 and 10 out) without; costs 3-8 %
lower. Without the walk's bound, a walk that fails runs to the district's reserve (the
seventeenth session's first refill before the first search: 15 of 24)."""
_LNS_SEARCH_SHARE = 0.1
"""Share of the time left after the refills that OR-Tools' search gets once ruin and
recreate (``_lns``) has improved the plan."""
_LNS_ATTEMPTS = 200
"""Ruin-and-recreate attempts of a solve bounded by a solution count (deterministic)."""
_DISTRICT_SHARE = 0.5
"""Share of the time left at a refill kept for solving a district after it, up to
``_DISTRICT_MAX_S``; a district is not solved in less than ``_DISTRICT_MIN_S``."""
_DISTRICT_MAX_S = 6.0
_DISTRICT_MIN_S = 1.0


def _hint_routes(day: DayModel, hint: DayPlan) -> tuple[list[list[int]], dict[int, int]]:
    """A previous plan as routes of visit nodes (what no longer fits the day is skipped),
    and the start of each node routed."""
    problem, nodes = day.problem, day.nodes
    caregiver = {c.id: k for k, c in enumerate(problem.caregivers)}
    visit = {v.id: i for i, v in enumerate(problem.visits)}
    taken: dict[int, int] = {}
    routes: list[list[int]] = [[] for _ in problem.caregivers]
    for route in hint.routes:
        k = caregiver.get(route.caregiver_id)
        if k is None:
            continue
        for stop in route.stops:
            i = visit.get(stop.visit_id)
            if i is None or i not in nodes.of_visit:
                continue
            node = stop_node(nodes, i, stop.start_s, taken)
            if node is not None:
                taken[node] = stop.start_s
                routes[k].append(node)
    return routes, taken


def _first_routes(
    day: DayModel, params: SolveParams, watch: Watch, hint: DayPlan | None
) -> tuple[list[list[int]], str]:
    """A first solution's routes and how it was found."""
    if hint is not None:
        watch.begin("repairing the previous plan")
        previous, starts = _hint_routes(day, hint)
        routes = construct(day, previous, watch.stop_now, watch.deadline, starts=starts)
        return routes, "previous plan + insertion"
    if not watch.stop_now():
        iterations = None
        if params.solution_limit is not None:
            iterations = params.solution_limit * _SEED_ITERATIONS_PER_SOLUTION
        runtime = watch.remaining() * _seed_share(day.problem)
        watch.begin(f"seeding with PyVRP (up to {runtime:.1f} s)")
        result = _seed.seed(
            day,
            params.seed,
            max_runtime_s=runtime,
            max_iterations=iterations,
            should_stop=watch.stop_now,
        )
        if result is not None:
            watch.begin("repairing the seed: every rule, two-staff visits, the rest inserted")
            routes = construct(day, result.routes, watch.stop_now, watch.deadline)
            return routes, "pyvrp seed, repaired"
    watch.begin("building a first plan by insertion")
    return construct(day, None, watch.stop_now, watch.deadline), "insertion"


def _seed_share(problem: DayProblem) -> float:
    return _SEED_SHARE if is_vrptw(problem) else _CARE_SEED_SHARE


def _read_routes(day: DayModel, routes: Sequence[Sequence[int]], watch: Watch) -> Any:
    """The OR-Tools assignment of ``routes``, checked against every rule of the model.

    Should OR-Tools refuse the routes (the insertion's timing and the model disagree), the
    two-staff visits are left out, then every route that is refused on its own. Reads
    must come before any search: OR-Tools refuses to read routes once a search has run.
    """
    routing = day.routing
    indices = [[day.index(n) for n in r] for r in routes]
    t0 = time.monotonic()
    first = routing.ReadAssignmentFromRoutes(indices, True)
    # A first estimate of a read into a fresh model, which builds the model too. Only
    # this read: the fallbacks below read up to once per route.
    watch.read_s = max(watch.read_s, time.monotonic() - t0)
    if first is not None:
        return first
    pair_nodes = {n for c in day.nodes.of_visit.values() if len(c) == 2 for a in c for n in a}
    singles = [
        [i for i, n in zip(r, route, strict=True) if n not in pair_nodes]
        for r, route in zip(indices, routes, strict=True)
    ]
    first = routing.ReadAssignmentFromRoutes(singles, True)
    if first is not None:
        return first
    kept = []
    for k, r in enumerate(singles):
        alone = [[] if j != k else r for j in range(len(singles))]
        ok = not r or routing.ReadAssignmentFromRoutes(alone, True) is not None
        kept.append(r if ok else [])
    return routing.ReadAssignmentFromRoutes(kept, True)


def solve_portfolio(
    day: DayModel, params: SolveParams, watch: Watch, hint: DayPlan | None
) -> tuple[DayModel, Any, str]:
    routes, how = _first_routes(day, params, watch, hint)
    routing = day.routing
    # The model's time limit also bounds reading the routes back, which must not fail
    # for lack of time: reading is cheap next to losing the whole first solution.
    routing.CloseModelWithParameters(search_parameters(params, _READ_LIMIT_S))
    first = _read_routes(day, routes, watch)
    monitor(day, watch)
    if first is None:
        watch.begin("OR-Tools refused the routes: parallel cheapest insertion instead")
        fallback = routing_enums_pb2.FirstSolutionStrategy.PARALLEL_CHEAPEST_INSERTION
        search = search_parameters(params, max(watch.remaining(), _MIN_SEARCH_S), fallback)
        found = routing.SolveWithParameters(search)
        return day, found, "careroute-portfolio (ortools parallel-cheapest-insertion + gls)"
    watch.report(day.cost(first), assigned_count(day, first))
    name = _portfolio_name(how, 0)
    if watch.stop_now() or watch.remaining() < _MIN_SEARCH_S:
        return day, first, name
    return _search_and_insert(day, first, params, watch, how)


def _search_and_insert(
    day: DayModel, best: Any, params: SolveParams, watch: Watch, how: str
) -> tuple[DayModel, Any, str]:
    """Guided local search, then construct's insertion moves on its routes, in turn: each
    round starts from a plan cheaper than the one before or serving more visits."""
    name = _portfolio_name(how, 0)
    if not is_vrptw(day.problem) and params.solution_limit is None:
        watch.stall_s = _CARE_STALL_SHARE * params.time_limit_s
    rounds = districts = 0
    tried: set[int] = set()  # visits whose district was re-solved
    share = _REFILL_SHARE if is_vrptw(day.problem) else _CARE_REFILL_SHARE
    # A refill may be dearer than the plan it came from (``SERVE_MORE_SLACK``).
    cheapest = (day, best, name)
    while True:
        best = _search(day, best, params, watch, _search_s(day, best, params, watch, share))
        cheapest = min(cheapest, (day, best, name), key=_objective)
        reserve = _district_reserve(day, best, watch, tried)
        refilled = _refill(day, best, params, watch, reserve)
        resolved = _resolve_district(*(refilled or (day, best)), params, watch, tried)
        if refilled is None and resolved is None:
            # Nothing more to insert: the time kept for it goes to improving the cost.
            objective = best.ObjectiveValue()
            day, best, insertion = _improve(day, best, params, watch)
            if best.ObjectiveValue() < objective:
                name = _portfolio_name(how, rounds, districts, recreated=True)
            watch.stall_s = math.inf  # the last search has the rest of the time
            best = _search(day, best, params, watch, watch.remaining(), insertion)
            return min(cheapest, (day, best, name), key=_objective)
        rounds += refilled is not None
        districts += resolved is not None
        day, best = resolved or refilled or (day, best)
        name = _portfolio_name(how, rounds, districts)
        monitor(day, watch)
        if watch.stop_now() or watch.remaining() < _MIN_SEARCH_S:
            return min(cheapest, (day, best, name), key=_objective)


def _search_s(day: DayModel, best: Any, params: SolveParams, watch: Watch, share: float) -> float:
    """Seconds of OR-Tools' search from ``best`` before a refill, which keeps ``share`` of
    the time limit (at most half the time left); at most ``_CARE_OUT_SEARCH_SHARE`` of
    it when visits are out of ``best`` and ``_serving_first``."""
    tail = min(share * params.time_limit_s, watch.remaining() / 2)
    seconds = max(watch.remaining() - tail, _MIN_SEARCH_S)
    if _serving_first(day, params) and assigned_count(day, best) < len(day.nodes.of_visit):
        return min(seconds, _CARE_OUT_SEARCH_SHARE * params.time_limit_s)
    return seconds


def _serving_first(day: DayModel, params: SolveParams) -> bool:
    """Whether visits out cut OR-Tools' search and an insertion walk short
    (``_CARE_OUT_SEARCH_SHARE``, ``_walk_until``): on a care day planned afresh (a
    district's too) and solved by time, not by a count that must stay deterministic."""
    return _fresh_care_day(day) and params.solution_limit is None


def _fresh_care_day(day: DayModel) -> bool:
    """A care day, not a VRPTW instance, planned afresh: a repair's cost of moving a visit
    off its previous caregiver was not measured with the steps this gates."""
    return not is_vrptw(day.problem) and not day.options.previous


def _walk_until(
    day: DayModel, params: SolveParams, watch: Watch, keep_s: float, cap_s: float
) -> float:
    """When an insertion walk ends: ``keep_s`` before the deadline, and at most ``cap_s``
    from now where visits out cut it short (``_serving_first``). A walk that fails runs
    to its deadline; a counted walk must end on its own for a deterministic solve."""
    until = watch.deadline - keep_s
    return min(until, time.monotonic() + cap_s) if _serving_first(day, params) else until


def _portfolio_name(how: str, rounds: int, districts: int = 0, recreated: bool = False) -> str:
    """The solver's name in a plan: how the first routes came, then the later stages."""
    later = "ortools gls" + (f" and insertion x{rounds}" if rounds else "")
    later += f" and district re-solve x{districts}" if districts else ""
    return f"careroute-portfolio ({how} + {later}{' + ruin and recreate' if recreated else ''})"


def _objective(found: tuple[DayModel, Any, str]) -> int:
    return int(found[1].ObjectiveValue())


def _search(
    day: DayModel,
    start: Any,
    params: SolveParams,
    watch: Watch,
    seconds: float,
    insertion: bool = True,
) -> Any:
    """Guided local search from ``start`` for ``seconds``; ``start`` if it finds nothing
    better or there is no time.

    A search can end after its limit (see ``_search._CARE_WRAP_UP_S_PER_VISIT``), so each
    one is given ``seconds`` less the longest overrun measured so far in this solve.
    """
    seconds -= watch.overrun
    if seconds < _MIN_SEARCH_S:
        return start
    search = search_parameters(params, seconds, insertion=insertion)
    watch.improved = time.monotonic()
    watch.search_until = watch.improved + seconds
    improved = day.routing.SolveFromAssignmentWithParameters(start, search)
    watch.overrun = max(watch.overrun, time.monotonic() - watch.search_until)
    watch.search_until = math.inf
    return improved if improved is not None else start


def _improve(
    day: DayModel, best: Any, params: SolveParams, watch: Watch
) -> tuple[DayModel, Any, bool]:
    """On a care day whose plan serves every visit, ``best`` improved by ruin and recreate
    (``_lns``) and read into a fresh model, leaving ``_LNS_SEARCH_SHARE`` of the time to
    OR-Tools' search from it; else ``_for_cost_only``'s. The last item says whether
    insertion operators are on.

    With visits still out, OR-Tools' search keeps the time: its insertion operators
    sometimes serve one where ruin and recreate did not (Mankowska's C5, whose last pass
    served 58 of 58 visits with them and 57 with ruin and recreate in their place)."""
    if (
        is_vrptw(day.problem)
        or watch.stop_now()
        or assigned_count(day, best) < len(day.nodes.of_visit)
    ):
        return _for_cost_only(day, best, params, watch)
    reserve = _LNS_SEARCH_SHARE * watch.remaining() + watch.read_s
    attempts = _LNS_ATTEMPTS if params.solution_limit is not None else None
    until = watch.deadline - reserve
    plan = read_routes(day, best)
    routes = _lns.improve(day, plan, params.seed, until, watch.stop_now, attempts, watch.report)
    if routes == [list(r.nodes) for r in plan]:
        # Nothing cheaper: one read, not two (that read alone took 0.6 s on 400 visits).
        return _for_cost_only(day, best, params, watch)
    insertion = len({day.nodes.visit[n] for r in routes for n in r}) < len(day.nodes.of_visit)
    fresh, read = _read_into_fresh_model(day, routes, params, watch, insertion=insertion)
    if read is None or read.ObjectiveValue() >= best.ObjectiveValue():
        return _for_cost_only(day, best, params, watch)
    monitor(fresh, watch)
    watch.report(fresh.cost(read), assigned_count(fresh, read))
    return fresh, read, insertion


def _for_cost_only(
    day: DayModel, best: Any, params: SolveParams, watch: Watch
) -> tuple[DayModel, Any, bool]:
    """``best`` in a fresh model without OR-Tools' insertion operators, once a care day's
    plan serves every visit and there is time to read it and search; else as it is. The
    last item says whether they are on.

    Those operators (path LNS completed by cheapest insertion, and relocating a path with
    insertion of the visits left out) rebuild routes with OR-Tools' heuristics, which
    check only OR-Tools' own limit, and late. On two care days (380 and 400 visits) whose
    plan served every visit before the last search, that search ran 1.6-3.0 s past its
    last limit check in 13 of 24 solves, which ended at 30.1-31.1 s of 30 (perf: inside
    the heuristics, mostly copying memory). With the operators off in a fresh model: 0 of
    22, same plans. A fresh model with them on still overran (5 of 6 on the 380-visit
    day). With nothing left out the search is about cost, which the other operators
    improve. Operators are fixed when a model is closed, hence the new model.
    """
    if (
        is_vrptw(day.problem)
        or assigned_count(day, best) < len(day.nodes.of_visit)
        or watch.remaining() < watch.read_s + _MIN_SEARCH_S  # no time to read and search
    ):
        return day, best, True
    routes = [list(r.nodes) for r in read_routes(day, best)]
    fresh, read = _read_into_fresh_model(day, routes, params, watch, insertion=False)
    if read is None:
        return day, best, True
    monitor(fresh, watch)
    return fresh, read, False


def _refill(
    day: DayModel, assignment: Any, params: SolveParams, watch: Watch, reserve_s: float = 0.0
) -> tuple[DayModel, Any] | None:
    """OR-Tools' best routes with the visits it left out inserted by ``construct``'s moves
    (relocations, clearings, ruin and recreate and an ejection-pool walk, which its
    operators do not make), read into a fresh model (the searched one reads no routes);
    kept if that model finds them cheaper, or if they serve more visits and cost more by
    at most ``SERVE_MORE_SLACK`` (the solve still returns the cheapest plan it found).

    Cheaper with fewer visits happens when a more urgent visit comes in for less urgent
    ones. In a replay of a refill of day 18 (from solver seed 3's last plan), ruin and
    recreate served a priority-2 two-staff visit in place of two priority-3 visits that
    the walk then found no room for: 8,000 less by the day's prices of the visits out,
    and refused before because it served fewer visits."""
    served = assigned_count(day, assignment)
    if served == len(day.nodes.of_visit) or watch.stop_now():
        return None
    solution = read_routes(day, assignment)
    current = [list(r.nodes) for r in solution]
    starts = starts_of(solution)
    cap_s = _CARE_OUT_WALK_SHARE * params.time_limit_s
    until = _walk_until(day, params, watch, watch.read_s + reserve_s, cap_s)
    routes = _insert(day, current, params, watch, until, starts)
    placed = {day.nodes.visit[n] for r in routes for n in r}
    before = {day.nodes.visit[n] for r in current for n in r}
    if len(placed) <= served and _price_out(day, placed) >= _price_out(day, before):
        return None
    fresh, read = _read_into_fresh_model(day, routes, params, watch)
    if read is None:
        return None
    now_served = assigned_count(fresh, read)
    cheaper = read.ObjectiveValue() < assignment.ObjectiveValue()
    bound = assignment.ObjectiveValue() * (1 + SERVE_MORE_SLACK)
    if not cheaper and (now_served <= served or read.ObjectiveValue() >= bound):
        return None
    watch.report(fresh.cost(read), now_served)
    return fresh, read


def _insert(
    day: DayModel,
    routes: Sequence[Sequence[int]],
    params: SolveParams,
    watch: Watch,
    until: float,
    starts: Mapping[int, int],
) -> list[list[int]]:
    """``routes`` (whose nodes start at ``starts``) with the visits out inserted by
    ``construct``'s moves (cheapest insertion, ruin and recreate, then the ejection-pool
    walk) by ``until``."""
    attempts = min(int(_RUIN_ATTEMPTS_PER_S * params.time_limit_s), _RUIN_ATTEMPTS_MAX)
    steps = _walk_steps(params)
    return construct(day, routes, watch.stop_now, until, params.seed, attempts, steps, starts)


def _resolve_district(
    day: DayModel, assignment: Any, params: SolveParams, watch: Watch, tried: set[int]
) -> tuple[DayModel, Any] | None:
    """The most urgent visit still out (not yet ``tried``) served by solving its district
    alone (``_district``) with the time left (up to ``_DISTRICT_MAX_S``), the routes read
    into a fresh model; kept if it finds them cheaper. Should the district's solve serve
    the visit but leave out another, that one is offered to the whole day by ``_insert``.

    Whole 30 s solves of 24 hard cases (days 2, 6, 18, 19, 28 and 72 with solver seeds
    that had left visits out), three trees two at a time: every visit served in 16 of 24
    with the step and the refill's reserve for it, 12 of 24 with the step only when the
    refill left time, 9 of 24 without the step; the costs summed 230,905, 231,083 and
    238,023. The refill's walk, when it fails, would run to the deadline. With a district's
    helpers (``DISTRICT_HELPERS``) and the insertion after a district solve that left
    another visit out: 51 of 72 in three batches against 28 of 48 in two before, 0.44
    visits out a solve against 0.77."""
    if not _has_districts(day) or watch.stop_now():
        return None
    routes = read_routes(day, assignment)
    out = _untried(day, routes, tried)
    seconds = min(_DISTRICT_MAX_S, watch.remaining() - watch.read_s - _MIN_SEARCH_S)
    if not out or seconds < _DISTRICT_MIN_S:
        return None
    i = max(out, key=lambda j: day.problem.weights.unassigned_cost(day.problem.visits[j].priority))
    tried.add(i)
    # A district is a day of its own, solved by the public entry point (which imports this
    # module: hence the import here).
    from .solve import SolveParams, solve

    run = SolveParams(
        time_limit_s=seconds,
        seed=params.seed,
        solution_limit=params.solution_limit,
        minimise_routes=params.minimise_routes,
    )
    plan = solve(district(day, routes, i), run, travel=day.travel, should_stop=watch.stop_now)
    spliced, starts = splice(day, routes, plan)
    if plan.unassigned and day.problem.visits[i].id not in {u.visit_id for u in plan.unassigned}:
        # The visit is in and another of the district's is out, which may fit outside it:
        # a walk as long as the district's solve at most, keeping two reads (the spliced
        # routes' below, and the fresh model a last search would read).
        until = _walk_until(day, params, watch, 2 * watch.read_s, seconds)
        spliced = _insert(day, spliced, params, watch, until, starts)
    fresh, read = _read_into_fresh_model(day, spliced, params, watch)
    if read is None or read.ObjectiveValue() >= assignment.ObjectiveValue():
        return None
    watch.report(fresh.cost(read), assigned_count(fresh, read))
    return fresh, read


def _has_districts(day: DayModel) -> bool:
    """Whether ``_resolve_district`` may run: on a care day planned afresh (a district's
    solve does not know a repair's cost of moving a visit) and bigger than a district."""
    return _fresh_care_day(day) and len(day.problem.caregivers) > DISTRICT_ROUTES


def _untried(day: DayModel, routes: Sequence[RouteNodes], tried: set[int]) -> list[int]:
    """Visits out of ``routes`` whose district was not ``tried`` (locked ones aside)."""
    placed = {day.nodes.visit[n] for r in routes for n in r.nodes}
    return [
        i
        for i in day.nodes.of_visit
        if i not in placed and i not in tried and not day.scopes[i].locked
    ]


def _district_reserve(day: DayModel, assignment: Any, watch: Watch, tried: set[int]) -> float:
    """Seconds a refill leaves for solving a district after it, should a visit stay out:
    its walk would otherwise run to the deadline whenever it fails."""
    if not _has_districts(day) or not _untried(day, read_routes(day, assignment), tried):
        return 0.0
    return min(_DISTRICT_MAX_S, _DISTRICT_SHARE * watch.remaining())


def _price_out(day: DayModel, placed: set[int]) -> int:
    """The day's price of leaving out the visits not in ``placed``."""
    weights, visits = day.problem.weights, day.problem.visits
    return sum(
        weights.unassigned_cost(visits[i].priority) for i in day.nodes.of_visit if i not in placed
    )


def _walk_steps(params: SolveParams) -> int:
    """Steps of a refill's ejection-pool walk: counted where the solve must be
    deterministic, else as many as its deadline allows (``_POOL_STEPS``)."""
    return _POOL_STEPS if params.solution_limit is not None else sys.maxsize


def _read_into_fresh_model(
    day: DayModel,
    routes: Sequence[Sequence[int]],
    params: SolveParams,
    watch: Watch,
    insertion: bool = True,
) -> tuple[DayModel, Any]:
    """A new model of ``day`` (a searched model reads no routes) and ``routes`` of visit
    nodes read into it, or None for the assignment if it refuses them. The time it takes
    goes into ``watch.read_s``."""
    t0 = time.monotonic()
    fresh = build(day.problem, day.travel, day.scopes, day.options)
    fresh.routing.CloseModelWithParameters(
        search_parameters(params, _READ_LIMIT_S, insertion=insertion)
    )
    read = fresh.routing.ReadAssignmentFromRoutes(
        [[fresh.index(n) for n in r] for r in routes], True
    )
    watch.read_s = max(watch.read_s, time.monotonic() - t0)
    return fresh, read
