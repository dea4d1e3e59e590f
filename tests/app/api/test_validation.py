"""Every create and update endpoint refuses bad input with 400 (404 for an unknown id in the
URL), names the field at fault, and writes nothing: the whole database is compared before
and after each refused request."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.orm import Session

from tests.app.api.conftest import (
    Api,
    World,
    agency_body,
    assessment_body,
    caregiver_body,
    item_body,
    person_body,
    plan_body,
    snapshot,
    visit_body,
    volunteer_body,
)

Body = Callable[[World], Any]
Url = Callable[[World], str]


def changed(make: Body, path: str, value: Any) -> Body:
    """``make``'s body with the value at ``path`` ("items.0.windows") replaced."""
    return lambda w: _set(make(w), path, value)


def dropped(make: Body, path: str) -> Body:
    return lambda w: _set(make(w), path, _DROP)


_DROP = object()


def _set(body: Any, path: str, value: Any) -> Any:
    body = copy.deepcopy(body)
    *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
    target = body
    for key in parents:
        target = target[key]
    if value is _DROP:
        del target[last]
    else:
        target[last] = value
    return body


def fixed(body: Any) -> Body:
    return lambda w: body


def persons(w: World) -> str:
    return "/api/v1/persons"


def person_a1(w: World) -> str:
    return f"/api/v1/persons/{w.a1.id}"


def plans(w: World) -> str:
    return "/api/v1/plans"


def draft_a(w: World) -> str:
    return f"/api/v1/plans/{w.draft_a.id}"


def caregivers(w: World) -> str:
    return "/api/v1/caregivers"


def volunteers(w: World) -> str:
    return "/api/v1/volunteers"


def visits(w: World) -> str:
    return "/api/v1/visits"


def visit_a(w: World) -> str:
    return f"/api/v1/visits/{w.visit_a.id}"


P = pytest.param

