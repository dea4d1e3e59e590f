"""The web shell: the home page of every role with its figures, the language switch,
the health check and the HTML error pages."""

from __future__ import annotations

import datetime as dt
from html.parser import HTMLParser

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from werkzeug.exceptions import Forbidden, InternalServerError

from app.models import Role, VisitStatus
from app.views.errors import render_error
from app.views.shell import device_filter
from tests.app.conftest import World, add_person, add_visit, assign
from tests.conftest import login, make_user


class FigureParser(HTMLParser):
    """Collects {panel key: {figure key: value}} from a rendered home page."""

    def __init__(self) -> None:
        super().__init__()
        self.panels: dict[str, dict[str, int]] = {}
        self._panel: str | None = None
        self._figure: str | None = None
        self._in_dd = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        classes = (attributes.get("class") or "").split()
        if tag == "section" and "panel" in classes:
            key = next(c for c in classes if c.startswith("panel--"))[len("panel--") :]
            # Two panels may share a key only if they differ by date; number them.
            self._panel = key if key not in self.panels else f"{key}#2"
            self.panels[self._panel] = {}
        elif tag == "div" and "figure" in classes:
            self._figure = attributes.get("data-key")
        elif tag == "dd":
            self._in_dd = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "dd":
            self._in_dd = False

    def handle_data(self, data: str) -> None:
        if self._in_dd and self._panel and self._figure and data.strip():
            self.panels[self._panel][self._figure] = int(data.strip())


def figures(html: str) -> dict[str, dict[str, int]]:
    parser = FigureParser()
    parser.feed(html)
    return parser.panels


def home_of(client: FlaskClient, session: Session, world: World, role: Role) -> str:
    login(client, session, world.users[role])
    response = client.get("/home")
    assert response.status_code == 200
    return response.text


def _second_agency_data(session: Session, world: World) -> None:
    """A person and visits in the other agency, which agency-scoped roles must not count."""
    add_person(session, world.other_agency, "陈建国", "320602194001010011")
    session.commit()


def test_index_sends_visitors_to_login_and_users_home(
    client: FlaskClient, session: Session, world: World
) -> None:
    assert client.get("/").location == "/auth/login"
    login(client, session, world.users[Role.CAREGIVER])
    assert client.get("/").location == "/home"


def test_dispatcher_home_counts_its_agency_and_tomorrows_visits(
    client: FlaskClient, session: Session, world: World
) -> None:
    _second_agency_data(session, world)
    tomorrow = world.today + dt.timedelta(days=1)
    add_visit(session, world.item, tomorrow, VisitStatus.ASSIGNED, seq=1)
    session.commit()
    panels = figures(home_of(client, session, world, Role.DISPATCHER))
    assert panels["agency"] == {"persons": 1, "active_plans": 1, "caregivers": 1, "volunteers": 1}
    tomorrow_counts = panels["tomorrow_visits"]
    assert tomorrow_counts["total"] == 2
    assert tomorrow_counts["planned"] == 1
    assert tomorrow_counts["assigned"] == 1
    assert tomorrow_counts["completed"] == 0
    assert panels["today_visits"]["assigned"] == 1


def test_dispatcher_home_shows_dates_and_role(
    client: FlaskClient, session: Session, world: World
) -> None:
    html = home_of(client, session, world, Role.DISPATCHER)
    assert "调度员" in html  # role badge
    assert "明日服务（按状态）" in html
    tomorrow = world.today + dt.timedelta(days=1)
    assert f"{tomorrow.year}年{tomorrow.month}月{tomorrow.day}日" in html


def test_caregiver_home_lists_todays_own_visits_with_name_and_address(
    client: FlaskClient, session: Session, world: World
) -> None:
    # A visit today for someone else, which the caregiver must not see.
    stranger = add_person(session, world.agency, "赵敏", "320602194505050021")
    other = add_visit(session, world.item, world.today, VisitStatus.PLANNED, seq=5)
    other.person_id = stranger.id
    session.commit()
    html = home_of(client, session, world, Role.CAREGIVER)
    assert "张秀英" in html
    assert "崇川区青年中路 8 号 2 单元 301" in html
    assert "09:00–10:00" in html
    assert "赵敏" not in html
    assert figures(html)["my_day"] == {"visits_today": 1, "done": 0, "remaining": 1}


def test_caregiver_home_orders_visits_by_time_and_skips_cancelled(
    client: FlaskClient, session: Session, world: World
) -> None:
    early = add_visit(
        session, world.item, world.today, VisitStatus.COMPLETED, seq=1, window=("07:30", "08:30")
    )
    cancelled = add_visit(
        session, world.item, world.today, VisitStatus.CANCELLED, seq=2, window=("13:00", "14:00")
    )
    assign(session, early, caregiver=world.caregiver)
    assign(session, cancelled, caregiver=world.caregiver)
    session.commit()
    html = home_of(client, session, world, Role.CAREGIVER)
    assert html.index("07:30–08:30") < html.index("09:00–10:00")
    assert "13:00–14:00" not in html
    assert figures(html)["my_day"] == {"visits_today": 2, "done": 1, "remaining": 1}


def test_caregiver_without_a_caregiver_record_sees_an_empty_day(
    client: FlaskClient, session: Session, world: World
) -> None:
    lone = make_user(session, Role.CAREGIVER, world.agency, username="lone-caregiver")
    login(client, session, lone)
    html = client.get("/home").text
    assert "今天没有分配给您的服务。" in html
    assert figures(html)["my_day"]["visits_today"] == 0


