"""The declared access matrix: who may call every endpoint of the application.

One row per registered endpoint (``static`` aside). ``test_access_matrix.py`` fails when
an endpoint has no row, when a row names an endpoint that is gone, when a view's
``@allow``/``@public`` disagrees with its row, and when a real request by any role (or
anonymously) is not answered as the row says.

To add rows: ``MATRIX["api.persons_get"] = Row(STAFF, kwargs={"person_id": Ref("person_id")})``.
``Ref(name)`` stands for an id of the test world (see ``World.ids`` in conftest.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from app.models import Role


@dataclass(frozen=True)
class Ref:
    """An id from the test world, filled in at request time (e.g. ``Ref("person_id")``)."""

    name: str


@dataclass(frozen=True)
class Row:
    """Who may call an endpoint, and how to call it in the test.

    ``roles`` are the roles let through (all six for a public view); ``public`` views also
    admit anonymous visitors. ``kwargs`` fill the URL rule; ``json`` is sent as the body.
    """

    roles: frozenset[Role]
    method: str = "GET"
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    public: bool = False
    json: Any = None


ALL = frozenset(Role)
STAFF = frozenset({Role.DISPATCHER, Role.AGENCY_ADMIN, Role.AUDITOR, Role.SYS_ADMIN})


def public(method: str = "GET", **kwargs: Any) -> Row:
    return Row(ALL, method=method, kwargs=kwargs, public=True)


MATRIX: dict[str, Row] = {
    # Web shell (app/views)
    "views.index": public(),
    "views.home": Row(ALL),
    "views.set_language": public(code="en"),
    "views.healthz": public(),
    # Login and sessions (app/auth)
    "auth.login": public("POST"),
    "auth.logout": Row(ALL, method="POST"),
    "auth.sessions": Row(ALL),
    "auth.revoke": Row(ALL, method="POST", kwargs={"session_id": 999_999}),
}
