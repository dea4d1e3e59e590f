"""Repair a day when a caregiver drops out: the pure part, on ``DayProblem`` and ``DayPlan``.

A sick call at 07:30 or at noon should change as little of the day as possible. Given the
day, the plan being carried out and the caregiver who is away, ``repair_problem`` returns
the problem to re-solve:

- what had started by ``now`` is fixed: each such stop becomes a lock on its caregiver and
  its start time (completed and started visits stay exactly where they were);
- nothing new may start before ``now``: the windows of every other visit are clipped to
  begin at ``now`` (a visit whose windows are all past is dropped, with its reason);
- the absent caregiver serves nothing more (or, when the absence begins later than now,
  nothing that ends after it): their shift is cut, or they are excluded from every visit
  not fixed to them; a visit they had started still ends where it was, and their day ends
  after the way home from it;
- a caregiver whose shift is over by ``now`` takes nothing more.

The previous plan (less the absent caregiver's lost stops) is returned as the solver's
``hint``: ``scheduling.solve`` starts from it and charges every visit moved away from its
caregiver, so other caregivers' routes change
only where that pays. No database here, so ``flask plan bench-repair`` runs it on generated
days; ``app.services.dispatch`` runs it on a stored plan version.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from scheduling.problem import (
    Break,
    Caregiver,
    DayPlan,
    DayProblem,
    Lock,
    Visit,
    Window,
)
from scheduling.travel import provider_for

WINDOW_PASSED = "its time windows had passed when the day was repaired"


@dataclass(frozen=True)
class Fixed:
    """A stop that had started before the repair: it stays on ``caregiver_id`` at ``start_s``."""

    visit_id: str
    caregiver_id: str
    start_s: int
    end_s: int


@dataclass(frozen=True)
class RepairInput:
    """What to re-solve after an absence.

    Attributes
    ----------
    problem
        The day with the fixed stops locked, the absent caregiver cut out and windows
        clipped to ``now``.
    hint
        The previous plan, for ``scheduling.solve(..., hint=...)``, without the stops
        the absent caregiver can no longer make.
    fixed
        The stops kept as they were.
    dropped
        Visits left out of ``problem`` because their windows had passed: id -> reason.
    """

    problem: DayProblem
    hint: DayPlan
    fixed: tuple[Fixed, ...]
    dropped: Mapping[str, str]


def repair_problem(
    problem: DayProblem,
    previous: DayPlan,
    caregiver_ref: str,
    from_s: int | None,
    *,
    now_s: int | None = None,
) -> RepairInput:
    """The problem that re-plans the rest of the day around an absent caregiver.

    Parameters
    ----------
    problem
        The day as it stands (caregivers, visits, locks).
    previous
        The plan being carried out.
    caregiver_ref
        The absent caregiver's id in the problem (``cg-7``); absent from the problem is fine
        (a caregiver away all day is simply not in a freshly built day).
    from_s
        When the absence begins (seconds since midnight), or None for the whole day.
    now_s
        The moment of the repair: stops that started before it are fixed and nothing new
        starts before it. Defaults to ``from_s``; None fixes nothing (a call before the day).
    """
    freeze = from_s if now_s is None else now_s
    caregivers = {c.id: c for c in problem.caregivers}
    visits = {v.id: v for v in problem.visits}
    fixed = _fixed_stops(previous, freeze, visits, caregivers)
    fixed_ids = {f.visit_id for f in fixed}
    away_now = caregiver_ref in caregivers and (
        from_s is None or (freeze is not None and from_s <= freeze)
    )
    new_visits, dropped = _repaired_visits(
        problem.visits, fixed_ids, freeze, caregiver_ref, away_now
    )
    kept_visits = {v.id: v for v in new_visits}
    fixed_by = _by_caregiver(fixed)
    new_caregivers = []
    for c in problem.caregivers:
        if c.id == caregiver_ref:
            c = _absent(problem, c, fixed_by.get(c.id, ()), kept_visits, from_s, away_now)
        elif freeze is not None and c.id not in fixed_by:
            c = _starts_now(c, freeze)
        new_caregivers.append(c)
    finished = {c.id for c in new_caregivers if c.shift[1] <= c.shift[0]}
    new_caregivers = [_restore_shift(c, caregivers[c.id]) for c in new_caregivers]
    new_visits = [_exclude(v, finished) if v.id not in fixed_ids else v for v in new_visits]
    locks = _locks(problem.locks, fixed, fixed_ids, kept_visits, caregiver_ref, away_now)
    repaired = dataclasses.replace(
        problem, caregivers=tuple(new_caregivers), visits=tuple(new_visits), locks=locks
    )
    return RepairInput(repaired, servable_hint(repaired, previous), fixed, dropped)


def servable_hint(problem: DayProblem, previous: DayPlan) -> DayPlan:
    """``previous`` without the stops its caregivers may no longer make in ``problem``.

    The solver starts from its hint's routes as they are; a stop left with a caregiver who
    is now excluded from it (the absent one) would spoil that start.
    """
    visits = {v.id: v for v in problem.visits}
    routes = tuple(
        dataclasses.replace(
            r,
            stops=tuple(
                s
                for s in r.stops
                if s.visit_id in visits
                and r.caregiver_id not in visits[s.visit_id].excluded_caregivers
            ),
        )
        for r in previous.routes
    )
    return dataclasses.replace(previous, routes=routes)


def _fixed_stops(
    previous: DayPlan,
    freeze: int | None,
    visits: Mapping[str, Visit],
    caregivers: Mapping[str, Caregiver],
) -> tuple[Fixed, ...]:
    if freeze is None:
        return ()
    return tuple(
        Fixed(s.visit_id, r.caregiver_id, s.start_s, s.end_s)
        for r in previous.routes
        if r.caregiver_id in caregivers
        for s in r.stops
        if s.start_s < freeze and s.visit_id in visits
    )


def _by_caregiver(fixed: Iterable[Fixed]) -> dict[str, tuple[Fixed, ...]]:
    out: dict[str, list[Fixed]] = {}
    for f in fixed:
        out.setdefault(f.caregiver_id, []).append(f)
    return {k: tuple(sorted(v, key=lambda f: f.start_s)) for k, v in out.items()}


def clip_windows(windows: Sequence[Window], earliest_s: int) -> tuple[Window, ...]:
    """The parts of ``windows`` at or after ``earliest_s``."""
    return tuple((max(a, earliest_s), b) for a, b in windows if b >= earliest_s)


def _repaired_visits(
    visits: Sequence[Visit],
    fixed_ids: set[str],
    freeze: int | None,
    absent: str,
    away_now: bool,
) -> tuple[list[Visit], dict[str, str]]:
    out: list[Visit] = []
    dropped: dict[str, str] = {}
    for v in visits:
        if v.id in fixed_ids:
            out.append(v)
            continue
        windows = v.windows if freeze is None else clip_windows(v.windows, freeze)
        if not windows:
            dropped[v.id] = WINDOW_PASSED
            continue
        v = dataclasses.replace(v, windows=windows)
        out.append(_exclude(v, {absent}) if away_now else v)
    return out, dropped


def _exclude(v: Visit, caregiver_ids: set[str]) -> Visit:
    if not caregiver_ids or caregiver_ids <= v.excluded_caregivers:
        return v
    return dataclasses.replace(v, excluded_caregivers=v.excluded_caregivers | caregiver_ids)


def clip_breaks(breaks: Iterable[Break], open_s: int, close_s: int) -> tuple[Break, ...]:
    """Breaks whose windows still fit in ``[open_s, close_s]``, clipped to it."""
    out = []
    for b in breaks:
        start, end = max(b.window[0], open_s), min(b.window[1], close_s)
        # A break that no longer fits (a sick call before lunch) is not owed.
        if end - start >= b.duration_s:
            out.append(Break(window=(start, end), duration_s=b.duration_s))
    return tuple(out)


def _absent(
    problem: DayProblem,
    c: Caregiver,
    kept: Sequence[Fixed],
    visits: Mapping[str, Visit],
    from_s: int | None,
    away_now: bool,
) -> Caregiver:
    open_s, close_s = c.shift
    if from_s is not None:
        close_s = max(open_s, min(close_s, from_s))
    if kept:
        # A visit under way is finished; the caregiver then goes home from it.
        last = kept[-1]
        home_s = _travel_s(problem, c, visits[last.visit_id].location, c.end)
        close_s = max(close_s, last.end_s + home_s)
    breaks = () if away_now else clip_breaks(c.breaks, open_s, close_s)
    if away_now and not kept:
        return dataclasses.replace(c, breaks=())
    return dataclasses.replace(c, shift=(open_s, close_s), breaks=breaks)


def _travel_s(
    problem: DayProblem, c: Caregiver, a: tuple[float, float], b: tuple[float, float]
) -> int:
    if a == b:
        return 0
    return int(provider_for(problem).seconds([a, b], c.mode)[0, 1])


def _starts_now(c: Caregiver, freeze: int) -> Caregiver:
    # A caregiver whose shift is over by now takes nothing more: marked by open >= close,
    # then excluded from every visit and restored by _restore_shift. Others keep their
    # shift start: one whose first visit is after now may already be on the way to it.
    if freeze < c.shift[1]:
        return c
    return dataclasses.replace(c, shift=(c.shift[1], c.shift[1]), breaks=())


def _restore_shift(c: Caregiver, original: Caregiver) -> Caregiver:
    if c.shift[1] > c.shift[0]:
        return c
    return dataclasses.replace(c, shift=original.shift, breaks=())


def _locks(
    locks: Iterable[Lock],
    fixed: Iterable[Fixed],
    fixed_ids: set[str],
    visits: Mapping[str, Visit],
    absent: str,
    away_now: bool,
) -> tuple[Lock, ...]:
    out = [Lock(f.visit_id, f.caregiver_id, f.start_s) for f in fixed]
    for lk in locks:
        if lk.visit_id in fixed_ids or lk.visit_id not in visits:
            continue
        if away_now and lk.caregiver_id == absent:
            continue
        if lk.start_s is not None and not any(
            a <= lk.start_s <= b for a, b in visits[lk.visit_id].windows
        ):
            # A pinned start that is now in the past keeps only the caregiver.
            lk = Lock(lk.visit_id, lk.caregiver_id)
        out.append(lk)
    return tuple(out)


@dataclass(frozen=True)
class Moved:
    """A visit whose caregivers or start changed between two plans."""

    visit_id: str
    before: tuple[str, ...]
    after: tuple[str, ...]
    before_start_s: int | None
    after_start_s: int | None


def assignments(plan: DayPlan) -> dict[str, tuple[tuple[str, ...], int]]:
    """Visit id -> (its caregivers, sorted; its start) in ``plan``."""
    cgs: dict[str, list[str]] = {}
    start: dict[str, int] = {}
    for r in plan.routes:
        for s in r.stops:
            cgs.setdefault(s.visit_id, []).append(r.caregiver_id)
            start.setdefault(s.visit_id, s.start_s)
    return {v: (tuple(sorted(c)), start[v]) for v, c in cgs.items()}


def compare_plans(before: DayPlan, after: DayPlan) -> tuple[list[Moved], int]:
    """Visits whose caregivers changed between ``before`` and ``after``, and how many kept them.

    A visit served in one plan only counts as moved (to or from nobody); a visit served by
    the same caregivers at another time is unchanged here (times shift with every re-plan).
    """
    a, b = assignments(before), assignments(after)
    moved: list[Moved] = []
    unchanged = 0
    for vid in sorted(a.keys() | b.keys(), key=_natural):
        (ca, sa), (cb, sb) = a.get(vid, ((), None)), b.get(vid, ((), None))
        if ca == cb:
            unchanged += 1
        else:
            moved.append(Moved(vid, ca, cb, sa, sb))
    return moved, unchanged


def _natural(ref: str) -> tuple[str, int]:
    prefix, _, number = ref.rpartition("-")
    return (prefix, int(number)) if number.isdigit() else (ref, 0)


@dataclass(frozen=True)
class RepairBench:
    """The figures of one repair: what ``flask plan bench-repair`` prints."""

    caregiver_id: str
    from_s: int
    seconds: float
    valid: bool
    violations: tuple[str, ...]
    absent_after: int
    reassigned: int
    unassigned: int
    others: int
    others_moved: int
    fixed: int
    dropped: int
    assigned_before: int
    assigned_after: int
    travel_before_s: int
    travel_after_s: int

    @property
    def moved_pct(self) -> float:
        return 100.0 * self.others_moved / self.others if self.others else 0.0


def busiest_after(plan: DayPlan, problem: DayProblem, from_s: int) -> str:
    """The paid caregiver with the most visits starting at or after ``from_s``."""
    volunteers = {c.id for c in problem.caregivers if c.volunteer}
    counts = [
        (sum(1 for s in r.stops if s.start_s >= from_s), r.caregiver_id)
        for r in plan.routes
        if r.caregiver_id not in volunteers
    ]
    return max(counts, key=lambda x: (x[0], _natural_desc(x[1])))[1]


def _natural_desc(ref: str) -> tuple[str, int]:
    prefix, number = _natural(ref)
    return prefix, -number


def measure_repair(
    problem: DayProblem,
    previous: DayPlan,
    caregiver_id: str,
    from_s: int,
    solve_plan: Callable[[DayProblem, DayPlan], DayPlan],
    check_plan: Callable[[DayProblem, DayPlan], Sequence[str]],
) -> RepairBench:
    """Repair ``previous`` for ``caregiver_id`` away from ``from_s`` and measure the result.

    ``solve_plan(problem, hint)`` is the solver call (its time limit is the caller's
    choice); ``check_plan`` returns the violation codes of a plan. Visits of the absent
    caregiver count from ``from_s`` on; "others" are the visits other caregivers served
    in ``previous``, and one of them moved when its caregivers changed (or it was dropped).
    """
    t0 = time.perf_counter()
    repair = repair_problem(problem, previous, caregiver_id, from_s)
    plan = solve_plan(repair.problem, repair.hint)
    seconds = time.perf_counter() - t0
    codes = tuple(check_plan(repair.problem, plan))
    before, after = assignments(previous), assignments(plan)
    mine = [
        s.visit_id
        for r in previous.routes
        if r.caregiver_id == caregiver_id
        for s in r.stops
        if s.start_s >= from_s
    ]
    served_after = [v for v in mine if v in after]
    others = [v for v, (cgs, _s) in before.items() if caregiver_id not in cgs]
    moved = [v for v in others if after.get(v, ((), 0))[0] != before[v][0]]
    return RepairBench(
        caregiver_id=caregiver_id,
        from_s=from_s,
        seconds=seconds,
        valid=not codes,
        violations=codes,
        absent_after=len(mine),
        reassigned=sum(1 for v in served_after if caregiver_id not in after[v][0]),
        unassigned=len(mine) - len(served_after),
        others=len(others),
        others_moved=len(moved),
        fixed=len(repair.fixed),
        dropped=len(repair.dropped),
        assigned_before=previous.kpis.assigned,
        assigned_after=plan.kpis.assigned,
        travel_before_s=previous.kpis.travel_s,
        travel_after_s=plan.kpis.travel_s,
    )
