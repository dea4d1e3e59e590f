"""The OR-Tools routing model of a day: every rule of the format as one RoutingModel.

One vehicle per caregiver, with its own start and end places. Each visit that the
pre-analysis keeps becomes, per member of staff, one node per window (the alternatives of
a disjunction: at most one is served). The model holds:

- time: a dimension whose cumul is the time of day, with the service time counted at the
  from-node, per-mode travel matrices, a node's window as its cumul range, the shift on
  the start and end cumuls, and breaks as interval variables (``SetBreakIntervalsOfVehicle``
  with visit durations indexed by routing index, starts and ends included);
- two-staff visits: the two staff's nodes of a window are both served or both dropped, on
  different caregivers (vehicle variables differ), with equal start cumuls;
- work (service + travel, ``max_work_min``), visits (``max_visits``) and load
  (``capacity``) dimensions, added only when some caregiver sets the limit;
- a "care" dimension whose per-vehicle unary transits are the cost of serving a node with
  that caregiver (continuity misses, moves away from a previous plan), charged through a
  soft upper bound of 0 on its end cumul: the cost of a caregiver-dependent choice without
  a per-caregiver arc cost matrix;
- disjunctions with the cost of leaving a visit out; eligibility and locks as domains of
  the vehicle variables (``SetAllowedVehiclesForIndex`` refuses a Python list), a locked
  start as the node's window.

Measured pitfalls this shape avoids: a window as a hole in one node's cumul domain, or a
span cost on the care dimension, make OR-Tools' cumul scheduling reject solutions it was
given; start times are read from cumuls fixed by a finalizer, in window order.

The objective is in sixtieths of the format's cost so that ``travel_per_min`` times travel
seconds is exact: cost x 60 = travel_per_min x travel_s + 60 x (misses, unassigned, routes).

OR-Tools has no type stubs; its objects are ``Any`` here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from ortools.constraint_solver import pywrapcp

from ._reasons import VisitScope, caregiver_problem
from .problem import DayProblem
from .travel import IntMatrix, TravelTimes

COST_SCALE = 60
"""Objective units per unit of the format's cost."""

_DAY_S = 86_400


@dataclass(frozen=True)
class ModelOptions:
    """How to build the model beyond the problem's own rules.

    Attributes
    ----------
    route_fixed
        Objective units charged per used route (already scaled).
    moved_cost
        Objective units charged when a visit is served by a caregiver other than
        ``previous[visit index]`` (repair of a previous plan).
    previous
        Visit index -> caregiver indices that served it in the previous plan.
    continuity
        Whether serving a visit by another than its preferred caregiver costs
        ``weights.continuity_miss`` (False for the plain baseline, which does not model it).
    """

    route_fixed: int = 0
    moved_cost: int = 0
    previous: Mapping[int, frozenset[int]] = field(default_factory=dict)
    continuity: bool = True


@dataclass(frozen=True)
class Nodes:
    """The routing nodes of a day.

    Places where caregivers start or end come first (one node per distinct place). Then
    each visit the search may serve has, per member of staff, one node per window: the
    alternatives of that staff member, of which at most one is served. A window is a node
    rather than a hole in one node's time domain because OR-Tools' break scheduling ignores
    such holes and then rejects the very solutions it is given.
    """

    start_node: tuple[int, ...]
    end_node: tuple[int, ...]
    point: tuple[int, ...]
    visit: tuple[int, ...]
    window: tuple[tuple[int, int], ...]
    service_s: tuple[int, ...]
    of_visit: Mapping[int, tuple[tuple[int, ...], ...]]

    @property
    def count(self) -> int:
        return len(self.point)


def make_nodes(problem: DayProblem, travel: TravelTimes, scopes: Sequence[VisitScope]) -> Nodes:
    """Lay out the nodes of ``problem``: depots first, then visit alternatives."""
    depot_of: dict[int, int] = {}
    points: list[int] = []
    for c in problem.caregivers:
        for place in (c.start, c.end):
            p = travel.index[place]
            if p not in depot_of:
                depot_of[p] = len(points)
                points.append(p)
    starts = tuple(depot_of[travel.index[c.start]] for c in problem.caregivers)
    ends = tuple(depot_of[travel.index[c.end]] for c in problem.caregivers)
    visit = [-1] * len(points)
    window = [(0, 0)] * len(points)
    service = [0] * len(points)
    of_visit: dict[int, tuple[tuple[int, ...], ...]] = {}
    for i, (v, scope) in enumerate(zip(problem.visits, scopes, strict=True)):
        if scope.reason is not None:
            continue
        copies = []
        for _ in range(v.staff):
            alternatives = []
            for w in scope.windows:
                alternatives.append(len(points))
                points.append(travel.index[v.location])
                visit.append(i)
                window.append(w)
                service.append(v.duration_s)
            copies.append(tuple(alternatives))
        of_visit[i] = tuple(copies)
    return Nodes(starts, ends, tuple(points), tuple(visit), tuple(window), tuple(service), of_visit)


