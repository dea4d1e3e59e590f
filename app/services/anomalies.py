"""A month's anomaly findings, read from the database for the agencies a user may see.

The facts the rules need are loaded with two queries for the whole month (the current
verification records with their check-in and check-out positions and homes, then the
caregivers' qualifications), the pure rules of ``app.services.anomaly_rules`` run over
them, and each finding gets an explanation in the user's language from its numbers.

The visits looked at are every worker's current verification record of a visit dated in
the month whose outcome is ``verified`` or ``exception`` (not yet decided); a rejected
part is not paid, so it is not an anomaly to chase.

Who may read findings: agency admins (their agency) and the insurer's auditors and
sys_admins (every agency, or the one they name). Another agency's id, or an unknown one,
is NotFound. Dispatchers are refused: they assign the visits and approve the EVV
exceptions the findings are about, and findings name colleagues suspected of fraud, so
the review sits with the agency's management and the insurer.
"""

from __future__ import annotations

import datetime as dt
import os
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from flask import current_app, has_app_context
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from sqlalchemy import Row, select
from sqlalchemy.orm import Session, aliased

from app.models import (
    Agency,
    Caregiver,
    EvvAction,
    InsuredPerson,
    Qualification,
    Role,
    Skill,
    User,
    Visit,
    VisitVerification,
    Volunteer,
)
from app.security import is_cross_agency
from app.services import evv
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
    Finding,
    PartFact,
    Rules,
    Subject,
    detect,
    load_rules,
)
from app.services.errors import Forbidden, NotFound
from app.services.evv_rules import Position
from app.services.months import month_bounds

SUPERVISORS = (Role.AGENCY_ADMIN, Role.AUDITOR, Role.SYS_ADMIN)
LOOKED_AT = ("verified", "exception")
RULES_FILE_KEY = "CAREROUTE_SUPERVISION_RULES_FILE"

RULE_LABELS = {
    OUTSIDE_GEOFENCE: _l("Check-in away from the home"),
    TOO_SHORT: _l("Visit far too short"),
    TOO_LONG: _l("Visit far too long"),
    OVERLAPPING_VISITS: _l("Overlapping visits of one worker"),
    IMPOSSIBLE_TRAVEL: _l("Impossible travel between visits"),
    QUALIFICATION_EXPIRED: _l("Qualification missing or expired"),
    NOT_CONFIRMED: _l("Visits without confirmation"),
    POSITIONS_MISSING: _l("Positions missing at one home"),
    SHARED_POINT: _l("Several workers at exactly the same point"),
    REPEATED_POINT: _l("The same point replayed"),
    REPEATED_DURATIONS: _l("Identical durations"),
    CAP_SHIFT: _l("Hours over the cap under another id"),
}
SEVERITY_LABELS = {"high": _l("High"), "medium": _l("Medium"), "low": _l("Low")}
SKILL_LABELS = {
    Skill.PERSONAL_CARE.value: _l("personal care"),
    Skill.NURSING.value: _l("nursing"),
    Skill.REHAB.value: _l("rehabilitation"),
    Skill.COMPANIONSHIP.value: _l("companionship"),
    Skill.HOUSEHOLD.value: _l("household help"),
}

_CHECK_IN = aliased(EvvAction)
_CHECK_OUT = aliased(EvvAction)


def current_rules() -> Rules:
    """The configured rules file (application config, else environment), else the shipped one."""
    configured = current_app.config.get(RULES_FILE_KEY) if has_app_context() else None
    return load_rules(configured or os.environ.get(RULES_FILE_KEY) or None)


# --------------------------------------------------------------------------- scope


