"""Care plans: drafting with items, changes only while draft, approval by the insurer and
its conflicts, filters, and the access log of plan reads."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import AccessLog, Assessment, CarePlan, PlanItem
from tests.app.api.conftest import Api, World, count, plan_body, snapshot


def test_a_plan_is_drafted_with_its_items_in_one_request(
    api: Api, api_world: World, session: Session
) -> None:
    body = plan_body(api_world)
    body["items"].append(
        {"service_item_id": api_world.item_company.id, "weekdays": [6, 2], "two_staff": True,
         "windows": [["09:00", "11:00"]], "duration_min": 50, "priority": 1}
    )  # fmt: skip

    response = api.post("dispatcher", "/api/v1/plans", body)

    assert response.status_code == 201
    plan = response.json
    assert plan["status"] == "draft"
    assert plan["agency_id"] == api_world.a.id
    first, second = plan["items"]
    assert first["times_per_week"] == 2
    assert first["weekdays"] is None
    assert first["windows"] == [["08:00", "10:00"], ["14:00", "16:00"]]
    assert second["weekdays"] == [2, 6]
    assert second["times_per_week"] is None
    assert second["two_staff"] is True
    assert second["duration_min"] == 50


def test_a_draft_is_changed_and_its_items_replaced(
    api: Api, api_world: World, session: Session
) -> None:
    url = f"/api/v1/plans/{api_world.draft_a.id}"
    items = plan_body(api_world)["items"]

    response = api.patch("dispatcher", url, {"notes": "家属要求上午", "items": items})

    assert response.status_code == 200
    assert response.json["notes"] == "家属要求上午"
    assert [i["service_item_id"] for i in response.json["items"]] == [api_world.item_care.id]
    plan_items = session.scalars(select(PlanItem).where(PlanItem.plan_id == api_world.draft_a.id))
    assert len(plan_items.all()) == 1


def test_an_approved_plan_cannot_be_changed(api: Api, api_world: World, session: Session) -> None:
    before = snapshot(session)

    response = api.patch("dispatcher", f"/api/v1/plans/{api_world.plan_a.id}", {"notes": "x"})

    assert response.status_code == 409
    assert "status" in response.json["errors"]
    assert snapshot(session) == before


@pytest.mark.parametrize("who", ["auditor", "sys_admin"])
def test_the_insurer_approves_a_draft(
    api: Api, api_world: World, session: Session, who: str
) -> None:
    response = api.post(who, f"/api/v1/plans/{api_world.draft_a.id}/approve")

    assert response.status_code == 200
    assert response.json["status"] == "approved"
    assert response.json["approved_by_id"] == api_world.users[who].id
    assert response.json["approved_at"] is not None


def test_the_agency_cannot_approve_its_own_plans(api: Api, api_world: World) -> None:
    for who in ("dispatcher", "agency_admin"):
        response = api.post(who, f"/api/v1/plans/{api_world.draft_a.id}/approve")
        assert response.status_code == 403


def _expire(w: World, s: Session) -> None:
    w.draft_a.valid_from = w.today - dt.timedelta(days=60)
    w.draft_a.valid_to = w.today - dt.timedelta(days=1)


def _end(w: World, s: Session) -> None:
    w.draft_a.status = "ended"


def _suspend_person(w: World, s: Session) -> None:
    w.a2.status = "suspended"


def _recent_disability(w: World, s: Session) -> None:
    w.a2.disability_since = w.today - dt.timedelta(days=60)


def _mild_grade(w: World, s: Session) -> None:
    for a in s.scalars(select(Assessment).where(Assessment.person_id == w.a2.id)):
        a.grade = 2


def _assessment_expired(w: World, s: Session) -> None:
    for a in s.scalars(select(Assessment).where(Assessment.person_id == w.a2.id)):
        a.valid_until = w.today - dt.timedelta(days=1)


def _overlapping_approved(w: World, s: Session) -> None:
    s.add(
        CarePlan(
            person_id=w.a2.id, agency_id=w.a.id, status="approved",
            valid_from=w.today + dt.timedelta(days=30), valid_to=w.today + dt.timedelta(days=400),
        )
    )  # fmt: skip


@pytest.mark.parametrize(
    ("spoil", "field"),
    [
        pytest.param(_expire, "valid_to", id="expired"),
        pytest.param(_end, "status", id="ended"),
        pytest.param(_suspend_person, "person_id", id="person-suspended"),
        pytest.param(_recent_disability, "person_id", id="disabled-under-6-months"),
        pytest.param(_mild_grade, "person_id", id="grade-below-threshold"),
        pytest.param(_assessment_expired, "person_id", id="assessment-expired"),
        pytest.param(_overlapping_approved, "valid_from", id="overlaps-approved-plan"),
    ],
)
def test_approval_conflicts_are_409_and_change_nothing(
    api: Api,
    api_world: World,
    session: Session,
    spoil: Callable[[World, Session], None],
    field: str,
) -> None:
    spoil(api_world, session)
    session.commit()
    before = snapshot(session)

    response = api.post("auditor", f"/api/v1/plans/{api_world.draft_a.id}/approve")

    assert response.status_code == 409, response.json
    assert response.json["code"] == "conflict"
    assert field in response.json["errors"]
    assert snapshot(session) == before


def test_approving_twice_is_a_conflict(api: Api, api_world: World) -> None:
    response = api.post("auditor", f"/api/v1/plans/{api_world.plan_a.id}/approve")

    assert response.status_code == 409
    assert "status" in response.json["errors"]


def test_approve_takes_no_body_fields(api: Api, api_world: World) -> None:
    response = api.post("auditor", f"/api/v1/plans/{api_world.draft_a.id}/approve", {"x": 1})

    assert response.status_code == 400
    assert "x" in response.json["errors"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"status": "draft"}, lambda w: [w.draft_a.id]),
        ({"status": "approved"}, lambda w: [w.plan_a.id]),
        ({"person_id": "PERSON"}, lambda w: [w.plan_a.id]),
    ],
)
def test_plans_filter_by_status_and_person(
    api: Api,
    api_world: World,
    query: dict[str, object],
    expected: Callable[[World], list[int]],
) -> None:
    query = {k: api_world.a1.id if v == "PERSON" else v for k, v in query.items()}

    items = api.get("dispatcher", "/api/v1/plans", **query).json["items"]

    assert [p["id"] for p in items] == expected(api_world)


def test_every_plan_read_is_logged(api: Api, api_world: World, session: Session) -> None:
    listed = api.get("dispatcher", "/api/v1/plans").json["items"]
    api.get("auditor", f"/api/v1/plans/{api_world.plan_b.id}")

    rows = session.scalars(select(AccessLog).order_by(AccessLog.id)).all()
    assert sorted(r.subject_id for r in rows[: len(listed)]) == sorted(p["id"] for p in listed)
    assert all(r.subject_type == "care_plan" for r in rows)
    assert (rows[-1].subject_id, rows[-1].role) == (api_world.plan_b.id, "auditor")
    assert count(session, AccessLog) == len(listed) + 1
