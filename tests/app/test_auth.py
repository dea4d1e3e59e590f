"""Logging in and out with server-side sessions, the user's session list, and the
request-forgery and open-redirect guards."""

from __future__ import annotations

import datetime as dt

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from app.models import Role, User, UserSession, utcnow
from app.protection import safe_next
from app.services.auth import revoke_session
from tests.app.conftest import World
from tests.conftest import PASSWORD, login

WRONG = "用户名或密码错误。"  # the one message for every failed login (zh is the default)


def _post_login(client: FlaskClient, username: str, password: str, **extra: str) -> TestResponse:
    return client.post("/auth/login", data={"username": username, "password": password, **extra})


def _sessions(session: Session, u: User) -> list[UserSession]:
    return list(session.scalars(select(UserSession).where(UserSession.user_id == u.id)))


def _session_count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(UserSession)) or 0)


def test_login_page_renders(client: FlaskClient) -> None:
    response = client.get("/auth/login")
    assert response.status_code == 200
    assert 'name="username"' in response.text
    assert 'autocomplete="current-password"' in response.text


def test_login_opens_a_server_side_session_and_goes_home(
    client: FlaskClient, session: Session, world: World
) -> None:
    u = world.users[Role.DISPATCHER]
    response = _post_login(client, u.username, PASSWORD)
    assert response.status_code == 302
    assert response.location == "/home"
    rows = _sessions(session, u)
    assert len(rows) == 1
    assert rows[0].revoked_at is None
    assert rows[0].expires_at > utcnow() + dt.timedelta(hours=11)
    with client.session_transaction() as cookie:
        token = cookie["_user_id"]
    # The cookie holds the random token; the database only its hash.
    assert len(token) >= 40
    assert rows[0].token_hash != token
    assert client.get("/home").status_code == 200


@pytest.mark.parametrize(
    ("username", "password"),
    [
        ("dispatcher-A1", "wrong password"),
        ("nobody", PASSWORD),
        ("inactive-A1", PASSWORD),
    ],
    ids=["wrong-password", "unknown-user", "inactive-user"],
)
def test_failed_logins_all_look_the_same(
    client: FlaskClient, session: Session, world: World, username: str, password: str
) -> None:
    inactive = User(
        username="inactive-A1",
        password_hash=world.users[Role.DISPATCHER].password_hash,
        display_name="Former dispatcher",
        role=Role.DISPATCHER,
        agency_id=world.agency.id,
        active=False,
    )
    session.add(inactive)
    session.commit()
    before = _session_count(session)
    response = _post_login(client, username, password)
    assert response.status_code == 400
    assert WRONG in response.text
    assert _session_count(session) == before
    assert client.get("/home").status_code == 302


def test_login_names_missing_fields(client: FlaskClient) -> None:
    response = _post_login(client, "", "")
    assert response.status_code == 400
    assert "请输入用户名。" in response.text
    assert "请输入密码。" in response.text
    assert 'aria-invalid="true"' in response.text


def test_login_rejects_an_overlong_username(client: FlaskClient, world: World) -> None:
    response = _post_login(client, "x" * 65, PASSWORD)
    assert response.status_code == 400
    assert "用户名最多 64 个字符。" in response.text


def test_login_follows_a_safe_next(client: FlaskClient, world: World) -> None:
    u = world.users[Role.CAREGIVER]
    response = _post_login(client, u.username, PASSWORD, next="/auth/sessions?x=1")
    assert response.location == "/auth/sessions?x=1"


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/home",
        "//evil.example/home",
        "/\\evil.example",
        "\\\\evil.example",
        "javascript:alert(1)",
        "/\t/evil.example",
        "home",
    ],
)
def test_login_ignores_an_open_redirect(client: FlaskClient, world: World, target: str) -> None:
    u = world.users[Role.CAREGIVER]
    response = _post_login(client, u.username, PASSWORD, next=target)
    assert response.status_code == 302
    assert response.location == "/home"


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/home", "/home"),
        ("/auth/sessions?a=1&b=2", "/auth/sessions?a=1&b=2"),
        ("", None),
        (None, None),
        ("https://evil.example", None),
        ("//evil.example", None),
        ("///evil.example", None),
        ("/\\evil.example", None),
        ("/x\r\nLocation: https://evil.example", None),
        ("mailto:a@b.c", None),
    ],
)
def test_safe_next(target: str | None, expected: str | None) -> None:
    assert safe_next(target) == expected


def test_a_logged_in_user_visiting_login_goes_home(
    client: FlaskClient, session: Session, world: World
) -> None:
    login(client, session, world.users[Role.DISPATCHER])
    response = client.get("/auth/login")
    assert response.status_code == 302
    assert response.location == "/home"


def test_anonymous_html_request_is_sent_to_login_with_next(client: FlaskClient) -> None:
    response = client.get("/home?tab=1")
    assert response.status_code == 302
    assert response.location == "/auth/login?next=/home?tab%3D1"
    follow = client.get(response.location)
    assert 'name="next" value="/home?tab=1"' in follow.text
    assert "请登录后继续。" in follow.text