CASES = [
    # --- agencies (operator) ---
    P("sys_admin", "POST", fixed("/api/v1/agencies"), dropped(agency_body, "licence_no"),
      400, "licence_no", id="agency-missing-licence"),
    P("sys_admin", "POST", fixed("/api/v1/agencies"), changed(agency_body, "code", 7),
      400, "code", id="agency-code-type"),
    P("sys_admin", "POST", fixed("/api/v1/agencies"), changed(agency_body, "districts", "崇川区"),
      400, "districts", id="agency-districts-type"),
    P("sys_admin", "POST", fixed("/api/v1/agencies"), changed(agency_body, "owner", "x"),
      400, "owner", id="agency-unknown-field"),
    P("sys_admin", "PATCH", lambda w: f"/api/v1/agencies/{w.a.id}", fixed({"name": None}),
      400, "name", id="agency-null-name"),
    P("sys_admin", "PATCH", fixed("/api/v1/agencies/999999"), fixed({"name": "X"}),
      404, None, id="agency-unknown-url-id"),
    # --- persons ---
    P("dispatcher", "POST", persons, dropped(lambda w: person_body(), "lat"),
      400, "lat", id="person-missing-lat"),
    P("dispatcher", "POST", persons, changed(lambda w: person_body(), "lat", 90.5),
      400, "lat", id="person-lat-range"),
    P("dispatcher", "POST", persons, changed(lambda w: person_body(), "lon", -180.1),
      400, "lon", id="person-lon-range"),
    P("dispatcher", "POST", persons, changed(lambda w: person_body(), "lat", "32.0"),
      400, "lat", id="person-lat-string"),
    P("dispatcher", "POST", persons, changed(lambda w: person_body(), "gender", "x"),
      400, "gender", id="person-gender-enum"),
    P("dispatcher", "POST", persons, changed(lambda w: person_body(), "birth_date", "1940-02-30"),
      400, "birth_date", id="person-birth-date"),
    P("dispatcher", "POST", persons,
      changed(lambda w: person_body(), "id_number", person_body()["id_number"][:17] + "0"),
      400, "id_number", id="person-id-check-digit"),
    P("dispatcher", "POST", persons, changed(lambda w: person_body(), "id_number", "12345"),
      400, "id_number", id="person-id-format"),
    P("dispatcher", "POST", persons, changed(lambda w: person_body(), "birth_date", "1941-05-17"),
      400, "id_number", id="person-id-birth-mismatch"),
    P("dispatcher", "POST", persons, changed(lambda w: person_body(), "consent_given_at",
                                             "2024-01-01T10:00:00"),
      400, "consent_given_at", id="person-naive-datetime"),
    P("dispatcher", "POST", persons, changed(lambda w: person_body(), "name", ""),
      400, "name", id="person-empty-name"),
    P("dispatcher", "PATCH", person_a1, fixed({"lat": 100}), 400, "lat", id="person-patch-lat"),
    P("dispatcher", "PATCH", person_a1, fixed({"status": "zombie"}),
      400, "status", id="person-patch-status"),
    P("dispatcher", "PATCH", person_a1, fixed({"name": None}), 400, "name",
      id="person-patch-null"),
    P("dispatcher", "PATCH", person_a1, fixed({"birth_date": "1950-01-01"}),
      400, "birth_date", id="person-patch-birth-mismatch"),
    P("dispatcher", "PATCH", fixed("/api/v1/persons/999999"), fixed({"name": "X"}),
      404, None, id="person-unknown-url-id"),
    # --- assessments (insurer) ---
    P("auditor", "POST", lambda w: f"/api/v1/persons/{w.a1.id}/assessments",
      changed(assessment_body, "adl_scores", [0] * 9), 400, "adl_scores", id="assess-count"),
    P("auditor", "POST", lambda w: f"/api/v1/persons/{w.a1.id}/assessments",
      changed(assessment_body, "adl_scores.3", 7), 400, "adl_scores[3]", id="assess-score"),
    P("auditor", "POST", lambda w: f"/api/v1/persons/{w.a1.id}/assessments",
      changed(assessment_body, "cognition_scores.1", "2"), 400, "cognition_scores[1]",
      id="assess-score-type"),
    P("auditor", "POST", lambda w: f"/api/v1/persons/{w.a1.id}/assessments",
      dropped(assessment_body, "assessed_at"), 400, "assessed_at", id="assess-missing-date"),
    P("auditor", "POST", lambda w: f"/api/v1/persons/{w.a1.id}/assessments",
      changed(assessment_body, "valid_until", "2000-01-01"), 400, "valid_until",
      id="assess-validity-order"),
    P("auditor", "POST", fixed("/api/v1/persons/999999/assessments"), assessment_body,
      404, None, id="assess-unknown-person"),
    # --- service items (operator) ---
    P("sys_admin", "POST", fixed("/api/v1/service-items"), changed(item_body, "standard_min", 0),
      400, "standard_min", id="item-duration-range"),
    P("sys_admin", "POST", fixed("/api/v1/service-items"), changed(item_body, "price_fen", -1),
      400, "price_fen", id="item-price-range"),
    P("sys_admin", "POST", fixed("/api/v1/service-items"), changed(item_body, "price_fen", 25.5),
      400, "price_fen", id="item-price-float"),
    P("sys_admin", "POST", fixed("/api/v1/service-items"), changed(item_body, "category", "spa"),
      400, "category", id="item-category-enum"),
    P("sys_admin", "POST", fixed("/api/v1/service-items"), dropped(item_body, "code"),
      400, "code", id="item-missing-code"),
    P("sys_admin", "PATCH", lambda w: f"/api/v1/service-items/{w.item_care.id}",
      fixed({"price_fen": "100"}), 400, "price_fen", id="item-patch-type"),
    # --- caregivers ---
    P("dispatcher", "POST", caregivers, changed(caregiver_body, "home_lat", 95),
      400, "home_lat", id="caregiver-lat-range"),
    P("dispatcher", "POST", caregivers, changed(caregiver_body, "shift_start", "25:00"),
      400, "shift_start", id="caregiver-time-format"),
    P("dispatcher", "POST", caregivers, changed(caregiver_body, "shift_end", "07:30"),
      400, "shift_end", id="caregiver-shift-order"),
    P("dispatcher", "POST", caregivers, dropped(caregiver_body, "break_window_end"),
      400, "break_window_end", id="caregiver-break-half"),
    P("dispatcher", "POST", caregivers, changed(caregiver_body, "break_min", 150),
      400, "break_min", id="caregiver-break-fit"),
    P("dispatcher", "POST", caregivers, changed(caregiver_body, "qualifications.0.level", 6),
      400, "qualifications[0].level", id="caregiver-level-range"),
    P("dispatcher", "POST", caregivers, changed(caregiver_body, "qualifications.0.skill", "magic"),
      400, "qualifications[0].skill", id="caregiver-skill-enum"),
    P("dispatcher", "POST", caregivers,
      changed(caregiver_body, "qualifications", [{"skill": "rehab"}, {"skill": "rehab"}]),
      400, "qualifications", id="caregiver-skill-twice"),
    P("dispatcher", "PATCH", lambda w: f"/api/v1/caregivers/{w.cg_a.id}",
      fixed({"shift_end": "07:00"}), 400, "shift_end", id="caregiver-patch-shift"),
    P("dispatcher", "PATCH", lambda w: f"/api/v1/caregivers/{w.cg_a.id}",
      fixed({"max_visits": 0}), 400, "max_visits", id="caregiver-patch-range"),
    # --- volunteers ---
    P("dispatcher", "POST", volunteers, changed(volunteer_body, "availability.mon.0",
                                                ["12:00", "09:00"]),
      400, "availability.mon[0]", id="volunteer-window-order"),
    P("dispatcher", "POST", volunteers,
      changed(volunteer_body, "availability", {"someday": [["09:00", "10:00"]]}),
      400, "availability", id="volunteer-weekday-key"),
    P("dispatcher", "POST", volunteers, changed(volunteer_body, "home_lon", 200),
      400, "home_lon", id="volunteer-lon-range"),
    P("dispatcher", "PATCH", lambda w: f"/api/v1/volunteers/{w.vol_a.id}",
      fixed({"member_no": None}), 400, "member_no", id="volunteer-patch-null"),
    # --- plans ---
    P("dispatcher", "POST", plans, dropped(plan_body, "items"), 400, "items",
      id="plan-missing-items"),
    P("dispatcher", "POST", plans, changed(plan_body, "items", []), 400, "items",
      id="plan-no-items"),
    P("dispatcher", "POST", plans, changed(plan_body, "items.0.windows.1", ["16:00", "14:00"]),
      400, "items[0].windows[1]", id="plan-window-order"),
    P("dispatcher", "POST", plans, changed(plan_body, "items.0.windows.0", ["8:00", "10:00"]),
      400, "items[0].windows[0][0]", id="plan-window-format"),
    P("dispatcher", "POST", plans, changed(plan_body, "items.0.windows.1", ["09:00", "11:00"]),
      400, "items[0].windows", id="plan-window-overlap"),
    P("dispatcher", "POST", plans, changed(plan_body, "items.0.weekdays", [1, 4]),
      400, "items[0].weekdays", id="plan-two-frequencies"),
    P("dispatcher", "POST", plans, dropped(plan_body, "items.0.times_per_week"),
      400, "items[0].weekdays", id="plan-no-frequency"),
    P("dispatcher", "POST", plans, changed(plan_body, "items.0.times_per_week", 8),
      400, "items[0].times_per_week", id="plan-frequency-range"),
    P("dispatcher", "POST", plans, changed(plan_body, "items.0.priority", 4),
      400, "items[0].priority", id="plan-priority-range"),
    P("dispatcher", "POST", plans, changed(plan_body, "items.0.service_item_id", 999999),
      400, "items[0].service_item_id", id="plan-unknown-service-item"),
    P("dispatcher", "POST", plans, changed(plan_body, "items.0.preferred_caregiver_id", 999999),
      400, "items[0].preferred_caregiver_id", id="plan-unknown-caregiver"),
    P("dispatcher", "POST", plans, changed(plan_body, "person_id", 999999),
      400, "person_id", id="plan-unknown-person"),
    P("dispatcher", "POST", plans, changed(plan_body, "valid_to", "2000-01-01"),
      400, "valid_to", id="plan-validity-order"),
    P("dispatcher", "PATCH", draft_a, fixed({"valid_to": "2000-01-01"}),
      400, "valid_to", id="plan-patch-validity"),
    P("dispatcher", "PATCH", draft_a,
      lambda w: {"items": [plan_body(w)["items"][0] | {"service_item_id": 999999}]},
      400, "items[0].service_item_id", id="plan-patch-unknown-item"),
    P("dispatcher", "PATCH", fixed("/api/v1/plans/999999"), fixed({"notes": "x"}),
      404, None, id="plan-unknown-url-id"),
    # --- visits ---
    P("dispatcher", "POST", visits, changed(visit_body, "plan_item_id", 999999),
      400, "plan_item_id", id="visit-unknown-plan-item"),
    P("dispatcher", "POST", visits, changed(visit_body, "date", "2000-01-01"),
      400, "date", id="visit-date-past"),
    P("dispatcher", "POST", visits, changed(visit_body, "duration_min", 0),
      400, "duration_min", id="visit-duration-range"),
    P("dispatcher", "POST", visits, changed(visit_body, "priority", 0),
      400, "priority", id="visit-priority-range"),
    P("dispatcher", "POST", visits, changed(visit_body, "windows", [["10:00", "10:00"]]),
      400, "windows[0]", id="visit-empty-window"),
    P("dispatcher", "PATCH", visit_a, fixed({"duration_min": 601}), 400, "duration_min",
      id="visit-patch-duration"),
    P("dispatcher", "PATCH", visit_a, fixed({"priority": None}), 400, "priority",
      id="visit-patch-null"),
    P("dispatcher", "PATCH", visit_a, fixed({"windows": "08:00-10:00"}), 400, "windows",
      id="visit-patch-windows-type"),
    P("dispatcher", "PATCH", fixed("/api/v1/visits/999999"), fixed({"priority": 1}),
      404, None, id="visit-unknown-url-id"),
    P("dispatcher", "POST", lambda w: f"/api/v1/visits/{w.visit_a.id}/cancel", fixed({}),
      400, "reason", id="visit-cancel-no-reason"),
    P("dispatcher", "POST", lambda w: f"/api/v1/visits/{w.visit_a.id}/cancel",
      fixed({"reason": ""}), 400, "reason", id="visit-cancel-empty-reason"),
]  # fmt: skip


