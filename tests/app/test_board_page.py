"""The dispatcher board's page as the server renders it: whose day it opens on, what the
script is told, how bad query strings are answered, and that every word the script
shows is in the translated dictionary the page embeds."""

from __future__ import annotations

import datetime as dt
import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from app.config import ROOT
from app.models import Role, VisitStatus
from app.views.board import JS_STRINGS
from tests.app.conftest import World
from tests.conftest import login

JS_DIR = ROOT / "static" / "js"


class EmbeddedJson(HTMLParser):
    """The JSON documents of ``<script type="application/json" id=...>`` elements."""

    def __init__(self) -> None:
        super().__init__()
        self.documents: dict[str, Any] = {}
        self._id: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "script" and found.get("type") == "application/json":
            self._id = found.get("id")

    def handle_data(self, data: str) -> None:
        if self._id:
            self.documents[self._id] = json.loads(data)

    def handle_endtag(self, tag: str) -> None:
        self._id = None


def open_board(
    client: FlaskClient, session: Session, world: World, role: Role, query: str = "", **headers: str
) -> tuple[str, dict[str, Any], dict[str, str]]:
    login(client, session, world.users[role])
    response = client.get(f"/dispatch/board{query}", headers=headers)
    assert response.status_code == 200
    parser = EmbeddedJson()
    parser.feed(response.text)
    return response.text, parser.documents["board-config"], parser.documents["board-strings"]


def test_a_dispatcher_opens_tomorrow_of_their_own_agency_with_controls(
    client: FlaskClient, session: Session, world: World
) -> None:
    page, config, strings = open_board(client, session, world, Role.DISPATCHER)
    assert config["date"] == (world.today + dt.timedelta(days=1)).isoformat()
    assert config["agency"] == {
        "id": world.agency.id,
        "code": world.agency.code,
        "name": world.agency.name,
    }
    assert config["editable"] is True
    assert config["agencyQuery"] == ""  # agency staff never name their agency
    assert config["tileUrl"] == ""  # no tile server unless configured
    assert 'id="plan-day"' in page
    assert 'id="publish"' in page
    assert 'id="agency-select"' not in page
    assert strings["loading"] == "正在加载当天数据…"  # Chinese by default


def test_the_date_comes_from_the_query_string(
    client: FlaskClient, session: Session, world: World
) -> None:
    _page, config, _strings = open_board(
        client, session, world, Role.AGENCY_ADMIN, "?date=2027-01-04"
    )
    assert config["date"] == "2027-01-04"
    assert config["editable"] is True


@pytest.mark.parametrize("bad", ["2026-13-01", "tomorrow", "2026-02-30"])
def test_a_bad_date_is_named_and_the_default_day_shown(
    client: FlaskClient, session: Session, world: World, bad: str
) -> None:
    page, config, _strings = open_board(client, session, world, Role.DISPATCHER, f"?date={bad}")
    assert '<div class="alert" role="alert">' in page
    assert "<code>date</code>" in page
    assert bad in page
    assert config["date"] == (world.today + dt.timedelta(days=1)).isoformat()


def test_an_auditor_picks_any_agency_and_changes_nothing(
    client: FlaskClient, session: Session, world: World
) -> None:
    other = world.other_agency
    page, config, _strings = open_board(
        client, session, world, Role.AUDITOR, f"?agency_id={other.id}"
    )
    assert config["agency"]["id"] == other.id
    assert config["editable"] is False
    assert config["agencyQuery"] == f"agency_id={other.id}"
    assert re.search(rf'<option value="{world.agency.id}">', page)
    assert re.search(rf'<option value="{other.id}" selected>', page)
    for control in ('id="plan-day"', 'id="publish"', 'id="move-form"', 'id="urgent-form"'):
        assert control not in page


@pytest.mark.parametrize("bad", ["999999", "A1"])
def test_an_unknown_agency_is_named(
    client: FlaskClient, session: Session, world: World, bad: str
) -> None:
    page, config, _strings = open_board(client, session, world, Role.SYS_ADMIN, f"?agency_id={bad}")
    assert "<code>agency_id</code>" in page
    assert config["agency"] is not None  # falls back to the first agency


def test_agency_staff_cannot_switch_agency(
    client: FlaskClient, session: Session, world: World
) -> None:
    _page, config, _strings = open_board(
        client, session, world, Role.DISPATCHER, f"?agency_id={world.other_agency.id}"
    )
    assert config["agency"]["id"] == world.agency.id


def test_the_script_dictionary_follows_the_language(
    client: FlaskClient, session: Session, world: World
) -> None:
    page, config, strings = open_board(
        client, session, world, Role.DISPATCHER, **{"Accept-Language": "en-US,en;q=0.9"}
    )
    assert config["locale"] == "en"
    assert strings["loading"] == "Loading the day…"
    assert "Dispatch board" in page
    assert set(strings) == set(JS_STRINGS)


def _keys_used_by_the_script() -> tuple[set[str], set[str]]:
    """Literal keys of ``t("...")`` calls and prefixes of ``t(`prefix_${...}`)`` calls."""
    source = "\n".join(p.read_text(encoding="utf-8") for p in sorted(JS_DIR.glob("board*.js")))
    literal = set(re.findall(r"\bt\(\s*\"([a-z0-9_]+)\"", source))
    prefixes = set(re.findall(r"\bt\(\s*`([a-z_]+)\$\{", source))
    return literal, prefixes


def test_every_word_of_the_script_is_in_the_dictionary() -> None:
    literal, prefixes = _keys_used_by_the_script()
    assert len(literal) > 50  # the pattern still finds the calls
    assert not literal - set(JS_STRINGS), sorted(literal - set(JS_STRINGS))
    variants = {
        "kind_": ("optimise", "edit", "repair", "import"),
        "status_": tuple(s.value for s in VisitStatus),
        "priority_": ("1", "2", "3"),
    }
    assert prefixes == set(variants)
    # Checker findings are labelled by code, with a fallback for codes added later.
    assert "violation_other" in JS_STRINGS
    for prefix, values in variants.items():
        missing = [prefix + v for v in values if prefix + v not in JS_STRINGS]
        assert not missing, missing


def test_the_page_loads_only_local_scripts(
    client: FlaskClient, session: Session, world: World
) -> None:
    page, _config, _strings = open_board(client, session, world, Role.DISPATCHER)
    sources = re.findall(r'<script[^>]+src="([^"]+)"', page)
    assert "/static/vendor/socket.io/socket.io.min.js" in sources
    assert "/static/js/board.js" in sources
    assert all(src.startswith("/static/") for src in sources)
    assert (Path(ROOT) / "static" / "vendor" / "socket.io" / "LICENSE").exists()
