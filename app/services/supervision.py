"""The supervision dashboard's figures: per agency and calendar month, how the care that was
due was delivered, and what the fund paid for it.

Every figure is read with a handful of aggregate queries over the month (none per visit)
and is defined here once, so the page, the API and the tests mean the same thing:

- **Days counted.** A month counts its days that are over: up to the month's last day, or
  up to yesterday in the month under way (``through``). Visits of today or later are not
  due yet; a month that has not started counts nothing.
- **Plan fulfilment** = verified / due. *Due* is every visit of the counted days except the
  cancelled ones. The records do not say who cancelled a visit (the person, the agency, or
  a plan change), so every cancellation leaves what was due and is counted on its own;
  a *missed* visit stays due. Each due visit is in exactly one of: verified, missed,
  exception (a verification record awaits a dispatcher's decision), rejected (a record
  was rejected and none awaits a decision), open (not started, under way, or completed
  and not yet verified). They add up to ``due``.
- **On-time rate** = share of verified visits whose first check-in fell inside one of the
  visit's windows widened by the EVV grace on each side (``EvvRules.grace_min``; the rule
  ``app.services.evv_rules`` applies to a check-in), in the agencies' time zone.
- **Travel per visit** = the travel minutes of each counted day's *published* plan (the
  day's last publication; its plan's ``kpis.travel_s``) over the visits that plan assigns
  (``kpis.assigned``); None when no day of the month was published.
- **Continuity** = share of verified visits that name a preferred caregiver and were
  served by that caregiver: a current verified record of the visit carries their id.
- **Anomalies** = ``app.services.anomalies.count_by_agency`` for the month.
- **Spending** = for each of the last ``months`` months up to the chosen one, the item
  prices of the verified visits split per visit by the policy into the fund's share and
  the co-pay (``Policy.split_price(price, "home", agency.city)``, fund rounded down), in
  fen. It is the fund share *of verified visits*, not a settled claim: a settlement may
  still reject lines (caps, qualifications).

Agency roles see their own agency; auditors and sys_admins every agency, or the one they
name. Another agency's id, or an unknown one, is NotFound.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, case, exists, func, select
from sqlalchemy.orm import Session

from app.models import (
    Agency,
    PlanItem,
    PlanVersion,
    Publication,
    ServiceItem,
    User,
    Visit,
    VisitAssignment,
    VisitStatus,
    VisitVerification,
)
from app.policy import Policy, load_policy
from app.security import is_cross_agency
from app.services import anomalies, claims, evv
from app.services.agencies import get_agency
from app.services.crud import local_today
from app.services.evv_rules import EvvRules
from app.services.months import (
    add_months,
    month_end,
    month_start,
)

S = VisitStatus
DEFAULT_MONTHS = 6
MAX_MONTHS = 24
OPEN_STATUSES = (S.PLANNED, S.ASSIGNED, S.IN_PROGRESS, S.COMPLETED)


# --------------------------------------------------------------------------- figures


def rate(part: int, whole: int) -> float | None:
    """``part / whole`` to four decimals; None when there is nothing to divide."""
    return round(part / whole, 4) if whole else None


@dataclass(frozen=True)
class Fulfilment:
    """Due visits of the counted days by what became of them (see the module docstring)."""

    verified: int = 0
    missed: int = 0
    exception: int = 0
    rejected: int = 0
    open: int = 0
    cancelled: int = 0

    @property
    def due(self) -> int:
        return self.verified + self.missed + self.exception + self.rejected + self.open

    @property
    def rate(self) -> float | None:
        return rate(self.verified, self.due)


@dataclass(frozen=True)
class OnTime:
    verified: int = 0
    on_time: int = 0

    @property
    def rate(self) -> float | None:
        return rate(self.on_time, self.verified)


@dataclass(frozen=True)
class Travel:
    """The published plans of the counted days: how many, their travel and assignments."""

    days: int = 0
    travel_s: int = 0
    assigned: int = 0

    @property
    def min_per_visit(self) -> float | None:
        return round(self.travel_s / 60 / self.assigned, 1) if self.assigned else None


@dataclass(frozen=True)
class Continuity:
    with_preferred: int = 0
    by_preferred: int = 0

    @property
    def rate(self) -> float | None:
        return rate(self.by_preferred, self.with_preferred)


@dataclass(frozen=True)
class Figures:
    fulfilment: Fulfilment
    on_time: OnTime
    travel: Travel
    continuity: Continuity
    anomalies: int


@dataclass(frozen=True)
class AgencyFigures:
    agency_id: int
    code: str
    name: str
    figures: Figures


@dataclass(frozen=True)
class MonthSpending:
    """Verified visits of one month (its first day) and their price split, in fen."""

    month: dt.date
    visits: int = 0
    price_fen: int = 0
    fund_fen: int = 0
    co_pay_fen: int = 0


@dataclass(frozen=True)
class Supervision:
    """The dashboard of one month for the agencies in scope."""

    month: dt.date
    through: dt.date | None  # last counted day; None when no day of the month is over
    agency_id: int | None  # the agency asked for, if any
    grace_min: int
    agencies: tuple[AgencyFigures, ...]
    total: Figures
    spending: tuple[MonthSpending, ...]


# --------------------------------------------------------------------------- months


def counted_through(month: dt.date, today: dt.date) -> dt.date | None:
    """The last day of ``month`` that is over on ``today``, or None."""
    last = min(month_end(month), today - dt.timedelta(days=1))
    return last if last >= month else None


# --------------------------------------------------------------------------- the use case


def dashboard(
    session: Session,
    actor: User,
    month: dt.date,
    *,
    agency_id: int | None = None,
    months: int = DEFAULT_MONTHS,
    today: dt.date | None = None,
    rules: EvvRules | None = None,
    policy: Policy | None = None,
) -> Supervision:
    """The supervision figures of ``month`` (its first day) for ``actor``'s scope.

    ``months`` (1..24) is how many months the spending series covers, ending with
    ``month``. ``today`` defaults to the local date, ``rules`` to the EVV defaults (the
    web layer passes the configured ones).

    Raises
    ------
    NotFound
        ``agency_id`` is unknown or another agency's.
    """
    month = month_start(month)
    months = max(1, min(months, MAX_MONTHS))
    rules = rules or EvvRules()
    policy = policy or load_policy()
    today = today or local_today(rules.timezone)
    agencies = _agencies(session, actor, agency_id)
    ids = [a.id for a in agencies]
    through = counted_through(month, today)
    if through is None or not ids:
        per_agency: dict[int, Figures] = {}
    else:
        per_agency = _figures(session, actor, ids, month, through, rules)
    empty = Figures(Fulfilment(), OnTime(), Travel(), Continuity(), 0)
    rows = tuple(AgencyFigures(a.id, a.code, a.name, per_agency.get(a.id, empty)) for a in agencies)
    return Supervision(
        month=month,
        through=through,
        agency_id=agency_id,
        grace_min=rules.grace_min,
        agencies=rows,
        total=_sum(r.figures for r in rows),
        spending=_spending(session, agencies, month, months, today, policy),
    )


def _agencies(session: Session, actor: User, agency_id: int | None) -> list[Agency]:
    if agency_id is not None:
        return [get_agency(session, actor, agency_id)]
    stmt = select(Agency).order_by(Agency.code, Agency.id)
    if not is_cross_agency(actor):
        stmt = stmt.where(Agency.id == actor.agency_id)
    return list(session.scalars(stmt))


def _figures(
    session: Session,
    actor: User,
    ids: list[int],
    month: dt.date,
    through: dt.date,
    rules: EvvRules,
) -> dict[int, Figures]:
    days = and_(Visit.agency_id.in_(ids), Visit.date.between(month, through))
    fulfilment = _fulfilment(session, days)
    on_time = _on_time(session, days, rules)
    travel = _travel(session, ids, month, through)
    continuity = _continuity(session, days)
    counts = anomalies.count_by_agency(session, actor, month)
    return {
        i: Figures(
            fulfilment.get(i, Fulfilment()),
            on_time.get(i, OnTime()),
            travel.get(i, Travel()),
            continuity.get(i, Continuity()),
            int(counts.get(i, 0)),
        )
        for i in ids
    }


def _fulfilment(session: Session, days: ColumnElement[bool]) -> dict[int, Fulfilment]:
    by_status: dict[int, dict[str, int]] = defaultdict(dict)
    for agency_id, status, count in session.execute(
        select(Visit.agency_id, Visit.status, func.count())
        .where(days)
        .group_by(Visit.agency_id, Visit.status)
    ):
        by_status[agency_id][status] = count
    # Undecided or rejected records of visits that are not verified: each visit once,
    # "awaiting a decision" winning over "rejected".
    flagged: dict[tuple[int, int], str] = {}
    for agency_id, visit_id, outcome in session.execute(
        select(Visit.agency_id, Visit.id, VisitVerification.outcome)
        .join(VisitVerification, VisitVerification.visit_id == Visit.id)
        .where(
            days,
            Visit.status.in_(OPEN_STATUSES),
            VisitVerification.outcome.in_(("exception", "rejected")),
            evv.not_superseded(),
        )
        .distinct()
    ):
        if flagged.get((agency_id, visit_id)) != "exception":
            flagged[(agency_id, visit_id)] = outcome
    decisions: dict[int, dict[str, int]] = defaultdict(lambda: {"exception": 0, "rejected": 0})
    for (agency_id, _visit_id), outcome in flagged.items():
        decisions[agency_id][outcome] += 1
    out = {}
    for agency_id, counts in by_status.items():
        waiting = decisions[agency_id]
        still_open = sum(counts.get(s, 0) for s in OPEN_STATUSES)
        out[agency_id] = Fulfilment(
            verified=counts.get(S.VERIFIED, 0),
            missed=counts.get(S.MISSED, 0),
            exception=waiting["exception"],
            rejected=waiting["rejected"],
            open=still_open - waiting["exception"] - waiting["rejected"],
            cancelled=counts.get(S.CANCELLED, 0),
        )
    return out


def _on_time(session: Session, days: ColumnElement[bool], rules: EvvRules) -> dict[int, OnTime]:
    first_in: dict[int, tuple[int, dt.date, Any, dt.datetime]] = {}
    for visit_id, agency_id, day, windows, check_in_at in session.execute(
        select(Visit.id, Visit.agency_id, Visit.date, Visit.windows, VisitVerification.check_in_at)
        .join(VisitVerification, VisitVerification.visit_id == Visit.id)
        .where(
            days,
            Visit.status == S.VERIFIED,
            VisitVerification.outcome == "verified",
            evv.not_superseded(),
        )
    ):
        seen = first_in.get(visit_id)
        if seen is None or check_in_at < seen[3]:
            first_in[visit_id] = (agency_id, day, windows, check_in_at)
    tz = ZoneInfo(rules.timezone)
    counts: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for agency_id, day, windows, check_in_at in first_in.values():
        counts[agency_id][0] += 1
        counts[agency_id][1] += checked_in_on_time(check_in_at, day, windows, rules.grace_min, tz)
    return {a: OnTime(verified=v, on_time=o) for a, (v, o) in counts.items()}


def checked_in_on_time(
    at: dt.datetime, day: dt.date, windows: Sequence[Sequence[str]], grace_min: int, tz: ZoneInfo
) -> bool:
    """Whether ``at`` falls in one of ``windows`` (local "HH:MM") of ``day``, each widened
    by ``grace_min`` on both sides: the EVV timing rule, read back for the KPI. A visit
    without windows may start at any time."""
    grace = dt.timedelta(minutes=grace_min)
    if not windows:
        return True
    for start, end in windows:
        lo = dt.datetime.combine(day, dt.time.fromisoformat(start), tzinfo=tz) - grace
        hi = dt.datetime.combine(day, dt.time.fromisoformat(end), tzinfo=tz) + grace
        if lo <= at <= hi:
            return True
    return False


def _travel(
    session: Session, ids: list[int], month: dt.date, through: dt.date
) -> dict[int, Travel]:
    # The day's last publication is the plan that was worked to; ids grow with time.
    last = (
        select(func.max(Publication.id).label("id"))
        .where(Publication.agency_id.in_(ids), Publication.date.between(month, through))
        .group_by(Publication.agency_id, Publication.date)
        .subquery()
    )
    travel_s = PlanVersion.plan[("kpis", "travel_s")].as_integer()
    assigned = PlanVersion.plan[("kpis", "assigned")].as_integer()
    rows = session.execute(
        select(
            Publication.agency_id,
            func.count(),
            func.coalesce(func.sum(travel_s), 0),
            func.coalesce(func.sum(assigned), 0),
        )
        .join(last, last.c.id == Publication.id)
        .join(PlanVersion, PlanVersion.id == Publication.plan_version_id)
        .group_by(Publication.agency_id)
    )
    return {a: Travel(int(n), int(t), int(v)) for a, n, t, v in rows}


def _continuity(session: Session, days: ColumnElement[bool]) -> dict[int, Continuity]:
    by_preferred = exists().where(
        VisitVerification.visit_id == Visit.id,
        VisitVerification.caregiver_id == Visit.preferred_caregiver_id,
        VisitVerification.outcome == "verified",
        evv.not_superseded(),
    )
    rows = session.execute(
        select(Visit.agency_id, func.count(), func.sum(case((by_preferred, 1), else_=0)))
        .where(days, Visit.status == S.VERIFIED, Visit.preferred_caregiver_id.is_not(None))
        .group_by(Visit.agency_id)
    )
    return {a: Continuity(int(n), int(k or 0)) for a, n, k in rows}


def _spending(
    session: Session,
    agencies: list[Agency],
    month: dt.date,
    months: int,
    today: dt.date,
    policy: Policy,
) -> tuple[MonthSpending, ...]:
    firsts = [add_months(month, -n) for n in range(months - 1, -1, -1)]
    through = min(month_end(month), today - dt.timedelta(days=1))
    totals = {m: [0, 0, 0, 0] for m in firsts}  # visits, price, fund, co-pay
    if through >= firsts[0] and agencies:
        city = {a.id: a.city for a in agencies}
        # Grouped by day and price, not summed in SQL: the fund's part is rounded per visit.
        rows = session.execute(
            select(Visit.agency_id, Visit.date, ServiceItem.price_fen, func.count())
            .join(PlanItem, PlanItem.id == Visit.plan_item_id)
            .join(ServiceItem, ServiceItem.id == PlanItem.service_item_id)
            .where(
                Visit.agency_id.in_(list(city)),
                Visit.status == S.VERIFIED,
                Visit.date.between(firsts[0], through),
                # As claim lines: a visit only volunteers served is the time bank's, not
                # the fund's.
                exists().where(
                    VisitAssignment.visit_id == Visit.id, VisitAssignment.caregiver_id.is_not(None)
                ),
            )
            .group_by(Visit.agency_id, Visit.date, ServiceItem.price_fen)
        )
        for agency_id, day, price, count in rows:
            fund, co_pay = policy.split_price(price, claims.CARE_SETTING, city[agency_id])
            bucket = totals[month_start(day)]
            bucket[0] += count
            bucket[1] += price * count
            bucket[2] += fund * count
            bucket[3] += co_pay * count
    return tuple(MonthSpending(m, *totals[m]) for m in firsts)


def _sum(figures: Iterable[Figures]) -> Figures:
    rows = list(figures)

    def total(get: Any) -> int:
        return sum(get(f) for f in rows)

    return Figures(
        Fulfilment(
            verified=total(lambda f: f.fulfilment.verified),
            missed=total(lambda f: f.fulfilment.missed),
            exception=total(lambda f: f.fulfilment.exception),
            rejected=total(lambda f: f.fulfilment.rejected),
            open=total(lambda f: f.fulfilment.open),
            cancelled=total(lambda f: f.fulfilment.cancelled),
        ),
        OnTime(total(lambda f: f.on_time.verified), total(lambda f: f.on_time.on_time)),
        Travel(
            total(lambda f: f.travel.days),
            total(lambda f: f.travel.travel_s),
            total(lambda f: f.travel.assigned),
        ),
        Continuity(
            total(lambda f: f.continuity.with_preferred),
            total(lambda f: f.continuity.by_preferred),
        ),
        total(lambda f: f.anomalies),
    )
