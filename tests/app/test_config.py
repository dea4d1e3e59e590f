"""Settings read from the environment: defaults, and a clear error for a bad value."""

from __future__ import annotations

import os

import pytest

from app.config import solver_workers


def test_solver_workers_default_to_the_cores_up_to_two() -> None:
    assert solver_workers({}) == min(2, os.cpu_count() or 1)


@pytest.mark.parametrize(("raw", "expected"), [("1", 1), ("3", 3), (" 2 ", 2)])
def test_solver_workers_read_a_whole_number(raw: str, expected: int) -> None:
    assert solver_workers({"SOLVER_WORKERS": raw}) == expected


@pytest.mark.parametrize("raw", ["0", "-1", "two", "1.5", ""])
def test_solver_workers_refuse_anything_else_naming_the_variable(raw: str) -> None:
    with pytest.raises(ValueError, match=f"SOLVER_WORKERS must be .* not {raw!r}"):
        solver_workers({"SOLVER_WORKERS": raw})