@dataclass
class DayModel:
    """A built routing model and what is needed to read its solutions back.

    Not a value: it owns OR-Tools objects and is used by one search at a time.
    """

    problem: DayProblem
    travel: TravelTimes
    scopes: tuple[VisitScope, ...]
    nodes: Nodes
    options: ModelOptions
    manager: Any
    routing: Any
    time: Any
    breaks: dict[int, list[Any]]
    travel_by_mode: dict[str, IntMatrix]
    care: list[list[int]] | None = None
    floor_total: int = 0
    """What the objective leaves out of every plan's cost: the care floor of each copy of
    each visit (``_care_floor``)."""

    def cost(self, assignment: Any) -> int:
        """The cost of ``assignment`` by the format's weights, in the model's units (a
        sixtieth of the format's): its objective and the constant the model leaves out."""
        return int(assignment.ObjectiveValue()) + self.floor_total

    def index(self, node: int) -> int:
        """Routing index of a visit node."""
        return int(self.manager.NodeToIndex(node))

    def node(self, index: int) -> int:
        """Node of a routing index."""
        return int(self.manager.IndexToNode(index))

    def travel_s(self, caregiver: int, a: int, b: int) -> int:
        """Travel seconds between nodes ``a`` and ``b`` for a caregiver's mode."""
        mode = self.problem.caregivers[caregiver].mode
        return int(self.travel_by_mode[mode][a, b])


def horizon(problem: DayProblem) -> int:
    """Upper bound of every time of the day, in seconds since midnight."""
    ends = [c.shift[1] for c in problem.caregivers]
    ends += [w[1] for v in problem.visits for w in v.windows]
    return max([_DAY_S, *ends]) + 1


def _node_travel(problem: DayProblem, travel: TravelTimes, nodes: Nodes) -> dict[str, IntMatrix]:
    """Per-mode travel matrices between nodes; a caregiver's own start->end costs nothing.

    The zero start->end leg only ever serves an empty route, which the format gives no
    travel; a used route never takes it.
    """
    idx = np.asarray(nodes.point, dtype=np.int64)
    out: dict[str, IntMatrix] = {}
    for mode in sorted({c.mode for c in problem.caregivers}):
        m = np.ascontiguousarray(travel.by_mode[mode][np.ix_(idx, idx)])
        for s, e in zip(nodes.start_node, nodes.end_node, strict=True):
            m[s, e] = 0
        out[mode] = m
    return out


def _register_modes(
    routing: Any, problem: DayProblem, travel_by_mode: Mapping[str, IntMatrix], nodes: Nodes
) -> tuple[list[int], list[int]]:
    """Register per-mode cost (travel) and time (service at from-node + travel) matrices.

    Returns the cost and the time evaluator of every vehicle.
    """
    service = np.asarray(nodes.service_s, dtype=np.int64)[:, None]
    per_min = problem.weights.travel_per_min
    cost_eval: dict[str, int] = {}
    time_eval: dict[str, int] = {}
    for mode, m in travel_by_mode.items():
        cost_eval[mode] = routing.RegisterTransitMatrix((m * per_min).tolist())
        time_m = m + service
        for s, e in zip(nodes.start_node, nodes.end_node, strict=True):
            time_m[s, e] = 0
        time_eval[mode] = routing.RegisterTransitMatrix(time_m.tolist())
    modes = [c.mode for c in problem.caregivers]
    return [cost_eval[m] for m in modes], [time_eval[m] for m in modes]


def _windows(day: DayModel) -> None:
    time, nodes = day.time, day.nodes
    for n in range(nodes.count):
        if nodes.visit[n] >= 0:
            time.CumulVar(day.index(n)).SetRange(*nodes.window[n])
    for k, c in enumerate(day.problem.caregivers):
        close = max(c.shift)
        time.CumulVar(day.routing.Start(k)).SetRange(c.shift[0], close)
        time.CumulVar(day.routing.End(k)).SetRange(c.shift[0], close)


def _breaks(day: DayModel) -> None:
    """Breaks as fixed-duration intervals kept inside their window and the shift.

    OR-Tools may place a break before the route's start or after its end; with the window
    clipped to the shift, such a break is simply taken before leaving or after arriving.
    """
    routing, solver = day.routing, day.routing.solver()
    size = routing.Size() + routing.vehicles()
    transits = [0] * size
    for index in range(size):
        transits[index] = day.nodes.service_s[day.node(index)]
    for k, c in enumerate(day.problem.caregivers):
        if not c.breaks or caregiver_problem(c) is not None:
            continue
        intervals = []
        for j, b in enumerate(sorted(c.breaks, key=lambda b: b.window)):
            lo = max(b.window[0], c.shift[0])
            hi = min(b.window[1], c.shift[1]) - b.duration_s
            intervals.append(
                solver.FixedDurationIntervalVar(lo, hi, b.duration_s, False, f"b{k}.{j}")
            )
        for a, b in zip(intervals, intervals[1:], strict=False):
            solver.Add(a.EndExpr() <= b.StartExpr())
        day.time.SetBreakIntervalsOfVehicle(intervals, k, transits)
        for iv in intervals:
            routing.AddIntervalToAssignment(iv)
        day.breaks[k] = intervals


