"""Claim lines: what the LTCI fund is asked to pay for each visit an agency delivered in a
month, and why a line is not payable.

One line per visit that was delivered by agency caregivers (status completed or verified).
Visits served only by time-bank volunteers are not LTCI claims (the time bank credits
them), and cancelled or missed visits were not delivered, so neither makes a line.

A line is *claimable* unless a rule rejects it:

- ``not_verified``: the visit has no verified record for every worker (an open or
  rejected EVV exception);
- ``not_in_plan``: the visit's item is not in a plan approved and valid on its date;
- ``not_entitled``: on that date the person has no valid assessment at the policy's
  threshold grade, or the disability has not lasted the minimum time;
- ``caregiver_not_qualified``: a caregiver who served it had no unexpired
  qualification for the item's skill on that date;
- ``over_cap``: the person's claimable minutes of the month would pass the grade's
  monthly entitlement. Lines are taken in date order, so the earliest care is paid.

The price is the item's price in fen; the fund's share is the policy's percentage for home
care in the agency's city, rounded down, and the person pays the rest.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, aliased

from app.models import (
    Agency,
    Assessment,
    CarePlan,
    InsuredPerson,
    PlanItem,
    PlanStatus,
    Qualification,
    ServiceItem,
    Visit,
    VisitAssignment,
    VisitStatus,
    VisitVerification,
)
from app.policy import Policy, load_policy
from app.services.assessments import eligible_on, latest_assessment
from app.services.months import month_bounds

CARE_SETTING = "home"
DELIVERED = (VisitStatus.COMPLETED, VisitStatus.VERIFIED)
# A plan ended since still covered the visits inside its validity dates.
PAYABLE_PLANS = (PlanStatus.APPROVED, PlanStatus.ENDED)
REASONS = (
    "not_verified",
    "not_in_plan",
    "not_entitled",
    "caregiver_not_qualified",
    "over_cap",
)


@dataclass(frozen=True)
class VisitFacts:
    """What the rules need to know about one delivered visit."""

    visit_id: int
    person_id: int
    service_date: dt.date
    minutes: int
    service_item_id: int
    item_code: str
    price_fen: int
    verified: bool
    verification_id: int | None
    caregiver_ids: tuple[int, ...]
    in_plan: bool
    entitled: bool
    qualified: bool
    monthly_cap_min: int


@dataclass(frozen=True)
class LineDraft:
    """A judged claim line, before it is stored."""

    facts: VisitFacts
    fund_share_pct: int
    fund_fen: int
    copay_fen: int
    reasons: tuple[str, ...]

    @property
    def claimable(self) -> bool:
        return not self.reasons


def judge(facts: Iterable[VisitFacts], fund_share_pct: int) -> list[LineDraft]:
    """Judge each visit's line; the monthly cap counts claimable minutes in date order."""
    used: dict[int, int] = defaultdict(int)
    drafts = []
    for f in sorted(facts, key=lambda f: (f.service_date, f.visit_id)):
        reasons = [
            code
            for code, failed in (
                ("not_verified", not f.verified),
                ("not_in_plan", not f.in_plan),
                ("not_entitled", not f.entitled),
                ("caregiver_not_qualified", not f.qualified),
            )
            if failed
        ]
        if not reasons and used[f.person_id] + f.minutes > f.monthly_cap_min:
            reasons.append("over_cap")
        if not reasons:
            used[f.person_id] += f.minutes
        fund_fen = f.price_fen * fund_share_pct // 100
        drafts.append(
            LineDraft(f, fund_share_pct, fund_fen, f.price_fen - fund_fen, tuple(reasons))
        )
    return drafts


