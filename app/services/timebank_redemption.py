"""Redeeming minutes for care: a hold on the member's minutes and a visit for dispatch.

A volunteer asks for a volunteer-eligible service item for a beneficiary; the minutes
(the visit's duration) are held as a pending ledger transfer ``redeem:visit:<visit id>``
and an extra visit (``seq >= GENERATED_SEQ_LIMIT``, as a dispatcher's manual visit) enters
the day's planning. Verified completion posts the hold (``on_visit_verified``); the
volunteer's cancellation voids it; ``sweep_holds`` (``flask timebank expire-holds``) voids
holds past their timeout and those whose visit was cancelled or missed by anyone else.

Simplification, documented: a visit needs a plan item, so the beneficiary is an insured
person with an approved plan that lists the item, registered as the volunteer's relative
(``VolunteerRelative.relative_person_id``; relation ``self`` for the volunteer's own
insured record). The policy's minimum age (65 by default) applies to the beneficiary.
LTCI eligibility is not required: the minutes pay, not the fund.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

import timebank
from app.models import (
    CarePlan,
    InsuredPerson,
    PersonStatus,
    PlanItem,
    PlanStatus,
    ServiceItem,
    User,
    Visit,
    VisitStatus,
    VolunteerRelative,
)
from app.services.crud import invalid, local_today
from app.services.errors import Conflict, NotFound
from app.services.timebank import VOLUNTEER, member_account, owner_ref, volunteer_id_of
from app.services.timebank_policy import load_timebank_policy
from app.services.visits import GENERATED_SEQ_LIMIT, NOT_STARTED, desired_fields, transition
from timebank.schema import transfers

log = logging.getLogger(__name__)

CLOSED = frozenset({VisitStatus.CANCELLED.value, VisitStatus.MISSED.value})


def redemption_id(visit_id: int) -> str:
    return f"visit:{visit_id}"


def hold_id(visit_id: int) -> str:
    return f"redeem:{redemption_id(visit_id)}"


def age_on(born: dt.date, day: dt.date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


@dataclass(frozen=True)
class Option:
    """A service the volunteer may pay for with minutes: an item of a relative's plan."""

    relative_id: int
    relation: str
    person_id: int
    person_name: str
    age_years: int
    plan_item_id: int
    service_code: str
    service_name_zh: str
    service_name_en: str
    duration_min: int


def _usable_items(day: dt.date) -> Select[Any]:
    return (
        select(PlanItem, CarePlan, ServiceItem)
        .join(CarePlan, CarePlan.id == PlanItem.plan_id)
        .join(ServiceItem, ServiceItem.id == PlanItem.service_item_id)
        .where(
            CarePlan.status == PlanStatus.APPROVED,
            CarePlan.valid_from <= day,
            CarePlan.valid_to >= day,
            ServiceItem.volunteer_ok.is_(True),
            ServiceItem.active.is_(True),
        )
    )


def redemption_options(session: Session, u: User, day: dt.date | None = None) -> list[Option]:
    """What the volunteer may redeem minutes for on ``day`` (today by default)."""
    vid = volunteer_id_of(u)
    day = day or local_today()
    links = {
        link.relative_person_id: link
        for link in session.scalars(
            select(VolunteerRelative).where(
                VolunteerRelative.volunteer_id == vid,
                VolunteerRelative.relative_person_id.is_not(None),
            )
        )
    }
    if not links:
        return []
    rows = session.execute(
        _usable_items(day).where(CarePlan.person_id.in_(links)).order_by(PlanItem.id)
    ).all()
    options = []
    for item, plan, service in rows:
        person = session.get(InsuredPerson, plan.person_id)
        if person is None or person.status != PersonStatus.ACTIVE:
            continue
        link = links[plan.person_id]
        options.append(
            Option(
                relative_id=link.id,
                relation=link.relation,
                person_id=person.id,
                person_name=person.name,
                age_years=age_on(person.birth_date, day),
                plan_item_id=item.id,
                service_code=service.code,
                service_name_zh=service.name_zh,
                service_name_en=service.name_en,
                duration_min=item.duration_min or service.standard_min,
            )
        )
    return options


@dataclass(frozen=True)
class Redemption:
    visit: Visit
    amount_min: int
    hold: timebank.Transfer


def _checked_item(session: Session, vid: int, plan_item_id: int, day: dt.date) -> PlanItem:
    item = session.get(PlanItem, plan_item_id)
    plan = item.plan if item is not None else None
    linked = plan is not None and session.scalar(
        select(VolunteerRelative.id).where(
            VolunteerRelative.volunteer_id == vid,
            VolunteerRelative.relative_person_id == plan.person_id,
        )
    )
    if item is None or plan is None or not linked:
        raise invalid("plan_item_id", _("Not a plan item of one of your registered relatives."))
    service = item.service_item
    if not (service.volunteer_ok and service.active):
        raise invalid("plan_item_id", _("This service cannot be paid with time credits."))
    if day < local_today():
        raise invalid("date", _("Must be today or later."))
    if plan.status != PlanStatus.APPROVED or not plan.valid_from <= day <= plan.valid_to:
        raise invalid("date", _("The plan is not approved for this date."))
    if plan.person.status != PersonStatus.ACTIVE:
        raise invalid("plan_item_id", _("The person is not active."))
    return item


