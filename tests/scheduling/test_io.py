"""Reading and writing careroute.day/1 and careroute.plan/1."""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from scheduling.io import (
    FormatError,
    dump_plan,
    dump_problem,
    load_plan,
    load_problem,
    parse_json,
    read_plan,
    read_problem,
    write_plan,
    write_problem,
)
from scheduling.problem import DayPlan, DayProblem

DATA = Path(__file__).parent / "data"
EXPECTED: dict[str, dict[str, str]] = json.loads(
    (DATA / "malformed_expected.json").read_text(encoding="utf-8")
)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_malformed_problem_names_the_json_path(name: str) -> None:
    """Each malformed file fails with the exact JSON path of its one fault."""
    with pytest.raises(FormatError) as info:
        read_problem(DATA / "malformed" / name)
    assert info.value.path == EXPECTED[name]["path"]
    assert EXPECTED[name]["message_contains"] in info.value.message
    assert str(info.value) == f"{info.value.path}: {info.value.message}"


def test_every_malformed_file_has_an_expectation() -> None:
    files = {p.name for p in (DATA / "malformed").glob("*.json")}
    assert files == set(EXPECTED)
    assert len(files) >= 15


def test_window_error_message_reads_like_the_format() -> None:
    with pytest.raises(FormatError) as info:
        read_problem(DATA / "malformed" / "window_before_start.json")
    assert str(info.value) == "visits[3].windows[0]: window ends (08:00) before it starts (09:00)"


def _tiny_doc() -> dict[str, Any]:
    doc = parse_json((DATA / "days" / "tiny.json").read_text(encoding="utf-8"))
    assert isinstance(doc, dict)
    return copy.deepcopy(doc)


def test_tiny_day_values(tiny_day: DayProblem) -> None:
    """Times become seconds since midnight; optional keys take their defaults."""
    a = tiny_day.caregiver("cg-a")
    assert a.shift == (8 * 3600, 17 * 3600)
    assert a.breaks[0].window == (11 * 3600 + 1800, 13 * 3600 + 1800)
    assert a.breaks[0].duration_s == 30 * 60
    b = tiny_day.caregiver("cg-b")
    assert b.end == b.start  # "end" is omitted in the file
    vol = tiny_day.caregiver("vol-c")
    assert vol.volunteer
    assert vol.breaks == ()
    assert vol.max_work_min is None
    v5 = tiny_day.visit("v-05")
    assert v5.windows == ((8 * 3600, 9 * 3600), (13 * 3600, 15 * 3600))
    assert tiny_day.visit("v-03").staff == 2
    assert tiny_day.visit("v-06").excluded_caregivers == frozenset({"cg-b"})
    assert tiny_day.travel.speeds_kmh["ebike"] == 15.0
    assert tiny_day.weights.unassigned == {1: 100_000, 2: 10_000, 3: 1_000}
    assert [(lk.visit_id, lk.caregiver_id, lk.start_s) for lk in tiny_day.locks] == [
        ("v-02", "cg-a", None)
    ]


def test_seconds_in_times_are_kept() -> None:
    doc = _tiny_doc()
    doc["visits"][0]["windows"] = [["08:30:15", "10:00:59"]]
    doc["locks"] = [{"visit_id": "v-01", "caregiver_id": "cg-a", "start": "08:31:05"}]
    p = load_problem(doc)
    assert p.visits[0].windows == ((8 * 3600 + 1815, 10 * 3600 + 59),)
    assert p.locks[0].start_s == 8 * 3600 + 1865
    assert load_problem(dump_problem(p)) == p


@pytest.mark.parametrize("fixture", ["tiny_day", "tiny_matrix_day", "small_day", "day_400"])
def test_problem_round_trip(fixture: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    problem: DayProblem = request.getfixturevalue(fixture)
    assert load_problem(dump_problem(problem)) == problem
    write_problem(problem, tmp_path / "day.json")
    assert read_problem(tmp_path / "day.json") == problem


def test_plan_round_trip(tiny_plan: DayPlan, tmp_path: Path) -> None:
    assert load_plan(dump_plan(tiny_plan)) == tiny_plan
    write_plan(tiny_plan, tmp_path / "plan.json")
    assert read_plan(tmp_path / "plan.json") == tiny_plan


def test_plan_times_are_written_with_seconds(tiny_plan: DayPlan) -> None:
    doc = dump_plan(tiny_plan)
    stop = doc["routes"][0]["stops"][0]
    assert stop == {
        "visit_id": "v-01",
        "arrival": "08:11:39",
        "start": "08:30:00",
        "end": "09:15:00",
    }
    assert doc["routes"][0]["breaks"] == [{"start": "12:00:00", "end": "12:30:00"}]


def test_matrix_model_needs_no_speeds(tiny_matrix_day: DayProblem) -> None:
    """With a matrix the modes need no speed: one matrix serves every mode."""
    doc = dump_problem(tiny_matrix_day)
    del doc["travel"]["speeds_kmh"]
    doc["caregivers"][2]["mode"] = "scooter"
    assert load_problem(doc).caregivers[2].mode == "scooter"


@pytest.mark.parametrize(
    ("edit", "path"),
    [
        (lambda d: d.update(format="careroute.day/1"), "format"),
        (lambda d: d.update(colour=1), "colour"),
        (lambda d: d["routes"][0]["stops"][1].update(start="9:20"), "routes[0].stops[1].start"),
        (lambda d: d["routes"][1].pop("breaks"), "routes[1].breaks"),
        (lambda d: d["routes"][0]["breaks"][0].update(end="11:00:00"), "routes[0].breaks[0]"),
        (lambda d: d["routes"][2].update(travel_s=-1), "routes[2].travel_s"),
        (lambda d: d["kpis"].update(continuity_rate=1.5), "kpis.continuity_rate"),
        (lambda d: d["kpis"].update(assigned="8"), "kpis.assigned"),
        (
            lambda d: d["unassigned"].append({"visit_id": "", "reason": "x"}),
            "unassigned[0].visit_id",
        ),
        (lambda d: d["solver"].update(objective=1.5), "solver.objective"),
    ],
)
def test_malformed_plan_names_the_json_path(edit: Any, path: str, tiny_plan: DayPlan) -> None:
    doc = dump_plan(tiny_plan)
    edit(doc)
    with pytest.raises(FormatError) as info:
        load_plan(doc)
    assert info.value.path == path


def test_plan_reader_refuses_a_day_file(tiny_day_path: Path) -> None:
    with pytest.raises(FormatError) as info:
        read_plan(tiny_day_path)
    assert (
        str(info.value) == "format: expected 'careroute.plan/1', got the string 'careroute.day/1'"
    )


@pytest.mark.parametrize(
    "change",
    [
        {"capacity": 10},
        {"demand": 3},
        {"service_s": 90},
    ],
)
def test_dump_refuses_fields_outside_the_format(
    tiny_day: DayProblem, change: dict[str, int]
) -> None:
    """Benchmark-only fields cannot be written rather than silently dropped."""
    if "capacity" in change:
        cg = dataclasses.replace(tiny_day.caregivers[0], **change)
        problem = dataclasses.replace(tiny_day, caregivers=(cg, *tiny_day.caregivers[1:]))
    else:
        v = dataclasses.replace(tiny_day.visits[0], **change)
        problem = dataclasses.replace(tiny_day, visits=(v, *tiny_day.visits[1:]))
    with pytest.raises(ValueError, match="not part of careroute.day/1"):
        dump_problem(problem)


def test_missing_file_is_an_os_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_problem(tmp_path / "nope.json")
