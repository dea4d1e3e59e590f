"""Visits: filters and paging, manual visits, changes while not started, cancellation."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy.orm import Session

from app.models import Visit, VisitAssignment, utcnow
from tests.app.api.conftest import Api, World, snapshot, visit_body


@pytest.fixture
def week(session: Session, api_world: World) -> list[Visit]:
    """Five more visits of a1, over the coming days, in several states."""
    w = api_world
    made = []
    for offset, status in enumerate(["planned", "assigned", "completed", "cancelled", "planned"]):
        visit = Visit(
            plan_item_id=w.plan_a.items[0].id, person_id=w.a1.id, agency_id=w.a.id,
            date=w.today + dt.timedelta(days=2 + offset), windows=[["08:00", "10:00"]],
            duration_min=45, skills=["personal_care"], status=status,
        )  # fmt: skip
        session.add(visit)
        made.append(visit)
    session.flush()
    session.add(VisitAssignment(visit_id=made[1].id, caregiver_id=w.cg_a.id, assigned_at=utcnow()))
    session.commit()
    return made


def ids(response: Any) -> list[int]:
    assert response.status_code == 200, response.json
    return [v["id"] for v in response.json["items"]]


def test_visits_filter_by_date_status_person_and_caregiver(
    api: Api, api_world: World, week: list[Visit]
) -> None:
    w = api_world
    tomorrow = (w.today + dt.timedelta(days=1)).isoformat()

    assert ids(api.get("dispatcher", "/api/v1/visits", date=tomorrow)) == [w.visit_a.id]
    assert ids(api.get("dispatcher", "/api/v1/visits", status="completed")) == [week[2].id]
    assert ids(api.get("dispatcher", "/api/v1/visits", person_id=w.a1.id)) == [
        w.visit_a.id,
        *[v.id for v in week],
    ]
    assert ids(api.get("dispatcher", "/api/v1/visits", caregiver_id=w.cg_a.id)) == [
        w.visit_a.id,
        week[1].id,
    ]
    window = {"date_from": week[1].date.isoformat(), "date_to": week[3].date.isoformat()}
    assert ids(api.get("dispatcher", "/api/v1/visits", **window)) == [v.id for v in week[1:4]]


def test_a_reversed_date_range_is_refused(api: Api, api_world: World) -> None:
    response = api.get("dispatcher", "/api/v1/visits", date_from="2030-01-02", date_to="2030-01-01")

    assert response.status_code == 400
    assert "date_to" in response.json["errors"]


def test_visits_come_in_pages(api: Api, week: list[Visit]) -> None:
    first = api.get("dispatcher", "/api/v1/visits", per_page=4).json
    second = api.get("dispatcher", "/api/v1/visits", per_page=4, page=2).json

    assert first["total"] == 6
    assert first["pages"] == 2
    assert len(first["items"]) == 4
    assert len(second["items"]) == 2
    assert not {v["id"] for v in first["items"]} & {v["id"] for v in second["items"]}


def test_a_visit_shows_who_is_assigned(api: Api, api_world: World) -> None:
    body = api.get("dispatcher", f"/api/v1/visits/{api_world.visit_a.id}").json

    assert body["caregiver_ids"] == [api_world.cg_a.id]
    assert body["volunteer_ids"] == [api_world.vol_a.id]


def test_a_manual_visit_takes_the_plan_item_defaults(api: Api, api_world: World) -> None:
    response = api.post("dispatcher", "/api/v1/visits", visit_body(api_world) | {"priority": 1})

    assert response.status_code == 201
    visit = response.json
    assert visit["status"] == "planned"
    assert visit["person_id"] == api_world.a1.id
    assert visit["windows"] == [["08:00", "10:00"]]
    assert visit["duration_min"] == api_world.item_care.standard_min
    assert visit["skills"] == ["personal_care"]
    assert visit["priority"] == 1
    assert visit["seq"] >= 100  # apart from the generator's sequence numbers


def test_manual_visits_on_the_same_day_do_not_collide(api: Api, api_world: World) -> None:
    body = visit_body(api_world)

    first = api.post("dispatcher", "/api/v1/visits", body).json
    second = api.post("dispatcher", "/api/v1/visits", body).json

    assert second["seq"] == first["seq"] + 1


def test_a_manual_visit_needs_an_approved_plan(
    api: Api, api_world: World, session: Session
) -> None:
    body = {"plan_item_id": api_world.draft_a.items[0].id, "date": api_world.today.isoformat()}
    before = snapshot(session)

    response = api.post("dispatcher", "/api/v1/visits", body)

    assert response.status_code == 409
    assert "plan_item_id" in response.json["errors"]
    assert snapshot(session) == before


def test_a_manual_visit_must_fall_inside_the_plan(api: Api, api_world: World) -> None:
    late = api_world.plan_a.valid_to + dt.timedelta(days=1)
    body = visit_body(api_world) | {"date": late.isoformat()}

    response = api.post("dispatcher", "/api/v1/visits", body)

    assert response.status_code == 400
    assert "date" in response.json["errors"]


def test_a_manual_visit_for_a_person_no_longer_eligible_is_a_conflict(
    api: Api, api_world: World, session: Session
) -> None:
    api_world.a1.status = "suspended"
    session.commit()

    response = api.post("dispatcher", "/api/v1/visits", visit_body(api_world))

    assert response.status_code == 409


def test_a_planned_visit_is_adjusted(api: Api, api_world: World) -> None:
    change = {"windows": [["13:00", "15:00"], ["09:00", "10:30"]], "duration_min": 30}

    response = api.patch("dispatcher", f"/api/v1/visits/{api_world.visit_a.id}", change)

    assert response.status_code == 200
    assert response.json["windows"] == [["09:00", "10:30"], ["13:00", "15:00"]]
    assert response.json["duration_min"] == 30
    assert response.json["priority"] == 2


@pytest.mark.parametrize("index", [2, 3], ids=["completed", "cancelled"])
def test_a_visit_that_is_done_or_cancelled_is_not_adjusted(
    api: Api, session: Session, week: list[Visit], index: int
) -> None:
    before = snapshot(session)

    response = api.patch("dispatcher", f"/api/v1/visits/{week[index].id}", {"priority": 1})

    assert response.status_code == 409
    assert "status" in response.json["errors"]
    assert snapshot(session) == before


def test_a_visit_is_cancelled_once_with_a_reason(api: Api, api_world: World) -> None:
    url = f"/api/v1/visits/{api_world.visit_a.id}/cancel"

    first = api.post("dispatcher", url, {"reason": "家属临时外出"})
    second = api.post("dispatcher", url, {"reason": "again"})

    assert first.status_code == 200
    assert first.json["status"] == "cancelled"
    assert first.json["cancel_reason"] == "家属临时外出"
    assert first.json["cancelled_at"] is not None
    assert second.status_code == 409


def test_caregivers_read_but_do_not_change_visits(api: Api, api_world: World) -> None:
    url = f"/api/v1/visits/{api_world.visit_a.id}"

    assert api.get("caregiver", url).status_code == 200
    assert api.patch("caregiver", url, {"priority": 1}).status_code == 403
    assert api.post("caregiver", url + "/cancel", {"reason": "x"}).status_code == 403
