"""A seeded month of delivered care on top of the demo city, with fraud patterns injected
into a named part of it: the history the supervision pages and the anomaly rules read.

``simulate_month(session, month=..., seed=...)`` takes one past calendar month and, for
each agency (all, or the ones named):

1. makes every day's visits from the approved plans (``generate_visits``);
2. staffs them the way a careful dispatcher would, cheaply and without the optimiser: the
   preferred caregiver when qualified on the day, free in time and in reach, else a
   volunteer for the items volunteers may give (on their days and hours), else the
   qualified caregiver who can be at the door first (less the ones already far into the
   month); two-staff visits get two. Nobody works outside their shift, overlaps two
   visits or serves a skill whose certificate has lapsed, and nobody gets near the
   monthly cap of ``app/policy/supervision_rules.json``. Persons in hospital, family
   cancellations, caregivers off sick and visits nobody could take (cancelled) make the
   month look like one;
3. records what the phones would have sent: a check-in inside the window after the travel
   from the previous visit, a duration around the planned one, positions a few metres
   around the home with a 5-30 m accuracy (now and then no fix at all), the person's or
   family's PIN confirmation on most visits. Each worker's check-in and check-out are
   stored as applied EVV actions and verified by the EVV service's own evaluation (the
   ``app.services.evv_rules`` rules, the verification record the phones' path writes);
   the visit moves through ``transition`` and the verified-visit listeners (the time
   bank) run. Exceptions (a lost GPS fix, or an injected pattern) are approved by the
   agency's dispatcher through ``evv.decide`` the next morning, so the month ends
   verified.

Not through ``evv.record_action`` one action at a time: that takes 10-20 ms an action on
this machine (a dozen statements and a commit each), several minutes for the demo month.
A finished visit's actions are stored together as applied, and each worker's pair is
verified by ``evv.evaluate_pair``, the very function an applied check-out calls (rules,
record, confirmation); ``transition`` moves the visit. What is skipped is only what a
replayed, early or duplicate action needs. Their flushes are deferred to two per day
(``DeferredFlush``): the rows written are the same.

With ``inject=True`` the first agency (lowest id) gets each pattern of the anomaly rules
at least once, each on workers and persons of its own (``MonthManifest.injected``): a
check-in away from the home, a visit far too short, one far too long, two visits of one
caregiver overlapping, an impossible hop between two homes, a caregiver whose visits to
one person are never confirmed, one who switches location off at one home, one whose
phone replays one point, three caregivers reporting the same point at one home, a
caregiver whose visits last to the second the same, a nursing visit by a caregiver whose
certificate lapsed mid-month (that certificate's expiry is moved into the month), and a
caregiver driven up to the monthly cap whose further work is recorded under a colleague's
id. Everything else (every other worker and person, every other agency) is honest data.

Deterministic: the same database and seed give the same month (one ``random.Random`` per
agency and one for the injection, seeded from ``seed``; rows read in id order; action ids
drawn from a generator seeded by the visits).
"""

from __future__ import annotations

import datetime as dt
import math
import random
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from app.models import (
    Agency,
    Caregiver,
    EvvAction,
    InsuredPerson,
    PlanItem,
    Qualification,
    Role,
    Skill,
    User,
    Visit,
    VisitAssignment,
    VisitStatus,
    VisitVerification,
    Volunteer,
)
from app.services import anomalies, evv, evv_events
from app.services.anomaly_rules import (
    CAP_SHIFT,
    CAREGIVER,
    IMPOSSIBLE_TRAVEL,
    NOT_CONFIRMED,
    OUTSIDE_GEOFENCE,
    OVERLAPPING_VISITS,
    PERSON,
    POSITIONS_MISSING,
    QUALIFICATION_EXPIRED,
    REPEATED_DURATIONS,
    REPEATED_POINT,
    SHARED_POINT,
    TOO_LONG,
    TOO_SHORT,
    VOLUNTEER,
    Rules,
    Subject,
)
from app.services.crud import LOCAL_TZ, local_today
from app.services.dayproblem import DETOUR_FACTOR, SPEEDS_KMH
from app.services.errors import Conflict, NotFound
from app.services.evv_rules import EvvRules, Position, distance_m
from app.services.visits import generate_visits, transition

