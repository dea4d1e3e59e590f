"""The ``bench`` command: exit 2 on unusable input, and tiny end-to-end runs (the
``matrix`` set's on a small generated day).

End-to-end runs use the hand-made files of ``data/bench`` in a temporary data
folder laid out like ``shared/benchmarks``, and a solution limit so that the
search is bounded and deterministic.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

import scheduling.benchmarks.matrix as bench_matrix
from scheduling.benchmarks.cli import main
from scheduling.benchmarks.data import ENV_DATA_DIR
from scheduling.travel import build_travel_times

DATA = Path(__file__).parent / "data" / "bench"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A data folder with one Solomon-format instance and one HHC instance."""
    root = tmp_path / "benchmarks"
    solomon = root / "solomon"
    solomon.mkdir(parents=True)
    shutil.copy(DATA / "solomon5.txt", solomon / "SOLOMON5.txt")
    shutil.copy(DATA / "bks.csv", solomon / "bks.csv")
    hhc = root / "hhc" / "mankowska2014"
    hhc.mkdir(parents=True)
    # patient 2 is given a later due date so that the restricted encoding can serve everyone
    text = (DATA / "hhc3.txt").read_text().replace("200 30 40 60 200", "200 30 100 60 200")
    (hhc / "hhc3.txt").write_text(text)
    shutil.copy(DATA / "hhc_best.csv", hhc / "summary_best_known.csv")
    return root


def test_cli_exits_2_on_an_unknown_instance_name(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["solomon", "--data-dir", str(data_dir), "--instances", "C999"]) == 2
    err = capsys.readouterr().err
    assert "--instances: no instance matches 'C999'" in err
    assert "Traceback" not in err


def test_cli_exits_2_on_a_missing_data_dir(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nowhere"
    assert main(["solomon", "--data-dir", str(missing)]) == 2
    assert f"--data-dir: {missing} is not a directory" in capsys.readouterr().err


def test_cli_exits_2_when_the_environment_names_a_missing_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(ENV_DATA_DIR, str(tmp_path / "nowhere"))
    assert main(["homberger200"]) == 2
    assert f"{ENV_DATA_DIR}: " in capsys.readouterr().err


def test_cli_exits_2_when_the_set_folder_is_absent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["homberger1000", "--data-dir", str(tmp_path)]) == 2
    assert "no bks.csv" in capsys.readouterr().err


