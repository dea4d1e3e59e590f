"""Travel times between the places of a day.

The exchange format defines the geodesic rule: travel from ``a`` to ``b`` takes
``ceil(geodesic_metres * detour_factor / (speed_kmh / 3.6))`` seconds, with the
WGS-84 ellipsoid distance of Karney's algorithm (what geopy's ``geodesic`` uses)
and the speed of the caregiver's travel mode. geopy costs tens of microseconds a
pair in pure Python; here the whole matrix is computed at once with pyproj's
``Geod`` (the same algorithm in C), so a 1,000-place day is ready in seconds.

A road-network engine can replace the rule by implementing ``MatrixProvider``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt
from pyproj import Geod

from .problem import DayProblem, Point

_WGS84 = Geod(ellps="WGS84")

IntMatrix = npt.NDArray[np.int64]


class MatrixProvider(Protocol):
    """Anything that turns places and a travel mode into a matrix of whole seconds."""

    def seconds(self, points: Sequence[Point], mode: str) -> IntMatrix:
        """Travel seconds from ``points[i]`` to ``points[j]`` for ``mode``."""
        ...


def geodesic_metres(points: Sequence[Point]) -> npt.NDArray[np.float64]:
    """Symmetric matrix of WGS-84 geodesic distances in metres between ``points``."""
    n = len(points)
    out = np.zeros((n, n), dtype=np.float64)
    if n < 2:
        return out
    lat = np.fromiter((p[0] for p in points), dtype=np.float64, count=n)
    lon = np.fromiter((p[1] for p in points), dtype=np.float64, count=n)
    i, j = np.triu_indices(n, k=1)
    _, _, dist = _WGS84.inv(lon[i], lat[i], lon[j], lat[j])
    out[i, j] = dist
    out[j, i] = dist
    return out


def seconds_from_metres(
    metres: npt.NDArray[np.float64], detour_factor: float, speed_kmh: float
) -> IntMatrix:
    """Apply the format's rounding rule; the operation order matches ``travel_seconds``."""
    if speed_kmh <= 0:
        raise ValueError(f"speed must be positive, got {speed_kmh}")
    return np.ceil(metres * detour_factor / (speed_kmh / 3.6)).astype(np.int64)


def travel_seconds(metres: float, detour_factor: float, speed_kmh: float) -> int:
    """The format's rule for one pair, in plain Python."""
    return math.ceil(metres * detour_factor / (speed_kmh / 3.6))


@dataclass(frozen=True)
class GeodesicProvider:
    """The format's ``geodesic`` travel model."""

    detour_factor: float
    speeds_kmh: Mapping[str, float]

    def seconds(self, points: Sequence[Point], mode: str) -> IntMatrix:
        try:
            speed = self.speeds_kmh[mode]
        except KeyError:
            raise ValueError(f"no speed for travel mode {mode!r}") from None
        return seconds_from_metres(geodesic_metres(points), self.detour_factor, speed)


@dataclass(frozen=True)
class FixedMatrixProvider:
    """The format's ``matrix`` travel model: one given matrix for every mode."""

    points: tuple[Point, ...]
    matrix: tuple[tuple[int, ...], ...]

    def seconds(self, points: Sequence[Point], mode: str) -> IntMatrix:
        full = np.asarray(self.matrix, dtype=np.int64)
        where = {p: k for k, p in enumerate(self.points)}
        try:
            idx = np.fromiter((where[p] for p in points), dtype=np.int64, count=len(points))
        except KeyError as exc:
            raise ValueError(f"place {exc.args[0]} is not one of travel.points") from None
        return full[np.ix_(idx, idx)]


@dataclass(frozen=True)
class TravelTimes:
    """Travel seconds between the distinct places of one day, per travel mode."""

    points: tuple[Point, ...]
    index: Mapping[Point, int]
    by_mode: Mapping[str, IntMatrix]

    def seconds(self, mode: str, a: Point, b: Point) -> int:
        """Seconds from ``a`` to ``b`` for ``mode``; both must be places of the day."""
        return int(self.by_mode[mode][self.index[a], self.index[b]])


def provider_for(problem: DayProblem) -> MatrixProvider:
    """The provider that the problem's ``travel`` section asks for."""
    t = problem.travel
    if t.model == "matrix":
        return FixedMatrixProvider(t.points, t.seconds)
    return GeodesicProvider(t.detour_factor, t.speeds_kmh)


def day_points(problem: DayProblem) -> tuple[Point, ...]:
    """Every distinct place of the day, caregivers' starts and ends first."""
    seen: dict[Point, None] = {}
    for c in problem.caregivers:
        seen.setdefault(c.start)
        seen.setdefault(c.end)
    for v in problem.visits:
        seen.setdefault(v.location)
    return tuple(seen)


def build_travel_times(
    problem: DayProblem,
    provider: MatrixProvider | None = None,
    modes: Iterable[str] | None = None,
) -> TravelTimes:
    """Travel times for every mode the day's caregivers use (or ``modes``).

    The geodesic distances are computed once and scaled per mode.
    """
    points = day_points(problem)
    wanted = sorted(set(modes) if modes is not None else {c.mode for c in problem.caregivers})
    prov = provider if provider is not None else provider_for(problem)
    by_mode: dict[str, IntMatrix] = {}
    if isinstance(prov, GeodesicProvider):
        metres = geodesic_metres(points)
        for mode in wanted:
            if mode not in prov.speeds_kmh:
                raise ValueError(f"no speed for travel mode {mode!r}")
            by_mode[mode] = seconds_from_metres(metres, prov.detour_factor, prov.speeds_kmh[mode])
    else:
        for mode in wanted:
            by_mode[mode] = prov.seconds(points, mode)
    return TravelTimes(points, {p: k for k, p in enumerate(points)}, by_mode)
