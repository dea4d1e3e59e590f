"""PyVRP as the seed of the routing model: a relaxation of the day it can solve very well.

PyVRP's iterated local search is far stronger than OR-Tools' guided local search (it
finds the Solomon best-known route counts where OR-Tools' own first solutions find no
solution at all), but it cannot hold every rule of a care day. It gets a relaxation
whose routes are then repaired by exact timing (``_construct``) and read into the
OR-Tools model, which checks them against every rule and improves them:

- eligibility, locks and continuity: one routing profile per group of identical
  caregivers, in which the arcs into a visit a caregiver may not serve are prohibitive
  and those into a visit that prefers someone else cost the continuity miss. On a day
  too big for a profile of each caregiver's own (``_MAX_OWN_PROFILE_BYTES``), one per
  class of caregivers alike under the format's rules, without continuity
  (``_coarse_classes``);
- several windows: one client per window, in a mutually exclusive group;
- a two-staff visit: one client per member of staff, the two allowed on disjoint halves
  of the eligible caregivers (so never on the same route); the common start is set when
  the routes are repaired;
- breaks: one client per break, which only its caregiver may serve, inside the break's
  window and as long as the break, entered from anywhere at no travel; leaving it takes
  the mean of the ``_AFTER_BREAK_ARCS`` shortest arcs into the next visit, an estimate of
  the leg the break interrupts (not a bound: the repair fixes the routes where it is
  wrong). Every route starts out holding its breaks, and PyVRP's neighbourhoods see a
  break at its caregiver's home (at no distance from anything, each break would be every
  visit's nearest client). On a day too big for a profile per caregiver, the route's
  duration (waiting included) is bounded by the shift less the breaks instead;
- visits: every one required, and optional at its prize (the cost of leaving it out)
  only if that finds no feasible plan in ``_REQUIRED_GIVE_UP`` of the budget (a day that
  cannot hold them all), or from the start on a day too big for a profile per caregiver.
  Prize-collecting, PyVRP leaves out visits that fit.

  Measured on generated 400-visit days (days 0-7 with solver seed 0 and day 1 with seeds
  1-4; 12 relaxations of 8.6 s, repaired by ``construct``): with the span bound and prizes
  the relaxations served 4,676 visits and the repaired routes 4,767, and 23 of the 70
  routes of day 1 had no room for the break in its window; with every visit required,
  4,800 (all 12 feasible) and 4,778; with breaks as clients and prizes, 4,628-4,645 and
  4,765-4,769; with both, 4,800 and 4,788-4,790 (4,784 when leaving a break takes the
  nearest arc; 4,790 from the caregiver's home, but 5 of the 12 infeasible);
- work limits are not represented (the repair enforces them).

On the VRPTW benchmarks the relaxation is exact. Bounded by iterations when a solution
limit is set, so a seeded solve is deterministic.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ._reasons import caregiver_problem
from ._routing import COST_SCALE, DayModel

_BIG = 10**9
_SYNC_SHARE = 0.6
"""With two-staff visits, share of the seed's budget before their staff are synchronised."""
_INFEASIBLE_COST = 2**63 - 1
"""PyVRP's cost of an infeasible best solution, as its stopping criteria receive it."""
_REQUIRED_GIVE_UP = 0.2
"""Share of the seed's budget in which the relaxation with every visit required must find
a feasible plan; else the visits become optional, at their prizes, for the rest."""
_AFTER_BREAK_ARCS = 3
"""Travel out of a break client: the mean of this many shortest arcs into the next visit."""
_FLEET_SHARES = (0.4, 0.15)
"""Route minimisation: share of the seed's budget for the first full-fleet solve, and the
most each attempt with one route fewer may take (it ends at its first feasible solution)."""
_MAX_PROFILE_BYTES = 600 * 2**20
"""Above this size of a profile per caregiver (two matrices of 8-byte integers each), the
relaxation has no break clients (the route's span leaves the breaks' time) and the visits
have their prizes from the start (generated care days of about 500 visits and more)."""
_MAX_OWN_PROFILE_BYTES = 2**30
"""Above this size of a profile per caregiver, caregivers alike under the format's rules
share one, without continuity (``_coarse_classes``; generated care days of about 650
visits and more). Below it a caregiver's own profile carries continuity. Generated days,
one 30 s solve each, own profiles (then without continuity) against shared, in
visits served and cost: 600 visits (909 MiB; days 0 with solver seeds 0 and 1, 1 and
2), 599, 599, 600 and 600 at 15,674, 16,141, 13,504 and 11,700 against 599, 600, 598
and 600 at 24,145, 13,369, 17,005 and 14,144; 700 visits (1,457 MiB; days 0 and 1), 700
and 699 at 16,475 and 18,740 against 700 and 700 at 15,702 and 17,271; 800 visits (days
1 and 2), 788 and 792 at 48,737 and 54,999 against 800 and 800 at 21,929 and 15,490.
Peak memory at 700 visits: 3.1 GB against 1.0 GB. Own profiles carry continuity (at no
cost in memory: they are a caregiver's own already): on generated 600-visit days (days
0-5, 8 solves, each beside its twin), with it against without, all 8 cheaper, 101,562
against 240,138 in all, 4,799 visits served against 4,793. At 700 visits, own profiles
with continuity against shared (days 0-3): 3 of 4 cheaper, but in 2 of the 4 the seed
stage ended more than 4 s past its budget, so the threshold stays."""


