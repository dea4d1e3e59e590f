"""A dispatcher's manual edits of a plan, on ``DayProblem`` and ``DayPlan`` (no database).

Each edit returns a new problem and plan; nothing is mutated. Routes the edit touches are
re-timed here by the format's rules (travel by the problem's travel model, no travel
during a break, service inside a window, breaks placed in the gaps), so the times shown
are honest. Whether the result holds every rule is for ``scheduling.check`` to say: an
edit may well break one (a visit moved where it cannot be reached in time), and the
dispatcher sees the violations before publishing.

Re-timing keeps stops no earlier than they were planned (a caregiver's day does not shift
earlier because a visit left it), keeps pinned starts (two-staff partners, locks with a
start, a start the dispatcher chose) and otherwise starts service as early as allowed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache

from app.services.dispatch_repair import clip_breaks
from scheduling.problem import (
    BreakTaken,
    Caregiver,
    DayPlan,
    DayProblem,
    Kpis,
    Lock,
    Point,
    Route,
    SolverInfo,
    Stop,
    Unassigned,
    Visit,
)
from scheduling.travel import provider_for

EDIT_SOLVER = "manual edit"


class EditError(ValueError):
    """An edit that cannot apply to this version; ``field`` names the request field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class Legs:
    """Travel seconds between places of one problem, computed on demand."""

    def __init__(self, problem: DayProblem) -> None:
        provider = provider_for(problem)

        @cache
        def leg(mode: str, a: Point, b: Point) -> int:
            return 0 if a == b else int(provider.seconds([a, b], mode)[0, 1])

        self.seconds = leg


# --------------------------------------------------------------------------- timing


def _advance(t: int, leg: int, breaks: Sequence[BreakTaken]) -> int:
    """When travel of ``leg`` seconds begun at ``t`` arrives, pausing during breaks."""
    remaining, cur = leg, t
    for b in breaks:
        if b.end_s <= cur:
            continue
        if b.start_s >= cur + remaining:
            break
        remaining -= max(0, b.start_s - cur)
        cur = max(cur, b.end_s)
    return cur + remaining


def _in_window(v: Visit, t: int) -> int | None:
    """The earliest start at or after ``t`` inside one of the windows, if any."""
    for a, b in sorted(v.windows):
        if b >= t:
            return max(a, t)
    return None


@dataclass(frozen=True)
class Timed:
    """A re-timed route and whether it keeps every rule re-timing can see."""

    route: Route
    ok: bool


def _stops(
    c: Caregiver,
    visits: Sequence[Visit],
    legs: Legs,
    breaks: Sequence[BreakTaken],
    lower: Mapping[str, int],
    pinned: Mapping[str, int],
) -> tuple[list[Stop], list[int], bool]:
    """Stop times given the breaks; the legs (home last); whether all windows held."""
    stops: list[Stop] = []
    leg_s: list[int] = []
    ok = True
    t, here = c.shift[0], c.start
    for v in visits:
        leg = legs.seconds(c.mode, here, v.location)
        leg_s.append(leg)
        arrival = _advance(t, leg, breaks)
        start = _start(v, arrival, lower.get(v.id, 0), pinned.get(v.id), breaks)
        if start is None:
            ok = False
            start = max(arrival, lower.get(v.id, 0))
        stops.append(Stop(v.id, arrival, start, start + v.duration_s))
        t, here = start + v.duration_s, v.location
    leg_s.append(legs.seconds(c.mode, here, c.end))
    return stops, leg_s, ok


def _start(
    v: Visit, arrival: int, lower: int, pin: int | None, breaks: Sequence[BreakTaken]
) -> int | None:
    if pin is not None:
        return pin if pin >= arrival else None
    t = max(arrival, lower)
    for _ in range(len(breaks) + 1):
        start = _in_window(v, t)
        if start is None:
            return None
        clash = [b for b in breaks if b.start_s < start + v.duration_s and start < b.end_s]
        if not clash:
            return start
        t = max(b.end_s for b in clash)
    return None


