"""Mankowska, Meisel & Bierwirth (2014) home-health-care instances: reader, encoding, evaluator.

The problem (HHCRSP): each patient needs one or two of several service types;
each caregiver is qualified for some types; a patient with two services needs
them either simultaneously (two caregivers start together) or in the order of
the service index with a start-to-start gap in ``[mind, maxd]``. Service should
start in ``[e, l]``: starting before ``e`` is forbidden, after ``l`` is allowed
but counts as tardiness. The objective, as in the paper and in the public MIP of
Kummer et al., is ``(distance + total tardiness + maximum tardiness) / 3``.

Our day model has hard windows, one duration per visit and no precedence
between visits, so ``encode`` builds a *restriction*: a day problem whose every
feasible plan is a feasible HHCRSP solution, but not the other way round. Each
patient ``i`` gets a tardiness allowance ``slack[i]`` (0 unless asked):

- single service: one visit, hard window ``[e, l + slack]``;
- simultaneous double: one two-staff visit, window ``[e, l + slack]``, whose
  caregivers must both hold both service types (stricter than the original, where
  each needs only its own type); it lasts the longer of the two processing times.
  When fewer than two caregivers hold both types the patient cannot be served at
  all: the instance is marked not representable;
- precedence double: two visits with disjoint hard windows
  ``[x, x + h]`` and ``[x + h + mind, x + maxd]``, ``h = (maxd - mind) / 2``,
  ``x = e + slack``, so any pair of starts keeps the gap inside ``[mind, maxd]``;
  the pair cannot slide freely in the day as the original allows.

The solver does not see tardiness (it minimises travel); the benchmark runner
starts with no slack and widens it only for the patients left unserved.
``earliest_starts`` then re-times the routes as early as the *original* rules
allow, which can only lower tardiness. So our objective values are those of
genuine HHCRSP solutions (``evaluate`` re-checks every original rule in double
precision), usually worse than the literature's.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ..problem import Caregiver, DayPlan, DayProblem, Travel, Visit, Weights
from .errors import BenchmarkFileError
from .vrptw import BENCH_DATE, SCALE, node_point

Kind = Literal["single", "simultaneous", "precedence"]

UNASSIGNED_COST = 1_000_000_000
"""Cost of an unserved visit: far above any travel, so every servable patient is served."""

_SECTIONS = (
    "nbNodes",
    "nbVehi",
    "nbServi",
    "r",
    "DS",
    "a",
    "x",
    "y",
    "d",
    "p",
    "mind",
    "maxd",
    "e",
    "l",
)


@dataclass(frozen=True)
class MankowskaInstance:
    """One HHCRSP instance. Node 0 is the depot, nodes ``1..n_nodes-2`` the patients,
    node ``n_nodes-1`` a copy of the depot (unused: routes return to node 0).

    Attributes
    ----------
    required
        Per node, the service types it needs (0-based, ascending).
    qualified
        Per caregiver, the service types it may perform.
    distance
        Travel distance = travel time between nodes, as given in the file.
    processing
        Per node, the processing time of each service type (the file's block of the
        first caregiver; ``processing_varies`` says whether other caregivers differ).
    mind, maxd
        Per node, the start-to-start gap between the two services of a precedence double.
    early, late
        Per node, the earliest start and the due date of service.
    double
        The nodes that need two services (from the ``DS`` section).
    """

    name: str
    n_nodes: int
    n_vehicles: int
    n_services: int
    required: tuple[tuple[int, ...], ...]
    qualified: tuple[frozenset[int], ...]
    x: tuple[float, ...]
    y: tuple[float, ...]
    distance: tuple[tuple[float, ...], ...]
    processing: tuple[tuple[float, ...], ...]
    processing_varies: bool
    mind: tuple[float, ...]
    maxd: tuple[float, ...]
    early: tuple[float, ...]
    late: tuple[float, ...]
    double: frozenset[int]

    @property
    def patients(self) -> range:
        """The patient nodes."""
        return range(1, self.n_nodes - 1)

    def kind(self, node: int) -> Kind:
        """How the services of patient ``node`` relate."""
        if node not in self.double:
            return "single"
        if self.mind[node] == 0 and self.maxd[node] == 0:
            return "simultaneous"
        return "precedence"

    def services(self) -> list[tuple[int, int]]:
        """Every ``(node, service type)`` that must be served."""
        return [(i, s) for i in self.patients for s in self.required[i]]


@dataclass(frozen=True)
class ServiceStart:
    """A service performed by a caregiver: patient ``node``, ``service`` type, ``start`` time."""

    node: int
    service: int
    start: float


@dataclass(frozen=True)
class MankowskaEvaluation:
    """An HHCRSP solution measured by the original rules and objective.

    ``complete`` is true when every required service is served; the objective is
    only comparable with the literature when the solution is complete and feasible.
    """

    distance: float
    total_tardiness: float
    max_tardiness: float
    served: int
    services: int
    violations: tuple[str, ...]

    @property
    def objective(self) -> float:
        """``(distance + total tardiness + max tardiness) / 3``."""
        return (self.distance + self.total_tardiness + self.max_tardiness) / 3

    @property
    def complete(self) -> bool:
        """True when every required service is served."""
        return self.served == self.services

    @property
    def feasible(self) -> bool:
        """True when complete and no rule is broken."""
        return self.complete and not self.violations


@dataclass(frozen=True)
class Encoding:
    """An instance encoded as a day problem, and how to read plans back.

    Attributes
    ----------
    problem
        The day problem (times scaled by ``SCALE``).
    services
        For each visit id, the ``(node, service)`` pairs it stands for (two for a
        simultaneous double).
    caregiver_index
        Caregiver id -> caregiver number in the instance.
    unrepresentable
        Patients that no plan of ``problem`` can serve (simultaneous doubles lacking
        two caregivers who hold both types).
    restricted
        Number of patients encoded more strictly than the original (every double).
    patient
        Visit id -> its patient node.
    """

    problem: DayProblem
    services: Mapping[str, tuple[tuple[int, int], ...]]
    caregiver_index: Mapping[str, int]
    unrepresentable: tuple[int, ...]
    restricted: int
    patient: Mapping[str, int]

    @property
    def representable(self) -> bool:
        """True when some plan of the day problem could serve every patient."""
        return not self.unrepresentable


def read_mankowska(path: str | Path, name: str | None = None) -> MankowskaInstance:
    """Read an instance file (``InstanzCPLEX_HCSRP_*`` / ``InstanzVNS_HCSRP_*``).

    Parameters
    ----------
    path
        The file.
    name
        The instance's name (``A1`` ...); the file's stem by default.

    Raises
    ------
    BenchmarkFileError
        If the file cannot be read or breaks the format (names the line and section).
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise BenchmarkFileError(p, None, "file", f"cannot read: {exc}") from None
    return parse_mankowska(text, name or p.stem, source=p)