def test_volunteer_home_shows_own_visits_and_month(
    client: FlaskClient, session: Session, world: World
) -> None:
    today_visit = add_visit(
        session, world.item, world.today, VisitStatus.IN_PROGRESS, seq=3, window=("15:00", "16:00")
    )
    soon = add_visit(
        session, world.item, world.today + dt.timedelta(days=2), VisitStatus.ASSIGNED, seq=4
    )
    assign(session, today_visit, volunteer=world.volunteer)
    assign(session, soon, volunteer=world.volunteer)
    session.commit()
    html = home_of(client, session, world, Role.VOLUNTEER)
    panels = figures(html)
    assert panels["my_day"] == {"visits_today": 1, "done": 0, "remaining": 1}
    assert panels["my_month"]["next_7_days"] == 1
    assert "15:00–16:00" in html
    assert "09:00–10:00" not in html  # the caregiver's visit


def test_agency_admin_home_counts_users_and_the_month(
    client: FlaskClient, session: Session, world: World
) -> None:
    _second_agency_data(session, world)
    panels = figures(home_of(client, session, world, Role.AGENCY_ADMIN))
    assert panels["agency"]["persons"] == 1
    assert panels["agency"]["users"] == 4  # the agency-scoped roles of the world
    # The world has a visit today and one tomorrow, which may fall in the next month.
    tomorrow = world.today + dt.timedelta(days=1)
    assert panels["month_visits_by_status"]["total"] == (
        2 if tomorrow.month == world.today.month else 1
    )


def test_auditor_home_counts_every_agency(
    client: FlaskClient, session: Session, world: World
) -> None:
    _second_agency_data(session, world)
    panels = figures(home_of(client, session, world, Role.AUDITOR))
    assert panels["all_agencies"]["agencies"] == 2
    assert panels["all_agencies"]["persons"] == 2


def test_sys_admin_home_counts_users_by_role_and_live_sessions(
    client: FlaskClient, session: Session, world: World
) -> None:
    login(client.application.test_client(), session, world.users[Role.CAREGIVER])
    panels = figures(home_of(client, session, world, Role.SYS_ADMIN))
    assert panels["users_by_role"] == {role.value: 1 for role in Role}
    assert panels["system"] == {"agencies": 2, "live_sessions": 2}


def test_navigation_shows_only_existing_pages(
    client: FlaskClient, session: Session, world: World
) -> None:
    html = home_of(client, session, world, Role.DISPATCHER)
    assert 'href="/auth/sessions"' in html
    assert 'aria-current="page">首页<' in html


def test_language_switch_is_remembered_and_goes_back(client: FlaskClient) -> None:
    response = client.get("/lang/en?next=/auth/login")
    assert response.status_code == 302
    assert response.location == "/auth/login"
    page = client.get("/auth/login").text
    assert '<html lang="en">' in page
    assert "Username" in page
    client.get("/lang/zh-CN")
    page = client.get("/auth/login").text
    assert '<html lang="zh-CN">' in page
    assert "用户名" in page


def test_language_switch_goes_back_to_the_referring_page(client: FlaskClient) -> None:
    response = client.get("/lang/en", headers={"Referer": "http://localhost/auth/login?next=/home"})
    assert response.location == "/auth/login?next=/home"


@pytest.mark.parametrize(
    ("query", "headers"),
    [("?next=https://evil.example/", {}), ("", {"Referer": "https://evil.example/page"})],
)
def test_language_switch_never_redirects_off_site(
    client: FlaskClient, query: str, headers: dict[str, str]
) -> None:
    response = client.get(f"/lang/en{query}", headers=headers)
    assert response.location == "/"


def test_unknown_language_is_not_found(client: FlaskClient) -> None:
    assert client.get("/lang/fr").status_code == 404


def test_healthz(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "database": "ok"}


def test_unknown_page_gets_the_html_404(client: FlaskClient) -> None:
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert "页面不存在" in response.text
    assert 'class="card error"' in response.text


def test_api_paths_never_get_the_html_error_page(client: FlaskClient) -> None:
    response = client.get("/api/no-such-endpoint")
    assert response.status_code == 404
    assert 'class="card error"' not in response.text


@pytest.mark.parametrize(
    ("error", "text"),
    [(Forbidden(), "您无权访问此页面"), (InternalServerError(), "服务器出现错误")],
)
def test_error_pages_render(app: Flask, error: Exception, text: str) -> None:
    with app.test_request_context("/somewhere"):
        body, status = render_error(error)  # type: ignore[arg-type, misc]
    assert status == error.code  # type: ignore[attr-defined]
    assert text in body


def test_pages_work_at_phone_width(client: FlaskClient) -> None:
    page = client.get("/auth/login").text
    assert 'name="viewport" content="width=device-width, initial-scale=1"' in page
    css = client.get("/static/css/app.css")
    assert css.status_code == 200
    assert "@media (max-width: 600px)" in css.text
    assert "PingFang SC" in css.text
    css.close()


@pytest.mark.parametrize(
    ("user_agent", "label"),
    [
        (
            "Mozilla/5.0 (Linux; Android 13; V2203A) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/116.0 Mobile Safari/537.36",
            "Chrome · Android",
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.40",
            "WeChat · iOS",
        ),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/120.0 Safari/537.36 Edg/120.0",
            "Edge · Windows",
        ),
        ("curl/8.0", ""),
        (None, ""),
    ],
)
def test_sessions_name_devices_briefly(user_agent: str | None, label: str) -> None:
    assert device_filter(user_agent) == label