def test_cli_exits_2_on_a_malformed_instance_and_names_line_and_field(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = data_dir / "solomon" / "BAD1.txt"
    shutil.copy(DATA / "malformed" / "vrptw_due_before_ready.txt", bad)
    assert main(["solomon", "--data-dir", str(data_dir), "--instances", "BAD1"]) == 2
    assert f"{bad}:14: DUE DATE: 39 is before READY TIME 40" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        ["cvrp"],
        ["solomon", "--time-limit", "-1"],
        ["solomon", "--time-limit", "soon"],
        ["day", "--visits", "0"],
        ["solomon", "--seed", "-3"],
        ["day", "--continuity-weights", "10,x"],
        ["day", "--continuity-weights", "-5"],
        ["day", "--continuity-weights", "10,,20"],
    ],
)
def test_cli_exits_2_on_bad_options(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert "usage: python -m scheduling bench" in capsys.readouterr().err


def test_cli_refuses_continuity_weights_outside_the_day_set(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["solomon", "--data-dir", str(data_dir), "--continuity-weights", "10"]
    assert main(argv) == 2
    assert "--continuity-weights: only the 'day' set" in capsys.readouterr().err


def test_cli_solves_a_tiny_vrptw_set_end_to_end(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out" / "solomon.json"
    argv = ["solomon", "--data-dir", str(data_dir), "--solution-limit", "50"]
    argv += ["--time-limit", "5", "--json", str(out)]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "[1/1] SOLOMON5" in captured.err
    assert "SOLOMON5" in captured.out
    assert "valid: 1/1" in captured.out
    doc = json.loads(out.read_text())
    assert doc["set"] == "solomon"
    (result,) = doc["results"]
    assert result["valid"] is True
    # total demand 50 over capacity 30: two routes at least, which is the BKS row
    assert result["routes"] == 2
    assert result["route_excess"] == 0
    assert result["distance"] >= 40.0
    assert doc["summary"]["valid"] == 1


def test_cli_solves_a_tiny_hhc_instance_end_to_end(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "hhc.json"
    argv = ["mankowska", "--data-dir", str(data_dir), "--solution-limit", "50"]
    argv += ["--time-limit", "5", "--json", str(out)]
    assert main(argv) == 0
    assert "comparable" in capsys.readouterr().out
    (result,) = json.loads(out.read_text())["results"]
    assert result["instance"] == "H1"
    assert result["comparable"] is True
    assert (result["served"], result["services"]) == (5, 5)
    assert result["total_tardiness"] == 0.0
    # caregiver 1 alone holds s1: its route 0-1-3-2-0 is forced (27.544), caregiver 2 must
    # at least go to patient 2 and back (20); no tardiness, so the objective is >= 47.544 / 3
    assert result["objective"] >= (27.5440037 + 20) / 3 - 1e-6


def test_cli_runs_both_engines_and_shows_the_witness_on_a_small_generated_day(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "day.json"
    argv = ["day", "--visits", "12", "--seed", "3", "--solution-limit", "20", "--time-limit", "5"]
    assert main([*argv, "--json", str(out)]) == 0
    assert "assigned priority 1" in capsys.readouterr().out
    results = json.loads(out.read_text())["results"]
    assert [r["engine"] for r in results] == [
        "witness",
        "portfolio",
        "plain",
        "portfolio/plain's visits",
        "...travel only",
    ]
    assert results[0]["wall_s"] == 0.0
    plain_served = sum(s["assigned"] for s in results[2]["by_priority"].values())
    assert results[3]["visits"] == plain_served
    assert results[3]["valid"] is True
    assert results[4]["valid"] is True
    assert results[4]["visits"] == plain_served
    for r in results[:3]:
        assert r["valid"] is True
        assert r["visits"] == 12
        assigned = sum(s["assigned"] for s in r["by_priority"].values())
        assert 0 < assigned <= 12
        assert sum(s["total"] for s in r["by_priority"].values()) == 12


def test_cli_adds_a_solve_of_plains_visits_per_continuity_weight(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "day.json"
    argv = ["day", "--visits", "30", "--seed", "1", "--solution-limit", "30", "--time-limit", "5"]
    assert main([*argv, "--continuity-weights", "200", "--json", str(out)]) == 0
    assert "...continuity 200" in capsys.readouterr().out
    doc = json.loads(out.read_text())
    assert doc["continuity_weights"] == [200]
    by_label = {r["engine"]: r for r in doc["results"]}
    assert list(by_label)[-1] == "...continuity 200"
    weighted, travel_only = by_label["...continuity 200"], by_label["...travel only"]
    assert weighted["valid"] is True
    plain_served = sum(s["assigned"] for s in by_label["plain"]["by_priority"].values())
    assert weighted["visits"] == travel_only["visits"] == plain_served
    assert weighted["assigned"] == plain_served
    # A miss that costs more than most detours keeps the preferred caregiver more often.
    assert weighted["continuity_rate"] > travel_only["continuity_rate"]


def test_the_matrix_set_times_a_generated_day_and_agrees_with_geopy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "matrix.json"
    argv = ["matrix", "--visits", "30", "--seed", "2", "--geopy-pairs", "200"]
    assert main([*argv, "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    doc = json.loads(out.read_text())
    assert (doc["set"], doc["engine"], doc["visits"]) == ("matrix", None, 30)
    (result,) = doc["results"]
    places = result["places"]
    assert result["visits"] == 30
    assert places > 30  # caregivers' homes are places too
    assert result["distances"] == places * (places - 1) // 2
    checked = 200 * len(result["modes"])  # the modes the day's caregivers use
    assert (result["checked"], result["mismatches"]) == (checked, 0)
    assert f"agreement with geopy to the second: {checked} of {checked}" in printed
    assert 0 < result["build_best_s"] <= result["build_median_s"]
    assert result["geopy_full_s"] == pytest.approx(
        result["geopy_s"] / 200 * result["distances"], rel=1e-9
    )


def test_the_matrix_set_exits_1_when_a_travel_time_differs_from_geopys(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def one_second_late(problem: Any) -> Any:
        times = build_travel_times(problem)
        return replace(times, by_mode={m: t + 1 for m, t in times.by_mode.items()})

    monkeypatch.setattr(bench_matrix, "build_travel_times", one_second_late)
    assert main(["matrix", "--visits", "20", "--geopy-pairs", "50"]) == 1
    out = capsys.readouterr().out
    checked = re.search(r": 0 of (\d+) sampled travel times \((\d+) differ\): DIFFER", out)
    assert checked is not None
    assert checked[1] == checked[2]
    assert int(checked[1]) >= 50


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["matrix", "--time-limit", "5"], "--time-limit: the 'matrix' set solves nothing"),
        (["matrix", "--instances", "C101"], "--instances: the 'matrix' set solves nothing"),
        (["matrix", "--instances", ""], "--instances: the 'matrix' set solves nothing"),
        (["matrix", "--engine", "plain"], "--engine: the 'matrix' set solves nothing"),
        (["matrix", "--workers", "2"], "--workers: the 'matrix' set solves nothing"),
        (["day", "--geopy-pairs", "10"], "--geopy-pairs: only the 'matrix' set takes it"),
    ],
)
def test_the_matrix_set_refuses_options_it_cannot_use(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    assert message in capsys.readouterr().err
