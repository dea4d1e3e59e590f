"""The API's one error shape, ``{code, message, errors: {field: message}}``, for every failure.

Errors raised inside API views reach the blueprint's handlers (which Flask consults before
any application-wide handler, so the HTML error pages never answer an API call). Routing
failures under ``/api/`` (unknown URL, wrong method) happen before a view is chosen, so they
are answered by a before-request hook instead of an error handler.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from flask_babel import gettext as _
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import HTTPException

from app.extensions import db
from app.services.errors import Conflict, Forbidden, NotFound, ServiceError, ValidationFailed

API_PREFIX = "/api/"

_STATUS_OF_SERVICE_ERROR: dict[type[ServiceError], int] = {
    ValidationFailed: 400,
    NotFound: 404,
    Conflict: 409,
    Forbidden: 403,
}

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


def _http_messages() -> dict[int, str]:
    return {
        400: _("The request is malformed."),
        401: _("Please log in."),
        403: _("You may not do this."),
        404: _("Not found."),
        405: _("This method is not allowed here."),
        409: _("This conflicts with the current state."),
        413: _("The request is too large."),
        415: _("Send the body as JSON (Content-Type: application/json)."),
    }


def error_response(
    status: int, code: str, message: str, errors: dict[str, str] | None = None
) -> Response:
    response = jsonify({"code": code, "message": message, "errors": errors or {}})
    response.status_code = status
    return response


# --- pydantic errors -> {field path: message} --------------------------------------------


def field_path(loc: Sequence[int | str]) -> str:
    """``("items", 0, "windows", 1)`` -> ``"items[0].windows[1]"``; the empty path is "body"."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or "body"


def _pydantic_message(error: Any) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind in ("value_error", "assertion_error") and "error" in ctx:
        return str(ctx["error"])
    messages = {
        "missing": _("This field is required."),
        "extra_forbidden": _("Unknown field."),
        "string_type": _("Must be a string."),
        "int_type": _("Must be an integer."),
        "int_parsing": _("Must be an integer."),
        "int_from_float": _("Must be an integer."),
        "float_type": _("Must be a number."),
        "float_parsing": _("Must be a number."),
        "bool_type": _("Must be true or false."),
        "bool_parsing": _("Must be true or false."),
        "list_type": _("Must be a list."),
        "tuple_type": _("Must be a list."),
        "dict_type": _("Must be an object."),
        "model_type": _("Must be an object."),
        "model_attributes_type": _("Must be an object."),
        "date_type": _("Must be a date as YYYY-MM-DD."),
        "date_parsing": _("Must be a date as YYYY-MM-DD."),
        "date_from_datetime_parsing": _("Must be a date as YYYY-MM-DD."),
        "datetime_type": _("Must be a date and time with a UTC offset (ISO 8601)."),
        "datetime_parsing": _("Must be a date and time with a UTC offset (ISO 8601)."),
        "datetime_from_date_parsing": _("Must be a date and time with a UTC offset (ISO 8601)."),
        "timezone_aware": _("Must be a date and time with a UTC offset (ISO 8601)."),
        "json_invalid": _("The body is not valid JSON."),
        "string_pattern_mismatch": _("Has the wrong format."),
        "too_long": _("Too many entries."),
    }
    if kind in messages:
        return str(messages[kind])
    bounds = {
        "greater_than_equal": (_("Must be at least %(n)s."), "ge"),
        "greater_than": (_("Must be greater than %(n)s."), "gt"),
        "less_than_equal": (_("Must be at most %(n)s."), "le"),
        "less_than": (_("Must be less than %(n)s."), "lt"),
        "string_too_short": (_("Must have at least %(n)s characters."), "min_length"),
        "string_too_long": (_("Must have at most %(n)s characters."), "max_length"),
        "too_short": (_("Must have at least %(n)s entries."), "min_length"),
    }
    if kind in bounds:
        template, key = bounds[kind]
        return str(template % {"n": _number(ctx.get(key))})
    if kind == "enum":
        return str(_("Must be one of: %(values)s.") % {"values": ctx.get("expected", "")})
    return str(error["msg"])


