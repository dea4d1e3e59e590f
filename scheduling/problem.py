"""The day problem and the day plan as frozen, validated-on-read data.

These are the in-memory shapes of the exchange format ``careroute.day/1`` and
``careroute.plan/1`` (see ``docs/formats/dayproblem.md``). Times of day are held
as whole seconds since local midnight of the problem's date; durations as whole
seconds or minutes (the unit is the last word of the name). Coordinates are
``(lat, lon)`` WGS-84 degrees.

A few fields are not part of the exchange format and are only set by code:
``Caregiver.capacity``, ``Visit.demand``, ``Visit.service_s`` and ``Weights.route_fixed``. The VRPTW
benchmark sets (Solomon, Gehring & Homberger) need vehicle capacity and a fixed
cost per used route; a care day never does.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

Point = tuple[float, float]
"""A WGS-84 position as ``(lat, lon)`` in degrees."""

Window = tuple[int, int]
"""A closed interval ``[open_s, close_s]`` in seconds since local midnight."""

TravelModel = Literal["geodesic", "matrix"]


@dataclass(frozen=True)
class Break:
    """A break taken whole, between visits, starting and ending inside ``window``."""

    window: Window
    duration_s: int


@dataclass(frozen=True)
class Caregiver:
    """A member of staff (or a volunteer) with a shift, a start and an end place."""

    id: str
    mode: str
    skills: frozenset[str]
    start: Point
    end: Point
    shift: Window
    gender: str | None = None
    breaks: tuple[Break, ...] = ()
    max_work_min: int | None = None
    max_visits: int | None = None
    volunteer: bool = False
    capacity: int | None = None


@dataclass(frozen=True)
class Visit:
    """A service visit to a client's home.

    ``staff == 2`` means two different caregivers start the visit at the same time.
    Service must start inside one of ``windows``; arriving early means waiting.
    """

    id: str
    client_id: str
    location: Point
    windows: tuple[Window, ...]
    duration_min: int
    skills: frozenset[str] = frozenset()
    staff: int = 1
    priority: int = 1
    gender: str | None = None
    preferred_caregivers: tuple[str, ...] = ()
    excluded_caregivers: frozenset[str] = frozenset()
    volunteer_ok: bool = False
    demand: int = 0
    service_s: int | None = None

    @property
    def duration_s(self) -> int:
        """Service duration in seconds: ``service_s`` when set, else ``duration_min``.

        ``service_s`` exists for the scaled VRPTW benchmarks, whose service times are
        not whole minutes; a care day never sets it.
        """
        if self.service_s is not None:
            return self.service_s
        return self.duration_min * 60


@dataclass(frozen=True)
class Lock:
    """Pins a visit to a caregiver and, when ``start_s`` is set, to a start time."""

    visit_id: str
    caregiver_id: str
    start_s: int | None = None


@dataclass(frozen=True)
class Weights:
    """Objective weights: travel per minute, a missed preferred caregiver, and the
    cost of leaving a visit unassigned by priority (1 is highest)."""

    travel_per_min: int = 1
    continuity_miss: int = 30
    unassigned: Mapping[int, int] = field(default_factory=lambda: {1: 100_000, 2: 10_000, 3: 1_000})
    route_fixed: int = 0

    def unassigned_cost(self, priority: int) -> int:
        """Cost of leaving a visit of ``priority`` unassigned.

        A priority missing from the table costs as much as the lowest listed one.
        """
        if priority in self.unassigned:
            return self.unassigned[priority]
        return min(self.unassigned.values()) if self.unassigned else 0


@dataclass(frozen=True)
class Travel:
    """How travel times are obtained: the geodesic rule, or an explicit matrix."""

    model: TravelModel = "geodesic"
    detour_factor: float = 1.3
    speeds_kmh: Mapping[str, float] = field(
        default_factory=lambda: {"walk": 4.5, "ebike": 15.0, "car": 25.0}
    )
    points: tuple[Point, ...] = ()
    seconds: tuple[tuple[int, ...], ...] = ()


@dataclass(frozen=True)
class DayProblem:
    """One dispatcher's day: caregivers, visits, locks and objective weights."""

    date: dt.date
    caregivers: tuple[Caregiver, ...]
    visits: tuple[Visit, ...]
    travel: Travel = field(default_factory=Travel)
    timezone: str = "Asia/Shanghai"
    locks: tuple[Lock, ...] = ()
    weights: Weights = field(default_factory=Weights)

    def visit(self, visit_id: str) -> Visit:
        """The visit with ``visit_id``; raises KeyError if there is none."""
        for v in self.visits:
            if v.id == visit_id:
                return v
        raise KeyError(visit_id)

    def caregiver(self, caregiver_id: str) -> Caregiver:
        """The caregiver with ``caregiver_id``; raises KeyError if there is none."""
        for c in self.caregivers:
            if c.id == caregiver_id:
                return c
        raise KeyError(caregiver_id)


@dataclass(frozen=True)
class Stop:
    """A visit on a route: when the caregiver arrives, starts and ends service."""

    visit_id: str
    arrival_s: int
    start_s: int
    end_s: int


@dataclass(frozen=True)
class BreakTaken:
    start_s: int
    end_s: int


@dataclass(frozen=True)
class Route:
    """One caregiver's day. ``work_s`` is service plus travel (no waiting, no breaks)."""

    caregiver_id: str
    stops: tuple[Stop, ...] = ()
    breaks: tuple[BreakTaken, ...] = ()
    travel_s: int = 0
    work_s: int = 0


@dataclass(frozen=True)
class Unassigned:
    visit_id: str
    reason: str


@dataclass(frozen=True)
class Kpis:
    visits: int
    assigned: int
    travel_s: int
    continuity_rate: float


@dataclass(frozen=True)
class SolverInfo:
    name: str
    time_limit_s: float
    wall_s: float
    objective: int


@dataclass(frozen=True)
class DayPlan:
    """The answer to a day problem. Valid only if ``scheduling.check`` finds no
    violation of it against its problem."""

    routes: tuple[Route, ...]
    unassigned: tuple[Unassigned, ...]
    kpis: Kpis
    solver: SolverInfo