@dataclass(frozen=True)
class _Section:
    line: int
    tokens: tuple[tuple[int, str], ...]  # (line, token)


def parse_mankowska(text: str, name: str, *, source: str | Path = "<text>") -> MankowskaInstance:
    """Parse the text of an instance; ``source`` is only used in error messages."""
    sections = _sections(text, source)
    n = _count(sections, "nbNodes", source)
    k = _count(sections, "nbVehi", source)
    s = _count(sections, "nbServi", source)
    if n < 3:
        raise BenchmarkFileError(source, sections["nbNodes"].line, "nbNodes", f"{n} < 3")
    sizes = {"r": n * s, "a": k * s, "x": n, "y": n, "d": n * n, "p": n * k * s}
    sizes |= {key: n for key in ("mind", "maxd", "e", "l")}
    values = {key: _numbers(sections[key], key, size, source) for key, size in sizes.items()}
    r = _matrix01(values["r"], sections["r"], "r", s, source)
    a = _matrix01(values["a"], sections["a"], "a", s, source)
    required = tuple(tuple(j for j in range(s) if row[j]) for row in r)
    double = _double(sections, required, n, s, source)
    proc_rows = [
        values["p"][(i * k + v) * s : (i * k + v + 1) * s] for i in range(n) for v in range(k)
    ]
    processing = tuple(tuple(proc_rows[i * k]) for i in range(n))
    varies = any(proc_rows[i * k + v] != proc_rows[i * k] for i in range(n) for v in range(k))
    mind, maxd, early, late = (tuple(values[key]) for key in ("mind", "maxd", "e", "l"))
    _check_nodes(sections, n, double, mind, maxd, early, late, values["d"], source)
    return MankowskaInstance(
        name=name,
        n_nodes=n,
        n_vehicles=k,
        n_services=s,
        required=required,
        qualified=tuple(frozenset(j for j in range(s) if row[j]) for row in a),
        x=tuple(values["x"]),
        y=tuple(values["y"]),
        distance=tuple(tuple(values["d"][i * n : (i + 1) * n]) for i in range(n)),
        processing=processing,
        processing_varies=varies,
        mind=mind,
        maxd=maxd,
        early=early,
        late=late,
        double=double,
    )


