"""Pre-analysis of a day: who may serve each visit, and why a visit cannot be served.

Runs before any search. A visit that no caregiver may serve (skills, gender, exclusion,
volunteer rule), that no eligible caregiver can reach inside its shift, or whose lock cannot
be honoured is left out of the search with a precise reason, so that the routing model only
holds visits it can place. Visits that the search itself leaves out get a capacity reason
computed from the plan (``capacity_reason``).

All functions are pure: they read a ``DayProblem`` and its ``TravelTimes``.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence, Set
from dataclasses import dataclass

from .problem import Break, Caregiver, DayProblem, Route, Visit, Window
from .travel import TravelTimes

_MAX_BREAKS_ENUMERATED = 6
_GENDER_WORDS = {"f": "female", "m": "male"}


@dataclass(frozen=True)
class VisitScope:
    """What the search may do with one visit.

    Attributes
    ----------
    allowed
        Indices (into ``problem.caregivers``) of the caregivers who may serve the visit.
    windows
        The visit's windows that at least one allowed caregiver can reach, merged and sorted;
        a single ``(s, s)`` window when a lock fixes the start.
    locked
        Indices of the caregivers the visit is locked to (at most ``staff``).
    reason
        Why the visit is left out before the search, or ``None`` when it may be served.
    """

    allowed: tuple[int, ...]
    windows: tuple[Window, ...]
    locked: tuple[int, ...] = ()
    reason: str | None = None


def hhmm(seconds: int) -> str:
    """``HH:MM`` (or ``HH:MM:SS`` when the seconds are not zero) of a time of day."""
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h:02d}:{m:02d}" if s == 0 else f"{h:02d}:{m:02d}:{s:02d}"


def windows_text(windows: Sequence[Window]) -> str:
    """Windows as ``08:00-10:00, 14:00-15:00``."""
    return ", ".join(f"{hhmm(a)}-{hhmm(b)}" for a, b in windows)


def _quoted(names: Sequence[str]) -> str:
    return ", ".join(f"'{n}'" for n in names)


def _ids(problem: DayProblem, indices: Sequence[int], limit: int = 5) -> str:
    names = [problem.caregivers[k].id for k in indices]
    shown = ", ".join(names[:limit])
    return shown if len(names) <= limit else f"{shown} and {len(names) - limit} more"


def earliest_breaks(breaks: Sequence[Break], t: int, shift: Window) -> int | None:
    """End of ``breaks`` taken one after another as early as possible from ``t``.

    Each break must start and end inside its window and inside ``shift``; returns ``None``
    when one cannot.
    """
    for b in sorted(breaks, key=lambda b: b.window):
        start = max(t, b.window[0], shift[0])
        if start + b.duration_s > min(b.window[1], shift[1]):
            return None
        t = start + b.duration_s
    return t


def caregiver_problem(c: Caregiver) -> str | None:
    """Why caregiver ``c`` cannot serve any visit today, or ``None``."""
    if c.shift[1] <= c.shift[0]:
        return f"caregiver {c.id} has an empty shift"
    if c.max_visits is not None and c.max_visits <= 0:
        return f"caregiver {c.id} may make no visit"
    if c.max_work_min is not None and c.max_work_min <= 0:
        return f"caregiver {c.id} may not work"
    if len(c.breaks) > _MAX_BREAKS_ENUMERATED:
        return f"caregiver {c.id} has more than {_MAX_BREAKS_ENUMERATED} breaks"
    if earliest_breaks(c.breaks, c.shift[0], c.shift) is None:
        return f"caregiver {c.id} cannot take every break inside the shift"
    return None


def reachable(c: Caregiver, v: Visit, window: Window, travel: TravelTimes) -> bool:
    """Whether ``c`` can serve ``v`` alone in ``window`` within shift, breaks and work limit.

    This is the route start -> visit -> end on its own; each break goes before or after the
    visit, taken as early as possible, and travel may be split around a break.
    """
    t_in = travel.seconds(c.mode, c.start, v.location)
    t_out = travel.seconds(c.mode, v.location, c.end)
    if c.max_work_min is not None and t_in + v.duration_s + t_out > c.max_work_min * 60:
        return False
    open_s, close_s = c.shift
    for mask in itertools.product((False, True), repeat=len(c.breaks)):
        before = [b for b, after in zip(c.breaks, mask, strict=True) if not after]
        after = [b for b, is_after in zip(c.breaks, mask, strict=True) if is_after]
        done = earliest_breaks(before, open_s, c.shift)
        if done is None:
            continue
        start = max(window[0], open_s + t_in + sum(b.duration_s for b in before), done)
        if start > window[1]:
            continue
        end = start + v.duration_s
        done_after = earliest_breaks(after, end, c.shift)
        if done_after is None:
            continue
        back = max(end + t_out + sum(b.duration_s for b in after), done_after)
        if back <= close_s:
            return True
    return False


def merge_windows(windows: Sequence[Window]) -> tuple[Window, ...]:
    """Sorted union of closed integer intervals (touching ones are merged)."""
    out: list[Window] = []
    for a, b in sorted(windows):
        if out and a <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return tuple(out)


def _eligibility(problem: DayProblem, v: Visit, usable: Set[int]) -> tuple[list[int], str]:
    """Caregivers eligible for ``v`` and, when there are none, why."""
    cgs = problem.caregivers
    if not cgs:
        return [], "no caregiver works on this day"
    skills = sorted(v.skills)
    cand = [k for k in range(len(cgs)) if v.skills <= cgs[k].skills]
    if not cand:
        missing = [s for s in skills if not any(s in c.skills for c in cgs)]
        if len(missing) == 1:
            return [], f"no caregiver has skill '{missing[0]}' on this day"
        if missing:
            return [], f"no caregiver has skills {_quoted(missing)} on this day"
        return [], f"no caregiver has all of the skills {_quoted(skills)} on this day"
    with_skills = f" with skills {_quoted(skills)}" if skills else ""
    if v.gender is not None:
        cand = [k for k in cand if cgs[k].gender == v.gender]
        if not cand:
            word = _GENDER_WORDS.get(v.gender, f"gender '{v.gender}'")
            return [], f"no {word} caregiver{with_skills} on this day"
    if not v.volunteer_ok:
        cand = [k for k in cand if not cgs[k].volunteer]
        if not cand:
            return (
                [],
                f"only volunteers qualify{with_skills} and the visit is not open to volunteers",
            )
    kept = [k for k in cand if cgs[k].id not in v.excluded_caregivers]
    if not kept:
        return [], f"the client excludes every eligible caregiver ({_ids(problem, cand)})"
    cand = [k for k in kept if k in usable]
    if not cand:
        return [], f"no eligible caregiver can work today ({_ids(problem, kept)})"
    return cand, ""


def _locks(problem: DayProblem) -> dict[str, list[tuple[str, int | None]]]:
    out: dict[str, list[tuple[str, int | None]]] = {}
    for lock in problem.locks:
        out.setdefault(lock.visit_id, []).append((lock.caregiver_id, lock.start_s))
    return out


def _lock_scope(
    problem: DayProblem, v: Visit, cand: list[int], locks: list[tuple[str, int | None]]
) -> tuple[list[int], tuple[Window, ...], list[int], str]:
    """Apply the visit's locks: the caregivers left, its windows, the locked ones, a reason."""
    index = {c.id: k for k, c in enumerate(problem.caregivers)}
    locked: list[int] = []
    starts = {s for _, s in locks if s is not None}
    for cid, _ in locks:
        if cid not in index:
            return [], (), [], f"locked to unknown caregiver '{cid}'"
        if index[cid] not in cand:
            return [], (), [], f"locked to {cid}, who may not serve it"
        if index[cid] not in locked:
            locked.append(index[cid])
    if len(locked) > v.staff:
        return [], (), [], f"locked to {len(locked)} caregivers but needs {v.staff}"
    if len(starts) > 1:
        return [], (), [], "locked to different start times"
    windows = v.windows
    if starts:
        (s,) = starts
        if not any(a <= s <= b for a, b in v.windows):
            return [], (), [], f"locked start {hhmm(s)} is outside its windows"
        windows = ((s, s),)
    if len(locked) == v.staff:
        cand = list(locked)
    return cand, windows, locked, ""


