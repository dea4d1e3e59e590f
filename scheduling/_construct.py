"""A first solution that holds every rule, built or completed by insertion.

OR-Tools' own first-solution heuristics are slow on a care day (seconds for 400 visits once
breaks are on) and fail outright with two-staff visits, whose synchronised pair of nodes
they cannot insert together. ``construct`` builds the first solution itself, every step
checked by exact route timing (``_timing``):

1. routes given to it (PyVRP's relaxation, or a previous plan) are repaired: a route that
   breaks a rule gives up visits, least urgent first, until it holds; a two-staff visit
   keeps its two routes only if both can start it at the same time;
2. two-staff and locked visits are placed, on two routes at once with a common start;
3. the other visits are inserted by priority, then by regret (the cost of not getting the
   best route), at their cheapest feasible position;
4. a visit still left out takes the place of one or two less urgent ones when that
   gains, or of visits that move to other routes (relocation); a two-staff visit may
   take, on each of its two routes, the place of a visit that is less urgent or fits
   elsewhere; those pushed out go elsewhere if they fit;
5. a visit still left out clears its route (two routes for a two-staff visit) of every
   less urgent visit, which then go back wherever they fit; kept when the day gains;
6. ``_polish`` relocates and swaps visits between routes while that lowers travel and
   continuity costs, repeating steps 2-5 after each pass for the time it frees;
7. when asked (``ruin_attempts``), a visit still left out gets attempts of ruin and
   recreate: a few routes near it lose their visits around its time, it takes a place
   there (two of them, with a common start, for a two-staff visit), and the others go
   back by regret wherever they fit;
8. when asked (``pool_steps``), the single-staff visits still out go into an ejection
   pool: each in turn takes a place, pushing off at most two visits near its time that
   join the pool, until the pool is empty; after each step a few random relocations
   change where the room lies (see ``_insert_by_pool``).

Steps 5 and 6 were measured on generated 400-visit days (seeds 0-2, three PyVRP seeds
each, 3,000 PyVRP iterations): without them the repaired relaxation lost a reachable
priority-1 visit in 4 of the 9 runs (e.g. a 60-minute nursing visit due at 10:45-11:45,
whose room the relaxation had filled without leaving time for lunch breaks), with them
in 1 of 9, and the day's cost was lower in all 9.

The routes it returns are read into OR-Tools, which checks them against the full model.
"""

from __future__ import annotations

import itertools
import random
import time
from collections.abc import Callable, Container, Iterator, Mapping, Sequence
from dataclasses import dataclass

from ._polish import polish
from ._routing import COST_SCALE, DayModel
from ._timing import RouteTimer, Slack, Vehicle

_PAIR_CANDIDATES = 8
_CHAIN_ROUTES = 8
"""Routes nearest to a visit pushed along a two-step relocation that are tried for it."""
_RUIN_MAX = 4
"""The most routes one ruin-and-recreate attempt takes visits off."""
_RUIN_ROUTES = 24
"""Routes nearest to a visit left out among which its ruins are drawn."""
_RUIN_MARGINS_S = (3600, 7200, 10800)
"""How far beyond a left-out visit's windows the visits taken off its routes may lie."""
_POOL_EJECT = 2
"""The most visits one step of the ejection-pool walk pushes off a route."""
_POOL_RESTART = 400
"""Steps after which the walk starts again from its cheapest state. From a plan of seed 1's
generated 400-visit day with one visit out: 4 of 6 random streams served it within 1,000
steps without restarts (the others circled); with them, 6 of 6 within 21-1,208 steps."""
_POOL_MARGIN_S = 3600
"""How far beyond the windows of the visit a step places the visits it pushes off lie."""
_POOL_PERTURB = 3
"""Random relocations after each step of the walk (Nagata and Bräysy's perturbation):
they change where the room lies without losing a visit. Refills replayed from three
states of seed 1's generated 400-visit day (390-394 visits served), 11 walks: 397-398
visits without them (mean 397.7), 398-399 with three (398.5); on a subset of 6 walks,
two or six gave 398.3, three 398.5, none 397.7. A state of seed 2's day: 399 either
way (3 walks). With the deadline those refills had in their solves (8.2-8.6 s), 9 walks
from the seed 1 states: 397-398 visits without (3,578 in all), 396-399 with (3,583);
from another of seed 2's, 398 either way."""
SERVE_MORE_SLACK = 0.05
"""Routes from the ejection-pool walk that serve more visits are kept even if they cost up
to this share more than those it started from: they are costly only until searched. On
seed 1's 400-visit day: 0.3 % above the 399-visit routes, 4.3 % below them after 8 s of
OR-Tools' search, which had found nothing more on those."""


@dataclass
class _Insertion:
    cost: int
    k: int
    pos: int
    node: int
    start: int
    """When the node's service begins in the timing that found the insertion feasible."""


