"""Manual edits on a solved generated day: re-timing agrees with the checker, and each
edit changes what it says and keeps the plan's own figures right."""

from __future__ import annotations

import dataclasses

import pytest

from app.services import dispatch_edits as edits
from scheduling import DayPlan, DayProblem, SolveParams, Visit, check, generate_day, solve


@pytest.fixture(scope="module")
def planned() -> tuple[DayProblem, DayPlan]:
    problem = generate_day(30, seed=11)
    return problem, solve(problem, SolveParams(time_limit_s=2, solution_limit=60, seed=1))


def _codes(problem: DayProblem, plan: DayPlan) -> set[str]:
    return set(check(problem, plan).codes())


def _serving(plan: DayPlan, visit_id: str) -> set[str]:
    return {cid for cid, _s in edits.serving(plan, visit_id)}


def test_retiming_every_route_keeps_the_plan_valid(planned: tuple[DayProblem, DayPlan]) -> None:
    problem, plan = planned
    legs = edits.Legs(problem)
    pins = edits._pins(problem, plan)
    changed = {}
    for r in plan.routes:
        timed = edits.retime(
            problem,
            r.caregiver_id,
            [s.visit_id for s in r.stops],
            legs,
            lower={s.visit_id: s.start_s for s in r.stops},
            pinned=pins,
        )
        assert timed.ok, r.caregiver_id
        changed[r.caregiver_id] = timed.route
    retimed = edits.with_routes(problem, plan, changed, plan.unassigned)

    assert check(problem, retimed).ok
    assert retimed.kpis == check(problem, retimed).kpis


def _single_staff_stop(problem: DayProblem, plan: DayPlan) -> tuple[str, str]:
    for r in plan.routes:
        for s in r.stops:
            if problem.visit(s.visit_id).staff == 1 and not r.caregiver_id.startswith("vol"):
                return s.visit_id, r.caregiver_id
    raise AssertionError("no single-staff visit in the plan")


def test_move_hands_the_visit_over_and_restates_the_figures(
    planned: tuple[DayProblem, DayPlan],
) -> None:
    problem, plan = planned
    vid, source = _single_staff_stop(problem, plan)
    visit = problem.visit(vid)
    target = next(c.id for c in problem.caregivers if c.id != source and edits._eligible(c, visit))

    moved = edits.move(problem, plan, vid, target)

    assert _serving(moved, vid) == {target}
    assert "kpi" not in _codes(problem, moved)
    assert moved.kpis.assigned == plan.kpis.assigned
    assert moved.solver.name == edits.EDIT_SOLVER


def test_move_to_a_time_outside_the_windows_is_a_violation(
    planned: tuple[DayProblem, DayPlan],
) -> None:
    problem, plan = planned
    vid, source = _single_staff_stop(problem, plan)
    late = max(b for _a, b in problem.visit(vid).windows) + 1800

    moved = edits.move(problem, plan, vid, source, late)

    assert "window" in _codes(problem, moved)
    # Asked for a time it can be reached by, or the first moment it can be reached.
    stop = next(s for _c, s in edits.serving(moved, vid))
    assert stop.start_s >= late


def test_move_of_an_unassigned_visit_takes_it_off_the_list(
    planned: tuple[DayProblem, DayPlan],
) -> None:
    problem, plan = planned
    vid, source = _single_staff_stop(problem, plan)
    without = edits.mark_absent(problem, plan, source, None, "sick")[1]
    assert vid in {u.visit_id for u in without.unassigned}

    back = edits.move(problem, without, vid, source)

    assert vid not in {u.visit_id for u in back.unassigned}
    assert _serving(back, vid) == {source}


def test_absent_from_a_time_keeps_the_visits_done_by_then(
    planned: tuple[DayProblem, DayPlan],
) -> None:
    problem, plan = planned
    route = max(plan.routes, key=lambda r: len(r.stops))
    cut = route.stops[len(route.stops) // 2].start_s

    new_problem, new_plan = edits.mark_absent(problem, plan, route.caregiver_id, cut, "sick")

    after = next(r for r in new_plan.routes if r.caregiver_id == route.caregiver_id)
    kept = [s.visit_id for s in after.stops]
    assert kept == [s.visit_id for s in route.stops[: len(kept)]]
    assert all(s.end_s <= cut for s in after.stops)
    lost = {s.visit_id for s in route.stops} - set(kept)
    assert lost
    reasons = {u.visit_id: u.reason for u in new_plan.unassigned}
    assert all("sick" in reasons[v] for v in lost)
    assert new_problem.caregiver(route.caregiver_id).shift[1] == cut
    assert check(new_problem, new_plan).ok


def test_add_visit_inserts_it_where_it_fits(planned: tuple[DayProblem, DayPlan]) -> None:
    problem, plan = planned
    template = next(v for v in problem.visits if v.staff == 1 and not v.volunteer_ok)
    urgent = dataclasses.replace(
        template,
        id="v-9001",
        windows=((14 * 3600, 17 * 3600),),
        duration_min=20,
        priority=1,
        preferred_caregivers=(),
    )

    new_problem, new_plan = edits.add_visit(problem, plan, urgent)

    assert len(new_problem.visits) == len(problem.visits) + 1
    assert len(_serving(new_plan, "v-9001")) == 1
    assert check(new_problem, new_plan).ok


def test_add_visit_that_fits_nowhere_is_left_unassigned_with_the_reason(
    planned: tuple[DayProblem, DayPlan],
) -> None:
    problem, plan = planned
    nobody = Visit(
        id="v-9002",
        client_id="c-9",
        location=problem.visits[0].location,
        windows=((6 * 3600, 6 * 3600 + 60),),
        duration_min=30,
        skills=frozenset({"nursing"}),
    )

    new_problem, new_plan = edits.add_visit(problem, plan, nobody)

    assert {u.visit_id: u.reason for u in new_plan.unassigned}["v-9002"] == edits.NO_ROOM
    assert check(new_problem, new_plan).ok


def test_lock_pins_caregiver_and_start_and_unlock_releases(
    planned: tuple[DayProblem, DayPlan],
) -> None:
    problem, plan = planned
    vid, source = _single_staff_stop(problem, plan)
    start = next(s.start_s for _c, s in edits.serving(plan, vid))

    locked = edits.set_lock(problem, plan, vid, True)
    assert [(lk.visit_id, lk.caregiver_id, lk.start_s) for lk in locked.locks] == [
        (vid, source, start)
    ]
    assert check(locked, plan).ok
    assert edits.set_lock(locked, plan, vid, False).locks == ()


def test_edits_name_the_field_they_cannot_use(planned: tuple[DayProblem, DayPlan]) -> None:
    problem, plan = planned
    with pytest.raises(edits.EditError) as caught:
        edits.move(problem, plan, "v-404", problem.caregivers[0].id)
    assert caught.value.field == "visit_ref"
    with pytest.raises(edits.EditError) as caught:
        edits.move(problem, plan, problem.visits[0].id, "cg-404")
    assert caught.value.field == "caregiver_ref"
    unserved = plan.unassigned[0].visit_id if plan.unassigned else None
    if unserved is not None:
        with pytest.raises(edits.EditError):
            edits.set_lock(problem, plan, unserved, True)