def _place_breaks(
    c: Caregiver, stops: Sequence[Stop], legs: Sequence[int]
) -> tuple[list[BreakTaken], bool]:
    """Put each of the caregiver's breaks in the first gap with room for it and the travel.

    When no gap has room, the break goes at the first moment it may start after a visit,
    and the stops after it are pushed later by the next timing pass.
    """
    if not stops:
        return [], True
    taken: list[BreakTaken] = []
    ok = True
    for br in sorted(c.breaks, key=lambda b: b.window):
        spot = _gap_for(c, stops, legs, taken, br.window, br.duration_s)
        if spot is None:
            ok = False
            spot = _forced_spot(stops, br.window, br.duration_s)
        taken.append(BreakTaken(spot, spot + br.duration_s))
    return sorted(taken, key=lambda b: b.start_s), ok


def _gap_for(
    c: Caregiver,
    stops: Sequence[Stop],
    legs: Sequence[int],
    taken: Sequence[BreakTaken],
    window: tuple[int, int],
    duration_s: int,
) -> int | None:
    # Gap k runs from the end of stop k-1 (or the shift's start) to the start of stop k
    # (or the shift's end); it must hold the leg into stop k (or home) besides the break.
    edges = [c.shift[0], *(s.end_s for s in stops)]
    nexts = [*(s.start_s for s in stops), c.shift[1]]
    for k, (g0, g1) in enumerate(zip(edges, nexts, strict=True)):
        used = sum(
            min(b.end_s, g1) - max(b.start_s, g0) for b in taken if b.start_s < g1 and g0 < b.end_s
        )
        slack = (g1 - g0) - legs[k] - used
        lo, hi = max(g0, window[0]), min(g1, window[1]) - duration_s
        if slack < duration_s or hi < lo:
            continue
        for t in (lo, hi):
            if not any(b.start_s < t + duration_s and t < b.end_s for b in taken):
                return t
    return None


def _forced_spot(stops: Sequence[Stop], window: tuple[int, int], duration_s: int) -> int:
    for s in stops:
        if s.end_s >= window[0]:
            return min(s.end_s, window[1] - duration_s) if s.end_s <= window[1] else window[0]
    return window[0]


def retime(
    problem: DayProblem,
    caregiver_id: str,
    visit_ids: Sequence[str],
    legs: Legs,
    *,
    lower: Mapping[str, int] | None = None,
    pinned: Mapping[str, int] | None = None,
) -> Timed:
    """The route of ``caregiver_id`` serving ``visit_ids`` in this order, timed afresh."""
    c = problem.caregiver(caregiver_id)
    visits = [problem.visit(v) for v in visit_ids]
    lower, pinned = lower or {}, pinned or {}
    stops, leg_s, windows_ok = _stops(c, visits, legs, (), lower, pinned)
    breaks, breaks_ok = _place_breaks(c, stops, leg_s)
    if breaks:
        stops, leg_s, windows_ok = _stops(c, visits, legs, breaks, lower, pinned)
    travel_s = sum(leg_s) if stops else 0
    work_s = travel_s + sum(v.duration_s for v in visits)
    home = _advance(stops[-1].end_s, leg_s[-1], breaks) if stops else c.shift[0]
    ok = (
        windows_ok
        and breaks_ok
        and home <= c.shift[1]
        and all(s.start_s >= c.shift[0] for s in stops)
        and (c.max_work_min is None or work_s <= c.max_work_min * 60)
        and (c.max_visits is None or len(stops) <= c.max_visits)
    )
    route = Route(caregiver_id, tuple(stops), tuple(breaks), travel_s, work_s)
    return Timed(route, ok)


# --------------------------------------------------------------------------- plan assembly


