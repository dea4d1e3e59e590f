"""A small hand-made October for the supervision KPIs, with answers known in advance.

Agency A1 (default fund share, 70 %) and agency B2 (city "shanghai", 90 %). Verified visits
go through the real EVV path (``record_action`` at the visit's own time, ``decide`` for the
dispatcher's decisions), so the KPIs read what the application really stores.

A1 in October 2026 (windows 09:00-10:00 local, grace 30 min):

====  ======  =====  ==========  =====================================  =================
day   item    by     check-in    what happens                           counts as
====  ======  =====  ==========  =====================================  =================
6     care    cg1    09:10       verified                               on time, by pref.
7     care    cg2    10:20       verified (inside the grace)            on time, other cg
8     care    cg1    11:00       late -> exception -> approved          late, by pref.
9     care    -      -           missed                                 missed
10    care    -      -           cancelled                              not due
13    care    cg1    2 km away   exception awaiting a decision          exception
14    care    cg1    2 km away   exception -> rejected                  rejected
15    care    cg1    -           assigned, never started                open
16    comp.   cg2    09:05       verified (no preferred caregiver)      on time
17    comp.   cg2    09:05       verified (no preferred caregiver)      on time
====  ======  =====  ==========  =====================================  =================

Plus a verified care visit on 30 September and on 3 November (outside the month), and for
B2 one verified care visit on 6 October. "care" costs 6000 fen with caregiver cg1
preferred; "comp." costs 3335 fen (70 %: 2334.5 -> the fund's 2334 per visit, so two
visits are 4668, not the 4669 of splitting their sum). A1 has published plans on 6
October (published twice: the later one counts), 7 October and 3 November.
"""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from app.models import (
    Agency,
    Caregiver,
    CarePlan,
    InsuredPerson,
    PlanItem,
    PlanStatus,
    PlanVersion,
    Publication,
    Role,
    ServiceItem,
    User,
    Visit,
    VisitAssignment,
    VisitStatus,
    VisitVerification,
)
from app.services import evv
from app.services.evv import ActionIn
from app.services.evv_rules import EvvRules, Position
from tests.conftest import make_agency, make_user

TZ = ZoneInfo("Asia/Shanghai")
HOME = (32.0, 120.9)
TWO_KM_NORTH = (32.018, 120.9)
MONTH = dt.date(2026, 10, 1)
TODAY = dt.date(2026, 11, 15)
RULES = EvvRules()
_ids = itertools.count(1)


@dataclass
class SvWorld:
    a: Agency
    b: Agency
    users: dict[str, User]
    visits: dict[str, Visit]


def local(day: dt.date, hhmm: str) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.fromisoformat(hhmm), tzinfo=TZ)


def _caregiver(session: Session, agency: Agency, staff_no: str) -> Caregiver:
    cg = Caregiver(
        agency_id=agency.id, staff_no=staff_no, name=staff_no, gender="f",
        home_lat=HOME[0], home_lon=HOME[1],
    )  # fmt: skip
    session.add(cg)
    session.flush()
    return cg


def _person(session: Session, agency: Agency, id_number: str) -> InsuredPerson:
    person = InsuredPerson(
        agency_id=agency.id, name=f"P{id_number[-4:]}", gender="f",
        birth_date=dt.date(1938, 5, 1), id_number=id_number, address="崇川区 1 号",
        district="崇川区", lat=HOME[0], lon=HOME[1],
    )  # fmt: skip
    session.add(person)
    session.flush()
    return person


def _item(session: Session, code: str, price_fen: int, skill: str) -> ServiceItem:
    item = ServiceItem(
        code=code, name_zh=code, name_en=code, category="basic_care", standard_min=45,
        required_skill=skill, price_fen=price_fen,
    )  # fmt: skip
    session.add(item)
    session.flush()
    return item