def _scope(
    problem: DayProblem,
    v: Visit,
    usable: Set[int],
    locks: list[tuple[str, int | None]],
    travel: TravelTimes,
) -> VisitScope:
    cand, why = _eligibility(problem, v, usable)
    if why:
        return VisitScope((), (), reason=why)
    if len(cand) < v.staff:
        return VisitScope(
            (),
            (),
            reason=f"needs {v.staff} staff, only {len(cand)} eligible caregiver "
            f"({_ids(problem, cand)})",
        )
    cand, windows, locked, why = _lock_scope(problem, v, cand, locks)
    if why:
        return VisitScope((), (), reason=why)
    allowed: list[int] = []
    usable_windows: list[Window] = []
    by_timing: dict[tuple[object, ...], list[Window]] = {}
    for k in cand:
        c = problem.caregivers[k]
        key = (c.mode, c.start, c.end, c.shift, c.breaks, c.max_work_min)
        ok = by_timing.get(key)
        if ok is None:
            ok = by_timing[key] = [w for w in windows if reachable(c, v, w, travel)]
        if ok:
            allowed.append(k)
            usable_windows.extend(ok)
    lost = [k for k in locked if k not in allowed]
    if lost:
        who = _ids(problem, lost)
        return VisitScope((), (), reason=f"locked to {who}, who cannot reach it within the shift")
    if not allowed:
        return VisitScope(
            (),
            (),
            reason=f"window {windows_text(windows)} unreachable within any eligible "
            "caregiver's shift",
        )
    if len(allowed) < v.staff:
        return VisitScope(
            (),
            (),
            reason=f"needs {v.staff} staff, only {len(allowed)} eligible caregiver "
            f"({_ids(problem, allowed)}) can reach it within a shift",
        )
    return VisitScope(tuple(allowed), merge_windows(usable_windows), tuple(locked))


