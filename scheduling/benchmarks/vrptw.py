"""Solomon and Gehring & Homberger VRPTW instances: reader, day-problem encoding, evaluator.

The classic convention is travel time = distance = Euclidean distance in double
precision; service must start inside ``[READY TIME, DUE DATE]``; each vehicle
leaves the depot no earlier than its ready time and is back by its due date;
load per route is at most the capacity; at most ``K`` routes.

``scheduling`` works in whole seconds, so an instance is encoded with every time
multiplied by ``SCALE`` and every travel time rounded **up**. Rounding up means
that a route feasible in the integer model is feasible in exact arithmetic too
(arrivals can only be earlier). Distances are never taken from the integer model:
``evaluate_vrptw`` recomputes them, and re-checks every rule, in double precision.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from ..problem import (
    Caregiver,
    DayPlan,
    DayProblem,
    Point,
    Travel,
    Visit,
    Weights,
)
from .errors import BenchmarkFileError

SCALE = 1000
"""Integer time units per unit of benchmark time (and distance)."""

ROUTE_FIXED = 10_000_000
"""Cost of one used route: above the total travel of any Homberger-1000 instance
(about 60,000 distance units = 1e6 scaled minutes), so fewer routes always win."""

UNASSIGNED_COST = 1_000_000_000
"""Cost of an unserved customer: far above one route, so a customer is never dropped
to save a route."""

BENCH_DATE = dt.date(2000, 1, 1)
"""A fixed, meaningless date for benchmark days (their times are not clock times)."""

_FIELDS = ("CUST NO.", "XCOORD.", "YCOORD.", "DEMAND", "READY TIME", "DUE DATE", "SERVICE TIME")


@dataclass(frozen=True)
class VrptwNode:
    """One row of the CUSTOMER table; number 0 is the depot."""

    number: int
    x: float
    y: float
    demand: int
    ready: float
    due: float
    service: float


@dataclass(frozen=True)
class VrptwInstance:
    """A VRPTW instance: fleet size ``vehicles``, ``capacity`` and the nodes (depot first)."""

    name: str
    vehicles: int
    capacity: int
    nodes: tuple[VrptwNode, ...]

    @property
    def depot(self) -> VrptwNode:
        """The depot (node 0)."""
        return self.nodes[0]

    @property
    def customers(self) -> tuple[VrptwNode, ...]:
        """Every node but the depot."""
        return self.nodes[1:]

    def distance(self, i: int, j: int) -> float:
        """Euclidean distance between node numbers ``i`` and ``j`` in double precision."""
        a, b = self.nodes[i], self.nodes[j]
        return math.hypot(a.x - b.x, a.y - b.y)


@dataclass(frozen=True)
class VrptwEvaluation:
    """The result of checking routes against the classic VRPTW rules.

    Attributes
    ----------
    routes
        Number of non-empty routes.
    distance
        Total Euclidean distance, depot legs included.
    violations
        Human-readable descriptions of every broken rule; empty when feasible.
    """

    routes: int
    distance: float
    violations: tuple[str, ...]

    @property
    def feasible(self) -> bool:
        """True when no rule is broken."""
        return not self.violations


def read_vrptw(path: str | Path) -> VrptwInstance:
    """Read a Solomon / Gehring & Homberger instance file.

    Parameters
    ----------
    path
        The ``.txt`` file. The instance is named after the file's stem in upper case,
        which is how the BKS tables name it.

    Raises
    ------
    BenchmarkFileError
        If the file cannot be read or breaks the format (names the line and field).
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise BenchmarkFileError(p, None, "file", f"cannot read: {exc}") from None
    return parse_vrptw(text, p.stem.upper(), source=p)


def parse_vrptw(text: str, name: str, *, source: str | Path = "<text>") -> VrptwInstance:
    """Parse the text of a VRPTW instance; ``source`` is only used in error messages."""
    lines = [(k, line.strip()) for k, line in enumerate(text.splitlines(), start=1)]
    rows = [(k, line) for k, line in lines if line]
    if not rows:
        raise BenchmarkFileError(source, None, "file", "is empty")
    it = iter(rows[1:])  # the first line is the instance's own name; the file stem is used
    _expect_keyword(it, "VEHICLE", source)
    _expect_keyword(it, "NUMBER", source)
    vehicles, capacity = _fleet(it, source)
    _expect_keyword(it, "CUSTOMER", source)
    _expect_keyword(it, "CUST", source)
    nodes = tuple(_node(k, line, index, capacity, source) for index, (k, line) in enumerate(it))
    if len(nodes) < 2:
        raise BenchmarkFileError(
            source, rows[-1][0], "CUSTOMER", "needs the depot and at least one customer"
        )
    return VrptwInstance(name, vehicles, capacity, nodes)


