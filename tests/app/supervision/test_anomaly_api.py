"""/api/v1/supervision/anomalies and the /supervision/anomalies page: who sees which
agency's findings, the filters, validation of month/agency_id/rule, 404 for another
agency, paging, and ``count_by_agency`` for the supervision dashboard.

Findings come from verification records written here by hand: in agency A1 a check-in a
kilometre from the home and a visit far too short; in agency B2 one far too long.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from app.models import (
    Caregiver,
    CarePlan,
    EvvAction,
    PlanItem,
    PlanStatus,
    Qualification,
    Role,
    User,
    Visit,
    VisitStatus,
    VisitVerification,
)
from app.services import anomalies
from app.services.errors import Forbidden, NotFound
from tests.app.conftest import World, add_person, add_visit
from tests.conftest import login, make_user

TZ = ZoneInfo("Asia/Shanghai")
URL = "/api/v1/supervision/anomalies"
PAGE = "/supervision/anomalies"


@dataclass
class AnomalyWorld:
    w: World
    month: dt.date
    far: Visit  # A1: checked in 1 km away
    short: Visit  # A1: 10 of 45 minutes
    long: Visit  # B2: 3 hours of 45 minutes
    short_record: VisitVerification
    other_admin: User

    @property
    def month_arg(self) -> str:
        return self.month.strftime("%Y-%m")


def _part(
    session: Session,
    visit: Visit,
    caregiver: Caregiver,
    user: User,
    *,
    start: str,
    minutes: int,
    north_m: float = 5.0,
) -> VisitVerification:
    """A worker's check-in and check-out of ``visit`` and its verified record."""
    person = visit.person
    begin = dt.datetime.combine(visit.date, dt.time.fromisoformat(start), tzinfo=TZ)
    end = begin + dt.timedelta(minutes=minutes)
    actions = []
    for kind, at, north in (("check_in", begin, north_m), ("check_out", end, 4.0)):
        action = EvvAction(
            id=str(uuid.uuid4()),
            visit_id=visit.id,
            user_id=user.id,
            caregiver_id=caregiver.id,
            kind=kind,
            occurred_at=at,
            received_at=at,
            lat=person.lat + north / 111_195,
            lon=person.lon,
            accuracy_m=12.0,
            items_done=["BC01"] if kind == "check_out" else [],
            confirmation={"method": "pin", "by": "person", "ok": True},
            state="applied",
        )
        session.add(action)
        actions.append(action)
    session.flush()
    record = VisitVerification(
        visit_id=visit.id,
        agency_id=visit.agency_id,
        kind="evaluation",
        outcome="verified",
        reasons=[],
        caregiver_id=caregiver.id,
        person_id=visit.person_id,
        items_planned=["BC01"],
        items_done=["BC01"],
        check_in_action_id=actions[0].id,
        check_out_action_id=actions[1].id,
        check_in_at=begin,
        check_out_at=end,
        duration_s=minutes * 60,
        confirmation=actions[1].confirmation,
        rules={},
    )
    session.add(record)
    session.flush()
    return record


