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
   change where the room lies (``_pool``).

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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from ._builder import (
    PAIR_CANDIDATES,
    Builder,
    Insertion,
    cheapest_free,
    is_movable,
    left_out,
    nodes_around,
    placed_visits,
    seed_routes,
    stopped,
    unassigned_loss,
    visit_order,
)
from ._extract import first_copy
from ._polish import polish
from ._pool import insert_by_pool
from ._routing import COST_SCALE, DayModel
from ._timing import RouteTimer

_CHAIN_ROUTES = 8
"""Routes nearest to a visit pushed along a two-step relocation that are tried for it."""
_RUIN_MAX = 4
"""The most routes one ruin-and-recreate attempt takes visits off."""
_RUIN_ROUTES = 24
"""Routes nearest to a visit left out among which its ruins are drawn."""
_RUIN_MARGINS_S = (3600, 7200, 10800)
"""How far beyond a left-out visit's windows the visits taken off its routes may lie."""


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
        seed_routes(builder, initial, starts or {})
        placed = {day.nodes.visit[n] for r in builder.routes for n in r}
    _complete(builder, placed, should_stop, deadline)
    polish(
        builder,
        lambda: _complete(builder, placed_visits(builder), should_stop, deadline),
        should_stop,
        deadline,
    )
    _insert_by_ruin(builder, random.Random(seed), ruin_attempts, should_stop, deadline)
    insert_by_pool(builder, random.Random(seed), pool_steps, should_stop, deadline)
    return builder.routes


def _complete(
    builder: Builder,
    placed: set[int],
    should_stop: Callable[[], bool] | None,
    deadline: float | None,
) -> None:
    """Insert the visits not yet ``placed``: pairs, then by regret, then by ejection."""
    day = builder.day
    singles: list[int] = []
    for i in visit_order(day):
        if i in placed:
            continue
        copies = day.nodes.of_visit[i]
        if len(copies) == 2:
            scope = day.scopes[i]
            builder.place_pair(copies, scope.allowed)
        else:
            singles.append(i)
    _regret_insert(builder, singles, should_stop, deadline)
    _insert_by_ejection(builder, should_stop, deadline)
    _insert_by_relocation(builder, should_stop, deadline)
    _insert_pairs_by_ejection(builder, should_stop, deadline)
    _insert_by_clearing(builder, should_stop, deadline)


def _regret_insert(
    builder: Builder,
    visits: list[int],
    should_stop: Callable[[], bool] | None,
    deadline: float | None,
) -> None:
    """Insert single-staff visits: best priority first, then largest regret."""
    day = builder.day
    node = {i: day.nodes.of_visit[i][0] for i in visits}
    options: dict[int, dict[int, Insertion]] = {}
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
        if stopped(should_stop, deadline):
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
    for i in left_out(builder, staff=1):
        if stopped(should_stop, deadline):
            return
        swap = _best_swap(builder, i)
        if swap is None:
            continue
        k, route, outs = swap
        builder.routes[k] = route
        for out in outs:
            if (elsewhere := cheapest_free(builder, out)) is not None:
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
    for i in left_out(builder, staff=1):
        for depth, count in ((1, 1), (2, 1), (1, 2)):
            if stopped(should_stop, deadline):
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
        movable = [q for q, m in enumerate(seq) if is_movable(builder, m)]
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
    free = cheapest_free(builder, m, taken)
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
            if not is_movable(builder, m2):
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
            q for q, m in enumerate(seq) if builder.price[m] < price and is_movable(builder, m)
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
    bases += [(seq[:q] + seq[q + 1 :], m) for q, m in enumerate(seq) if is_movable(builder, m)]
    found: list[_Slot] = []
    for base, out in bases:
        ins = builder.cheapest(k, base, (n,))
        if ins is None:
            continue
        lost = 0
        if out is not None:
            if builder.price[out] < price:
                lost = COST_SCALE * builder.price[out]
            elif (elsewhere := cheapest_free(builder, out, (k,))) is not None:
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
    for i in left_out(builder, staff=2):
        if stopped(should_stop, deadline):
            return
        best = _best_pair_swap(builder, i)
        if best is None:
            continue
        before = unassigned_loss(builder)
        saved = ([list(r) for r in builder.routes], dict(builder.pinned))
        first, second, a, b, start = best
        builder.routes[first.k] = first.seq
        builder.routes[second.k] = [b if m == a else m for m in second.seq]
        builder.pinned[a] = builder.pinned[b] = start
        for out in (first.out, second.out):
            if out is not None and (elsewhere := cheapest_free(builder, out)) is not None:
                builder.insert(elsewhere)
        if unassigned_loss(builder) >= before:
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
        slots = slots[: PAIR_CANDIDATES * 2]
        for x, one in enumerate(slots):
            for other in slots[x + 1 :]:
                # No lock: ``left_out`` leaves locked visits alone.
                on_a = first_copy(builder.day, i, a, b, one.k, other.k)
                first, second = (one, other) if on_a == one.k else (other, one)
                change = builder.second_copy_change(second.k, a, b)
                gain = value - first.loss - second.loss - change
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
    day: DayModel, pending: set[int], options: dict[int, dict[int, Insertion]]
) -> tuple[int, Insertion] | None:
    best_key: tuple[int, int, int] | None = None
    best: tuple[int, Insertion] | None = None
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