@dataclass(frozen=True)
class SeedResult:
    """Routes of visit nodes per caregiver, and whether PyVRP found them feasible."""

    routes: list[list[int]]
    feasible: bool


@dataclass(frozen=True)
class _Break:
    """A break as a client: its caregiver, earliest and latest start, and duration."""

    k: int
    earliest: int
    latest: int
    duration: int


def _breaks(day: DayModel) -> list[_Break]:
    """The breaks of every caregiver who can work, clipped to the shift."""
    out = []
    for k, c in enumerate(day.problem.caregivers):
        if caregiver_problem(c) is not None:
            continue
        for b in c.breaks:
            opens, closes = max(b.window[0], c.shift[0]), min(b.window[1], c.shift[1])
            if opens + b.duration_s <= closes:
                out.append(_Break(k, opens, closes - b.duration_s, b.duration_s))
    return out


def _allowed(
    day: DayModel, n_loc: int, breaks: list[_Break], coarse: bool = False
) -> list[npt.NDArray[np.bool_]]:
    """Per caregiver, the client locations it may visit (pairs split by halves), each
    break client (after the nodes) allowed to its caregiver only.

    ``coarse`` (a day above ``_MAX_OWN_PROFILE_BYTES``) widens each caregiver's set to its
    class's (``_coarse_classes``), so that the class shares one profile, and splits the
    staff of a two-staff visit by the class's half; the repair takes off any visit a
    caregiver may not serve after all."""
    nodes = day.nodes
    allowed = [np.zeros(n_loc, dtype=bool) for _ in day.problem.caregivers]
    for i, copies in nodes.of_visit.items():
        scope = day.scopes[i]
        free = [k for k in scope.allowed if k not in scope.locked]
        halves = [[k for k in free if k % 2 == h] for h in (0, 1)]
        for copy, alternatives in enumerate(copies):
            if copy < len(scope.locked):
                ks = [scope.locked[copy]]
            elif len(copies) == 2 and len(scope.locked) == 0:
                # With every eligible caregiver in one half, a class may get both staff,
                # and PyVRP may route them together; the repair then places the pair.
                ks = halves[copy] if coarse and all(halves) else free[copy::2]
            else:
                ks = free
            for k in ks:
                allowed[k][list(alternatives)] = True
    for j, b in enumerate(breaks):
        allowed[b.k][nodes.count + j] = True
    if coarse:
        for members in _coarse_classes(day):
            union = np.logical_or.reduce([allowed[k] for k in members])
            for k in members:
                allowed[k] = union
    return allowed


def _coarse_classes(day: DayModel) -> list[list[int]]:
    """Caregivers alike in what the format's rules let them serve (mode, skills, gender,
    volunteer) and in their half for two-staff visits (even or odd index).

    Reachability within the shift, exclusions, locks and the halves of each two-staff
    visit's eligible staff made nearly every caregiver's set of visits its own: on a
    generated 1,000-visit day (178 caregivers, 1,255 locations), 179 profiles, 9.1 GB at
    peak and 11-22 s to build PyVRP's data against a seed budget of 8 s, so that PyVRP
    searched for half a second. By class, 24 profiles, 2.1 GB at peak, and the data is
    built in 1.2 s (23 classes; 19 on a 600-visit day)."""
    classes: dict[tuple[object, ...], list[int]] = {}
    for k, c in enumerate(day.problem.caregivers):
        key = (c.mode, tuple(sorted(c.skills)), c.gender, c.volunteer, k % 2)
        classes.setdefault(key, []).append(k)
    return list(classes.values())