class Builder:
    """Regret insertion of the day's visits into caregivers' routes."""

    def __init__(self, day: DayModel, timer: RouteTimer) -> None:
        self.day = day
        self.timer = timer
        self.routes: list[list[int]] = [[] for _ in day.problem.caregivers]
        self.pinned: dict[int, int] = {}
        self.care = day.care
        self.fixed = day.options.route_fixed
        self.price = [0] * day.nodes.count
        weights = day.problem.weights
        for i, copies in day.nodes.of_visit.items():
            cost = weights.unassigned_cost(day.problem.visits[i].priority)
            if day.scopes[i].locked:
                cost *= 10
            for alternatives in copies:
                for n in alternatives:
                    self.price[n] = cost
        for n, (a, b) in enumerate(day.nodes.window):
            if day.nodes.visit[n] >= 0 and a == b:
                self.pinned[n] = a
        self._slacks: dict[int, tuple[tuple[tuple[int, ...], tuple[int | None, ...]], Slack]] = {}
        self._costs: dict[int, tuple[tuple[int, ...], int]] = {}

    def arc_delta(self, veh: Vehicle, seq: list[int], pos: int, n: int) -> int:
        mat = veh.matrix
        prev = seq[pos - 1] if pos > 0 else veh.start
        nxt = seq[pos] if pos < len(seq) else veh.end
        base = 0 if not seq else mat[prev][nxt]
        delta = (mat[prev][n] + mat[n][nxt] - base) * veh.per_min
        if not seq:
            delta += self.fixed
        if self.care is not None:
            delta += self.care[veh.k][n]
        return delta

    def route_cost(self, k: int, seq: Sequence[int]) -> int:
        """Travel and care cost of route ``k`` as ``seq`` (the fixed cost when not empty)."""
        if not seq:
            return 0
        veh = self.timer.vehicles[k]
        mat = veh.matrix
        total = mat[veh.start][seq[0]] + mat[seq[-1]][veh.end]
        total += sum(mat[a][b] for a, b in itertools.pairwise(seq))
        total *= veh.per_min
        if self.care is not None:
            total += sum(self.care[k][n] for n in seq)
        return total + self.fixed

    def kept_route_cost(self, k: int) -> int:
        """``route_cost`` of route ``k`` as it is now, kept while the route stays as it is:
        the ejection-pool walk prices the whole day after each step and ``polish`` weighs
        every move against the routes it changes, one or two at a time."""
        seq = tuple(self.routes[k])
        kept = self._costs.get(k)
        if kept is not None and kept[0] == seq:
            return kept[1]
        cost = self.route_cost(k, seq)
        self._costs[k] = (seq, cost)
        return cost

    def cheapest(
        self,
        k: int,
        seq: list[int],
        alternatives: Sequence[int],
        below: int | None = None,
        slack: Slack | None = None,
    ) -> _Insertion | None:
        """Cheapest feasible insertion into ``seq`` (as route ``k``) of any of the
        ``alternatives``, if one costs less than ``below``; ``slack`` is ``seq``'s, if
        the caller has it."""
        if below is not None and self.insertion_floor(k, seq, alternatives) >= below:
            return None
        veh = self.timer.vehicles[k]
        if slack is None:
            slack = self.timer.slack(veh, seq, self.pinned)
        # The bound test first: on a full day it rules out most positions, whose costs
        # are then never computed.
        positions = self.timer.open_positions(veh, seq, slack, alternatives, self.pinned)
        if not positions:
            return None
        order = sorted((self.arc_delta(veh, seq, p, n), p, n) for p, n in positions)
        for cost, p, n in order:
            if below is not None and cost >= below:
                return None
            timing = self.timer.feasible(veh, seq[:p] + [n] + seq[p:], self.pinned)
            if timing is not None:
                return _Insertion(cost, k, p, n, timing.starts[p])
        return None

    def insertion_floor(self, k: int, seq: Sequence[int], alternatives: Sequence[int]) -> int:
        """No insertion of any of ``alternatives`` into ``seq`` as route ``k`` costs less.

        Its care cost, the fixed cost into an empty route, and a detour of at least -1 s:
        true of whole seconds rounded from any travel times that hold the triangle
        inequality (the geodesic rule's, a road network's shortest paths). Only a bound to
        skip routes by: on a matrix that breaks it, a choice is less greedy, never wrong
        (every insertion is still timed exactly). Most caregivers miss a visit's
        continuity, so once an insertion costs less than a miss, their routes are skipped
        without looking at a position."""
        care = 0 if self.care is None else min(self.care[k][n] for n in alternatives)
        if not seq:
            return care + self.fixed
        return care - self.timer.vehicles[k].per_min

    def best_in_route(
        self, k: int, alternatives: Sequence[int], slack: Slack | None = None
    ) -> _Insertion | None:
        """Cheapest feasible position in route ``k`` (whose slack is ``slack``, if the
        caller has it) of any of the ``alternatives``."""
        if slack is None:
            slack = self.route_slack(k)
        return self.cheapest(k, self.routes[k], alternatives, slack=slack)

    def route_slack(self, k: int) -> Slack:
        """Route ``k``'s slack as it is now, kept while the route and the pins of its
        visits stay as they are: inserting a few visits tries each of them on most
        routes, and most routes do not change from one try to the next."""
        seq = self.routes[k]
        key = (tuple(seq), tuple(map(self.pinned.get, seq)))
        kept = self._slacks.get(k)
        if kept is not None and kept[0] == key:
            return kept[1]
        slack = self.timer.slack(self.timer.vehicles[k], seq, self.pinned)
        self._slacks[k] = (key, slack)
        return slack

    def insert(self, ins: _Insertion) -> None:
        self.routes[ins.k].insert(ins.pos, ins.node)

    def place_pair(
        self,
        copies: tuple[tuple[int, ...], ...],
        allowed: Sequence[int],
        locked: Sequence[int],
        slack: Callable[[int], Slack] | None = None,
    ) -> bool:
        """Put a two-staff visit on two routes with a common start, in the cheapest window
        (``slack`` gives a route's slack, if the caller keeps them)."""
        best: tuple[int, _Insertion, _Insertion, int] | None = None
        must = set(locked)
        for a, b in zip(*copies, strict=True):
            options = [
                ins
                for k in allowed
                if (ins := self.best_in_route(k, (a,), slack(k) if slack else None)) is not None
            ]
            options.sort(key=lambda x: x.cost)
            keep = [o for o in options if o.k in must]
            keep += [o for o in options if o.k not in must][:_PAIR_CANDIDATES]
            for i, first in enumerate(keep):
                for second in keep[i + 1 :]:
                    if not must <= {first.k, second.k}:
                        continue
                    total = first.cost + second.cost
                    if best is not None and total >= best[0]:
                        continue
                    start = self._common_start(a, first, second)
                    if start is not None:
                        second_b = _Insertion(second.cost, second.k, second.pos, b, second.start)
                        best = (total, first, second_b, start)
        if best is None:
            return False
        _, first, second, start = best
        self.pinned[first.node] = self.pinned[second.node] = start
        self.insert(first)
        self.insert(second)
        return True

    def _common_start(self, n: int, first: _Insertion, second: _Insertion) -> int | None:
        """The later of the two routes' own earliest starts, if both can hold it."""
        timer = self.timer
        earliest = max(first.start, second.start)
        pinned = {**self.pinned, n: earliest}
        for ins in (first, second):
            seq = self.routes[ins.k][: ins.pos] + [n] + self.routes[ins.k][ins.pos :]
            if timer.feasible(timer.vehicles[ins.k], seq, pinned) is None:
                return None
        return earliest


