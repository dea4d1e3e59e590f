"""Run the solver on benchmark instances and measure the plans it returns.

Each instance is read, encoded as a day problem, solved with ``scheduling.solve``,
checked with ``scheduling.check`` against that day problem, and re-evaluated by
the benchmark's own rules (``evaluate_vrptw`` or the HHCRSP ``evaluate``), so a
figure is only reported as valid when two independent code paths agree. Only the
``solve`` call is timed.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import os
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..check import check
from ..problem import DayPlan, DayProblem
from ..solve import SolveParams, solve
from ..travel import build_travel_times
from .bks import HhcBest, VrptwBks, read_hhc_best, read_vrptw_bks
from .data import HHC_FOLDER, VRPTW_SETS
from .errors import BenchmarkError
from .mankowska import (
    Encoding,
    MankowskaInstance,
    earliest_starts,
    encode,
    evaluate,
    read_mankowska,
    solution_from_plan,
)
from .vrptw import evaluate_vrptw, read_vrptw, routes_from_plan, to_day_problem

Progress = Callable[[str], None]
"""Receives one line of progress text per event."""

SLACK_STEPS = (15.0, 30.0, 60.0, 120.0, 240.0, 480.0, 1000.0)
"""Tardiness allowances (instance time units) tried in turn for each HHC patient left
unserved; the first pass allows none, the last is beyond every horizon."""


def _natural_key(name: str) -> list[object]:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def select(available: Iterable[str], spec: str | None) -> list[str]:
    """The instances named by ``spec`` (comma-separated names or shell patterns such as
    ``C1*``), in natural order; every instance when ``spec`` is empty.

    Raises
    ------
    BenchmarkError
        If a name is unknown or a pattern matches nothing.
    """
    names = sorted({n.upper() for n in available}, key=_natural_key)
    if not spec:
        return names
    chosen: set[str] = set()
    for item in (s.strip().upper() for s in spec.split(",")):
        if not item:
            continue
        hits = fnmatch.filter(names, item)
        if not hits:
            shown = ", ".join(names[:6]) + (", ..." if len(names) > 6 else "")
            raise BenchmarkError(f"--instances: no instance matches {item!r} (have {shown})")
        chosen.update(hits)
    return [n for n in names if n in chosen]


def _timed_solve(problem: DayProblem, params: SolveParams) -> tuple[DayPlan, float]:
    travel = build_travel_times(problem)
    t0 = time.perf_counter()
    plan = solve(problem, params, travel=travel)
    return plan, time.perf_counter() - t0


def _load() -> float:
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")


@dataclass(frozen=True)
class VrptwResult:
    """One VRPTW instance solved and measured.

    ``distance`` and ``routes`` come from the double-precision evaluator, not from
    the solver; ``valid`` requires both the day-plan checker and the evaluator.
    """

    instance: str
    customers: int
    routes: int
    distance: float
    bks_routes: int | None
    bks_distance: float | None
    unassigned: int
    check_ok: bool
    check_codes: tuple[str, ...]
    evaluator_ok: bool
    evaluator_violations: tuple[str, ...]
    wall_s: float
    load_1min: float

    @property
    def valid(self) -> bool:
        """True when the checker and the evaluator both accept the plan."""
        return self.check_ok and self.evaluator_ok

    @property
    def route_excess(self) -> int | None:
        """Routes above the best known (negative: fewer than the best known)."""
        return None if self.bks_routes is None else self.routes - self.bks_routes

    @property
    def gap_pct(self) -> float | None:
        """Distance above the best known, in percent (meaningful at equal route counts)."""
        if self.bks_distance is None or self.bks_distance == 0:
            return None
        return 100.0 * (self.distance - self.bks_distance) / self.bks_distance


@dataclass(frozen=True)
class VrptwSummary:
    """Figures over a set of VRPTW results (only valid ones count, except ``instances``)."""

    instances: int
    valid: int
    route_excess_sum: int
    at_bks_routes: int
    mean_gap_at_bks_routes_pct: float | None
    total_routes: int
    total_distance: float
    wall_s: float


def run_vrptw(
    set_name: str,
    root: Path,
    instances: str | None,
    params: SolveParams,
    progress: Progress,
    on_result: Callable[[VrptwResult], None] | None = None,
) -> list[VrptwResult]:
    """Solve the selected instances of a VRPTW set (Solomon or Gehring & Homberger).

    Parameters
    ----------
    set_name
        A key of ``VRPTW_SETS``.
    root
        The benchmark data directory.
    instances
        ``select`` spec; every instance when None.
    params
        Solver parameters (``minimise_routes`` should be set for the hierarchical objective).
    progress
        Receives a line per instance.
    on_result
        Called after each instance (e.g. to save partial results).
    """
    folder = _set_folder(root, set_name)
    bks = read_vrptw_bks(folder / "bks.csv")
    names = select((p.stem for p in folder.glob("*.txt")), instances)
    results: list[VrptwResult] = []
    for k, name in enumerate(names, start=1):
        progress(f"[{k}/{len(names)}] {name}: solving ({params.time_limit_s:g} s)...")
        result = solve_vrptw_file(folder / f"{name}.txt", bks.get(name), params)
        progress(f"[{k}/{len(names)}] {name}: {_vrptw_line(result)}")
        results.append(result)
        if on_result is not None:
            on_result(result)
    return results


def _set_folder(root: Path, set_name: str) -> Path:
    if set_name not in VRPTW_SETS:
        raise BenchmarkError(f"unknown VRPTW set {set_name!r}")
    folder = root / VRPTW_SETS[set_name]
    if not (folder / "bks.csv").is_file():
        raise BenchmarkError(f"{folder}: no bks.csv (is the data directory right?)")
    return folder


def solve_vrptw_file(path: Path, bks: VrptwBks | None, params: SolveParams) -> VrptwResult:
    """Read, encode, solve, check and evaluate one VRPTW instance file."""
    inst = read_vrptw(path)
    problem = to_day_problem(inst)
    load = _load()
    plan, wall = _timed_solve(problem, params)
    report = check(problem, plan)
    ev = evaluate_vrptw(inst, routes_from_plan(plan))
    return VrptwResult(
        instance=inst.name,
        customers=len(inst.customers),
        routes=ev.routes,
        distance=ev.distance,
        bks_routes=bks.vehicles if bks else None,
        bks_distance=bks.distance if bks else None,
        unassigned=len(plan.unassigned),
        check_ok=report.ok,
        check_codes=tuple(sorted({v.code for v in report.violations})),
        evaluator_ok=ev.feasible,
        evaluator_violations=ev.violations[:10],
        wall_s=wall,
        load_1min=load,
    )


def _vrptw_line(r: VrptwResult) -> str:
    bks = f" (BKS {r.bks_routes}/{r.bks_distance:.2f})" if r.bks_distance is not None else ""
    verdict = "valid" if r.valid else "INVALID"
    return f"{r.routes} routes, {r.distance:.2f}{bks}, {verdict}, {r.wall_s:.1f} s"


def summarise_vrptw(results: Sequence[VrptwResult]) -> VrptwSummary:
    """Summed route excess over the BKS, mean distance gap at the BKS route count, counts."""
    valid = [r for r in results if r.valid]
    excess = sum(r.route_excess or 0 for r in valid if r.route_excess is not None)
    gaps = [r.gap_pct for r in valid if r.route_excess == 0 and r.gap_pct is not None]
    return VrptwSummary(
        instances=len(results),
        valid=len(valid),
        route_excess_sum=excess,
        at_bks_routes=len(gaps),
        mean_gap_at_bks_routes_pct=sum(gaps) / len(gaps) if gaps else None,
        total_routes=sum(r.routes for r in valid),
        total_distance=sum(r.distance for r in valid),
        wall_s=sum(r.wall_s for r in results),
    )


@dataclass(frozen=True)
class HhcResult:
    """One Mankowska instance solved through the restricted encoding and measured by the
    original HHCRSP rules.

    ``comparable`` is true only when the solution is complete and feasible; only then
    is ``objective`` a genuine HHCRSP objective to set beside ``best_ub``.
    """

    instance: str
    patients: int
    caregivers: int
    doubles_restricted: int
    unrepresentable: tuple[int, ...]
    passes: int
    max_slack: float
    served: int
    services: int
    distance: float
    total_tardiness: float
    max_tardiness: float
    objective: float
    best_ub: float | None
    best_lb: float | None
    check_ok: bool
    check_codes: tuple[str, ...]
    evaluator_violations: tuple[str, ...]
    wall_s: float
    load_1min: float

    @property
    def comparable(self) -> bool:
        """True when every service is served and every original rule holds."""
        return self.check_ok and not self.evaluator_violations and self.served == self.services

    @property
    def gap_pct(self) -> float | None:
        """Objective above the best published one, in percent (only when comparable)."""
        if not self.comparable or not self.best_ub:
            return None
        return 100.0 * (self.objective - self.best_ub) / self.best_ub


def run_mankowska(
    root: Path,
    instances: str | None,
    params: SolveParams,
    progress: Progress,
    on_result: Callable[[HhcResult], None] | None = None,
) -> list[HhcResult]:
    """Solve the selected Mankowska instances (names ``A1`` ... ``G10``; patterns
    such as ``A*`` select a family)."""
    folder = root / HHC_FOLDER
    table = folder / "summary_best_known.csv"
    if not table.is_file():
        raise BenchmarkError(f"{folder}: no summary_best_known.csv (is the data directory right?)")
    best = read_hhc_best(table)
    names = select(best, instances)
    results: list[HhcResult] = []
    for k, name in enumerate(names, start=1):
        progress(f"[{k}/{len(names)}] {name}: solving ({params.time_limit_s:g} s)...")
        result = solve_hhc_file(folder / best[name].file, best[name], params)
        progress(f"[{k}/{len(names)}] {name}: {_hhc_line(result)}")
        results.append(result)
        if on_result is not None:
            on_result(result)
    return results


def solve_hhc_file(path: Path, best: HhcBest | None, params: SolveParams) -> HhcResult:
    """Read, encode, solve, check and evaluate one Mankowska instance file."""
    inst = read_mankowska(path, best.instance if best else None)
    load = _load()
    enc, plan, wall, slack, passes = _slack_ladder(inst, params)
    report = check(enc.problem, plan)
    ev = evaluate(inst, earliest_starts(inst, solution_from_plan(inst, enc, plan)))
    return HhcResult(
        instance=inst.name,
        patients=len(inst.patients),
        caregivers=inst.n_vehicles,
        doubles_restricted=enc.restricted,
        unrepresentable=enc.unrepresentable,
        passes=passes,
        max_slack=max(slack.values(), default=0.0),
        served=ev.served,
        services=ev.services,
        distance=ev.distance,
        total_tardiness=ev.total_tardiness,
        max_tardiness=ev.max_tardiness,
        objective=ev.objective,
        best_ub=best.best_ub if best else None,
        best_lb=best.best_lb if best else None,
        check_ok=report.ok,
        check_codes=tuple(sorted({v.code for v in report.violations})),
        evaluator_violations=ev.violations[:10],
        wall_s=wall,
        load_1min=load,
    )


def _slack_ladder(
    inst: MankowskaInstance, params: SolveParams
) -> tuple[Encoding, DayPlan, float, dict[int, float], int]:
    """Solve with no tardiness allowed, then give each patient left unserved its next
    allowance of ``SLACK_STEPS`` and repair the previous plan, until every patient is
    served. The first pass gets half the time limit, each later one an equal share of
    the other half, so the passes together stay within the limit."""
    slack: dict[int, float] = {}
    level: dict[int, int] = {}
    hint: DayPlan | None = None
    wall = 0.0
    for k in range(len(SLACK_STEPS) + 1):
        enc = encode(inst, slack=slack)
        share = 0.5 if k == 0 else 0.5 / len(SLACK_STEPS)
        run = dataclasses.replace(params, time_limit_s=params.time_limit_s * share)
        travel = build_travel_times(enc.problem)
        t0 = time.perf_counter()
        plan = solve(enc.problem, run, travel=travel, hint=hint)
        wall += time.perf_counter() - t0
        stuck = set(enc.unrepresentable)
        unserved = {enc.patient[u.visit_id] for u in plan.unassigned} - stuck
        if not unserved or k == len(SLACK_STEPS):
            return enc, plan, wall, slack, k + 1
        for i in unserved:
            level[i] = min(level.get(i, 0) + 1, len(SLACK_STEPS))
            slack[i] = SLACK_STEPS[level[i] - 1]
        hint = plan
    raise AssertionError("unreachable: the last pass returns")


def _hhc_line(r: HhcResult) -> str:
    status = "comparable" if r.comparable else f"served {r.served}/{r.services}"
    if not r.check_ok or r.evaluator_violations:
        status = "INVALID"
    return f"objective {r.objective:.2f} (best {r.best_ub}), {status}, {r.wall_s:.1f} s"
