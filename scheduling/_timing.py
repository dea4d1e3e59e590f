"""Exact timing of one caregiver's sequence of visits, as the routing model times it.

``RouteTimer`` checks a sequence against the shift, the visit's window (one per node),
breaks taken whole between visits (travel may be split around a break: it goes on while
waiting for the break's window), pinned start times (locks, the partner of a two-staff
visit), work, visit-count and load limits, and returns the start of every visit. Breaks
are placed by a rule (taken now when free or when they cannot wait any longer; an eager
rule is tried next), or, when asked for exactness, in every possible placement.

The insertion heuristics (``_construct``) call it for every candidate position, so it is
plain Python on lists, with no allocation beyond the result. Most candidates fail on time
alone or on the work limit: ``slack`` and ``open_positions`` refuse those in constant time
from bounds that hold whatever the breaks (on a 400-visit day the insertions run about
three times faster).
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from ._reasons import caregiver_problem
from ._routing import DayModel

_INFEASIBLE = None
_BIG = 2**62


@dataclass(frozen=True)
class Vehicle:
    """A caregiver's constants for timing, in node terms."""

    k: int
    start: int
    end: int
    open_s: int
    close_s: int
    breaks: tuple[tuple[int, int, int], ...]
    per_min: int
    max_work_s: int | None
    max_visits: int | None
    capacity: int | None
    matrix: list[list[int]]


@dataclass(frozen=True)
class Timing:
    """The timing of a feasible sequence: start time of each visit node and the travel."""

    starts: tuple[int, ...]
    travel_s: int


@dataclass(frozen=True)
class Slack:
    """Bounds valid for every timing of a sequence, per gap ``p`` (before its ``p``-th
    visit; ``len(seq)`` is the return): ``leave[p]`` is the earliest the caregiver can
    leave the stop before the gap (the shift's start for ``p`` = 0), ``latest[p]`` the
    latest start of the visit after it (the shift's end for the return)."""

    leave: list[int]
    latest: list[int]
    work: int
    """Service and travel of the sequence (the direct trip home when it is empty)."""
    load: int
    """The demand of its visits (0 for a caregiver without a capacity: never read)."""


