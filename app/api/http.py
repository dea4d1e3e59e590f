"""What every API handler does around its one service call: declare its shapes, parse the
body or query string, and serialise the answer.

``@spec`` records a view's query, body and response models on the view function; the
OpenAPI document is built from those records and the URL map, so a handler states its
shapes once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from flask import Response, current_app, jsonify, request
from pydantic import BaseModel
from werkzeug.exceptions import UnsupportedMediaType

from app.api.schemas import Query
from app.services.crud import PageResult

F = TypeVar("F", bound=Callable[..., Any])
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Spec:
    """The declared shapes of one API operation."""

    response: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    query: type[Query] | None = None
    status: int = 200
    # Error statuses this operation can answer besides 400/401/403 (404 is added for ids).
    errors: tuple[int, ...] = field(default_factory=tuple)
    # Media types of a file download answered instead of JSON.
    files: tuple[str, ...] = field(default_factory=tuple)


def spec(
    *,
    response: type[BaseModel] | None = None,
    body: type[BaseModel] | None = None,
    query: type[Query] | None = None,
    status: int = 200,
    errors: Iterable[int] = (),
    files: Iterable[str] = (),
) -> Callable[[F], F]:
    """Declare a view's shapes; put it below ``@allow`` so the wrapper keeps the record."""

    def decorate(view: F) -> F:
        view.api_spec = Spec(response, body, query, status, tuple(errors), tuple(files))  # type: ignore[attr-defined]
        return view

    return decorate


def parse_body(model: type[M]) -> M:
    """Validate the JSON body against ``model``; an empty body counts as ``{}``.

    Requiring ``application/json`` also keeps plain cross-site form posts out: a browser
    sends that content type across origins only after a CORS preflight, which we never grant.
    """
    if request.mimetype != "application/json":
        raise UnsupportedMediaType()
    raw = request.get_data(cache=True) or b"{}"
    return model.model_validate_json(raw)


def parse_query(model: type[M]) -> M:
    return model.model_validate(request.args.to_dict(flat=True))


def page_size(requested: int | None) -> int:
    """The requested page size, defaulted and capped by the configuration."""
    cfg = current_app.config
    return int(min(requested or cfg["API_PAGE_SIZE"], cfg["API_MAX_PAGE_SIZE"]))


def list_args(query: Query) -> dict[str, Any]:
    """A parsed query string as keyword arguments of a list service, page size capped."""
    return query.model_dump() | {"per_page": page_size(query.per_page)}


def dump(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json")


def page_json(result: PageResult[Any], item: Callable[[Any], BaseModel]) -> Response:
    return jsonify(
        {
            "items": [dump(item(row)) for row in result.items],
            "page": result.page,
            "per_page": result.per_page,
            "total": result.total,
            "pages": result.pages,
        }
    )


def one_json(model: BaseModel, status: int = 200, location: str | None = None) -> Response:
    response = jsonify(dump(model))
    response.status_code = status
    if location is not None:
        response.headers["Location"] = location
    return response
