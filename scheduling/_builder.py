"""The routes the insertion heuristics build, and what they ask of them.

``Builder`` holds one route of visit nodes per caregiver, the start times pinned on them
(locks, the common start of a two-staff visit) and each node's price of being left out;
``Builder.cheapest`` finds a visit's cheapest feasible place in a route, every candidate
timed exactly (``_timing``). ``seed_routes`` takes routes from outside (PyVRP's
relaxation, a previous plan, OR-Tools' solution) and repairs each until it holds every
rule. ``_construct`` and its ejection-pool walk (``_pool``), ``_polish`` and ``_lns`` all
work on a ``Builder``.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Container, Iterator, Mapping, Sequence
from dataclasses import dataclass

from ._extract import first_copy, label_pairs
from ._routing import COST_SCALE, DayModel
from ._timing import RouteTimer, Slack, Vehicle

PAIR_CANDIDATES = 8
"""Routes a two-staff visit's two places are chosen among: the cheapest few (the nearest
few when routes are cleared for it), beside those its locks name."""


@dataclass
class Insertion:
    cost: int
    k: int
    pos: int
    node: int
    start: int
    """When the node's service begins in the timing that found the insertion feasible."""


class Builder:
    """One route of visit nodes per caregiver, the starts pinned on them, and the cheapest
    feasible insertion of a visit into each."""

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
    ) -> Insertion | None:
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
                return Insertion(cost, k, p, n, timing.starts[p])
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
    ) -> Insertion | None:
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

    def insert(self, ins: Insertion) -> None:
        self.routes[ins.k].insert(ins.pos, ins.node)

    def place_pair(
        self,
        copies: tuple[tuple[int, ...], ...],
        allowed: Sequence[int],
        slack: Callable[[int], Slack] | None = None,
    ) -> bool:
        """Put a two-staff visit on two routes with a common start, in the cheapest window
        (``slack`` gives a route's slack, if the caller keeps them), each member of staff
        on the copy its lock names, else on the cheaper copy (``_pair``)."""
        best: tuple[int, Insertion, Insertion, int] | None = None
        i_visit = self.day.nodes.visit[copies[0][0]]
        must = set(self.day.scopes[i_visit].locked)
        for a, b in zip(*copies, strict=True):
            options = [
                ins
                for k in allowed
                if (ins := self.best_in_route(k, (a,), slack(k) if slack else None)) is not None
            ]
            options.sort(key=lambda x: x.cost)
            keep = [o for o in options if o.k in must]
            keep += [o for o in options if o.k not in must][:PAIR_CANDIDATES]
            for i, first in enumerate(keep):
                for second in keep[i + 1 :]:
                    if not must <= {first.k, second.k}:
                        continue
                    pair = self._pair(i_visit, b, first, second)
                    if pair is None or (best is not None and pair[0] >= best[0]):
                        continue
                    start = self._common_start(a, first, second)
                    if start is not None:
                        best = (*pair, start)
        if best is None:
            return False
        _, first, second, start = best
        self.pinned[first.node] = self.pinned[second.node] = start
        self.insert(first)
        self.insert(second)
        return True

    def _pair(
        self, i: int, b: int, x: Insertion, y: Insertion
    ) -> tuple[int, Insertion, Insertion] | None:
        """Insertions ``x`` and ``y`` (both of visit ``i``'s first copy's node) as a pair:
        its cost, the insertion of the first copy and that of the second (node ``b``), the
        way round ``first_copy`` says; ``None`` when its locks allow neither."""
        first_k = first_copy(self.day, i, x.node, b, x.k, y.k)
        if first_k is None:
            return None
        first, second = (x, y) if first_k == x.k else (y, x)
        cost = second.cost + self.second_copy_change(second.k, second.node, b)
        return first.cost + cost, first, Insertion(cost, second.k, second.pos, b, second.start)

    def second_copy_change(self, k: int, a: int, b: int) -> int:
        """What route ``k``'s care cost changes by when it serves a two-staff visit's
        second copy (node ``b``) instead of its first (``a``, the same window's)."""
        return 0 if self.care is None else self.care[k][b] - self.care[k][a]

    def _common_start(self, n: int, first: Insertion, second: Insertion) -> int | None:
        """The later of the two routes' own earliest starts, if both can hold it."""
        timer = self.timer
        earliest = max(first.start, second.start)
        pinned = {**self.pinned, n: earliest}
        for ins in (first, second):
            seq = self.routes[ins.k][: ins.pos] + [n] + self.routes[ins.k][ins.pos :]
            if timer.feasible(timer.vehicles[ins.k], seq, pinned) is None:
                return None
        return earliest


