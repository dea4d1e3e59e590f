"""The caregiver app's API (/api/v1/my) and the dispatchers' EVV API (/api/v1/evv):
route order and privacy, validation naming the field, scoping, decisions."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import AccessLog, EvvAction, PlanVersion, Publication, Role, User
from tests.app.conftest import add_visit, assign
from tests.app.evv.conftest import TWO_KM_NORTH, EvvWorld, local
from tests.conftest import login, make_user


def client_for(app: Flask, session: Session, u: User) -> Any:
    client = app.test_client()
    login(client, session, u)
    return client


def body(visit_id: int, kind: str, at: dt.datetime, where: tuple[float, float] = (32.0, 120.9)):
    return {
        "id": str(uuid.uuid4()),
        "visit_id": visit_id,
        "kind": kind,
        "occurred_at": at.isoformat(),
        "position": {"lat": where[0], "lon": where[1], "accuracy_m": 12.5},
        "items_done": ["BC01"] if kind == "check_out" else [],
    }


def test_route_lists_my_visits_in_window_order_and_logs_the_health_read(
    app: Flask, session: Session, ew: EvvWorld
) -> None:
    early = add_visit(session, ew.w.item, ew.w.today, "assigned", seq=7, window=("08:00", "08:30"))
    assign(session, early, caregiver=ew.w.caregiver)
    session.commit()
    client = client_for(app, session, ew.user)
    r = client.get("/api/v1/my/days/today/route")
    assert r.status_code == 200, r.json
    data = r.json
    assert data["date"] == ew.w.today.isoformat()
    assert data["worker_ref"] == f"cg-{ew.w.caregiver.id}"
    assert [s["visit_id"] for s in data["stops"]] == [early.id, ew.visit.id]
    stop = data["stops"][1]
    assert stop["person_name"] == ew.w.person.name
    assert stop["items"][0]["code"] == "BC01"
    assert stop["location"] == [32.0, 120.9]
    # The other caregiver's visit and person are not on it.
    assert ew.other_person.name not in r.get_data(as_text=True)
    logs = session.scalars(select(AccessLog).where(AccessLog.user_id == ew.user.id)).all()
    assert [(a.subject_type, a.subject_id) for a in logs] == [("person", ew.w.person.id)]


def test_route_follows_the_published_plan_order(app: Flask, session: Session, ew: EvvWorld) -> None:
    early = add_visit(session, ew.w.item, ew.w.today, "assigned", seq=7, window=("08:00", "08:30"))
    assign(session, early, caregiver=ew.w.caregiver)
    ref = f"cg-{ew.w.caregiver.id}"
    stops = [
        {"visit_id": f"v-{ew.visit.id}", "arrival": "08:05:00", "start": "08:05:00"},
        {"visit_id": f"v-{early.id}", "arrival": "10:20:00", "start": "10:20:00"},
    ]
    version = PlanVersion(
        agency_id=ew.w.agency.id,
        date=ew.w.today,
        number=1,
        kind="optimise",
        problem={},
        plan={"routes": [{"caregiver_id": ref, "stops": stops}]},
        valid=True,
    )
    session.add(version)
    session.flush()
    session.add(Publication(plan_version_id=version.id, agency_id=ew.w.agency.id, date=ew.w.today))
    session.commit()
    data = client_for(app, session, ew.user).get("/api/v1/my/days/today/route").json
    assert [(s["visit_id"], s["planned_start"]) for s in data["stops"]] == [
        (ew.visit.id, "08:05"),
        (early.id, "10:20"),
    ]
    assert data["publication_id"] is not None


def test_caregiver_reads_no_person_off_their_route(
    app: Flask, session: Session, ew: EvvWorld
) -> None:
    client = client_for(app, session, ew.user)
    assert client.get(f"/api/v1/persons/{ew.w.person.id}").status_code == 200
    assert client.get(f"/api/v1/persons/{ew.other_person.id}").status_code == 404
    assert client.get(f"/api/v1/visits/{ew.other_visit.id}").status_code == 404


def test_check_in_and_out_over_http_verify_and_a_replay_is_a_duplicate(
    app: Flask, session: Session, ew: EvvWorld
) -> None:
    client = client_for(app, session, ew.user)
    check_in = body(ew.visit.id, "check_in", local(ew.w.today, "09:05"))
    r = client.post("/api/v1/my/evv/actions", json=check_in)
    assert r.status_code == 200, r.json
    assert (r.json["state"], r.json["visit_status"], r.json["duplicate"]) == (
        "applied",
        "in_progress",
        False,
    )
    assert client.post("/api/v1/my/evv/actions", json=check_in).json["duplicate"] is True
    out = body(ew.visit.id, "check_out", local(ew.w.today, "09:55"))
    out["confirmation"] = {"method": "pin", "by": "family", "value": "4321"}
    r = client.post("/api/v1/my/evv/actions", json=out)
    assert r.json["visit_status"] == "verified"
    assert r.json["verification"]["outcome"] == "verified"
    stored = session.get(EvvAction, out["id"])
    # The PIN is not kept; this person has none set, so it does not confirm.
    assert stored.confirmation == {"method": "pin", "by": "family", "ok": False, "reason": "no_pin"}
    staff = client_for(app, session, ew.w.users[Role.DISPATCHER])
    view = staff.get(f"/api/v1/evv/visits/{ew.visit.id}").json
    assert view["status"] == "verified"
    assert [rec["outcome"] for rec in view["records"]] == ["verified"]


def test_a_bad_action_names_the_field_and_writes_nothing(
    app: Flask, session: Session, ew: EvvWorld
) -> None:
    client = client_for(app, session, ew.user)
    bad = body(ew.visit.id, "check_in", local(ew.w.today, "09:05"))
    bad["position"]["lat"] = 91
    bad["occurred_at"] = "2026-01-01T09:00:00"  # no offset
    bad["id"] = "not-a-uuid"
    r = client.post("/api/v1/my/evv/actions", json=bad)
    assert r.status_code == 400
    assert {"position.lat", "occurred_at", "id"} <= set(r.json["errors"])
    assert session.scalar(select(func.count()).select_from(EvvAction)) == 0


def test_checking_in_to_another_caregivers_visit_is_404(
    app: Flask, session: Session, ew: EvvWorld
) -> None:
    client = client_for(app, session, ew.user)
    r = client.post(
        "/api/v1/my/evv/actions",
        json=body(ew.other_visit.id, "check_in", local(ew.w.today, "09:05")),
    )
    assert r.status_code == 404
    assert r.json["code"] == "not_found"


def test_exception_queue_scoping_and_decision(app: Flask, session: Session, ew: EvvWorld) -> None:
    worker = client_for(app, session, ew.user)
    worker.post(
        "/api/v1/my/evv/actions",
        json=body(ew.visit.id, "check_in", local(ew.w.today, "09:05"), TWO_KM_NORTH),
    )
    worker.post(
        "/api/v1/my/evv/actions", json=body(ew.visit.id, "check_out", local(ew.w.today, "09:55"))
    )
    dispatcher = client_for(app, session, ew.w.users[Role.DISPATCHER])
    items = dispatcher.get("/api/v1/evv/exceptions").json["items"]
    assert [i["verification"]["reasons"] for i in items] == [["outside_geofence"]]
    record_id = items[0]["verification"]["id"]
    stranger = make_user(session, Role.DISPATCHER, ew.w.other_agency, "disp-b2")
    other = client_for(app, session, stranger)
    assert other.get("/api/v1/evv/exceptions").json["items"] == []
    url = f"/api/v1/evv/verifications/{record_id}/decision"
    assert other.post(url, json={"approve": True, "reason": "x"}).status_code == 404
    auditor = client_for(app, session, ew.w.users[Role.AUDITOR])
    scoped = auditor.get(f"/api/v1/evv/exceptions?agency_id={ew.w.agency.id}").json["items"]
    assert len(scoped) == 1
    assert set(dispatcher.post(url, json={"approve": True}).json["errors"]) == {"reason"}
    r = dispatcher.post(url, json={"approve": True, "reason": "GPS drift under the bridge"})
    assert r.status_code == 201
    assert (r.json["kind"], r.json["supersedes_id"]) == ("approval", record_id)
    assert dispatcher.post(url, json={"approve": False, "reason": "x"}).status_code == 409
    assert dispatcher.get("/api/v1/evv/exceptions").json["items"] == []
