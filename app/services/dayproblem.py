"""Build one agency's day as a ``scheduling.DayProblem`` from the database.

Identifiers in the problem are prefixed so that a plan can be mapped back to rows:
``cg-<id>`` caregivers, ``vol-<id>`` volunteers, ``v-<id>`` visits, ``p-<id>`` persons.
The same problem, dumped with ``scheduling.io.dump_problem``, is what ``flask plan export``
writes and what ``python -m scheduling solve`` takes as it is.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app.models import (
    Assessment,
    Caregiver,
    Visit,
    VisitStatus,
    Volunteer,
)
from app.models.dispatch import CapOverride, CaregiverAbsence
from app.policy import VOLUNTEER_SKILLS, Policy, load_policy
from app.services.assessments import latest_assessment
from scheduling.problem import Break, DayProblem, Lock, Travel, Weights
from scheduling.problem import Caregiver as Worker
from scheduling.problem import Visit as Task

OPEN_STATUSES = (VisitStatus.PLANNED.value, VisitStatus.ASSIGNED.value)
SPEEDS_KMH = {"walk": 4.5, "ebike": 15.0, "car": 25.0}
DETOUR_FACTOR = 1.3
WEEKDAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def caregiver_ref(caregiver_id: int) -> str:
    return f"cg-{caregiver_id}"


def volunteer_ref(volunteer_id: int) -> str:
    return f"vol-{volunteer_id}"


def visit_ref(visit_id: int) -> str:
    return f"v-{visit_id}"


def parse_ref(ref: str) -> tuple[str, int]:
    """``("cg", 7)`` from ``"cg-7"``."""
    kind, _, number = ref.partition("-")
    return kind, int(number)


def seconds(t: dt.time) -> int:
    return t.hour * 3600 + t.minute * 60 + t.second


def hhmm_seconds(text: str) -> int:
    hours, minutes = text.split(":")[:2]
    return int(hours) * 3600 + int(minutes) * 60


@dataclass(frozen=True)
class DayInput:
    """A day problem and what was left out of it, with reasons."""

    problem: DayProblem
    over_cap: Mapping[int, str] = field(default_factory=dict)
    absent: frozenset[int] = frozenset()


def build_day_problem(
    session: Session,
    agency_id: int,
    day: dt.date,
    *,
    locks: Iterable[Lock] = (),
    policy: Policy | None = None,
) -> DayInput:
    """The open visits of ``day`` with the caregivers and volunteers available then.

    Visits over the person's weekly entitlement are left out unless a dispatcher
    overrode the cap (``CapOverride``); they come back in ``DayInput.over_cap``.
    """
    policy = policy or load_policy()
    visits = _open_visits(session, agency_id, day)
    over_cap = over_cap_visits(session, agency_id, day, policy)
    absences = _absences(session, agency_id, day)
    workers = [
        w
        for c in _caregivers(session, agency_id)
        if (w := _worker_from_caregiver(c, day, absences.get(c.id, ()))) is not None
    ]
    workers += [w for v in _volunteers(session, agency_id) if (w := _worker_from_volunteer(v, day))]
    known = {w.id for w in workers}
    tasks = tuple(_known_preferred(visit_task(v), known) for v in visits if v.id not in over_cap)
    task_ids = {t.id for t in tasks}
    problem = DayProblem(
        date=day,
        caregivers=tuple(workers),
        visits=tasks,
        travel=Travel(model="geodesic", detour_factor=DETOUR_FACTOR, speeds_kmh=SPEEDS_KMH),
        # A lock carried over from an earlier version may name a visit that was cancelled
        # or a caregiver now away; the format refuses such references.
        locks=tuple(lk for lk in locks if lk.visit_id in task_ids and lk.caregiver_id in known),
        weights=Weights(),
    )
    absent_all_day = frozenset(cid for cid, rows in absences.items() if None in rows)
    return DayInput(problem, over_cap, absent_all_day)


def _open_visits(session: Session, agency_id: int, day: dt.date) -> list[Visit]:
    stmt = (
        select(Visit)
        .where(
            Visit.agency_id == agency_id,
            Visit.date == day,
            Visit.status.in_(OPEN_STATUSES),
        )
        .options(selectinload(Visit.person))
        .order_by(Visit.id)
    )
    return list(session.scalars(stmt))


def _caregivers(session: Session, agency_id: int) -> list[Caregiver]:
    stmt = (
        select(Caregiver)
        .where(Caregiver.agency_id == agency_id, Caregiver.active.is_(True))
        .options(selectinload(Caregiver.qualifications))
        .order_by(Caregiver.id)
    )
    return list(session.scalars(stmt))


def _volunteers(session: Session, agency_id: int) -> list[Volunteer]:
    stmt = (
        select(Volunteer)
        .where(Volunteer.agency_id == agency_id, Volunteer.active.is_(True))
        .order_by(Volunteer.id)
    )
    return list(session.scalars(stmt))


def _absences(
    session: Session, agency_id: int, day: dt.date
) -> dict[int, tuple[dt.time | None, ...]]:
    stmt = (
        select(CaregiverAbsence.caregiver_id, CaregiverAbsence.from_time)
        .join(Caregiver, Caregiver.id == CaregiverAbsence.caregiver_id)
        .where(Caregiver.agency_id == agency_id, CaregiverAbsence.date == day)
    )
    out: dict[int, list[dt.time | None]] = defaultdict(list)
    for caregiver_id, from_time in session.execute(stmt):
        out[caregiver_id].append(from_time)
    return {k: tuple(v) for k, v in out.items()}


def _worker_from_caregiver(
    c: Caregiver, day: dt.date, absent_from: tuple[dt.time | None, ...]
) -> Worker | None:
    if None in absent_from:
        return None
    start_s, end_s = seconds(c.shift_start), seconds(c.shift_end)
    if absent_from:
        end_s = min(end_s, *(seconds(t) for t in absent_from if t is not None))
    if end_s <= start_s:
        return None
    skills = frozenset(
        q.skill for q in c.qualifications if q.expires_on is None or q.expires_on >= day
    )
    home = (c.home_lat, c.home_lon)
    return Worker(
        id=caregiver_ref(c.id),
        mode=c.travel_mode,
        skills=skills,
        start=home,
        end=home,
        shift=(start_s, end_s),
        gender=c.gender,
        breaks=_breaks(c, end_s),
        max_work_min=c.max_work_min,
        max_visits=c.max_visits,
    )


def _breaks(c: Caregiver, shift_end_s: int) -> tuple[Break, ...]:
    if not (c.break_min and c.break_window_start and c.break_window_end):
        return ()
    open_s = seconds(c.break_window_start)
    close_s = min(seconds(c.break_window_end), shift_end_s)
    # A shift cut short before the lunch window (a sick call at 10:00) has no lunch to take.
    if close_s - open_s < c.break_min * 60:
        return ()
    return (Break(window=(open_s, close_s), duration_s=c.break_min * 60),)


def _worker_from_volunteer(v: Volunteer, day: dt.date) -> Worker | None:
    slots = v.availability.get(WEEKDAY_KEYS[day.weekday()], [])
    if not slots:
        return None
    # One route per volunteer and day: from the first slot's start to the last slot's end.
    start_s = min(hhmm_seconds(s[0]) for s in slots)
    end_s = max(hhmm_seconds(s[1]) for s in slots)
    home = (v.home_lat, v.home_lon)
    return Worker(
        id=volunteer_ref(v.id),
        mode=v.travel_mode,
        skills=VOLUNTEER_SKILLS,
        start=home,
        end=home,
        shift=(start_s, end_s),
        gender=v.gender,
        volunteer=True,
    )


def visit_task(v: Visit) -> Task:
    """The problem's visit for a stored visit (its person loaded)."""
    person = v.person
    return Task(
        id=visit_ref(v.id),
        client_id=f"p-{v.person_id}",
        location=(person.lat, person.lon),
        windows=tuple((hhmm_seconds(a), hhmm_seconds(b)) for a, b in v.windows),
        duration_min=v.duration_min,
        skills=frozenset(v.skills),
        staff=v.staff_count,
        priority=v.priority,
        gender=v.gender_required,
        preferred_caregivers=(
            (caregiver_ref(v.preferred_caregiver_id),) if v.preferred_caregiver_id else ()
        ),
        volunteer_ok=v.volunteer_ok,
    )


