"""Benchmark readers, encodings and evaluators on small hand-made files.

The expected distances, times and objectives were computed by hand from the
coordinates in ``data/bench`` (3-4-5 triangles, so most legs are whole numbers).
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest

from scheduling.benchmarks import (
    SCALE,
    BenchmarkFileError,
    ServiceStart,
    earliest_starts,
    encode,
    evaluate,
    evaluate_vrptw,
    read_hhc_best,
    read_mankowska,
    read_vrptw,
    read_vrptw_bks,
    routes_from_plan,
    solution_from_plan,
    to_day_problem,
)
from scheduling.benchmarks.data import default_data_dir
from scheduling.check import check
from scheduling.problem import DayPlan, Kpis, Route, SolverInfo, Stop

DATA = Path(__file__).parent / "data" / "bench"
BAD = DATA / "malformed"
SQRT73 = math.sqrt(73)  # the leg between patients 2 and 3 of hhc3.txt
SQRT80 = math.sqrt(80)  # the leg from customer 5 of solomon5.txt back to the depot


def _plan(routes: tuple[Route, ...], visits: int) -> DayPlan:
    travel = sum(r.travel_s for r in routes)
    return DayPlan(
        routes=routes,
        unassigned=(),
        kpis=Kpis(visits=visits, assigned=visits, travel_s=travel, continuity_rate=1.0),
        solver=SolverInfo(name="hand", time_limit_s=0.0, wall_s=0.0, objective=0),
    )


# --- Solomon / Homberger ------------------------------------------------------


def test_read_vrptw_parses_fleet_and_customer_table() -> None:
    inst = read_vrptw(DATA / "solomon5.txt")
    assert (inst.name, inst.vehicles, inst.capacity) == ("SOLOMON5", 3, 30)
    assert [n.number for n in inst.nodes] == [0, 1, 2, 3, 4, 5]
    c4 = inst.nodes[4]
    assert (c4.x, c4.y, c4.demand, c4.ready, c4.due, c4.service) == (0, -5, 20, 40, 60, 3)
    assert inst.distance(0, 1) == 5.0
    assert inst.distance(5, 0) == pytest.approx(SQRT80, abs=1e-12)


def test_to_day_problem_scales_times_and_rounds_travel_up() -> None:
    inst = read_vrptw(DATA / "solomon5.txt")
    problem = to_day_problem(inst)
    assert len(problem.caregivers) == 3
    cg = problem.caregivers[0]
    assert cg.capacity == 30
    assert cg.shift == (0, 100 * SCALE)
    assert cg.start == cg.end
    v4 = problem.visit("c4")
    assert v4.windows == ((40 * SCALE, 60 * SCALE),)
    assert v4.duration_s == 3 * SCALE  # service_s, not whole minutes
    assert v4.demand == 20
    assert problem.travel.model == "matrix"
    # distinct synthetic places, one per node, matching the matrix rows
    assert len(set(problem.travel.points)) == len(inst.nodes)
    seconds = problem.travel.seconds
    assert seconds[0][1] == 5 * SCALE  # exact distances stay exact
    assert seconds[5][0] == math.ceil(SQRT80 * SCALE) == 8945
    assert problem.weights.route_fixed > 0


def test_evaluate_vrptw_measures_a_hand_computed_solution() -> None:
    inst = read_vrptw(DATA / "solomon5.txt")
    ev = evaluate_vrptw(inst, [[1, 2], [3, 4, 5], []])
    assert ev.feasible, ev.violations
    assert ev.routes == 2  # the empty route does not count
    # route 1: 5 + 5 + 10; route 2: 5 + 10 + 5 + sqrt(80)
    assert ev.distance == pytest.approx(40 + SQRT80, abs=1e-9)


@pytest.mark.parametrize(
    ("routes", "fragment"),
    [
        ([[4, 3], [1, 2], [5]], "customer 3 starts at 53.0000 after its due date 50"),
        ([[1, 2, 4], [3, 5]], "load 40 exceeds capacity 30"),
        ([[1, 2], [2, 3, 4, 5]], "customer 2 is visited 2 times"),
        ([[1, 2], [3, 4]], "1 customers not visited (first: [5])"),
        ([[1], [2], [3, 5], [4]], "4 routes exceed the fleet of 3"),
        ([[1, 2, 9], [3, 4, 5]], "customer 9 does not exist"),
    ],
)
def test_evaluate_vrptw_reports_each_broken_rule(routes: list[list[int]], fragment: str) -> None:
    ev = evaluate_vrptw(read_vrptw(DATA / "solomon5.txt"), routes)
    assert not ev.feasible
    assert any(fragment in v for v in ev.violations), ev.violations


def test_evaluate_vrptw_checks_the_return_to_the_depot() -> None:
    inst = read_vrptw(DATA / "solomon5.txt")
    depot = dataclasses.replace(inst.depot, due=57.0)  # route 2 is back at 57.944...
    tight = dataclasses.replace(inst, nodes=(depot, *inst.customers))
    ev = evaluate_vrptw(tight, [[1, 2], [3, 4, 5]])
    assert ev.violations == ("route 2: back at the depot at 57.9443 after 57",)


def test_hand_plan_of_the_encoding_passes_the_checker_and_the_evaluator() -> None:
    inst = read_vrptw(DATA / "solomon5.txt")
    problem = to_day_problem(inst)
    route_a = Route(
        "vehicle-001",
        stops=(Stop("c1", 5000, 5000, 7000), Stop("c2", 12000, 12000, 14000)),
        travel_s=20000,
        work_s=24000,
    )
    route_b = Route(
        "vehicle-002",
        stops=(
            Stop("c3", 5000, 5000, 6000),
            Stop("c4", 16000, 40000, 43000),
            Stop("c5", 48000, 48000, 49000),
        ),
        travel_s=28945,
        work_s=33945,
    )
    plan = _plan((route_a, route_b, Route("vehicle-003")), visits=5)
    report = check(problem, plan)
    assert report.ok, report.violations
    assert routes_from_plan(plan) == [[1, 2], [3, 4, 5]]
    assert evaluate_vrptw(inst, routes_from_plan(plan)).feasible


VRPTW_MALFORMED = [
    ("vrptw_empty.txt", None, "file"),
    ("vrptw_no_vehicle_section.txt", 3, "VEHICLE"),
    ("vrptw_capacity_not_integer.txt", 5, "CAPACITY"),
    ("vrptw_zero_vehicles.txt", 5, "NUMBER"),
    ("vrptw_short_row.txt", 12, "CUSTOMER"),
    ("vrptw_coordinate_not_number.txt", 11, "XCOORD."),
    ("vrptw_customer_out_of_order.txt", 13, "CUST NO."),
    ("vrptw_negative_demand.txt", 13, "DEMAND"),
    ("vrptw_demand_over_capacity.txt", 14, "DEMAND"),
    ("vrptw_due_before_ready.txt", 14, "DUE DATE"),
    ("vrptw_too_many_decimals.txt", 15, "READY TIME"),
    ("vrptw_depot_only.txt", 10, "CUSTOMER"),
    ("vrptw_depot_demand.txt", 10, "DEMAND"),
]


@pytest.mark.parametrize(("name", "line", "field"), VRPTW_MALFORMED)
def test_read_vrptw_names_file_line_and_field_of_each_error(
    name: str, line: int | None, field: str
) -> None:
    with pytest.raises(BenchmarkFileError) as info:
        read_vrptw(BAD / name)
    err = info.value
    assert (err.line, err.field) == (line, field)
    assert err.file == str(BAD / name)
    where = f"{BAD / name}:{line}" if line else str(BAD / name)
    assert str(err).startswith(f"{where}: {field}: ")


def test_read_vrptw_reports_a_missing_file() -> None:
    with pytest.raises(BenchmarkFileError, match="cannot read"):
        read_vrptw(DATA / "no-such-file.txt")


def test_read_vrptw_bks_table() -> None:
    bks = read_vrptw_bks(DATA / "bks.csv")
    assert bks["SOLOMON5"].vehicles == 2
    assert bks["SOLOMON5"].distance == 48.94


def test_read_vrptw_bks_names_a_bad_value(tmp_path: Path) -> None:
    bad = tmp_path / "bks.csv"
    bad.write_text("instance,vehicles,distance\nC101,ten,828.94\n")
    with pytest.raises(BenchmarkFileError, match=r"bks.csv:2: vehicles: not an integer"):
        read_vrptw_bks(bad)


# --- Mankowska ----------------------------------------------------------------


def test_read_mankowska_parses_every_section() -> None:
    inst = read_mankowska(DATA / "hhc3.txt", "H1")
    assert (inst.name, inst.n_nodes, inst.n_vehicles, inst.n_services) == ("H1", 5, 2, 3)
    assert list(inst.patients) == [1, 2, 3]
    assert inst.required[1:4] == ((0,), (1, 2), (0, 2))
    assert inst.qualified == (frozenset({0, 1, 2}), frozenset({1, 2}))
    assert inst.double == frozenset({2, 3})  # DS "3 4" is 1-based
    assert [inst.kind(i) for i in inst.patients] == ["single", "simultaneous", "precedence"]
    assert inst.distance[2][3] == 8.5440037
    assert inst.processing[1] == (10.0, 10.0, 10.0)
    assert not inst.processing_varies
    assert (inst.mind[3], inst.maxd[3], inst.early[3], inst.late[3]) == (5, 20, 20, 60)


def test_encode_mankowska_builds_a_restriction() -> None:
    inst = read_mankowska(DATA / "hhc3.txt")
    enc = encode(inst)
    visits = {v.id: v for v in enc.problem.visits}
    assert sorted(visits) == ["p1.s1", "p2.sim", "p3.s1", "p3.s3"]
    sim = visits["p2.sim"]
    assert (sim.staff, sim.skills, sim.windows) == (2, {"s2", "s3"}, ((10000, 40000),))
    # precedence gap [5, 20]: h = 7.5, windows [20, 27.5] then [32.5, 40]
    assert visits["p3.s1"].windows == ((20000, 27500),)
    assert visits["p3.s3"].windows == ((32500, 40000),)
    assert enc.services["p2.sim"] == ((2, 1), (2, 2))
    assert enc.representable
    assert enc.restricted == 2
    assert [c.skills for c in enc.problem.caregivers] == [{"s1", "s2", "s3"}, {"s2", "s3"}]


def test_encode_mankowska_flags_a_simultaneous_double_nobody_pair_can_serve() -> None:
    inst = read_mankowska(DATA / "hhc3.txt")
    weaker = dataclasses.replace(inst, qualified=(inst.qualified[0], frozenset({1})))
    assert encode(weaker).unrepresentable == (2,)


def test_encode_mankowska_widens_windows_by_the_slack_of_each_patient() -> None:
    enc = encode(read_mankowska(DATA / "hhc3.txt"), slack={1: 30.0, 3: 25.0})
    visits = {v.id: v for v in enc.problem.visits}
    assert visits["p1.s1"].windows == ((0, 60000),)  # l = 30, plus 30
    assert visits["p2.sim"].windows == ((10000, 40000),)  # no slack given
    # the pair keeps its shape and moves 25 later: anchor 20 + 25
    assert visits["p3.s1"].windows == ((45000, 52500),)
    assert visits["p3.s3"].windows == ((57500, 65000),)
    assert max(c.shift[1] for c in enc.problem.caregivers) > 65000


def test_earliest_starts_retimes_routes_as_early_as_the_original_rules_allow() -> None:
    inst = read_mankowska(DATA / "hhc3.txt")
    late = [
        [ServiceStart(1, 0, 9.0), ServiceStart(3, 0, 26.0), ServiceStart(2, 1, 50.0)],
        [ServiceStart(3, 2, 31.0), ServiceStart(2, 2, 50.0)],
    ]
    early = earliest_starts(inst, late)
    t2 = 35 + 8.5440037  # as in the hand-computed solution below
    assert [s.start for s in early[0]] == pytest.approx([5.0, 20.0, t2])
    assert [s.start for s in early[1]] == pytest.approx([25.0, t2])
    assert evaluate(inst, early).objective == pytest.approx(59.7200185 / 3, abs=1e-6)


def test_earliest_starts_leaves_impossible_routes_for_the_evaluator_to_report() -> None:
    inst = read_mankowska(DATA / "hhc3.txt")
    # service 3 before service 1 at the same patient: the gap rule cannot hold
    wrong = [[ServiceStart(3, 2, 25.0), ServiceStart(3, 0, 40.0)], []]
    assert earliest_starts(inst, wrong) == wrong
    assert "patient 3: gap -15.0000 outside [5, 20]" in evaluate(inst, wrong).violations


def test_evaluate_mankowska_computes_the_papers_objective_by_hand() -> None:
    inst = read_mankowska(DATA / "hhc3.txt")
    t2 = 35 + 8.5440037  # caregiver 2 leaves patient 3 at 35, the pair starts on its arrival
    routes = [
        [ServiceStart(1, 0, 5.0), ServiceStart(3, 0, 20.0), ServiceStart(2, 1, t2)],
        [ServiceStart(3, 2, 25.0), ServiceStart(2, 2, t2)],
    ]
    ev = evaluate(inst, routes)
    assert ev.feasible, ev.violations
    assert ev.distance == pytest.approx(32 + 2 * 8.5440037, abs=1e-9)
    assert ev.total_tardiness == pytest.approx(2 * (t2 - 40), abs=1e-9)
    assert ev.max_tardiness == pytest.approx(t2 - 40, abs=1e-9)
    assert ev.objective == pytest.approx((59.7200185) / 3, abs=1e-6)


@pytest.mark.parametrize(
    ("routes", "fragment"),
    [
        (
            [[ServiceStart(1, 0, 5.0), ServiceStart(2, 1, 40.0)], [ServiceStart(2, 2, 41.0)]],
            "simultaneous services start",
        ),
        (
            [[ServiceStart(3, 0, 20.0), ServiceStart(3, 2, 30.0)], [ServiceStart(1, 0, 5.0)]],
            "caregiver 2 is not qualified for service 1",
        ),
        (
            [[ServiceStart(3, 0, 20.0), ServiceStart(3, 2, 45.0)], []],
            "patient 3: gap 25.0000 outside [5, 20]",
        ),
        ([[ServiceStart(1, 0, 4.0)], []], "patient 1 starts at 4.0000 before arrival at 5.0000"),
        ([[ServiceStart(1, 0, 5.0), ServiceStart(1, 0, 15.0)], []], "performed 2 times"),
    ],
)
def test_evaluate_mankowska_reports_each_broken_rule(
    routes: list[list[ServiceStart]], fragment: str
) -> None:
    ev = evaluate(read_mankowska(DATA / "hhc3.txt"), routes)
    assert not ev.feasible
    assert any(fragment in v for v in ev.violations), ev.violations


def test_evaluate_mankowska_counts_unserved_services() -> None:
    ev = evaluate(read_mankowska(DATA / "hhc3.txt"), [[ServiceStart(1, 0, 5.0)], []])
    assert (ev.served, ev.services, ev.complete, ev.violations) == (1, 5, False, ())


def test_hand_plan_of_the_hhc_encoding_passes_the_checker_and_reads_back() -> None:
    inst = read_mankowska(DATA / "hhc3.txt")
    inst = dataclasses.replace(inst, late=(200, 30, 100, 60, 200))  # room for the pair
    enc = encode(inst)
    leg23 = 8545  # ceil(8.5440037 * 1000)
    pair = 32500 + 10000 + leg23  # caregiver 2 reaches patient 2 last
    cg1 = Route(
        "cg-01",
        stops=(
            Stop("p1.s1", 5000, 5000, 15000),
            Stop("p3.s1", 19000, 20000, 30000),
            Stop("p2.sim", 30000 + leg23, pair, pair + 10000),
        ),
        travel_s=5000 + 4000 + leg23 + 10000,
        work_s=5000 + 4000 + leg23 + 10000 + 30000,
    )
    cg2 = Route(
        "cg-02",
        stops=(Stop("p3.s3", 3000, 32500, 42500), Stop("p2.sim", pair, pair, pair + 10000)),
        travel_s=3000 + leg23 + 10000,
        work_s=3000 + leg23 + 10000 + 20000,
    )
    plan = _plan((cg1, cg2), visits=4)
    report = check(enc.problem, plan)
    assert report.ok, report.violations
    routes = solution_from_plan(inst, enc, plan)
    assert [(s.node, s.service) for s in routes[0]] == [(1, 0), (3, 0), (2, 1)]
    assert [(s.node, s.service) for s in routes[1]] == [(3, 2), (2, 2)]
    ev = evaluate(inst, routes)
    assert ev.feasible, ev.violations
    assert ev.total_tardiness == 0
    assert ev.objective == pytest.approx((32 + 2 * 8.5440037) / 3, abs=1e-9)


HHC_MALFORMED = [
    ("hhc_unknown_section.txt", 15, "q"),
    ("hhc_missing_section.txt", None, "l"),
    ("hhc_nodes_not_integer.txt", 2, "nbNodes"),
    ("hhc_distance_count.txt", 22, "d"),
    ("hhc_coordinate_not_number.txt", 19, "x"),
    ("hhc_requirement_not_binary.txt", 9, "r"),
    ("hhc_ds_single_service.txt", 14, "DS"),
    ("hhc_double_not_in_ds.txt", 11, "r"),
    ("hhc_due_before_early.txt", 46, "l"),
    ("hhc_gap_reversed.txt", 42, "maxd"),
    ("hhc_negative_time.txt", 44, "e"),
    ("hhc_distance_diagonal.txt", 25, "d"),
]


@pytest.mark.parametrize(("name", "line", "field"), HHC_MALFORMED)
def test_read_mankowska_names_file_line_and_field_of_each_error(
    name: str, line: int | None, field: str
) -> None:
    with pytest.raises(BenchmarkFileError) as info:
        read_mankowska(BAD / name)
    assert (info.value.line, info.value.field) == (line, field)
    assert str(info.value).startswith(str(BAD / name))


def test_read_hhc_best_table() -> None:
    best = read_hhc_best(DATA / "hhc_best.csv")
    assert best["H1"].file == "hhc3.txt"
    assert (best["H1"].best_ub, best["H1"].best_lb, best["H1"].caregivers) == (16.5, 16.0, 2)


# --- the public data folder, when present ---------------------------------------

PUBLIC = default_data_dir()
needs_public_data = pytest.mark.skipif(
    not PUBLIC.is_dir(), reason=f"public benchmark data not found at {PUBLIC}"
)


@needs_public_data
@pytest.mark.parametrize(
    ("folder", "count", "fleet"), [("solomon", 56, 25), ("homberger200", 60, 50)]
)
def test_every_public_vrptw_file_reads_and_has_a_bks_row(
    folder: str, count: int, fleet: int
) -> None:
    bks = read_vrptw_bks(PUBLIC / folder / "bks.csv")
    files = sorted((PUBLIC / folder).glob("*.txt"))
    assert len(files) == count
    for path in files:
        inst = read_vrptw(path)
        assert inst.vehicles == fleet
        assert inst.name in bks
        assert bks[inst.name].vehicles <= inst.vehicles


@needs_public_data
def test_public_mankowska_files_read_with_one_processing_time_per_node() -> None:
    folder = PUBLIC / "hhc" / "mankowska2014"
    best = read_hhc_best(folder / "summary_best_known.csv")
    assert len(best) == 70
    for name in ("A1", "B1", "C1", "D1", "E1", "F1", "G1"):
        inst = read_mankowska(folder / best[name].file, name)
        assert len(inst.patients) == best[name].patients
        assert inst.n_vehicles == best[name].caregivers
        # the file lists a block per caregiver, but every block is the same, which is
        # what lets a single visit duration represent it
        assert not inst.processing_varies