def _plan_item(
    session: Session, agency: Agency, person: InsuredPerson, item: ServiceItem, pref: Any
) -> PlanItem:
    plan = CarePlan(
        person_id=person.id, agency_id=agency.id, valid_from=dt.date(2026, 1, 1),
        valid_to=dt.date(2026, 12, 31), status=PlanStatus.APPROVED,
    )  # fmt: skip
    session.add(plan)
    session.flush()
    row = PlanItem(
        plan_id=plan.id, service_item_id=item.id, times_per_week=7,
        windows=[["09:00", "10:00"]], preferred_caregiver_id=pref.id if pref else None,
    )  # fmt: skip
    session.add(row)
    session.flush()
    return row


def _visit(session: Session, item: PlanItem, day: dt.date, status: VisitStatus) -> Visit:
    visit = Visit(
        plan_item_id=item.id,
        person_id=item.plan.person_id,
        agency_id=item.plan.agency_id,
        date=day,
        seq=0,
        windows=[["09:00", "10:00"]],
        duration_min=45,
        skills=["personal_care"],
        preferred_caregiver_id=item.preferred_caregiver_id,
        status=status,
    )
    session.add(visit)
    session.flush()
    return visit


def _assign(session: Session, visit: Visit, cg: Caregiver, day: dt.date) -> None:
    session.add(
        VisitAssignment(visit_id=visit.id, caregiver_id=cg.id, assigned_at=local(day, "07:00"))
    )
    session.flush()


def serve(
    session: Session,
    u: User,
    visit: Visit,
    check_in: str,
    where: tuple[float, float] = HOME,
    code: str = "CARE",
) -> VisitVerification | None:
    """Check in at ``check_in`` (local) and out 45 minutes later, through the EVV service."""
    start = local(visit.date, check_in)
    end = start + dt.timedelta(minutes=45)
    position = Position(where[0], where[1], 10.0)
    evv.record_action(
        session, u, ActionIn(str(uuid.uuid4()), visit.id, "check_in", start, position),
        rules=RULES, now=start,
    )  # fmt: skip
    out = evv.record_action(
        session, u,
        ActionIn(str(uuid.uuid4()), visit.id, "check_out", end, position, items_done=(code,)),
        rules=RULES, now=end,
    )  # fmt: skip
    return out.verification


def decide(session: Session, u: User, record: VisitVerification | None, approve: bool) -> None:
    assert record is not None
    assert record.outcome == "exception"
    visit = session.get(Visit, record.visit_id)
    assert visit is not None
    now = local(visit.date, "20:00")
    evv.decide(session, u, record.id, approve=approve, reason="checked", rules=RULES, now=now)


def publish(
    session: Session, agency: Agency, day: dt.date, travel_s: int, assigned: int
) -> PlanVersion:
    number = next(_ids)
    version = PlanVersion(
        agency_id=agency.id, date=day, number=number, kind="optimise", problem={},
        plan={"kpis": {"visits": assigned, "assigned": assigned, "travel_s": travel_s,
                       "continuity_rate": 1.0}},
        valid=True, violations=[],
    )  # fmt: skip
    session.add(version)
    session.flush()
    session.add(
        Publication(
            plan_version_id=version.id,
            agency_id=agency.id,
            date=day,
            published_at=local(day, "06:00") + dt.timedelta(minutes=number),
        )
    )
    session.flush()
    return version