def visible_agency_ids(session: Session, actor: User, agency_id: int | None) -> list[int] | None:
    """The agencies ``actor`` reads findings of (None: all of them).

    Raises
    ------
    Forbidden
        The role may not read findings.
    NotFound
        ``agency_id`` is unknown, or another agency's for agency staff.
    """
    if actor.role not in SUPERVISORS:
        raise Forbidden(_("You may not do this."))
    if is_cross_agency(actor):
        if agency_id is None:
            return None
        if session.get(Agency, agency_id) is None:
            raise _no_agency()
        return [agency_id]
    if actor.agency_id is None or (agency_id is not None and agency_id != actor.agency_id):
        raise _no_agency()
    return [actor.agency_id]


def _no_agency() -> NotFound:
    message = _("%(what)s not found.") % {"what": _("Agency")}
    return NotFound(message, {"agency_id": message})


# --------------------------------------------------------------------------- reading


def findings(
    session: Session, actor: User, month: dt.date, agency_id: int | None = None
) -> list[Finding]:
    """Every finding of ``month`` (its first day; any day of it is taken as the month)
    for the agencies ``actor`` may see, or the one asked for.

    Raises
    ------
    Forbidden, NotFound
        As ``visible_agency_ids``.
    """
    agency_ids = visible_agency_ids(session, actor, agency_id)
    return detect(load_parts(session, agency_ids, month), current_rules())


def count_by_agency(session: Session, actor: User, month: dt.date) -> dict[int, int]:
    """Findings of ``month`` per agency ``actor`` may see (agencies without any: 0)."""
    agency_ids = visible_agency_ids(session, actor, None)
    if agency_ids is None:
        agency_ids = list(session.scalars(select(Agency.id).order_by(Agency.id)))
    counts = Counter(f.agency_id for f in findings(session, actor, month))
    return {agency_id: counts.get(agency_id, 0) for agency_id in agency_ids}


def load_parts(session: Session, agency_ids: list[int] | None, month: dt.date) -> list[PartFact]:
    """The facts of every worker's part of the month's visits (all agencies if None)."""
    first, last = month_bounds(month)
    cin, cout = _CHECK_IN, _CHECK_OUT
    vv = VisitVerification
    stmt = (
        select(
            vv.visit_id,
            vv.agency_id,
            vv.person_id,
            vv.caregiver_id,
            vv.volunteer_id,
            vv.check_in_at,
            vv.check_out_at,
            vv.confirmation,
            Visit.date,
            Visit.duration_min,
            Visit.skills,
            InsuredPerson.lat.label("home_lat"),
            InsuredPerson.lon.label("home_lon"),
            cin.lat.label("in_lat"),
            cin.lon.label("in_lon"),
            cin.accuracy_m.label("in_accuracy_m"),
            cout.lat.label("out_lat"),
            cout.lon.label("out_lon"),
            cout.accuracy_m.label("out_accuracy_m"),
        )
        .join(Visit, Visit.id == VisitVerification.visit_id)
        .join(InsuredPerson, InsuredPerson.id == VisitVerification.person_id)
        .join(cin, cin.id == VisitVerification.check_in_action_id)
        .join(cout, cout.id == VisitVerification.check_out_action_id)
        .where(
            Visit.date.between(first, last),
            VisitVerification.outcome.in_(LOOKED_AT),
            evv.not_superseded(),
        )
        .order_by(VisitVerification.id)
    )
    if agency_ids is not None:
        stmt = stmt.where(VisitVerification.agency_id.in_(agency_ids))
    rows = session.execute(stmt).all()
    skills = _qualifications(session, {r.caregiver_id for r in rows} - {None})
    return [_part(row, skills) for row in rows]


def _qualifications(
    session: Session, caregiver_ids: set[int | None]
) -> dict[int, dict[str, dt.date | None]]:
    held: dict[int, dict[str, dt.date | None]] = {}
    if not caregiver_ids:
        return held
    rows = session.execute(
        select(Qualification.caregiver_id, Qualification.skill, Qualification.expires_on).where(
            Qualification.caregiver_id.in_(caregiver_ids)
        )
    )
    for caregiver_id, skill, expires_on in rows:
        held.setdefault(caregiver_id, {})[skill] = expires_on
    return held