def kpis_of(problem: DayProblem, routes: Sequence[Route]) -> Kpis:
    """The plan KPIs as ``scheduling.check`` recomputes them."""
    served: dict[str, set[str]] = {}
    for r in routes:
        for s in r.stops:
            served.setdefault(s.visit_id, set()).add(r.caregiver_id)
    hits = misses = 0
    for v in problem.visits:
        if v.id in served and v.preferred_caregivers:
            if served[v.id] & set(v.preferred_caregivers):
                hits += 1
            else:
                misses += 1
    return Kpis(
        visits=len(problem.visits),
        assigned=sum(1 for v in problem.visits if v.id in served),
        travel_s=sum(r.travel_s for r in routes),
        continuity_rate=hits / (hits + misses) if hits + misses else 1.0,
    )


def with_routes(
    problem: DayProblem,
    plan: DayPlan,
    changed: Mapping[str, Route],
    unassigned: Sequence[Unassigned],
) -> DayPlan:
    """``plan`` with some routes replaced (or added) and a new unassigned list."""
    routes = [changed.get(r.caregiver_id, r) for r in plan.routes]
    known = {r.caregiver_id for r in plan.routes}
    routes += [r for cid, r in changed.items() if cid not in known]
    order = {c.id: k for k, c in enumerate(problem.caregivers)}
    routes.sort(key=lambda r: order.get(r.caregiver_id, len(order)))
    solver = SolverInfo(EDIT_SOLVER, 0.0, 0.0, plan.solver.objective)
    return DayPlan(tuple(routes), tuple(unassigned), kpis_of(problem, routes), solver)


def _route_of(plan: DayPlan, caregiver_id: str) -> Route:
    for r in plan.routes:
        if r.caregiver_id == caregiver_id:
            return r
    return Route(caregiver_id)


def _pins(problem: DayProblem, plan: DayPlan) -> dict[str, int]:
    """Starts that re-timing must keep: two-staff visits (partners) and locks with a start."""
    pins = {lk.visit_id: lk.start_s for lk in problem.locks if lk.start_s is not None}
    two = {v.id for v in problem.visits if v.staff > 1}
    for r in plan.routes:
        for s in r.stops:
            if s.visit_id in two:
                pins.setdefault(s.visit_id, s.start_s)
    return pins


def _lower(route: Route) -> dict[str, int]:
    return {s.visit_id: s.start_s for s in route.stops}


def _retime_without(
    problem: DayProblem, plan: DayPlan, caregiver_id: str, visit_id: str, legs: Legs
) -> Route:
    route = _route_of(plan, caregiver_id)
    rest = [s.visit_id for s in route.stops if s.visit_id != visit_id]
    return retime(
        problem, caregiver_id, rest, legs, lower=_lower(route), pinned=_pins(problem, plan)
    ).route


def _insert_ordered(route: Route, visit: Visit, start_s: int) -> list[str]:
    ids = [s.visit_id for s in route.stops if s.visit_id != visit.id]
    starts = [s.start_s for s in route.stops if s.visit_id != visit.id]
    k = sum(1 for t in starts if t <= start_s)
    return [*ids[:k], visit.id, *ids[k:]]


# --------------------------------------------------------------------------- the edits


def _known_visit(problem: DayProblem, visit_id: str) -> Visit:
    try:
        return problem.visit(visit_id)
    except KeyError:
        raise EditError("visit_ref", f"{visit_id} is not a visit of this version") from None


def _known_caregiver(problem: DayProblem, caregiver_id: str) -> Caregiver:
    try:
        return problem.caregiver(caregiver_id)
    except KeyError:
        raise EditError("caregiver_ref", f"{caregiver_id} is not working on this day") from None


def serving(plan: DayPlan, visit_id: str) -> list[tuple[str, Stop]]:
    """The caregivers serving ``visit_id`` in ``plan`` with their stops."""
    return [(r.caregiver_id, s) for r in plan.routes for s in r.stops if s.visit_id == visit_id]


