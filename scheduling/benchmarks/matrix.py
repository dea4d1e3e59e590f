"""The travel-matrix benchmark: a generated day's matrices, vectorised against geopy.

Issue 3 asks for a 1,000-visit day's travel matrix in seconds, with the same WGS-84
geodesic as geopy's ``geodesic`` (Karney's algorithm), which costs tens of microseconds a
pair in pure Python. ``run_matrix`` times ``build_travel_times`` (pyproj's ``Geod`` over
every pair at once, scaled per travel mode) on a generated day, times geopy on a random
sample of the same pairs, and checks that every sampled travel time agrees with geopy's
to the second by the format's rule. geopy's time for the whole matrix is extrapolated
from the sample's mean (a full run would take tens of seconds for every benchmark), and
the figures say so.
"""

from __future__ import annotations

import random
import statistics
import time
from dataclasses import dataclass

from geopy.distance import geodesic

from ..generate import generate_day
from ..problem import DayProblem
from ..travel import TravelTimes, build_travel_times, travel_seconds

_REPEATS = 3
"""Matrix builds timed; the best and the median are reported."""


@dataclass(frozen=True)
class MatrixResult:
    """Figures of one matrix benchmark run.

    Attributes
    ----------
    visits, places, modes
        The generated day: its visits, its distinct places (caregivers' starts and ends
        and visits' locations) and the travel modes it needs a matrix for.
    distances
        Distinct geodesic distances of the day (one per unordered pair of places).
    build_best_s, build_median_s
        Wall time of ``build_travel_times`` for the whole day, best and median of the
        repeats: every distance once, then one matrix of seconds per mode.
    geopy_pairs, geopy_s
        Pairs sampled for geopy and the wall time of their ``geodesic`` calls.
    checked, mismatches
        Sampled travel times (pairs times modes) compared with geopy's by the format's
        rule, and how many differ (by any amount).
    """

    visits: int
    places: int
    modes: tuple[str, ...]
    distances: int
    build_best_s: float
    build_median_s: float
    geopy_pairs: int
    geopy_s: float
    checked: int
    mismatches: int

    @property
    def geopy_us_per_pair(self) -> float:
        """geopy's mean time a pair on the sample, in microseconds."""
        return 1e6 * self.geopy_s / self.geopy_pairs if self.geopy_pairs else 0.0

    @property
    def geopy_full_s(self) -> float:
        """geopy's time for all ``distances`` of the day, extrapolated from the sample."""
        return self.geopy_us_per_pair * self.distances / 1e6

    @property
    def agrees(self) -> bool:
        """Whether every sampled travel time equals geopy's."""
        return self.mismatches == 0


def run_matrix(visits: int, seed: int, geopy_pairs: int) -> MatrixResult:
    """Generate a day of ``visits`` visits with ``seed``, time its travel matrices and
    compare ``geopy_pairs`` random pairs of places (drawn with ``seed``) with geopy."""
    problem = generate_day(visits, seed)
    builds = []
    for _ in range(_REPEATS):
        t0 = time.perf_counter()
        times = build_travel_times(problem)
        builds.append(time.perf_counter() - t0)
    places = len(times.points)
    pairs = _sample_pairs(places, geopy_pairs, random.Random(seed))
    geopy_s, checked, mismatches = _compare_with_geopy(problem, times, pairs)
    return MatrixResult(
        visits=len(problem.visits),
        places=places,
        modes=tuple(sorted(times.by_mode)),
        distances=places * (places - 1) // 2,
        build_best_s=min(builds),
        build_median_s=statistics.median(builds),
        geopy_pairs=len(pairs),
        geopy_s=geopy_s,
        checked=checked,
        mismatches=mismatches,
    )


def _sample_pairs(places: int, count: int, rng: random.Random) -> list[tuple[int, int]]:
    """``count`` ordered pairs of distinct places, drawn with replacement."""
    if places < 2:
        return []
    out = []
    for _ in range(count):
        a = rng.randrange(places)
        b = rng.randrange(places - 1)
        out.append((a, b + (b >= a)))
    return out


def _compare_with_geopy(
    problem: DayProblem, times: TravelTimes, pairs: list[tuple[int, int]]
) -> tuple[float, int, int]:
    """geopy's time for ``pairs``, the travel times compared, and how many differ."""
    points = times.points
    t0 = time.perf_counter()
    metres = [geodesic(points[a], points[b]).meters for a, b in pairs]
    elapsed = time.perf_counter() - t0
    travel = problem.travel
    checked = mismatches = 0
    for mode, matrix in times.by_mode.items():
        speed = travel.speeds_kmh[mode]
        for (a, b), m in zip(pairs, metres, strict=True):
            checked += 1
            mismatches += int(matrix[a, b]) != travel_seconds(m, travel.detour_factor, speed)
    return elapsed, checked, mismatches


def matrix_table(r: MatrixResult) -> str:
    """The run's figures as a few lines of text."""
    verdict = "agree" if r.agrees else "DIFFER"
    return "\n".join(
        [
            f"matrix: generated day of {r.visits} visits, {r.places} places, "
            f"modes {', '.join(r.modes)}",
            f"  vectorised (pyproj Geod): {r.build_best_s:.3f} s best of {_REPEATS} "
            f"(median {r.build_median_s:.3f} s) for {r.distances:,} distances and "
            f"{len(r.modes)} matrices of {r.places:,} x {r.places:,} seconds",
            f"  geopy (pure Python): {r.geopy_us_per_pair:.1f} us a pair on {r.geopy_pairs:,} "
            f"sampled pairs ({r.geopy_s:.2f} s); about {r.geopy_full_s:.1f} s for the "
            f"{r.distances:,} distances (extrapolated)",
            f"  agreement with geopy to the second: {r.checked - r.mismatches:,} of "
            f"{r.checked:,} sampled travel times ({r.mismatches} differ): {verdict}",
        ]
    )
