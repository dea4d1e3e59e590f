"""The /supervision page shell: what it hands its script (the API address for the month and
agency asked for), its picker, its chart slots, and the links from the home pages."""

from __future__ import annotations

import json
import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from app.models import Role, User
from app.services import months
from app.services.crud import local_today
from tests.app.conftest import World
from tests.conftest import login

CHARTS = ("fulfilment", "anomalies", "spending", "travel", "continuity")


def page(app: Flask, session: Session, u: User, query: str = "") -> tuple[str, dict[str, Any]]:
    client: FlaskClient = app.test_client()
    login(client, session, u)
    response = client.get(f"/supervision{query}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    found = re.search(r'<script type="application/json" id="sv-config">(.*?)</script>', html)
    assert found is not None
    return html, json.loads(found.group(1))


def test_the_auditor_picks_a_month_and_an_agency(
    app: Flask, session: Session, world: World
) -> None:
    html, config = page(app, session, world.users[Role.AUDITOR], "?month=2026-10")

    assert config["api"] == "/api/v1/supervision/kpis?month=2026-10"
    assert config["month"] == "2026-10"
    assert 'id="sv-agency"' in html
    for agency in (world.agency, world.other_agency):
        assert f'<option value="{agency.id}">{agency.name}</option>' in html
    for key in CHARTS:
        assert f'<canvas id="chart-{key}" role="img"' in html
        assert f'id="sv-{key}-table"' in html
    assert "vendor/chart.js/chart.umd.min.js" in html
    assert 'value="2026-10"' in html

    _html, one = page(
        app, session, world.users[Role.AUDITOR], f"?month=2026-10&agency_id={world.agency.id}"
    )
    assert one["api"] == f"/api/v1/supervision/kpis?month=2026-10&agency_id={world.agency.id}"


def test_an_agency_admin_has_no_agency_picker(app: Flask, session: Session, world: World) -> None:
    html, config = page(app, session, world.users[Role.AGENCY_ADMIN], "?month=2026-09")

    assert 'id="sv-agency"' not in html
    assert config["api"] == "/api/v1/supervision/kpis?month=2026-09"
    assert world.agency.name in html


def test_bad_choices_are_named_and_the_defaults_used(
    app: Flask, session: Session, world: World
) -> None:
    html, config = page(app, session, world.users[Role.SYS_ADMIN], "?month=2026-13&agency_id=nope")

    default = months.previous_month(local_today(app.config["BABEL_DEFAULT_TIMEZONE"]))
    assert config["month"] == default.strftime("%Y-%m")
    assert "agency_id" not in config["api"]
    assert "<code>month</code>" in html
    assert "<code>agency_id</code>" in html


def test_the_home_pages_of_admins_and_auditors_link_the_dashboard(
    app: Flask, session: Session, world: World
) -> None:
    for role, linked in (
        (Role.AGENCY_ADMIN, True),
        (Role.AUDITOR, True),
        (Role.DISPATCHER, False),
    ):
        client = app.test_client()
        login(client, session, world.users[role])
        html = client.get("/home").get_data(as_text=True)
        assert ('id="supervision-link" href="/supervision"' in html) is linked, role