def _visit_order(day: DayModel) -> list[int]:
    """Locked and two-staff visits first, then by priority and fewest allowed caregivers."""
    problem = day.problem

    def key(i: int) -> tuple[int, int, int, int]:
        scope = day.scopes[i]
        v = problem.visits[i]
        return (0 if scope.locked else 1, -v.staff, v.priority, len(scope.allowed))

    return sorted(day.nodes.of_visit, key=key)


def construct(
    day: DayModel,
    initial: Sequence[Sequence[int]] | None = None,
    should_stop: Callable[[], bool] | None = None,
    deadline: float | None = None,
    seed: int = 0,
    ruin_attempts: int = 0,
    pool_steps: int = 0,
    starts: Mapping[int, int] | None = None,
) -> list[list[int]]:
    """Routes of visit nodes (per caregiver) holding every rule.

    ``initial`` routes (e.g. from a previous plan) are kept as they are, minus any node
    that makes its route infeasible; the other visits are then inserted. ``starts`` are
    the initial routes' start times, where known (node -> seconds): a two-staff visit
    keeps its start where both its routes still hold it. Visits still out after that get
    ``ruin_attempts`` attempts of ruin and recreate, drawn with ``seed``, then up to
    ``pool_steps`` steps of an ejection-pool walk.
    """
    timer = RouteTimer(day)
    builder = Builder(day, timer)
    placed: set[int] = set()
    if initial is not None:
        _seed_routes(builder, initial, starts or {})
        placed = {day.nodes.visit[n] for r in builder.routes for n in r}
    _complete(builder, placed, should_stop, deadline)
    polish(
        builder,
        lambda: _complete(builder, _placed(builder), should_stop, deadline),
        should_stop,
        deadline,
    )
    _insert_by_ruin(builder, random.Random(seed), ruin_attempts, should_stop, deadline)
    _insert_by_pool(builder, random.Random(seed), pool_steps, should_stop, deadline)
    return builder.routes


def _placed(builder: Builder) -> set[int]:
    return {builder.day.nodes.visit[n] for r in builder.routes for n in r}


def _left_out(builder: Builder, staff: int | None = None) -> list[int]:
    """Visits not yet placed and not locked (of ``staff`` members of staff, if given),
    best priority first."""
    day = builder.day
    placed = _placed(builder)
    left = [
        i
        for i in _visit_order(day)
        if i not in placed
        and not day.scopes[i].locked
        and (staff is None or len(day.nodes.of_visit[i]) == staff)
    ]
    left.sort(key=lambda i: day.problem.visits[i].priority)
    return left


def _stopped(should_stop: Callable[[], bool] | None, deadline: float | None) -> bool:
    return (should_stop is not None and should_stop()) or (
        deadline is not None and time.monotonic() > deadline
    )


def _cheapest_free(
    builder: Builder, m: int, taken: Container[int] = frozenset()
) -> _Insertion | None:
    """The cheapest place for node ``m``'s visit, as it is, on a route not in ``taken``."""
    day = builder.day
    j = day.nodes.visit[m]
    found = [
        ins
        for k in day.scopes[j].allowed
        if k not in taken
        and (ins := builder.best_in_route(k, day.nodes.of_visit[j][0])) is not None
    ]
    return min(found, key=lambda x: x.cost, default=None)


def _complete(
    builder: Builder,
    placed: set[int],
    should_stop: Callable[[], bool] | None,
    deadline: float | None,
) -> None:
    """Insert the visits not yet ``placed``: pairs, then by regret, then by ejection."""
    day = builder.day
    singles: list[int] = []
    for i in _visit_order(day):
        if i in placed:
            continue
        copies = day.nodes.of_visit[i]
        if len(copies) == 2:
            scope = day.scopes[i]
            builder.place_pair(copies, scope.allowed, scope.locked)
        else:
            singles.append(i)
    _regret_insert(builder, singles, should_stop, deadline)
    _insert_by_ejection(builder, should_stop, deadline)
    _insert_by_relocation(builder, should_stop, deadline)
    _insert_pairs_by_ejection(builder, should_stop, deadline)
    _insert_by_clearing(builder, should_stop, deadline)


def _seed_routes(
    builder: Builder, initial: Sequence[Sequence[int]], starts: Mapping[int, int]
) -> None:
    for k, seq in enumerate(initial):
        builder.routes[k] = _repair(builder, k, [n for n in seq if _may_serve(builder, k, n)])
    _drop_lonely_pairs(builder)
    _pin_pairs(builder, starts)


def _may_serve(builder: Builder, k: int, n: int) -> bool:
    """Whether caregiver ``k`` may serve node ``n`` (its visit's eligibility and locks).

    Routes given to ``construct`` need not respect it: PyVRP's relaxation only prices
    forbidden arcs high, and a previous plan predates the day's changes. OR-Tools refuses
    a route holding such a node, and with it the route's every other visit.
    """
    day = builder.day
    i = day.nodes.visit[n]
    scope = day.scopes[i]
    copy = next(c for c, alternatives in enumerate(day.nodes.of_visit[i]) if n in alternatives)
    if copy < len(scope.locked):
        return k == scope.locked[copy]
    return k in scope.allowed


def _repair(builder: Builder, k: int, route: list[int]) -> list[int]:
    """Remove visits from an infeasible route until it holds every rule.

    Each step removes the visit whose removal makes the route feasible at the least
    loss (its price of being unassigned, then the travel it saves); when no single
    removal suffices, the cheapest visit to lose goes first.
    """
    timer = builder.timer
    veh = timer.vehicles[k]
    price = builder.price
    while route and timer.feasible(veh, route, builder.pinned, exact=True) is None:
        best: tuple[int, int, int] | None = None
        for p, n in enumerate(route):
            trial = route[:p] + route[p + 1 :]
            if timer.feasible(veh, trial, builder.pinned, exact=True) is not None:
                key = (price[n], -builder.arc_delta(veh, trial, p, n), p)
                if best is None or key < best:
                    best = key
        if best is None:
            cheapest = min(range(len(route)), key=lambda p: (price[route[p]], -p))
            route.pop(cheapest)
        else:
            route.pop(best[2])
    return route


