"""/api/v1/service-items: the LTCI service-item catalogue."""

from __future__ import annotations

from flask import Response, url_for

from app.api import bp
from app.api.http import list_args, one_json, page_json, parse_body, parse_query, spec
from app.api.schemas import (
    Page,
    ServiceItemCreate,
    ServiceItemOut,
    ServiceItemQuery,
    ServiceItemUpdate,
)
from app.extensions import db
from app.models import Role
from app.security import ALL_ROLES, allow, user
from app.services import service_items


@bp.get("/v1/service-items")
@allow(*ALL_ROLES)
@spec(query=ServiceItemQuery, response=Page[ServiceItemOut])
def list_service_items() -> Response:
    """List the service items, ordered by code."""
    query = parse_query(ServiceItemQuery)
    result = service_items.list_service_items(db.session, user(), **list_args(query))
    return page_json(result, ServiceItemOut.model_validate)


@bp.get("/v1/service-items/<int:item_id>")
@allow(*ALL_ROLES)
@spec(response=ServiceItemOut)
def get_service_item(item_id: int) -> Response:
    """Read one service item."""
    item = service_items.get_service_item(db.session, user(), item_id)
    return one_json(ServiceItemOut.model_validate(item))


@bp.post("/v1/service-items")
@allow(Role.SYS_ADMIN)
@spec(body=ServiceItemCreate, response=ServiceItemOut, status=201, errors=[409])
def create_service_item() -> Response:
    """Add a service item to the catalogue (operators only); 409 on a duplicate code."""
    body = parse_body(ServiceItemCreate)
    item = service_items.create_service_item(db.session, user(), body.model_dump())
    location = url_for("api.get_service_item", item_id=item.id)
    return one_json(ServiceItemOut.model_validate(item), 201, location)


@bp.patch("/v1/service-items/<int:item_id>")
@allow(Role.SYS_ADMIN)
@spec(body=ServiceItemUpdate, response=ServiceItemOut, errors=[409])
def update_service_item(item_id: int) -> Response:
    """Change a service item (operators only); set active=false to retire it."""
    body = parse_body(ServiceItemUpdate)
    item = service_items.update_service_item(
        db.session, user(), item_id, body.model_dump(exclude_unset=True)
    )
    return one_json(ServiceItemOut.model_validate(item))