def _sections(text: str, source: str | Path) -> dict[str, _Section]:
    found: dict[str, tuple[int, list[tuple[int, str]]]] = {}
    current: list[tuple[int, str]] | None = None
    for k, line in enumerate(text.splitlines(), start=1):
        tokens = line.split()
        # a keyword stands alone on its line; anything else on a line is a value
        if len(tokens) == 1 and tokens[0][0].isalpha():
            key = tokens[0]
            if key not in _SECTIONS:
                raise BenchmarkFileError(source, k, key, "unknown section")
            if key in found:
                raise BenchmarkFileError(source, k, key, "section appears twice")
            current = []
            found[key] = (k, current)
        elif tokens and current is None:
            raise BenchmarkFileError(source, k, "file", "values before the first section")
        elif current is not None:
            current.extend((k, token) for token in tokens)
    for key in _SECTIONS:
        if key not in found:
            raise BenchmarkFileError(source, None, key, "section missing")
    return {key: _Section(line, tuple(toks)) for key, (line, toks) in found.items()}


def _count(sections: Mapping[str, _Section], key: str, source: str | Path) -> int:
    sec = sections[key]
    if len(sec.tokens) != 1:
        raise BenchmarkFileError(
            source, sec.line, key, f"expected 1 number, found {len(sec.tokens)}"
        )
    line, token = sec.tokens[0]
    try:
        value = int(token)
    except ValueError:
        raise BenchmarkFileError(source, line, key, f"not an integer: {token!r}") from None
    if value < 1:
        raise BenchmarkFileError(source, line, key, f"must be at least 1, got {value}")
    return value


def _numbers(sec: _Section, key: str, size: int, source: str | Path) -> list[float]:
    if len(sec.tokens) != size:
        raise BenchmarkFileError(
            source, sec.line, key, f"expected {size} numbers, found {len(sec.tokens)}"
        )
    out: list[float] = []
    for line, token in sec.tokens:
        try:
            value = float(token)
        except ValueError:
            raise BenchmarkFileError(source, line, key, f"not a number: {token!r}") from None
        if not math.isfinite(value) or value < 0:
            raise BenchmarkFileError(source, line, key, f"must be finite and >= 0: {token!r}")
        out.append(value)
    return out


def _matrix01(
    flat: list[float], sec: _Section, key: str, width: int, source: str | Path
) -> list[list[bool]]:
    for (line, token), value in zip(sec.tokens, flat, strict=True):
        if value not in (0.0, 1.0):
            raise BenchmarkFileError(source, line, key, f"must be 0 or 1: {token!r}")
    return [[v == 1.0 for v in flat[i : i + width]] for i in range(0, len(flat), width)]


def _double(
    sections: Mapping[str, _Section],
    required: tuple[tuple[int, ...], ...],
    n: int,
    width: int,
    source: str | Path,
) -> frozenset[int]:
    nodes: set[int] = set()
    for line, token in sections["DS"].tokens:
        try:
            one_based = int(token)
        except ValueError:
            raise BenchmarkFileError(source, line, "DS", f"not an integer: {token!r}") from None
        node = one_based - 1  # DS numbers nodes from 1
        if not 1 <= node <= n - 2:
            raise BenchmarkFileError(source, line, "DS", f"{one_based} is not a patient node")
        if len(required[node]) != 2:
            raise BenchmarkFileError(
                source, line, "DS", f"node {node} needs {len(required[node])} services, not 2"
            )
        nodes.add(node)
    for node in range(1, n - 1):
        wanted = 2 if node in nodes else 1
        if len(required[node]) != wanted:
            raise BenchmarkFileError(
                source,
                sections["r"].tokens[node * width][0],
                "r",
                f"patient node {node} needs {len(required[node])} services; "
                f"expected {wanted} ({'listed' if node in nodes else 'not listed'} in DS)",
            )
    return frozenset(nodes)