@pytest.mark.parametrize(("who", "method", "url", "body", "status", "field"), CASES)
def test_bad_input_is_refused_naming_the_field_and_nothing_is_written(
    api: Api,
    api_world: World,
    session: Session,
    who: str,
    method: str,
    url: Url,
    body: Body,
    status: int,
    field: str | None,
) -> None:
    target, payload = url(api_world), body(api_world)
    before = snapshot(session)

    response = api.call(who, method, target, json=payload)

    assert response.status_code == status, response.json
    error = response.json
    assert set(error) == {"code", "message", "errors"}
    assert error["code"] == ("validation_error" if status == 400 else "not_found")
    if field is not None:
        assert field in error["errors"], error["errors"]
    assert snapshot(session) == before


VALID = [
    P("sys_admin", fixed("/api/v1/agencies"), agency_body, id="agency"),
    P("dispatcher", persons, lambda w: person_body(), id="person"),
    P("auditor", lambda w: f"/api/v1/persons/{w.a1.id}/assessments", assessment_body,
      id="assessment"),
    P("sys_admin", fixed("/api/v1/service-items"), item_body, id="service-item"),
    P("dispatcher", caregivers, caregiver_body, id="caregiver"),
    P("dispatcher", volunteers, volunteer_body, id="volunteer"),
    P("dispatcher", plans, plan_body, id="plan"),
    P("dispatcher", visits, visit_body, id="visit"),
]  # fmt: skip