def move(
    problem: DayProblem,
    plan: DayPlan,
    visit_id: str,
    caregiver_id: str,
    start_s: int | None = None,
) -> DayPlan:
    """Give ``visit_id`` to ``caregiver_id`` (at ``start_s`` if given).

    A two-staff visit hands over the copy of its first caregiver that is not the target
    (sorted by id); with ``start_s`` both copies move to the new start. A visit the target
    already serves is only re-timed.
    """
    visit = _known_visit(problem, visit_id)
    _known_caregiver(problem, caregiver_id)
    legs = Legs(problem)
    now = serving(plan, visit_id)
    holders = sorted(cid for cid, _ in now)
    changed: dict[str, Route] = {}
    if caregiver_id not in holders and holders:
        source = holders[0]
        changed[source] = _retime_without(problem, plan, source, visit_id, legs)
        holders[0] = caregiver_id
    elif not holders:
        holders = [caregiver_id]
    previous = now[0][1].start_s if now else None
    start = start_s if start_s is not None else previous
    pins = _pins(problem, plan)
    pins.pop(visit_id, None)
    if start is not None and (start_s is not None or visit.staff > 1):
        pins[visit_id] = start
    for cid in holders:
        base = changed.get(cid, _route_of(plan, cid))
        anchor = start if start is not None else min(a for a, _ in visit.windows)
        order = _insert_ordered(base, visit, anchor)
        lower = _lower(base)
        if start is not None:
            lower[visit_id] = start
        changed[cid] = retime(problem, cid, order, legs, lower=lower, pinned=pins).route
    unassigned = [u for u in plan.unassigned if u.visit_id != visit_id]
    return with_routes(problem, plan, changed, unassigned)


def set_lock(problem: DayProblem, plan: DayPlan, visit_id: str, locked: bool) -> DayProblem:
    """Pin ``visit_id`` to its caregivers and start in ``plan`` (or release every pin)."""
    _known_visit(problem, visit_id)
    others = tuple(lk for lk in problem.locks if lk.visit_id != visit_id)
    if not locked:
        return dataclasses.replace(problem, locks=others)
    now = serving(plan, visit_id)
    if not now:
        raise EditError("visit_ref", f"{visit_id} is not assigned in this version: move it first")
    pins = tuple(Lock(visit_id, cid, stop.start_s) for cid, stop in now)
    return dataclasses.replace(problem, locks=others + pins)


def mark_absent(
    problem: DayProblem, plan: DayPlan, caregiver_id: str, from_s: int | None, reason: str
) -> tuple[DayProblem, DayPlan]:
    """The caregiver leaves at ``from_s`` (None: all day): later visits become unassigned.

    The shift ends at ``from_s`` (a break that no longer fits is not owed); the route keeps
    the longest run of its first visits that can still be served and the way home made
    by then.
    """
    c = _known_caregiver(problem, caregiver_id)
    route = _route_of(plan, caregiver_id)
    cut = c.shift[0] if from_s is None else max(c.shift[0], min(c.shift[1], from_s))
    if cut > c.shift[0]:
        worker = dataclasses.replace(
            c, shift=(c.shift[0], cut), breaks=clip_breaks(c.breaks, c.shift[0], cut)
        )
        caregivers = tuple(worker if x.id == c.id else x for x in problem.caregivers)
        visits = problem.visits
    else:
        # Away all day: keep the caregiver (other visits may name them) but let nobody
        # give them a visit.
        caregivers = tuple(
            dataclasses.replace(x, breaks=()) if x.id == c.id else x for x in problem.caregivers
        )
        visits = tuple(
            dataclasses.replace(v, excluded_caregivers=v.excluded_caregivers | {c.id})
            for v in problem.visits
        )
    shortened = dataclasses.replace(problem, caregivers=caregivers, visits=visits)
    legs = Legs(shortened)
    timed = _longest_feasible_start(shortened, plan, route, legs) if cut > c.shift[0] else None
    kept = {s.visit_id for s in timed.route.stops} if timed else set()
    lost = [s.visit_id for s in route.stops if s.visit_id not in kept]
    locks = tuple(
        lk for lk in problem.locks if not (lk.caregiver_id == c.id and lk.visit_id in lost)
    )
    new_problem = dataclasses.replace(shortened, locks=locks)
    changed = {c.id: timed.route if timed else Route(c.id)}
    unassigned = list(plan.unassigned)
    why = f"{c.id} is absent" + (f": {reason}" if reason else "")
    unassigned += [Unassigned(v, why) for v in lost if len(serving(plan, v)) == 1]
    # A two-staff visit that loses one of its pair cannot go ahead with the other alone.
    for v in lost:
        for cid, _ in serving(plan, v):
            if cid != c.id:
                changed[cid] = _retime_without(new_problem, plan, cid, v, legs)
                unassigned.append(Unassigned(v, why))
    return new_problem, with_routes(new_problem, plan, changed, unassigned)