def _position(lat: float | None, lon: float | None, accuracy: float | None) -> Position | None:
    return None if lat is None or lon is None else Position(lat, lon, accuracy)


def _confirmed(confirmation: object) -> bool:
    # Since PINs are checked a stored confirmation says "ok"; older ones exist only if given.
    return isinstance(confirmation, dict) and confirmation.get("ok", bool(confirmation)) is True


def _part(row: Row[Any], skills: Mapping[int, Mapping[str, dt.date | None]]) -> PartFact:
    skill = str(row.skills[0]) if row.skills else ""
    held: bool | None = None
    expires: dt.date | None = None
    if row.caregiver_id is not None:
        worker = Subject(CAREGIVER, row.caregiver_id)
        mine = skills.get(row.caregiver_id, {})
        held, expires = skill in mine, mine.get(skill)
    else:
        worker = Subject(VOLUNTEER, row.volunteer_id)
    return PartFact(
        visit_id=row.visit_id,
        agency_id=row.agency_id,
        day=row.date,
        person_id=row.person_id,
        home_lat=row.home_lat,
        home_lon=row.home_lon,
        worker=worker,
        planned_min=row.duration_min,
        check_in_at=row.check_in_at,
        check_out_at=row.check_out_at,
        check_in=_position(row.in_lat, row.in_lon, row.in_accuracy_m),
        check_out=_position(row.out_lat, row.out_lon, row.out_accuracy_m),
        confirmed=_confirmed(row.confirmation),
        skill=skill,
        skill_held=held,
        skill_expires_on=expires,
    )


def subject_names(session: Session, found: Iterable[Finding]) -> dict[Subject, str]:
    """The names of every subject and related subject of ``found`` (three queries)."""
    wanted: dict[str, set[int]] = {CAREGIVER: set(), VOLUNTEER: set(), PERSON: set()}
    for f in found:
        for s in (f.subject, *f.related):
            wanted.setdefault(s.kind, set()).add(s.id)
    names: dict[Subject, str] = {}
    for kind, model in ((CAREGIVER, Caregiver), (VOLUNTEER, Volunteer), (PERSON, InsuredPerson)):
        if wanted[kind]:
            rows = session.execute(select(model.id, model.name).where(model.id.in_(wanted[kind])))
            names.update({Subject(kind, i): name for i, name in rows})
    return names


# --------------------------------------------------------------------------- explaining


def rule_label(code: str) -> str:
    return str(RULE_LABELS.get(code, code))


def severity_label(severity: str) -> str:
    return str(SEVERITY_LABELS.get(severity, severity))


