"""Seeded generator of realistic care days in Nantong.

Nantong was China's first long-term-care-insurance pilot city. A generated day
looks like one agency's dispatch day there: clients clustered around the urban
district centres (Chongchuan, Gangzha, the development zone, Tongzhou, Haimen),
caregivers living in the district they serve and riding e-bikes (a few walk, a
few drive), 8-9 h shifts starting 07:30-08:30 with a lunch break, and a handful
of time-bank volunteers on half-day shifts who only take companionship visits.

The mix is what the field reports describe: about 20 % nursing visits, 5 %
two-staff visits (transfers, bathing), 25 % asking for a same-gender
caregiver and 70 % naming a preferred caregiver (one who could actually serve
them). Staff is sized to make the day tight but plannable: 400 visits come with
about 71 caregivers, 8 of them volunteers.

Only ``random.Random(seed)`` is used, and nothing iterates an unordered set, so
the same arguments give the same problem on every machine and run.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, replace

from .problem import Break, Caregiver, DayProblem, Point, Travel, Visit, Weights, Window

__all__ = ["DISTRICTS", "District", "generate_day"]

_KM_PER_DEG_LAT = 111.2
_MAX_KM = 10.0

STAFF_PER_VISIT = 63 / 400
"""Paid caregivers per visit: tight but plannable for 8-9 h shifts on e-bikes."""

VOLUNTEERS_PER_VISIT = 8 / 400
"""Time-bank volunteers per visit (they take only companionship visits)."""


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


def _offset(rng: random.Random, centre: Point, spread_km: float) -> Point:
    """A point scattered normally around ``centre``, redrawn beyond ``_MAX_KM``."""
    while True:
        dy, dx = rng.gauss(0.0, spread_km), rng.gauss(0.0, spread_km)
        if math.hypot(dx, dy) <= _MAX_KM:
            break
    lat = centre[0] + dy / _KM_PER_DEG_LAT
    lon = centre[1] + dx / (_KM_PER_DEG_LAT * math.cos(math.radians(centre[0])))
    return (round(lat, 6), round(lon, 6))


def _km(a: Point, b: Point) -> float:
    """Flat-earth distance, good enough to rank nearby caregivers."""
    dy = (a[0] - b[0]) * _KM_PER_DEG_LAT
    dx = (a[1] - b[1]) * _KM_PER_DEG_LAT * math.cos(math.radians(a[0]))
    return math.hypot(dx, dy)


def _hm(h: int, m: int = 0) -> int:
    return h * 3600 + m * 60


def _window(rng: random.Random, earliest: int, latest: int) -> Window:
    """A 1-3 h window whose start lies on a quarter hour in ``[earliest, latest]``."""
    start = earliest + 900 * rng.randint(0, (latest - earliest) // 900)
    width = rng.choice((60, 90, 120, 120, 150, 180)) * 60
    return (start, min(start + width, _hm(16, 30)))


def _day_part(rng: random.Random, part: str) -> Window:
    if part == "morning":
        return _window(rng, _hm(8), _hm(10, 30))
    if part == "midday":
        return _window(rng, _hm(10, 30), _hm(13))
    return _window(rng, _hm(13), _hm(14, 30))


def _windows(rng: random.Random, kind: _Kind, part: str) -> tuple[Window, ...]:
    if kind.volunteer_ok:
        # Companionship fits the half-day shifts of volunteers.
        if part == "morning":
            return (_window(rng, _hm(8, 45), _hm(10)),)
        return (_window(rng, _hm(13, 45), _hm(15)),)
    first = _day_part(rng, part)
    if part == "morning" and rng.random() < 0.05:
        return (first, _day_part(rng, "afternoon"))
    return (first,)


def _pick_part(rng: random.Random) -> str:
    r = rng.random()
    return "morning" if r < 0.55 else "midday" if r < 0.70 else "afternoon"


def _pick_kind(rng: random.Random) -> tuple[_Kind, int]:
    r = rng.random()
    if r < 0.20:
        return _NURSING, 1
    if r < 0.25:
        return _BATHING, 2
    if r < 0.35:
        return _COMPANY, 1
    return _PERSONAL, 1


def _pick_district(rng: random.Random) -> District:
    return rng.choices(DISTRICTS, weights=[d.weight for d in DISTRICTS])[0]


@dataclass(frozen=True)
class _Draft:
    """A visit before caregivers exist (preferences are added afterwards)."""

    visit: Visit
    district: District


def _draft_visits(rng: random.Random, n_visits: int) -> list[_Draft]:
    drafts: list[_Draft] = []
    client = 0
    while len(drafts) < n_visits:
        client += 1
        district = _pick_district(rng)
        home = _offset(rng, district.centre, district.spread_km)
        client_gender = "f" if rng.random() < 0.58 else "m"
        wants_gender = rng.random() < 0.25
        parts = [_pick_part(rng)]
        if rng.random() < 0.12 and len(drafts) + 1 < n_visits:
            parts = ["morning", "afternoon"]  # a morning and an evening round
        for part in parts:
            kind, staff = _pick_kind(rng)
            drafts.append(
                _Draft(
                    Visit(
                        id=f"v-{len(drafts) + 1:04d}",
                        client_id=f"c-{client:04d}",
                        location=home,
                        windows=_windows(rng, kind, part),
                        duration_min=rng.choice(kind.durations_min),
                        skills=kind.skills,
                        staff=staff,
                        priority=rng.choice(kind.priorities),
                        gender=client_gender if wants_gender else None,
                        volunteer_ok=kind.volunteer_ok,
                    ),
                    district,
                )
            )
    return drafts


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
    home = _offset(rng, district.centre, district.spread_km)
    r = rng.random()
    mode = "ebike" if r < 0.80 else "walk" if r < 0.92 else "car"
    open_s = _hm(7, 30) + 900 * rng.randint(0, 4)
    length_s = rng.choice((8 * 3600, 8 * 3600 + 1800, 9 * 3600))
    lunch_min = rng.choice((30, 45, 60))
    skills = {"personal_care", "companionship"}
    if rng.random() < 0.30:
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
    home = _offset(rng, district.centre, district.spread_km)
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


_NURSE_MIN_PER_DAY = 300
"""Nursing minutes one nurse is counted on for when staffing a district."""


def _cover(staff: list[Caregiver], visits: Sequence[Visit]) -> list[Caregiver]:
    """Adjust a district's staff so every kind of visit there has someone to serve it.

    Random draws can leave a district without a male caregiver, or with one male
    nurse for a morning of male-only nursing visits. Agencies hire for their
    clients, so the day gets at least one caregiver of each requested gender and
    a nurse per ``_NURSE_MIN_PER_DAY`` nursing minutes for each gender asked for
    (and for all nursing visits together). Changes go to the lowest ids, so the
    result stays deterministic.
    """
    staff = list(staff)
    asked = sorted({v.gender for v in visits if v.gender is not None})
    for g in asked:
        if staff and not any(c.gender == g for c in staff):
            k = next((i for i, c in enumerate(staff) if "nursing" not in c.skills), 0)
            staff[k] = replace(staff[k], gender=g)
    genders: list[str | None] = [None, *asked]
    for gender in genders:
        minutes = sum(
            v.duration_min * v.staff
            for v in visits
            if "nursing" in v.skills and (gender is None or v.gender == gender)
        )
        wanted = math.ceil(minutes / _NURSE_MIN_PER_DAY)
        same = [i for i, c in enumerate(staff) if gender is None or c.gender == gender]
        nurses = sum("nursing" in staff[i].skills for i in same)
        for i in same:
            if nurses >= wanted:
                break
            if "nursing" not in staff[i].skills:
                staff[i] = replace(staff[i], skills=staff[i].skills | {"nursing"})
                nurses += 1
    return staff


def _caregivers(
    rng: random.Random, drafts: Sequence[_Draft], n_staff: int, n_volunteers: int
) -> list[Caregiver]:
    work: list[float] = [
        sum(d.visit.duration_min * d.visit.staff for d in drafts if d.district is dist)
        for dist in DISTRICTS
    ]
    company: list[float] = [
        sum(1 for d in drafts if d.district is dist and d.visit.volunteer_ok) for dist in DISTRICTS
    ]
    if not any(work):
        work = [d.weight for d in DISTRICTS]
    if not any(company):
        company = work
    out: list[Caregiver] = []
    for dist, n in zip(DISTRICTS, _allocate(n_staff, work), strict=True):
        staff = [_staff(rng, f"cg-{len(out) + k + 1:03d}", dist) for k in range(n)]
        out.extend(_cover(staff, [d.visit for d in drafts if d.district is dist]))
    volunteers: list[Caregiver] = []
    for dist, n in zip(DISTRICTS, _allocate(n_volunteers, company), strict=True):
        volunteers.extend(_volunteer(rng, f"vol-{len(volunteers) + 1:02d}", dist) for _ in range(n))
    return out + volunteers


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
    rng: random.Random, drafts: Sequence[_Draft], caregivers: Sequence[Caregiver]
) -> list[Visit]:
    """Add exclusions (2 %) and a plausible preferred caregiver (70 %) to each visit."""
    visits: list[Visit] = []
    regular: dict[str, str] = {}  # client -> their usual caregiver
    for d in drafts:
        v = d.visit
        near = sorted(caregivers, key=lambda c: (_km(c.start, v.location), c.id))[:12]
        if rng.random() < 0.02:
            v = replace(v, excluded_caregivers=frozenset({rng.choice(near[:6]).id}))
        if rng.random() < 0.71:  # a few find no plausible caregiver nearby
            usual = regular.get(v.client_id)
            able = [c for c in near if _can_serve(c, v) and _km(c.start, v.location) <= _MAX_KM]
            chosen = usual if usual in {c.id for c in able} else None
            if chosen is None and able:
                chosen = rng.choice(able[:4]).id
            if chosen is not None:
                regular.setdefault(v.client_id, chosen)
                v = replace(v, preferred_caregivers=(chosen,))
        visits.append(v)
    return visits


def generate_day(
    n_visits: int = 400,
    seed: int = 0,
    *,
    date: dt.date = dt.date(2026, 11, 26),
    n_caregivers: int | None = None,
    n_volunteers: int | None = None,
) -> DayProblem:
    """Generate a realistic, seeded Nantong care day.

    Parameters
    ----------
    n_visits : int
        Number of visits (clients have one or two).
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
    DayProblem
        Geodesic travel (detour factor 1.3), default weights, no locks.

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
    drafts = _draft_visits(rng, n_visits)
    caregivers = _caregivers(rng, drafts, total - volunteers, volunteers)
    visits = _with_people(rng, drafts, caregivers)
    return DayProblem(
        date=date,
        caregivers=tuple(caregivers),
        visits=tuple(visits),
        travel=Travel("geodesic", 1.3, {"walk": 4.5, "ebike": 15.0, "car": 25.0}),
        timezone="Asia/Shanghai",
        weights=Weights(1, 30, {1: 100_000, 2: 10_000, 3: 1_000}),
    )