def _expect_keyword(it: Iterator[tuple[int, str]], keyword: str, source: str | Path) -> None:
    try:
        k, line = next(it)
    except StopIteration:
        raise BenchmarkFileError(source, None, keyword, "section missing") from None
    if not line.upper().startswith(keyword):
        raise BenchmarkFileError(source, k, keyword, f"expected {keyword!r}, found {line[:30]!r}")


def _fleet(it: Iterator[tuple[int, str]], source: str | Path) -> tuple[int, int]:
    try:
        k, line = next(it)
    except StopIteration:
        raise BenchmarkFileError(source, None, "NUMBER", "fleet line missing") from None
    parts = line.split()
    if len(parts) != 2:
        raise BenchmarkFileError(source, k, "NUMBER", f"expected 2 values, found {len(parts)}")
    vehicles = _int(parts[0], source, k, "NUMBER")
    capacity = _int(parts[1], source, k, "CAPACITY")
    if vehicles < 1:
        raise BenchmarkFileError(source, k, "NUMBER", f"must be at least 1, got {vehicles}")
    if capacity < 1:
        raise BenchmarkFileError(source, k, "CAPACITY", f"must be at least 1, got {capacity}")
    return vehicles, capacity


def _node(k: int, line: str, index: int, capacity: int, source: str | Path) -> VrptwNode:
    parts = line.split()
    if len(parts) != len(_FIELDS):
        raise BenchmarkFileError(
            source, k, "CUSTOMER", f"expected {len(_FIELDS)} values, found {len(parts)}"
        )
    number = _int(parts[0], source, k, _FIELDS[0])
    if number != index:
        raise BenchmarkFileError(source, k, _FIELDS[0], f"expected {index}, found {number}")
    x = _float(parts[1], source, k, _FIELDS[1])
    y = _float(parts[2], source, k, _FIELDS[2])
    demand = _int(parts[3], source, k, _FIELDS[3])
    ready, due, service = (_time(parts[c], source, k, _FIELDS[c]) for c in (4, 5, 6))
    if demand < 0:
        raise BenchmarkFileError(source, k, "DEMAND", f"must not be negative, got {demand}")
    if index == 0 and demand != 0:
        raise BenchmarkFileError(source, k, "DEMAND", f"the depot must have demand 0, got {demand}")
    if demand > capacity:
        raise BenchmarkFileError(
            source, k, "DEMAND", f"{demand} exceeds the vehicle capacity {capacity}"
        )
    if due < ready:
        raise BenchmarkFileError(
            source, k, "DUE DATE", f"{parts[5]} is before READY TIME {parts[4]}"
        )
    return VrptwNode(number, x, y, demand, ready, due, service)


def _int(token: str, source: str | Path, k: int, field: str) -> int:
    try:
        return int(token)
    except ValueError:
        raise BenchmarkFileError(source, k, field, f"not an integer: {token!r}") from None


def _float(token: str, source: str | Path, k: int, field: str) -> float:
    try:
        value = float(token)
    except ValueError:
        raise BenchmarkFileError(source, k, field, f"not a number: {token!r}") from None
    if not math.isfinite(value):
        raise BenchmarkFileError(source, k, field, f"not a finite number: {token!r}")
    return value


def _time(token: str, source: str | Path, k: int, field: str) -> float:
    value = _float(token, source, k, field)
    if value < 0:
        raise BenchmarkFileError(source, k, field, f"must not be negative, got {token}")
    # times are scaled exactly: a value with more decimals than SCALE allows would be
    # silently rounded, changing the instance
    if abs(value * SCALE - round(value * SCALE)) > 1e-6:
        raise BenchmarkFileError(
            source, k, field, f"{token} has more decimals than the scale 1/{SCALE} can hold"
        )
    return value


def node_point(number: int) -> Point:
    """A synthetic place for node ``number``: distinct for every node, even for two
    customers at the same coordinates (travel comes from the matrix, not from it)."""
    return (number * 1e-6, 0.0)


def visit_id(number: int) -> str:
    """The visit id of customer ``number`` in the encoded day problem."""
    return f"c{number}"


def customer_number(vid: str) -> int:
    """The customer number of an encoded visit id (inverse of ``visit_id``)."""
    return int(vid[1:])


def travel_matrix(inst: VrptwInstance, scale: int = SCALE) -> npt.NDArray[np.int64]:
    """Scaled travel times between all nodes, each Euclidean distance rounded up."""
    x = np.fromiter((n.x for n in inst.nodes), dtype=np.float64, count=len(inst.nodes))
    y = np.fromiter((n.y for n in inst.nodes), dtype=np.float64, count=len(inst.nodes))
    dist: npt.NDArray[np.float64] = np.hypot(x[:, None] - x[None, :], y[:, None] - y[None, :])
    out: npt.NDArray[np.int64] = np.ceil(dist * scale).astype(np.int64)
    return out