def _check_nodes(
    sections: Mapping[str, _Section],
    n: int,
    double: frozenset[int],
    mind: tuple[float, ...],
    maxd: tuple[float, ...],
    early: tuple[float, ...],
    late: tuple[float, ...],
    dist: list[float],
    source: str | Path,
) -> None:
    for i in range(n):
        if early[i] > late[i]:
            line = sections["l"].tokens[i][0]
            raise BenchmarkFileError(source, line, "l", f"node {i}: l {late[i]:g} < e {early[i]:g}")
        if i in double and mind[i] > maxd[i]:
            line = sections["maxd"].tokens[i][0]
            raise BenchmarkFileError(
                source, line, "maxd", f"node {i}: maxd {maxd[i]:g} < mind {mind[i]:g}"
            )
    for i in range(n):
        if dist[i * n + i] != 0:
            line = sections["d"].tokens[i * n + i][0]
            raise BenchmarkFileError(source, line, "d", f"d[{i}][{i}] must be 0")


def encode(
    inst: MankowskaInstance, scale: int = SCALE, slack: Mapping[int, float] | None = None
) -> Encoding:
    """Encode an instance as a day problem that is a restriction of it (see the module doc).

    Parameters
    ----------
    inst
        The instance.
    scale
        Integer time units per unit of instance time.
    slack
        Patient node -> tardiness allowed to it (instance time units); 0 when absent.
    """
    allow = slack or {}
    home = node_point(0)
    late_end = max(inst.late) + max(allow.values(), default=0.0)
    late_end += max(inst.maxd) + max(max(row) for row in inst.processing)
    horizon = math.ceil((late_end + 2 * max(max(row) for row in inst.distance)) * scale)
    caregivers = tuple(
        Caregiver(
            id=f"cg-{v + 1:02d}",
            mode="car",
            skills=frozenset(_skill(s) for s in inst.qualified[v]),
            start=home,
            end=home,
            shift=(_scaled(inst.early[0], scale), horizon),
        )
        for v in range(inst.n_vehicles)
    )
    visits: list[Visit] = []
    services: dict[str, tuple[tuple[int, int], ...]] = {}
    unrepresentable: list[int] = []
    for i in inst.patients:
        for visit, served in _patient_visits(inst, i, scale, allow.get(i, 0.0)):
            visits.append(visit)
            services[visit.id] = served
        if inst.kind(i) == "simultaneous" and not _two_hold_both(inst, i):
            unrepresentable.append(i)
    matrix = tuple(
        tuple(math.ceil(inst.distance[i][j] * scale) for j in range(inst.n_nodes - 1))
        for i in range(inst.n_nodes - 1)
    )
    problem = DayProblem(
        date=BENCH_DATE,
        caregivers=caregivers,
        visits=tuple(visits),
        travel=Travel(
            model="matrix",
            points=tuple(node_point(i) for i in range(inst.n_nodes - 1)),
            seconds=matrix,
        ),
        weights=Weights(
            travel_per_min=1, continuity_miss=0, unassigned={1: UNASSIGNED_COST}, route_fixed=0
        ),
    )
    return Encoding(
        problem=problem,
        services=services,
        caregiver_index={c.id: v for v, c in enumerate(caregivers)},
        unrepresentable=tuple(unrepresentable),
        restricted=len(inst.double),
        patient={vid: served[0][0] for vid, served in services.items()},
    )


def _skill(service: int) -> str:
    return f"s{service + 1}"


def _scaled(value: float, scale: int) -> int:
    return round(value * scale)


def _two_hold_both(inst: MankowskaInstance, node: int) -> bool:
    need = set(inst.required[node])
    return sum(1 for q in inst.qualified if need <= q) >= 2


