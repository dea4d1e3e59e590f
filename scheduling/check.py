"""An independent check of a day plan against its day problem.

A plan is valid only if this module finds no violation. It is deliberately a
separate code path from the solver: it shares only the data classes, and it
recomputes every travel leg on its own, with geopy's ``geodesic`` and
``math.ceil`` for the ``geodesic`` model (so it also confirms the vectorised
matrix of ``scheduling.travel``) or by looking the pair up in ``travel.seconds``
for the ``matrix`` model.

It verifies the rules of ``docs/formats/dayproblem.md`` and the decisions
recorded there: every visit served or listed as unassigned exactly once, service
in a window, eligibility, two-staff synchronisation, locks, shifts, breaks,
travel time between stops, ``max_work_min``, ``max_visits`` and capacity. It
also recomputes each route's ``travel_s`` and ``work_s``, the plan's KPIs and
the format's cost, and reports any figure the plan states wrongly.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from geopy.distance import geodesic

from .io import format_time
from .problem import (
    Break,
    BreakTaken,
    Caregiver,
    DayPlan,
    DayProblem,
    Kpis,
    Point,
    Route,
    Stop,
    Visit,
)

__all__ = ["CONTINUITY_TOLERANCE", "CheckReport", "Violation", "check", "plan_cost"]

CONTINUITY_TOLERANCE = 0.005
"""How far a plan's stated continuity rate may be from the recomputed one (rounding)."""


@dataclass(frozen=True)
class Violation:
    """One broken rule.

    Attributes
    ----------
    code : str
        Stable snake_case name of the rule: ``window``, ``shift``, ``skill``,
        ``gender``, ``excluded``, ``volunteer``, ``break``, ``max_work``,
        ``max_visits``, ``staff``, ``sync``, ``lock``, ``travel``, ``duplicate``,
        ``missing``, ``kpi``, ``capacity``, ``timing`` (a stop's own times
        disagree) or ``unknown`` (an id that is not in the problem).
    message : str
        Human-readable explanation naming the visit and caregiver.
    visit_id, caregiver_id : str or None
        The visit and caregiver concerned, when there is one.
    """

    code: str
    message: str
    visit_id: str | None = None
    caregiver_id: str | None = None


@dataclass(frozen=True)
class CheckReport:
    """The outcome of ``check``: violations, recomputed KPIs and the plan's cost.

    Attributes
    ----------
    violations : tuple of Violation
        Every broken rule found, in route order then visit order.
    kpis : Kpis
        KPIs recomputed from the plan (not the ones the plan states).
    cost : float
        The format's objective recomputed: travel, continuity misses, unassigned
        visits and, for benchmarks, a fixed cost per used route.
    """

    violations: tuple[Violation, ...]
    kpis: Kpis
    cost: float

    @property
    def ok(self) -> bool:
        """True when the plan breaks no rule."""
        return not self.violations

    def codes(self) -> frozenset[str]:
        """The distinct violation codes found."""
        return frozenset(v.code for v in self.violations)


class _NoTravel(Exception):
    """A leg whose travel time the problem cannot give (unknown mode or point)."""


