"""Local search on exact route timing: less travel and fewer continuity misses.

The routes ``_construct`` builds hold every rule but carry the price of their making: the
repair of a relaxation drops visits from routes whose breaks fall at the wrong time, and
the visits inserted again go wherever they still fit. OR-Tools' guided local search, which
could fix that, gets only the second or two PyVRP leaves of the limit. ``polish`` makes the
cheap improving moves first, each one checked by the exact route timing:

- relocate a visit to the best position of any route that may serve it (its own too);
- swap two visits of different routes, each going where the other was;

and after each pass tries again to insert the visits still left out, since the moves free
time. Only single-staff visits without a lock or a pinned start move: two-staff visits
keep their common start. Moves are taken in a fixed order and the search stops after a
fixed number of passes, so the result does not depend on the clock unless the deadline
cuts it short.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ._builder import Builder

_MAX_PASSES = 6
_SWAP_NEIGHBOURS = 12
"""Swap partners tried per visit: the routed visits nearest to it (those on its own route
are skipped)."""


class _Search:
    def __init__(
        self, builder: Builder, should_stop: Callable[[], bool] | None, deadline: float | None
    ) -> None:
        self.b = builder
        self.timer = builder.timer
        self.should_stop = should_stop
        self.deadline = deadline
        day = builder.day
        self.allowed = {
            n: day.scopes[day.nodes.visit[n]].allowed
            for n in range(day.nodes.count)
            if day.nodes.visit[n] >= 0
        }
        self._where: dict[int, tuple[int, int]] | None = None

    def where(self) -> dict[int, tuple[int, int]]:
        """Route and position of every routed node, kept until a move changes them."""
        if self._where is None:
            self._where = {m: (k, q) for k, r in enumerate(self.b.routes) for q, m in enumerate(r)}
        return self._where

    def moved(self) -> None:
        """Routes changed: the positions ``where`` kept are stale."""
        self._where = None

    def out_of_time(self) -> bool:
        if self.should_stop is not None and self.should_stop():
            return True
        return self.deadline is not None and time.monotonic() > self.deadline

    def movable(self, n: int) -> bool:
        b = self.b
        i = b.day.nodes.visit[n]
        return (
            len(b.day.nodes.of_visit[i]) == 1 and not b.day.scopes[i].locked and n not in b.pinned
        )

    def feasible(self, k: int, seq: list[int]) -> bool:
        return self.timer.feasible(self.timer.vehicles[k], seq, self.b.pinned) is not None

    def relocate(self, k: int, p: int) -> bool:
        """Move the visit at position ``p`` of route ``k`` to its best place, if that gains."""
        b = self.b
        seq = b.routes[k]
        n = seq[p]
        base = seq[:p] + seq[p + 1 :]
        saved = b.kept_route_cost(k) - b.route_cost(k, base)
        best: tuple[int, int, list[int]] | None = None
        for kk in self.allowed[n]:
            # Another route's slack is the builder's, kept while the route stays as it is.
            target, slack = (base, None) if kk == k else (b.routes[kk], b.route_slack(kk))
            below = saved if best is None else min(saved, best[0])
            ins = b.cheapest(kk, target, (n,), below, slack)
            if ins is not None:
                best = (ins.cost, kk, target[: ins.pos] + [n] + target[ins.pos :])
        if best is None or best[0] >= saved:
            return False
        if best[1] != k and base and not self.feasible(k, base):
            return False
        _, kk, trial = best
        b.routes[k] = base
        b.routes[kk] = trial
        self.moved()
        return True

    def swap(self, k: int, p: int, near: list[int]) -> bool:
        """Exchange the visit at position ``p`` of route ``k`` with one of ``near`` on
        another route, if that gains."""
        b = self.b
        n = b.routes[k][p]
        where = self.where()
        for m in near:
            if m not in where:
                continue
            kk, q = where[m]
            if kk == k or not self.movable(m):
                continue
            if k not in self.allowed[m] or kk not in self.allowed[n]:
                continue
            a_seq = b.routes[k][:p] + [m] + b.routes[k][p + 1 :]
            b_seq = b.routes[kk][:q] + [n] + b.routes[kk][q + 1 :]
            new_a, new_b = b.route_cost(k, a_seq), b.route_cost(kk, b_seq)
            if new_a + new_b >= b.kept_route_cost(k) + b.kept_route_cost(kk):
                continue
            if self.feasible(k, a_seq) and self.feasible(kk, b_seq):
                b.routes[k], b.routes[kk] = a_seq, b_seq
                self.moved()
                return True
        return False


def _nearest(builder: Builder, count: int) -> dict[int, list[int]]:
    """Per routed visit node, the ``count`` other routed visit nodes nearest to it (ties
    to the lower node), in the first caregiver's travel mode."""
    routed = sorted(n for r in builder.routes for n in r)
    if not routed or not builder.timer.vehicles:
        return {}
    day = builder.day
    mode = day.problem.caregivers[builder.timer.vehicles[0].k].mode
    block = np.asarray(day.travel_by_mode[mode])[np.ix_(routed, routed)].astype(np.int64)
    np.fill_diagonal(block, np.iinfo(np.int64).max)  # not its own neighbour
    # A stable sort of each row keeps equal times in node order (``routed`` is sorted).
    order = np.argsort(block, axis=1, kind="stable")[:, : min(count, len(routed) - 1)]
    return {n: [routed[j] for j in row] for n, row in zip(routed, order.tolist(), strict=True)}


def polish(
    builder: Builder,
    refill: Callable[[], None],
    should_stop: Callable[[], bool] | None = None,
    deadline: float | None = None,
) -> None:
    """Improve ``builder``'s routes in place by relocations and swaps; ``refill`` is
    called after each pass that changed something, to insert visits still left out."""
    search = _Search(builder, should_stop, deadline)
    for _ in range(_MAX_PASSES):
        changed = False
        near = _nearest(builder, _SWAP_NEIGHBOURS)
        for k in range(len(builder.routes)):
            p = 0
            while p < len(builder.routes[k]):
                if search.out_of_time():
                    return
                n = builder.routes[k][p]
                if search.movable(n) and (
                    search.relocate(k, p) or search.swap(k, p, near.get(n, []))
                ):
                    changed = True
                    continue
                p += 1
        if not changed:
            return
        refill()
        search.moved()
