"""The independent plan checker: one hand-broken plan per rule, and a valid plan.

Every case starts from the hand-made valid plan of the tiny day and breaks one
rule, either in the plan or in the problem, then asserts which violation codes
the checker reports. Route and plan figures (``kpi``) are ignored only where the
edit necessarily changes them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest

from scheduling.check import CheckReport, Violation, check, plan_cost
from scheduling.problem import (
    BreakTaken,
    DayPlan,
    DayProblem,
    Lock,
    Route,
    Unassigned,
    Weights,
)

TINY_TRAVEL_S = 3189 + 686 + 1438


def hms(text: str) -> int:
    h, m, s = (int(x) for x in text.split(":"))
    return h * 3600 + m * 60 + s


# --- edits of the plan -------------------------------------------------------------


def route_of(plan: DayPlan, cid: str) -> Route:
    return next(r for r in plan.routes if r.caregiver_id == cid)


def with_route(plan: DayPlan, cid: str, **changes: object) -> DayPlan:
    routes = tuple(
        dataclasses.replace(r, **changes) if r.caregiver_id == cid else r  # type: ignore[arg-type]
        for r in plan.routes
    )
    return dataclasses.replace(plan, routes=routes)


def with_stop(plan: DayPlan, cid: str, vid: str, **times: str) -> DayPlan:
    route = route_of(plan, cid)
    stops = tuple(
        dataclasses.replace(s, **{f"{k}_s": hms(v) for k, v in times.items()})
        if s.visit_id == vid
        else s
        for s in route.stops
    )
    return with_route(plan, cid, stops=stops)


def without_stop(plan: DayPlan, cid: str, vid: str) -> DayPlan:
    route = route_of(plan, cid)
    return with_route(plan, cid, stops=tuple(s for s in route.stops if s.visit_id != vid))


def with_breaks(plan: DayPlan, cid: str, *spans: tuple[str, str]) -> DayPlan:
    return with_route(plan, cid, breaks=tuple(BreakTaken(hms(a), hms(b)) for a, b in spans))


# --- edits of the problem ----------------------------------------------------------


def with_caregiver(problem: DayProblem, cid: str, **changes: object) -> DayProblem:
    cgs = tuple(
        dataclasses.replace(c, **changes) if c.id == cid else c  # type: ignore[arg-type]
        for c in problem.caregivers
    )
    return dataclasses.replace(problem, caregivers=cgs)


def with_visit(problem: DayProblem, vid: str, **changes: object) -> DayProblem:
    visits = tuple(
        dataclasses.replace(v, **changes) if v.id == vid else v  # type: ignore[arg-type]
        for v in problem.visits
    )
    return dataclasses.replace(problem, visits=visits)


Edit = Callable[[DayProblem, DayPlan], tuple[DayProblem, DayPlan]]


def on_plan(f: Callable[[DayPlan], DayPlan]) -> Edit:
    return lambda problem, plan: (problem, f(plan))


def on_problem(f: Callable[[DayProblem], DayProblem]) -> Edit:
    return lambda problem, plan: (f(problem), plan)


def both(fp: Callable[[DayProblem], DayProblem], fl: Callable[[DayPlan], DayPlan]) -> Edit:
    return lambda problem, plan: (fp(problem), fl(plan))


KPI = frozenset({"kpi"})
NONE: frozenset[str] = frozenset()

BROKEN: dict[str, tuple[Edit, str, frozenset[str]]] = {
    # name: (edit, the code expected, other codes the edit necessarily brings along)
    "service before its window": (
        on_plan(lambda p: with_stop(p, "cg-a", "v-05", start="12:50:00", end="13:35:00")),
        "window",
        NONE,
    ),
    "leaves before the shift opens": (
        on_plan(lambda p: with_stop(p, "vol-c", "v-07", arrival="08:34:00")),
        "shift",
        NONE,
    ),
    "home after the shift closes": (
        on_problem(lambda q: with_caregiver(q, "cg-a", shift=(8 * 3600, hms("14:35:00")))),
        "shift",
        NONE,
    ),
    "break overlaps a service": (
        on_plan(lambda p: with_breaks(p, "cg-a", ("13:00:00", "13:30:00"))),
        "break",
        NONE,
    ),
    "break missing": (on_plan(lambda p: with_breaks(p, "cg-b")), "break", NONE),
    "break too short": (
        on_plan(lambda p: with_breaks(p, "cg-a", ("12:00:00", "12:20:00"))),
        "break",
        NONE,
    ),
    "break outside its window": (
        on_plan(lambda p: with_breaks(p, "cg-a", ("11:20:00", "11:50:00"))),
        "break",
        NONE,
    ),
    "two breaks for one": (
        on_plan(
            lambda p: with_breaks(p, "cg-a", ("12:00:00", "12:30:00"), ("12:30:00", "13:00:00"))
        ),
        "break",
        NONE,
    ),
    "missing skill": (
        on_problem(lambda q: with_caregiver(q, "cg-a", skills=frozenset({"personal_care"}))),
        "skill",
        NONE,
    ),
    "wrong gender": (on_problem(lambda q: with_visit(q, "v-01", gender="m")), "gender", NONE),
    "excluded caregiver": (
        on_problem(lambda q: with_visit(q, "v-01", excluded_caregivers=frozenset({"cg-a"}))),
        "excluded",
        NONE,
    ),
    "volunteer on a care visit": (
        on_problem(lambda q: with_visit(q, "v-07", volunteer_ok=False)),
        "volunteer",
        NONE,
    ),
    "max work": (
        on_problem(lambda q: with_caregiver(q, "cg-a", max_work_min=200)),
        "max_work",
        NONE,
    ),
    "max visits": (
        on_problem(lambda q: with_caregiver(q, "cg-a", max_visits=4)),
        "max_visits",
        NONE,
    ),
    "two-staff visit not synchronised": (
        on_plan(
            lambda p: with_breaks(
                with_stop(p, "cg-b", "v-03", start="10:06:00", end="11:06:00"),
                "cg-b",
                ("11:10:00", "11:55:00"),
            )
        ),
        "sync",
        NONE,
    ),
    "two-staff visit with one caregiver": (
        on_plan(lambda p: without_stop(p, "cg-b", "v-03")),
        "staff",
        KPI,
    ),
    "two-staff visit by the same caregiver twice": (
        on_plan(
            lambda p: with_route(
                without_stop(p, "cg-b", "v-03"),
                "cg-a",
                stops=(*route_of(p, "cg-a").stops[:3], *route_of(p, "cg-a").stops[2:]),
            )
        ),
        "staff",
        KPI | {"travel"},  # the stop overlaps its twin
    ),
    "lock to another caregiver": (
        on_problem(lambda q: dataclasses.replace(q, locks=(Lock("v-02", "cg-b"),))),
        "lock",
        NONE,
    ),
    "lock to another start time": (
        on_problem(
            lambda q: dataclasses.replace(q, locks=(Lock("v-02", "cg-a", hms("09:30:00")),))
        ),
        "lock",
        NONE,
    ),
    "travel too short": (
        on_plan(lambda p: with_stop(p, "cg-a", "v-02", arrival="09:16:00")),
        "travel",
        NONE,
    ),
    "start before arrival": (
        on_plan(lambda p: with_stop(p, "cg-a", "v-06", arrival="14:00:01")),
        "timing",
        NONE,
    ),
    "service shorter than the visit": (
        on_plan(lambda p: with_stop(p, "cg-a", "v-01", end="09:10:00")),
        "timing",
        NONE,
    ),
    "both assigned and unassigned": (
        on_plan(lambda p: dataclasses.replace(p, unassigned=(Unassigned("v-01", "x"),))),
        "duplicate",
        NONE,
    ),
    "one caregiver, two routes": (
        on_plan(lambda p: dataclasses.replace(p, routes=(*p.routes, Route("cg-b")))),
        "duplicate",
        NONE,
    ),
    "visit missing": (on_plan(lambda p: without_stop(p, "vol-c", "v-07")), "missing", KPI),
    "unknown caregiver": (
        on_plan(lambda p: dataclasses.replace(p, routes=(*p.routes, Route("cg-zz")))),
        "unknown",
        NONE,
    ),
    "plan travel kpi": (
        on_plan(lambda p: dataclasses.replace(p, kpis=dataclasses.replace(p.kpis, travel_s=5000))),
        "kpi",
        NONE,
    ),
    "plan continuity kpi": (
        on_plan(
            lambda p: dataclasses.replace(p, kpis=dataclasses.replace(p.kpis, continuity_rate=0.5))
        ),
        "kpi",
        NONE,
    ),
    "route work_s": (on_plan(lambda p: with_route(p, "cg-b", work_s=6000)), "kpi", NONE),
    "capacity": (
        both(
            lambda q: with_visit(with_caregiver(q, "vol-c", capacity=1), "v-04", demand=2),
            lambda p: p,
        ),
        "capacity",
        NONE,
    ),
}


def test_the_tiny_plan_is_valid(tiny_day: DayProblem, tiny_plan: DayPlan) -> None:
    report = check(tiny_day, tiny_plan)
    assert report.violations == ()
    assert report.ok
    assert report.kpis == tiny_plan.kpis
    assert report.kpis.travel_s == TINY_TRAVEL_S
    assert [r.travel_s for r in tiny_plan.routes] == [3189, 686, 1438]


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_each_broken_rule_is_reported(name: str, tiny_day: DayProblem, tiny_plan: DayPlan) -> None:
    edit, code, along = BROKEN[name]
    problem, plan = edit(tiny_day, tiny_plan)
    report = check(problem, plan)
    assert not report.ok
    assert code in report.codes()
    assert report.codes() - along == {code}, report.violations


def test_every_violation_code_has_a_case() -> None:
    codes = {code for _, code, _ in BROKEN.values()}
    assert codes >= {
        "window", "shift", "break", "skill", "gender", "excluded", "volunteer", "max_work",
        "max_visits", "staff", "sync", "lock", "travel", "duplicate", "missing", "kpi",
        "capacity", "timing", "unknown",
    }  # fmt: skip


def find(report: CheckReport, code: str) -> Violation:
    return next(v for v in report.violations if v.code == code)


def test_messages_name_visit_and_caregiver(tiny_day: DayProblem, tiny_plan: DayPlan) -> None:
    edit = BROKEN["service before its window"][0]
    report = check(*edit(tiny_day, tiny_plan))
    v = find(report, "window")
    assert (v.visit_id, v.caregiver_id) == ("v-05", "cg-a")
    assert "v-05" in v.message
    assert "cg-a" in v.message
    assert "12:50:00" in v.message
    assert "13:00-15:00" in v.message


def test_travel_message_gives_the_seconds(tiny_day: DayProblem, tiny_plan: DayPlan) -> None:
    edit = BROKEN["travel too short"][0]
    v = find(check(*edit(tiny_day, tiny_plan)), "travel")
    assert (v.visit_id, v.caregiver_id) == ("v-02", "cg-a")
    assert "needs 351 s" in v.message
    assert "only 60 s free" in v.message


def test_a_break_between_arrival_and_start_is_allowed(
    tiny_day: DayProblem, tiny_plan: DayPlan
) -> None:
    """cg-a waits at v-05's door from 11:11:20 to 13:00 and lunches meanwhile."""
    plan = with_breaks(tiny_plan, "cg-a", ("11:15:00", "11:45:00"))
    assert not check(tiny_day, plan).ok  # 11:15 is before the 11:30 window opens
    plan = with_breaks(tiny_plan, "cg-a", ("12:30:00", "13:00:00"))
    assert check(tiny_day, plan).ok