def to_day_problem(inst: VrptwInstance, scale: int = SCALE) -> DayProblem:
    """Encode a VRPTW instance as a day problem.

    One caregiver per fleet slot, with the vehicle capacity, starting and ending at
    the depot, its shift the depot's window; one visit per customer with its demand,
    its window and its service time (``Visit.service_s``), all scaled by ``scale``;
    travel by an explicit matrix. A large ``route_fixed`` makes the objective
    hierarchical (routes first, then distance); unserved customers cost even more.
    """
    depot = inst.depot
    home = node_point(0)
    shift = (_scaled(depot.ready, scale), _scaled(depot.due, scale))
    caregivers = tuple(
        Caregiver(
            id=f"vehicle-{k + 1:03d}",
            mode="car",
            skills=frozenset(),
            start=home,
            end=home,
            shift=shift,
            capacity=inst.capacity,
        )
        for k in range(inst.vehicles)
    )
    visits = tuple(_visit(n, scale) for n in inst.customers)
    matrix = travel_matrix(inst, scale)
    travel = Travel(
        model="matrix",
        points=tuple(node_point(n.number) for n in inst.nodes),
        seconds=tuple(tuple(row) for row in matrix.tolist()),
    )
    weights = Weights(
        travel_per_min=1,
        continuity_miss=0,
        unassigned={1: UNASSIGNED_COST},
        route_fixed=ROUTE_FIXED,
    )
    return DayProblem(
        date=BENCH_DATE,
        caregivers=caregivers,
        visits=visits,
        travel=travel,
        weights=weights,
    )


def _scaled(value: float, scale: int) -> int:
    return round(value * scale)


def _visit(node: VrptwNode, scale: int) -> Visit:
    service_s = _scaled(node.service, scale)
    return Visit(
        id=visit_id(node.number),
        client_id=visit_id(node.number),
        location=node_point(node.number),
        windows=((_scaled(node.ready, scale), _scaled(node.due, scale)),),
        # duration_min is only informative here; rounding up keeps any reader of it
        # on the safe side
        duration_min=math.ceil(service_s / 60),
        demand=node.demand,
        service_s=service_s,
    )


def routes_from_plan(plan: DayPlan) -> list[list[int]]:
    """The customer numbers of each non-empty route of ``plan``, in visiting order."""
    out: list[list[int]] = []
    for route in plan.routes:
        if route.stops:
            out.append([customer_number(s.visit_id) for s in route.stops])
    return out


def evaluate_vrptw(
    inst: VrptwInstance, routes: Sequence[Sequence[int]], *, tolerance: float = 1e-6
) -> VrptwEvaluation:
    """Check routes against the classic rules in double precision and measure them.

    Service starts as early as possible (arrival or ready time); empty routes are
    ignored. ``tolerance`` absorbs floating-point noise in time comparisons.

    Parameters
    ----------
    inst
        The instance.
    routes
        Customer numbers per route, in visiting order (the depot is implicit).
    tolerance
        Allowed excess over a due date.
    """
    violations: list[str] = []
    seen: dict[int, int] = {}
    used = [r for r in routes if r]
    total = 0.0
    for k, route in enumerate(used, start=1):
        total += _check_route(inst, k, route, tolerance, violations)
        for c in route:
            seen[c] = seen.get(c, 0) + 1
    n = len(inst.nodes)
    for c, times in sorted(seen.items()):
        if not 1 <= c < n:
            violations.append(f"customer {c} does not exist")
        elif times > 1:
            violations.append(f"customer {c} is visited {times} times")
    missing = [c for c in range(1, n) if c not in seen]
    if missing:
        violations.append(f"{len(missing)} customers not visited (first: {missing[:5]})")
    if len(used) > inst.vehicles:
        violations.append(f"{len(used)} routes exceed the fleet of {inst.vehicles}")
    return VrptwEvaluation(len(used), total, tuple(violations))


def _check_route(
    inst: VrptwInstance, k: int, route: Sequence[int], tol: float, violations: list[str]
) -> float:
    n = len(inst.nodes)
    if any(not 1 <= c < n for c in route):
        return 0.0  # reported by the caller; nothing sensible to measure
    load = sum(inst.nodes[c].demand for c in route)
    if load > inst.capacity:
        violations.append(f"route {k}: load {load} exceeds capacity {inst.capacity}")
    t = inst.depot.ready
    dist = 0.0
    prev = 0
    for c in route:
        node = inst.nodes[c]
        leg = inst.distance(prev, c)
        dist += leg
        start = max(t + leg, node.ready)
        if start > node.due + tol:
            violations.append(
                f"route {k}: customer {c} starts at {start:.4f} after its due date {node.due:g}"
            )
        t = start + node.service
        prev = c
    leg = inst.distance(prev, 0)
    dist += leg
    if t + leg > inst.depot.due + tol:
        violations.append(f"route {k}: back at the depot at {t + leg:.4f} after {inst.depot.due:g}")
    return dist