def _patient_visits(
    inst: MankowskaInstance, i: int, scale: int, slack: float
) -> Iterator[tuple[Visit, tuple[tuple[int, int], ...]]]:
    e, l_ = _scaled(inst.early[i], scale), _scaled(inst.late[i] + slack, scale)
    req = inst.required[i]
    kind = inst.kind(i)
    if kind == "single":
        (s,) = req
        yield _visit(inst, i, f"p{i}.{_skill(s)}", (s,), (e, l_), 1, scale), ((i, s),)
    elif kind == "simultaneous":
        yield _visit(inst, i, f"p{i}.sim", req, (e, l_), 2, scale), tuple((i, s) for s in req)
    else:
        first, second = req  # ascending: the lower service type goes first
        lo, hi = _scaled(inst.mind[i], scale), _scaled(inst.maxd[i], scale)
        h = (hi - lo) // 2
        x = _scaled(inst.early[i] + slack, scale)
        w1, w2 = (x, x + h), (x + h + lo, x + hi)
        yield _visit(inst, i, f"p{i}.{_skill(first)}", (first,), w1, 1, scale), ((i, first),)
        yield _visit(inst, i, f"p{i}.{_skill(second)}", (second,), w2, 1, scale), ((i, second),)


def _visit(
    inst: MankowskaInstance,
    i: int,
    vid: str,
    services: Sequence[int],
    window: tuple[int, int],
    staff: int,
    scale: int,
) -> Visit:
    service_s = max(math.ceil(inst.processing[i][s] * scale) for s in services)
    return Visit(
        id=vid,
        client_id=f"p{i}",
        location=node_point(i),
        windows=(window,),
        duration_min=math.ceil(service_s / 60),
        skills=frozenset(_skill(s) for s in services),
        staff=staff,
        service_s=service_s,
    )


def solution_from_plan(
    inst: MankowskaInstance, enc: Encoding, plan: DayPlan, scale: int = SCALE
) -> list[list[ServiceStart]]:
    """Read a plan of ``enc.problem`` back as HHCRSP routes (one list per caregiver).

    A simultaneous double's two service types go to its two caregivers in
    caregiver order; both hold both types, so either way round is allowed.
    """
    routes: list[list[ServiceStart]] = [[] for _ in range(inst.n_vehicles)]
    first_taker: dict[str, int] = {}
    by_index = sorted(plan.routes, key=lambda r: enc.caregiver_index[r.caregiver_id])
    for route in by_index:
        v = enc.caregiver_index[route.caregiver_id]
        for stop in route.stops:
            served = enc.services[stop.visit_id]
            if len(served) == 2:
                pick = 1 if stop.visit_id in first_taker else 0
                first_taker.setdefault(stop.visit_id, v)
                served = (served[pick],)
            for node, service in served:
                routes[v].append(ServiceStart(node, service, stop.start_s / scale))
    return routes


def earliest_starts(
    inst: MankowskaInstance, routes: Sequence[Sequence[ServiceStart]]
) -> list[list[ServiceStart]]:
    """Re-time routes as early as the original rules allow, keeping every route's order.

    Starts must follow the caregiver's previous service and the leg to the patient,
    not precede ``e``, be equal for a simultaneous double and keep a precedence
    double's gap in ``[mind, maxd]``. These are difference constraints, so the
    earliest times are longest paths, found by relaxing until nothing moves. When
    the given times break a rule (no fixed point is reached), they are returned
    unchanged for ``evaluate`` to report.
    """
    jobs = [(v, k) for v, route in enumerate(routes) for k in range(len(route))]
    where = {(routes[v][k].node, routes[v][k].service): (v, k) for v, k in jobs}
    t = {(v, k): inst.early[routes[v][k].node] for v, k in jobs}
    for _ in range(len(jobs) + 2):
        moved = False
        for v, k in jobs:
            job = routes[v][k]
            need = max(t[(v, k)], _ready_after(inst, routes[v], k, t, v))
            need = max(need, _partner_bound(inst, job, where, t))
            if need > t[(v, k)] + 1e-9:
                t[(v, k)] = need
                moved = True
        if not moved:
            return [
                [ServiceStart(j.node, j.service, t[(v, k)]) for k, j in enumerate(route)]
                for v, route in enumerate(routes)
            ]
    return [list(route) for route in routes]


def _ready_after(
    inst: MankowskaInstance,
    route: Sequence[ServiceStart],
    k: int,
    t: Mapping[tuple[int, int], float],
    v: int,
) -> float:
    if k == 0:
        return inst.early[0] + inst.distance[0][route[0].node]
    prev = route[k - 1]
    leg = inst.distance[prev.node][route[k].node]
    return t[(v, k - 1)] + inst.processing[prev.node][prev.service] + leg