def _pin_pairs(builder: Builder, known: Mapping[int, int]) -> None:
    """Give each routed two-staff visit a common start that both its routes hold, or
    drop it: its ``known`` start (the previous plan's or the solution's), else the later
    of its two earliest starts.

    Re-timed from scratch, a pair that both routes held at its known start did not always
    fit at the later of its earliest starts (a break then fits nowhere, or a later visit
    is pushed out): repairing a 30 s plan of generated day 3 (its busiest caregiver away
    from 10:00) dropped two two-staff visits so, and the repair moved 35-41 of the other
    390 visits and served 396; kept at their starts, 7 moved and 398 served."""
    where = {n: k for k, r in enumerate(builder.routes) for n in r}
    for copies in builder.day.nodes.of_visit.values():
        if len(copies) != 2:
            continue
        for a, b in zip(*copies, strict=True):
            if a not in where or b not in where:
                continue
            start = None
            if where[a] != where[b]:
                start = next(
                    (
                        t
                        for t in _pair_starts(builder, a, b, where, known)
                        if _pair_holds(builder, a, b, where, t)
                    ),
                    None,
                )
            if start is not None:
                builder.pinned[a] = builder.pinned[b] = start
            else:
                builder.routes[where[a]].remove(a)
                builder.routes[where[b]].remove(b)


def _pair_starts(
    builder: Builder, a: int, b: int, where: dict[int, int], known: Mapping[int, int]
) -> Iterator[int]:
    """Common starts worth trying for the pair ``a``, ``b``: the known one, then the later
    of the two routes' earliest (timed only if the known one fails)."""
    if a in known and known.get(b) == known[a]:
        yield known[a]
    timer = builder.timer
    earliest = []
    for n in (a, b):
        route = builder.routes[where[n]]
        timing = timer.feasible(timer.vehicles[where[n]], route, builder.pinned, exact=True)
        if timing is None:
            return
        earliest.append(timing.starts[route.index(n)])
    yield max(earliest)


def _pair_holds(builder: Builder, a: int, b: int, where: dict[int, int], start: int) -> bool:
    timer = builder.timer
    pinned = {**builder.pinned, a: start, b: start}
    return all(
        timer.feasible(timer.vehicles[where[n]], builder.routes[where[n]], pinned, exact=True)
        is not None
        for n in (a, b)
    )


def _drop_lonely_pairs(builder: Builder) -> None:
    """A two-staff node whose partner (same window) is not routed cannot stay."""
    where = {n for r in builder.routes for n in r}
    for copies in builder.day.nodes.of_visit.values():
        if len(copies) != 2:
            continue
        for pair in zip(*copies, strict=True):
            if (pair[0] in where) != (pair[1] in where):
                for r in builder.routes:
                    for n in pair:
                        if n in r:
                            r.remove(n)


def _regret_insert(
    builder: Builder,
    visits: list[int],
    should_stop: Callable[[], bool] | None,
    deadline: float | None,
) -> None:
    """Insert single-staff visits: best priority first, then largest regret."""
    day = builder.day
    node = {i: day.nodes.of_visit[i][0] for i in visits}
    options: dict[int, dict[int, _Insertion]] = {}
    for i in visits:
        scope = day.scopes[i]
        allowed = scope.locked or scope.allowed
        found = {}
        for k in allowed:
            ins = builder.best_in_route(k, node[i])
            if ins is not None:
                found[k] = ins
        options[i] = found
    pending = set(visits)
    by_route: dict[int, set[int]] = {}
    for i in visits:
        for k in day.scopes[i].locked or day.scopes[i].allowed:
            by_route.setdefault(k, set()).add(i)
    while pending:
        if _stopped(should_stop, deadline):
            return
        pick = _pick(day, pending, options)
        if pick is None:
            return
        i, ins = pick
        builder.insert(ins)
        pending.discard(i)
        del options[i]
        for j in by_route.get(ins.k, ()):
            if j in pending:
                new = builder.best_in_route(ins.k, node[j])
                if new is None:
                    options[j].pop(ins.k, None)
                else:
                    options[j][ins.k] = new


def _insert_by_ejection(
    builder: Builder, should_stop: Callable[[], bool] | None, deadline: float | None
) -> None:
    """Serve a left-out single-staff visit in place of a less urgent one.

    For each visit still out, best priority first, find the route, the visit of a lower
    priority on it and the position that gain the most when swapped; the visit pushed out
    is then inserted elsewhere if it fits anywhere.
    """
    for i in _left_out(builder, staff=1):
        if _stopped(should_stop, deadline):
            return
        swap = _best_swap(builder, i)
        if swap is None:
            continue
        k, route, outs = swap
        builder.routes[k] = route
        for out in outs:
            if (elsewhere := _cheapest_free(builder, out)) is not None:
                builder.insert(elsewhere)


def _insert_by_relocation(
    builder: Builder, should_stop: Callable[[], bool] | None, deadline: float | None
) -> None:
    """Serve a left-out single-staff visit by moving visits of a route to other routes.

    Ejection and clearing push out only less urgent visits. On a day where every visit
    fits, the room a left-out visit needs is often held by one just as urgent that a
    colleague could serve as well: move that one (and, if its new route is full, one of
    that route's visits in turn) and all are served. For each visit still out, best
    priority first, the cheapest one-step move is made, else the first two-step one.
    """
    for i in _left_out(builder, staff=1):
        for depth, count in ((1, 1), (2, 1), (1, 2)):
            if _stopped(should_stop, deadline):
                return
            move = _relocation(builder, i, depth, count)
            if move is not None:
                for k, seq in move.routes:
                    builder.routes[k] = seq
                break


@dataclass(frozen=True)
class _Move:
    """New sequences of some routes, and the travel and care they add (internal units)."""

    cost: int
    routes: tuple[tuple[int, list[int]], ...]


def _relocation(builder: Builder, i: int, depth: int, count: int) -> _Move | None:
    """The cheapest move serving visit ``i`` in place of ``count`` visits of one of its
    routes, which go to other routes (pushing one of those routes' out in turn if
    ``depth`` is 2); ``None`` if there is none."""
    day = builder.day
    best: _Move | None = None
    for k in day.scopes[i].allowed:
        seq = builder.routes[k]
        movable = [q for q, m in enumerate(seq) if _movable(builder, m)]
        for qs in itertools.combinations(movable, count):
            base = [m for q, m in enumerate(seq) if q not in qs]
            here = _cheapest_position(builder, k, base, day.nodes.of_visit[i][0])
            if here is None:
                continue
            taken = {k}
            cost = here[0] - builder.route_cost(k, base) + builder.route_cost(k, seq)
            routes: list[tuple[int, list[int]]] = [(k, here[1])]
            for q in qs:
                rest = _elsewhere(builder, seq[q], taken, depth)
                if rest is None:
                    break
                cost += rest.cost
                routes += rest.routes
                taken |= {kk for kk, _ in rest.routes}
            else:
                if best is None or cost < best.cost:
                    best = _Move(cost, tuple(routes))
                if depth > 1:
                    return best  # the first two-step move: their search is costly
    return best


