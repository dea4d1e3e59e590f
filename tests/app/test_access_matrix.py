"""Every endpoint is in the declared access matrix, declares the same roles in code, and
answers real requests from every role and from anonymous visitors as declared."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask, url_for
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from app.models import Role
from app.views.errors import LOGIN_REQUIRED
from tests.app.access_matrix import MATRIX, Ref, Row
from tests.app.conftest import World
from tests.conftest import login

ACTORS: tuple[Role | None, ...] = (None, *Role)


def _endpoints(app: Flask) -> set[str]:
    return {rule.endpoint for rule in app.url_map.iter_rules() if rule.endpoint != "static"}


def _resolve(kwargs: Any, ids: dict[str, int]) -> dict[str, Any]:
    return {k: ids[v.name] if isinstance(v, Ref) else v for k, v in kwargs.items()}


def test_every_endpoint_has_a_row_and_every_row_an_endpoint(app: Flask) -> None:
    registered = _endpoints(app)
    missing = sorted(registered - MATRIX.keys())
    stale = sorted(MATRIX.keys() - registered)
    assert not missing, f"endpoints missing from tests/app/access_matrix.py: {missing}"
    assert not stale, f"matrix rows for endpoints that no longer exist: {stale}"


def test_declared_roles_match_the_matrix(app: Flask) -> None:
    wrong = []
    for endpoint in sorted(_endpoints(app) & MATRIX.keys()):
        view = app.view_functions[endpoint]
        declared = getattr(view, "allowed_roles", None)
        row = MATRIX[endpoint]
        if declared is None:
            wrong.append(f"{endpoint}: no @allow/@public")
        elif set(declared) != set(row.roles):
            wrong.append(f"{endpoint}: code allows {sorted(declared)}, matrix {sorted(row.roles)}")
        elif getattr(view, "is_public", False) != row.public:
            wrong.append(f"{endpoint}: public in code is {getattr(view, 'is_public', False)}")
    assert not wrong, "\n".join(wrong)


def _verdict(row: Row, actor: Role | None, path: str, status: int, login_required: bool) -> str:
    """What is wrong with one answer ("" when it is as declared)."""
    who = actor.value if actor else "anonymous"
    refused = status == 401 or login_required
    if actor is None and not row.public:
        if path.startswith("/api/"):
            return "" if status == 401 else f"{who} got {status}, expected 401"
        return "" if login_required else f"{who} got {status}, expected a redirect to log in"
    if actor is not None and actor not in row.roles:
        return "" if status == 403 else f"{who} got {status}, expected 403"
    if refused or status == 403:
        return f"{who} got {status} (login required: {login_required}), expected access"
    return ""


def _was_sent_to_login(client: FlaskClient, status: int, location: str) -> bool:
    """A redirect to the login form because the request needed a login (see views.errors)."""
    if status not in (301, 302, 303, 307, 308) or urlsplit(location).path != "/auth/login":
        return False
    with client.session_transaction() as flask_session:
        flashes = flask_session.get("_flashes", [])
    return any(category == LOGIN_REQUIRED for category, _message in flashes)


@pytest.mark.parametrize("endpoint", sorted(MATRIX))
def test_requests_are_answered_as_declared(
    app: Flask, session: Session, world: World, endpoint: str
) -> None:
    row = MATRIX[endpoint]
    if endpoint not in app.view_functions:
        pytest.fail(f"{endpoint} is in the matrix but not registered")
    with app.test_request_context():
        path = url_for(endpoint, **_resolve(row.kwargs, world.ids()))
    problems = []
    for actor in ACTORS:
        client = app.test_client()
        if actor is not None:
            login(client, session, world.users[actor])
        response = client.open(path, method=row.method, json=row.json)
        status = response.status_code
        sent_to_login = _was_sent_to_login(client, status, response.location or "")
        verdict = _verdict(row, actor, path, status, sent_to_login)
        if verdict:
            problems.append(verdict)
    assert not problems, f"{row.method} {path}:\n" + "\n".join(problems)