def _partner_bound(
    inst: MankowskaInstance,
    job: ServiceStart,
    where: Mapping[tuple[int, int], tuple[int, int]],
    t: Mapping[tuple[int, int], float],
) -> float:
    i = job.node
    if i not in inst.double:
        return -math.inf
    first, second = inst.required[i]
    other = second if job.service == first else first
    if (i, other) not in where:
        return -math.inf
    t_other = t[where[(i, other)]]
    if inst.kind(i) == "simultaneous":
        return t_other
    # precedence: t_second >= t_first + mind, and t_first >= t_second - maxd
    return t_other + inst.mind[i] if job.service == second else t_other - inst.maxd[i]


def evaluate(
    inst: MankowskaInstance, routes: Sequence[Sequence[ServiceStart]], *, tolerance: float = 1e-6
) -> MankowskaEvaluation:
    """Check HHCRSP routes against the original rules and compute the objective.

    Parameters
    ----------
    inst
        The instance.
    routes
        For each caregiver (in instance order), its services in visiting order with
        their start times. Routes start and end at node 0.
    tolerance
        Allowed floating-point slack on time comparisons.
    """
    violations: list[str] = []
    starts: dict[tuple[int, int], list[float]] = {}
    distance = 0.0
    if len(routes) > inst.n_vehicles:
        violations.append(f"{len(routes)} routes for {inst.n_vehicles} caregivers")
    for v, route in enumerate(routes[: inst.n_vehicles]):
        distance += _walk(inst, v, route, tolerance, violations, starts)
    total_tardiness = 0.0
    max_tardiness = 0.0
    served = 0
    for i, s in inst.services():
        times = starts.get((i, s), [])
        if len(times) > 1:
            violations.append(f"patient {i} service {s + 1} performed {len(times)} times")
        if times:
            served += 1
            tardiness = max(0.0, times[0] - inst.late[i])
            total_tardiness += tardiness
            max_tardiness = max(max_tardiness, tardiness)
    for i in inst.double:
        _check_double(inst, i, starts, tolerance, violations)
    return MankowskaEvaluation(
        distance=distance,
        total_tardiness=total_tardiness,
        max_tardiness=max_tardiness,
        served=served,
        services=len(inst.services()),
        violations=tuple(violations),
    )


def _walk(
    inst: MankowskaInstance,
    v: int,
    route: Sequence[ServiceStart],
    tol: float,
    violations: list[str],
    starts: dict[tuple[int, int], list[float]],
) -> float:
    t = inst.early[0]
    prev = 0
    dist = 0.0
    for job in route:
        i, s = job.node, job.service
        if i not in inst.patients or s not in inst.required[i]:
            violations.append(f"caregiver {v + 1}: patient {i} does not need service {s + 1}")
            continue
        if s not in inst.qualified[v]:
            violations.append(f"caregiver {v + 1} is not qualified for service {s + 1}")
        leg = inst.distance[prev][i]
        dist += leg
        if job.start < t + leg - tol:
            violations.append(
                f"caregiver {v + 1}: patient {i} starts at {job.start:.4f} "
                f"before arrival at {t + leg:.4f}"
            )
        if job.start < inst.early[i] - tol:
            violations.append(f"patient {i} service {s + 1} starts before e = {inst.early[i]:g}")
        starts.setdefault((i, s), []).append(job.start)
        t = max(job.start, t + leg) + inst.processing[i][s]
        prev = i
    return dist + inst.distance[prev][0]


def _check_double(
    inst: MankowskaInstance,
    i: int,
    starts: Mapping[tuple[int, int], list[float]],
    tol: float,
    violations: list[str],
) -> None:
    first, second = inst.required[i]
    if (i, first) not in starts or (i, second) not in starts:
        return  # counted as unserved
    gap = starts[(i, second)][0] - starts[(i, first)][0]
    if inst.kind(i) == "simultaneous":
        if abs(gap) > tol:
            violations.append(f"patient {i}: simultaneous services start {gap:.4f} apart")
    elif not inst.mind[i] - tol <= gap <= inst.maxd[i] + tol:
        violations.append(
            f"patient {i}: gap {gap:.4f} outside [{inst.mind[i]:g}, {inst.maxd[i]:g}]"
        )