def _number(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def validation_errors(exc: ValidationError) -> dict[str, str]:
    """The first message for each failing field, keyed by its path."""
    errors: dict[str, str] = {}
    for error in exc.errors(include_url=False):
        errors.setdefault(field_path(error["loc"]), _pydantic_message(error))
    return errors


# --- IntegrityError -> the field at fault, when the constraint names it -------------------

# Unique constraints are named uq_<table>_<column> by the metadata's naming convention.
_CONSTRAINT_FIELDS = {
    "uq_agency_code": "code",
    "uq_agency_licence_no": "licence_no",
    "uq_insured_person_id_number": "id_number",
    "uq_caregiver_agency_staff_no": "staff_no",
    "uq_volunteer_member_no": "member_no",
    "uq_service_item_code": "code",
}
# SQLite names columns instead: "UNIQUE constraint failed: caregiver.agency_id, caregiver.staff_no".
_SQLITE_UNIQUE = re.compile(r"UNIQUE constraint failed: (.+)$")


def integrity_field(exc: IntegrityError) -> str | None:
    diag = getattr(exc.orig, "diag", None)
    name = getattr(diag, "constraint_name", None)
    if name in _CONSTRAINT_FIELDS:
        return _CONSTRAINT_FIELDS[name]
    match = _SQLITE_UNIQUE.search(str(exc.orig))
    # The last column of a composite key is the one a client chose (agency_id is implied).
    return match.group(1).split(",")[-1].strip().split(".")[-1] if match else None


# --- handlers ---------------------------------------------------------------------------


def _on_http_exception(exc: HTTPException) -> Response:
    db.session.rollback()
    status = exc.code or 500
    if status >= 500:
        return _internal_error()
    code = _HTTP_CODES.get(status, "error")
    response = error_response(status, code, _http_messages().get(status, exc.name))
    if status == 405:
        response.headers.update(exc.get_headers())
        response.headers["Content-Type"] = "application/json"
    return response


def _on_service_error(exc: ServiceError) -> Response:
    db.session.rollback()
    status = next((s for cls, s in _STATUS_OF_SERVICE_ERROR.items() if isinstance(exc, cls)), 400)
    return error_response(status, exc.code, exc.message, exc.errors)


def _on_validation_error(exc: ValidationError) -> Response:
    db.session.rollback()
    return error_response(
        400, "validation_error", _("Some fields are not valid."), validation_errors(exc)
    )


def _on_integrity_error(exc: IntegrityError) -> Response:
    # A race lost against a concurrent writer, or a rule only the database checks.
    db.session.rollback()
    current_app.logger.info("integrity error on %s: %s", request.path, exc.orig)
    field = integrity_field(exc)
    errors = {field: _("Already in use.")} if field else {}
    return error_response(409, "conflict", _http_messages()[409], errors)


def _on_unexpected(exc: Exception) -> Response:
    db.session.rollback()
    current_app.logger.exception("unhandled error on %s %s", request.method, request.path)
    return _internal_error()


def _internal_error() -> Response:
    return error_response(500, "internal_error", _("Something went wrong on our side."))


def _routing_error() -> Response | None:
    # Unknown URL or method under /api/: no view (hence no blueprint handler) was chosen.
    exc = request.routing_exception
    if not request.path.startswith(API_PREFIX) or not isinstance(exc, HTTPException):
        return None
    if exc.code is None or exc.code < 400:
        return None  # redirects (trailing slash) keep their normal behaviour
    return _on_http_exception(exc)


def register(bp: Blueprint) -> None:
    bp.register_error_handler(HTTPException, _on_http_exception)
    bp.register_error_handler(ServiceError, _on_service_error)
    bp.register_error_handler(ValidationError, _on_validation_error)
    bp.register_error_handler(IntegrityError, _on_integrity_error)
    bp.register_error_handler(Exception, _on_unexpected)
    bp.before_app_request(_routing_error)
