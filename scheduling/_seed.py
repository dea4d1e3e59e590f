"""PyVRP as a seed for the routing model, where PyVRP can represent the whole day.

PyVRP's iterated local search is far stronger than OR-Tools' guided local search on
plain VRPTW: it finds the Solomon best-known route counts where OR-Tools' own first
solutions fail to find any solution at all. It cannot represent breaks, several windows,
two-staff visits, eligibility, locks, continuity or work limits, so it is used only when a
day has none of them (the VRPTW benchmarks, and simple days); its routes are then read
into the OR-Tools model, which checks them against every rule and keeps improving them.

Caregivers that share start, end, shift, capacity, travel mode and visit limit become
one PyVRP vehicle type; a used-route fixed cost carries route minimisation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._routing import DayModel


@dataclass(frozen=True)
class SeedResult:
    """Routes of visit nodes per caregiver, and whether PyVRP found them feasible."""

    routes: list[list[int]]
    feasible: bool
    cost: int


def applicable(day: DayModel) -> bool:
    """Whether PyVRP can represent ``day`` exactly (then its routes hold every rule)."""
    problem = day.problem
    if problem.locks or not day.nodes.of_visit:
        return False
    n_caregivers = len(problem.caregivers)
    for c in problem.caregivers:
        if c.breaks or c.max_work_min is not None:
            return False
    for i, copies in day.nodes.of_visit.items():
        scope = day.scopes[i]
        if len(copies) != 1 or len(copies[0]) != 1 or len(scope.allowed) != n_caregivers:
            return False
    return day.care is None


def _vehicle_key(day: DayModel, k: int) -> tuple[int, int, tuple[int, int], int, str, int]:
    c = day.problem.caregivers[k]
    return (
        day.nodes.start_node[k],
        day.nodes.end_node[k],
        c.shift,
        -1 if c.capacity is None else c.capacity,
        c.mode,
        -1 if c.max_visits is None else c.max_visits,
    )


def _data(day: DayModel) -> tuple[Any, list[list[int]], list[int]]:
    """PyVRP problem data, the caregivers of each vehicle type, and the client nodes."""
    import pyvrp

    problem, nodes = day.problem, day.nodes
    points = day.travel.points
    n_depots = len(set(nodes.start_node) | set(nodes.end_node))
    locations = [pyvrp.Location(*points[nodes.point[n]]) for n in range(nodes.count)]
    depots = [pyvrp.Depot(location=n) for n in range(n_depots)]
    client_nodes = [copies[0][0] for copies in nodes.of_visit.values()]
    uses_load = any(c.capacity is not None for c in problem.caregivers)
    uses_count = any(c.max_visits is not None for c in problem.caregivers)
    clients = []
    for n in client_nodes:
        load = [problem.visits[nodes.visit[n]].demand] if uses_load else []
        if uses_count:
            load.append(1)
        a, b = nodes.window[n]
        clients.append(
            pyvrp.Client(
                location=n,
                delivery=load,
                service_duration=nodes.service_s[n],
                tw_early=a,
                tw_late=b,
            )
        )
    modes = sorted(day.travel_by_mode)
    groups: dict[tuple[int, int, tuple[int, int], int, str, int], list[int]] = {}
    for k in range(len(problem.caregivers)):
        groups.setdefault(_vehicle_key(day, k), []).append(k)
    types = []
    members = []
    big = sum(problem.visits[nodes.visit[n]].demand for n in client_nodes) + 1
    for (start, end, shift, cap, mode, max_visits), ks in groups.items():
        capacity = [cap if cap >= 0 else big] if uses_load else []
        if uses_count:
            capacity.append(max_visits if max_visits >= 0 else len(client_nodes))
        types.append(
            pyvrp.VehicleType(
                num_available=len(ks),
                capacity=capacity,
                start_depot=start,
                end_depot=end,
                fixed_cost=day.options.route_fixed,
                tw_early=shift[0],
                tw_late=shift[1],
                unit_distance_cost=problem.weights.travel_per_min,
                profile=modes.index(mode),
            )
        )
        members.append(ks)
    matrices: list[Any] = [np.asarray(day.travel_by_mode[m], dtype=np.int64) for m in modes]
    data = pyvrp.ProblemData(locations, clients, depots, types, matrices, matrices)
    return data, members, client_nodes


def seed(
    day: DayModel, seed: int, *, max_runtime_s: float | None, max_iterations: int | None
) -> SeedResult | None:
    """Solve the PyVRP form of ``day``; ``None`` when PyVRP cannot represent it.

    Bounded by ``max_iterations`` when given (deterministic), else by ``max_runtime_s``.
    """
    import pyvrp
    from pyvrp.stop import MaxIterations, MaxRuntime

    if not applicable(day):
        return None
    data, members, client_nodes = _data(day)
    stop: Any
    if max_iterations is not None:
        stop = MaxIterations(max_iterations)
    else:
        stop = MaxRuntime(max(0.01, max_runtime_s or 0.0))
    result = pyvrp.solve(data, stop=stop, seed=seed, collect_stats=False, display=False)
    best = result.best
    routes: list[list[int]] = [[] for _ in day.problem.caregivers]
    free = [list(ks) for ks in members]
    for r in best.routes():
        k = free[r.vehicle_type()].pop(0)
        routes[k] = [client_nodes[a.idx] for a in r if a.is_client()]
    return SeedResult(routes, bool(best.is_feasible()), int(result.cost()))


def used_routes(routes: Sequence[Sequence[int]]) -> int:
    """Number of non-empty routes."""
    return sum(1 for r in routes if r)