S = VisitStatus
WEEKDAYS = {"mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6, "sun": 7}
# No password matches this hash: the phone logins made for simulated workers are handed
# out by an administrator setting a password.
UNUSABLE_PASSWORD = "!"

# How the honest month behaves.
HOSPITAL_STAY_P = 0.05  # a person spends a few days in hospital this month
FAMILY_CANCEL_P = 0.015
SICK_DAY_P = 0.02  # per caregiver and day
MISSED_P = 0.007  # nobody at the door
VOLUNTEER_P = 0.7  # a volunteer-eligible visit goes to a free volunteer
CONFIRMED_P = 0.96
NO_FIX_P = 0.005  # per check-in or check-out
ON_TIME_MARGIN_MIN = 5  # honest arrivals stay this far inside the window
TRAVEL_MARGIN = 1.15  # travel planned with this slack, so real hops are slower still
DURATION_SPREAD = (1.03, 0.10, 0.85, 1.3)  # mean, sd, low, high share of the planned time
BALANCE_MIN_PER_H = 2.0  # a worker's month so far, in hours, counts as this many minutes later
CAPPED_IDLE_MIN = 25  # the injected capped caregiver takes visits with this little idle time


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Injection:
    """What one injected pattern concerns."""

    visit_ids: tuple[int, ...]
    caregiver_ids: tuple[int, ...]
    person_ids: tuple[int, ...]


@dataclass(frozen=True)
class Expected:
    """A finding the anomaly rules must report for an injected pattern."""

    rule: str
    subject: Subject
    visit_ids: tuple[int, ...]

    @property
    def key(self) -> tuple[str, str, int, tuple[int, ...]]:
        return (self.rule, self.subject.kind, self.subject.id, self.visit_ids)


@dataclass(frozen=True)
class MonthManifest:
    """What ``simulate_month`` made, and where the injected patterns are.

    The clean part is everything outside ``tainted_workers`` and ``tainted_persons``.
    """

    month: dt.date
    seed: int
    agency_ids: tuple[int, ...]
    injected_agency_id: int | None
    visits: int
    verified: int
    approved: int
    cancelled: int
    missed: int
    workers_created: int
    injected: Mapping[str, Injection]
    expected: tuple[Expected, ...]
    tainted_workers: tuple[Subject, ...]
    tainted_persons: tuple[int, ...]


# --------------------------------------------------------------------------- plain inputs


Point = tuple[float, float]
Span = tuple[int, int]  # minutes of the local day


@dataclass(frozen=True)
class WorkerIn:
    ref: Subject
    agency_id: int
    name_key: str  # staff or member number, for the phone login's name
    gender: str
    home: Point
    speed_kmh: float
    shift: Span
    break_window: Span | None
    break_min: int
    skills: Mapping[str, dt.date | None] = field(hash=False)
    availability: Mapping[int, tuple[Span, ...]] = field(hash=False)

    def qualified(self, skill: str, day: dt.date) -> bool:
        if skill not in self.skills:
            return False
        expires = self.skills[skill]
        return expires is None or expires >= day

    def spans(self, day: dt.date) -> tuple[Span, ...]:
        if self.ref.kind == VOLUNTEER:
            return self.availability.get(day.isoweekday(), ())
        return (self.shift,)


@dataclass(frozen=True)
class VisitIn:
    id: int
    agency_id: int
    day: dt.date
    person_id: int
    home: Point
    windows: tuple[Span, ...]
    duration_min: int
    skill: str
    staff_count: int
    gender_required: str | None
    preferred_caregiver_id: int | None
    volunteer_ok: bool


@dataclass
class Part:
    """One worker's part of a delivered visit, as the phone will report it."""

    visit_id: int
    worker: Subject
    check_in_at: dt.datetime
    check_out_at: dt.datetime
    check_in: Position | None
    check_out: Position | None
    confirmation: dict[str, Any] | None

    @property
    def duration_s(self) -> int:
        return int((self.check_out_at - self.check_in_at).total_seconds())

    def set_duration(self, seconds: int) -> None:
        self.check_out_at = self.check_in_at + dt.timedelta(seconds=seconds)

    def move_to(self, check_in_at: dt.datetime) -> None:
        seconds = self.duration_s
        self.check_in_at = check_in_at
        self.set_duration(seconds)


@dataclass
class Outcome:
    """What became of one visit: delivered (with parts), missed or cancelled."""

    visit: VisitIn
    fate: str  # "done" | "missed" | "cancelled"
    reason: str | None = None
    workers: tuple[Subject, ...] = ()
    parts: list[Part] = field(default_factory=list)


# --------------------------------------------------------------------------- entry point


def simulate_month(
    session: Session,
    *,
    month: dt.date,
    seed: int,
    agency_ids: list[int] | None = None,
    inject: bool = True,
) -> MonthManifest:
    """Simulate ``month`` (any day of it) for the agencies; commits once a day.

    Raises
    ------
    NotFound
        An agency id is unknown.
    Conflict
        The month is not over yet, or a visit of it has already been worked on.
    """
    first = month.replace(day=1)
    days = _days_of(first)
    agencies = _agencies(session, agency_ids)
    _refuse_worked(session, agencies, first, days[-1])
    for day in days:
        for agency_id in [None] if agency_ids is None else agencies:
            generate_visits(session, day, agency_id)
    target = agencies[0] if inject and agencies else None
    rules = anomalies.current_rules()
    injector = Injector(random.Random(f"{seed}:inject"), rules, first, days[-1])
    outcomes: list[Outcome] = []
    for agency_id in agencies:
        rng = random.Random(f"{seed}:{agency_id}")
        if agency_id == target:
            outcomes.extend(_plan_tainted(session, agency_id, days, rng, rules, injector))
        else:
            planner = Planner(rng, rules, _workers(session, agency_id), days)
            outcomes.extend(planner.plan(_visits(session, agency_id, first, days[-1])))
    users, created = _phone_logins(session, agencies)
    approved = _write(session, outcomes, users, evv.current_rules())
    injected, expected, tainted_workers, tainted_persons = injector.manifest()
    return MonthManifest(
        month=first,
        seed=seed,
        agency_ids=tuple(agencies),
        injected_agency_id=target,
        visits=len(outcomes),
        verified=_verified(session, agencies, first, days[-1]),
        approved=approved,
        cancelled=sum(o.fate == "cancelled" for o in outcomes),
        missed=sum(o.fate == "missed" for o in outcomes),
        workers_created=created,
        injected=injected,
        expected=expected,
        tainted_workers=tainted_workers,
        tainted_persons=tainted_persons,
    )


def _plan_tainted(
    session: Session,
    agency_id: int,
    days: Sequence[dt.date],
    rng: random.Random,
    rules: Rules,
    injector: Injector,
) -> list[Outcome]:
    """The injected agency's month: staffed under the injector's setup, then planted."""
    setup = injector.before_planning(session, _workers(session, agency_id))
    planner = Planner(rng, rules, _workers(session, agency_id), days, setup)
    outcomes = planner.plan(_visits(session, agency_id, days[0], days[-1]))
    injector.after_planning(outcomes, planner)
    return outcomes


def _verified(session: Session, agencies: list[int], first: dt.date, last: dt.date) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(Visit)
            .where(
                Visit.agency_id.in_(agencies),
                Visit.date.between(first, last),
                Visit.status == S.VERIFIED,
            )
        )
        or 0
    )


def month_has_visits(session: Session, month: dt.date) -> bool:
    """Whether any visit is dated in ``month`` (for ``flask demo month --if-empty``)."""
    first = month.replace(day=1)
    last = _days_of(first)[-1]
    return bool(
        session.scalar(
            select(func.count()).select_from(Visit).where(Visit.date.between(first, last))
        )
    )


def _days_of(first: dt.date) -> list[dt.date]:
    following = (first + dt.timedelta(days=32)).replace(day=1)
    return [first + dt.timedelta(days=n) for n in range((following - first).days)]


def _agencies(session: Session, agency_ids: list[int] | None) -> list[int]:
    known = list(session.scalars(select(Agency.id).order_by(Agency.id)))
    if agency_ids is None:
        return known
    unknown = sorted(set(agency_ids) - set(known))
    if unknown:
        message = _("Unknown agency.")
        raise NotFound(message, {"agency_id": message})
    return sorted(set(agency_ids))


def _refuse_worked(session: Session, agencies: list[int], first: dt.date, last: dt.date) -> None:
    if last >= local_today():
        message = _("Only a month that is over can be simulated.")
        raise Conflict(message, {"month": message})
    worked = session.scalar(
        select(func.count())
        .select_from(Visit)
        .where(
            Visit.agency_id.in_(agencies),
            Visit.date.between(first, last),
            Visit.status.not_in([S.PLANNED, S.CANCELLED]),
        )
    )
    if worked:
        message = _("This month already holds visits that were worked on.")
        raise Conflict(message, {"month": message})


# --------------------------------------------------------------------------- reading