class RouteTimer:
    """Exact timing of caregivers' sequences of visit nodes."""

    def __init__(self, day: DayModel) -> None:
        nodes = day.nodes
        self.service = list(nodes.service_s)
        self.windows = list(nodes.window)
        self.demand = [day.problem.visits[i].demand if i >= 0 else 0 for i in nodes.visit]
        matrices = {mode: m.tolist() for mode, m in day.travel_by_mode.items()}
        self.vehicles: list[Vehicle] = []
        for k, c in enumerate(day.problem.caregivers):
            breaks = tuple(
                sorted(
                    (max(b.window[0], c.shift[0]), min(b.window[1], c.shift[1]), b.duration_s)
                    for b in c.breaks
                )
            )
            self.vehicles.append(
                Vehicle(
                    k=k,
                    start=nodes.start_node[k],
                    end=nodes.end_node[k],
                    open_s=c.shift[0],
                    close_s=c.shift[1],
                    breaks=breaks if caregiver_problem(c) is None else (),
                    per_min=day.problem.weights.travel_per_min,
                    max_work_s=None if c.max_work_min is None else c.max_work_min * 60,
                    max_visits=c.max_visits,
                    capacity=c.capacity,
                    matrix=matrices[c.mode],
                )
            )

    def _start(self, n: int, arrival: int, pinned: dict[int, int]) -> int | None:
        fixed = pinned.get(n)
        if fixed is not None:
            return fixed if arrival <= fixed else _INFEASIBLE
        a, b = self.windows[n]
        if arrival > b:
            return _INFEASIBLE
        return a if arrival < a else arrival

    def time(
        self,
        veh: Vehicle,
        seq: Sequence[int],
        pinned: dict[int, int],
        eager: bool = False,
        gaps: Sequence[int] | None = None,
    ) -> Timing | None:
        """Timing of ``seq`` for ``veh``, or ``None`` if the sequence breaks a rule.

        Breaks go where ``gaps`` says (break ``j`` just before visit ``gaps[j]``, or before
        returning when it is ``len(seq)``), else where the lazy rule puts them (as late as
        they can wait unless free now) or, with ``eager``, as early as they fit.
        """
        if veh.max_visits is not None and len(seq) > veh.max_visits:
            return _INFEASIBLE
        if veh.capacity is not None and sum(self.demand[n] for n in seq) > veh.capacity:
            return _INFEASIBLE
        if not seq:
            return Timing((), 0)
        mat, service, breaks = veh.matrix, self.service, veh.breaks
        t, loc, bi, nb = veh.open_s, veh.start, 0, len(breaks)
        travel = work = 0
        starts = []
        for p, n in enumerate(seq):
            rem = mat[loc][n]
            travel += rem
            work += rem + service[n]
            while bi < nb:
                taken = _take(t, rem, breaks[bi])
                if gaps is not None:
                    if gaps[bi] != p:
                        break
                    if taken is None:
                        return _INFEASIBLE
                    (t, rem), bi = taken, bi + 1
                    continue
                s_plain = self._start(n, t + rem, pinned)
                if s_plain is None:
                    return _INFEASIBLE
                bo, be, bd = breaks[bi]
                end_plain = s_plain + service[n]
                can_wait = (end_plain if end_plain > bo else bo) + bd <= be
                take = False
                if taken is not None:
                    s_take = self._start(n, taken[0] + taken[1], pinned)
                    take = s_take is not None and (not can_wait or eager or s_take == s_plain)
                if take and taken is not None:
                    (t, rem), bi = taken, bi + 1
                elif not can_wait:
                    return _INFEASIBLE
                else:
                    break
            s = self._start(n, t + rem, pinned)
            if s is None:
                return _INFEASIBLE
            starts.append(s)
            t, loc = s + service[n], n
        rem = mat[loc][veh.end]
        travel += rem
        work += rem
        while bi < nb:
            taken = _take(t, rem, breaks[bi])
            if taken is None:
                return _INFEASIBLE
            (t, rem), bi = taken, bi + 1
        if t + rem > veh.close_s:
            return _INFEASIBLE
        if veh.max_work_s is not None and work > veh.max_work_s:
            return _INFEASIBLE
        return Timing(tuple(starts), travel)

    def window(self, n: int, pinned: dict[int, int]) -> tuple[int, int]:
        fixed = pinned.get(n)
        return self.windows[n] if fixed is None else (fixed, fixed)

    def slack(self, veh: Vehicle, seq: Sequence[int], pinned: dict[int, int]) -> Slack:
        """Bounds on every timing of ``seq`` for ``veh``, whatever its breaks: they only
        ever delay, so the timing without breaks is the earliest and the latest possible."""
        mat, service, windows = veh.matrix, self.service, self.windows
        t = veh.open_s
        leave = [t]
        loc = veh.start
        work = 0
        for n in seq:
            fixed = pinned.get(n)
            a = windows[n][0] if fixed is None else fixed
            leg = mat[loc][n]
            t += leg
            work += leg + service[n]
            t = (a if t < a else t) + service[n]
            leave.append(t)
            loc = n
        work += mat[loc][veh.end]
        t = veh.close_s
        latest = [t] * (len(seq) + 1)
        nxt = veh.end
        for p in range(len(seq) - 1, -1, -1):
            n = seq[p]
            fixed = pinned.get(n)
            b = windows[n][1] if fixed is None else fixed
            t -= mat[n][nxt] + service[n]
            t = b if b < t else t
            latest[p] = t
            nxt = n
        load = 0 if veh.capacity is None else sum(self.demand[n] for n in seq)
        return Slack(leave, latest, work, load)

    def open_positions(
        self,
        veh: Vehicle,
        seq: Sequence[int],
        slack: Slack,
        alternatives: Sequence[int],
        pinned: dict[int, int],
    ) -> list[tuple[int, int]]:
        """The (position, node) pairs of ``alternatives`` in ``seq`` that are not ruled
        out on time alone (a necessary condition only: the insertion may still fail).

        ``slack.leave`` and ``slack.latest`` never decrease along the route, so the
        positions a node's window allows form one run, found by bisection: on a full
        day most of a route lies outside it and is never looked at. The limits on visits,
        load and work are exact: work is service and travel, whatever the times (in the
        ruin and recreate of a 400-visit day, 55 % of the insertions the exact timing
        refused broke the work limit).
        """
        if veh.max_visits is not None and len(seq) >= veh.max_visits:
            return []
        mat, leave, latest = veh.matrix, slack.leave, slack.latest
        spare = _BIG if veh.max_work_s is None else veh.max_work_s - slack.work
        room = _BIG if veh.capacity is None else veh.capacity - slack.load
        out: list[tuple[int, int]] = []
        last = len(seq)  # leave and latest have last + 1 entries, one per gap
        for n in alternatives:
            if self.demand[n] > room:
                continue
            a, b = self.window(n, pinned)
            service = self.service[n]
            back = mat[n]
            # The visit starts at a or later, so it must end before latest[p]; and its
            # caregiver leaves the stop before it at leave[p], which must not pass b.
            first = bisect.bisect_left(latest, a + service)
            stop = bisect.bisect_right(leave, b)
            for p in range(first, stop):
                prev = seq[p - 1] if p > 0 else veh.start
                nxt = seq[p] if p < last else veh.end
                arrival = leave[p] + mat[prev][n]
                start = a if arrival < a else arrival
                if (
                    start <= b
                    and start + service + back[nxt] <= latest[p]
                    and service + mat[prev][n] + back[nxt] - mat[prev][nxt] <= spare
                ):
                    out.append((p, n))
        return out

    def feasible(
        self, veh: Vehicle, seq: Sequence[int], pinned: dict[int, int], exact: bool = False
    ) -> Timing | None:
        """Timing with the lazy break rule, else with the eager one; with ``exact``, else
        with every placement of the breaks in the gaps of the route."""
        found = self.time(veh, seq, pinned) or self.time(veh, seq, pinned, eager=True)
        if found is not None or not exact or not veh.breaks or not seq:
            return found
        gap_count = len(seq) + 1
        for gaps in itertools.combinations_with_replacement(range(gap_count), len(veh.breaks)):
            found = self.time(veh, seq, pinned, gaps=gaps)
            if found is not None:
                return found
        return None


def _take(t: int, rem: int, brk: tuple[int, int, int]) -> tuple[int, int] | None:
    """Take break ``brk`` as early as it fits, once free at ``t`` with ``rem`` seconds of
    travel still to do: the travel goes on while waiting for the break's window. Returns
    the new time and remaining travel, or ``None`` if the break no longer fits."""
    bo, be, bd = brk
    bs = t if t > bo else bo
    if bs + bd > be:
        return None
    moved = bs - t if bs - t < rem else rem
    return bs + bd, rem - moved