def yuan(fen: int) -> str:
    """Integer fen as a yuan amount, ``¥1,234.56``, without passing through a float."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}¥{whole:,}.{cents:02d}"


def fund_share_pct(agency: Agency, policy: Policy | None = None) -> int:
    return (policy or load_policy()).fund_share(CARE_SETTING, agency.city)


def draft_lines(session: Session, agency: Agency, period: dt.date) -> list[LineDraft]:
    """The judged claim lines of ``agency``'s visits delivered in ``period``'s month."""
    policy = load_policy()
    rows = session.execute(_delivered(agency.id, period)).all()
    visit_ids = [r.Visit.id for r in rows]
    verifications = _current_verifications(session, visit_ids)
    workers = _caregivers_by_visit(session, visit_ids, verifications)
    person_ids = {r.Visit.person_id for r in rows}
    assessments = _assessments(session, person_ids)
    skills = _qualifications(session, {c for ids in workers.values() for c in ids})
    facts = [
        _facts(r, verifications.get(r.Visit.id, []), workers, assessments, skills, policy)
        for r in rows
    ]
    return judge([f for f in facts if f is not None], fund_share_pct(agency, policy))


def _delivered(
    agency_id: int, period: dt.date
) -> Select[tuple[Visit, PlanItem, CarePlan, ServiceItem, InsuredPerson]]:
    first, last = month_bounds(period)
    return (
        select(Visit, PlanItem, CarePlan, ServiceItem, InsuredPerson)
        .join(PlanItem, Visit.plan_item_id == PlanItem.id)
        .join(CarePlan, PlanItem.plan_id == CarePlan.id)
        .join(ServiceItem, PlanItem.service_item_id == ServiceItem.id)
        .join(InsuredPerson, Visit.person_id == InsuredPerson.id)
        .where(
            Visit.agency_id == agency_id,
            Visit.date.between(first, last),
            Visit.status.in_(DELIVERED),
        )
        .order_by(Visit.date, Visit.id)
    )


def _current_verifications(
    session: Session, visit_ids: Sequence[int]
) -> dict[int, list[VisitVerification]]:
    later = aliased(VisitVerification)
    records: dict[int, list[VisitVerification]] = defaultdict(list)
    for chunk in _chunks(visit_ids):
        stmt = (
            select(VisitVerification)
            .outerjoin(later, later.supersedes_id == VisitVerification.id)
            .where(VisitVerification.visit_id.in_(chunk), later.id.is_(None))
            .order_by(VisitVerification.id)
        )
        for record in session.scalars(stmt):
            records[record.visit_id].append(record)
    return records


def _caregivers_by_visit(
    session: Session,
    visit_ids: Sequence[int],
    verifications: dict[int, list[VisitVerification]],
) -> dict[int, tuple[int, ...]]:
    """Who served each visit: the verified workers, else the assigned ones."""
    assigned: dict[int, list[int | None]] = defaultdict(list)
    volunteers: set[int] = set()
    for chunk in _chunks(visit_ids):
        for a in session.scalars(
            select(VisitAssignment).where(VisitAssignment.visit_id.in_(chunk))
        ):
            assigned[a.visit_id].append(a.caregiver_id)
            if a.volunteer_id is not None:
                volunteers.add(a.visit_id)
    served: dict[int, tuple[int, ...]] = {}
    for visit_id in visit_ids:
        records = verifications.get(visit_id, [])
        ids = [r.caregiver_id for r in records] if records else assigned.get(visit_id, [])
        served[visit_id] = tuple(sorted({i for i in ids if i is not None}))
    return served


def _assessments(session: Session, person_ids: Iterable[int]) -> dict[int, list[Assessment]]:
    found: dict[int, list[Assessment]] = defaultdict(list)
    for chunk in _chunks(sorted(person_ids)):
        for a in session.scalars(select(Assessment).where(Assessment.person_id.in_(chunk))):
            found[a.person_id].append(a)
    return found


def _qualifications(
    session: Session, caregiver_ids: Iterable[int]
) -> dict[int, list[Qualification]]:
    found: dict[int, list[Qualification]] = defaultdict(list)
    for chunk in _chunks(sorted(caregiver_ids)):
        stmt = select(Qualification).where(Qualification.caregiver_id.in_(chunk))
        for q in session.scalars(stmt):
            found[q.caregiver_id].append(q)
    return found


def _facts(
    row: object,
    records: list[VisitVerification],
    workers: dict[int, tuple[int, ...]],
    assessments: dict[int, list[Assessment]],
    skills: dict[int, list[Qualification]],
    policy: Policy,
) -> VisitFacts | None:
    visit: Visit = row.Visit  # type: ignore[attr-defined]
    item: ServiceItem = row.ServiceItem  # type: ignore[attr-defined]
    plan: CarePlan = row.CarePlan  # type: ignore[attr-defined]
    person: InsuredPerson = row.InsuredPerson  # type: ignore[attr-defined]
    caregivers = workers.get(visit.id, ())
    if not caregivers:
        return None  # served by volunteers only: a time-bank visit, not an LTCI claim
    day = visit.date
    own = assessments.get(person.id, [])
    latest = latest_assessment(own, day)
    entitlement = policy.entitlement(latest.grade) if latest is not None else None
    caregiver_records = [r for r in records if r.caregiver_id is not None]
    verified = visit.status == VisitStatus.VERIFIED and all(
        r.outcome == "verified" for r in caregiver_records
    )
    return VisitFacts(
        visit_id=visit.id,
        person_id=person.id,
        service_date=day,
        minutes=visit.duration_min,
        service_item_id=item.id,
        item_code=item.code,
        price_fen=item.price_fen,
        verified=verified,
        verification_id=caregiver_records[0].id if caregiver_records else None,
        caregiver_ids=caregivers,
        in_plan=plan.status in PAYABLE_PLANS
        and plan.valid_from <= day <= plan.valid_to
        and item.active,
        entitled=eligible_on(policy, person.disability_since, own, day),
        qualified=all(_qualified(skills.get(c, []), item.required_skill, day) for c in caregivers),
        monthly_cap_min=entitlement.minutes_per_month if entitlement else 0,
    )


def _qualified(qualifications: list[Qualification], skill: str, day: dt.date) -> bool:
    return any(
        q.skill == skill and (q.expires_on is None or q.expires_on >= day) for q in qualifications
    )


def _chunks(ids: Sequence[int], size: int = 500) -> Iterable[Sequence[int]]:
    # Bounded IN lists: SQLite caps bound parameters per statement.
    for start in range(0, len(ids), size):
        yield ids[start : start + size]
