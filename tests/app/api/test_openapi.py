"""The OpenAPI document covers every /api/v1 rule with its shapes and roles, every
reference in it resolves, and the docs page uses only the app's own files."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from app.api.openapi import api_rules, openapi_path

COMPONENT_NAME = re.compile(r"^[A-Za-z0-9._-]+$")


def _document(client: FlaskClient) -> dict[str, Any]:
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    assert response.is_json
    return response.json  # type: ignore[no-any-return]


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def test_every_api_rule_and_method_is_documented(app: Flask, client: FlaskClient) -> None:
    paths = _document(client)["paths"]
    rules = api_rules(app)

    assert len(rules) >= 30
    for rule in rules:
        documented = paths.get(openapi_path(rule), {})
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
            assert method.lower() in documented, f"{method} {rule.rule}"
    assert set(paths) == {openapi_path(rule) for rule in rules}


def test_operations_state_roles_shapes_and_errors(app: Flask, client: FlaskClient) -> None:
    doc = _document(client)
    for path, methods in doc["paths"].items():
        for method, op in methods.items():
            where = f"{method} {path}"
            view = app.view_functions["api." + op["operationId"]]
            assert op["x-roles"] == sorted(view.allowed_roles), where
            assert op["summary"], where
            responses = op["responses"]
            assert {"401", "403", "default"} <= set(responses), where
            success = [code for code in responses if code.startswith("2")]
            assert len(success) == 1, where
            assert "content" in responses[success[0]], where
            if "{" in path:
                assert "404" in responses, where
            if method in ("post", "patch"):
                assert "requestBody" in op, where
                assert "400" in responses, where
            content = responses[success[0]]["content"]
            if "application/json" not in content:  # a file download
                assert all(c["schema"]["format"] == "binary" for c in content.values()), where
                continue
            schema = content["application/json"]["schema"]
            # Lists are paginated; single objects (a balance, a report) are not lists.
            if method == "get" and "{" not in path and "/Page_" in schema.get("$ref", ""):
                names = {p["name"] for p in op["parameters"] if p["in"] == "query"}
                assert {"page", "per_page"} <= names, where


def test_every_reference_resolves_to_a_well_named_component(client: FlaskClient) -> None:
    doc = _document(client)
    schemas = doc["components"]["schemas"]

    assert doc["openapi"] == "3.1.0"
    assert all(COMPONENT_NAME.match(name) for name in schemas)
    for ref in _refs(doc):
        assert ref.startswith("#/components/schemas/")
        assert ref.rsplit("/", 1)[1] in schemas, ref


def test_request_schemas_are_strict_and_errors_have_one_shape(client: FlaskClient) -> None:
    schemas = _document(client)["components"]["schemas"]

    assert schemas["PlanCreate"]["additionalProperties"] is False
    assert schemas["PlanItemIn"]["additionalProperties"] is False
    assert set(schemas["Error"]["properties"]) == {"code", "message", "errors"}
    window = schemas["PlanItemIn"]["properties"]["windows"]["items"]
    assert window["prefixItems"][0]["pattern"] == "^([01]\\d|2[0-3]):[0-5]\\d$"


def test_the_docs_page_loads_only_local_files(client: FlaskClient) -> None:
    response = client.get("/api/docs")
    html = response.get_data(as_text=True)

    assert response.status_code == 200
    assert "/static/js/apidocs.js" in html
    assert 'data-spec-url="/api/openapi.json"' in html
    assert not re.search(r"""(src|href)=["'](https?:)?//""", html)
    script = client.get("/static/js/apidocs.js")
    assert script.status_code == 200
    assert not re.search(r"https?://", script.get_data(as_text=True))
    script.close()
