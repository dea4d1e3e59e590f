"""Settings read from the environment: defaults, and a clear error for a bad value."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from app.config import ROOT, solver_workers


def test_solver_workers_default_to_the_cores_up_to_two() -> None:
    assert solver_workers({}) == min(2, os.cpu_count() or 1)


@pytest.mark.parametrize(("raw", "expected"), [("1", 1), ("3", 3), (" 2 ", 2)])
def test_solver_workers_read_a_whole_number(raw: str, expected: int) -> None:
    assert solver_workers({"SOLVER_WORKERS": raw}) == expected


@pytest.mark.parametrize("raw", ["0", "-1", "two", "1.5", ""])
def test_solver_workers_refuse_anything_else_naming_the_variable(raw: str) -> None:
    with pytest.raises(ValueError, match=f"SOLVER_WORKERS must be .* not {raw!r}"):
        solver_workers({"SOLVER_WORKERS": raw})


def test_a_bad_setting_stops_the_app_with_a_message_not_a_traceback() -> None:
    env = {**os.environ, "SOLVER_WORKERS": "two"}
    done = subprocess.run(
        [sys.executable, "-c", "import app.config"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "CareRoute configuration: SOLVER_WORKERS must be a whole number of at least 1, not 'two'"
    )
