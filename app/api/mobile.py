"""/api/v1/my: the caregiver app's own API — today's route and the check-in/check-out
actions of its outbox. Caregivers and volunteers only, each for their own visits."""

from __future__ import annotations

import datetime as dt

from flask import Response, current_app
from flask_babel import get_locale
from flask_babel import gettext as _

from app.api import bp
from app.api.http import one_json, parse_body, spec
from app.api.mobile_schemas import (
    EvvActionIn,
    EvvActionOut,
    EvvOut,
    ItemOut,
    NoticeOut,
    RouteOut,
    StopOut,
)
from app.extensions import db
from app.models import Role
from app.security import allow, user
from app.services import evv, evv_confirmation, evv_route
from app.services.crud import local_today
from app.services.errors import ValidationFailed
from app.services.evv_rules import Position

WORKERS = (Role.CAREGIVER, Role.VOLUNTEER)


@bp.get("/v1/my/days/<day>/route")
@allow(*WORKERS)
@spec(response=RouteOut)
def my_route(day: str) -> Response:
    """My route of a day (``YYYY-MM-DD`` or ``today``): stops in visiting order.

    Reading it writes the access log (care notes are health data).
    """
    route = evv_route.route_for(db.session, user(), parse_day(day))
    return one_json(route_out(route))


@bp.post("/v1/my/evv/actions")
@allow(*WORKERS)
@spec(body=EvvActionIn, response=EvvActionOut, errors=[409])
def record_evv_action() -> Response:
    """Record a check-in or check-out (idempotent by its phone-made id).

    Sending the same id again answers what was stored the first time (``duplicate``).
    A check-out that arrives before its check-in is kept as ``pending``.
    """
    body = parse_body(EvvActionIn)
    data = evv.ActionIn(
        id=body.id.lower(),
        visit_id=body.visit_id,
        kind=body.kind,
        occurred_at=body.occurred_at,
        position=(
            Position(body.position.lat, body.position.lon, body.position.accuracy_m)
            if body.position
            else None
        ),
        items_done=tuple(body.items_done),
        # The service checks a PIN and keeps only the outcome; a signature is kept.
        confirmation=(
            evv_confirmation.Confirmation(
                body.confirmation.method, body.confirmation.by, body.confirmation.value
            )
            if body.confirmation
            else None
        ),
    )
    result = evv.record_action(db.session, user(), data)
    return one_json(action_out(result))


def parse_day(text: str) -> dt.date:
    if text == "today":
        return local_today(current_app.config["BABEL_DEFAULT_TIMEZONE"])
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        message = _("Must be a date as YYYY-MM-DD.")
        raise ValidationFailed(_("Some fields are not valid."), {"date": message}) from None


def action_out(result: evv.ActionResult) -> EvvActionOut:
    a = result.action
    return EvvActionOut(
        id=a.id,
        visit_id=a.visit_id,
        kind=a.kind,
        state=a.state,  # type: ignore[arg-type]
        note=a.note,
        confirmation=a.confirmation,  # type: ignore[arg-type]
        duplicate=result.duplicate,
        visit_status=result.visit.status,  # type: ignore[arg-type]
        verification=(EvvOut.model_validate(result.verification) if result.verification else None),
    )


def route_out(route: evv_route.Route) -> RouteOut:
    english = str(get_locale() or "").startswith("en")
    stops = [
        StopOut(
            visit_id=s.visit.id,
            visit_ref=f"v-{s.visit.id}",
            status=s.visit.status,  # type: ignore[arg-type]
            planned_start=s.planned_start,
            windows=s.visit.windows,
            duration_min=s.visit.duration_min,
            staff_count=s.visit.staff_count,
            person_id=s.person.id,
            person_name=s.person.name,
            address=s.person.address,
            location=(s.person.lat, s.person.lon),
            phone=s.person.phone,
            care_notes=s.person.care_notes,
            items=[
                ItemOut(code=i["code"], name=i["name_en"] if english else i["name_zh"])
                for i in s.items
            ],
            partners=list(s.partners),
            checked_in_at=s.checked_in_at,
            checked_out_at=s.checked_out_at,
            outcome=s.outcome,
            reasons=list(s.reasons),
        )
        for s in route.stops
    ]
    return RouteOut(
        date=route.day,
        worker_ref=route.worker.ref,
        worker_name=route.worker_name,
        publication_id=route.publication_id,
        stops=stops,
        notices=[NoticeOut.model_validate(n, from_attributes=True) for n in route.notices],
    )
