"""The vectorised travel matrix agrees with the format's rule computed one pair at a time."""

from __future__ import annotations

import datetime as dt
import math
import random

import numpy as np
import pytest
from geopy.distance import geodesic

from scheduling.problem import Caregiver, DayProblem, Point, Travel, Visit
from scheduling.travel import (
    FixedMatrixProvider,
    GeodesicProvider,
    build_travel_times,
    day_points,
    travel_seconds,
)

SPEEDS = {"walk": 4.5, "ebike": 15.0, "car": 25.0}


def nantong_points(n: int, seed: int) -> list[Point]:
    """Random places over greater Nantong, from Gangzha to Haimen (~45 km across)."""
    rng = random.Random(seed)
    return [(rng.uniform(31.85, 32.12), rng.uniform(120.75, 121.25)) for _ in range(n)]


def day_at(points: list[Point]) -> DayProblem:
    caregivers = tuple(
        Caregiver(mode, mode, frozenset(), points[k], points[k], (8 * 3600, 17 * 3600))
        for k, mode in enumerate(SPEEDS)
    )
    visits = tuple(
        Visit(f"v{k}", f"c{k}", p, ((9 * 3600, 10 * 3600),), 30)
        for k, p in enumerate(points[len(SPEEDS) :])
    )
    return DayProblem(dt.date(2026, 11, 26), caregivers, visits, Travel("geodesic", 1.3, SPEEDS))


def by_geopy(a: Point, b: Point, speed_kmh: float, detour: float = 1.3) -> int:
    return math.ceil(geodesic(a, b).meters * detour / (speed_kmh / 3.6))


@pytest.mark.parametrize("mode", sorted(SPEEDS))
def test_matrix_agrees_with_geopy_to_the_second(mode: str) -> None:
    points = nantong_points(120, seed=11)
    times = build_travel_times(day_at(points))
    rng = random.Random(sorted(SPEEDS).index(mode))
    pairs = [(rng.randrange(len(points)), rng.randrange(len(points))) for _ in range(300)]
    for i, j in pairs:
        a, b = points[i], points[j]
        assert times.seconds(mode, a, b) == by_geopy(a, b, SPEEDS[mode]), (a, b)


def test_single_pair_rule_matches_geopy() -> None:
    a, b = (32.0103, 120.8642), (32.0241, 120.8815)
    metres = geodesic(a, b).meters
    assert travel_seconds(metres, 1.3, 15.0) == by_geopy(a, b, 15.0)
    assert 600 < travel_seconds(metres, 1.3, 15.0) < 800  # ~2.2 km by e-bike


def test_matrix_is_symmetric_with_zero_diagonal() -> None:
    points = nantong_points(40, seed=3)
    m = build_travel_times(day_at(points)).by_mode["ebike"]
    assert m.shape == (40, 40)
    assert np.array_equal(m, m.T)
    assert not np.diag(m).any()
    assert (m[~np.eye(40, dtype=bool)] > 0).all()


def test_day_points_are_distinct_and_starts_come_first(tiny_day: DayProblem) -> None:
    points = day_points(tiny_day)
    assert len(points) == len(set(points)) == 11
    assert points[0] == tiny_day.caregivers[0].start


def test_geodesic_provider_refuses_an_unknown_mode() -> None:
    provider = GeodesicProvider(1.3, SPEEDS)
    with pytest.raises(ValueError, match="scooter"):
        provider.seconds(nantong_points(3, 0), "scooter")


def test_matrix_model_uses_the_given_matrix_for_every_mode(tiny_matrix_day: DayProblem) -> None:
    times = build_travel_times(tiny_matrix_day)
    given = {p: k for k, p in enumerate(tiny_matrix_day.travel.points)}
    assert set(times.by_mode) == {"ebike", "walk"}
    for mode in times.by_mode:
        for a in times.points:
            for b in times.points:
                want = tiny_matrix_day.travel.seconds[given[a]][given[b]]
                assert times.seconds(mode, a, b) == want


def test_fixed_matrix_provider_reorders_and_refuses_strangers() -> None:
    pts = ((32.0, 120.8), (32.1, 120.9), (32.2, 121.0))
    provider = FixedMatrixProvider(pts, ((0, 5, 9), (6, 0, 4), (8, 3, 0)))
    sub = provider.seconds([pts[2], pts[0]], "walk")
    assert sub.tolist() == [[0, 8], [9, 0]]
    with pytest.raises(ValueError, match="not one of travel.points"):
        provider.seconds([pts[0], (31.0, 120.0)], "walk")
