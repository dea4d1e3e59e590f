"""/api/v1/dispatch over HTTP: plan -> publish -> edit -> repair as the board does it,
plus validation, scoping and the download."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import CaregiverAbsence, PlanVersion, RouteNotice
from app.services.dayproblem import caregiver_ref, visit_ref
from scheduling import load_problem
from tests.app.api.conftest import snapshot
from tests.app.dispatch.conftest import Api, Day


def _day_url(day: Day, rest: str = "") -> str:
    return f"/api/v1/dispatch/days/{day.day.isoformat()}{rest}"


def _plan(api: Api) -> dict[str, Any]:
    started = api.post("dispatcher", _day_url(api.day, "/plan"), {"time_limit_s": 2})
    assert started.status_code == 202, started.json
    job = api.get("dispatcher", f"/api/v1/dispatch/jobs/{started.json['job_id']}")
    assert job.status_code == 200
    assert job.json["status"] == "succeeded"
    return job.json  # type: ignore[no-any-return]


def _routes(plan: dict[str, Any]) -> dict[str, list[str]]:
    return {
        r["caregiver_id"]: [s["visit_id"] for s in r["stops"]] for r in plan["routes"] if r["stops"]
    }


def test_plan_publish_edit_repair_through_the_api(api: Api, session: Session) -> None:
    day = api.day
    job = _plan(api)
    assert job["progress"]["assigned"] >= 10
    assert job["progress"]["visits"] == len(day.visits)

    board = api.get("dispatcher", _day_url(day)).json
    version_id = board["current_version_id"]
    assert version_id == job["plan_version_id"]
    assert board["published_version_id"] is None
    assert {v["ref"] for v in board["visits"]} == {visit_ref(v.id) for v in day.visits}
    visit = board["visits"][0]
    assert set(visit) >= {
        "ref",
        "person_name",
        "address",
        "location",
        "windows",
        "status",
        "service_item",
        "locked",
        "over_cap",
        "preferred",
    }
    assert visit["service_item"]["code"] == "HC01"

    version = api.get("dispatcher", f"/api/v1/dispatch/versions/{version_id}").json
    assert version["valid"]
    assert version["plan"]["format"] == "careroute.plan/1"
    assert set(version["kpis_detail"]) == {
        "assigned_by_priority",
        "travel_h",
        "continuity_rate",
        "work_min_by_caregiver",
        "work_min_spread",
    }

    published = api.post("dispatcher", f"/api/v1/dispatch/versions/{version_id}/publish")
    assert published.status_code == 200, published.json
    routes = _routes(version["plan"])
    assert set(published.json["notified"]) == set(routes)

    source = max((c for c in routes if c.startswith("cg-")), key=lambda c: len(routes[c]))
    target = next(caregiver_ref(c.id) for c in day.caregivers if caregiver_ref(c.id) != source)
    moved = routes[source][-1]
    edit = api.post(
        "dispatcher",
        f"/api/v1/dispatch/versions/{version_id}/edits",
        {"action": "move", "visit_ref": moved, "caregiver_ref": target},
    )
    assert edit.status_code == 201, edit.json
    assert set(edit.json) == {"plan_version_id", "valid", "violations"}
    edited_id = edit.json["plan_version_id"]

    diff = api.get("dispatcher", f"/api/v1/dispatch/versions/{version_id}/compare/{edited_id}")
    assert [m["visit_ref"] for m in diff.json["moved"]] == [moved]
    assert diff.json["moved"][0]["from"] == source
    assert diff.json["moved"][0]["to"] == target

    repair = api.post(
        "dispatcher",
        _day_url(day, "/repair"),
        {"caregiver_ref": source, "from": "10:00", "reason": "sick"},
    )
    assert repair.status_code == 202, repair.json
    repaired = api.get("dispatcher", f"/api/v1/dispatch/jobs/{repair.json['job_id']}").json
    assert repaired["status"] == "succeeded", repaired["error"]
    board = api.get("dispatcher", _day_url(day)).json
    assert [v["kind"] for v in board["versions"]] == ["optimise", "edit", "repair"]
    assert board["current_version_id"] == repaired["plan_version_id"]
    assert board["published_version_id"] == version_id
    absent = next(c for c in board["caregivers"] if c["ref"] == source)["absent"]
    assert absent == {"from": "10:00", "reason": "sick"}
    assert {a["caregiver_ref"] for a in board["acks"]} == set(routes)


def test_acknowledging_a_notice(api: Api, session: Session) -> None:
    day = api.day
    job = _plan(api)
    api.post("dispatcher", f"/api/v1/dispatch/versions/{job['plan_version_id']}/publish")
    notices = {n.caregiver_id: n.id for n in session.scalars(select(RouteNotice))}
    users = {
        day.caregivers[0].id: ("caregiver", "caregiver2"),
        day.caregivers[1].id: ("caregiver2", "caregiver"),
    }
    cg_id = next(c for c in users if c in notices)
    owner, stranger = users[cg_id]
    notice_id = notices[cg_id]

    assert api.post(stranger, f"/api/v1/my/notices/{notice_id}/ack").status_code == 404
    assert api.post("dispatcher", f"/api/v1/my/notices/{notice_id}/ack").status_code == 403
    answer = api.post(owner, f"/api/v1/my/notices/{notice_id}/ack")
    assert answer.status_code == 200
    assert answer.json["notice_id"] == notice_id
    board = api.get("dispatcher", _day_url(day)).json
    ack = next(a for a in board["acks"] if a["notice_id"] == notice_id)
    assert dt.datetime.fromisoformat(ack["acknowledged_at"]) == dt.datetime.fromisoformat(
        answer.json["acknowledged_at"]
    )
    assert ack["overdue"] is False
    again = api.post(owner, f"/api/v1/my/notices/{notice_id}/ack")
    assert again.json["acknowledged_at"] == answer.json["acknowledged_at"]


def test_lock_and_reoptimise_edits(api: Api) -> None:
    job = _plan(api)
    vid = job["plan_version_id"]
    plan = api.get("dispatcher", f"/api/v1/dispatch/versions/{vid}").json["plan"]
    ref = next(iter(_routes(plan).values()))[0]

    locked = api.post(
        "dispatcher", f"/api/v1/dispatch/versions/{vid}/edits", {"action": "lock", "visit_ref": ref}
    )
    assert locked.status_code == 201
    assert locked.json["valid"]
    board = api.get("dispatcher", _day_url(api.day)).json
    assert next(v for v in board["visits"] if v["ref"] == ref)["locked"] is True

    again = api.post(
        "dispatcher",
        f"/api/v1/dispatch/versions/{locked.json['plan_version_id']}/edits",
        {"action": "unlock", "visit_ref": ref, "mode": "reoptimise", "time_limit_s": 2},
    )
    assert again.status_code == 202
    result = api.get("dispatcher", f"/api/v1/dispatch/jobs/{again.json['job_id']}").json
    assert result["status"] == "succeeded"
    board = api.get("dispatcher", _day_url(api.day)).json
    assert next(v for v in board["visits"] if v["ref"] == ref)["locked"] is False


def test_invalid_requests_name_the_field_and_write_nothing(api: Api, session: Session) -> None:
    job = _plan(api)
    vid = job["plan_version_id"]
    before = snapshot(session)
    cases = [
        (_day_url(api.day, "/plan"), {"time_limit_s": 0}, "time_limit_s"),
        (_day_url(api.day, "/plan"), {"time_limit_s": "5"}, "time_limit_s"),
        ("/api/v1/dispatch/days/2026-13-01/plan", {}, "date"),
        ("/api/v1/dispatch/days/2020-01-06/plan", {}, "date"),
        (f"/api/v1/dispatch/versions/{vid}/edits", {"action": "fly"}, "action"),
        (
            f"/api/v1/dispatch/versions/{vid}/edits",
            {"action": "move", "visit_ref": "v-1"},
            "caregiver_ref",
        ),
        (
            f"/api/v1/dispatch/versions/{vid}/edits",
            {"action": "move", "visit_ref": "x", "caregiver_ref": "cg-1"},
            "visit_ref",
        ),
        (
            f"/api/v1/dispatch/versions/{vid}/edits",
            {"action": "move", "visit_ref": "v-999999", "caregiver_ref": "cg-1"},
            "visit_ref",
        ),
        (
            f"/api/v1/dispatch/versions/{vid}/edits",
            {"action": "absent", "caregiver_ref": "cg-1", "from": "25:00", "reason": "x"},
            "from",
        ),
        (
            f"/api/v1/dispatch/versions/{vid}/edits",
            {"action": "lock", "visit_ref": "v-1", "mode": "later"},
            "mode",
        ),
        (_day_url(api.day, "/repair"), {"caregiver_ref": "vol-1", "reason": "x"}, "caregiver_ref"),
        (
            _day_url(api.day, "/repair"),
            {"caregiver_ref": "cg-999999", "reason": "x"},
            "caregiver_ref",
        ),
        (f"/api/v1/dispatch/visits/{api.day.visits[0].id}/cap-override", {"reason": ""}, "reason"),
    ]
    for url, body, field in cases:
        answer = api.post("dispatcher", url, body)
        assert answer.status_code == 400, (url, body, answer.json)
        assert answer.json["code"] == "validation_error"
        assert field in answer.json["errors"], (url, body, answer.json)
    assert snapshot(session) == before


def test_edits_and_reads_stay_inside_the_agency(api: Api, session: Session) -> None:
    job = _plan(api)
    vid = job["plan_version_id"]

    assert api.get("dispatcher_b", f"/api/v1/dispatch/versions/{vid}").status_code == 404
    assert api.get("dispatcher_b", f"/api/v1/dispatch/jobs/{job['id']}").status_code == 404
    edit = api.post(
        "dispatcher_b",
        f"/api/v1/dispatch/versions/{vid}/edits",
        {"action": "lock", "visit_ref": visit_ref(api.day.visits[0].id)},
    )
    assert edit.status_code == 404
    assert api.post("dispatcher_b", f"/api/v1/dispatch/versions/{vid}/publish").status_code == 404
    assert (
        api.get("dispatcher_b", _day_url(api.day), agency_id=api.day.agency.id).status_code == 404
    )
    auditor = api.get("auditor", _day_url(api.day))
    assert auditor.status_code == 400
    assert "agency_id" in auditor.json["errors"]
    assert api.get("auditor", _day_url(api.day), agency_id=api.day.agency.id).status_code == 200
    assert api.get("auditor", f"/api/v1/dispatch/versions/{vid}").status_code == 200
    assert session.scalar(select(func.count(PlanVersion.id))) == 1


def test_a_second_plan_while_one_runs_is_a_conflict(api: Api, session: Session) -> None:
    from app.models import SolveJob

    session.add(
        SolveJob(
            id="running-job",
            agency_id=api.day.agency.id,
            date=api.day.day,
            kind="optimise",
            status="running",
            params={},
        )
    )
    session.commit()
    answer = api.post("dispatcher", _day_url(api.day, "/plan"), {"time_limit_s": 2})
    assert answer.status_code == 409
    assert answer.json["errors"]["job_id"] == "running-job"
    cancel = api.post("dispatcher", "/api/v1/dispatch/jobs/running-job/cancel")
    assert cancel.status_code == 202
    assert api.get("dispatcher", "/api/v1/dispatch/jobs/running-job").json["status"] == "cancelled"
    assert api.post("dispatcher", "/api/v1/dispatch/jobs/running-job/cancel").status_code == 409


def test_export_downloads_the_day_file(api: Api) -> None:
    answer = api.get("dispatcher", _day_url(api.day, "/export"))
    assert answer.status_code == 200
    assert answer.headers["Content-Disposition"].startswith("attachment;")
    problem = load_problem(json.loads(answer.data))
    assert len(problem.visits) == len(api.day.visits)
    assert problem.date == api.day.day


def test_absent_edit_records_the_absence(api: Api, session: Session) -> None:
    job = _plan(api)
    ref = caregiver_ref(api.day.caregivers[2].id)
    answer = api.post(
        "dispatcher",
        f"/api/v1/dispatch/versions/{job['plan_version_id']}/edits",
        {"action": "absent", "caregiver_ref": ref, "from": "12:00", "reason": "family"},
    )
    assert answer.status_code == 201, answer.json
    assert answer.json["valid"], answer.json
    absence = session.scalars(select(CaregiverAbsence)).one()
    assert absence.caregiver_id == api.day.caregivers[2].id
    assert absence.reason == "family"