def _with_breaks(
    travel: npt.NDArray[Any], after: npt.NDArray[np.int64] | None, breaks: list[_Break]
) -> npt.NDArray[np.int64]:
    """``travel`` between nodes, extended by the break clients: entered at no travel,
    left at ``after`` (``_after_break``) into each node."""
    n = travel.shape[0]
    out = np.zeros((n + len(breaks), n + len(breaks)), dtype=np.int64)
    out[:n, :n] = travel
    if after is not None:
        out[n:, :n] = after[None, :]
    return out


def _after_break(travel: npt.NDArray[Any]) -> npt.NDArray[np.int64]:
    """The mean of the ``_AFTER_BREAK_ARCS`` shortest arcs into each node."""
    arcs = travel.astype(np.int64)
    np.fill_diagonal(arcs, _BIG)
    count = min(_AFTER_BREAK_ARCS, max(1, len(arcs) - 1))
    return np.asarray(np.sort(arcs, axis=0)[:count].mean(axis=0), dtype=np.int64)


def _at_home(day: DayModel, travel: npt.NDArray[Any], breaks: list[_Break]) -> npt.NDArray[Any]:
    """``travel`` with each break client at its caregiver's start: PyVRP's neighbourhoods
    only (a break at no distance from anything would be every visit's nearest)."""
    n = travel.shape[0]
    where = list(range(n)) + [day.nodes.start_node[b.k] for b in breaks]
    return np.asarray(travel)[np.ix_(where, where)]


def _profiles(
    day: DayModel, allowed: list[npt.NDArray[np.bool_]], with_care: bool, breaks: list[_Break]
) -> tuple[list[Any], list[Any], list[int]]:
    """Distance and duration matrices of each distinct caregiver profile, and each
    caregiver's profile index. Profile 0 (no caregiver's) gives PyVRP its neighbourhoods:
    the first mode, unrestricted, with the breaks at home."""
    problem, nodes = day.problem, day.nodes
    n_nodes = nodes.count
    base = day.travel_by_mode
    first = sorted(base)[0]
    near = _at_home(day, base[first], breaks)
    dists: list[Any] = [near * problem.weights.travel_per_min]
    durs: list[Any] = [near]
    after = {mode: _after_break(m) for mode, m in base.items()} if breaks else {}
    seen: dict[bytes, int] = {}
    which = []
    shared = _shared_care(day) if with_care else None
    for k, c in enumerate(problem.caregivers):
        ok = allowed[k].copy()
        care = np.zeros(len(ok), dtype=np.int64)
        if shared is not None:
            care[:n_nodes] = shared[k]
        key = c.mode.encode() + ok.tobytes() + care.tobytes()
        if key not in seen:
            dur = _with_breaks(base[c.mode], after.get(c.mode), breaks)
            dist = dur * problem.weights.travel_per_min + care[None, :]
            forbidden = ~ok
            forbidden[: _depot_count(day)] = False
            dur[:, forbidden] = _BIG
            dist[:, forbidden] = _BIG
            np.fill_diagonal(dur, 0)
            np.fill_diagonal(dist, 0)
            seen[key] = len(dists)
            dists.append(dist)
            durs.append(dur)
        which.append(seen[key])
    return dists, durs, which


def _shared_care(day: DayModel) -> npt.NDArray[np.int64] | None:
    """The care costs with a two-staff visit's continuity miss shared by its copies: its
    two clients here go to disjoint halves of its caregivers (``_allowed``), so the first
    copy's half alone would see a preferred caregiver in the other half as no gain."""
    if day.care is None:
        return None
    care = np.asarray(day.care, dtype=np.int64)
    for copies in day.nodes.of_visit.values():
        if len(copies) == 2:
            for a, b in zip(*copies, strict=True):
                care[:, a] = care[:, b] = (care[:, a] + care[:, b]) // 2
    return care


def _depot_count(day: DayModel) -> int:
    return len(set(day.nodes.start_node) | set(day.nodes.end_node))


def _profile_bytes(day: DayModel, n_loc: int) -> int:
    """Bytes of a profile per caregiver."""
    return 16 * n_loc * n_loc * (len(day.problem.caregivers) + 1)


