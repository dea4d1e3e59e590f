"""The care-day benchmark: a generated 400-visit day, portfolio engine against the plain one.

The plain engine is the baseline the OR-Tools documentation teaches (one routing
model, PATH_CHEAPEST_ARC then guided local search) with what that model can express:
like the peers it stands for, it cannot do two-staff visits and leaves them out, so
its two-staff row reads 0. The portfolio is the real solver. Both get the same day,
seed and time limit; each plan is measured from the independent checker's recomputed
figures, never from the solver's own, and a plan the checker refuses is reported as
invalid with the rules it breaks.

The first column is the generator's witness (``generate_day_with_witness``): the plan the
day was planted from, measured the same way. It shows that a valid plan can hold every
visit of the day, which is what the engines' "assigned" rows are read against.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from ..check import check
from ..generate import generate_day_with_witness
from ..problem import DayPlan, DayProblem
from ..solve import SolveParams, solve
from ..travel import TravelTimes, build_travel_times

ENGINES = ("portfolio", "plain")


@dataclass(frozen=True)
class Served:
    """How many of ``total`` visits of a kind were assigned."""

    assigned: int
    total: int


@dataclass(frozen=True)
class DayResult:
    """One engine's plan for the generated day, measured by the checker.

    Attributes
    ----------
    by_priority
        Priority -> visits assigned / in the day (1 is highest).
    two_staff
        Two-staff visits assigned / in the day.
    travel_h
        Total travel, hours.
    continuity_rate
        Hits / (hits + misses) among served visits with a preferred caregiver.
    max_work_h
        The longest route's work (service + travel), hours.
    cost
        The format's objective, recomputed by the checker.
    violations
        Codes of the rules the plan breaks (empty when valid).
    """

    engine: str
    visits: int
    caregivers: int
    by_priority: dict[int, Served]
    two_staff: Served
    travel_h: float
    continuity_rate: float
    max_work_h: float
    used_routes: int
    cost: float
    valid: bool
    violations: tuple[str, ...]
    wall_s: float
    load_1min: float = float("nan")
    """The machine's 1-minute load average when the solve began."""

    @property
    def assigned(self) -> int:
        """Visits assigned, all priorities."""
        return sum(s.assigned for s in self.by_priority.values())

    @property
    def travel_min_per_visit(self) -> float:
        """Travel minutes per assigned visit (0 when none is assigned): travel set
        against the work done, for engines that serve different numbers of visits."""
        return 60 * self.travel_h / self.assigned if self.assigned else 0.0


def measure(
    engine: str, problem: DayProblem, plan: DayPlan, wall_s: float, load_1min: float = float("nan")
) -> DayResult:
    """Measure ``plan`` for ``problem`` with the independent checker's figures."""
    report = check(problem, plan)
    served = {s.visit_id for r in plan.routes for s in r.stops}
    priorities = sorted({v.priority for v in problem.visits})
    by_priority = {
        p: Served(
            sum(1 for v in problem.visits if v.priority == p and v.id in served),
            sum(1 for v in problem.visits if v.priority == p),
        )
        for p in priorities
    }
    doubles = [v for v in problem.visits if v.staff == 2]
    return DayResult(
        engine=engine,
        visits=len(problem.visits),
        caregivers=len(problem.caregivers),
        by_priority=by_priority,
        two_staff=Served(sum(1 for v in doubles if v.id in served), len(doubles)),
        travel_h=report.kpis.travel_s / 3600,
        continuity_rate=report.kpis.continuity_rate,
        max_work_h=max((r.work_s for r in plan.routes), default=0) / 3600,
        used_routes=sum(1 for r in plan.routes if r.stops),
        cost=report.cost,
        valid=report.ok,
        violations=tuple(sorted({v.code for v in report.violations})),
        wall_s=wall_s,
        load_1min=load_1min,
    )


def _load() -> float:
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")


def run_day(
    visits: int,
    seed: int,
    params: SolveParams,
    progress: Callable[[str], None],
    engines: Sequence[str] = ENGINES,
    continuity_weights: Sequence[int] = (),
) -> list[DayResult]:
    """Generate a day of ``visits`` visits with ``seed`` and solve it with each engine.

    ``params`` gives the time (or solution) limit and seed; its engine is replaced. The
    first result is the generator's witness plan (engine ``witness``, no solve time).
    With both engines, two more results solve the day cut down to the visits the plain
    engine served with the portfolio: travel for the same work, where the plain engine's
    own figure leaves out the visits hardest to reach; once with the day's weights
    (``portfolio/plain's visits``) and once with no continuity cost, as the plain model
    sees the day (``...travel only``; its plan is judged with the day's weights).
    Each of ``continuity_weights`` adds one more such solve with that cost per
    continuity miss (``...continuity W``): the trade between travel and keeping the
    preferred caregiver that the day's weights fix at one point.
    """
    generated = generate_day_with_witness(visits, seed)
    problem = generated.problem
    results = [measure("witness", problem, generated.witness, 0.0, _load())]
    plans: dict[str, DayPlan] = {}
    travel = build_travel_times(problem)
    runs = [(engine, engine, problem, problem, travel) for engine in engines]
    for k, (label, engine, day, judged, times) in enumerate(runs, start=1):
        progress(f"[{k}/{len(runs)}] day {len(day.visits)} visits, seed {seed}: {label}...")
        plans[label], result = _solve(label, engine, day, judged, times, params)
        progress(
            f"[{k}/{len(runs)}] {label}: {result.assigned}/{result.visits} assigned, "
            f"{result.travel_h:.1f} h travel, {'valid' if result.valid else 'INVALID'}, "
            f"{result.wall_s:.1f} s"
        )
        results.append(result)
        if label == "plain" and "portfolio" in engines:
            same = _served_only(problem, plans["plain"])
            same_travel = build_travel_times(same)  # the weights do not change it
            runs.append((SAME_VISITS, "portfolio", same, same, same_travel))
            for name, weight in [(SAME_VISITS_TRAVEL_ONLY, 0)] + [
                (f"...continuity {w}", w) for w in continuity_weights
            ]:
                weighted = replace(same, weights=replace(same.weights, continuity_miss=weight))
                runs.append((name, "portfolio", weighted, same, same_travel))
    return results


SAME_VISITS = "portfolio/plain's visits"
SAME_VISITS_TRAVEL_ONLY = "...travel only"


def _solve(
    label: str,
    engine: str,
    problem: DayProblem,
    judged: DayProblem,
    travel: TravelTimes,
    params: SolveParams,
) -> tuple[DayPlan, DayResult]:
    """Solve ``problem`` with ``engine``; measure the plan against ``judged``."""
    run = SolveParams(
        time_limit_s=params.time_limit_s,
        seed=params.seed,
        solution_limit=params.solution_limit,
        minimise_routes=False,
        engine=engine,
        workers=params.workers,
    )
    load = _load()
    t0 = time.perf_counter()
    plan = solve(problem, run, travel=travel)
    return plan, measure(label, judged, plan, time.perf_counter() - t0, load)


def _served_only(problem: DayProblem, plan: DayPlan) -> DayProblem:
    served = {s.visit_id for r in plan.routes for s in r.stops}
    return replace(problem, visits=tuple(v for v in problem.visits if v.id in served))