def visit_order(day: DayModel) -> list[int]:
    """Locked and two-staff visits first, then by priority and fewest allowed caregivers."""
    problem = day.problem

    def key(i: int) -> tuple[int, int, int, int]:
        scope = day.scopes[i]
        v = problem.visits[i]
        return (0 if scope.locked else 1, -v.staff, v.priority, len(scope.allowed))

    return sorted(day.nodes.of_visit, key=key)


def placed_visits(builder: Builder) -> set[int]:
    return {builder.day.nodes.visit[n] for r in builder.routes for n in r}


def left_out(builder: Builder, staff: int | None = None) -> list[int]:
    """Visits not yet placed and not locked (of ``staff`` members of staff, if given),
    best priority first."""
    day = builder.day
    placed = placed_visits(builder)
    left = [
        i
        for i in visit_order(day)
        if i not in placed
        and not day.scopes[i].locked
        and (staff is None or len(day.nodes.of_visit[i]) == staff)
    ]
    left.sort(key=lambda i: day.problem.visits[i].priority)
    return left


def is_movable(builder: Builder, n: int) -> bool:
    """A visit that may be pushed out: single staff, not locked, not pinned."""
    i = builder.day.nodes.visit[n]
    return (
        len(builder.day.nodes.of_visit[i]) == 1
        and not builder.day.scopes[i].locked
        and n not in builder.pinned
    )


def unassigned_loss(builder: Builder) -> int:
    """Price of the visits out plus the routes' travel and care (internal units)."""
    day = builder.day
    placed = placed_visits(builder)
    loss = sum(
        COST_SCALE * builder.price[copies[0][0]]
        for i, copies in day.nodes.of_visit.items()
        if i not in placed
    )
    return loss + sum(builder.kept_route_cost(k) for k in range(len(builder.routes)))


def stopped(should_stop: Callable[[], bool] | None, deadline: float | None) -> bool:
    return (should_stop is not None and should_stop()) or (
        deadline is not None and time.monotonic() > deadline
    )


def cheapest_free(
    builder: Builder, m: int, taken: Container[int] = frozenset()
) -> Insertion | None:
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


def nodes_around(
    day: DayModel, seq: Sequence[int], alternatives: Sequence[int], margin: int
) -> list[int]:
    """The nodes of ``seq`` whose windows come within ``margin`` seconds of the windows of
    ``alternatives``."""
    lo = min(day.nodes.window[n][0] for n in alternatives) - margin
    hi = max(day.nodes.window[n][1] for n in alternatives) + margin
    return [m for m in seq if day.nodes.window[m][1] >= lo and day.nodes.window[m][0] <= hi]


def seed_routes(
    builder: Builder, initial: Sequence[Sequence[int]], starts: Mapping[int, int]
) -> None:
    """Start ``builder`` from ``initial`` routes (whose nodes start at ``starts``, where
    known): each two-staff visit's staff on the copies that its locks and the care costs
    say (``label_pairs``), what a caregiver may not serve taken off, every route repaired
    until it holds every rule, and a pair kept only where both its routes hold a common
    start."""
    routes = [list(seq) for seq in initial]
    label_pairs(builder.day, routes)
    for k, seq in enumerate(routes):
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