def _elsewhere(builder: Builder, m: int, taken: set[int], depth: int) -> _Move | None:
    """Where node ``m``'s visit can go on a route not in ``taken``: the cheapest free
    place, or (``depth`` 2) in place of a visit of a nearby route that itself fits
    elsewhere."""
    free = _cheapest_free(builder, m, taken)
    if free is not None:
        seq = list(builder.routes[free.k])
        seq.insert(free.pos, free.node)
        return _Move(free.cost, ((free.k, seq),))
    if depth < 2:
        return None
    day = builder.day
    j = day.nodes.visit[m]
    alternatives = day.nodes.of_visit[j][0]
    routes = [k for k in day.scopes[j].allowed if k not in taken]
    routes.sort(key=lambda k: (day.travel_s(k, day.nodes.start_node[k], m), k))
    for k in routes[:_CHAIN_ROUTES]:
        seq = builder.routes[k]
        for q, m2 in enumerate(seq):
            if not _movable(builder, m2):
                continue
            base = seq[:q] + seq[q + 1 :]
            here = _cheapest_position(builder, k, base, alternatives)
            if here is None:
                continue
            rest = _elsewhere(builder, m2, taken | {k}, depth - 1)
            if rest is not None:
                saved = builder.arc_delta(builder.timer.vehicles[k], base, q, m2)
                return _Move(here[0] - saved + rest.cost, ((k, here[1]), *rest.routes))
    return None


def _cheapest_position(
    builder: Builder, k: int, seq: list[int], alternatives: Sequence[int]
) -> tuple[int, list[int]] | None:
    """The cheapest feasible sequence of route ``k`` with one of ``alternatives`` added
    to ``seq``, and its added travel and care."""
    ins = builder.cheapest(k, seq, alternatives)
    if ins is None:
        return None
    return ins.cost, seq[: ins.pos] + [ins.node] + seq[ins.pos :]


def _movable(builder: Builder, n: int) -> bool:
    """A visit that may be pushed out: single staff, not locked, not pinned."""
    i = builder.day.nodes.visit[n]
    return (
        len(builder.day.nodes.of_visit[i]) == 1
        and not builder.day.scopes[i].locked
        and n not in builder.pinned
    )


def _best_swap(builder: Builder, i: int) -> tuple[int, list[int], tuple[int, ...]] | None:
    """The route, its new sequence and the nodes pushed out that serve visit ``i`` at the
    largest gain, or ``None`` when no swap gains.

    One less urgent visit is pushed out if that is enough anywhere; else two of the same
    route (a long visit in the lunch hours often needs the room of two short ones).
    """
    for count in (1, 2):
        found = _best_ejection(builder, i, count)
        if found is not None:
            return found
    return None


def _best_ejection(
    builder: Builder, i: int, count: int
) -> tuple[int, list[int], tuple[int, ...]] | None:
    timer = builder.timer
    alternatives = builder.day.nodes.of_visit[i][0]
    price = builder.price[alternatives[0]]
    best: tuple[int, int, list[int], tuple[int, ...]] | None = None
    for k in builder.day.scopes[i].allowed:
        veh = timer.vehicles[k]
        seq = builder.routes[k]
        cheaper = [
            q for q, m in enumerate(seq) if builder.price[m] < price and _movable(builder, m)
        ]
        for qs in itertools.combinations(cheaper, count):
            lost = sum(builder.price[seq[q]] for q in qs)
            if lost >= price:
                continue
            base = [m for q, m in enumerate(seq) if q not in qs]
            for n in alternatives:
                for p in range(len(base) + 1):
                    gain = price - lost - builder.arc_delta(veh, base, p, n) // COST_SCALE
                    if best is not None and gain <= best[0]:
                        continue
                    trial = base[:p] + [n] + base[p:]
                    if timer.feasible(veh, trial, builder.pinned) is not None:
                        best = (gain, k, trial, tuple(seq[q] for q in qs))
    if best is None or best[0] <= 0:
        return None
    return best[1], best[2], best[3]


@dataclass(frozen=True)
class _Slot:
    """Node ``node`` placed in route ``k`` (as ``seq``), pushing ``out`` out if set;
    ``loss`` is the added travel and care cost (internal units) plus the price of ``out``
    (format units x 60), ``start`` when the node's service begins."""

    loss: int
    k: int
    seq: list[int]
    out: int | None
    start: int


def _slots(builder: Builder, k: int, n: int, price: int, limit: int) -> list[_Slot]:
    """The ``limit`` cheapest ways to fit node ``n`` into route ``k``: as it is, in place
    of one movable visit cheaper to lose than ``price``, or in place of a movable visit
    that fits on another route as that route is (its travel there is the loss)."""
    seq = builder.routes[k]
    bases: list[tuple[list[int], int | None]] = [(seq, None)]
    bases += [(seq[:q] + seq[q + 1 :], m) for q, m in enumerate(seq) if _movable(builder, m)]
    found: list[_Slot] = []
    for base, out in bases:
        ins = builder.cheapest(k, base, (n,))
        if ins is None:
            continue
        lost = 0
        if out is not None:
            if builder.price[out] < price:
                lost = COST_SCALE * builder.price[out]
            elif (elsewhere := _cheapest_free(builder, out, (k,))) is not None:
                lost = elsewhere.cost
            else:
                continue
        trial = base[: ins.pos] + [n] + base[ins.pos :]
        found.append(_Slot(ins.cost + lost, k, trial, out, ins.start))
    found.sort(key=lambda x: x.loss)
    return found[:limit]


