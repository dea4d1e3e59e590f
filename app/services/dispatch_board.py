"""The dispatcher's board for one agency and date: who works, what is to be done, the plan
versions, and who has acknowledged the published changes."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask_babel import get_locale
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app.models import (
    Agency,
    Caregiver,
    CaregiverAbsence,
    PlanItem,
    PlanVersion,
    Publication,
    RouteNotice,
    Visit,
    Volunteer,
    utcnow,
)
from app.policy import load_policy
from app.services import dispatch_versions as versions
from app.services.dayproblem import WEEKDAY_KEYS, caregiver_ref, over_cap_visits, visit_ref
from app.services.dayproblem import volunteer_ref as vol_ref

ACK_LEAD = dt.timedelta(minutes=30)


def _hhmm(t: dt.time | None) -> str | None:
    return t.strftime("%H:%M") if t is not None else None


def absences(session: Session, agency_id: int, day: dt.date) -> dict[int, dict[str, Any]]:
    """Caregiver id -> the absence that starts earliest on ``day`` (all day first)."""
    rows = session.scalars(
        select(CaregiverAbsence)
        .join(Caregiver, Caregiver.id == CaregiverAbsence.caregiver_id)
        .where(Caregiver.agency_id == agency_id, CaregiverAbsence.date == day)
        .order_by(CaregiverAbsence.id)
    )
    out: dict[int, dict[str, Any]] = {}
    for a in rows:
        mine = out.get(a.caregiver_id)
        starts = _hhmm(a.from_time)
        if mine is None or (mine["from"] is not None and (starts is None or starts < mine["from"])):
            out[a.caregiver_id] = {"from": starts, "reason": a.reason}
    return out


def _caregivers(session: Session, agency_id: int, day: dt.date) -> list[dict[str, Any]]:
    away = absences(session, agency_id, day)
    out = [
        {
            "ref": caregiver_ref(c.id),
            "id": c.id,
            "name": c.name,
            "kind": "caregiver",
            "mode": c.travel_mode,
            "shift": [_hhmm(c.shift_start), _hhmm(c.shift_end)],
            "home": [c.home_lat, c.home_lon],
            "absent": away.get(c.id),
        }
        for c in session.scalars(
            select(Caregiver)
            .where(Caregiver.agency_id == agency_id, Caregiver.active.is_(True))
            .order_by(Caregiver.staff_no, Caregiver.id)
        )
    ]
    for v in session.scalars(
        select(Volunteer)
        .where(Volunteer.agency_id == agency_id, Volunteer.active.is_(True))
        .order_by(Volunteer.member_no, Volunteer.id)
    ):
        slots = v.availability.get(WEEKDAY_KEYS[day.weekday()], [])
        if not slots:
            continue
        out.append(
            {
                "ref": vol_ref(v.id),
                "id": v.id,
                "name": v.name,
                "kind": "volunteer",
                "mode": v.travel_mode,
                "shift": [min(s[0] for s in slots), max(s[1] for s in slots)],
                "home": [v.home_lat, v.home_lon],
                "absent": None,
            }
        )
    return out


def _visits(
    session: Session, agency_id: int, day: dt.date, locked: set[str]
) -> list[dict[str, Any]]:
    over_cap = over_cap_visits(session, agency_id, day, load_policy())
    english = str(get_locale() or "").startswith("en")
    rows = session.scalars(
        select(Visit)
        .where(Visit.agency_id == agency_id, Visit.date == day)
        .options(
            selectinload(Visit.person),
            selectinload(Visit.plan_item).selectinload(PlanItem.service_item),
        )
        .order_by(Visit.id)
    )
    out = []
    for v in rows:
        item = v.plan_item.service_item
        out.append(
            {
                "ref": visit_ref(v.id),
                "id": v.id,
                "person_id": v.person_id,
                "person_name": v.person.name,
                "address": v.person.address,
                "location": [v.person.lat, v.person.lon],
                "windows": v.windows,
                "duration_min": v.duration_min,
                "priority": v.priority,
                "staff": v.staff_count,
                "skills": v.skills,
                "gender": v.gender_required,
                "status": v.status,
                "service_item": {
                    "code": item.code,
                    "name": item.name_en if english else item.name_zh,
                },
                "locked": visit_ref(v.id) in locked,
                "over_cap": over_cap.get(v.id),
                "preferred": caregiver_ref(v.preferred_caregiver_id)
                if v.preferred_caregiver_id
                else None,
            }
        )
    return out


def _acks(session: Session, agency_id: int, day: dt.date) -> list[dict[str, Any]]:
    """Each worker's latest notice of the day, flagged when overdue."""
    notices = session.scalars(
        select(RouteNotice)
        .join(Publication, Publication.id == RouteNotice.publication_id)
        .where(Publication.agency_id == agency_id, Publication.date == day)
        .order_by(RouteNotice.id)
    )
    latest: dict[str, RouteNotice] = {}
    for n in notices:
        latest[notice_worker_ref(n)] = n
    now = utcnow()
    return [
        {
            "caregiver_ref": ref,
            "notice_id": n.id,
            "publication_id": n.publication_id,
            "acknowledged_at": n.acknowledged_at.isoformat() if n.acknowledged_at else None,
            "first_affected_at": n.first_affected_at.isoformat() if n.first_affected_at else None,
            "overdue": is_overdue(n, now),
        }
        for ref, n in sorted(latest.items())
    ]


def notice_worker_ref(n: RouteNotice) -> str:
    return (
        caregiver_ref(n.caregiver_id)
        if n.caregiver_id is not None
        else vol_ref(n.volunteer_id or 0)
    )


def is_overdue(n: RouteNotice, now: dt.datetime) -> bool:
    """Unacknowledged 30 minutes before the first visit the change affects."""
    return (
        n.acknowledged_at is None
        and n.first_affected_at is not None
        and now >= n.first_affected_at - ACK_LEAD
    )


def board(session: Session, agency: Agency, day: dt.date) -> dict[str, Any]:
    """Everything the board shows for ``agency`` on ``day``."""
    rows = list(
        session.scalars(
            select(PlanVersion)
            .where(PlanVersion.agency_id == agency.id, PlanVersion.date == day)
            .order_by(PlanVersion.number)
        )
    )
    published = versions.published_at(session, [v.id for v in rows])
    current = rows[-1] if rows else None
    locked = {lk["visit_id"] for lk in current.problem.get("locks", [])} if current else set()
    last_pub = session.scalar(
        select(Publication)
        .where(Publication.agency_id == agency.id, Publication.date == day)
        .order_by(Publication.published_at.desc(), Publication.id.desc())
        .limit(1)
    )
    return {
        "date": day.isoformat(),
        "agency": {"id": agency.id, "code": agency.code, "name": agency.name},
        "caregivers": _caregivers(session, agency.id, day),
        "visits": _visits(session, agency.id, day, locked),
        "versions": [versions.summary(v, published.get(v.id)) for v in rows],
        "current_version_id": current.id if current else None,
        "published_version_id": last_pub.plan_version_id if last_pub else None,
        "acks": _acks(session, agency.id, day),
    }
