"""Agency scoping: a user of agency A can neither read nor change agency B's rows (404, as
if they did not exist, and nothing written); lists show only what the caller may see;
caregivers and volunteers see only the persons and visits of their own visits."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.orm import Session

from tests.app.api.conftest import Api, World, snapshot

P = pytest.param
Make = Callable[[World], Any]

# Every endpoint with an id in its URL, aimed at a row of agency B, as a user of agency A.
FOREIGN = [
    P("GET", lambda w: f"/api/v1/agencies/{w.b.id}", None, id="agency-get"),
    P("GET", lambda w: f"/api/v1/persons/{w.b1.id}", None, id="person-get"),
    P("PATCH", lambda w: f"/api/v1/persons/{w.b1.id}", {"name": "改名"}, id="person-patch"),
    P("GET", lambda w: f"/api/v1/persons/{w.b1.id}/assessments", None, id="assessments-list"),
    P("GET", lambda w: f"/api/v1/assessments/{w.b1.assessments[0].id}", None,
      id="assessment-get"),
    P("GET", lambda w: f"/api/v1/caregivers/{w.cg_b.id}", None, id="caregiver-get"),
    P("PATCH", lambda w: f"/api/v1/caregivers/{w.cg_b.id}", {"name": "改名"},
      id="caregiver-patch"),
    P("GET", lambda w: f"/api/v1/volunteers/{w.vol_b.id}", None, id="volunteer-get"),
    P("PATCH", lambda w: f"/api/v1/volunteers/{w.vol_b.id}", {"name": "改名"},
      id="volunteer-patch"),
    P("GET", lambda w: f"/api/v1/plans/{w.plan_b.id}", None, id="plan-get"),
    P("PATCH", lambda w: f"/api/v1/plans/{w.plan_b.id}", {"notes": "x"}, id="plan-patch"),
    P("GET", lambda w: f"/api/v1/visits/{w.visit_b.id}", None, id="visit-get"),
    P("PATCH", lambda w: f"/api/v1/visits/{w.visit_b.id}", {"priority": 1}, id="visit-patch"),
    P("POST", lambda w: f"/api/v1/visits/{w.visit_b.id}/cancel", {"reason": "x"},
      id="visit-cancel"),
]  # fmt: skip


@pytest.mark.parametrize("who", ["dispatcher", "agency_admin"])
@pytest.mark.parametrize(("method", "url", "body"), FOREIGN)
def test_another_agencys_row_is_not_found_and_not_changed(
    api: Api,
    api_world: World,
    session: Session,
    who: str,
    method: str,
    url: Make,
    body: Any,
) -> None:
    target = url(api_world)
    before = snapshot(session)

    response = api.call(who, method, target, json=body)

    assert response.status_code == 404, response.json
    assert response.json["code"] == "not_found"
    assert snapshot(session) == before


# Bodies that point at agency B's rows from inside a request of agency A.
FOREIGN_IN_BODY = [
    P("/api/v1/plans", lambda w: {
        "person_id": w.b1.id, "valid_from": w.today.isoformat(),
        "valid_to": w.today.isoformat(),
        "items": [{"service_item_id": w.item_care.id, "times_per_week": 1,
                   "windows": [["08:00", "09:00"]]}],
    }, "person_id", id="plan-for-foreign-person"),
    P("/api/v1/plans", lambda w: {
        "person_id": w.a2.id, "valid_from": w.today.isoformat(),
        "valid_to": w.today.isoformat(),
        "items": [{"service_item_id": w.item_care.id, "times_per_week": 1,
                   "windows": [["08:00", "09:00"]], "preferred_caregiver_id": w.cg_b.id}],
    }, "items[0].preferred_caregiver_id", id="plan-with-foreign-caregiver"),
    P("/api/v1/visits", lambda w: {
        "plan_item_id": w.plan_b.items[0].id, "date": w.today.isoformat(),
    }, "plan_item_id", id="visit-of-foreign-plan-item"),
]  # fmt: skip


@pytest.mark.parametrize(("url", "body", "field"), FOREIGN_IN_BODY)
def test_a_foreign_id_inside_a_body_is_an_unknown_id(
    api: Api, api_world: World, session: Session, url: str, body: Make, field: str
) -> None:
    payload = body(api_world)
    before = snapshot(session)

    response = api.post("dispatcher", url, payload)

    assert response.status_code == 400
    assert field in response.json["errors"]
    assert snapshot(session) == before


LISTS = [
    P("/api/v1/agencies", lambda w: {w.a.id}, lambda w: {w.a.id, w.b.id}, id="agencies"),
    P("/api/v1/persons", lambda w: {w.a1.id, w.a2.id}, lambda w: {w.a1.id, w.a2.id, w.b1.id},
      id="persons"),
    P("/api/v1/caregivers", lambda w: {w.cg_a.id}, lambda w: {w.cg_a.id, w.cg_b.id},
      id="caregivers"),
    P("/api/v1/volunteers", lambda w: {w.vol_a.id}, lambda w: {w.vol_a.id, w.vol_b.id},
      id="volunteers"),
    P("/api/v1/plans", lambda w: {w.plan_a.id, w.draft_a.id},
      lambda w: {w.plan_a.id, w.draft_a.id, w.plan_b.id}, id="plans"),
    P("/api/v1/visits", lambda w: {w.visit_a.id}, lambda w: {w.visit_a.id, w.visit_b.id},
      id="visits"),
]  # fmt: skip


@pytest.mark.parametrize(("url", "own", "everything"), LISTS)
def test_lists_hold_the_own_agency_for_agency_roles_and_all_for_the_insurer(
    api: Api, api_world: World, url: str, own: Make, everything: Make
) -> None:
    for who, expected in (
        ("dispatcher", own(api_world)),
        ("agency_admin", own(api_world)),
        ("auditor", everything(api_world)),
        ("sys_admin", everything(api_world)),
    ):
        response = api.get(who, url)
        assert response.status_code == 200
        assert {row["id"] for row in response.json["items"]} == expected, who


def test_an_agency_filter_cannot_widen_an_agency_users_view(api: Api, api_world: World) -> None:
    response = api.get("dispatcher", "/api/v1/persons", agency_id=api_world.b.id)

    assert response.status_code == 200
    assert response.json["items"] == []


def test_the_insurer_reads_another_agencys_rows(api: Api, api_world: World) -> None:
    for who in ("auditor", "sys_admin"):
        assert api.get(who, f"/api/v1/persons/{api_world.b1.id}").status_code == 200
        assert api.get(who, f"/api/v1/plans/{api_world.plan_b.id}").status_code == 200
        assert api.get(who, f"/api/v1/visits/{api_world.visit_b.id}").status_code == 200
        narrowed = api.get(who, "/api/v1/persons", agency_id=api_world.b.id)
        assert [p["id"] for p in narrowed.json["items"]] == [api_world.b1.id]


@pytest.mark.parametrize("who", ["caregiver", "volunteer"])
def test_caregivers_and_volunteers_see_only_the_people_and_visits_of_their_visits(
    api: Api, api_world: World, who: str
) -> None:
    w = api_world
    persons = api.get(who, "/api/v1/persons").json["items"]
    visits = api.get(who, "/api/v1/visits").json["items"]

    assert [p["id"] for p in persons] == [w.a1.id]
    assert [v["id"] for v in visits] == [w.visit_a.id]
    assert api.get(who, f"/api/v1/persons/{w.a1.id}").status_code == 200
    # Same agency, but not on their visits: hidden just like another agency's person.
    assert api.get(who, f"/api/v1/persons/{w.a2.id}").status_code == 404
    assert api.get(who, f"/api/v1/persons/{w.b1.id}").status_code == 404
    assert api.get(who, f"/api/v1/visits/{w.visit_b.id}").status_code == 404


def test_an_unknown_agency_filter_is_named(api: Api) -> None:
    response = api.get("auditor", "/api/v1/visits", agency_id=999999)

    assert response.status_code == 400
    assert "agency_id" in response.json["errors"]