def _minutes(t: dt.time | str) -> int:
    if isinstance(t, str):
        t = dt.time.fromisoformat(t)
    return t.hour * 60 + t.minute


def _workers(session: Session, agency_id: int) -> list[WorkerIn]:
    caregivers = session.scalars(
        select(Caregiver)
        .where(Caregiver.agency_id == agency_id, Caregiver.active.is_(True))
        .options(selectinload(Caregiver.qualifications))
        .order_by(Caregiver.id)
    )
    found = [
        WorkerIn(
            ref=Subject(CAREGIVER, cg.id),
            agency_id=agency_id,
            name_key=cg.staff_no,
            gender=cg.gender,
            home=(cg.home_lat, cg.home_lon),
            speed_kmh=SPEEDS_KMH.get(cg.travel_mode, SPEEDS_KMH["ebike"]),
            shift=(_minutes(cg.shift_start), _minutes(cg.shift_end)),
            break_window=(
                (_minutes(cg.break_window_start), _minutes(cg.break_window_end))
                if cg.break_window_start and cg.break_window_end and cg.break_min
                else None
            ),
            break_min=cg.break_min,
            skills={q.skill: q.expires_on for q in cg.qualifications},
            availability={},
        )
        for cg in caregivers
    ]
    volunteers = session.scalars(
        select(Volunteer)
        .where(Volunteer.agency_id == agency_id, Volunteer.active.is_(True))
        .order_by(Volunteer.id)
    )
    for vol in volunteers:
        availability = {
            WEEKDAYS[key]: tuple((_minutes(a), _minutes(b)) for a, b in spans)
            for key, spans in (vol.availability or {}).items()
            if key in WEEKDAYS
        }
        found.append(
            WorkerIn(
                ref=Subject(VOLUNTEER, vol.id),
                agency_id=agency_id,
                name_key=vol.member_no,
                gender=vol.gender,
                home=(vol.home_lat, vol.home_lon),
                speed_kmh=SPEEDS_KMH.get(vol.travel_mode, SPEEDS_KMH["walk"]),
                shift=(0, 0),
                break_window=None,
                break_min=0,
                skills={},
                availability=availability,
            )
        )
    return found


def _visits(session: Session, agency_id: int, first: dt.date, last: dt.date) -> list[VisitIn]:
    rows = session.execute(
        select(Visit, InsuredPerson.lat, InsuredPerson.lon)
        .join(InsuredPerson, InsuredPerson.id == Visit.person_id)
        .where(
            Visit.agency_id == agency_id,
            Visit.date.between(first, last),
            Visit.status == S.PLANNED,
        )
        .order_by(Visit.date, Visit.id)
    )
    return [
        VisitIn(
            id=v.id,
            agency_id=v.agency_id,
            day=v.date,
            person_id=v.person_id,
            home=(lat, lon),
            windows=tuple((_minutes(a), _minutes(b)) for a, b in v.windows),
            duration_min=v.duration_min,
            skill=v.skills[0] if v.skills else Skill.PERSONAL_CARE.value,
            staff_count=v.staff_count,
            gender_required=v.gender_required,
            preferred_caregiver_id=v.preferred_caregiver_id,
            volunteer_ok=v.volunteer_ok,
        )
        for v, lat, lon in rows
    ]


# --------------------------------------------------------------------------- geometry


def travel_min(a: Point, b: Point, speed_kmh: float) -> float:
    """Minutes to go from ``a`` to ``b`` (the day problem's geodesic travel model)."""
    return distance_m(*a, *b) * DETOUR_FACTOR / (speed_kmh * 1000 / 60)


def offset(point: Point, north_m: float, east_m: float) -> Point:
    lat = point[0] + north_m / 111_195
    lon = point[1] + east_m / (111_195 * math.cos(math.radians(point[0])))
    return lat, lon


def local_instant(day: dt.date, minutes: float) -> dt.datetime:
    """``minutes`` after local midnight of ``day``, to the second, in UTC."""
    start = dt.datetime.combine(day, dt.time(), tzinfo=LOCAL_TZ)
    return (start + dt.timedelta(seconds=round(minutes * 60))).astimezone(dt.UTC)


# --------------------------------------------------------------------------- planning


@dataclass
class WorkerDay:
    """Where a worker is and from when they are free, during one day's planning."""

    free_at: float
    at: Point
    rested: bool


@dataclass(frozen=True)
class PlanningSetup:
    """What the injector asks of the planner: a caregiver driven up to the cap whose work
    is then recorded under another's id, and one unqualified nursing visit."""

    capped: Subject | None = None
    stand_in: Subject | None = None
    unqualified: Subject | None = None
    unqualified_from: dt.date | None = None


