"""Seeded generator of realistic care days in Nantong, each with a valid plan that holds it.

Nantong was China's first long-term-care-insurance pilot city. A generated day
looks like one agency's dispatch day there: clients clustered around the urban
district centres (Chongchuan, Gangzha, the development zone, Tongzhou, Haimen),
caregivers living in the district they serve and riding e-bikes (a few walk, a
few drive), 8-9 h shifts starting 07:30-08:30 with a lunch break, and a handful
of time-bank volunteers on half-day shifts who only take companionship visits.

The mix is what the field reports describe: about 20 % nursing visits, 5 %
two-staff visits (transfers, bathing), 25 % asking for a same-gender
caregiver and 70 % naming a preferred caregiver (one who could actually serve
them). 400 visits come with 71 caregivers, 8 of them volunteers.

The day is *planted*: the generator walks every caregiver through a working day
(travel at the day's own travel rule, service, a lunch break inside its window,
some idle time) and writes down each visit it makes them serve, with a window
around the planted start. That walk is a plan the day can hold, the *witness*
(``generate_day_with_witness``), so "every visit a valid plan can hold" is
known for a generated day: all of them, unless a caller's staffing was too
small to plant them all (the witness then lists the rest as unassigned). Agencies
staff for the care plans they accept, and a generated day is plannable the same
way; the witness is no good plan (its routes wander and wait), only a proof.

Only ``random.Random(seed)`` is used, and nothing iterates an unordered set, so
the same arguments give the same problem on every machine and run.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from geopy.distance import geodesic

from .problem import (
    Break,
    BreakTaken,
    Caregiver,
    DayPlan,
    DayProblem,
    Kpis,
    Point,
    Route,
    SolverInfo,
    Stop,
    Travel,
    Unassigned,
    Visit,
    Weights,
    Window,
)
from .travel import travel_seconds

__all__ = ["DISTRICTS", "District", "GeneratedDay", "generate_day", "generate_day_with_witness"]

_KM_PER_DEG_LAT = 111.2
_MAX_KM = 10.0

STAFF_PER_VISIT = 63 / 400
"""Paid caregivers per visit: tight but plannable for 8-9 h shifts on e-bikes."""

VOLUNTEERS_PER_VISIT = 8 / 400
"""Time-bank volunteers per visit (they take only companionship visits)."""

UNPLANTED_REASON = "not held by the generator's witness plan (too few caregivers to plant it)"

_TRAVEL = Travel("geodesic", 1.3, {"walk": 4.5, "ebike": 15.0, "car": 25.0})
_EARLIEST_S = 8 * 3600  # no visit starts before 08:00
_MAX_WAIT_S = 45 * 60  # how long one of two staff may wait for the other
_SECOND_ROUND_AFTER_S = 4 * 3600
_STEP_KM = {"walk": 0.6, "ebike": 1.2, "car": 2.0}
"""Spread of the next client around the last one, by the caregiver's travel mode."""


@dataclass(frozen=True)
class District:
    """An urban centre that clients and caregivers cluster around."""

    name: str
    centre: Point
    weight: float
    spread_km: float


DISTRICTS: tuple[District, ...] = (
    District("chongchuan", (32.000, 120.860), 0.34, 2.2),
    District("gangzha", (32.030, 120.800), 0.18, 2.0),
    District("development_zone", (31.950, 120.950), 0.14, 2.5),
    District("tongzhou", (32.070, 121.070), 0.20, 2.5),
    District("haimen", (31.900, 121.180), 0.14, 2.5),
)
"""District centres of Nantong with the share of clients and how far they spread."""


@dataclass(frozen=True)
class GeneratedDay:
    """A generated day and a valid plan of it that serves every planted visit."""

    problem: DayProblem
    witness: DayPlan


@dataclass(frozen=True)
class _Kind:
    skills: frozenset[str]
    durations_min: tuple[int, ...]
    priorities: tuple[int, ...]  # drawn uniformly: repeats set the odds
    volunteer_ok: bool


