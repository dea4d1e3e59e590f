"""``flask plan``: day, export (taken as it is by ``python -m scheduling solve``), import,
bench-repair; bad input exits 2 with a message naming what is wrong."""

from __future__ import annotations

import json
from pathlib import Path

from flask.testing import FlaskCliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import PlanVersion
from scheduling.cli import main as scheduling_main
from tests.app.dispatch.conftest import Day


def _versions(session: Session) -> list[PlanVersion]:
    return list(session.scalars(select(PlanVersion).order_by(PlanVersion.number)))


def test_plan_day_stores_a_version_and_prints_its_kpis(
    runner: FlaskCliRunner, session: Session, day: Day
) -> None:
    args = ["plan", "day", "--agency", "A1", "--date", day.day.isoformat(), "--time-limit", "2"]
    result = runner.invoke(args=args)

    assert result.exit_code == 0, result.output
    (version,) = _versions(session)
    assert f"A1 {day.day}: version 1 (optimise)" in result.output
    assert f"/{len(day.visits)} visits assigned" in result.output
    assert version.valid

    again = runner.invoke(args=[*args, "--if-unplanned"])
    assert again.exit_code == 0
    assert "already planned" in again.output
    assert len(_versions(session)) == 1


def test_plan_day_rejects_bad_input_with_exit_2(runner: FlaskCliRunner, day: Day) -> None:
    date = day.day.isoformat()
    cases = [
        (["--agency", "NOPE", "--date", date], "--agency"),
        (["--date", "2026-02-30", "--agency", "A1"], "not a date"),
        (["--agency", "A1", "--all-agencies", "--date", date], "exactly one"),
        (["--date", date], "exactly one"),
        (["--agency", "A1", "--date", date, "--time-limit", "0"], "--time-limit"),
    ]
    for args, message in cases:
        result = runner.invoke(args=["plan", "day", *args])
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output, (args, result.output)
        assert "Traceback" not in result.output


def test_export_solve_import_round_trip(
    runner: FlaskCliRunner, session: Session, day: Day, tmp_path: Path
) -> None:
    day_file, plan_file = tmp_path / "day.json", tmp_path / "plan.json"
    date = day.day.isoformat()

    exported = runner.invoke(
        args=["plan", "export", "--agency", "A1", "--date", date, "-o", str(day_file)]
    )
    assert exported.exit_code == 0, exported.output
    assert json.loads(day_file.read_text("utf-8"))["format"] == "careroute.day/1"

    solved = scheduling_main(
        ["solve", str(day_file), "-o", str(plan_file), "--time-limit", "2", "--solutions", "40"]
    )
    assert solved == 0

    imported = runner.invoke(
        args=["plan", "import", "--agency", "A1", "--date", date, str(plan_file)]
    )
    assert imported.exit_code == 0, imported.output
    (version,) = _versions(session)
    assert (version.kind, version.valid) == ("import", True)
    assert "version 1 (import)" in imported.output


def test_import_of_a_malformed_plan_names_the_field(
    runner: FlaskCliRunner, session: Session, day: Day, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps(
            {
                "format": "careroute.plan/1",
                "routes": [],
                "unassigned": [],
                "kpis": {"visits": "12", "assigned": 0, "travel_s": 0, "continuity_rate": 1.0},
                "solver": {"name": "x", "time_limit_s": 1, "wall_s": 1, "objective": 0},
            }
        ),
        "utf-8",
    )

    result = runner.invoke(
        args=["plan", "import", "--agency", "A1", "--date", day.day.isoformat(), str(bad)]
    )

    assert result.exit_code == 2
    assert "kpis.visits" in result.output
    assert _versions(session) == []


def test_bench_repair_prints_the_figures(runner: FlaskCliRunner, day: Day) -> None:
    result = runner.invoke(
        args=[
            "plan",
            "bench-repair",
            "--visits",
            "24",
            "--seed",
            "2",
            "--first-limit",
            "1",
            "--repair-limit",
            "1",
            "--json",
        ]
    )

    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert figures["valid"] is True
    assert figures["from"] == "10:00"
    assert figures["absent_after"] == figures["reassigned"] + figures["unassigned"]
    assert 0 <= figures["others_moved"] <= figures["others"]
    assert figures["seconds"] > 0


def test_bench_repair_refuses_an_unknown_caregiver(runner: FlaskCliRunner, day: Day) -> None:
    result = runner.invoke(
        args=[
            "plan",
            "bench-repair",
            "--visits",
            "10",
            "--first-limit",
            "0.5",
            "--caregiver",
            "cg-999",
        ]
    )
    assert result.exit_code == 2
    assert "--caregiver" in result.output


def test_plan_day_while_a_job_runs_says_so(
    runner: FlaskCliRunner, session: Session, day: Day
) -> None:
    from app.models import SolveJob

    session.add(
        SolveJob(
            id="stuck",
            agency_id=day.agency.id,
            date=day.day,
            kind="optimise",
            status="running",
            params={},
        )
    )
    session.commit()
    result = runner.invoke(args=["plan", "day", "--agency", "A1", "--date", day.day.isoformat()])
    assert result.exit_code == 1
    assert f"A1 {day.day}: " in result.output
    assert "Traceback" not in result.output
