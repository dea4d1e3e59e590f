"""Agencies and the service-item catalogue (the operator's), caregivers and volunteers
(the agency's): creation, changes, uniqueness conflicts and list filters."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.orm import Session

from app.models import Qualification
from tests.app.api.conftest import (
    Api,
    World,
    agency_body,
    caregiver_body,
    count,
    item_body,
    snapshot,
    volunteer_body,
)


@pytest.mark.parametrize(
    ("url", "body", "field"),
    [
        ("/api/v1/agencies", agency_body, "licence_no"),
        ("/api/v1/agencies", agency_body, "code"),
        ("/api/v1/service-items", item_body, "code"),
    ],
)
def test_the_operator_cannot_register_a_duplicate(
    api: Api, api_world: World, session: Session, url: str, body: object, field: str
) -> None:
    taken = {"licence_no": api_world.b.licence_no, "code": "B" if "agencies" in url else "HC01"}
    payload = body(api_world) | {field: taken[field]}  # type: ignore[operator]
    before = snapshot(session)

    response = api.post("sys_admin", url, payload)

    assert response.status_code == 409
    assert field in response.json["errors"]
    assert snapshot(session) == before


def test_the_operator_changes_an_agency(api: Api, api_world: World) -> None:
    url = f"/api/v1/agencies/{api_world.a.id}"

    response = api.patch("sys_admin", url, {"districts": ["崇川区", "开发区"], "phone": None})

    assert response.status_code == 200
    assert response.json["districts"] == ["崇川区", "开发区"]
    assert response.json["phone"] is None
    assert api.patch("agency_admin", url, {"name": "x"}).status_code == 403


def test_agency_users_see_only_their_agency(api: Api, api_world: World) -> None:
    assert api.get("caregiver", f"/api/v1/agencies/{api_world.a.id}").status_code == 200
    assert api.get("caregiver", f"/api/v1/agencies/{api_world.b.id}").status_code == 404


def test_service_items_are_read_by_everyone_and_filtered(api: Api, api_world: World) -> None:
    for who in api_world.users:
        codes = [i["code"] for i in api.get(who, "/api/v1/service-items").json["items"]]
        assert codes == ["HC01", "HC20"], who
    by_skill = api.get("volunteer", "/api/v1/service-items", skill="companionship").json
    by_text = api.get("volunteer", "/api/v1/service-items", q="沐浴").json

    assert [i["code"] for i in by_skill["items"]] == ["HC20"]
    assert [i["code"] for i in by_text["items"]] == ["HC01"]


def test_a_service_item_is_retired(api: Api, api_world: World) -> None:
    url = f"/api/v1/service-items/{api_world.item_company.id}"

    assert api.patch("sys_admin", url, {"active": False}).json["active"] is False
    active = api.get("dispatcher", "/api/v1/service-items", active="true").json["items"]
    assert [i["code"] for i in active] == ["HC01"]


# --- caregivers -------------------------------------------------------------------------


def test_a_caregiver_is_added_with_qualifications(api: Api, api_world: World) -> None:
    response = api.post("agency_admin", "/api/v1/caregivers", caregiver_body(api_world))

    assert response.status_code == 201
    body = response.json
    assert body["agency_id"] == api_world.a.id
    assert body["travel_mode"] == "ebike"
    assert body["shift_start"] == "08:00"
    assert body["break_window_end"] == "13:30"
    assert body["qualifications"] == [{"skill": "personal_care", "level": 2, "expires_on": None}]


def test_staff_numbers_are_unique_within_an_agency_only(api: Api, api_world: World) -> None:
    same_agency = caregiver_body(api_world) | {"staff_no": api_world.cg_a.staff_no}
    other_agency = caregiver_body(api_world) | {"staff_no": api_world.cg_b.staff_no}

    conflict = api.post("dispatcher", "/api/v1/caregivers", same_agency)
    created = api.post("dispatcher", "/api/v1/caregivers", other_agency)

    assert conflict.status_code == 409
    assert "staff_no" in conflict.json["errors"]
    assert created.status_code == 201


def test_qualifications_are_replaced_as_a_whole(
    api: Api, api_world: World, session: Session
) -> None:
    url = f"/api/v1/caregivers/{api_world.cg_a.id}"
    new = [{"skill": "nursing", "level": 3, "expires_on": "2030-12-31"},
           {"skill": "personal_care", "level": 4}]  # fmt: skip

    response = api.patch("dispatcher", url, {"qualifications": new, "shift_end": "16:00"})

    assert response.status_code == 200
    assert [(q["skill"], q["level"]) for q in response.json["qualifications"]] == [
        ("nursing", 3), ("personal_care", 4)
    ]  # fmt: skip
    assert response.json["shift_end"] == "16:00"
    assert count(session, Qualification) == 3  # two for cg_a, one for cg_b


def test_caregivers_filter_by_a_skill_that_has_not_expired(
    api: Api, api_world: World, session: Session
) -> None:
    expired = Qualification(
        caregiver_id=api_world.cg_a.id,
        skill="nursing",
        level=2,
        expires_on=api_world.today - dt.timedelta(days=1),
    )
    session.add(expired)
    session.commit()

    care = api.get("dispatcher", "/api/v1/caregivers", skill="personal_care").json["items"]
    nursing = api.get("dispatcher", "/api/v1/caregivers", skill="nursing").json["items"]

    assert [c["id"] for c in care] == [api_world.cg_a.id]
    assert nursing == []


def test_inactive_caregivers_are_filtered(api: Api, api_world: World) -> None:
    api.patch("dispatcher", f"/api/v1/caregivers/{api_world.cg_a.id}", {"active": False})

    active = api.get("dispatcher", "/api/v1/caregivers", active="true").json["items"]
    inactive = api.get("dispatcher", "/api/v1/caregivers", active="false").json["items"]

    assert active == []
    assert [c["id"] for c in inactive] == [api_world.cg_a.id]


# --- volunteers -------------------------------------------------------------------------


def test_a_volunteer_is_enrolled_and_changed(api: Api, api_world: World) -> None:
    created = api.post("dispatcher", "/api/v1/volunteers", volunteer_body(api_world))
    url = created.headers["Location"]

    changed = api.patch("dispatcher", url, {"availability": {"sat": [["08:00", "11:00"]]}})

    assert created.status_code == 201
    assert created.json["availability"]["thu"] == [["14:00", "17:00"]]
    assert changed.json["availability"] == {"sat": [["08:00", "11:00"]]}


def test_member_numbers_are_unique(api: Api, api_world: World, session: Session) -> None:
    body = volunteer_body(api_world) | {"member_no": api_world.vol_b.member_no}
    before = snapshot(session)

    response = api.post("dispatcher", "/api/v1/volunteers", body)

    assert response.status_code == 409
    assert "member_no" in response.json["errors"]
    assert snapshot(session) == before


def test_volunteers_are_searched_by_name(api: Api, api_world: World) -> None:
    found = api.get("auditor", "/api/v1/volunteers", q="V-B1").json["items"]

    assert [v["id"] for v in found] == [api_world.vol_b.id]
