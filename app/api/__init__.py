"""The JSON API blueprint (``/api/v1``) and its OpenAPI document.

Handlers are thin: parse the body or query string with the models of ``schemas``, call
one service function, serialise. Errors of any kind leave as ``{code, message, errors}``
(``errors``); the OpenAPI document (``openapi``) is generated from the same models.
"""

from flask import Blueprint

bp = Blueprint("api", __name__)

# Imported for their side effect of registering routes and handlers on ``bp``.
from app.api import errors  # noqa: E402

errors.register(bp)

from app.api import (  # noqa: E402, F401
    agencies,
    anomalies,
    dispatch,
    evv,
    mobile,
    openapi,
    persons,
    plans,
    service_items,
    settlement,
    staff,
    supervision,
    timebank,
    visits,
)
