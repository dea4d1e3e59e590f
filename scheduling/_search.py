"""OR-Tools' search on a day's model: when it stops, and who hears of its progress.

``Watch`` holds a solve's deadline, its caller's cancellation, the stall rules that end a
search early, and the best plan reported so far; ``monitor`` attaches it to a model's
search; ``search_parameters`` are the search's settings, the same for every stage of
``solve``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ortools.constraint_solver import pywrapcp, routing_enums_pb2
from ortools.util import optional_boolean_pb2

from ._routing import COST_SCALE, DayModel
from .problem import DayProblem

if TYPE_CHECKING:
    from .solve import SolveParams

_REREAD_S_PER_VISIT = 0.001
"""Kept from a refill's insertion or ruin and recreate for reading their routes into a
fresh model, until a read has been timed (``Watch.read_s``): about 0.3 s on 400 visits
where it was measured, 0.6-0.7 s on a slower machine."""
_LIMIT_BACKSTOP_S = 1.0
_WRAP_UP_S_PER_VISIT = 0.001
_CARE_WRAP_UP_S_PER_VISIT = 0.002
"""On a care day a move whose times and breaks are hard to fix can take a few tenths of a
second between two limit checks (traced: up to 0.5 s on 400 visits; none on the VRPTW
sets)."""
_STALL_CHECKS = 20_000
"""With a solution limit, the search also ends after this many limit checks without a new
solution: a counted (so deterministic) stop for searches that run out of moves."""
_INSERTION_OPERATORS = (
    "use_global_cheapest_insertion_path_lns",
    "use_local_cheapest_insertion_path_lns",
    "use_relocate_path_global_cheapest_insertion_insert_unperformed",
)
"""OR-Tools' operators that re-insert visits with its heuristics (see
``_portfolio._for_cost_only``)."""


@dataclass(frozen=True)
class Progress:
    """One improvement of the best plan during a solve, or the start of a phase.

    Attributes
    ----------
    elapsed_s
        Seconds since the solve began.
    objective
        The best plan's cost by the format's weights, in sixtieths of the format's units
        (``DayModel.cost``: what the checker prices the plan at, times 60, whenever each
        visit's price exceeds a continuity miss); None before the first plan.
    assigned
        Visits served by the best plan so far (0 before the first plan).
    visits
        Visits of the day.
    phase
        Set when the solver begins a phase before its first plan (which can take a
        third of the time limit): what it is doing, in English, for logs.
    """

    elapsed_s: float
    objective: int | None
    assigned: int
    visits: int
    phase: str | None = None

    @property
    def cost(self) -> float | None:
        """``objective`` in the format's units; None before the first plan."""
        return None if self.objective is None else self.objective / COST_SCALE


def is_vrptw(problem: DayProblem) -> bool:
    """No breaks, work limits or two-staff visits: a day PyVRP's relaxation holds exactly."""
    return all(not c.breaks and c.max_work_min is None for c in problem.caregivers) and all(
        v.staff == 1 for v in problem.visits
    )


class Watch:
    """Deadline, cancellation and progress reporting shared by every phase of a solve."""

    def __init__(
        self,
        problem: DayProblem,
        params: SolveParams,
        on_progress: Callable[[Progress], None] | None,
        should_stop: Callable[[], bool] | None,
    ) -> None:
        self.t0 = time.monotonic()
        # Reading the best solution back and building the plan take time too.
        per_visit = _WRAP_UP_S_PER_VISIT if is_vrptw(problem) else _CARE_WRAP_UP_S_PER_VISIT
        margin = min(0.1 * params.time_limit_s, 0.2 + per_visit * len(problem.visits))
        self.deadline = self.t0 + params.time_limit_s - margin
        self.visits = len(problem.visits)
        self.on_progress = on_progress
        self.should_stop = should_stop
        self.best: int | None = None
        self.cancelled = False
        self.stall_limit = _STALL_CHECKS if params.solution_limit is not None else None
        self.stall = 0
        self.stall_s = math.inf  # a search ends once the best plan is this old (seconds)
        self.improved = self.t0
        self.search_until = math.inf
        self.overrun = 0.0  # the longest a search ran past its own limit so far, seconds
        # The longest read of routes into a fresh model so far, seconds (an estimate before).
        self.read_s = _REREAD_S_PER_VISIT * len(problem.visits)

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def stop_now(self) -> bool:
        """True once the caller asked to stop (remembered) or the time is up."""
        if not self.cancelled and self.should_stop is not None and self.should_stop():
            self.cancelled = True
        return self.cancelled or self.remaining() <= 0

    def search_limit(self) -> bool:
        """``stop_now``, or a search that has stalled: no new solution in so many checks
        (with a solution limit), or no better plan for ``stall_s`` seconds."""
        if self.stall_limit is not None:
            self.stall += 1
            if self.stall > self.stall_limit:
                return True
        now = time.monotonic()
        return self.stop_now() or now > self.search_until or now - self.improved > self.stall_s

    def solution_found(self) -> None:
        self.stall = 0

    def begin(self, phase: str) -> None:
        """Announce a phase of the work before the first plan."""
        if self.on_progress is not None:
            elapsed = time.monotonic() - self.t0
            self.on_progress(Progress(elapsed, None, 0, self.visits, phase))

    def report(self, objective: int, assigned: int) -> None:
        if self.best is not None and objective >= self.best:
            return
        self.best = objective
        self.improved = time.monotonic()
        if self.on_progress is not None:
            elapsed = time.monotonic() - self.t0
            self.on_progress(Progress(elapsed, objective, assigned, self.visits))


def search_parameters(
    params: SolveParams,
    seconds: float,
    first: int | None = None,
    *,
    plain: bool = False,
    insertion: bool = True,
) -> Any:
    p = pywrapcp.DefaultRoutingSearchParameters()
    p.first_solution_strategy = (
        first if first is not None else routing_enums_pb2.FirstSolutionStrategy.PATH_CHEAPEST_ARC
    )
    p.local_search_metaheuristic = routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    # The search's own limit is the watch's (``Watch.search_limit``), checked at every
    # move; OR-Tools' clock only backs it up. When OR-Tools' time limit is the one that
    # ends a search on a care day, the search takes up to 3 s more to return (traced on a
    # repair: a 2.1 s search returned after 5.3 s); ended by the watch, it returns at once.
    p.time_limit.FromMilliseconds(max(1, int((seconds + _LIMIT_BACKSTOP_S) * 1000)))
    if params.solution_limit is not None:
        p.solution_limit = params.solution_limit
    if not plain:
        # The completion search that fixes times and breaks after each move needs more than
        # the default 100 ms on a few hundred visits; cut short, it rejects valid solutions.
        p.lns_time_limit.FromMilliseconds(max(100, int(min(seconds, 5.0) * 1000)))
    p.log_search = params.log_search
    if not insertion:
        for name in _INSERTION_OPERATORS:
            setattr(p.local_search_operators, name, optional_boolean_pb2.BOOL_FALSE)
    return p


def assigned_count(day: DayModel, assignment: Any) -> int:
    routing = day.routing
    count = 0
    for copies in day.nodes.of_visit.values():
        for n in copies[0]:
            index = day.index(n)
            if assignment.Value(routing.NextVar(index)) != index:
                count += 1
                break
    return count


def monitor(day: DayModel, watch: Watch) -> None:
    """Report improvements and stop the search on request or at the deadline."""
    routing = day.routing
    indices = [[day.index(n) for n in copies[0]] for copies in day.nodes.of_visit.values()]

    def at_solution() -> None:
        watch.solution_found()
        assigned = sum(1 for alts in indices if any(routing.NextVar(i).Value() != i for i in alts))
        watch.report(int(routing.CostVar().Value()) + day.floor_total, assigned)

    routing.AddAtSolutionCallback(at_solution)
    routing.AddSearchMonitor(routing.solver().CustomLimit(watch.search_limit))