@dataclass
class _Legs:
    """Travel seconds of single legs, computed the format's way, one pair at a time."""

    problem: DayProblem
    _metres: dict[tuple[Point, Point], float] = field(default_factory=dict)
    _where: dict[Point, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._where = {p: i for i, p in enumerate(self.problem.travel.points)}

    def seconds(self, mode: str, a: Point, b: Point) -> int:
        travel = self.problem.travel
        if travel.model == "matrix":
            try:
                return travel.seconds[self._where[a]][self._where[b]]
            except KeyError as exc:
                raise _NoTravel(f"place {exc.args[0]} is not one of travel.points") from None
        speed = travel.speeds_kmh.get(mode)
        if speed is None or speed <= 0:
            raise _NoTravel(f"no speed for travel mode {mode!r}")
        key = (a, b)
        metres = self._metres.get(key)
        if metres is None:
            metres = float(geodesic(a, b).meters)
            self._metres[key] = metres
        return math.ceil(metres * travel.detour_factor / (speed / 3.6))


@dataclass(frozen=True)
class _RouteFacts:
    """What one route contributes to the plan's figures."""

    travel_s: int
    work_s: int
    used: bool


def _hms(t: int) -> str:
    return format_time(t, always_seconds=True)


def _windows_text(v: Visit) -> str:
    return ", ".join(f"{format_time(a)}-{format_time(b)}" for a, b in v.windows)


def _overlap(a0: int, a1: int, b0: int, b1: int) -> int:
    return max(0, min(a1, b1) - max(a0, b0))


def _free(t0: int, t1: int, breaks: Sequence[BreakTaken]) -> int:
    """Seconds in ``[t0, t1]`` not spent on a break (negative if ``t1 < t0``)."""
    return (t1 - t0) - sum(_overlap(t0, t1, b.start_s, b.end_s) for b in breaks)


def _eligibility(c: Caregiver, v: Visit) -> list[Violation]:
    out: list[Violation] = []
    missing = sorted(v.skills - c.skills)
    if missing:
        out.append(
            Violation("skill", f"{c.id} lacks skill {', '.join(missing)} for {v.id}", v.id, c.id)
        )
    if v.gender is not None and c.gender != v.gender:
        out.append(
            Violation(
                "gender",
                f"{v.id} needs a caregiver of gender {v.gender!r}, {c.id} is not",
                v.id,
                c.id,
            )
        )
    if c.id in v.excluded_caregivers:
        out.append(Violation("excluded", f"{c.id} is excluded from {v.id}", v.id, c.id))
    if c.volunteer and not v.volunteer_ok:
        out.append(Violation("volunteer", f"volunteer {c.id} may not serve {v.id}", v.id, c.id))
    return out


def _stop_checks(c: Caregiver, v: Visit, s: Stop) -> list[Violation]:
    out = _eligibility(c, v)
    if s.start_s < s.arrival_s:
        out.append(
            Violation(
                "timing",
                f"{c.id} starts {v.id} at {_hms(s.start_s)}, before arriving at "
                f"{_hms(s.arrival_s)}",
                v.id,
                c.id,
            )
        )
    if s.end_s - s.start_s != v.duration_s:
        out.append(
            Violation(
                "timing",
                f"{c.id} serves {v.id} for {s.end_s - s.start_s} s "
                f"({_hms(s.start_s)}-{_hms(s.end_s)}), the visit lasts {v.duration_s} s",
                v.id,
                c.id,
            )
        )
    if not any(a <= s.start_s <= b for a, b in v.windows):
        out.append(
            Violation(
                "window",
                f"{c.id} starts {v.id} at {_hms(s.start_s)}, outside its window(s) "
                f"{_windows_text(v)}",
                v.id,
                c.id,
            )
        )
    return out


def _match_breaks(
    taken: Sequence[BreakTaken], defined: Sequence[Break]
) -> tuple[list[int], list[int]]:
    """Match taken breaks to the caregiver's breaks; return the unmatched of each side.

    A taken break can stand for a defined one when it lies inside that break's
    window and lasts at least its duration. Bipartite matching (augmenting
    paths) because two breaks with overlapping windows could be claimed in
    either order; the lists are a handful long.
    """

    def fits(t: BreakTaken, d: Break) -> bool:
        return (
            d.window[0] <= t.start_s
            and t.end_s <= d.window[1]
            and t.end_s - t.start_s >= d.duration_s
        )

    owner: dict[int, int] = {}  # defined index -> taken index

    def assign(ti: int, seen: set[int]) -> bool:
        for di, d in enumerate(defined):
            if di in seen or not fits(taken[ti], d):
                continue
            seen.add(di)
            if di not in owner or assign(owner[di], seen):
                owner[di] = ti
                return True
        return False

    matched = {ti for ti in range(len(taken)) if assign(ti, set())}
    free_defined = [di for di in range(len(defined)) if di not in owner]
    return [ti for ti in range(len(taken)) if ti not in matched], free_defined


def _break_checks(
    c: Caregiver, route: Route, served: Sequence[tuple[Visit, Stop]]
) -> list[Violation]:
    out: list[Violation] = []
    if not route.stops:
        if route.breaks:
            out.append(Violation("break", f"{c.id} has no visit but takes a break", None, c.id))
        return out
    extra, missing = _match_breaks(route.breaks, c.breaks)
    for di in missing:
        d = c.breaks[di]
        out.append(
            Violation(
                "break",
                f"{c.id} does not take its {d.duration_s // 60} min break in "
                f"{format_time(d.window[0])}-{format_time(d.window[1])}",
                None,
                c.id,
            )
        )
    for ti in extra:
        b = route.breaks[ti]
        out.append(
            Violation(
                "break",
                f"{c.id} takes a break {_hms(b.start_s)}-{_hms(b.end_s)} that is none of its "
                "breaks (wrong window, too short, or one too many)",
                None,
                c.id,
            )
        )
    ordered = sorted(route.breaks, key=lambda b: (b.start_s, b.end_s))
    for b1, b2 in zip(ordered, ordered[1:], strict=False):
        if b2.start_s < b1.end_s:
            out.append(
                Violation(
                    "break",
                    f"{c.id} takes overlapping breaks {_hms(b1.start_s)}-{_hms(b1.end_s)} and "
                    f"{_hms(b2.start_s)}-{_hms(b2.end_s)}",
                    None,
                    c.id,
                )
            )
    for b in ordered:
        if b.start_s < c.shift[0] or b.end_s > c.shift[1]:
            out.append(
                Violation(
                    "break",
                    f"{c.id} takes a break {_hms(b.start_s)}-{_hms(b.end_s)} outside its shift",
                    None,
                    c.id,
                )
            )
        for v, s in served:
            if _overlap(b.start_s, b.end_s, s.start_s, s.end_s):
                out.append(
                    Violation(
                        "break",
                        f"{c.id}'s break {_hms(b.start_s)}-{_hms(b.end_s)} overlaps the service "
                        f"of {v.id} ({_hms(s.start_s)}-{_hms(s.end_s)})",
                        v.id,
                        c.id,
                    )
                )
    return out


def _timeline_checks(
    c: Caregiver, route: Route, served: Sequence[tuple[Visit, Stop]], legs: Sequence[int]
) -> list[Violation]:
    """Every travel leg must fit in the time between services that breaks leave free."""
    out: list[Violation] = []
    open_s, close_s = c.shift
    prev_end = open_s
    prev_name = f"its start (shift opens {format_time(open_s)})"
    for k, (v, s) in enumerate(served):
        free = _free(prev_end, s.arrival_s, route.breaks)
        if free < legs[k]:
            code = "shift" if k == 0 else "travel"
            out.append(
                Violation(
                    code,
                    f"{c.id} needs {legs[k]} s to reach {v.id} from {prev_name} but has only "
                    f"{free} s free before arriving at {_hms(s.arrival_s)}",
                    v.id,
                    c.id,
                )
            )
        prev_end = s.end_s
        prev_name = f"{v.id} (ends {_hms(s.end_s)})"
    if served:
        v, s = served[-1]
        free = _free(s.end_s, close_s, route.breaks)
        if free < legs[-1]:
            out.append(
                Violation(
                    "shift",
                    f"{c.id} needs {legs[-1]} s to get home from {v.id} (ends {_hms(s.end_s)}) "
                    f"but has only {free} s free before the shift closes at "
                    f"{format_time(close_s)}",
                    v.id,
                    c.id,
                )
            )
    return out


def _limit_checks(
    c: Caregiver, served: Sequence[tuple[Visit, Stop]], work_s: int
) -> list[Violation]:
    out: list[Violation] = []
    if c.max_work_min is not None and work_s > c.max_work_min * 60:
        out.append(
            Violation(
                "max_work",
                f"{c.id} works {work_s} s (service + travel), more than max_work_min "
                f"{c.max_work_min}",
                None,
                c.id,
            )
        )
    if c.max_visits is not None and len(served) > c.max_visits:
        out.append(
            Violation(
                "max_visits",
                f"{c.id} has {len(served)} visits, more than max_visits {c.max_visits}",
                None,
                c.id,
            )
        )
    load = sum(v.demand for v, _ in served)
    if c.capacity is not None and load > c.capacity:
        out.append(
            Violation(
                "capacity",
                f"{c.id} carries {load}, more than its capacity {c.capacity}",
                None,
                c.id,
            )
        )
    return out


def _check_route(
    c: Caregiver,
    route: Route,
    visits: dict[str, Visit],
    legs: _Legs,
    out: list[Violation],
) -> _RouteFacts:
    served: list[tuple[Visit, Stop]] = []
    for s in route.stops:
        v = visits.get(s.visit_id)
        if v is None:
            out.append(
                Violation(
                    "unknown", f"{c.id} serves unknown visit {s.visit_id!r}", s.visit_id, c.id
                )
            )
            continue
        served.append((v, s))
        out.extend(_stop_checks(c, v, s))
    out.extend(_break_checks(c, route, served))
    if not served:
        travel_s = 0
        leg_s: list[int] = []
    else:
        places = [c.start, *(v.location for v, _ in served), c.end]
        try:
            leg_s = [legs.seconds(c.mode, a, b) for a, b in zip(places, places[1:], strict=False)]
        except _NoTravel as exc:
            out.append(Violation("travel", f"{c.id}: {exc}", None, c.id))
            leg_s = []
        travel_s = sum(leg_s)
        if leg_s:
            out.extend(_timeline_checks(c, route, served, leg_s))
    work_s = travel_s + sum(v.duration_s for v, _ in served)
    out.extend(_limit_checks(c, served, work_s))
    for name, stated, actual in (
        ("travel_s", route.travel_s, travel_s),
        ("work_s", route.work_s, work_s),
    ):
        if stated != actual:
            out.append(
                Violation(
                    "kpi", f"{c.id}'s route states {name} {stated}, recomputed {actual}", None, c.id
                )
            )
    return _RouteFacts(travel_s, work_s, bool(served))


def _staff_checks(v: Visit, occ: Sequence[tuple[str, Stop]]) -> list[Violation]:
    who = [cid for cid, _ in occ]
    names = ", ".join(who)
    if len(occ) > v.staff:
        return [
            Violation(
                "duplicate",
                f"{v.id} needs {v.staff} staff but is on {len(occ)} routes' stops ({names})",
                v.id,
                who[0],
            )
        ]
    if len(occ) < v.staff:
        return [Violation("staff", f"{v.id} needs 2 staff, only {names} serves it", v.id, who[0])]
    if v.staff == 2:
        if who[0] == who[1]:
            return [
                Violation("staff", f"{v.id} needs 2 staff, {who[0]} serves it twice", v.id, who[0])
            ]
        (c1, s1), (c2, s2) = occ
        if s1.start_s != s2.start_s:
            return [
                Violation(
                    "sync",
                    f"{v.id} is a two-staff visit but {c1} starts at {_hms(s1.start_s)} and {c2} "
                    f"at {_hms(s2.start_s)}",
                    v.id,
                    c1,
                )
            ]
    return []


def _lock_checks(
    problem: DayProblem, occurrences: dict[str, list[tuple[str, Stop]]]
) -> list[Violation]:
    out: list[Violation] = []
    for lk in problem.locks:
        stops = [s for cid, s in occurrences.get(lk.visit_id, []) if cid == lk.caregiver_id]
        if not stops:
            out.append(
                Violation(
                    "lock",
                    f"{lk.visit_id} is locked to {lk.caregiver_id}, who does not serve it",
                    lk.visit_id,
                    lk.caregiver_id,
                )
            )
        elif lk.start_s is not None and all(s.start_s != lk.start_s for s in stops):
            out.append(
                Violation(
                    "lock",
                    f"{lk.visit_id} is locked to start at {_hms(lk.start_s)} with "
                    f"{lk.caregiver_id}, who starts it at {_hms(stops[0].start_s)}",
                    lk.visit_id,
                    lk.caregiver_id,
                )
            )
    return out


def _continuity(
    problem: DayProblem, occurrences: dict[str, list[tuple[str, Stop]]]
) -> tuple[int, int]:
    """Hits and misses of preferred caregivers among served visits that name any."""
    hits = misses = 0
    for v in problem.visits:
        occ = occurrences.get(v.id)
        if not occ or not v.preferred_caregivers:
            continue
        if any(cid in v.preferred_caregivers for cid, _ in occ):
            hits += 1
        else:
            misses += 1
    return hits, misses


def _kpi_checks(stated: Kpis, actual: Kpis) -> list[Violation]:
    out: list[Violation] = []
    for name in ("visits", "assigned", "travel_s"):
        a, b = getattr(stated, name), getattr(actual, name)
        if a != b:
            out.append(Violation("kpi", f"kpis.{name} is {a}, recomputed {b}"))
    if abs(stated.continuity_rate - actual.continuity_rate) > CONTINUITY_TOLERANCE:
        out.append(
            Violation(
                "kpi",
                f"kpis.continuity_rate is {stated.continuity_rate}, recomputed "
                f"{actual.continuity_rate:.4f}",
            )
        )
    return out


def _visit_checks(
    problem: DayProblem,
    plan: DayPlan,
    occurrences: dict[str, list[tuple[str, Stop]]],
) -> list[Violation]:
    out: list[Violation] = []
    listed: dict[str, int] = {}
    for u in plan.unassigned:
        listed[u.visit_id] = listed.get(u.visit_id, 0) + 1
    known = {v.id for v in problem.visits}
    for vid, n in listed.items():
        if vid not in known:
            out.append(Violation("unknown", f"unassigned lists unknown visit {vid!r}", vid))
        elif n > 1:
            out.append(Violation("duplicate", f"{vid} is listed {n} times as unassigned", vid))
    for v in problem.visits:
        occ = occurrences.get(v.id, [])
        if occ and v.id in listed:
            out.append(
                Violation(
                    "duplicate",
                    f"{v.id} is both served (by {occ[0][0]}) and listed as unassigned",
                    v.id,
                    occ[0][0],
                )
            )
        if not occ and v.id not in listed:
            out.append(
                Violation("missing", f"{v.id} is neither served nor listed as unassigned", v.id)
            )
        if occ:
            out.extend(_staff_checks(v, occ))
    return out


def _routes_by_caregiver(
    problem: DayProblem, routes: Iterable[Route], out: list[Violation]
) -> list[tuple[Caregiver, Route]]:
    caregivers = {c.id: c for c in problem.caregivers}
    seen: set[str] = set()
    pairs: list[tuple[Caregiver, Route]] = []
    for r in routes:
        c = caregivers.get(r.caregiver_id)
        if c is None:
            out.append(
                Violation(
                    "unknown",
                    f"route of unknown caregiver {r.caregiver_id!r}",
                    None,
                    r.caregiver_id,
                )
            )
            continue
        if c.id in seen:
            out.append(Violation("duplicate", f"{c.id} has more than one route", None, c.id))
            continue
        seen.add(c.id)
        pairs.append((c, r))
    return pairs


def check(problem: DayProblem, plan: DayPlan) -> CheckReport:
    """Check ``plan`` against ``problem`` and recompute its KPIs and cost.

    Parameters
    ----------
    problem : DayProblem
        The day the plan claims to answer.
    plan : DayPlan
        The plan to check; nothing in it is trusted.

    Returns
    -------
    CheckReport
        ``report.ok`` is true when no rule is broken.
    """
    out: list[Violation] = []
    visits = {v.id: v for v in problem.visits}
    legs = _Legs(problem)
    occurrences: dict[str, list[tuple[str, Stop]]] = {}
    travel_s = used = 0
    for c, route in _routes_by_caregiver(problem, plan.routes, out):
        facts = _check_route(c, route, visits, legs, out)
        travel_s += facts.travel_s
        used += facts.used
        for s in route.stops:
            if s.visit_id in visits:
                occurrences.setdefault(s.visit_id, []).append((c.id, s))
    out.extend(_visit_checks(problem, plan, occurrences))
    out.extend(_lock_checks(problem, occurrences))
    hits, misses = _continuity(problem, occurrences)
    kpis = Kpis(
        visits=len(problem.visits),
        assigned=len(occurrences),
        travel_s=travel_s,
        continuity_rate=hits / (hits + misses) if hits + misses else 1.0,
    )
    out.extend(_kpi_checks(plan.kpis, kpis))
    w = problem.weights
    unserved = sum(w.unassigned_cost(v.priority) for v in problem.visits if v.id not in occurrences)
    cost = (
        w.travel_per_min * travel_s / 60
        + w.continuity_miss * misses
        + unserved
        + w.route_fixed * used
    )
    return CheckReport(tuple(out), kpis, cost)


def plan_cost(problem: DayProblem, plan: DayPlan) -> float:
    """The format's objective of ``plan``, recomputed independently (lower is better).

    ``travel_per_min`` x travel minutes + ``continuity_miss`` per served visit
    whose non-empty preferred list misses all its caregivers + the unassigned
    cost of each visit not served + ``route_fixed`` per route with a visit.
    """
    return check(problem, plan).cost