@pytest.fixture
def aw(world: World, session: Session) -> AnomalyWorld:
    month = (world.today.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    day = month + dt.timedelta(days=9)
    session.add(Qualification(caregiver_id=world.caregiver.id, skill="personal_care", level=3))
    far = add_visit(session, world.item, day, VisitStatus.VERIFIED, seq=10)
    short = add_visit(session, world.item, day + dt.timedelta(days=1), VisitStatus.VERIFIED)
    cg_user = world.users[Role.CAREGIVER]
    _part(session, far, world.caregiver, cg_user, start="09:00", minutes=45, north_m=1000)
    short_record = _part(session, short, world.caregiver, cg_user, start="09:00", minutes=10)

    other = world.other_agency
    caregiver = Caregiver(
        agency_id=other.id, staff_no="B001", name="陆军", gender="m", home_lat=32.0, home_lon=120.9
    )
    session.add(caregiver)
    session.flush()
    session.add(Qualification(caregiver_id=caregiver.id, skill="personal_care", level=2))
    person = add_person(session, other, "顾桂兰", "320602194505050026")
    plan = CarePlan(
        person_id=person.id,
        agency_id=other.id,
        valid_from=month,
        valid_to=month + dt.timedelta(days=200),
        status=PlanStatus.APPROVED,
    )
    session.add(plan)
    session.flush()
    item = PlanItem(
        plan_id=plan.id,
        service_item_id=world.item.service_item_id,
        times_per_week=2,
        windows=[["09:00", "11:00"]],
    )
    session.add(item)
    session.flush()
    long = add_visit(session, item, day, VisitStatus.VERIFIED)
    other_user = make_user(session, Role.CAREGIVER, other, "cg-b2", caregiver_id=caregiver.id)
    _part(session, long, caregiver, other_user, start="09:00", minutes=180)
    other_admin = make_user(session, Role.AGENCY_ADMIN, other, "admin-b2")
    session.commit()
    return AnomalyWorld(world, month, far, short, long, short_record, other_admin)


def _get(client: FlaskClient, session: Session, u: User, url: str, **args: Any) -> Any:
    login(client, session, u)
    return client.get(url, query_string=args)


def _rules(body: dict[str, Any]) -> list[tuple[str, list[int]]]:
    return [(item["rule"], item["visit_ids"]) for item in body["items"]]


# --- the API ------------------------------------------------------------------------------


def test_an_agency_admin_sees_their_agency_only(
    client: FlaskClient, session: Session, aw: AnomalyWorld
) -> None:
    admin = aw.w.users[Role.AGENCY_ADMIN]
    response = _get(client, session, admin, URL, month=aw.month_arg)
    assert response.status_code == 200
    body = response.json
    assert _rules(body) == [("outside_geofence", [aw.far.id]), ("too_short", [aw.short.id])]
    assert body["total"] == 2
    far = body["items"][0]
    assert far["agency_id"] == aw.w.agency.id
    assert far["subject"] == {"kind": "caregiver", "id": aw.w.caregiver.id, "name": "王芳"}
    assert far["related"] == [{"kind": "person", "id": aw.w.person.id, "name": "张秀英"}]
    assert far["severity"] == "high"
    assert far["numbers"]["check_in_m"] == 1000
    assert "1000" in far["explanation"]
    assert far["rule_label"]
    assert far["day"] == aw.far.date.isoformat()


def test_another_agency_or_an_unknown_one_is_not_found(
    client: FlaskClient, session: Session, aw: AnomalyWorld
) -> None:
    admin = aw.w.users[Role.AGENCY_ADMIN]
    foreign = _get(client, session, admin, URL, month=aw.month_arg, agency_id=aw.w.other_agency.id)
    assert foreign.status_code == 404
    assert foreign.json["code"] == "not_found"
    assert "agency_id" in foreign.json["errors"]
    own = _get(client, session, admin, URL, month=aw.month_arg, agency_id=aw.w.agency.id)
    assert own.status_code == 200
    assert own.json["total"] == 2
    auditor = aw.w.users[Role.AUDITOR]
    unknown = _get(client, session, auditor, URL, month=aw.month_arg, agency_id=999_999)
    assert unknown.status_code == 404


def test_auditors_see_every_agency_or_the_one_they_name(
    client: FlaskClient, session: Session, aw: AnomalyWorld
) -> None:
    for role in (Role.AUDITOR, Role.SYS_ADMIN):
        u = aw.w.users[role]
        every = _get(client, session, u, URL, month=aw.month_arg)
        assert every.status_code == 200
        assert sorted(_rules(every.json)) == sorted(
            [
                ("outside_geofence", [aw.far.id]),
                ("too_short", [aw.short.id]),
                ("too_long", [aw.long.id]),
            ]
        )
        one = _get(client, session, u, URL, month=aw.month_arg, agency_id=aw.w.other_agency.id)
        assert _rules(one.json) == [("too_long", [aw.long.id])]
        assert one.json["items"][0]["numbers"] == {
            "duration_min": 180,
            "planned_min": 45,
            "pct": 400,
        }


def test_the_rule_filter_and_paging(
    client: FlaskClient, session: Session, aw: AnomalyWorld
) -> None:
    auditor = aw.w.users[Role.AUDITOR]
    short = _get(client, session, auditor, URL, month=aw.month_arg, rule="too_short")
    assert _rules(short.json) == [("too_short", [aw.short.id])]
    paged = _get(client, session, auditor, URL, month=aw.month_arg, per_page=2, page=2)
    assert (paged.json["total"], paged.json["pages"], len(paged.json["items"])) == (3, 2, 1)


def test_without_a_month_the_previous_calendar_month_is_read(
    client: FlaskClient, session: Session, aw: AnomalyWorld
) -> None:
    response = _get(client, session, aw.w.users[Role.AGENCY_ADMIN], URL)
    assert response.status_code == 200
    assert response.json["total"] == 2
    other_month = (aw.month - dt.timedelta(days=1)).strftime("%Y-%m")
    assert (
        _get(client, session, aw.w.users[Role.AGENCY_ADMIN], URL, month=other_month).json["total"]
        == 0
    )


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ({"month": "2026-13"}, "month"),
        ({"month": "2026-1"}, "month"),
        ({"month": "October"}, "month"),
        ({"month": "2026-10-01"}, "month"),
        ({"agency_id": "x"}, "agency_id"),
        ({"agency_id": "0"}, "agency_id"),
        ({"rule": "nope"}, "rule"),
        ({"page": "0"}, "page"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_parameters_answer_400_naming_the_field(
    client: FlaskClient, session: Session, aw: AnomalyWorld, args: dict[str, str], field: str
) -> None:
    response = _get(client, session, aw.w.users[Role.AUDITOR], URL, **args)
    assert response.status_code == 400
    assert response.json["code"] == "validation_error"
    assert field in response.json["errors"]


@pytest.mark.parametrize("role", [Role.DISPATCHER, Role.CAREGIVER, Role.VOLUNTEER])
def test_other_roles_are_refused(
    client: FlaskClient, session: Session, aw: AnomalyWorld, role: Role
) -> None:
    assert _get(client, session, aw.w.users[role], URL).status_code == 403


def test_anonymous_is_asked_to_log_in(client: FlaskClient, aw: AnomalyWorld) -> None:
    assert client.get(URL).status_code == 401


def test_decided_and_superseded_records_are_not_judged_again(
    client: FlaskClient, session: Session, aw: AnomalyWorld
) -> None:
    record = aw.short_record
    session.add(
        VisitVerification(
            **{name: getattr(record, name) for name in _COPIED},
            supersedes_id=record.id,
            kind="rejection",
            outcome="rejected",
            decided_by_id=aw.w.users[Role.DISPATCHER].id,
            decision_reason="not done",
        )
    )
    session.commit()
    response = _get(client, session, aw.w.users[Role.AGENCY_ADMIN], URL, month=aw.month_arg)
    assert _rules(response.json) == [("outside_geofence", [aw.far.id])]


_COPIED = (
    "visit_id",
    "agency_id",
    "reasons",
    "caregiver_id",
    "volunteer_id",
    "person_id",
    "items_planned",
    "items_done",
    "check_in_action_id",
    "check_out_action_id",
    "check_in_at",
    "check_out_at",
    "duration_s",
    "confirmation",
    "rules",
)


# --- count_by_agency (the supervision dashboard's figure) ---------------------------------


def test_count_by_agency_follows_the_scope(session: Session, aw: AnomalyWorld) -> None:
    a1, b2 = aw.w.agency.id, aw.w.other_agency.id
    auditor = aw.w.users[Role.AUDITOR]
    assert anomalies.count_by_agency(session, auditor, aw.month) == {a1: 2, b2: 1}
    assert anomalies.count_by_agency(session, aw.w.users[Role.AGENCY_ADMIN], aw.month) == {a1: 2}
    assert anomalies.count_by_agency(session, aw.other_admin, aw.month) == {b2: 1}
    later = aw.month + dt.timedelta(days=40)
    assert anomalies.count_by_agency(session, auditor, later) == {a1: 0, b2: 0}
    with pytest.raises(Forbidden):
        anomalies.count_by_agency(session, aw.w.users[Role.DISPATCHER], aw.month)
    with pytest.raises(NotFound):
        anomalies.findings(session, aw.other_admin, aw.month, agency_id=a1)


# --- the page -----------------------------------------------------------------------------


def test_the_page_groups_findings_by_rule_with_their_visits(
    client: FlaskClient, session: Session, aw: AnomalyWorld, app: Flask
) -> None:
    response = _get(client, session, aw.w.users[Role.AGENCY_ADMIN], PAGE, month=aw.month_arg)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'data-rule="outside_geofence"' in html
    assert 'data-rule="too_short"' in html
    assert 'data-rule="too_long"' not in html
    assert f"v-{aw.far.id}" in html
    assert f"/api/v1/evv/visits/{aw.far.id}" in html
    assert "王芳" in html
    assert 'name="agency_id"' not in html  # agency staff have nothing to pick


def test_auditors_pick_the_agency_and_rule_on_the_page(
    client: FlaskClient, session: Session, aw: AnomalyWorld
) -> None:
    auditor = aw.w.users[Role.AUDITOR]
    every = _get(client, session, auditor, PAGE, month=aw.month_arg).get_data(as_text=True)
    assert 'name="agency_id"' in every
    assert all(f'data-rule="{code}"' in every for code in ("outside_geofence", "too_long"))
    one = _get(
        client, session, auditor, PAGE, month=aw.month_arg, agency_id=aw.w.other_agency.id
    ).get_data(as_text=True)
    assert 'data-rule="too_long"' in one
    assert 'data-rule="too_short"' not in one
    filtered = _get(client, session, auditor, PAGE, month=aw.month_arg, rule="too_short")
    assert 'data-rule="outside_geofence"' not in filtered.get_data(as_text=True)


def test_the_page_shows_what_it_could_not_use(
    client: FlaskClient, session: Session, aw: AnomalyWorld
) -> None:
    auditor = aw.w.users[Role.AUDITOR]
    response = _get(client, session, auditor, PAGE, month="2026-99", agency_id="x", rule="nope")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert html.count('role="alert"') == 1
    assert all(f"<code>{field}</code>" in html for field in ("month", "agency_id", "rule"))
    empty = _get(client, session, auditor, PAGE, month="2019-01").get_data(as_text=True)
    assert 'id="anomalies-empty"' in empty


@pytest.mark.parametrize(
    ("confirmation", "confirmed"),
    [
        ({"method": "pin", "by": "person", "ok": True}, True),
        ({"method": "pin", "by": "family", "ok": False, "reason": "wrong_pin"}, False),
        ({"method": "signature", "by": "family"}, True),  # stored before PINs were checked
        ({}, False),
        (None, False),
    ],
)
def test_only_a_confirmation_that_succeeded_counts(confirmation: Any, confirmed: bool) -> None:
    assert anomalies._confirmed(confirmation) is confirmed
