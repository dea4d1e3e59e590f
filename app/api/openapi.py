"""The OpenAPI 3.1 document of /api/v1, built from the URL map and each view's ``@spec``,
and a local page that renders it (/api/docs, no resources from outside the app).

Nothing here is written twice: paths and methods come from the registered rules, roles
from ``@allow``, summaries from the view docstrings and every schema from the pydantic
models in ``app.api.schemas``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, current_app, render_template
from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema
from werkzeug.routing import Rule

from app.api import bp
from app.api.http import Spec
from app.api.schemas import Error
from app.security import public

V1_PREFIX = "/api/v1/"
REF = "#/components/schemas/{model}"
_PATH_ARG = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")
_CACHE_KEY = "careroute_openapi"

DESCRIPTION = """\
The JSON API of CareRoute, the dispatch and time-bank platform for long-term-care
insurance (LTCI) home care.

**Authentication.** Log in at `/auth/login`; the session cookie carries an opaque token
of a server-side session that can be revoked. Every operation lists the roles allowed to
call it (`x-roles`). Agency-scoped roles (dispatcher, agency_admin, caregiver, volunteer)
see only their agency's rows: a row of another agency answers **404**, exactly like a row
that does not exist. Auditors (the insurer) and sys_admins read every agency.

**Bodies.** POST and PATCH take `Content-Type: application/json` (else 415), with strict
types (a string is not a number) and no unknown keys. PATCH changes only the keys given;
`null` is accepted only for fields that may be empty.

**Errors.** Every error has one shape, `{"code", "message", "errors"}`, where `errors`
maps a field path such as `items[0].windows[1]` to what is wrong with it. 400: invalid
input, including an unknown id inside a body (the field is named); 401: not logged in;
403: role not allowed; 404: the id in the URL is unknown or hidden; 405: wrong method;
409: conflicts with stored state (duplicate ID number, licence, code; approving an
expired plan; changing an approved plan); 500: our fault, without details.
Nothing is written when a request fails.

**Lists** take `page` (from 1) and `per_page` (default 50, capped at 200) and answer
`{"items", "page", "per_page", "total", "pages"}`.

**Privacy.** ID numbers are masked (first 4 and last 4 characters) in every list; a
single person read shows the full number to agency staff, auditors and sys_admins, never
to caregivers or volunteers. Reads of health data (care notes, assessments, care plans)
are written to the access log, one row per record read.