_NURSING = _Kind(frozenset({"nursing"}), (20, 30, 30, 45, 45, 60), (1, 1, 1, 2, 2, 3), False)
_PERSONAL = _Kind(
    frozenset({"personal_care"}),
    (20, 30, 30, 45, 45, 45, 60, 60, 90),
    (1, 1, 1, 2, 2, 2, 2, 3, 3, 3),
    False,
)
_BATHING = _Kind(frozenset({"personal_care"}), (30, 45, 45, 60), (1, 2, 2), False)
_COMPANY = _Kind(frozenset({"companionship"}), (30, 45, 60, 60, 90), (2, 2, 3, 3, 3), True)

_NURSE_SHARE = 0.30
"""Share of paid caregivers who are nurses."""

_NURSING_BY_NURSE = 0.75
"""How often a nurse's next visit is a nursing one (about 20 % of all visits)."""


def _offset(rng: random.Random, centre: Point, spread_km: float, home: Point) -> Point:
    """A point scattered normally around ``centre`` and within ``_MAX_KM`` of ``home``."""
    while True:
        dy, dx = rng.gauss(0.0, spread_km), rng.gauss(0.0, spread_km)
        lat = centre[0] + dy / _KM_PER_DEG_LAT
        lon = centre[1] + dx / (_KM_PER_DEG_LAT * math.cos(math.radians(centre[0])))
        point = (round(lat, 6), round(lon, 6))
        if _km(point, home) <= _MAX_KM:
            return point


def _km(a: Point, b: Point) -> float:
    """Flat-earth distance, good enough to rank nearby caregivers."""
    dy = (a[0] - b[0]) * _KM_PER_DEG_LAT
    dx = (a[1] - b[1]) * _KM_PER_DEG_LAT * math.cos(math.radians(a[0]))
    return math.hypot(dx, dy)


def _hm(h: int, m: int = 0) -> int:
    return h * 3600 + m * 60


def _leg_s(a: Point, b: Point, mode: str) -> int:
    """Travel seconds by the day's rule, computed as the checker computes it."""
    if a == b:
        return 0
    return travel_seconds(geodesic(a, b).meters, _TRAVEL.detour_factor, _TRAVEL.speeds_kmh[mode])


def _allocate(total: int, shares: Sequence[float]) -> list[int]:
    """Split ``total`` by ``shares`` (largest remainder), so every district is staffed."""
    whole = sum(shares) or 1.0
    exact = [total * s / whole for s in shares]
    counts = [math.floor(x) for x in exact]
    by_remainder = sorted(range(len(shares)), key=lambda i: (counts[i] - exact[i], i))
    for i in by_remainder[: total - sum(counts)]:
        counts[i] += 1
    return counts