def _known_preferred(task: Task, known: set[str]) -> Task:
    # The preferred caregiver may be inactive, away all day or gone to another agency; the
    # format refuses a reference to a caregiver who is not in the day.
    kept = tuple(ref for ref in task.preferred_caregivers if ref in known)
    return task if kept == task.preferred_caregivers else replace(task, preferred_caregivers=kept)


def over_cap_visits(
    session: Session, agency_id: int, day: dt.date, policy: Policy
) -> dict[int, str]:
    """Visits of ``day`` beyond their person's weekly visit entitlement, with a reason.

    Within the ISO week, visits count in date then id order; cancelled ones do not count.
    A visit with a ``CapOverride`` is never reported.
    """
    week_start = day - dt.timedelta(days=day.weekday())
    week_end = week_start + dt.timedelta(days=6)
    rows = session.execute(
        select(Visit.id, Visit.person_id, Visit.date)
        .where(
            Visit.agency_id == agency_id,
            Visit.date.between(week_start, week_end),
            Visit.status != VisitStatus.CANCELLED.value,
        )
        .order_by(Visit.date, Visit.id)
    ).all()
    persons = {r.person_id for r in rows if r.date == day}
    grades = _grades(session, persons, day)
    overridden = set(
        session.scalars(
            select(CapOverride.visit_id).where(CapOverride.visit_id.in_([r.id for r in rows]))
        )
    )
    seen: dict[int, int] = defaultdict(int)
    out: dict[int, str] = {}
    for r in rows:
        if r.person_id not in persons:
            continue
        seen[r.person_id] += 1
        entitlement = policy.entitlement(grades.get(r.person_id, -1))
        cap = entitlement.max_visits_per_week if entitlement else 0
        if r.date == day and seen[r.person_id] > cap and r.id not in overridden:
            out[r.id] = f"over the weekly cap of {cap} visits"
    return out


def _grades(session: Session, person_ids: set[int], day: dt.date) -> dict[int, int]:
    if not person_ids:
        return {}
    stmt = select(Assessment).where(Assessment.person_id.in_(person_ids))
    by_person: dict[int, list[Assessment]] = defaultdict(list)
    for a in session.scalars(stmt):
        by_person[a.person_id].append(a)
    out = {}
    for pid, items in by_person.items():
        latest = latest_assessment(items, day)
        if latest is not None:
            out[pid] = latest.grade
    return out


__all__ = [
    "DayInput",
    "build_day_problem",
    "caregiver_ref",
    "over_cap_visits",
    "parse_ref",
    "visit_ref",
    "visit_task",
    "volunteer_ref",
]