@pytest.mark.parametrize(("who", "url", "body"), VALID)
def test_the_bodies_spoiled_above_are_valid_as_given(
    api: Api, api_world: World, who: str, url: Url, body: Body
) -> None:
    response = api.post(who, url(api_world), body(api_world))

    assert response.status_code == 201, response.json
    assert response.headers["Location"].endswith(f"/{response.json['id']}")


@pytest.mark.parametrize(
    ("body", "content_type", "status", "field"),
    [
        P(b"{not json", "application/json", 400, "body", id="malformed-json"),
        P(b"[1, 2]", "application/json", 400, "body", id="array-body"),
        P(b'{"name": "x"}', "text/plain", 415, None, id="not-json-content-type"),
        P(b"name=x", "application/x-www-form-urlencoded", 415, None, id="form-post"),
    ],
)
def test_a_body_that_is_not_a_json_object_is_refused(
    api: Api, session: Session, body: bytes, content_type: str, status: int, field: str | None
) -> None:
    before = snapshot(session)

    response = api.call("dispatcher", "POST", "/api/v1/persons", data=body,
                        content_type=content_type)  # fmt: skip

    assert response.status_code == status
    assert set(response.json) == {"code", "message", "errors"}
    if field:
        assert field in response.json["errors"]
    assert snapshot(session) == before