class Planner:
    """Staffs one agency's month day by day and draws the phones' evidence."""

    def __init__(
        self,
        rng: random.Random,
        rules: Rules,
        workers: Sequence[WorkerIn],
        days: Sequence[dt.date],
        setup: PlanningSetup | None = None,
    ) -> None:
        self.rng = rng
        self.workers = list(workers)
        self.by_ref = {w.ref: w for w in workers}
        self.days = list(days)
        self.setup = setup or PlanningSetup()
        cap = rules[CAP_SHIFT]
        self.near_cap_s = cap.num("monthly_cap_min") * 60 * cap.num("near_cap_pct") / 100
        self.month_s: dict[Subject, int] = defaultdict(int)
        self.served: dict[Subject, set[int]] = defaultdict(set)  # persons, by recorded worker
        self.switched_on: dt.date | None = None
        self.unqualified_visit: int | None = None

    # -- the month

    def plan(self, visits: Sequence[VisitIn]) -> list[Outcome]:
        by_day: dict[dt.date, list[VisitIn]] = defaultdict(list)
        for v in visits:
            by_day[v.day].append(v)
        away = self._hospital_stays({v.person_id for v in visits})
        outcomes: list[Outcome] = []
        for day in self.days:
            outcomes.extend(self._day(day, by_day.get(day, []), away))
        return outcomes

    def _hospital_stays(self, persons: Iterable[int]) -> set[tuple[int, dt.date]]:
        away: set[tuple[int, dt.date]] = set()
        for person_id in sorted(persons):
            if self.rng.random() < HOSPITAL_STAY_P:
                start = self.rng.randrange(len(self.days))
                for day in self.days[start : start + self.rng.randint(3, 8)]:
                    away.add((person_id, day))
        return away

    def _day(
        self, day: dt.date, visits: Sequence[VisitIn], away: set[tuple[int, dt.date]]
    ) -> list[Outcome]:
        capped, stand_in = self.setup.capped, self.setup.stand_in
        if capped and self.switched_on is None and self.month_s[capped] >= self.near_cap_s:
            self.switched_on = day
        sick = {
            w.ref
            for w in self.workers
            if w.ref.kind == CAREGIVER and w.ref != capped and self.rng.random() < SICK_DAY_P
        }
        if self.switched_on is not None and stand_in is not None:
            sick.add(stand_in)  # the stand-in's own work stops: only the capped one's remains
        state = {
            w.ref: WorkerDay(float(spans[0][0]), w.home, False)
            for w in self.workers
            if w.ref not in sick and (spans := w.spans(day))
        }
        outcomes = []
        order = sorted(visits, key=lambda v: (v.windows[-1][1], v.windows[0][0], v.id))
        for visit in order:
            if (visit.person_id, day) in away:
                outcomes.append(Outcome(visit, "cancelled", "in hospital"))
            elif self.rng.random() < FAMILY_CANCEL_P:
                outcomes.append(Outcome(visit, "cancelled", "cancelled by the family"))
            else:
                outcomes.append(self._staff(day, visit, state))
        return outcomes

    # -- one visit

    def _staff(self, day: dt.date, visit: VisitIn, state: dict[Subject, WorkerDay]) -> Outcome:
        chosen = self._choose(day, visit, state)
        if chosen is None:
            return Outcome(visit, "cancelled", "no staff available")
        start, refs = chosen
        recorded = tuple(self._recorded(ref) for ref in refs)
        if self.rng.random() < MISSED_P and visit.id != self.unqualified_visit:
            return Outcome(visit, "missed", workers=recorded)
        parts = []
        for ref, as_ref in zip(refs, recorded, strict=True):
            parts.append(self._deliver(day, visit, start, state, ref, as_ref))
        return Outcome(visit, "done", workers=recorded, parts=parts)

    def _recorded(self, ref: Subject) -> Subject:
        """Whose id a visit is recorded under: the stand-in's once the capped one switched."""
        if ref == self.setup.capped and self.switched_on is not None and self.setup.stand_in:
            return self.setup.stand_in
        return ref

    def _choose(
        self, day: dt.date, visit: VisitIn, state: dict[Subject, WorkerDay]
    ) -> tuple[float, tuple[Subject, ...]] | None:
        forced = self._forced(day, visit, state)
        if forced is not None:
            return forced
        ranked = self._ranked(day, visit, state)
        if not ranked:
            return None
        if visit.staff_count == 1:
            arrival, ref = ranked[0]
            return arrival, (ref,)
        for n, (_arrival, first) in enumerate(ranked):
            for _later, second in ranked[n + 1 :]:
                together = self._together(day, visit, state, first, second)
                if together is not None:
                    return together, (first, second)
        return None

    def _forced(
        self, day: dt.date, visit: VisitIn, state: dict[Subject, WorkerDay]
    ) -> tuple[float, tuple[Subject, ...]] | None:
        """The injected unqualified nursing visit, once, when the caregiver can make it."""
        who, since = self.setup.unqualified, self.setup.unqualified_from
        if (
            who is None
            or since is None
            or self.unqualified_visit is not None
            or day < since
            or visit.skill != Skill.NURSING
            or visit.staff_count != 1
            or who not in state
        ):
            return None
        arrival = self._arrival(self.by_ref[who], state[who], visit, day)
        if arrival is None:
            return None
        self.unqualified_visit = visit.id
        return arrival, (who,)

    def _eligible(self, day: dt.date, visit: VisitIn, worker: WorkerIn) -> bool:
        if visit.gender_required and worker.gender != visit.gender_required:
            return False
        if worker.ref.kind == VOLUNTEER:
            return visit.volunteer_ok and visit.staff_count == 1
        if not worker.qualified(visit.skill, day):
            return False
        if worker.ref == self.setup.capped:
            # The injected one ignores the cap; once recorded under the stand-in's id, only
            # work the stand-in's certificates cover, so that nothing else gives it away.
            # The capped one keeps their own persons, not the stand-in's (who would not
            # recognise the name on the record).
            stand_in = self.by_ref.get(self.setup.stand_in) if self.setup.stand_in else None
            return self.switched_on is None or (
                stand_in is not None
                and stand_in.qualified(visit.skill, day)
                and visit.person_id in self.served[worker.ref]
                and visit.person_id not in self.served[stand_in.ref]
            )
        budget = self.month_s[worker.ref] + visit.duration_min * 60 * DURATION_SPREAD[3]
        return budget < self.near_cap_s

    def _ranked(
        self, day: dt.date, visit: VisitIn, state: dict[Subject, WorkerDay]
    ) -> list[tuple[float, Subject]]:
        """Who can take the visit, best first, with the time they would be at the door."""
        options = []
        for worker in self.workers:
            if worker.ref not in state or not self._eligible(day, visit, worker):
                continue
            arrival = self._arrival(worker, state[worker.ref], visit, day)
            if arrival is not None:
                options.append((arrival, worker.ref))
        if not options:
            return []
        # Spread the month's work: a caregiver far into the month yields to a fresher one.
        options.sort(key=lambda o: (o[0] + self.month_s[o[1]] / 3600 * BALANCE_MIN_PER_H, o[1]))
        first: list[tuple[float, Subject]] = []
        capped = self.setup.capped
        preferred = Subject(CAREGIVER, visit.preferred_caregiver_id or 0)
        volunteers = [o for o in options if o[1].kind == VOLUNTEER]
        # The capped one takes whatever keeps them busy, to run up the hours.
        opens = visit.windows[0][0]
        busy = [
            o
            for o in options
            if o[1] == capped and o[0] - max(state[o[1]].free_at, opens) <= CAPPED_IDLE_MIN
        ]
        if busy:
            first = busy
        elif any(ref == preferred for _t, ref in options):
            first = [o for o in options if o[1] == preferred]
        elif volunteers and self.rng.random() < VOLUNTEER_P:
            first = volunteers[:1]
        rest = [o for o in options if o not in first and o[1].kind == CAREGIVER]
        return first + rest

    def _arrival(
        self,
        worker: WorkerIn,
        today: WorkerDay,
        visit: VisitIn,
        day: dt.date,
        not_before: float = 0.0,
    ) -> float | None:
        """When ``worker`` could check in (inside a window, within their hours), or None."""
        free_at = self._after_break(worker, today)
        ready = free_at + travel_min(today.at, visit.home, worker.speed_kmh) * TRAVEL_MARGIN
        longest = visit.duration_min * DURATION_SPREAD[3]
        for start, end in visit.windows:
            arrival = max(start, ready, not_before)
            if arrival > end - ON_TIME_MARGIN_MIN:
                continue
            if any(lo <= arrival and arrival + longest <= hi for lo, hi in worker.spans(day)):
                return arrival
        return None

    @staticmethod
    def _after_break(worker: WorkerIn, today: WorkerDay) -> float:
        if worker.break_window is None or today.rested or today.free_at < worker.break_window[0]:
            return today.free_at
        return max(today.free_at, worker.break_window[0]) + worker.break_min

    def _together(
        self,
        day: dt.date,
        visit: VisitIn,
        state: dict[Subject, WorkerDay],
        first: Subject,
        second: Subject,
    ) -> float | None:
        a = self._arrival(self.by_ref[first], state[first], visit, day)
        if a is None:
            return None
        b = self._arrival(self.by_ref[second], state[second], visit, day, not_before=a)
        if b is None:
            return None
        again = self._arrival(self.by_ref[first], state[first], visit, day, not_before=b)
        return b if again == b else None

    # -- the evidence

    def _deliver(
        self,
        day: dt.date,
        visit: VisitIn,
        start: float,
        state: dict[Subject, WorkerDay],
        ref: Subject,
        as_ref: Subject,
    ) -> Part:
        rng = self.rng
        worker, today = self.by_ref[ref], state[ref]
        if worker.break_window and not today.rested and today.free_at >= worker.break_window[0]:
            today.rested = True
        mean, sd, low, high = DURATION_SPREAD
        share = rng.gauss(mean, sd)
        while not low <= share <= high:  # redrawn, not clipped: no pile of equal durations
            share = rng.gauss(mean, sd)
        seconds = round(visit.duration_min * 60 * share)
        check_in_at = local_instant(day, start + rng.uniform(0, 2))
        check_out_at = check_in_at + dt.timedelta(seconds=seconds)
        today.free_at = start + 2 + seconds / 60
        today.at = visit.home
        self.month_s[as_ref] += seconds
        self.served[as_ref].add(visit.person_id)
        return Part(
            visit_id=visit.id,
            worker=as_ref,
            check_in_at=check_in_at,
            check_out_at=check_out_at,
            check_in=self._fix(visit.home),
            check_out=self._fix(visit.home),
            confirmation=self._confirmation(),
        )

    def _fix(self, home: Point) -> Position | None:
        """A phone's GPS fix at the door: a few metres off, now and then none at all."""
        rng = self.rng
        if rng.random() < NO_FIX_P:
            return None
        accuracy = round(rng.uniform(5, 30), 1)
        spread = 2 + accuracy * 0.15
        lat, lon = offset(home, rng.gauss(0, spread), rng.gauss(0, spread))
        return Position(round(lat, 7), round(lon, 7), accuracy)

    def _confirmation(self) -> dict[str, Any] | None:
        if self.rng.random() >= CONFIRMED_P:
            return None
        return {"method": "pin", "by": self.rng.choice(("person", "family")), "ok": True}