def _insert_pairs_by_ejection(
    builder: Builder, should_stop: Callable[[], bool] | None, deadline: float | None
) -> None:
    """Serve a left-out two-staff visit on two routes, each possibly giving up a visit
    that is less urgent or fits elsewhere; the visits pushed out go where they fit, and
    the move is kept only if the day's cost falls."""
    for i in _left_out(builder, staff=2):
        if _stopped(should_stop, deadline):
            return
        best = _best_pair_swap(builder, i)
        if best is None:
            continue
        before = _unassigned_loss(builder)
        saved = ([list(r) for r in builder.routes], dict(builder.pinned))
        first, second, a, b, start = best
        builder.routes[first.k] = first.seq
        builder.routes[second.k] = [b if m == a else m for m in second.seq]
        builder.pinned[a] = builder.pinned[b] = start
        for out in (first.out, second.out):
            if out is not None and (elsewhere := _cheapest_free(builder, out)) is not None:
                builder.insert(elsewhere)
        if _unassigned_loss(builder) >= before:
            builder.routes, builder.pinned = saved


def _best_pair_swap(builder: Builder, i: int) -> tuple[_Slot, _Slot, int, int, int] | None:
    timer = builder.timer
    copies = builder.day.nodes.of_visit[i]
    allowed = builder.day.scopes[i].allowed
    value = COST_SCALE * builder.price[copies[0][0]]
    best: tuple[int, _Slot, _Slot, int, int, int] | None = None
    for a, b in zip(*copies, strict=True):
        slots = [x for k in allowed for x in _slots(builder, k, a, builder.price[a], 2)]
        slots.sort(key=lambda x: x.loss)
        slots = slots[: _PAIR_CANDIDATES * 2]
        for x, first in enumerate(slots):
            for second in slots[x + 1 :]:
                gain = value - first.loss - second.loss
                if first.k == second.k or gain <= 0 or (best is not None and gain <= best[0]):
                    continue
                start = max(first.start, second.start)
                pinned = {**builder.pinned, a: start, b: start}
                second_seq = [b if m == a else m for m in second.seq]
                if (
                    timer.feasible(timer.vehicles[first.k], first.seq, pinned) is not None
                    and timer.feasible(timer.vehicles[second.k], second_seq, pinned) is not None
                ):
                    best = (gain, first, second, a, b, start)
    if best is None:
        return None
    return best[1], best[2], best[3], best[4], best[5]


def _pick(
    day: DayModel, pending: set[int], options: dict[int, dict[int, _Insertion]]
) -> tuple[int, _Insertion] | None:
    best_key: tuple[int, int, int] | None = None
    best: tuple[int, _Insertion] | None = None
    for i in pending:
        found = options[i]
        if not found:
            continue
        first = min(found.values(), key=_cost)
        others = [x.cost for x in found.values() if x is not first]
        regret = min(others) - first.cost if others else 10**12
        key = (day.problem.visits[i].priority, -regret, first.cost)
        if best_key is None or key < best_key:
            best_key, best = key, (i, first)
    return best


def _cost(ins: _Insertion) -> int:
    return ins.cost


def _unassigned_loss(builder: Builder) -> int:
    """Price of the visits out plus the routes' travel and care (internal units)."""
    day = builder.day
    placed = _placed(builder)
    loss = sum(
        COST_SCALE * builder.price[copies[0][0]]
        for i, copies in day.nodes.of_visit.items()
        if i not in placed
    )
    return loss + sum(builder.kept_route_cost(k) for k in range(len(builder.routes)))


def _insert_by_clearing(
    builder: Builder, should_stop: Callable[[], bool] | None, deadline: float | None
) -> None:
    """Serve a left-out visit by clearing its route(s) of every less urgent visit, then
    putting those back wherever they fit (the cleared routes first); kept when the day
    gains.

    Reaches what one or two ejections cannot: a long visit in the lunch hours whose
    room is held by three short ones, or by one that only fits after another moves. A
    two-staff visit clears two routes at once, among the caregivers nearest to it.
    """
    day = builder.day
    left = _left_out(builder)
    cheapest = min((builder.price[c[0][0]] for c in day.nodes.of_visit.values()), default=0)
    for i in left:
        copies = day.nodes.of_visit[i]
        # A visit of the least urgent kind has nothing less urgent to push out: it clears
        # the route of everything, which must all find a place again for the day to gain.
        everything = builder.price[copies[0][0]] <= cheapest
        if everything and len(copies) == 2:
            continue
        if _stopped(should_stop, deadline):
            return
        before = _unassigned_loss(builder)
        saved = ([list(r) for r in builder.routes], dict(builder.pinned))
        best: tuple[int, list[list[int]], dict[int, int]] | None = None
        for ks in _clearing_options(builder, i, everything):
            if _clear_into(builder, i, ks, everything):
                loss = _unassigned_loss(builder)
                if loss < before and (best is None or loss < best[0]):
                    best = (loss, [list(r) for r in builder.routes], dict(builder.pinned))
            builder.routes = [list(r) for r in saved[0]]
            builder.pinned = dict(saved[1])
        if best is not None:
            builder.routes, builder.pinned = best[1], best[2]


def _clearing_options(builder: Builder, i: int, everything: bool) -> list[tuple[int, ...]]:
    """The routes to clear for visit ``i``: each allowed one that could hold it once
    cleared (the nearest few when clearing ``everything``), or pairs of those nearest to
    a two-staff visit."""
    day = builder.day
    copies = day.nodes.of_visit[i]
    allowed = [k for k in day.scopes[i].allowed if _could_hold(builder, i, k, everything)]
    if len(copies) == 1 and not everything:
        return [(k,) for k in allowed]
    at = copies[0][0]
    allowed.sort(key=lambda k: (day.travel_s(k, day.nodes.start_node[k], at), k))
    if len(copies) == 1:
        return [(k,) for k in allowed[:_CHAIN_ROUTES]]
    return list(itertools.combinations(allowed[:_PAIR_CANDIDATES], 2))


def _could_hold(builder: Builder, i: int, k: int, everything: bool) -> bool:
    """Whether route ``k`` cleared as ``_clear_into`` would clear it has room for visit
    ``i`` (one member of staff): a cheap test that spares hopeless clearings."""
    off = set(_to_clear(builder, i, k, everything))
    kept = [m for m in builder.routes[k] if m not in off]
    return builder.cheapest(k, kept, builder.day.nodes.of_visit[i][0]) is not None


