"""The pure repair helper on generated days: what it fixes, clips and excludes, and that
the repaired day solves to a valid plan that keeps other caregivers' visits."""

from __future__ import annotations

import pytest

from app.services.dispatch_repair import (
    WINDOW_PASSED,
    assignments,
    busiest_after,
    clip_windows,
    compare_plans,
    measure_repair,
    repair_problem,
)
from scheduling import DayPlan, DayProblem, SolveParams, check, generate_day, solve

FROM_S = 10 * 3600
BOUNDED = SolveParams(time_limit_s=2, solution_limit=60, seed=3)


@pytest.fixture(scope="module")
def planned() -> tuple[DayProblem, DayPlan]:
    problem = generate_day(30, seed=5)
    return problem, solve(problem, BOUNDED)


def _absent(plan: DayPlan, problem: DayProblem) -> str:
    return busiest_after(plan, problem, FROM_S)


def test_started_stops_are_locked_at_their_time(planned: tuple[DayProblem, DayPlan]) -> None:
    problem, plan = planned
    who = _absent(plan, problem)
    repair = repair_problem(problem, plan, who, FROM_S)

    started = {
        (s.visit_id, r.caregiver_id, s.start_s)
        for r in plan.routes
        for s in r.stops
        if s.start_s < FROM_S
    }
    assert {(f.visit_id, f.caregiver_id, f.start_s) for f in repair.fixed} == started
    assert {(lk.visit_id, lk.caregiver_id, lk.start_s) for lk in repair.problem.locks} == started
    # The hint is the previous plan less what the absent caregiver can no longer do.
    hinted = {(s.visit_id, r.caregiver_id) for r in repair.hint.routes for s in r.stops}
    before = {(s.visit_id, r.caregiver_id) for r in plan.routes for s in r.stops}
    lost = {
        (s.visit_id, who)
        for r in plan.routes
        if r.caregiver_id == who
        for s in r.stops
        if s.start_s >= FROM_S
    }
    assert hinted == {x for x in before if x[0] not in repair.dropped} - lost


def test_nothing_new_starts_before_the_repair(planned: tuple[DayProblem, DayPlan]) -> None:
    problem, plan = planned
    repair = repair_problem(problem, plan, _absent(plan, problem), FROM_S)
    fixed = {f.visit_id for f in repair.fixed}

    for v in repair.problem.visits:
        if v.id not in fixed:
            assert all(a >= FROM_S for a, _b in v.windows)
    original = {v.id: v for v in problem.visits}
    for vid, reason in repair.dropped.items():
        assert reason == WINDOW_PASSED
        assert all(b < FROM_S for _a, b in original[vid].windows)


def test_the_absent_caregiver_serves_nothing_more(planned: tuple[DayProblem, DayPlan]) -> None:
    problem, plan = planned
    who = _absent(plan, problem)
    repair = repair_problem(problem, plan, who, FROM_S)
    fixed = {f.visit_id for f in repair.fixed}

    for v in repair.problem.visits:
        assert (who in v.excluded_caregivers) == (v.id not in fixed)
    assert repair.problem.caregiver(who).breaks == ()


def test_repaired_day_solves_validly_and_keeps_most_other_visits(
    planned: tuple[DayProblem, DayPlan],
) -> None:
    problem, plan = planned
    who = _absent(plan, problem)
    repair = repair_problem(problem, plan, who, FROM_S)
    new = solve(repair.problem, BOUNDED, hint=repair.hint)

    assert check(repair.problem, new).ok
    after = assignments(new)
    for f in repair.fixed:
        assert f.caregiver_id in after[f.visit_id][0]
        assert after[f.visit_id][1] == f.start_s
    for r in new.routes:
        if r.caregiver_id == who:
            assert all(s.start_s < FROM_S for s in r.stops)
    moved, unchanged = compare_plans(plan, new)
    others = [m for m in moved if who not in m.before]
    assert len(others) <= max(2, unchanged // 10)


def test_a_call_before_the_day_fixes_nothing(planned: tuple[DayProblem, DayPlan]) -> None:
    problem, plan = planned
    who = _absent(plan, problem)
    repair = repair_problem(problem, plan, who, None, now_s=0)

    assert repair.fixed == ()
    assert repair.problem.locks == ()
    assert repair.dropped == {}
    assert all(who in v.excluded_caregivers for v in repair.problem.visits)
    new = solve(repair.problem, BOUNDED, hint=repair.hint)
    assert check(repair.problem, new).ok
    lost = sum(len(r.stops) for r in plan.routes if r.caregiver_id == who)
    assert new.kpis.assigned >= plan.kpis.assigned - lost
    assert not any(r.stops for r in new.routes if r.caregiver_id == who)


def test_an_absence_announced_ahead_only_cuts_the_shift(
    planned: tuple[DayProblem, DayPlan],
) -> None:
    problem, plan = planned
    who = _absent(plan, problem)
    repair = repair_problem(problem, plan, who, 14 * 3600, now_s=8 * 3600)

    worker = repair.problem.caregiver(who)
    assert worker.shift[1] >= 14 * 3600
    assert worker.shift[1] <= problem.caregiver(who).shift[1]
    assert not any(who in v.excluded_caregivers for v in repair.problem.visits)


def test_measure_repair_counts_what_moved(planned: tuple[DayProblem, DayPlan]) -> None:
    problem, plan = planned
    who = _absent(plan, problem)

    bench = measure_repair(
        problem,
        plan,
        who,
        FROM_S,
        lambda p, hint: solve(p, BOUNDED, hint=hint),
        lambda p, new: sorted(check(p, new).codes()),
    )

    mine = [s for r in plan.routes if r.caregiver_id == who for s in r.stops if s.start_s >= FROM_S]
    assert bench.valid
    assert bench.violations == ()
    assert bench.absent_after == len(mine) == bench.reassigned + bench.unassigned
    assert 0 <= bench.others_moved <= bench.others
    assert bench.assigned_before == plan.kpis.assigned
    assert bench.seconds > 0


def test_clip_windows_keeps_what_is_left() -> None:
    assert clip_windows(((28800, 36000), (50400, 57600)), 32400) == (
        (32400, 36000),
        (50400, 57600),
    )
    assert clip_windows(((28800, 36000),), 40000) == ()