def build(session: Session) -> SvWorld:
    a = make_agency(session, "A1")
    b = make_agency(session, "B2")
    b.city = "shanghai"
    cg1, cg2 = _caregiver(session, a, "C001"), _caregiver(session, a, "C002")
    cg_b = _caregiver(session, b, "C101")
    care, comp = (
        _item(session, "CARE", 6000, "personal_care"),
        _item(session, "COMP", 3335, "companionship"),
    )
    p1 = _person(session, a, "320602193805010026")
    p2 = _person(session, a, "320602194001010011")
    pb = _person(session, b, "320602193805010042")
    care_a = _plan_item(session, a, p1, care, cg1)
    comp_a = _plan_item(session, a, p2, comp, None)
    care_b = _plan_item(session, b, pb, care, None)
    users = {
        "cg1": make_user(session, Role.CAREGIVER, a, "cg1", caregiver_id=cg1.id),
        "cg2": make_user(session, Role.CAREGIVER, a, "cg2", caregiver_id=cg2.id),
        "cg_b": make_user(session, Role.CAREGIVER, b, "cg_b", caregiver_id=cg_b.id),
        "dispatcher": make_user(session, Role.DISPATCHER, a, "disp-a"),
        "admin_a": make_user(session, Role.AGENCY_ADMIN, a, "admin-a"),
        "admin_b": make_user(session, Role.AGENCY_ADMIN, b, "admin-b"),
        "auditor": make_user(session, Role.AUDITOR, None, "auditor"),
        "sys_admin": make_user(session, Role.SYS_ADMIN, None, "sysadmin"),
    }
    day = lambda n: MONTH.replace(day=n)  # noqa: E731
    plan: list[tuple[str, PlanItem, dt.date, Caregiver | None, VisitStatus]] = [
        ("v6", care_a, day(6), cg1, VisitStatus.ASSIGNED),
        ("v7", care_a, day(7), cg2, VisitStatus.ASSIGNED),
        ("v8", care_a, day(8), cg1, VisitStatus.ASSIGNED),
        ("missed", care_a, day(9), None, VisitStatus.MISSED),
        ("cancelled", care_a, day(10), None, VisitStatus.CANCELLED),
        ("exception", care_a, day(13), cg1, VisitStatus.ASSIGNED),
        ("rejected", care_a, day(14), cg1, VisitStatus.ASSIGNED),
        ("open", care_a, day(15), cg1, VisitStatus.ASSIGNED),
        ("c16", comp_a, day(16), cg2, VisitStatus.ASSIGNED),
        ("c17", comp_a, day(17), cg2, VisitStatus.ASSIGNED),
        ("sep30", care_a, dt.date(2026, 9, 30), cg1, VisitStatus.ASSIGNED),
        ("nov3", care_a, dt.date(2026, 11, 3), cg1, VisitStatus.ASSIGNED),
        ("b6", care_b, day(6), cg_b, VisitStatus.ASSIGNED),
    ]
    visits: dict[str, Visit] = {}
    for key, item, when, cg, status in plan:
        visits[key] = _visit(session, item, when, status)
        if cg is not None:
            _assign(session, visits[key], cg, when)
    session.commit()

    u = users
    serve(session, u["cg1"], visits["v6"], "09:10")
    serve(session, u["cg2"], visits["v7"], "10:20")
    decide(session, u["dispatcher"], serve(session, u["cg1"], visits["v8"], "11:00"), True)
    serve(session, u["cg1"], visits["exception"], "09:10", TWO_KM_NORTH)
    rejected = serve(session, u["cg1"], visits["rejected"], "09:10", TWO_KM_NORTH)
    decide(session, u["dispatcher"], rejected, False)
    serve(session, u["cg2"], visits["c16"], "09:05", code="COMP")
    serve(session, u["cg2"], visits["c17"], "09:05", code="COMP")
    serve(session, u["cg1"], visits["sep30"], "09:10")
    serve(session, u["cg1"], visits["nov3"], "09:10")
    serve(session, u["cg_b"], visits["b6"], "09:30")

    publish(session, a, day(6), travel_s=9999, assigned=1)
    publish(session, a, day(6), travel_s=3600, assigned=10)
    publish(session, a, day(7), travel_s=1800, assigned=5)
    publish(session, a, dt.date(2026, 11, 3), travel_s=7200, assigned=1)
    session.commit()
    for key in ("v6", "v7", "v8", "c16", "c17", "sep30", "nov3", "b6"):
        assert visits[key].status == VisitStatus.VERIFIED, key
    return SvWorld(a, b, users, visits)