def _cost(ins: Insertion) -> int:
    return ins.cost


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
    left = left_out(builder)
    cheapest = min((builder.price[c[0][0]] for c in day.nodes.of_visit.values()), default=0)
    for i in left:
        copies = day.nodes.of_visit[i]
        # A visit of the least urgent kind has nothing less urgent to push out: it clears
        # the route of everything, which must all find a place again for the day to gain.
        everything = builder.price[copies[0][0]] <= cheapest
        if everything and len(copies) == 2:
            continue
        if stopped(should_stop, deadline):
            return
        before = unassigned_loss(builder)
        saved = ([list(r) for r in builder.routes], dict(builder.pinned))
        best: tuple[int, list[list[int]], dict[int, int]] | None = None
        for ks in _clearing_options(builder, i, everything):
            if _clear_into(builder, i, ks, everything):
                loss = unassigned_loss(builder)
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
    return list(itertools.combinations(allowed[:PAIR_CANDIDATES], 2))


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
        if (everything or builder.price[m] < price) and is_movable(builder, m)
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
    out = left_out(builder)
    near = {i: _ruin_routes(builder, i) for i in out}
    # A visit is tried if it has enough routes near it: one per member of staff.
    tried = {i for i, ks in near.items() if len(ks) >= len(builder.day.nodes.of_visit[i])}
    left = [i for i in out if i in tried]
    loss = unassigned_loss(builder)
    for attempt in range(attempts):
        if not left or stopped(should_stop, deadline):
            return
        i = left[attempt % len(left)]
        # Only single-staff visits without a pinned start move; a pair placed pins its
        # start, which a rejected attempt must take back with its routes.
        saved = ([list(r) for r in builder.routes], dict(builder.pinned))
        if (
            _ruin_and_recreate(builder, i, near[i], rng)
            and (now := unassigned_loss(builder)) < loss
        ):
            loss = now
            left = [j for j in left_out(builder) if j in tried]
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
            for m in nodes_around(day, builder.routes[k], alternatives, _RUIN_MARGINS_S[0])
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
        for m in nodes_around(day, builder.routes[k], copies[0], margin)
        if is_movable(builder, m)
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
        return builder.place_pair(copies, ks)
    found = [x for k in ks if (x := builder.best_in_route(k, copies[0])) is not None]
    if not found:
        return False
    builder.insert(min(found, key=lambda x: x.cost))
    return True
