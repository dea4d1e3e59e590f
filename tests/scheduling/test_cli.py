"""``python -m scheduling``, run in-process through ``scheduling.cli.main``."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from scheduling.cli import _interruptible, main
from scheduling.generate import generate_day
from scheduling.io import read_plan, read_problem
from scheduling.problem import DayPlan, DayProblem

DATA = Path(__file__).parent / "data"
EXPECTED: dict[str, dict[str, str]] = json.loads(
    (DATA / "malformed_expected.json").read_text(encoding="utf-8")
)


def run(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_malformed_day_exits_2_with_one_line(
    name: str, capsys: pytest.CaptureFixture[str], tiny_plan_path: Path
) -> None:
    day = DATA / "malformed" / name
    code, out, err = run(capsys, "check", day, tiny_plan_path)
    assert code == 2
    assert out == ""
    assert "Traceback" not in err
    assert err.count("\n") == 1
    assert err.startswith(f"error: {day}: {EXPECTED[name]['path']}: ")


def test_missing_file_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = run(capsys, "check", tmp_path / "nope.json", tmp_path / "plan.json")
    assert code == 2
    assert err == f"error: {tmp_path / 'nope.json'}: No such file or directory\n"


def test_plan_given_as_day_exits_2(
    capsys: pytest.CaptureFixture[str], tiny_day_path: Path, tiny_plan_path: Path
) -> None:
    code, _, err = run(capsys, "check", tiny_plan_path, tiny_day_path)
    assert code == 2
    assert "format: expected 'careroute.day/1'" in err


def test_bad_option_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "generate", "--visits", "many", "-o", tmp_path / "d.json")
    assert code == 2
    assert "--visits: not an integer" in err
    assert "Traceback" not in err


def test_check_valid_plan(
    capsys: pytest.CaptureFixture[str], tiny_day_path: Path, tiny_plan_path: Path
) -> None:
    code, out, err = run(capsys, "check", tiny_day_path, tiny_plan_path)
    assert code == 0
    assert err == ""
    assert (
        out == "8/8 visits assigned, travel 5313 s (1.5 h), continuity 1.000, cost 88.55: valid\n"
    )


def test_check_invalid_plan_lists_violations(
    capsys: pytest.CaptureFixture[str], tiny_plan_path: Path
) -> None:
    code, out, _ = run(capsys, "check", DATA / "days" / "tiny_matrix.json", tiny_plan_path)
    assert code == 1
    assert "kpi         vol-c's route states travel_s 1438, recomputed 432" in out
    assert "violations by rule: kpi 3" in out
    assert out.rstrip().endswith("INVALID (3 violations)")


def test_generate_writes_the_seeded_day(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out_file = tmp_path / "day.json"
    code, out, _ = run(capsys, "generate", "--visits", "60", "--seed", "4", "-o", out_file)
    assert code == 0
    assert out.startswith(f"{out_file}: 60 visits, ")
    assert read_problem(out_file) == generate_day(60, seed=4)


def test_generate_writes_a_witness_the_check_command_accepts(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    day_file, plan_file = tmp_path / "day.json", tmp_path / "witness.json"
    args = ["--visits", "80", "--seed", "2", "-o", day_file, "--witness", plan_file]
    code, _, _ = run(capsys, "generate", *args)
    assert code == 0
    code, out, _ = run(capsys, "check", day_file, plan_file)
    assert code == 0
    assert out.rstrip().endswith("valid")
    assert read_plan(plan_file).kpis.assigned == 80


def test_generate_refuses_impossible_counts(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    args = ["--visits", "10", "--caregivers", "2", "--volunteers", "3", "-o", tmp_path / "d"]
    code, _, err = run(capsys, "generate", *args)
    assert code == 2
    assert err.startswith("error: need 0 <= n_volunteers <= n_caregivers")


def test_generate_to_unwritable_place_exits_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = run(capsys, "generate", "-o", tmp_path / "no" / "such" / "dir.json")
    assert code == 2
    assert err.startswith("error: cannot write ")


# --- solve, with a stand-in solver so the command's own behaviour is tested ----------


@dataclasses.dataclass(frozen=True)
class FakeParams:
    time_limit_s: float = 30.0
    seed: int = 0
    solution_limit: int | None = None
    minimise_routes: bool = False
    engine: str = "portfolio"
    log_search: bool = False
    workers: int = 1


@dataclasses.dataclass(frozen=True)
class FakeProgress:
    elapsed_s: float
    objective: int | None
    assigned: int
    visits: int
    phase: str | None = None

    @property
    def cost(self) -> float | None:
        return None if self.objective is None else self.objective / 60


def fake_solver(
    monkeypatch: pytest.MonkeyPatch, answer: DayPlan, calls: list[dict[str, Any]]
) -> None:
    def solve(problem: DayProblem, params: FakeParams, **kw: Any) -> DayPlan:
        on_progress: Callable[[FakeProgress], None] = kw["on_progress"]
        on_progress(FakeProgress(0.0, None, 0, 8, "seeding"))
        on_progress(FakeProgress(0.1, 9000, 6, 8))
        on_progress(FakeProgress(0.2, 100, 8, 8))
        calls.append({"problem": problem, "params": params, "stop": kw["should_stop"]()})
        return answer

    module = types.ModuleType("scheduling.solve")
    module.SolveParams = FakeParams  # type: ignore[attr-defined]
    module.Progress = FakeProgress  # type: ignore[attr-defined]
    module.solve = solve  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "scheduling.solve", module)


def test_solve_writes_checks_and_reports(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    tiny_day: DayProblem,
    tiny_day_path: Path,
    tiny_plan: DayPlan,
) -> None:
    calls: list[dict[str, Any]] = []
    fake_solver(monkeypatch, tiny_plan, calls)
    out_file = tmp_path / "plan.json"
    argv = ["solve", tiny_day_path, "-o", out_file, "--time-limit", "3", "--seed", "7"]
    code, out, err = run(capsys, *argv, "--solutions", "20", "--workers", "2")
    assert code == 0
    assert read_plan(out_file) == tiny_plan
    (call,) = calls
    assert call["problem"] == tiny_day
    assert call["params"] == FakeParams(time_limit_s=3.0, seed=7, solution_limit=20, workers=2)
    assert call["stop"] is False
    assert out.startswith(f"{out_file}: 8/8 visits assigned, travel 5313 s")
    assert ": valid (solver 0.0 s)" in out
    lines = err.splitlines()
    assert lines[0] == "[    0.0 s] seeding"
    assert lines[1].endswith("cost       150.00  assigned 6/8")
    assert lines[-1].endswith("cost         1.67  assigned 8/8")


def test_solve_exits_1_when_the_plan_breaks_a_rule(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    tiny_day_path: Path,
    tiny_plan: DayPlan,
) -> None:
    broken = dataclasses.replace(tiny_plan, routes=tiny_plan.routes[:2])
    fake_solver(monkeypatch, broken, [])
    code, out, err = run(capsys, "solve", tiny_day_path, "-o", tmp_path / "p.json", "--quiet")
    assert code == 1
    assert "INVALID" in out
    assert "missing     v-07 is neither served nor listed as unassigned" in err
    assert "cost" not in err  # --quiet
    assert "seeding" not in err


def test_solve_with_a_malformed_day_exits_2_before_solving(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    tiny_plan: DayPlan,
) -> None:
    calls: list[dict[str, Any]] = []
    fake_solver(monkeypatch, tiny_plan, calls)
    day = DATA / "malformed" / "staff_3.json"
    code, _, err = run(capsys, "solve", day, "-o", tmp_path / "p.json")
    assert code == 2
    assert err == f"error: {day}: visits[2].staff: must be 1 or 2, got 3\n"
    assert calls == []


def test_solve_with_the_real_solver(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, tiny_day_path: Path
) -> None:
    pytest.importorskip("scheduling.solve")
    out_file = tmp_path / "plan.json"
    argv = ["solve", tiny_day_path, "-o", out_file, "--time-limit", "5", "--solutions", "50"]
    code, out, _ = run(capsys, *argv, "--quiet")
    assert code == 0, out
    assert read_plan(out_file).kpis.visits == 8


def test_bench_is_delegated(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[list[str]] = []

    def bench_main(argv: list[str]) -> int:
        seen.append(argv)
        return 5

    module = types.ModuleType("scheduling.benchmarks.cli")
    module.main = bench_main  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "scheduling.benchmarks.cli", module)
    assert main(["bench", "solomon", "--time-limit", "1", "--instances", "C101"]) == 5
    assert seen == [["solomon", "--time-limit", "1", "--instances", "C101"]]


def test_ctrl_c_asks_the_solver_to_stop(capsys: pytest.CaptureFixture[str]) -> None:
    """The first Ctrl-C sets the flag that ``should_stop`` polls; the handler is then restored."""
    before = signal.getsignal(signal.SIGINT)
    with _interruptible() as should_stop:
        assert should_stop() is False
        os.kill(os.getpid(), signal.SIGINT)
        assert should_stop() is True
    assert signal.getsignal(signal.SIGINT) is before
    assert "stopping" in capsys.readouterr().err
