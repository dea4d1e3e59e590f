"""GET /api/v1/supervision/kpis: the figures as JSON, validation naming each field, scoping
(another agency's id answers 404), and its OpenAPI description."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from app.models import User
from app.services import anomalies, months
from app.services import supervision as sv
from app.services.crud import local_today
from tests.app.supervision.supervision_world import SvWorld, build
from tests.conftest import login

URL = "/api/v1/supervision/kpis"


@pytest.fixture
def w(app: Flask, session: Session, monkeypatch: pytest.MonkeyPatch) -> SvWorld:
    world = build(session)
    counts = {world.a.id: 3, world.b.id: 1}

    def count_by_agency(session: Session, actor: User, month: dt.date) -> dict[int, int]:
        return {i: n for i, n in counts.items() if actor.agency_id in (None, i)}

    monkeypatch.setattr(anomalies, "count_by_agency", count_by_agency)
    return world


def client_for(app: Flask, session: Session, u: User) -> FlaskClient:
    client = app.test_client()
    login(client, session, u)
    return client


def get(client: FlaskClient, **params: Any) -> Any:
    return client.get(URL, query_string=params)


def test_the_auditor_reads_every_agency_as_json(app: Flask, session: Session, w: SvWorld) -> None:
    response = get(client_for(app, session, w.users["auditor"]), month="2026-10", months=2)

    assert response.status_code == 200
    body = response.json
    assert body["month"] == "2026-10"
    assert body["through"] == "2026-10-31"
    assert body["agency_id"] is None
    assert body["grace_min"] == 30
    a1, b2 = body["agencies"]
    assert (a1["code"], a1["agency_id"], b2["code"]) == ("A1", w.a.id, "B2")
    assert a1["fulfilment"] == {
        "due": 9, "verified": 5, "missed": 1, "exception": 1, "rejected": 1, "open": 1,
        "cancelled": 1, "rate": 0.5556,
    }  # fmt: skip
    assert a1["on_time"] == {"verified": 5, "on_time": 4, "rate": 0.8}
    assert a1["travel"] == {"days": 2, "travel_s": 5400, "assigned": 15, "min_per_visit": 6.0}
    assert a1["continuity"] == {"with_preferred": 3, "by_preferred": 2, "rate": 0.6667}
    assert (a1["anomalies"], b2["anomalies"], body["total"]["anomalies"]) == (3, 1, 4)
    assert b2["travel"]["min_per_visit"] is None
    assert body["total"]["fulfilment"]["verified"] == 6
    assert body["spending"] == [
        {"month": "2026-09", "visits": 1, "price_fen": 6000, "fund_fen": 4200, "co_pay_fen": 1800},
        {
            "month": "2026-10",
            "visits": 6,
            "price_fen": 30670,
            "fund_fen": 22668,
            "co_pay_fen": 8002,
        },
    ]


def test_an_agency_admin_reads_their_agency_and_gets_404_for_another(
    app: Flask, session: Session, w: SvWorld
) -> None:
    client = client_for(app, session, w.users["admin_a"])

    own = get(client, month="2026-10")
    assert own.status_code == 200
    assert [a["code"] for a in own.json["agencies"]] == ["A1"]
    assert len(own.json["spending"]) == sv.DEFAULT_MONTHS
    named = get(client, month="2026-10", agency_id=w.a.id).json
    assert named["agency_id"] == w.a.id
    assert named["agencies"] == own.json["agencies"]

    foreign = get(client, month="2026-10", agency_id=w.b.id)
    assert foreign.status_code == 404
    assert foreign.json["code"] == "not_found"
    unknown = get(client, month="2026-10", agency_id=999_999)
    assert unknown.status_code == 404
    assert unknown.json == foreign.json  # a hidden agency looks like a missing one


def test_a_cross_agency_reader_names_one_agency_or_gets_404(
    app: Flask, session: Session, w: SvWorld
) -> None:
    client = client_for(app, session, w.users["sys_admin"])

    one = get(client, month="2026-10", agency_id=w.b.id)
    assert one.status_code == 200
    assert one.json["agency_id"] == w.b.id
    assert [a["code"] for a in one.json["agencies"]] == ["B2"]
    assert one.json["spending"][-1]["fund_fen"] == 5400
    assert get(client, month="2026-10", agency_id=999_999).status_code == 404


def test_the_month_defaults_to_the_previous_one(app: Flask, session: Session, w: SvWorld) -> None:
    response = get(client_for(app, session, w.users["auditor"]))

    today = local_today(app.config["BABEL_DEFAULT_TIMEZONE"])
    assert response.status_code == 200
    assert response.json["month"] == months.previous_month(today).strftime("%Y-%m")


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"month": "2026-13"}, "month"),
        ({"month": "2026-1"}, "month"),
        ({"month": "October"}, "month"),
        ({"month": "2026-10-01"}, "month"),
        ({"month": ""}, "month"),
        ({"months": "0"}, "months"),
        ({"months": "25"}, "months"),
        ({"months": "six"}, "months"),
        ({"agency_id": "0"}, "agency_id"),
        ({"agency_id": "A1"}, "agency_id"),
        ({"agency": "1"}, "agency"),
    ],
)
def test_bad_parameters_answer_400_naming_the_field(
    app: Flask, session: Session, w: SvWorld, params: dict[str, str], field: str
) -> None:
    response = get(client_for(app, session, w.users["auditor"]), **params)

    assert response.status_code == 400
    assert response.json["code"] == "validation_error"
    assert list(response.json["errors"]) == [field]


def test_other_roles_are_refused(app: Flask, session: Session, w: SvWorld) -> None:
    for name in ("dispatcher", "cg1"):
        assert get(client_for(app, session, w.users[name]), month="2026-10").status_code == 403
    assert app.test_client().get(URL).status_code == 401


def test_the_operation_is_documented(client: FlaskClient, w: SvWorld) -> None:
    doc = client.get("/api/openapi.json").json
    op = doc["paths"]["/api/v1/supervision/kpis"]["get"]

    assert op["x-roles"] == ["agency_admin", "auditor", "sys_admin"]
    params = {p["name"]: p for p in op["parameters"]}
    assert set(params) == {"month", "agency_id", "months"}
    assert params["month"]["schema"]["pattern"] == months.MONTH_PATTERN
    assert params["months"]["schema"]["maximum"] == sv.MAX_MONTHS
    assert {"200", "400", "401", "403"} <= set(op["responses"])