**Conventions.** Money in integer fen, durations in whole minutes, times of day as
local `"HH:MM"` (Asia/Shanghai), dates as `YYYY-MM-DD`, instants in ISO 8601 with offset.
"""


@dataclass(frozen=True)
class Operation:
    path: str
    method: str
    rule: Rule
    view: Any
    spec: Spec


def api_rules(app: Flask) -> list[Rule]:
    """Every registered rule under /api/v1/."""
    return [r for r in app.url_map.iter_rules() if r.rule.startswith(V1_PREFIX)]


def openapi_path(rule: Rule) -> str:
    return _PATH_ARG.sub(lambda m: "{" + m.group(2) + "}", rule.rule)


def _operations(app: Flask) -> Iterator[Operation]:
    for rule in sorted(api_rules(app), key=lambda r: r.rule):
        view = app.view_functions[rule.endpoint]
        op_spec = getattr(view, "api_spec", None) or Spec()
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            yield Operation(openapi_path(rule), method.lower(), rule, view, op_spec)


def _models(ops: list[Operation]) -> list[tuple[type[BaseModel], JsonSchemaMode]]:
    wanted: dict[tuple[type[BaseModel], JsonSchemaMode], None] = {(Error, "serialization"): None}
    for op in ops:
        for model, mode in (
            (op.spec.query, "validation"),
            (op.spec.body, "validation"),
            (op.spec.response, "serialization"),
        ):
            if model is not None:
                wanted[(model, mode)] = None  # type: ignore[index]
    return list(wanted)


def _path_parameters(rule: Rule) -> list[dict[str, Any]]:
    params = []
    for converter, name in _PATH_ARG.findall(rule.rule):
        schema = {"type": "integer", "minimum": 0} if converter == "int" else {"type": "string"}
        params.append({"name": name, "in": "path", "required": True, "schema": schema})
    return params


def _query_parameters(component: dict[str, Any]) -> list[dict[str, Any]]:
    required = set(component.get("required", []))
    params = []
    for name, schema in component.get("properties", {}).items():
        param: dict[str, Any] = {
            "name": name,
            "in": "query",
            "required": name in required,
            "schema": _without_null(schema),
        }
        if "description" in schema:
            param["description"] = schema["description"]
        params.append(param)
    return params


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    # An omitted query parameter is how a client says "no filter"; it never sends null.
    clean = {k: v for k, v in schema.items() if k not in ("description", "title")}
    options = [o for o in clean.pop("anyOf", []) if o.get("type") != "null"]
    if len(options) == 1:
        clean |= options[0]
    elif options:
        clean["anyOf"] = options
    if clean.get("default") is None:
        clean.pop("default", None)
    return clean


def _error(description: str, error_ref: dict[str, str]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": error_ref}}}


def _operation(
    op: Operation, refs: dict[Any, dict[str, str]], components: dict[str, Any]
) -> dict[str, Any]:
    doc = (op.view.__doc__ or "").strip()
    summary, _, rest = doc.partition("\n")
    roles = sorted(str(r) for r in getattr(op.view, "allowed_roles", ()))
    description = " ".join(line.strip() for line in rest.strip().splitlines())
    description = (description + "\n\n" if description else "") + "Roles: " + ", ".join(roles)
    spec = op.spec
    error_ref = refs[(Error, "serialization")]
    result: dict[str, Any] = {
        "operationId": op.rule.endpoint.removeprefix("api."),
        "tags": [op.path.removeprefix(V1_PREFIX).split("/")[0]],
        "summary": summary.strip(),
        "description": description,
        "x-roles": roles,
    }
    params = _path_parameters(op.rule)
    if spec.query is not None:
        ref = refs[(spec.query, "validation")]["$ref"]
        params += _query_parameters(components[ref.rsplit("/", 1)[1]])
    if params:
        result["parameters"] = params
    if spec.body is not None:
        result["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": refs[(spec.body, "validation")]}},
        }
    ok: dict[str, Any] = {"description": "OK" if spec.status == 200 else "Created"}
    if spec.response is not None:
        ok["content"] = {"application/json": {"schema": refs[(spec.response, "serialization")]}}
    if spec.files:
        binary = {"type": "string", "format": "binary"}
        ok["content"] = {media: {"schema": binary} for media in spec.files}
    responses: dict[str, Any] = {str(spec.status): ok}
    if spec.body is not None or spec.query is not None:
        responses["400"] = _error("Invalid input; `errors` names each field.", error_ref)
    responses["401"] = _error("Not logged in.", error_ref)
    responses["403"] = _error("The caller's role may not do this.", error_ref)
    if "{" in op.path:
        responses["404"] = _error("Unknown id, or a row of another agency.", error_ref)
    if 409 in spec.errors:
        responses["409"] = _error("Conflicts with stored state.", error_ref)
    if spec.body is not None:
        responses["415"] = _error("The body is not sent as application/json.", error_ref)
    responses["default"] = _error("Unexpected error (500), without internals.", error_ref)
    result["responses"] = responses
    return result


def build_document(app: Flask) -> dict[str, Any]:
    """The OpenAPI 3.1 document of every /api/v1 operation registered on ``app``."""
    ops = list(_operations(app))
    refs, defs = models_json_schema(_models(ops), ref_template=REF)
    components = defs.get("$defs", {})
    paths: dict[str, dict[str, Any]] = {}
    for op in ops:
        paths.setdefault(op.path, {})[op.method] = _operation(op, refs, components)
    return {
        "openapi": "3.1.0",
        "info": {"title": "CareRoute API", "version": "1", "description": DESCRIPTION},
        "servers": [{"url": "/"}],
        "tags": sorted(
            (
                {"name": name}
                for name in {t for p in paths.values() for o in p.values() for t in o["tags"]}
            ),
            key=lambda t: t["name"],
        ),
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "session"},
            },
        },
        "security": [{"session": []}],
    }


def document(app: Flask) -> dict[str, Any]:
    """The document, built once per application (routes do not change after start-up)."""
    cached = app.extensions.get(_CACHE_KEY)
    if cached is None:
        cached = app.extensions[_CACHE_KEY] = build_document(app)
    return cached  # type: ignore[no-any-return]


@bp.get("/openapi.json")
@public
def openapi() -> Response:
    """The OpenAPI document (public: it describes shapes, not data)."""
    # json.dumps keeps the models' field order; jsonify would sort the keys.
    body = json.dumps(document(current_app), ensure_ascii=False)
    return current_app.response_class(body, mimetype="application/json")


@bp.get("/docs")
@public
def docs() -> str:
    """A page rendering the OpenAPI document, from the app's own files only."""
    return render_template("api/docs.html")
