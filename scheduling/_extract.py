"""Turn a routing solution into a ``DayPlan``.

Stops take the finalised start cumuls of their nodes; breaks the values of their interval
variables. The arrival reported at a door is the earliest the format allows: the previous
departure (the route's departure for the first stop) plus the travel leg plus the breaks
taken in that gap. Per-route travel counts the legs from the start place and back to the
end place; an empty route has no travel and no break.
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ._reasons import capacity_reason
from ._routing import DayModel, Nodes
from .problem import BreakTaken, DayPlan, Kpis, Route, SolverInfo, Stop, Unassigned


@dataclass(frozen=True)
class RouteNodes:
    """One caregiver's route as nodes and the times read from the solution."""

    caregiver: int
    nodes: tuple[int, ...]
    starts_s: tuple[int, ...]
    leave_s: int
    breaks: tuple[tuple[int, int], ...]


def starts_of(routes: Iterable[RouteNodes]) -> dict[int, int]:
    """The start of every node of ``routes``."""
    return {n: t for r in routes for n, t in zip(r.nodes, r.starts_s, strict=True)}


def stop_node(nodes: Nodes, i: int, start_s: int, taken: Container[int]) -> int | None:
    """The node of visit ``i`` that a stop starting at ``start_s`` takes: in the first
    member of staff's copy with no node ``taken``, the alternative whose window holds the
    start. ``None`` when there is none (every copy taken, or no window fits)."""
    copy = next((c for c in nodes.of_visit[i] if not any(n in taken for n in c)), ())
    return next((n for n in copy if nodes.window[n][0] <= start_s <= nodes.window[n][1]), None)


def label_pairs(day: DayModel, routes: Sequence[list[int]]) -> None:
    """Swap, in place, the two members of staff of each routed two-staff visit between its
    copies where ``first_copy`` puts them the other way round. Which member of staff is on
    which copy changes no time: the two copies of a window are the same visit, started
    together."""
    where = {n: (k, p) for k, r in enumerate(routes) for p, n in enumerate(r)}
    for i, copies in day.nodes.of_visit.items():
        if len(copies) != 2:
            continue
        for a, b in zip(*copies, strict=True):
            if a not in where or b not in where:
                continue
            (ka, pa), (kb, pb) = where[a], where[b]
            if first_copy(day, i, a, b, ka, kb) not in (ka, None):
                routes[ka][pa], routes[kb][pb] = b, a


def first_copy(day: DayModel, i: int, a: int, b: int, x: int, y: int) -> int | None:
    """Which of caregivers ``x`` and ``y`` serving two-staff visit ``i`` takes its first
    copy (node ``a``; the other takes ``b``, the second copy's node of the same window):
    the one its locks name (``None`` when they allow neither), else the one for whom it
    costs less, ``x`` on a tie: the first copy alone carries a continuity miss
    (``_routing._care_costs``), so a preferred caregiver belongs on it."""
    locked = day.scopes[i].locked
    if locked:
        return next((k for k, other in ((x, y), (y, x)) if _locks_hold(locked, k, other)), None)
    care = day.care
    if care is not None and care[y][a] + care[x][b] < care[x][a] + care[y][b]:
        return y
    return x


def _locks_hold(locked: Sequence[int], first: int, second: int) -> bool:
    """Whether a two-staff visit's locks allow caregiver ``first`` on its first copy and
    ``second`` on its second."""
    return all(k == (first, second)[c] for c, k in enumerate(locked))


def read_routes(day: DayModel, assignment: Any) -> list[RouteNodes]:
    """The routes of ``assignment`` with start times and break times."""
    routing, time = day.routing, day.time
    out = []
    for k in range(routing.vehicles()):
        index = routing.Start(k)
        leave = int(assignment.Value(time.CumulVar(index)))
        nodes: list[int] = []
        starts: list[int] = []
        index = assignment.Value(routing.NextVar(index))
        while not routing.IsEnd(index):
            nodes.append(day.node(index))
            starts.append(int(assignment.Value(time.CumulVar(index))))
            index = assignment.Value(routing.NextVar(index))
        breaks: list[tuple[int, int]] = []
        if nodes:
            for iv in day.breaks.get(k, []):
                s = int(assignment.StartValue(iv))
                breaks.append((s, s + int(iv.DurationMin())))
        out.append(RouteNodes(k, tuple(nodes), tuple(starts), leave, tuple(sorted(breaks))))
    return out


def node_routes(day: DayModel, assignment: Any) -> list[list[int]]:
    """Per vehicle, the routing indices of its visits (for re-reading an assignment)."""
    routing = day.routing
    out = []
    for k in range(routing.vehicles()):
        route = []
        index = assignment.Value(routing.NextVar(routing.Start(k)))
        while not routing.IsEnd(index):
            route.append(int(index))
            index = assignment.Value(routing.NextVar(index))
        out.append(route)
    return out


def _route(day: DayModel, r: RouteNodes) -> Route:
    problem = day.problem
    c = problem.caregivers[r.caregiver]
    if not r.nodes:
        return Route(caregiver_id=c.id)
    start_node = day.nodes.start_node[r.caregiver]
    stops: list[Stop] = []
    travel_s = 0
    service_s = 0
    prev_node, prev_dep = start_node, r.leave_s
    for n, start in zip(r.nodes, r.starts_s, strict=True):
        v = problem.visits[day.nodes.visit[n]]
        leg = day.travel_s(r.caregiver, prev_node, n)
        in_gap = sum(e - s for s, e in r.breaks if s >= prev_dep and e <= start)
        arrival = min(start, prev_dep + leg + in_gap)
        stops.append(Stop(v.id, arrival, start, start + v.duration_s))
        travel_s += leg
        service_s += v.duration_s
        prev_node, prev_dep = n, start + v.duration_s
    travel_s += day.travel_s(r.caregiver, prev_node, day.nodes.end_node[r.caregiver])
    breaks = tuple(BreakTaken(s, e) for s, e in r.breaks)
    return Route(c.id, tuple(stops), breaks, travel_s, service_s + travel_s)


def continuity_rate(day: DayModel, routes: Sequence[Route]) -> float:
    """Share of served visits with preferences that got a preferred caregiver."""
    served: dict[str, set[str]] = {}
    for route in routes:
        for stop in route.stops:
            served.setdefault(stop.visit_id, set()).add(route.caregiver_id)
    hits = misses = 0
    for v in day.problem.visits:
        if v.id in served and v.preferred_caregivers:
            if served[v.id] & set(v.preferred_caregivers):
                hits += 1
            else:
                misses += 1
    return 1.0 if hits + misses == 0 else hits / (hits + misses)


def to_plan(day: DayModel, routes: Sequence[RouteNodes], solver: SolverInfo) -> DayPlan:
    """The ``DayPlan`` of read routes, with reasons for every visit left out."""
    plan_routes = tuple(_route(day, r) for r in routes)
    served = {stop.visit_id for route in plan_routes for stop in route.stops}
    unassigned = []
    for v, scope in zip(day.problem.visits, day.scopes, strict=True):
        if v.id in served:
            continue
        reason = scope.reason or capacity_reason(day.problem, v, scope, plan_routes)
        unassigned.append(Unassigned(v.id, reason))
    kpis = Kpis(
        visits=len(day.problem.visits),
        assigned=len(served),
        travel_s=sum(r.travel_s for r in plan_routes),
        continuity_rate=continuity_rate(day, plan_routes),
    )
    return DayPlan(plan_routes, tuple(unassigned), kpis, solver)