def request_redemption(session: Session, u: User, *, plan_item_id: int, day: dt.date) -> Redemption:
    """Hold the minutes of one service and add its visit to ``day``'s planning; commits."""
    vid = volunteer_id_of(u)
    item = _checked_item(session, vid, plan_item_id, day)
    plan, person = item.plan, item.plan.person
    wanted = desired_fields(item, plan, person)
    last = session.scalar(
        select(func.max(Visit.seq)).where(Visit.plan_item_id == item.id, Visit.date == day)
    )
    visit = Visit(
        plan_item_id=item.id,
        date=day,
        seq=max(GENERATED_SEQ_LIMIT, (last or 0) + 1),
        status=VisitStatus.PLANNED,
        **wanted,
    )
    session.add(visit)
    session.flush()
    account = member_account(session, owner_ref(VOLUNTEER, vid))
    policy = load_timebank_policy()
    try:
        result = timebank.hold_redemption(
            session,
            redemption_id=redemption_id(visit.id),
            member_account_id=account.id,
            amount_min=visit.duration_min,
            beneficiary_age_years=age_on(person.birth_date, day),
            policy=policy,
        )
    except timebank.PolicyError:
        session.rollback()
        raise invalid(
            "plan_item_id",
            _("Minutes pay for care from age %(n)s.", n=policy.redemption_min_age_years),
        ) from None
    if not result.ok or result.transfer is None:
        session.rollback()
        available = account.available_min
        message = _(
            "This service takes %(need)s minutes; you have %(have)s available.",
            need=wanted["duration_min"],
            have=available,
        )
        raise Conflict(message, {"plan_item_id": message})
    session.commit()
    return Redemption(visit, visit.duration_min, result.transfer)


def _own_hold(session: Session, vid: int, visit_id: int) -> timebank.Transfer:
    hold = timebank.get_transfer(session, hold_id(visit_id))
    account = timebank.find_account(session, timebank.AccountKind.MEMBER, owner_ref(VOLUNTEER, vid))
    if hold is None or account is None or hold.debit_account_id != account.id:
        message = _("No such redemption.")
        raise NotFound(message, {"visit_id": message})
    return hold


def cancel_redemption(session: Session, u: User, visit_id: int) -> Visit:
    """The volunteer withdraws a redemption before its visit starts; commits."""
    vid = volunteer_id_of(u)
    _own_hold(session, vid, visit_id)
    visit = session.get(Visit, visit_id)
    assert visit is not None
    if visit.status not in NOT_STARTED:
        message = _("Only a visit that has not started can be cancelled.")
        raise Conflict(message, {"visit_id": message})
    transition(session, visit, VisitStatus.CANCELLED, reason="time-bank redemption withdrawn")
    result = timebank.cancel_redemption(
        session, redemption_id=redemption_id(visit_id), reason="withdrawn by the member"
    )
    if not result.ok:
        session.rollback()
        message = _("This redemption is already settled.")
        raise Conflict(message, {"visit_id": message})
    session.commit()
    return visit


def complete_for_visit(session: Session, visit: Visit) -> timebank.TransferResult | None:
    """Post the redemption hold of a verified visit, if it has one (flush only)."""
    if timebank.get_transfer(session, hold_id(visit.id)) is None:
        return None
    result = timebank.complete_redemption(session, redemption_id=redemption_id(visit.id))
    if not result.ok:
        log.warning("redemption of visit %s not posted: %s", visit.id, result.outcome)
    return result


@dataclass(frozen=True)
class Sweep:
    """What ``sweep_holds`` voided: holds past their timeout, holds of closed visits."""

    timed_out: int
    closed_visits: int


def _open_holds(session: Session) -> Sequence[str]:
    resolution = transfers.alias("resolution")
    return session.scalars(
        select(transfers.c.id).where(
            transfers.c.kind == timebank.TransferKind.PENDING.value,
            transfers.c.id.like("redeem:visit:%"),
            ~select(resolution.c.id).where(resolution.c.pending_id == transfers.c.id).exists(),
        )
    ).all()


def sweep_holds(session: Session, *, now: dt.datetime | None = None) -> Sweep:
    """Void expired holds and those whose visit was cancelled or missed; commits."""
    expired = timebank.expire_holds(session, now=now)
    timed_out = sum(1 for r in expired if r.outcome is timebank.Outcome.CREATED)
    closed = 0
    for pending_id in _open_holds(session):
        number = pending_id.removeprefix("redeem:visit:")
        visit = session.get(Visit, int(number)) if number.isdigit() else None
        if visit is None or visit.status not in CLOSED:
            continue
        result = timebank.cancel_redemption(
            session, redemption_id=redemption_id(visit.id), reason=f"visit {visit.status}", now=now
        )
        closed += result.outcome is timebank.Outcome.CREATED
    session.commit()
    return Sweep(timed_out, closed)


@dataclass(frozen=True)
class OpenRedemption:
    """A redemption whose minutes are still held: its visit and hold."""

    visit: Visit
    person_name: str
    amount_min: int
    expires_at: dt.datetime | None


def open_redemptions(session: Session, u: User) -> list[OpenRedemption]:
    """The volunteer's redemptions still holding minutes, soonest visit first."""
    vid = volunteer_id_of(u)
    account = timebank.find_account(session, timebank.AccountKind.MEMBER, owner_ref(VOLUNTEER, vid))
    if account is None:
        return []
    resolution = transfers.alias("resolution")
    rows = session.execute(
        select(transfers.c.id, transfers.c.amount_min, transfers.c.expires_at).where(
            transfers.c.kind == timebank.TransferKind.PENDING.value,
            transfers.c.debit_account_id == account.id,
            transfers.c.id.like("redeem:visit:%"),
            ~select(resolution.c.id).where(resolution.c.pending_id == transfers.c.id).exists(),
        )
    ).all()
    found = []
    for row in rows:
        visit = session.get(Visit, int(row.id.removeprefix("redeem:visit:")))
        if visit is not None:
            found.append(OpenRedemption(visit, visit.person.name, row.amount_min, row.expires_at))
    return sorted(found, key=lambda r: (r.visit.date, r.visit.id))
