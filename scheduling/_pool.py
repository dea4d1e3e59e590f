"""The ejection-pool walk: ``construct``'s last step for single-staff visits still out.

See ``insert_by_pool``. It ignores cost until the pool is empty, so it runs last, when the
cheaper moves of ``_construct`` have left visits out.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable

from ._builder import (
    Builder,
    Insertion,
    cheapest_free,
    is_movable,
    left_out,
    nodes_around,
    stopped,
    unassigned_loss,
)
from ._polish import polish

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


def insert_by_pool(
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
    pool = left_out(builder, staff=1)
    if steps <= 0 or not pool:
        return
    forced: dict[int, int] = {}
    size = len(pool)
    best = (unassigned_loss(builder), [list(r) for r in builder.routes])
    stuck = False
    for step in range(steps):
        if stopped(should_stop, deadline):
            break
        if step % _POOL_RESTART == 0 and step:
            builder.routes = [list(r) for r in best[1]]
            pool, stuck = left_out(builder, staff=1), False
        pushed = _pool_step(builder, pool.pop(rng.randrange(len(pool))), forced)
        _perturb(builder, rng, _POOL_PERTURB)
        # A visit that no ejection lets in stays out; the walk goes on with the others.
        stuck = stuck or pushed is None
        pool += pushed or []
        if not pool:
            polish(builder, lambda: None, should_stop, deadline)
            loss = unassigned_loss(builder)
            if loss < best[0] or (not stuck and loss <= best[0] * (1 + SERVE_MORE_SLACK)):
                return
            break
        if len(pool) <= size and (loss := unassigned_loss(builder)) < best[0]:
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
            if is_movable(builder, m) and k not in previous.get(day.nodes.visit[m], ())
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
    """Place visit ``i`` as ``insert_by_pool`` says; the visits pushed off, or ``None``
    when it fits nowhere even so."""
    day = builder.day
    alternatives = day.nodes.of_visit[i][0]
    if (free := cheapest_free(builder, alternatives[0])) is not None:
        builder.insert(free)
        return []
    forced[i] = forced.get(i, 0) + 1
    price = builder.price[alternatives[0]]
    best: tuple[tuple[int, int, int, int], int, list[int], Insertion, tuple[int, ...]] | None = None
    near = {
        k: [
            m
            for m in nodes_around(day, builder.routes[k], alternatives, _POOL_MARGIN_S)
            if is_movable(builder, m)
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
