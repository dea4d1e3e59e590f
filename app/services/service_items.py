"""The LTCI service-item catalogue (服务项目清单): read by everyone, kept by the operator."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.models import ServiceItem, User
from app.services.crud import PageResult, apply, ensure_unique, get_visible, paginate


def list_service_items(
    session: Session,
    actor: User,
    *,
    q: str | None = None,
    category: str | None = None,
    skill: str | None = None,
    active: bool | None = None,
    page: int = 1,
    per_page: int = 50,
) -> PageResult[ServiceItem]:
    stmt = select(ServiceItem)
    if q:
        pattern = f"%{q}%"
        stmt = stmt.where(
            or_(
                ServiceItem.code.ilike(pattern),
                ServiceItem.name_zh.ilike(pattern),
                ServiceItem.name_en.ilike(pattern),
            )
        )
    if category:
        stmt = stmt.where(ServiceItem.category == category)
    if skill:
        stmt = stmt.where(ServiceItem.required_skill == skill)
    if active is not None:
        stmt = stmt.where(ServiceItem.active == active)
    return paginate(session, stmt.order_by(ServiceItem.code), page, per_page)


def get_service_item(session: Session, actor: User, item_id: int) -> ServiceItem:
    stmt = select(ServiceItem).where(ServiceItem.id == item_id)
    return get_visible(session, stmt, _("Service item"))  # type: ignore[no-any-return]


def create_service_item(session: Session, actor: User, fields: Mapping[str, Any]) -> ServiceItem:
    ensure_unique(session, ServiceItem.code, fields["code"], "code")
    item = ServiceItem(**fields)
    session.add(item)
    session.commit()
    return item


def update_service_item(
    session: Session, actor: User, item_id: int, fields: Mapping[str, Any]
) -> ServiceItem:
    item = get_service_item(session, actor, item_id)
    if "code" in fields:
        ensure_unique(session, ServiceItem.code, fields["code"], "code", exclude_id=item.id)
    apply(item, fields)
    session.commit()
    return item