def _to_clear(builder: Builder, i: int, k: int, everything: bool) -> list[int]:
    """The visits of route ``k`` that clearing it for visit ``i`` takes off: the movable
    ones less urgent than ``i`` (all movable ones, with ``everything``)."""
    price = builder.price[builder.day.nodes.of_visit[i][0][0]]
    return [
        m
        for m in builder.routes[k]
        if (everything or builder.price[m] < price) and _movable(builder, m)
    ]


def _clear_into(builder: Builder, i: int, ks: tuple[int, ...], everything: bool) -> bool:
    """Put visit ``i`` on routes ``ks`` (one per member of staff) in place of all their
    less urgent visits (all, with ``everything``), then the visits taken off back where
    they fit; ``False`` when ``i`` does not fit even so."""
    day = builder.day
    off = [m for k in ks for m in _to_clear(builder, i, k, everything)]
    if not off:
        return False
    for k in ks:
        builder.routes[k] = [m for m in builder.routes[k] if m not in off]
    if not _place_on(builder, i, ks):
        return False
    off.sort(key=lambda m: (-builder.price[m], day.nodes.window[m]))
    for m in off:
        j = day.nodes.visit[m]
        alternatives = day.nodes.of_visit[j][0]
        allowed = day.scopes[j].allowed
        found = [
            x
            for k in ks
            if k in allowed and (x := builder.best_in_route(k, alternatives)) is not None
        ]
        if not found:
            found = [
                x
                for kk in allowed
                if kk not in ks and (x := builder.best_in_route(kk, alternatives)) is not None
            ]
        if found:
            builder.insert(min(found, key=lambda x: x.cost))
    return True


def _insert_by_ruin(
    builder: Builder,
    rng: random.Random,
    attempts: int,
    should_stop: Callable[[], bool] | None,
    deadline: float | None,
) -> None:
    """Serve left-out visits by ruin and recreate, kept when the day gains.

    An attempt draws one (two for a two-staff visit) to four routes near the visit among
    those that could hold it once emptied; takes off them every movable visit whose
    window lies within a drawn margin of the visit's; puts the visit on the cheapest of
    those routes (two of them with a common start); and inserts the others again by
    priority and regret, on any route. The moves before reach one or two steps, or for a
    two-staff visit one visit off each of its routes or every less urgent one; on a full
    day the room a visit needs is often spread over several routes, each neighbour
    fitting elsewhere only once another has moved. The attempts, shared among the visits
    out in turn, are counted, so the step is deterministic for a seed.

    Two-staff visits were left to the moves before until a priority-2 pair, due
    11:00-14:00 where only nine caregivers live near, stayed out of a whole 30 s solve of
    a generated 400-visit day (day 18, solver seed 3). From that solve's last plan, one
    refill of 8 s now serves it with 2 of 4 seeds; an attempt for the pair took 2.4 ms
    on average there, one for a single visit 1.3-2.6 ms on two other days. Whole solves
    of that day, solver seeds 3-6, side by side: all 400 in 4 of 4 against 2 of 4 (each
    miss a priority-2 pair).
    """
    if attempts <= 0:
        return
    out = _left_out(builder)
    near = {i: _ruin_routes(builder, i) for i in out}
    # A visit is tried if it has enough routes near it: one per member of staff.
    tried = {i for i, ks in near.items() if len(ks) >= len(builder.day.nodes.of_visit[i])}
    left = [i for i in out if i in tried]
    loss = _unassigned_loss(builder)
    for attempt in range(attempts):
        if not left or _stopped(should_stop, deadline):
            return
        i = left[attempt % len(left)]
        # Only single-staff visits without a pinned start move; a pair placed pins its
        # start, which a rejected attempt must take back with its routes.
        saved = ([list(r) for r in builder.routes], dict(builder.pinned))
        if (
            _ruin_and_recreate(builder, i, near[i], rng)
            and (now := _unassigned_loss(builder)) < loss
        ):
            loss = now
            left = [j for j in _left_out(builder) if j in tried]
        else:
            builder.routes, builder.pinned = saved[0], saved[1]


def _ruin_routes(builder: Builder, i: int) -> list[int]:
    """The routes that could hold visit ``i`` once emptied, nearest first: by the travel
    to it from their stops around its time, else from the caregiver's home."""
    day = builder.day
    alternatives = day.nodes.of_visit[i][0]
    at = alternatives[0]

    def distance(k: int) -> tuple[int, int]:
        around = [
            day.travel_s(k, m, at)
            for m in _around(day, builder.routes[k], alternatives, _RUIN_MARGINS_S[0])
        ]
        home = day.travel_s(k, day.nodes.start_node[k], at) + _RUIN_MARGINS_S[0]
        return min(around, default=home), k

    routes = [k for k in day.scopes[i].allowed if _could_hold(builder, i, k, True)]
    routes.sort(key=distance)
    return routes[:_RUIN_ROUTES]


def _ruin_and_recreate(builder: Builder, i: int, near: list[int], rng: random.Random) -> bool:
    """One attempt for visit ``i``; ``False`` when the visit does not fit even on the
    ruined routes (which are then left half-done)."""
    day = builder.day
    copies = day.nodes.of_visit[i]
    ks = rng.sample(near, min(len(near), rng.randint(len(copies), _RUIN_MAX)))
    margin = rng.choice(_RUIN_MARGINS_S)
    off = [
        m
        for k in ks
        for m in _around(day, builder.routes[k], copies[0], margin)
        if _movable(builder, m)
    ]
    for k in ks:
        builder.routes[k] = [m for m in builder.routes[k] if m not in off]
    if not _place_on(builder, i, ks):
        return False
    _regret_insert(builder, [day.nodes.visit[m] for m in off], None, None)
    return True


def _place_on(builder: Builder, i: int, ks: Sequence[int]) -> bool:
    """Put visit ``i`` in its cheapest place on routes ``ks``: on two of them, with a
    common start, for a two-staff visit. ``False`` when it fits nowhere there."""
    day = builder.day
    copies = day.nodes.of_visit[i]
    if len(copies) == 2:
        return builder.place_pair(copies, ks, day.scopes[i].locked)
    found = [x for k in ks if (x := builder.best_in_route(k, copies[0])) is not None]
    if not found:
        return False
    builder.insert(min(found, key=lambda x: x.cost))
    return True