def _duration(seconds: int) -> str:
    return _("%(m)s min %(s)s s", m=seconds // 60, s=seconds % 60)


def explain(finding: Finding, names: Mapping[Subject, str] | None = None) -> str:
    """What the finding means, in the user's language, from its numbers."""
    n = finding.numbers
    names = names or {}
    rule = finding.rule
    if rule == OUTSIDE_GEOFENCE:
        parts = []
        if "check_in_m" in n:
            parts.append(
                _(
                    "Checked in %(distance)s m from the home (phone accuracy %(accuracy)s m, "
                    "geofence %(fence)s m).",
                    distance=n["check_in_m"],
                    accuracy=n["check_in_accuracy_m"],
                    fence=n["geofence_m"],
                )
            )
        if "check_out_m" in n:
            parts.append(
                _(
                    "Checked out %(distance)s m from the home (phone accuracy %(accuracy)s m, "
                    "geofence %(fence)s m).",
                    distance=n["check_out_m"],
                    accuracy=n["check_out_accuracy_m"],
                    fence=n["geofence_m"],
                )
            )
        return " ".join(parts)
    if rule == TOO_SHORT:
        return _(
            "Lasted %(minutes)s min of the %(planned)s planned (%(pct)s%%).",
            minutes=n["duration_min"],
            planned=n["planned_min"],
            pct=n["pct"],
        )
    if rule == TOO_LONG:
        return _(
            "Lasted %(minutes)s min against %(planned)s planned (%(pct)s%%).",
            minutes=n["duration_min"],
            planned=n["planned_min"],
            pct=n["pct"],
        )
    if rule == OVERLAPPING_VISITS:
        return _(
            "Two visits of the same worker overlap by %(minutes)s min.", minutes=n["overlap_min"]
        )
    if rule == IMPOSSIBLE_TRAVEL:
        return _(
            "%(distance)s m from one home to the next in %(seconds)s s: %(speed)s km/h, "
            "where more than %(max)s km/h is impossible in town.",
            distance=n["distance_m"],
            seconds=n["elapsed_s"],
            speed=n["speed_kmh"],
            max=n["max_speed_kmh"],
        )
    if rule == QUALIFICATION_EXPIRED:
        skill = str(SKILL_LABELS.get(str(n["skill"]), n["skill"]))
        if not n.get("held"):
            return _("The caregiver holds no %(skill)s certificate.", skill=skill)
        return ngettext(
            "The %(skill)s certificate expired on %(date)s, %(num)d day before the visit.",
            "The %(skill)s certificate expired on %(date)s, %(num)d days before the visit.",
            int(n["days_expired"]),
            skill=skill,
            date=n["expired_on"],
        )
    if rule == NOT_CONFIRMED:
        return _(
            "%(count)s of %(visits)s visits to %(person)s were not confirmed by the person or "
            "family (%(pct)s%%).",
            count=n["unconfirmed"],
            visits=n["visits"],
            person=_person_name(finding, names),
            pct=n["share_pct"],
        )
    if rule == POSITIONS_MISSING:
        return _(
            "%(count)s of %(visits)s visits to %(person)s have no check-in or check-out "
            "position (%(pct)s%%).",
            count=n["missing"],
            visits=n["visits"],
            person=_person_name(finding, names),
            pct=n["share_pct"],
        )
    if rule == SHARED_POINT:
        return _(
            "%(workers)s different workers reported exactly the same position (%(lat)s, "
            "%(lon)s) at this home, in %(visits)s visits; real positions vary by metres.",
            workers=n["workers"],
            lat=n["lat"],
            lon=n["lon"],
            visits=n["visits"],
        )
    if rule == REPEATED_POINT:
        return _(
            "Exactly the same position (%(lat)s, %(lon)s) was reported in %(visits)s visits; "
            "real positions vary by metres.",
            lat=n["lat"],
            lon=n["lon"],
            visits=n["visits"],
        )
    if rule == REPEATED_DURATIONS:
        return _(
            "%(repeats)s of %(visits)s visits lasted exactly %(duration)s, to the second.",
            repeats=n["repeats"],
            visits=n["visits"],
            duration=_duration(int(n["duration_s"])),
        )
    if rule == CAP_SHIFT:
        other = Subject(CAREGIVER, int(n["other_id"]))
        return _(
            "Reached %(hours)s h of the %(cap)s h monthly cap; after that, %(moved)s of the "
            "%(total)s visits of %(other)s were with %(persons)s persons this caregiver had "
            "served and %(other)s had not (%(pct)s%%).",
            hours=int(n["month_min"]) // 60,
            cap=int(n["cap_min"]) // 60,
            moved=n["moved_visits"],
            total=n["other_visits"],
            other=names.get(other, f"#{other.id}"),
            persons=n["persons"],
            pct=n["share_pct"],
        )
    return rule


def _person_name(finding: Finding, names: Mapping[Subject, str]) -> str:
    person = next((s for s in finding.related if s.kind == PERSON), None)
    if person is None:
        return _("this person")
    return names.get(person, f"#{person.id}")