def _allowed(day: DayModel) -> None:
    """Eligibility and locks as vehicle-variable domains (``-1`` keeps the node droppable)."""
    for i, copies in day.nodes.of_visit.items():
        scope = day.scopes[i]
        for copy, alternatives in enumerate(copies):
            allowed = [scope.locked[copy]] if copy < len(scope.locked) else list(scope.allowed)
            for n in alternatives:
                day.routing.VehicleVar(day.index(n)).SetValues([-1, *allowed])


def _two_staff(day: DayModel) -> None:
    """Both staff of a two-staff visit: same window or none, different caregivers, same start.

    Copies are tied window by window, so both take the same alternative.
    """
    routing, solver = day.routing, day.routing.solver()
    for copies in day.nodes.of_visit.values():
        if len(copies) != 2:
            continue
        for n_a, n_b in zip(*copies, strict=True):
            a, b = day.index(n_a), day.index(n_b)
            solver.Add(routing.ActiveVar(a) == routing.ActiveVar(b))
            solver.Add(
                solver.IsDifferentVar(routing.VehicleVar(a), routing.VehicleVar(b))
                >= routing.ActiveVar(a)
            )
            solver.Add(day.time.CumulVar(a) == day.time.CumulVar(b))


def _penalties(day: DayModel, floor: list[int] | None) -> None:
    """Leaving a visit out costs its priority's price; a locked visit costs far more.

    Each staff member's alternatives form one disjunction (at most one window is served),
    and the price is shared between the staff, less the node's ``floor`` of care cost.
    """
    w = day.problem.weights
    lock_cost = COST_SCALE * 10 * max([1, *w.unassigned.values()]) + 10 * day.options.route_fixed
    for i, copies in day.nodes.of_visit.items():
        v = day.problem.visits[i]
        cost = COST_SCALE * w.unassigned_cost(v.priority)
        if day.scopes[i].locked:
            cost = lock_cost
        share = [cost // len(copies)] * len(copies)
        share[0] += cost - sum(share)
        for alternatives, p in zip(copies, share, strict=True):
            p -= floor[alternatives[0]] if floor else 0
            day.routing.AddDisjunction([day.index(n) for n in alternatives], max(1, p), 1)


def _care_floor(rows: list[list[int]] | None) -> list[int] | None:
    """Per node, the least care cost any caregiver pays to serve it.

    The care dimension charges it as a transit at the node, which OR-Tools must be able to
    give as 0 when the node is not served: when every caregiver pays (each may serve the
    visit and none is its preferred one, who may be away), no solution leaving the visit
    out can be read or found. So the dimension charges the cost above this floor, and the
    visit's price of being left out is lowered by it: every plan's objective moves by the
    same constant, so no choice changes. Seen on a district cut from a 400-visit day (six
    caregivers, all able to serve a visit preferring a seventh): even empty routes were
    refused, and the solve returned an empty plan.
    """
    if rows is None:
        return None
    floor = [min(column) for column in zip(*rows, strict=True)]
    return floor if any(floor) else None


def _care_costs(day: DayModel) -> list[list[int]] | None:
    """Per-caregiver cost of serving each node: continuity misses and moves.

    A two-staff visit misses continuity when neither of its caregivers is preferred. Its
    first copy alone carries the miss, and whoever routes the pair puts a preferred
    caregiver on that copy (``_extract.label_pairs``, ``Builder.place_pair``): the cost is
    then the format's. Half a miss on each copy, as before, priced a pair of a preferred
    caregiver and another at half a miss (traced: a 120-visit plan's objective 900 above
    the checker's cost, one such pair), so the search valued keeping the preferred
    caregiver on a pair at half its worth."""
    problem, opts = day.problem, day.options
    miss = COST_SCALE * problem.weights.continuity_miss if opts.continuity else 0
    ids = [c.id for c in problem.caregivers]
    rows = [[0] * day.nodes.count for _ in ids]
    any_cost = False
    for i, copies in day.nodes.of_visit.items():
        v = problem.visits[i]
        prefs = set(v.preferred_caregivers)
        before = opts.previous.get(i)
        for k in day.scopes[i].allowed:
            moved = opts.moved_cost if before is not None and k not in before else 0
            missed = miss if prefs and ids[k] not in prefs else 0
            for copy, alternatives in enumerate(copies):
                cost = moved + (missed if copy == 0 else 0)
                if cost:
                    any_cost = True
                    for n in alternatives:
                        rows[k][n] = cost
    return rows if any_cost else None


def _dimensions(day: DayModel, time_eval: list[int], floor: list[int] | None) -> None:
    routing, problem = day.routing, day.problem
    cgs = problem.caregivers
    n_visits = max(1, len(day.nodes.visit))
    if any(c.max_work_min is not None for c in cgs):
        caps = [c.max_work_min * 60 if c.max_work_min is not None else 10 * _DAY_S for c in cgs]
        routing.AddDimensionWithVehicleTransitAndCapacity(time_eval, 0, caps, True, "work")
    if any(c.max_visits is not None for c in cgs):
        ones = [1 if v >= 0 else 0 for v in day.nodes.visit]
        ev = routing.RegisterUnaryTransitVector(ones)
        caps = [c.max_visits if c.max_visits is not None else n_visits for c in cgs]
        routing.AddDimensionWithVehicleCapacity(ev, 0, caps, True, "visits")
    if any(c.capacity is not None for c in cgs):
        demand = [problem.visits[v].demand if v >= 0 else 0 for v in day.nodes.visit]
        ev = routing.RegisterUnaryTransitVector(demand)
        big = sum(demand) + 1
        caps = [c.capacity if c.capacity is not None else big for c in cgs]
        routing.AddDimensionWithVehicleCapacity(ev, 0, caps, True, "load")
    rows = day.care
    if rows is not None:
        if floor is not None:
            rows = [[c - f for c, f in zip(r, floor, strict=True)] for r in rows]
        evals = [routing.RegisterUnaryTransitVector(r) for r in rows]
        cap = sum(max(r) for r in rows) * n_visits + 1
        routing.AddDimensionWithVehicleTransitAndCapacity(evals, 0, [cap] * len(cgs), True, "care")
        care = routing.GetDimensionOrDie("care")
        for k in range(len(cgs)):
            care.SetCumulVarSoftUpperBound(routing.End(k), 0, 1)


def _finalizer(day: DayModel) -> None:
    """Earliest service starts, then the latest departure and the earliest return.

    Start times must come from finalised cumuls, or stops and breaks can disagree. Cumuls
    are fixed in the order of their windows, which is close to the order along any route;
    fixed in node order, a visit's start is chosen before its predecessor's and the search
    for break placements explodes.
    """
    routing, time, nodes = day.routing, day.time, day.nodes
    visits = sorted(
        (n for n in range(nodes.count) if nodes.visit[n] >= 0), key=nodes.window.__getitem__
    )
    for n in visits:
        routing.AddVariableMinimizedByFinalizer(time.CumulVar(day.index(n)))
    for k in range(routing.vehicles()):
        routing.AddVariableMaximizedByFinalizer(time.CumulVar(routing.Start(k)))
        routing.AddVariableMinimizedByFinalizer(time.CumulVar(routing.End(k)))


def build(
    problem: DayProblem,
    travel: TravelTimes,
    scopes: Sequence[VisitScope],
    options: ModelOptions | None = None,
) -> DayModel:
    """The routing model of ``problem`` for the visits its ``scopes`` keep."""
    options = options or ModelOptions()
    nodes = make_nodes(problem, travel, scopes)
    manager = pywrapcp.RoutingIndexManager(
        nodes.count, len(problem.caregivers), list(nodes.start_node), list(nodes.end_node)
    )
    routing = pywrapcp.RoutingModel(manager)
    travel_by_mode = _node_travel(problem, travel, nodes)
    cost_eval, time_eval = _register_modes(routing, problem, travel_by_mode, nodes)
    for k, ev in enumerate(cost_eval):
        routing.SetArcCostEvaluatorOfVehicle(ev, k)
        if options.route_fixed:
            routing.SetFixedCostOfVehicle(options.route_fixed, k)
    end = horizon(problem)
    routing.AddDimensionWithVehicleTransits(time_eval, end, end, False, "time")
    day = DayModel(
        problem=problem,
        travel=travel,
        scopes=tuple(scopes),
        nodes=nodes,
        options=options,
        manager=manager,
        routing=routing,
        time=routing.GetDimensionOrDie("time"),
        breaks={},
        travel_by_mode=travel_by_mode,
    )
    _windows(day)
    _allowed(day)
    _two_staff(day)
    day.care = _care_costs(day)
    floor = _care_floor(day.care)
    if floor is not None:
        day.floor_total = sum(floor[c[0]] for copies in nodes.of_visit.values() for c in copies)
    _penalties(day, floor)
    _dimensions(day, time_eval, floor)
    _breaks(day)
    _finalizer(day)
    return day