# --------------------------------------------------------------------------- injection


def _by_worker(outcomes: Iterable[Outcome]) -> dict[Subject, list[tuple[Outcome, Part]]]:
    """Each worker's delivered parts, in time order."""
    found: dict[Subject, list[tuple[Outcome, Part]]] = defaultdict(list)
    for o in outcomes:
        for part in o.parts:
            found[part.worker].append((o, part))
    for parts in found.values():
        parts.sort(key=lambda op: (op[1].check_in_at, op[1].visit_id))
    return found


class Injector:
    """Chooses the tainted part of the first agency and plants one pattern per rule."""

    def __init__(self, rng: random.Random, rules: Rules, first: dt.date, last: dt.date) -> None:
        self.rng = rng
        self.rules = rules
        self.first, self.last = first, last
        self.setup = PlanningSetup()
        self.injected: dict[str, Injection] = {}
        self.expected: list[Expected] = []
        self.tainted: set[Subject] = set()
        self.persons: set[int] = set()
        self.outcomes: list[Outcome] = []

    # -- before: the cap and the lapsed certificate shape the staffing itself

    def before_planning(self, session: Session, workers: Sequence[WorkerIn]) -> PlanningSetup:
        caregivers = [w for w in workers if w.ref.kind == CAREGIVER]
        nurses = [w for w in caregivers if Skill.NURSING in w.skills]
        lapsing = min(
            nurses,
            key=lambda w: (w.skills[Skill.NURSING] or dt.date.max, w.ref.id),
            default=None,
        )
        full_time = [
            w
            for w in caregivers
            if w != lapsing and w.shift[1] - w.shift[0] >= 480 and Skill.PERSONAL_CARE in w.skills
        ]
        full_time.sort(key=lambda w: (-len(w.skills), w.ref.id))
        capped = full_time[0] if full_time else None
        stand_in = self._stand_in(capped, full_time[1:]) if capped is not None else None
        lapse_on = None
        if lapsing is not None:
            lapse_on = self._lapse(session, lapsing.ref.id)
        self.setup = PlanningSetup(
            capped=capped.ref if capped and stand_in else None,
            stand_in=stand_in.ref if capped and stand_in else None,
            unqualified=lapsing.ref if lapsing else None,
            unqualified_from=lapse_on + dt.timedelta(days=1) if lapse_on else None,
        )
        for ref in (self.setup.capped, self.setup.stand_in, self.setup.unqualified):
            if ref is not None:
                self.tainted.add(ref)
        return self.setup

    def _stand_in(self, capped: WorkerIn, others: Sequence[WorkerIn]) -> WorkerIn | None:
        """Whose id the capped one's extra hours go under: certificates covering most of
        the capped one's work, living farthest away (so serving other persons)."""

        def fit(w: WorkerIn) -> tuple[int, float, int]:
            covered = sum(w.qualified(skill, self.last) for skill in capped.skills)
            return (-covered, -distance_m(*w.home, *capped.home), w.ref.id)

        return min(others, key=fit, default=None)

    def _lapse(self, session: Session, caregiver_id: int) -> dt.date:
        """Move the nursing certificate's expiry into the month (never later than it was)."""
        lapse_on = self.first + dt.timedelta(days=10)
        row = session.scalar(
            select(Qualification).where(
                Qualification.caregiver_id == caregiver_id, Qualification.skill == Skill.NURSING
            )
        )
        assert row is not None
        if row.expires_on is None or row.expires_on > lapse_on:
            row.expires_on = lapse_on
            session.flush()
        return min(row.expires_on, lapse_on)

    # -- after: the rest is planted in the planned evidence

    def after_planning(self, outcomes: list[Outcome], planner: Planner) -> None:
        self.outcomes = outcomes
        self._record_unqualified(planner)
        self._record_cap_shift()
        plants: list[Callable[[], None]] = [
            self._outside_geofence,
            self._too_short,
            self._too_long,
            self._overlap,
            self._impossible_travel,
            self._not_confirmed,
            self._positions_missing,
            self._repeated_point,
            self._shared_point,
            self._repeated_durations,
        ]
        for plant in plants:
            plant()

    def manifest(
        self,
    ) -> tuple[dict[str, Injection], tuple[Expected, ...], tuple[Subject, ...], tuple[int, ...]]:
        return (
            dict(self.injected),
            tuple(sorted(self.expected, key=lambda e: e.key)),
            tuple(sorted(self.tainted)),
            tuple(sorted(self.persons)),
        )

    def _note(
        self,
        rule: str,
        subject: Subject,
        parts: Sequence[tuple[Outcome, Part]],
        expected_visits: Iterable[int] | None = None,
    ) -> None:
        visits = tuple(sorted({p.visit_id for _o, p in parts}))
        persons = tuple(sorted({o.visit.person_id for o, _p in parts}))
        workers = {p.worker for _o, p in parts} | ({subject} if subject.kind != PERSON else set())
        self.tainted |= workers
        self.persons |= set(persons)
        self.injected[rule] = Injection(
            visit_ids=visits,
            caregiver_ids=tuple(sorted(w.id for w in workers if w.kind == CAREGIVER)),
            person_ids=persons,
        )
        exp_visits = tuple(sorted(set(expected_visits))) if expected_visits else visits
        self.expected.append(Expected(rule, subject, exp_visits))

    def _candidates(self) -> list[Subject]:
        """Untainted caregivers in a seeded order."""
        refs = sorted(
            ref
            for ref in _by_worker(self.outcomes)
            if ref.kind == CAREGIVER and ref not in self.tainted
        )
        self.rng.shuffle(refs)
        return refs

    def _solo_parts(self, ref: Subject) -> list[tuple[Outcome, Part]]:
        return [
            (o, p)
            for o, p in _by_worker(self.outcomes).get(ref, [])
            if o.visit.staff_count == 1 and o.visit.person_id not in self.persons
        ]

    def _days_of(self, ref: Subject) -> list[list[tuple[Outcome, Part]]]:
        """A worker's days (all their parts, in time order), in a seeded order."""
        days: dict[dt.date, list[tuple[Outcome, Part]]] = defaultdict(list)
        for o, p in _by_worker(self.outcomes).get(ref, []):
            days[o.visit.day].append((o, p))
        found = [days[d] for d in sorted(days)]
        self.rng.shuffle(found)
        return found

    def _free(self, op: tuple[Outcome, Part]) -> bool:
        o, _p = op
        return o.visit.staff_count == 1 and o.visit.person_id not in self.persons

    # -- the planning-time patterns

    def _record_unqualified(self, planner: Planner) -> None:
        ref, visit_id = self.setup.unqualified, planner.unqualified_visit
        if ref is None or visit_id is None:
            return
        parts = [(o, p) for o, p in _by_worker(self.outcomes)[ref] if p.visit_id == visit_id]
        if parts:
            self._note(QUALIFICATION_EXPIRED, ref, parts)

    def _record_cap_shift(self) -> None:
        capped, stand_in = self.setup.capped, self.setup.stand_in
        if capped is None or stand_in is None:
            return
        cap = self.rules[CAP_SHIFT]
        near_s = cap.num("monthly_cap_min") * 60 * cap.num("near_cap_pct") / 100
        by_worker = _by_worker(self.outcomes)
        mine = sorted(by_worker.get(capped, []), key=lambda op: op[1].check_out_at)
        total, reached = 0, None
        for _o, p in mine:
            total += p.duration_s
            if total >= near_s:
                reached = p.check_out_at
                break
        if reached is None:
            return
        served = {o.visit.person_id for o, p in mine if p.check_in_at < reached}
        theirs = by_worker.get(stand_in, [])
        known = {o.visit.person_id for o, p in theirs if p.check_in_at < reached}
        after = [(o, p) for o, p in theirs if p.check_in_at > reached]
        moved = [(o, p) for o, p in after if o.visit.person_id in served - known]
        share = len(moved) * 100 >= cap.num("min_share_pct") * len(after)
        if len(moved) >= cap.num("min_visits") and share:
            self._note(CAP_SHIFT, capped, after, [p.visit_id for _o, p in moved])

    # -- single visits

    def _outside_geofence(self) -> None:
        for ref in self._candidates():
            for day in self._days_of(ref):
                first = day[0]
                if self._free(first) and first[1].check_in is not None:
                    o, p = first
                    angle = self.rng.uniform(0, 2 * math.pi)
                    lat, lon = offset(o.visit.home, 450 * math.cos(angle), 450 * math.sin(angle))
                    p.check_in = Position(round(lat, 7), round(lon, 7), 12.0)
                    self._note(OUTSIDE_GEOFENCE, ref, [first])
                    return

    def _too_short(self) -> None:
        for ref in self._candidates():
            solo = self._solo_parts(ref)
            if solo:
                o, p = solo[self.rng.randrange(len(solo))]
                p.set_duration(round(o.visit.duration_min * 60 * 0.4) + self.rng.randint(0, 59))
                self._note(TOO_SHORT, ref, [(o, p)])
                return

    def _too_long(self) -> None:
        for ref in self._candidates():
            for day in self._days_of(ref):
                last = day[-1]
                if self._free(last):
                    o, p = last
                    p.set_duration(round(o.visit.duration_min * 60 * 2.6) + self.rng.randint(0, 59))
                    self._note(TOO_LONG, ref, [last])
                    return

    def _overlap(self) -> None:
        least = (self.rules[OVERLAPPING_VISITS].num("min_overlap_min") + 5) * 60
        for ref in self._candidates():
            for day in self._days_of(ref):
                for a, b in zip(day, day[1:], strict=False):
                    if self._free(a) and self._free(b) and a[1].duration_s >= least * 2:
                        # The second check-in falls in the first visit's second half.
                        b[1].move_to(a[1].check_in_at + dt.timedelta(seconds=a[1].duration_s // 2))
                        self._note(OVERLAPPING_VISITS, ref, [a, b])
                        return

    def _impossible_travel(self) -> None:
        max_kmh = self.rules[IMPOSSIBLE_TRAVEL].num("max_speed_kmh")
        for ref in self._candidates():
            best = None
            for day in self._days_of(ref):
                for a, b in zip(day, day[1:], strict=False):
                    if not (self._free(a) and self._free(b)):
                        continue
                    if a[1].check_out is None or b[1].check_in is None:
                        continue
                    metres = distance_m(*a[0].visit.home, *b[0].visit.home)
                    if metres >= 2500 and (best is None or metres > best[0]):
                        best = (metres, a, b)
            if best is not None:
                metres, a, b = best
                seconds = max(30, round(metres / (3 * max_kmh / 3.6)))
                b[1].move_to(a[1].check_out_at + dt.timedelta(seconds=seconds))
                self._note(IMPOSSIBLE_TRAVEL, ref, [a, b])
                return

    # -- across visits

    def _pair(self, least: int) -> tuple[Subject, list[tuple[Outcome, Part]]] | None:
        """An untainted caregiver with at least ``least`` solo visits to one free person."""
        for ref in self._candidates():
            by_person: dict[int, list[tuple[Outcome, Part]]] = defaultdict(list)
            for o, p in _by_worker(self.outcomes)[ref]:
                by_person[o.visit.person_id].append((o, p))
            for person_id in sorted(by_person):
                parts = by_person[person_id]
                solo = all(o.visit.staff_count == 1 for o, _p in parts)
                if person_id not in self.persons and len(parts) >= least and solo:
                    return ref, parts
        return None

    def _least(self, rule: str) -> int:
        return max(4, int(self.rules[rule].num("min_visits")))

    def _not_confirmed(self) -> None:
        found = self._pair(self._least(NOT_CONFIRMED))
        if found is not None:
            ref, parts = found
            for _o, p in parts:
                p.confirmation = None
            self._note(NOT_CONFIRMED, ref, parts)

    def _positions_missing(self) -> None:
        found = self._pair(self._least(POSITIONS_MISSING))
        if found is not None:
            ref, parts = found
            for _o, p in parts:
                p.check_in = p.check_out = None
            self._note(POSITIONS_MISSING, ref, parts)

    def _fake_point(self, home: Point, metres: float) -> Position:
        angle = self.rng.uniform(0, 2 * math.pi)
        lat, lon = offset(home, metres * math.cos(angle), metres * math.sin(angle))
        return Position(round(lat, 6), round(lon, 6), 5.0)

    def _repeated_point(self) -> None:
        found = self._pair(self._least(REPEATED_POINT))
        if found is not None:
            ref, parts = found
            point = self._fake_point(parts[0][0].visit.home, 7)
            for _o, p in parts:
                p.check_in = p.check_out = point
            self._note(REPEATED_POINT, ref, parts)

    def _shared_point(self) -> None:
        least = int(self.rules[SHARED_POINT].num("min_workers"))
        at_person: dict[int, dict[Subject, tuple[Outcome, Part]]] = defaultdict(dict)
        for o in self.outcomes:
            if o.visit.person_id in self.persons:
                continue
            for p in o.parts:
                if p.worker.kind == CAREGIVER and p.worker not in self.tainted:
                    at_person[o.visit.person_id].setdefault(p.worker, (o, p))
        for person_id in sorted(at_person):
            workers = at_person[person_id]
            if len(workers) >= least:
                chosen = [workers[ref] for ref in sorted(workers)[:least]]
                point = self._fake_point(chosen[0][0].visit.home, 9)
                for _o, p in chosen:
                    p.check_in = p.check_out = point
                self._note(SHARED_POINT, Subject(PERSON, person_id), chosen)
                return

    def _repeated_durations(self) -> None:
        least = int(self.rules[REPEATED_DURATIONS].num("min_repeats")) + 1
        for ref in self._candidates():
            same: dict[int, list[tuple[Outcome, Part]]] = defaultdict(list)
            for op in self._solo_parts(ref):
                same[op[0].visit.duration_min].append(op)
            for planned in sorted(same):
                parts = same[planned]
                if len(parts) >= least:
                    chosen = parts[:least]
                    seconds = min(p.duration_s for _o, p in chosen)
                    for _o, p in chosen:
                        p.set_duration(seconds)
                    every = _by_worker(self.outcomes)[ref]
                    repeats = [op for op in every if op[1].duration_s == seconds]
                    self._note(REPEATED_DURATIONS, ref, repeats)
                    return


# --------------------------------------------------------------------------- writing


def _phone_logins(session: Session, agencies: Sequence[int]) -> tuple[dict[Subject, int], int]:
    """The user id each worker's phone acts as; logins are made for workers without one."""
    users: dict[Subject, int] = {}
    for u in session.scalars(select(User).where(User.agency_id.in_(agencies))):
        if u.role == Role.CAREGIVER and u.caregiver_id is not None:
            users[Subject(CAREGIVER, u.caregiver_id)] = u.id
        elif u.role == Role.VOLUNTEER and u.volunteer_id is not None:
            users[Subject(VOLUNTEER, u.volunteer_id)] = u.id
    taken = set(session.scalars(select(User.username)))
    codes = {i: code for i, code in session.execute(select(Agency.id, Agency.code))}
    new: list[tuple[Subject, User]] = []
    for agency_id in agencies:
        for worker in _workers(session, agency_id):
            if worker.ref in users:
                continue
            name = _username(f"{codes[agency_id]}.{worker.name_key}".lower(), taken)
            display = _display_name(session, worker.ref)
            u = User(
                username=name,
                password_hash=UNUSABLE_PASSWORD,
                display_name=display,
                role=Role.CAREGIVER if worker.ref.kind == CAREGIVER else Role.VOLUNTEER,
                agency_id=agency_id,
                caregiver_id=worker.ref.id if worker.ref.kind == CAREGIVER else None,
                volunteer_id=worker.ref.id if worker.ref.kind == VOLUNTEER else None,
                active=True,
            )
            session.add(u)
            new.append((worker.ref, u))
    session.flush()
    for ref, u in new:
        users[ref] = u.id
    session.commit()
    return users, len(new)


def _username(wanted: str, taken: set[str]) -> str:
    name, n = wanted[:64], 2
    while name in taken:
        name, n = f"{wanted[:60]}-{n}", n + 1
    taken.add(name)
    return name


def _display_name(session: Session, ref: Subject) -> str:
    model = Caregiver if ref.kind == CAREGIVER else Volunteer
    return str(session.scalar(select(model.name).where(model.id == ref.id)) or ref.kind)


class DeferredFlush:
    """The session as ``transition`` and the EVV evaluation see it while a day is written.

    Both flush after every change so that the next query sees it; a month of history
    written that way spends most of its time in some 10,000 flushes. Here their flushes
    wait for the day's two (actions first, so that records can refer to them), which
    write the same rows. They only add rows and flush: nothing else is offered.
    """

    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, row: object) -> None:
        self._session.add(row)

    def flush(self) -> None:
        """Deferred to the day's flush."""


def _write(
    session: Session,
    outcomes: Sequence[Outcome],
    users: Mapping[Subject, int],
    rules: EvvRules,
) -> int:
    """Store the month's staffing and evidence, one commit a day; the approvals made."""
    by_day: dict[dt.date, list[Outcome]] = defaultdict(list)
    for o in outcomes:
        by_day[o.visit.day].append(o)
    ids = _ids(outcomes)
    exceptions: list[int] = []
    for day in sorted(by_day):
        exceptions.extend(_write_day(session, day, by_day[day], users, rules, ids))
    return _approve(session, exceptions, rules)


def _write_day(
    session: Session,
    day: dt.date,
    todays: Sequence[Outcome],
    users: Mapping[Subject, int],
    rules: EvvRules,
    ids: Iterator[str],
) -> list[int]:
    """One day's assignments, actions, verifications and moves; commits. The exceptions."""
    rows = {
        v.id: v
        for v in session.scalars(
            select(Visit)
            .where(Visit.id.in_([o.visit.id for o in todays]))
            .options(
                selectinload(Visit.person),
                selectinload(Visit.plan_item).selectinload(PlanItem.service_item),
            )
        )
    }
    batch = cast(Session, DeferredFlush(session))
    evening = local_instant(day - dt.timedelta(days=1), 18 * 60)
    started = []
    for o in sorted(todays, key=lambda o: o.visit.id):
        visit = rows[o.visit.id]
        if o.fate == "cancelled":
            transition(batch, visit, S.CANCELLED, at=evening, reason=o.reason)
            continue
        for ref in o.workers:
            session.add(VisitAssignment(visit_id=visit.id, assigned_at=evening, **_columns(ref)))
        transition(batch, visit, S.ASSIGNED, at=evening)
        if o.fate == "missed":
            transition(batch, visit, S.MISSED, at=local_instant(day, 18 * 60))
        else:
            started.append((visit, o, _check_in_and_out(batch, visit, o, users, ids)))
    session.flush()
    verified: list[tuple[Visit, list[VisitVerification]]] = []
    exceptions: list[tuple[Visit, list[VisitVerification]]] = []
    for visit, o, pairs in started:
        records = _verify(batch, visit, o, pairs, rules)
        (verified if visit.status == S.VERIFIED else exceptions).append((visit, records))
    session.flush()
    for visit, records in verified:
        for record in records:
            for listener in list(evv_events.VERIFIED_LISTENERS):
                listener(session, visit, record)
    session.commit()
    return [r.id for _visit, records in exceptions for r in records if r.outcome == "exception"]


def _ids(outcomes: Sequence[Outcome]) -> Iterator[str]:
    """Phone-made action ids, drawn from the visits themselves so a seed repeats them."""
    seed = sum(o.visit.id for o in outcomes) + len(outcomes)
    rng = random.Random(seed)
    while True:
        yield str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _columns(ref: Subject) -> dict[str, int | None]:
    return {
        "caregiver_id": ref.id if ref.kind == CAREGIVER else None,
        "volunteer_id": ref.id if ref.kind == VOLUNTEER else None,
    }


Pair = tuple[evv.Worker, EvvAction, EvvAction]


def _check_in_and_out(
    session: Session,
    visit: Visit,
    outcome: Outcome,
    users: Mapping[Subject, int],
    ids: Iterator[str],
) -> list[Pair]:
    """Each worker's check-in and check-out, stored as applied; the visit is under way."""
    item = visit.plan_item.service_item.code
    pairs = []
    for part in sorted(outcome.parts, key=lambda p: (p.check_out_at, p.worker)):
        worker = evv.Worker(part.worker.kind, part.worker.id)
        check_in = _action(next(ids), visit, users[part.worker], worker, part, evv.CHECK_IN)
        check_out = _action(next(ids), visit, users[part.worker], worker, part, evv.CHECK_OUT)
        check_out.items_done = [item]
        check_out.confirmation = part.confirmation
        session.add(check_in)
        session.add(check_out)
        pairs.append((worker, check_in, check_out))
    transition(session, visit, S.IN_PROGRESS, at=min(p.check_in_at for p in outcome.parts))
    return pairs


def _verify(
    session: Session, visit: Visit, outcome: Outcome, pairs: Sequence[Pair], rules: EvvRules
) -> list[VisitVerification]:
    """Verify each worker's part as their check-out would, and move the visit on."""
    # evv.evaluate_pair is what a phone's applied check-out runs: the rules and the record.
    records = [evv.evaluate_pair(session, visit, cin, cout, w, rules) for w, cin, cout in pairs]
    transition(session, visit, S.COMPLETED, at=max(p.check_out_at for p in outcome.parts))
    if all(r.outcome == "verified" for r in records):
        last = max(cout.received_at for _w, _cin, cout in pairs)
        transition(session, visit, S.VERIFIED, at=last)
    return records


def _action(
    action_id: str, visit: Visit, user_id: int, worker: evv.Worker, part: Part, kind: str
) -> EvvAction:
    at = part.check_in_at if kind == evv.CHECK_IN else part.check_out_at
    position = part.check_in if kind == evv.CHECK_IN else part.check_out
    # Phones send at once when online: received a few seconds to a minute later.
    delay = dt.timedelta(seconds=5 + int(action_id[:2], 16) % 60)
    return EvvAction(
        id=action_id,
        visit_id=visit.id,
        user_id=user_id,
        kind=kind,
        occurred_at=at,
        received_at=at + delay,
        lat=position.lat if position else None,
        lon=position.lon if position else None,
        accuracy_m=position.accuracy_m if position else None,
        items_done=[],
        confirmation=None,
        state="applied",
        **worker.columns(),
    )


def _approve(session: Session, record_ids: Sequence[int], rules: EvvRules) -> int:
    """The dispatcher approves each exception the next morning, after a call to the family."""
    if not record_ids:
        return 0
    dispatchers: dict[int | None, User] = {}
    active = select(User).where(User.role == Role.DISPATCHER, User.active.is_(True))
    for u in session.scalars(active.order_by(User.id)):
        dispatchers.setdefault(u.agency_id, u)  # each agency's first dispatcher decides
    approved = 0
    for record_id in record_ids:
        record = session.get(VisitVerification, record_id)
        visit = session.get(Visit, record.visit_id) if record else None
        decider = dispatchers.get(record.agency_id) if record else None
        if record is None or visit is None or decider is None:
            continue
        morning = local_instant(visit.date + dt.timedelta(days=1), 9 * 60)
        evv.decide(
            session,
            decider,
            record_id,
            approve=True,
            reason="Confirmed by a call to the family.",
            rules=rules,
            now=morning,
        )
        approved += 1
    return approved