def test_a_break_inside_a_travel_leg_must_leave_room_for_it(
    tiny_day: DayProblem, tiny_plan: DayPlan
) -> None:
    """cg-b lunches 11:05-11:50 then rides home: 231 s, well within the shift."""
    assert check(tiny_day, tiny_plan).ok
    late = with_caregiver(tiny_day, "cg-b", shift=(hms("07:30:00"), hms("11:53:00")))
    report = check(late, tiny_plan)
    assert report.codes() == {"shift"}
    assert "231 s" in find(report, "shift").message


def test_empty_route_takes_no_break(tiny_day: DayProblem, tiny_plan: DayPlan) -> None:
    plan = without_stop(without_stop(tiny_plan, "vol-c", "v-07"), "vol-c", "v-04")
    plan = with_breaks(plan, "vol-c", ("10:00:00", "10:30:00"))
    report = check(tiny_day, plan)
    assert any(v.code == "break" and v.caregiver_id == "vol-c" for v in report.violations)


def test_matrix_travel_is_read_from_the_matrix(
    tiny_matrix_day: DayProblem, tiny_plan: DayPlan
) -> None:
    """The matrix holds e-bike seconds for every mode, so the walking volunteer's route
    is shorter than the plan (made for geodesic walking) states: only figures differ."""
    report = check(tiny_matrix_day, tiny_plan)
    assert report.codes() == {"kpi"}
    assert report.kpis.travel_s == 3189 + 686 + (91 + 183 + 158)


