"""Insured persons and assessments: masking of ID numbers, care notes, filters, and the
access log written for every read of health data."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import AccessLog, Assessment, mask_id_number
from tests.app.api.conftest import Api, World, assessment_body, count, person_body


def logs(session: Session) -> list[tuple[str, int, str, str]]:
    rows = session.scalars(select(AccessLog).order_by(AccessLog.id))
    return [(r.subject_type, r.subject_id, r.what, r.role) for r in rows]


def test_a_dispatcher_registers_a_person_in_the_own_agency(api: Api, api_world: World) -> None:
    body = person_body()

    response = api.post("dispatcher", "/api/v1/persons", body)

    assert response.status_code == 201
    created = response.json
    assert created["agency_id"] == api_world.a.id
    assert created["id_number"] == body["id_number"]  # single read by staff: in full
    assert created["care_notes"] == body["care_notes"]
    fetched = api.get("dispatcher", response.headers["Location"]).json
    assert fetched["name"] == body["name"]
    assert fetched["lat"] == body["lat"]


def test_lists_always_mask_the_id_number(api: Api, api_world: World) -> None:
    for who in ("dispatcher", "auditor", "sys_admin", "caregiver"):
        items = api.get(who, "/api/v1/persons").json["items"]
        by_id = {p["id"]: p for p in items}
        a1 = by_id[api_world.a1.id]
        assert a1["id_number"] == mask_id_number(api_world.a1.id_number), who
        assert "*" in a1["id_number"]
        assert "care_notes" not in a1


@pytest.mark.parametrize(
    ("who", "full_id", "notes"),
    [
        ("dispatcher", True, True),
        ("agency_admin", True, True),
        ("auditor", True, True),
        ("sys_admin", True, True),
        ("caregiver", False, True),
        ("volunteer", False, False),
    ],
)
def test_a_single_read_shows_what_the_role_may_see_and_logs_care_notes(
    api: Api, api_world: World, session: Session, who: str, full_id: bool, notes: bool
) -> None:
    person = api_world.a1

    body = api.get(who, f"/api/v1/persons/{person.id}").json

    expected_id = person.id_number if full_id else mask_id_number(person.id_number)
    assert body["id_number"] == expected_id
    assert body["care_notes"] == ("secret notes" if notes else None)
    expected_logs = [("person", person.id, "care_notes", who)] if notes else []
    assert logs(session) == expected_logs


@pytest.mark.parametrize(
    ("query", "names"),
    [
        ({"district": "通州区"}, ["李建国"]),
        ({"q": "桂兰"}, ["张桂兰"]),
        ({"q": "人民路 102"}, ["李建国"]),
        ({"status": "suspended"}, []),
        ({"status": "active"}, ["张桂兰", "李建国"]),
    ],
)
def test_persons_filter_by_district_status_and_text(
    api: Api, query: dict[str, str], names: list[str]
) -> None:
    items = api.get("dispatcher", "/api/v1/persons", **query).json["items"]

    assert [p["name"] for p in items] == names


def test_a_patch_changes_only_the_fields_given(api: Api, api_world: World) -> None:
    url = f"/api/v1/persons/{api_world.a2.id}"
    before = api.get("dispatcher", url).json

    response = api.patch("dispatcher", url, {"phone": "13800000000", "care_notes": None})

    after = response.json
    assert response.status_code == 200
    assert after["phone"] == "13800000000"
    assert after["care_notes"] is None
    unchanged = {k: v for k, v in before.items() if k not in ("phone", "care_notes")}
    assert {k: after[k] for k in unchanged} == unchanged


def test_moving_an_id_number_onto_another_persons_is_409(api: Api, api_world: World) -> None:
    response = api.patch(
        "dispatcher", f"/api/v1/persons/{api_world.a2.id}", {"id_number": api_world.a1.id_number}
    )

    assert response.status_code == 409
    assert "id_number" in response.json["errors"]


def test_only_agency_staff_register_persons(api: Api, session: Session) -> None:
    for who in ("auditor", "sys_admin", "caregiver", "volunteer"):
        assert api.post(who, "/api/v1/persons", person_body()).status_code == 403


# --- assessments ------------------------------------------------------------------------


def test_the_insurer_records_an_assessment_graded_by_the_policy(
    api: Api, api_world: World, session: Session
) -> None:
    body = assessment_body(api_world) | {
        "adl_scores": [10, 10, 5, 10, 10, 10, 15, 15, 10, 5],
        "cognition_scores": [4, 4, 4, 4],
        "perception_scores": [4, 4, 4],
    }

    response = api.post("auditor", f"/api/v1/persons/{api_world.a2.id}/assessments", body)

    assert response.status_code == 201
    assert response.json["adl_total"] == 100
    assert response.json["grade"] == 0
    assert response.json["valid_until"] > body["assessed_at"]  # the policy's default validity


def test_the_agency_does_not_grade_its_own_clients(api: Api, api_world: World) -> None:
    url = f"/api/v1/persons/{api_world.a1.id}/assessments"
    for who in ("dispatcher", "agency_admin"):
        assert api.post(who, url, assessment_body(api_world)).status_code == 403


def test_every_assessment_read_is_logged(api: Api, api_world: World, session: Session) -> None:
    person = api_world.a1
    only = session.scalars(select(Assessment).where(Assessment.person_id == person.id)).one()

    listed = api.get("dispatcher", f"/api/v1/persons/{person.id}/assessments").json["items"]
    single = api.get("auditor", f"/api/v1/assessments/{only.id}").json

    assert [a["id"] for a in listed] == [only.id]
    assert single["grade"] == 5
    assert logs(session) == [
        ("assessment", only.id, "assessment", "dispatcher"),
        ("assessment", only.id, "assessment", "auditor"),
    ]
    assert count(session, AccessLog) == 2


WRITES = [
    pytest.param("dispatcher", "POST", lambda w: "/api/v1/persons", lambda w: person_body(),
                 "person", id="create-person"),
    pytest.param("dispatcher", "PATCH", lambda w: f"/api/v1/persons/{w.a1.id}",
                 lambda w: {"phone": "13800000000"}, "person", id="update-person"),
    pytest.param("auditor", "POST", lambda w: f"/api/v1/persons/{w.a1.id}/assessments",
                 assessment_body, "assessment", id="create-assessment"),
    pytest.param("dispatcher", "PATCH", lambda w: f"/api/v1/plans/{w.draft_a.id}",
                 lambda w: {"notes": "x"}, "care_plan", id="update-plan"),
    pytest.param("auditor", "POST", lambda w: f"/api/v1/plans/{w.draft_a.id}/approve",
                 lambda w: {}, "care_plan", id="approve-plan"),
]  # fmt: skip


@pytest.mark.parametrize(("who", "method", "url", "body", "subject"), WRITES)
def test_answers_to_writes_that_carry_health_data_are_logged_too(
    api: Api,
    api_world: World,
    session: Session,
    who: str,
    method: str,
    url: Callable[[World], str],
    body: Callable[[World], dict[str, object]],
    subject: str,
) -> None:
    response = api.call(who, method, url(api_world), json=body(api_world))

    assert response.status_code in (200, 201)
    assert logs(session) == [(subject, response.json["id"], logs(session)[0][2], who)]