def _too_big(day: DayModel, n_loc: int) -> bool:
    return _profile_bytes(day, n_loc) > _MAX_PROFILE_BYTES


@dataclass(frozen=True)
class _Relaxation:
    data: Any
    """Every visit required (a group of windows: one of them), unless ``prizes``."""
    members: list[list[int]]
    client_nodes: list[int]
    """The node of each visit client; the break clients follow them."""
    pairs: list[tuple[int, int]]
    """Client indices of the two staff of each single-window two-staff visit."""
    start: list[tuple[int, list[int]]]
    """Each vehicle type with breaks and its break clients: a first solution."""
    prizes: bool
    """Every visit optional at its prize from the start (a day too big for a profile per
    caregiver)."""

    def with_prizes(self) -> Any:
        """``data`` with every visit optional, at its prize."""
        data = self.data
        # Break clients have no prize: they stay required.
        clients = [_client_like(c, required=False) if c.prize else c for c in data.clients()]
        groups = [_group_like(g, required=False) for g in data.groups()]
        return data.replace(clients=clients, groups=groups)


def _prize(day: DayModel, i: int, copies: int) -> int:
    w = day.problem.weights
    cost = COST_SCALE * w.unassigned_cost(day.problem.visits[i].priority)
    if day.scopes[i].locked:
        cost = COST_SCALE * 10 * max([1, *w.unassigned.values()])
    return max(1, cost // copies)


def _relaxation(day: DayModel) -> _Relaxation:
    import pyvrp

    problem, nodes = day.problem, day.nodes
    n_nodes = nodes.count
    breaks = _breaks(day)
    prizes = _too_big(day, n_nodes + len(breaks))
    if prizes:
        # Break clients would add a location per break to every profile; on a day this
        # big the breaks shorten the route's span instead, and the visits have their
        # prizes from the start (building the data takes much of the budget).
        breaks = []
    n_loc = n_nodes + len(breaks)
    coarse = _profile_bytes(day, n_loc) > _MAX_OWN_PROFILE_BYTES
    allowed = _allowed(day, n_loc, breaks, coarse)
    dists, durs, which = _profiles(day, allowed, not coarse, breaks)
    points = day.travel.points
    homes = [nodes.start_node[b.k] for b in breaks]
    locations = [pyvrp.Location(*points[nodes.point[n]]) for n in [*range(n_nodes), *homes]]
    depots = [pyvrp.Depot(location=n) for n in range(_depot_count(day))]
    uses_load = any(c.capacity is not None for c in problem.caregivers)
    uses_count = any(c.max_visits is not None for c in problem.caregivers)
    clients: list[Any] = []
    groups: list[Any] = []
    client_nodes: list[int] = []
    for i, copies in nodes.of_visit.items():
        prize = _prize(day, i, len(copies))
        for alternatives in copies:
            group = None
            if len(alternatives) > 1:
                group = len(groups)
                groups.append(pyvrp.ClientGroup(required=not prizes))
            for n in alternatives:
                load = [problem.visits[i].demand] if uses_load else []
                if uses_count:
                    load.append(1)
                if group is not None:
                    groups[group].add_client(len(clients))
                a, b = nodes.window[n]
                clients.append(
                    pyvrp.Client(
                        location=n,
                        delivery=load,
                        service_duration=nodes.service_s[n],
                        tw_early=a,
                        tw_late=b,
                        prize=prize,
                        required=group is None and not prizes,
                        group=group,
                    )
                )
                client_nodes.append(n)
    no_load = [0] * (uses_load + uses_count)
    for j, brk in enumerate(breaks):
        clients.append(
            pyvrp.Client(
                location=n_nodes + j,
                delivery=no_load,
                service_duration=brk.duration,
                tw_early=brk.earliest,
                tw_late=brk.latest,
                required=True,
            )
        )
    types, members = _vehicle_types(
        day, which, uses_load, uses_count, len(client_nodes), breaks_in_span=not breaks
    )
    data = pyvrp.ProblemData(locations, clients, depots, types, dists, durs, groups)
    index = {n: c for c, n in enumerate(client_nodes)}
    pairs = [
        (index[copies[0][0]], index[copies[1][0]])
        for copies in nodes.of_visit.values()
        if len(copies) == 2 and len(copies[0]) == 1
    ]
    start = _break_routes(members, breaks, len(client_nodes))
    return _Relaxation(data, members, client_nodes, pairs, start, prizes)


def _break_routes(
    members: list[list[int]], breaks: list[_Break], first: int
) -> list[tuple[int, list[int]]]:
    """Each vehicle type whose caregiver has breaks, with its break clients (numbered from
    ``first``). A caregiver with breaks has a type of its own: its profile is its own."""
    type_of = {ks[0]: t for t, ks in enumerate(members) if len(ks) == 1}
    out: dict[int, list[int]] = {}
    for j, b in enumerate(breaks):
        out.setdefault(type_of[b.k], []).append(first + j)
    return sorted(out.items())


def _vehicle_types(
    day: DayModel,
    which: list[int],
    uses_load: bool,
    uses_count: bool,
    n_clients: int,
    breaks_in_span: bool,
) -> tuple[list[Any], list[list[int]]]:
    """PyVRP's vehicle types, one per group of identical caregivers, and their members.
    With ``breaks_in_span`` (no break clients), a route's duration, waiting included, is
    bounded by the shift less the breaks, which leaves their time free somewhere."""
    import pyvrp

    problem, nodes = day.problem, day.nodes
    big_load = sum(v.demand for v in problem.visits) + 1
    groups: dict[tuple[Any, ...], list[int]] = {}
    for k, c in enumerate(problem.caregivers):
        capacity = [c.capacity if c.capacity is not None else big_load] if uses_load else []
        if uses_count:
            capacity.append(c.max_visits if c.max_visits is not None else n_clients)
        usable = caregiver_problem(c) is None
        shift = c.shift if usable else (c.shift[0], c.shift[0])
        span = shift[1] - shift[0]
        if breaks_in_span:
            span = max(0, span - sum(b.duration_s for b in c.breaks))
        key = (nodes.start_node[k], nodes.end_node[k], shift, tuple(capacity), which[k], span)
        groups.setdefault(key, []).append(k)
    types = []
    members = []
    for (start, end, shift, capacity, profile, span), ks in groups.items():
        types.append(
            pyvrp.VehicleType(
                num_available=len(ks),
                capacity=list(capacity),
                start_depot=start,
                end_depot=end,
                fixed_cost=day.options.route_fixed,
                tw_early=shift[0],
                tw_late=shift[1],
                unit_distance_cost=1,
                shift_duration=span,
                profile=profile,
            )
        )
        members.append(ks)
    return types, members


class _Budget:
    """Splits the seed's budget (seconds, or iterations when deterministic) into phases."""

    def __init__(
        self,
        max_runtime_s: float | None,
        max_iterations: int | None,
        should_stop: Callable[[], bool] | None,
    ) -> None:
        self.iterations = max_iterations
        self.end = time.monotonic() + max(0.01, max_runtime_s or 0.0)
        self.total_s = max(0.01, max_runtime_s or 0.0)
        self.should_stop = should_stop

    def stop(
        self, share: float, *, first_feasible: bool = False, give_up: float | None = None
    ) -> Callable[[float], bool]:
        """A stopping criterion for a phase of ``share`` of the whole budget (never past
        its end), optionally ending at the first feasible solution, or once ``give_up``
        of the budget has gone by without one."""
        limit, patience = self._limit(share), self._limit(give_up)

        def stop(best_cost: float) -> bool:
            infeasible = best_cost >= _INFEASIBLE_COST
            if first_feasible and not infeasible:
                return True
            if self.should_stop is not None and self.should_stop():
                return True
            if patience is not None and patience(best_cost) and infeasible:
                return True
            return bool(limit(best_cost)) or (self.iterations is None and self.left() <= 0)

        return stop

    def _limit(self, share: float | None) -> Any:
        """PyVRP's criterion for ``share`` of the budget from now (iterations or seconds)."""
        from pyvrp.stop import MaxIterations, MaxRuntime

        if share is None:
            return None
        if self.iterations is not None:
            return MaxIterations(max(1, int(self.iterations * share)))
        return MaxRuntime(max(0.01, min(self.total_s * share, self.left())))

    def left(self) -> float:
        return self.end - time.monotonic()

    def exhausted(self) -> bool:
        if self.should_stop is not None and self.should_stop():
            return True
        return self.iterations is None and self.left() <= 0


def _run(data: Any, stop: Any, seed: int, initial: Any = None) -> Any:
    """PyVRP's iterated local search, put together as ``pyvrp.solve`` does, but with the
    neighbourhoods of profile 0 alone (``_profiles``). PyVRP's own read the caregivers'
    profiles too, where a break client is at no distance from anything: on a 400-visit
    day 48 of each visit's 50 neighbours were breaks."""
    from pyvrp import RandomNumberGenerator, Solution
    from pyvrp.IteratedLocalSearch import IteratedLocalSearch, IteratedLocalSearchParams
    from pyvrp.PenaltyManager import PenaltyManager, PenaltyParams
    from pyvrp.search import OPERATORS, LocalSearch, PerturbationManager, PerturbationParams

    with warnings.catch_warnings():
        # PyVRP warns when its penalties saturate on a relaxation it cannot make feasible;
        # that is expected here (the repair takes over) and must not reach the caller.
        warnings.simplefilter("ignore")
        rng = RandomNumberGenerator(seed=seed)
        search = LocalSearch(
            data, rng, _neighbours(data), PerturbationManager(PerturbationParams())
        )
        for op in OPERATORS:
            if op.supports(data):
                search.add_operator(op(data))
        penalty = PenaltyParams()
        penalties = PenaltyManager(penalty.midpoint_penalties(data), penalty)
        if initial is None:
            random = Solution.make_random(data, rng)
            initial = search(random, penalties.max_cost_evaluator(), exhaustive=True)
        ils = IteratedLocalSearch(data, penalties, search, initial, IteratedLocalSearchParams())
        return ils.run(stop, False, False, 5.0).best


def _neighbours(data: Any) -> Any:
    from pyvrp.search import NeighbourhoodParams, compute_neighbours

    types = [t.replace(profile=0) for t in data.vehicle_types()]
    near = data.replace(
        vehicle_types=types,
        distance_matrices=[data.distance_matrix(0)],
        duration_matrices=[data.duration_matrix(0)],
    )
    return compute_neighbours(near, NeighbourhoodParams())


def _with_breaks_only(data: Any, relax: _Relaxation) -> Any:
    """A first solution of ``data``: every caregiver's route holds its breaks alone (PyVRP
    would not move a break to its route: no neighbourhood reaches it); ``None`` when
    there are no breaks (PyVRP builds its own)."""
    import pyvrp

    if not relax.start:
        return None
    return pyvrp.Solution(data, [pyvrp.Route(data, cs, t) for t, cs in relax.start])


def _fleet_mode(day: DayModel, relax: _Relaxation) -> bool:
    """Route minimisation by shrinking the fleet: one vehicle type, every visit a single
    client that must be served, and a cost per route."""
    if day.options.route_fixed <= 0 or relax.data.num_vehicle_types != 1:
        return False
    return all(len(c) == 1 and len(c[0]) == 1 for c in day.nodes.of_visit.values())


def _minimise_fleet(relax: _Relaxation, budget: _Budget, seed: int) -> Any | None:
    """Serve every client with as few routes as possible; ``None`` if PyVRP cannot serve
    them all.

    A first run with the whole fleet; then one route at a time is removed (its clients
    left for PyVRP to place) until a reduced fleet finds no feasible solution in its
    share; the time left goes to a fresh run with the fleet capped at the fewest routes
    found, and the better solution is kept. PyVRP restarted from a solution barely
    improves it, where a fresh run does (Solomon RC202 at 3 routes: 1445 from the reduced
    solution, 1368-1437 fresh; BKS 1366).
    """
    import pyvrp

    first, attempt = _FLEET_SHARES
    data = relax.data.replace(clients=[_required(c) for c in relax.data.clients()])
    best = _run(data, budget.stop(first), seed)
    if not best.is_feasible():
        return None
    fleet = data.vehicle_type(0)
    while not budget.exhausted() and best.num_routes() > 1:
        smaller = fleet.replace(num_available=best.num_routes() - 1)
        trial_data = data.replace(vehicle_types=[smaller])
        routes = sorted(best.routes(), key=lambda r: r.num_clients())[1:]
        start = pyvrp.Solution(trial_data, [[a.idx for a in r if a.is_client()] for r in routes])
        trial = _run(trial_data, budget.stop(attempt, first_feasible=True), seed, start)
        if not trial.is_feasible():
            break
        best = trial
    if budget.exhausted():
        return best
    capped = data.replace(vehicle_types=[fleet.replace(num_available=best.num_routes())])
    other = _run(capped, budget.stop(1.0), seed + 1)
    if other.is_feasible() and (other.num_routes(), other.distance()) < (
        best.num_routes(),
        best.distance(),
    ):
        return other
    return best


def _required(client: Any) -> Any:
    return _client_like(client, required=True)


def _group_like(group: Any, required: bool) -> Any:
    import pyvrp

    return pyvrp.ClientGroup(list(group.clients), required=required)


def _client_like(client: Any, **changes: Any) -> Any:
    import pyvrp

    fields = {
        "location": client.location,
        "delivery": client.delivery,
        "pickup": client.pickup,
        "service_duration": client.service_duration,
        "tw_early": client.tw_early,
        "tw_late": client.tw_late,
        "release_time": client.release_time,
        "prize": client.prize,
        "required": client.required,
        "group": client.group,
    }
    fields.update(changes)
    return pyvrp.Client(**fields)


def _synchronise(relax: _Relaxation, data: Any, best: Any, budget: _Budget, seed: int) -> Any:
    """Align the two staff of each two-staff visit: pin both to the later of their starts
    and let PyVRP rearrange the routes around those times, from the current solution."""
    import pyvrp

    starts: dict[int, int] = {}
    for route in best.routes():
        for act in route.schedule():
            if act.is_client():
                starts[act.idx] = act.start_time
    clients = list(data.clients())
    pinned = 0
    for a, b in relax.pairs:
        if a in starts and b in starts:
            at = max(starts[a], starts[b])
            clients[a] = _client_like(clients[a], tw_early=at, tw_late=at)
            clients[b] = _client_like(clients[b], tw_early=at, tw_late=at)
            pinned += 1
    if not pinned:
        return best
    data = data.replace(clients=clients)
    start = pyvrp.Solution(
        data,
        [
            pyvrp.Route(data, [a.idx for a in r if a.is_client()], r.vehicle_type())
            for r in best.routes()
        ],
    )
    return _run(data, budget.stop(1.0 - _SYNC_SHARE), seed, start)


def _serve_all_first(
    relax: _Relaxation, budget: _Budget, seed: int, share: float
) -> tuple[Any, Any]:
    """PyVRP's best plan in ``share`` of the budget, and the data it plans: every visit
    required, unless that finds no feasible plan in ``_REQUIRED_GIVE_UP`` of the budget
    (a day that cannot hold them all) or there is no time left for it; then the visits at
    their prizes for the rest (with no time left: PyVRP's first plan, a local optimum)."""
    data = relax.data
    if relax.prizes:
        return _run(data, budget.stop(share), seed), data
    if not budget.exhausted():
        stop = budget.stop(share, give_up=_REQUIRED_GIVE_UP)
        best = _run(data, stop, seed, _with_breaks_only(data, relax))
        if best.is_feasible():
            return best, data
    data = relax.with_prizes()
    stop = budget.stop(max(0.0, share - _REQUIRED_GIVE_UP))
    return _run(data, stop, seed, _with_breaks_only(data, relax)), data


def seed(
    day: DayModel,
    seed: int,
    *,
    max_runtime_s: float | None,
    max_iterations: int | None,
    should_stop: Callable[[], bool] | None = None,
) -> SeedResult | None:
    """Solve the PyVRP relaxation of ``day``; ``None`` when there is nothing to route.

    Bounded by ``max_iterations`` when given (deterministic), else by ``max_runtime_s``;
    ``should_stop`` is polled every iteration. With a cost per route and a plain VRPTW
    (the benchmarks), routes are first removed one at a time while every client can
    still be served, then the smallest feasible fleet is polished.
    """
    if not day.nodes.of_visit:
        return None
    budget = _Budget(max_runtime_s, max_iterations, should_stop)
    relax = _relaxation(day)
    fleet = _minimise_fleet(relax, budget, seed) if _fleet_mode(day, relax) else None
    if fleet is not None:
        best = fleet
    else:
        share = _SYNC_SHARE if relax.pairs else 1.0
        best, data = _serve_all_first(relax, budget, seed, share)
        if relax.pairs and not budget.exhausted():
            best = _synchronise(relax, data, best, budget, seed)
    routes: list[list[int]] = [[] for _ in day.problem.caregivers]
    free = [list(ks) for ks in relax.members]
    n_visit_clients = len(relax.client_nodes)
    for r in best.routes():
        k = free[r.vehicle_type()].pop(0)
        routes[k] = [
            relax.client_nodes[a.idx] for a in r if a.is_client() and a.idx < n_visit_clients
        ]
    return SeedResult(routes, bool(best.is_feasible()))