def analyse(problem: DayProblem, travel: TravelTimes) -> tuple[VisitScope, ...]:
    """The scope of every visit of ``problem``, in the order of ``problem.visits``."""
    usable = {k for k, c in enumerate(problem.caregivers) if caregiver_problem(c) is None}
    locks = _locks(problem)
    seen: set[str] = set()
    out: list[VisitScope] = []
    for v in problem.visits:
        if v.id in seen:
            out.append(VisitScope((), (), reason="another visit has the same id"))
            continue
        seen.add(v.id)
        if v.staff not in (1, 2):
            out.append(VisitScope((), (), reason=f"staff must be 1 or 2, not {v.staff}"))
            continue
        out.append(_scope(problem, v, usable, locks.get(v.id, []), travel))
    return tuple(out)


def capacity_reason(
    problem: DayProblem, visit: Visit, scope: VisitScope, routes: Sequence[Route]
) -> str:
    """Why the search left ``visit`` out although some caregiver could reach it.

    Names the bound that binds: the allowed caregivers' shift hours against the hours
    already booked on their routes, and the windows the visit had to fit in.
    """
    by_id = {r.caregiver_id: r for r in routes}
    shift_s = 0
    booked_s = 0
    for k in scope.allowed:
        c = problem.caregivers[k]
        shift_s += c.shift[1] - c.shift[0]
        route = by_id.get(c.id)
        if route is not None and route.stops:
            booked_s += route.work_s + sum(b.end_s - b.start_s for b in route.breaks)
    who = _ids(problem, scope.allowed)
    if scope.locked:
        return (
            f"not enough capacity: cannot be served as locked ({_ids(problem, scope.locked)}) "
            "together with the day's other visits"
        )
    staff = "two of " if visit.staff == 2 else ""
    return (
        f"not enough capacity: {staff}{len(scope.allowed)} eligible caregiver(s) ({who}) have "
        f"{booked_s / 3600:.1f} h of {shift_s / 3600:.1f} h shift time booked and no room "
        f"for {visit.duration_min} min in {windows_text(scope.windows)}"
    )
