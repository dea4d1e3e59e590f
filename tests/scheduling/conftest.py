"""Fixtures of the scheduling tests: small named days and plans.

- ``tiny_day_path`` / ``tiny_day``: 3 caregivers (one a walking volunteer), 8 visits
  with a two-staff visit, a two-window visit, an exclusion, a lock and lunch breaks,
  geodesic travel (``data/days/tiny.json``).
- ``tiny_plan_path`` / ``tiny_plan``: a hand-made valid plan of ``tiny_day`` that serves
  every visit (``data/days/tiny_plan.json``).
- ``tiny_matrix_day``: ``tiny_day`` with a ``matrix`` travel model (e-bike seconds).
- ``small_day``: a generated 40-visit Nantong day (seed 1).
- ``day_400``: a generated 400-visit Nantong day (seed 0), the size of one agency.

All are session-scoped; the data classes are frozen, so sharing them is safe.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from scheduling.generate import generate_day
from scheduling.io import read_plan, read_problem
from scheduling.problem import DayPlan, DayProblem

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA


@pytest.fixture(scope="session")
def tiny_day_path() -> Path:
    return DATA / "days" / "tiny.json"


@pytest.fixture(scope="session")
def tiny_day(tiny_day_path: Path) -> DayProblem:
    return read_problem(tiny_day_path)


@pytest.fixture(scope="session")
def tiny_plan_path() -> Path:
    return DATA / "days" / "tiny_plan.json"


@pytest.fixture(scope="session")
def tiny_plan(tiny_plan_path: Path) -> DayPlan:
    return read_plan(tiny_plan_path)


@pytest.fixture(scope="session")
def tiny_matrix_day() -> DayProblem:
    return read_problem(DATA / "days" / "tiny_matrix.json")


@pytest.fixture(scope="session")
def small_day() -> DayProblem:
    return generate_day(40, seed=1)


@pytest.fixture(scope="session")
def day_400() -> DayProblem:
    return generate_day(400, seed=0)