def _around(
    day: DayModel, seq: Sequence[int], alternatives: Sequence[int], margin: int
) -> list[int]:
    """The nodes of ``seq`` whose windows come within ``margin`` seconds of the windows of
    ``alternatives``."""
    lo = min(day.nodes.window[n][0] for n in alternatives) - margin
    hi = max(day.nodes.window[n][1] for n in alternatives) + margin
    return [m for m in seq if day.nodes.window[m][1] >= lo and day.nodes.window[m][0] <= hi]


def _insert_by_pool(
    builder: Builder,
    rng: random.Random,
    steps: int,
    should_stop: Callable[[], bool] | None,
    deadline: float | None,
) -> None:
    """Serve every single-staff visit still left out by an ejection-pool walk (after
    Nagata and Bräysy's route minimisation), if it finds a way.

    The visits out form a pool. A step draws one of them and puts it in its cheapest
    free place; failing that, in the route and position where pushing off at most two
    visits near its time lets it in, those joining the pool. Among such
    ejections the step prefers, in turn: fewest more urgent than the visit; visits seldom
    forced in themselves (each visit counts the steps that forced it in, so visits hard
    to place stay put and the walk does not circle); fewer; the least added cost. Then
    ``_POOL_PERTURB`` random visits move to random routes where they fit (``_perturb``).

    A visit that fits nowhere even so stays out. The walk ignores cost, so its routes
    are polished once the pool is empty, and kept if they cost less than those before,
    or, when they serve every visit that was out, more by up to ``SERVE_MORE_SLACK``;
    else the routes are those of the walk's cheapest state. Every ``_POOL_RESTART`` steps it
    starts again from that state. Counted steps keep the walk deterministic.
    Ruin and recreate, before it, keeps only what gains at once; on a full day the room
    a visit needs can lie at the end of a chain of moves that each cost something.
    """
    pool = _left_out(builder, staff=1)
    if steps <= 0 or not pool:
        return
    forced: dict[int, int] = {}
    size = len(pool)
    best = (_unassigned_loss(builder), [list(r) for r in builder.routes])
    stuck = False
    for step in range(steps):
        if _stopped(should_stop, deadline):
            break
        if step % _POOL_RESTART == 0 and step:
            builder.routes = [list(r) for r in best[1]]
            pool, stuck = _left_out(builder, staff=1), False
        pushed = _pool_step(builder, pool.pop(rng.randrange(len(pool))), forced)
        _perturb(builder, rng, _POOL_PERTURB)
        # A visit that no ejection lets in stays out; the walk goes on with the others.
        stuck = stuck or pushed is None
        pool += pushed or []
        if not pool:
            polish(builder, lambda: None, should_stop, deadline)
            loss = _unassigned_loss(builder)
            if loss < best[0] or (not stuck and loss <= best[0] * (1 + SERVE_MORE_SLACK)):
                return
            break
        if len(pool) <= size and (loss := _unassigned_loss(builder)) < best[0]:
            best = (loss, [list(r) for r in builder.routes])
    builder.routes = best[1]


def _perturb(builder: Builder, rng: random.Random, moves: int) -> None:
    """Make ``moves`` random draws of a movable visit and another route it may go to;
    the visit moves to its cheapest feasible place there, if any, whatever the cost.

    When repairing a previous plan, a visit still with a caregiver who served it there
    stays: each such draw changes someone's day, which the dispatcher pays for, and a
    repair's short limit leaves no time to undo it. On seed 3's generated 400-visit day
    the walk's draws had moved 39 of 389 other visits (9 without them)."""
    day = builder.day
    previous = day.options.previous
    routes = [k for k, seq in enumerate(builder.routes) if seq]
    for _ in range(moves if routes else 0):
        k = rng.choice(routes)
        movable = [
            m
            for m in builder.routes[k]
            if _movable(builder, m) and k not in previous.get(day.nodes.visit[m], ())
        ]
        if not movable:
            continue
        m = rng.choice(movable)
        j = day.nodes.visit[m]
        others = [kk for kk in day.scopes[j].allowed if kk != k]
        if not others:
            continue
        ins = builder.best_in_route(rng.choice(others), day.nodes.of_visit[j][0])
        if ins is not None:
            builder.routes[k].remove(m)
            builder.insert(ins)


def _pool_step(builder: Builder, i: int, forced: dict[int, int]) -> list[int] | None:
    """Place visit ``i`` as ``_insert_by_pool`` says; the visits pushed off, or ``None``
    when it fits nowhere even so."""
    day = builder.day
    alternatives = day.nodes.of_visit[i][0]
    if (free := _cheapest_free(builder, alternatives[0])) is not None:
        builder.insert(free)
        return []
    forced[i] = forced.get(i, 0) + 1
    price = builder.price[alternatives[0]]
    best: tuple[tuple[int, int, int, int], int, list[int], _Insertion, tuple[int, ...]] | None = (
        None
    )
    near = {
        k: [
            m
            for m in _around(day, builder.routes[k], alternatives, _POOL_MARGIN_S)
            if _movable(builder, m)
        ]
        for k in day.scopes[i].allowed
    }
    # Fewer visits pushed off rank first: every route's single ejections are tried before
    # any pair, whose trials the best single one then mostly rules out.
    for count in range(1, _POOL_EJECT + 1):
        for k in day.scopes[i].allowed:
            seq = builder.routes[k]
            before = builder.kept_route_cost(k)
            for out in itertools.combinations(near[k], count):
                urgent = sum(1 for m in out if builder.price[m] > price)
                used = sum(forced.get(day.nodes.visit[m], 0) for m in out)
                if best is not None and (urgent, used, count) > best[0][:3]:
                    continue
                base = [m for m in seq if m not in out]
                saved = before - builder.route_cost(k, base)
                # Tied on the rest, an insertion must add less than the best one to win.
                tied = best is not None and (urgent, used, count) == best[0][:3]
                below = best[0][3] + saved if best is not None and tied else None
                ins = builder.cheapest(k, base, alternatives, below)
                if ins is None:
                    continue
                added = ins.cost - saved
                key = (urgent, used, count, added)
                if best is None or key < best[0]:
                    best = (key, k, base, ins, out)
    if best is None:
        return None
    _, k, base, ins, out = best
    builder.routes[k] = base
    builder.insert(ins)
    return [day.nodes.visit[m] for m in out]
