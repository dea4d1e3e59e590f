"""Ruin and recreate on cost: less travel and fewer continuity misses for the same visits.

Once a care day's plan is complete, OR-Tools' guided local search stalls on it: each of its
neighbourhood scans checks times and breaks over a few hundred thousand moves (about a
second on 400 visits), and on seed 1's generated day cut to 368 visits it found its last
improvement 3 s into a 10.7 s search and none at all in the 8.6 s search after it, the
same with tabu search or simulated annealing. ``improve`` spends that time on ruin and
recreate instead, after Christiaens and Vanden Berghe's SISR (slack induction by string
removals, 2020), every insertion checked by the exact route timing (``_timing``):

- ruin: a random visit and its nearest neighbours; from the routes of the first few of
  them, a string of consecutive stops around that neighbour is taken off;
- recreate: the visits taken off (and any left out of the plan) go back in a random order
  (priority first, two-staff visits first within it), each to its cheapest feasible place
  among the routes of its nearest visits and of its preferred caregivers;
- accept: the new plan if it costs less than the current one plus a threshold drawn from
  a temperature falling from ``_T_START_S`` to ``_T_END_S`` over the budget (simulated
  annealing), so the search can leave a local optimum; the cheapest plan seen is returned.

A two-staff visit taken off leaves both its routes and goes back as a pair, on two routes
at a common start (``Builder.place_pair``); visits with a lock or a locked start stay.
Replayed from two whole days' states (8 s, two seeds each), moving pairs lowered the cost
by 3.7-5.7 % where keeping them in place gave 2.5-4.4 %. The cost is the format's
(travel, continuity misses, and the price of each visit left out), so a visit goes out
in practice only to let in one of a higher priority. Counted attempts keep it
deterministic.

Measured (30 s solves of generated 400-visit days, days 0-2 with solve seeds 1 and 2,
against the solver before, two at a time): the day's cost 2-5 % lower in five of the
six, the same in the sixth, where the refill's ejection-pool walk used up the time; the
same visits served (400 or 399). About 1,000 attempts a second on 368 visits.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Sequence

import numpy as np

from ._builder import Builder, Insertion, is_movable, left_out, placed_visits, seed_routes
from ._extract import RouteNodes, starts_of
from ._routing import COST_SCALE, DayModel
from ._timing import RouteTimer, Slack

_AVG_REMOVED = 10
"""The mean number of visits one ruin takes off (SISR's c-bar)."""
_MAX_STRING = 10
"""The longest string of stops taken off one route (SISR's L-max)."""
_NEAR = 40
"""Nearest visits kept per visit: where ruins spread and re-insertions look for routes."""
_T_START_S = 300
_T_END_S = 5
"""The annealing temperature, in seconds of travel (the cost's internal unit at one cost
unit a minute of travel): a worse plan is accepted with a threshold drawn from it."""


class _Search:
    def __init__(self, builder: Builder, rng: random.Random) -> None:
        self.b = builder
        self.rng = rng
        day = builder.day
        self.visit = day.nodes.visit
        self.preferred = _preferred_routes(day)
        self.near = _nearest_nodes(day)
        self.partner = _partners(day)
        self.allowed = {i: frozenset(day.scopes[i].allowed) for i in day.nodes.of_visit}
        self.loose = {
            n
            for n in range(day.nodes.count)
            if self.visit[n] >= 0
            and (
                is_movable(builder, n)
                if n not in self.partner
                else not day.scopes[self.visit[n]].locked
            )
        }
        """Nodes that may be taken off: a two-staff visit's with its partner's. The pins
        of single-staff visits are set once (a locked start), so this never changes."""
        self.cost = [builder.route_cost(k, r) for k, r in enumerate(builder.routes)]
        self.slacks: dict[int, Slack] = {}
        """Each route's slack, kept until the route changes: most routes are tried for
        several visits in a row, and computing it took a quarter of the search's time."""
        self.out = set(left_out(builder))

    def total(self) -> int:
        price = self.b.price
        nodes = self.b.day.nodes
        lost = sum(COST_SCALE * price[nodes.of_visit[i][0][0]] for i in self.out)
        return sum(self.cost) + lost

    def attempt(self, temperature: float) -> bool:
        """One ruin and recreate; True if it was kept."""
        b = self.b
        saved = ([list(r) for r in b.routes], list(self.cost), set(self.out), dict(b.pinned))
        slacks = dict(self.slacks)
        before = self.total()
        touched, removed = self.ruin()
        if not removed:
            return False
        touched |= self.recreate(removed + sorted(self.out))
        for k in touched:
            self.cost[k] = b.route_cost(k, b.routes[k])
        threshold = -temperature * math.log(1.0 - self.rng.random())
        if self.total() < before + threshold:
            return True
        b.routes, self.cost, self.out, b.pinned = saved
        # The routes as they were, with their slacks: most attempts are turned down.
        self.slacks = slacks
        return False

    def slack(self, k: int) -> Slack:
        """Route ``k``'s slack as it is now."""
        found = self.slacks.get(k)
        if found is None:
            b = self.b
            found = self.slacks[k] = b.timer.slack(b.timer.vehicles[k], b.routes[k], b.pinned)
        return found

    def ruin(self) -> tuple[set[int], list[int]]:
        """Take strings of stops off routes near a random visit; the routes and visits."""
        b, rng = self.b, self.rng
        where = {n: k for k, r in enumerate(b.routes) for n in r}
        movable = [n for n in where if n in self.loose]
        if not movable:
            return set(), []
        seed = rng.choice(movable)
        used = [len(r) for r in b.routes if r]
        longest = min(_MAX_STRING, sum(used) // len(used))
        strings = rng.randint(1, max(1, int(4 * _AVG_REMOVED / (1 + longest)) - 1))
        touched: set[int] = set()
        removed: list[int] = []
        for m in (seed, *self.near[seed]):
            k = where.get(m)
            if k is None or k in touched:
                continue
            seq = b.routes[k]
            size = rng.randint(1, min(longest, len(seq)))
            p = seq.index(m)
            lo = rng.randint(max(0, p - size + 1), min(p, len(seq) - size))
            off = [n for n in seq[lo : lo + size] if n in self.loose]
            for n in off:
                if n in self.partner:
                    touched.add(self.unpair(n, where))
            b.routes[k] = [n for n in seq if n not in off]
            for n in off:
                del where[n]
            touched.add(k)
            self.slacks.pop(k, None)
            removed += [self.visit[n] for n in off if self.visit[n] not in removed]
            if len(touched) >= strings:
                break
        return touched, removed

    def unpair(self, n: int, where: dict[int, int]) -> int:
        """Take the partner of two-staff node ``n`` off its route and unpin both; that
        route."""
        b, other = self.b, self.partner[n]
        k = where[other]
        b.routes[k] = [m for m in b.routes[k] if m != other]
        del where[other], b.pinned[n], b.pinned[other]
        self.slacks.pop(k, None)
        return k

    def recreate(self, visits: list[int]) -> set[int]:
        """Put ``visits`` back, each in its cheapest place; the routes that changed."""
        b, day = self.b, self.b.day
        self.rng.shuffle(visits)
        visits.sort(key=lambda i: (day.problem.visits[i].priority, -day.problem.visits[i].staff))
        where = {n: k for k, r in enumerate(b.routes) for n in r}
        touched: set[int] = set()
        for i in visits:
            if len(day.nodes.of_visit[i]) == 2:
                placed = self.place_pair(i, where)
                touched |= placed
                for k in placed:
                    self.slacks.pop(k, None)
                continue
            alternatives = day.nodes.of_visit[i][0]
            best: Insertion | None = None
            for k in self.candidates(i, alternatives[0], where):
                below = None if best is None else best.cost
                ins = b.cheapest(k, b.routes[k], alternatives, below, self.slack(k))
                if ins is not None and (best is None or ins.cost < best.cost):
                    best = ins
            if best is None:
                self.out.add(i)
                continue
            b.insert(best)
            self.slacks.pop(best.k, None)
            where[best.node] = best.k
            touched.add(best.k)
            self.out.discard(i)
        return touched

    def place_pair(self, i: int, where: dict[int, int]) -> set[int]:
        """Put two-staff visit ``i`` on two routes at a common start; the two routes."""
        b = self.b
        copies = b.day.nodes.of_visit[i]
        scope = b.day.scopes[i]
        if not b.place_pair(copies, scope.allowed, self.slack):
            self.out.add(i)
            return set()
        self.out.discard(i)
        nodes = {n for alternatives in copies for n in alternatives}
        routes = set()
        for k, r in enumerate(b.routes):
            for n in r:
                if n in nodes:
                    where[n] = k
                    routes.add(k)
        return routes

    def candidates(self, i: int, n: int, where: dict[int, int]) -> list[int]:
        """Routes worth trying for visit ``i`` (node ``n``): those of its preferred
        caregivers, then of its nearest routed visits, among the caregivers allowed to
        serve it. The preferred first: an insertion there that costs less than a
        continuity miss rules out every other route at once (``Builder.insertion_floor``)."""
        allowed = self.allowed[i]
        found: dict[int | None, None] = dict.fromkeys(self.preferred.get(i, ()))
        found.update(dict.fromkeys(map(where.get, self.near[n])))
        return [k for k in found if k is not None and k in allowed]


def improve(
    day: DayModel,
    routes: Sequence[RouteNodes],
    seed: int,
    deadline: float,
    should_stop: Callable[[], bool] | None = None,
    attempts: int | None = None,
    on_best: Callable[[int, int], None] | None = None,
) -> list[list[int]]:
    """The cheapest routes ruin and recreate finds from ``routes`` (a plan's, with their
    start times) until ``deadline`` or after ``attempts`` attempts. ``on_best`` hears of
    each cheaper plan found: its cost (in the routing model's units: ``DayModel.cost`` of
    the routes) and the visits it serves."""
    builder = Builder(day, RouteTimer(day))
    # Each two-staff visit stays at its start in ``routes`` where its two routes hold it;
    # a route that fails the timing is repaired.
    seed_routes(builder, [r.nodes for r in routes], starts_of(routes))
    search = _Search(builder, random.Random(seed))
    best = (search.total(), [list(r) for r in builder.routes])
    t0 = time.monotonic()
    budget = max(deadline - t0, 1e-9)
    count = 0
    while attempts is None or count < attempts:
        now = time.monotonic()
        if now >= deadline or (should_stop is not None and should_stop()):
            break
        done = count / attempts if attempts is not None else (now - t0) / budget
        temperature = _T_START_S * (_T_END_S / _T_START_S) ** min(done, 1.0)
        count += 1
        if search.attempt(temperature * day.problem.weights.travel_per_min):
            total = search.total()
            if total < best[0]:
                best = (total, [list(r) for r in builder.routes])
                if on_best is not None:
                    on_best(total, len(placed_visits(builder)))
    return best[1]


def _partners(day: DayModel) -> dict[int, int]:
    """Each two-staff node's partner: the other member of staff's node of that window."""
    out: dict[int, int] = {}
    for copies in day.nodes.of_visit.values():
        if len(copies) == 2:
            for a, b in zip(*copies, strict=True):
                out[a], out[b] = b, a
    return out


def _preferred_routes(day: DayModel) -> dict[int, tuple[int, ...]]:
    index = {c.id: k for k, c in enumerate(day.problem.caregivers)}
    return {
        i: tuple(index[c] for c in day.problem.visits[i].preferred_caregivers if c in index)
        for i in day.nodes.of_visit
    }


def _nearest_nodes(day: DayModel) -> dict[int, list[int]]:
    """Per visit node, the ``_NEAR`` nearest visit nodes of other visits, by one mode's
    travel times (a choice of where to look, not a cost)."""
    nodes = day.nodes
    visit_nodes = [n for n in range(nodes.count) if nodes.visit[n] >= 0]
    if not visit_nodes:
        return {}
    matrix = next(iter(day.travel_by_mode.values()))
    order = np.argsort(matrix[np.ix_(visit_nodes, visit_nodes)], axis=1, kind="stable")
    out: dict[int, list[int]] = {}
    for row, n in enumerate(visit_nodes):
        near: list[int] = []
        for j in order[row].tolist():
            m = visit_nodes[j]
            if nodes.visit[m] != nodes.visit[n]:
                near.append(m)
                if len(near) == _NEAR:
                    break
        out[n] = near
    return out