def _staff(rng: random.Random, ident: str, district: District) -> Caregiver:
    home = _offset(rng, district.centre, district.spread_km, district.centre)
    r = rng.random()
    mode = "ebike" if r < 0.80 else "walk" if r < 0.92 else "car"
    open_s = _hm(7, 30) + 900 * rng.randint(0, 4)
    length_s = rng.choice((8 * 3600, 8 * 3600 + 1800, 9 * 3600))
    lunch_min = rng.choice((30, 45, 60))
    skills = {"personal_care", "companionship"}
    if rng.random() < _NURSE_SHARE:
        skills.add("nursing")
    return Caregiver(
        id=ident,
        mode=mode,
        skills=frozenset(skills),
        start=home,
        end=home,
        shift=(open_s, open_s + length_s),
        gender="f" if rng.random() < 0.82 else "m",
        breaks=(Break((_hm(11), _hm(14)), lunch_min * 60),),
        max_work_min=(length_s // 60) - lunch_min - 15,
        max_visits=8 if mode == "walk" else 10,
        volunteer=False,
    )


def _volunteer(rng: random.Random, ident: str, district: District) -> Caregiver:
    home = _offset(rng, district.centre, district.spread_km, district.centre)
    shift = (_hm(8, 30), _hm(12)) if rng.random() < 0.5 else (_hm(13, 30), _hm(17))
    return Caregiver(
        id=ident,
        mode="walk" if rng.random() < 0.5 else "ebike",
        skills=frozenset({"companionship"}),
        start=home,
        end=home,
        shift=shift,
        gender="f" if rng.random() < 0.6 else "m",
        max_work_min=180,
        max_visits=3,
        volunteer=True,
    )


def _caregivers(
    rng: random.Random, n_staff: int, n_volunteers: int
) -> list[tuple[Caregiver, District]]:
    weights = [d.weight for d in DISTRICTS]
    out: list[tuple[Caregiver, District]] = []
    for dist, n in zip(DISTRICTS, _allocate(n_staff, weights), strict=True):
        out.extend((_staff(rng, f"cg-{len(out) + 1:03d}", dist), dist) for _ in range(n))
    k = 0
    for dist, n in zip(DISTRICTS, _allocate(n_volunteers, weights), strict=True):
        for _ in range(n):
            k += 1
            out.append((_volunteer(rng, f"vol-{k:02d}", dist), dist))
    return out


@dataclass
class _Client:
    number: int
    home: Point
    district: District
    last_end_s: int
    rounds: int = 1


@dataclass
class _Draft:
    """A planted visit before ids, preferences and exclusions are given."""

    client: _Client
    kind: _Kind
    staff: int
    duration_s: int
    start_s: int
    gender: str | None
    servers: tuple[str, ...]
    windows: tuple[Window, ...] = ()
    priority: int = 1


@dataclass
class _Walk:
    """One caregiver's planted day so far."""

    caregiver: Caregiver
    district: District
    pos: Point
    free_s: int
    lunch_due: Break | None
    stops: list[tuple[_Draft, int, int]] = field(default_factory=list)  # (visit, arrival, start)
    breaks: list[BreakTaken] = field(default_factory=list)
    travel_s: int = 0
    work_s: int = 0
    open: bool = True

    def home_leg_s(self, place: Point) -> int:
        return _leg_s(place, self.caregiver.end, self.caregiver.mode)


@dataclass(frozen=True)
class _Arrival:
    walk: _Walk
    lunch: BreakTaken | None
    leg_s: int
    arrival_s: int


def _arrive(walk: _Walk, place: Point, ready_s: int, start_floor_s: int, dur_s: int) -> _Arrival:
    """Travel to ``place`` from ``ready_s``, taking lunch first if the visit would end too late."""
    leg = _leg_s(walk.pos, place, walk.caregiver.mode)
    due = walk.lunch_due
    start = max(ready_s + leg, start_floor_s)
    if due is not None and start + dur_s > due.window[1] - due.duration_s:
        # Never later than the window allows: the walk is free by then (see _fits).
        lunch_s = max(min(ready_s, due.window[1] - due.duration_s), due.window[0])
        lunch = BreakTaken(lunch_s, lunch_s + due.duration_s)
        return _Arrival(walk, lunch, leg, lunch.end_s + leg)
    return _Arrival(walk, None, leg, ready_s + leg)


def _fits(a: _Arrival, place: Point, start_s: int, dur_s: int) -> bool:
    """Whether ``a.walk`` can serve from ``start_s`` and still keep every rule of its day."""
    w = a.walk
    c = w.caregiver
    end = start_s + dur_s
    home = w.home_leg_s(place)
    due = w.lunch_due if a.lunch is None else None
    if due is not None and end > due.window[1] - due.duration_s:
        return False
    close = (max(end, due.window[0]) + due.duration_s if due else end) + home
    if start_s - a.arrival_s > _MAX_WAIT_S or close > c.shift[1]:
        return False
    if c.max_visits is not None and len(w.stops) >= c.max_visits:
        return False
    work = w.work_s + a.leg_s + dur_s + home
    return c.max_work_min is None or work <= c.max_work_min * 60


def _pick_kind(rng: random.Random, c: Caregiver) -> tuple[_Kind, int]:
    if c.volunteer:
        return _COMPANY, 1
    if "nursing" in c.skills and rng.random() < _NURSING_BY_NURSE:
        return _NURSING, 1
    r = rng.random()
    if r < 0.07:
        return _BATHING, 2
    if r < 0.14:
        return _COMPANY, 1
    return _PERSONAL, 1


def _place(rng: random.Random, walk: _Walk, clients: list[_Client]) -> _Client:
    """The next client: a second round for one served hours ago (12 %), or a new one."""
    if walk.caregiver.mode != "walk" and rng.random() < 0.12:
        earlier = [
            c
            for c in clients
            if c.district is walk.district
            and c.rounds == 1
            and walk.free_s - c.last_end_s >= _SECOND_ROUND_AFTER_S
        ]
        if earlier:
            client = rng.choice(earlier)
            client.rounds += 1
            return client
    d = walk.district
    if walk.caregiver.mode == "walk" or rng.random() < 0.75:
        home = _offset(rng, walk.pos, _STEP_KM[walk.caregiver.mode], d.centre)
    else:
        home = _offset(rng, d.centre, d.spread_km, d.centre)
    clients.append(_Client(len(clients) + 1, home, d, 0))
    return clients[-1]


def _partner(walk: _Walk, walks: Sequence[_Walk]) -> _Walk | None:
    """The paid colleague free soonest for a two-staff visit, of the same district if
    it has one (a small agency sends one from the next district)."""
    others = [w for w in walks if w.open and w is not walk and not w.caregiver.volunteer]
    near = [w for w in others if w.district is walk.district] or others
    return min(near, key=lambda w: (w.free_s, w.caregiver.id), default=None)


def _timing(
    team: Sequence[_Walk], place: Point, ready: Sequence[int], dur_s: int
) -> tuple[list[_Arrival], int] | None:
    """Arrivals of the team and the common start, or None if one of them cannot serve."""
    start = _EARLIEST_S
    for _ in range(3):  # lunch taken first can delay an arrival, which can call for lunch
        arrivals = [_arrive(w, place, r, start, dur_s) for w, r in zip(team, ready, strict=True)]
        later = max(start, *(a.arrival_s for a in arrivals))
        if later == start:
            break
        start = later
    if not all(_fits(a, place, start, dur_s) for a in arrivals):
        return None
    return arrivals, start


def _gap_s(rng: random.Random, mean_gap_s: float) -> int:
    """Idle time before the next visit: paperwork, a late client, a quiet hour."""
    return 60 * round(rng.uniform(0.0, 2.0 * mean_gap_s) / 60)


def _plant_visit(
    rng: random.Random,
    walk: _Walk,
    walks: Sequence[_Walk],
    clients: list[_Client],
    mean_gap_s: float,
) -> _Draft | None:
    kind, staff = _pick_kind(rng, walk.caregiver)
    team = [walk]
    if staff == 2:
        partner = _partner(walk, walks)
        if partner is None:
            kind, staff = _PERSONAL, 1
        else:
            team.append(partner)
    client = _place(rng, walk, clients)
    dur_s = 60 * rng.choice(kind.durations_min)
    ready = [w.free_s + _gap_s(rng, mean_gap_s) for w in team]
    timed = _timing(team, client.home, ready, dur_s)
    if timed is None and staff == 2:  # the colleague cannot come: go alone
        kind, staff, team = _PERSONAL, 1, [walk]
        timed = _timing(team, client.home, ready[:1], dur_s)
    if timed is None:
        if client.last_end_s == 0:
            clients.pop()  # nobody will visit them today
        else:
            client.rounds -= 1
        return None
    arrivals, start = timed
    genders = {w.caregiver.gender for w in team}
    wants = len(genders) == 1 and rng.random() < 0.25
    draft = _Draft(
        client=client,
        kind=kind,
        staff=staff,
        duration_s=dur_s,
        start_s=start,
        gender=next(iter(genders)) if wants else None,
        servers=tuple(w.caregiver.id for w in team),
    )
    for a in arrivals:
        _serve(a, draft, client.home)
    client.last_end_s = start + dur_s
    return draft


def _serve(a: _Arrival, draft: _Draft, place: Point) -> None:
    w = a.walk
    if a.lunch is not None:
        w.breaks.append(a.lunch)
        w.lunch_due = None
    w.stops.append((draft, a.arrival_s, draft.start_s))
    w.travel_s += a.leg_s
    w.work_s += a.leg_s + draft.duration_s
    w.free_s = draft.start_s + draft.duration_s
    w.pos = place


def _close(walk: _Walk) -> None:
    """End the walk: lunch if still owed (only with visits), then home."""
    walk.open = False
    if not walk.stops:
        return
    if walk.lunch_due is not None:
        due = walk.lunch_due
        lunch_s = max(walk.free_s, due.window[0])
        walk.breaks.append(BreakTaken(lunch_s, lunch_s + due.duration_s))
        walk.lunch_due = None
    home = walk.home_leg_s(walk.pos)
    walk.travel_s += home
    walk.work_s += home


def _mean_gap_s(walks: Sequence[_Walk], n_visits: int) -> float:
    """Idle time per visit that spreads ``n_visits`` over the day's shifts, 10 % held back."""
    shift_s = sum(
        w.caregiver.shift[1] - w.caregiver.shift[0] - sum(b.duration_s for b in w.caregiver.breaks)
        for w in walks
    )
    busy_s = n_visits * _BUSY_PER_VISIT_S
    return max(0.0, (0.9 * shift_s - busy_s) / max(1, n_visits))


_BUSY_PER_VISIT_S = 70 * 60
"""Service and travel of an average planted visit (two-staff ones counted twice)."""


def _plant(
    rng: random.Random, people: Sequence[tuple[Caregiver, District]], n_visits: int
) -> tuple[list[_Draft], list[_Walk], list[_Client]]:
    """Walk the caregivers through the day, earliest free first, until ``n_visits`` exist."""
    walks = [_Walk(c, d, c.start, c.shift[0], c.breaks[0] if c.breaks else None) for c, d in people]
    mean_gap = _mean_gap_s(walks, n_visits)
    drafts: list[_Draft] = []
    clients: list[_Client] = []
    while len(drafts) < n_visits:
        open_walks = [w for w in walks if w.open]
        if not open_walks:
            break
        walk = min(open_walks, key=lambda w: (w.free_s, w.caregiver.id))
        draft = _plant_visit(rng, walk, walks, clients, mean_gap)
        if draft is None:
            _close(walk)
        else:
            drafts.append(draft)
    for w in walks:
        if w.open:
            _close(w)
    return drafts, walks, clients


def _window_around(rng: random.Random, start_s: int) -> Window:
    """A 1-3 h window on quarter hours, from 08:00, with ``start_s`` somewhere inside."""
    width = rng.choice((60, 90, 120, 120, 150, 180)) * 60
    opens = 900 * ((start_s - rng.randint(0, width - 900)) // 900)
    opens = max(_EARLIEST_S, opens)
    return (opens, opens + width)


def _finish(rng: random.Random, draft: _Draft) -> None:
    """Windows (5 % of morning visits could also come in the afternoon) and priority."""
    first = _window_around(rng, draft.start_s)
    windows: tuple[Window, ...] = (first,)
    if first[1] <= _hm(12) and rng.random() < 0.05:
        opens = max(_hm(13), 900 * (first[1] // 900 + 1))
        windows = (first, (opens, opens + rng.choice((60, 90, 120)) * 60))
    draft.windows = windows
    draft.priority = rng.choice(draft.kind.priorities)


def _visits(
    rng: random.Random, drafts: Sequence[_Draft], caregivers: Sequence[Caregiver]
) -> tuple[list[Visit], dict[int, str]]:
    """Number visits and clients in a shuffled order, then add exclusions and preferences."""
    order = list(range(len(drafts)))
    rng.shuffle(order)
    client_ids: dict[int, str] = {}
    visit_ids: dict[int, str] = {}
    visits: list[Visit] = []
    for k in order:
        d = drafts[k]
        _finish(rng, d)
        cid = client_ids.setdefault(d.client.number, f"c-{len(client_ids) + 1:04d}")
        visit_ids[k] = f"v-{len(visits) + 1:04d}"
        visits.append(
            Visit(
                id=visit_ids[k],
                client_id=cid,
                location=d.client.home,
                windows=d.windows,
                duration_min=d.duration_s // 60,
                skills=d.kind.skills,
                staff=d.staff,
                priority=d.priority,
                gender=d.gender,
                volunteer_ok=d.kind.volunteer_ok,
            )
        )
    servers = [drafts[k].servers for k in order]
    return _with_people(rng, visits, servers, caregivers), visit_ids


def _can_serve(c: Caregiver, v: Visit) -> bool:
    """Eligible and on shift during one of the visit's windows."""
    if not v.skills <= c.skills or c.id in v.excluded_caregivers:
        return False
    if v.gender is not None and c.gender != v.gender:
        return False
    if c.volunteer and not v.volunteer_ok:
        return False
    return any(c.shift[0] <= b and a + v.duration_s <= c.shift[1] for a, b in v.windows)


def _with_people(
    rng: random.Random,
    visits: Sequence[Visit],
    servers: Sequence[tuple[str, ...]],
    caregivers: Sequence[Caregiver],
) -> list[Visit]:
    """Add exclusions (2 %, never of whoever served it in the witness) and a plausible
    preferred caregiver (70 %): the client's regular one, often who served it."""
    out: list[Visit] = []
    regular: dict[str, str] = {}  # client -> their usual caregiver
    for v, served_by in zip(visits, servers, strict=True):
        near = sorted(caregivers, key=lambda c: (_km(c.start, v.location), c.id))[:12]
        others = [c for c in near[:6] if c.id not in served_by]
        if others and rng.random() < 0.02:
            v = replace(v, excluded_caregivers=frozenset({rng.choice(others).id}))
        if rng.random() < 0.71:  # a few find no plausible caregiver nearby
            able = [c.id for c in near if _can_serve(c, v) and _km(c.start, v.location) <= _MAX_KM]
            usual = regular.get(v.client_id)
            chosen = usual if usual in able else None
            if chosen is None and served_by and served_by[0] in able and rng.random() < 0.6:
                chosen = served_by[0]
            if chosen is None and able:
                chosen = rng.choice(able[:4])
            if chosen is not None:
                regular.setdefault(v.client_id, chosen)
                v = replace(v, preferred_caregivers=(chosen,))
        out.append(v)
    return out


def _witness(
    problem: DayProblem, walks: Sequence[_Walk], visit_ids: dict[int, str], drafts: list[_Draft]
) -> DayPlan:
    """The planted walks as a plan of ``problem`` (KPIs computed here, checked in tests)."""
    index = {id(d): k for k, d in enumerate(drafts)}
    routes = []
    for w in walks:
        stops = tuple(
            Stop(visit_ids[index[id(d)]], arrival, start, start + d.duration_s)
            for d, arrival, start in w.stops
        )
        routes.append(Route(w.caregiver.id, stops, tuple(w.breaks), w.travel_s, w.work_s))
    by_visit: dict[str, set[str]] = {}
    for r in routes:
        for s in r.stops:
            by_visit.setdefault(s.visit_id, set()).add(r.caregiver_id)
    named = [v for v in problem.visits if v.id in by_visit and v.preferred_caregivers]
    kept = sum(1 for v in named if by_visit[v.id] & set(v.preferred_caregivers))
    kpis = Kpis(
        visits=len(problem.visits),
        assigned=len(by_visit),
        travel_s=sum(r.travel_s for r in routes),
        continuity_rate=kept / len(named) if named else 1.0,
    )
    unassigned = tuple(
        Unassigned(v.id, UNPLANTED_REASON) for v in problem.visits if v.id not in by_visit
    )
    return DayPlan(tuple(routes), unassigned, kpis, SolverInfo("witness", 0.0, 0.0, 0))


def _unplanted(
    rng: random.Random,
    count: int,
    clients: list[_Client],
    people: Sequence[tuple[Caregiver, District]],
) -> list[_Draft]:
    """Visits beyond what the caregivers could be walked through: no witness holds them."""
    out = []
    for _ in range(count):
        d = rng.choices(DISTRICTS, weights=[x.weight for x in DISTRICTS])[0]
        clients.append(
            _Client(len(clients) + 1, _offset(rng, d.centre, d.spread_km, d.centre), d, 0)
        )
        kind = rng.choice((_NURSING, _PERSONAL, _PERSONAL, _PERSONAL, _COMPANY))
        start = _EARLIEST_S + 900 * rng.randint(0, 28)
        out.append(
            _Draft(clients[-1], kind, 1, 60 * rng.choice(kind.durations_min), start, None, ())
        )
    return out


def generate_day_with_witness(
    n_visits: int = 400,
    seed: int = 0,
    *,
    date: dt.date = dt.date(2026, 11, 26),
    n_caregivers: int | None = None,
    n_volunteers: int | None = None,
) -> GeneratedDay:
    """Generate a realistic, seeded Nantong care day and the plan it was planted from.

    Parameters
    ----------
    n_visits : int
        Number of visits (some clients have two).
    seed : int
        Seed of the only random generator used; same arguments, same day.
    date : datetime.date
        The day's date.
    n_caregivers : int, optional
        Caregivers in total, volunteers included; by default about 71 per 400
        visits.
    n_volunteers : int, optional
        How many of the caregivers are volunteers; by default about 8 per 400
        visits.

    Returns
    -------
    GeneratedDay
        The problem (geodesic travel, detour factor 1.3, default weights, no locks)
        and the witness: a valid plan serving every visit it could plant (all of
        them unless the caregivers were too few).

    Raises
    ------
    ValueError
        On a negative count or more volunteers than caregivers.
    """
    if n_visits < 0:
        raise ValueError(f"n_visits must be >= 0, got {n_visits}")
    volunteers = round(n_visits * VOLUNTEERS_PER_VISIT) if n_volunteers is None else n_volunteers
    total = (
        max(1, round(n_visits * STAFF_PER_VISIT)) + volunteers
        if n_caregivers is None
        else n_caregivers
    )
    if volunteers < 0 or total < 0 or volunteers > total:
        raise ValueError(f"need 0 <= n_volunteers <= n_caregivers, got {volunteers} and {total}")
    rng = random.Random(seed)
    people = _caregivers(rng, total - volunteers, volunteers)
    drafts, walks, clients = _plant(rng, people, n_visits)
    drafts += _unplanted(rng, n_visits - len(drafts), clients, people)
    caregivers = [c for c, _ in people]
    visits, visit_ids = _visits(rng, drafts, caregivers)
    problem = DayProblem(
        date=date,
        caregivers=tuple(caregivers),
        visits=tuple(visits),
        travel=_TRAVEL,
        timezone="Asia/Shanghai",
        weights=Weights(1, 30, {1: 100_000, 2: 10_000, 3: 1_000}),
    )
    return GeneratedDay(problem, _witness(problem, walks, visit_ids, drafts))


def generate_day(
    n_visits: int = 400,
    seed: int = 0,
    *,
    date: dt.date = dt.date(2026, 11, 26),
    n_caregivers: int | None = None,
    n_volunteers: int | None = None,
) -> DayProblem:
    """The problem of ``generate_day_with_witness`` with the same arguments."""
    return generate_day_with_witness(
        n_visits, seed, date=date, n_caregivers=n_caregivers, n_volunteers=n_volunteers
    ).problem