def test_logout_revokes_the_session_and_the_old_cookie_stops_working(
    client: FlaskClient, session: Session, world: World
) -> None:
    u = world.users[Role.VOLUNTEER]
    _post_login(client, u.username, PASSWORD)
    with client.session_transaction() as cookie:
        token = cookie["_user_id"]
    response = client.post("/auth/logout")
    assert response.status_code == 302
    assert response.location == "/auth/login"
    (row,) = _sessions(session, u)
    session.refresh(row)
    assert row.revoked_at is not None
    # Replaying the old token (a stolen cookie, say) no longer logs anyone in.
    with client.session_transaction() as cookie:
        cookie["_user_id"] = token
    assert client.get("/home").location.startswith("/auth/login")


def test_a_revoked_session_is_refused(client: FlaskClient, session: Session, world: World) -> None:
    token = login(client, session, world.users[Role.AUDITOR])
    assert client.get("/home").status_code == 200
    revoke_session(session, token)
    assert client.get("/home").location.startswith("/auth/login")


def test_an_expired_session_is_refused(client: FlaskClient, session: Session, world: World) -> None:
    u = world.users[Role.SYS_ADMIN]
    login(client, session, u)
    session.execute(
        update(UserSession)
        .where(UserSession.user_id == u.id)
        .values(expires_at=utcnow() - dt.timedelta(seconds=1))
    )
    session.commit()
    assert client.get("/home").location.startswith("/auth/login")


def test_a_deactivated_user_is_logged_out(
    client: FlaskClient, session: Session, world: World
) -> None:
    u = world.users[Role.DISPATCHER]
    login(client, session, u)
    u.active = False
    session.commit()
    assert client.get("/home").location.startswith("/auth/login")


def test_my_sessions_lists_live_sessions_and_marks_this_one(
    client: FlaskClient, session: Session, world: World
) -> None:
    u = world.users[Role.CAREGIVER]
    _post_login(client, u.username, PASSWORD)
    login(client.application.test_client(), session, u)
    revoked = login(client.application.test_client(), session, u)
    revoke_session(session, revoked)
    page = client.get("/auth/sessions")
    assert page.status_code == 200
    assert page.text.count("结束会话") == 2  # the two live sessions, not the revoked one
    assert page.text.count("当前设备") == 1


def test_ending_another_session_logs_that_device_out(
    client: FlaskClient, session: Session, world: World
) -> None:
    u = world.users[Role.DISPATCHER]
    login(client, session, u)
    phone = client.application.test_client()
    login(phone, session, u)
    newest = max(_sessions(session, u), key=lambda s: s.id)
    response = client.post(f"/auth/sessions/{newest.id}/revoke")
    assert response.location == "/auth/sessions"
    assert phone.get("/home").location.startswith("/auth/login")
    assert client.get("/home").status_code == 200


def test_ending_this_session_logs_out(client: FlaskClient, session: Session, world: World) -> None:
    u = world.users[Role.DISPATCHER]
    login(client, session, u)
    (row,) = _sessions(session, u)
    response = client.post(f"/auth/sessions/{row.id}/revoke")
    assert response.location == "/auth/login"
    assert client.get("/home").location.startswith("/auth/login")


def test_another_users_session_cannot_be_ended(
    client: FlaskClient, session: Session, world: World
) -> None:
    login(client, session, world.users[Role.DISPATCHER])
    victim = world.users[Role.AGENCY_ADMIN]
    login(client.application.test_client(), session, victim)
    (row,) = _sessions(session, victim)
    response = client.post(f"/auth/sessions/{row.id}/revoke")
    assert response.status_code == 404
    session.refresh(row)
    assert row.revoked_at is None


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Referer": "https://evil.example/page"},
        {"Origin": "null"},
        {"Origin": "http://localhost.evil.example"},
    ],
)
def test_cross_site_posts_are_refused(
    client: FlaskClient, session: Session, world: World, headers: dict[str, str]
) -> None:
    u = world.users[Role.DISPATCHER]
    login(client, session, u)
    response = client.post("/auth/logout", headers=headers)
    assert response.status_code == 403
    assert "您无权访问此页面" in response.text
    (row,) = _sessions(session, u)
    session.refresh(row)
    assert row.revoked_at is None


@pytest.mark.parametrize(
    "headers",
    [{"Origin": "http://localhost"}, {"Referer": "http://localhost/home"}, {}],
    ids=["same-origin", "same-referer", "no-browser-headers"],
)
def test_same_site_posts_pass(
    client: FlaskClient, session: Session, world: World, headers: dict[str, str]
) -> None:
    login(client, session, world.users[Role.DISPATCHER])
    assert client.post("/auth/logout", headers=headers).status_code == 302


def test_a_cross_site_login_post_is_refused(client: FlaskClient, world: World) -> None:
    response = client.post(
        "/auth/login",
        data={"username": world.users[Role.DISPATCHER].username, "password": PASSWORD},
        headers={"Origin": "https://evil.example"},
    )
    assert response.status_code == 403


def test_security_headers(client: FlaskClient, app: Flask) -> None:
    response = client.get("/auth/login")
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