def test_cost_of_the_tiny_plan(tiny_day: DayProblem, tiny_plan: DayPlan) -> None:
    assert check(tiny_day, tiny_plan).cost == pytest.approx(TINY_TRAVEL_S / 60)
    assert plan_cost(tiny_day, tiny_plan) == pytest.approx(TINY_TRAVEL_S / 60)


def test_cost_counts_continuity_misses(tiny_day: DayProblem, tiny_plan: DayPlan) -> None:
    problem = with_visit(tiny_day, "v-01", preferred_caregivers=("cg-b",))
    report = check(problem, tiny_plan)
    assert report.cost == pytest.approx(TINY_TRAVEL_S / 60 + 30)
    assert report.kpis.continuity_rate == pytest.approx(3 / 4)
    assert report.codes() == {"kpi"}  # the plan still claims 1.0


def test_cost_counts_unassigned_by_priority(tiny_day: DayProblem, tiny_plan: DayPlan) -> None:
    plan = without_stop(tiny_plan, "vol-c", "v-07")
    plan = dataclasses.replace(plan, unassigned=(Unassigned("v-07", "test"),))
    report = check(tiny_day, plan)
    assert report.kpis.assigned == 7
    assert report.cost == pytest.approx(report.kpis.travel_s / 60 + 1000)
    assert report.codes() == {"kpi"}


def test_cost_counts_fixed_cost_per_used_route(tiny_day: DayProblem, tiny_plan: DayPlan) -> None:
    problem = dataclasses.replace(tiny_day, weights=Weights(2, 30, {1: 5}, route_fixed=500))
    plan = dataclasses.replace(tiny_plan, routes=(*tiny_plan.routes,))
    assert plan_cost(problem, plan) == pytest.approx(2 * TINY_TRAVEL_S / 60 + 3 * 500)


def test_all_unassigned_breaks_only_the_lock(tiny_day: DayProblem, tiny_plan: DayPlan) -> None:
    plan = DayPlan(
        routes=(),
        unassigned=tuple(Unassigned(v.id, "none") for v in tiny_day.visits),
        kpis=dataclasses.replace(tiny_plan.kpis, assigned=0, travel_s=0, continuity_rate=1.0),
        solver=tiny_plan.solver,
    )
    report = check(tiny_day, plan)
    assert report.codes() == {"lock"}  # v-02 is locked to cg-a
    assert report.cost == 3 * 100_000 + 3 * 10_000 + 2 * 1_000