def _longest_feasible_start(problem: DayProblem, plan: DayPlan, route: Route, legs: Legs) -> Timed:
    """The route cut to its longest run of first stops that still keeps every rule."""
    ids = [s.visit_id for s in route.stops]
    pins = _pins(problem, plan)
    for k in range(len(ids), 0, -1):
        timed = retime(problem, route.caregiver_id, ids[:k], legs, lower=_lower(route), pinned=pins)
        if timed.ok:
            return timed
    return Timed(Route(route.caregiver_id), True)


NO_ROOM = "no caregiver has room for it without re-planning: move it or re-optimise"
TWO_STAFF = "needs two caregivers at once: move it or re-optimise"


def add_visit(problem: DayProblem, plan: DayPlan, visit: Visit) -> tuple[DayProblem, DayPlan]:
    """Add ``visit`` to the day and insert it where it adds least travel and breaks nothing.

    It is left unassigned, with the reason, when no route can take it as it stands.
    """
    new_problem = dataclasses.replace(problem, visits=(*problem.visits, visit))
    legs = Legs(new_problem)
    pins = _pins(new_problem, plan)
    best: tuple[int, Route] | None = None
    if visit.staff == 1:
        for c in new_problem.caregivers:
            if not _eligible(c, visit):
                continue
            found = _best_insertion(new_problem, _route_of(plan, c.id), visit, legs, pins)
            if found is not None and (best is None or found[0] < best[0]):
                best = found
    unassigned = list(plan.unassigned)
    changed: dict[str, Route] = {}
    if best is None:
        unassigned.append(Unassigned(visit.id, TWO_STAFF if visit.staff > 1 else NO_ROOM))
    else:
        changed[best[1].caregiver_id] = best[1]
    return new_problem, with_routes(new_problem, plan, changed, unassigned)


def _eligible(c: Caregiver, v: Visit) -> bool:
    return (
        v.skills <= c.skills
        and (v.gender is None or v.gender == c.gender)
        and c.id not in v.excluded_caregivers
        and (v.volunteer_ok or not c.volunteer)
    )


def _best_insertion(
    problem: DayProblem, route: Route, visit: Visit, legs: Legs, pins: Mapping[str, int]
) -> tuple[int, Route] | None:
    ids = [s.visit_id for s in route.stops]
    best: tuple[int, Route] | None = None
    for k in range(len(ids) + 1):
        order = [*ids[:k], visit.id, *ids[k:]]
        timed = retime(problem, route.caregiver_id, order, legs, lower=_lower(route), pinned=pins)
        if timed.ok and _kept_locks(problem, timed.route):
            added = timed.route.travel_s - route.travel_s
            if best is None or added < best[0]:
                best = (added, timed.route)
    return best


def _kept_locks(problem: DayProblem, route: Route) -> bool:
    starts = {s.visit_id: s.start_s for s in route.stops}
    return all(
        starts[lk.visit_id] == lk.start_s
        for lk in problem.locks
        if lk.caregiver_id == route.caregiver_id
        and lk.start_s is not None
        and lk.visit_id in starts
    )
