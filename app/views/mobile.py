"""The caregiver app (``/m/``): an installable web app for caregivers and volunteers.

The page is a shell: the route comes from ``/api/v1/my/route``, check-ins and check-outs
go through an outbox in the browser to ``/api/v1/my/evv/actions``, and route changes
arrive over Socket.IO (``static/js/mobile.js``). The service worker is served from the
site root (``/sw.js``) so that its scope covers ``/m/``; it caches only static files and
the shell, never API answers.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from typing import Any

from flask import Response, current_app, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import LazyString, get_locale
from flask_babel import lazy_gettext as _l

from app.models import Role, User
from app.security import allow, public, user
from app.services.crud import local_today
from app.views import bp

WORKER_ROLES = (Role.CAREGIVER, Role.VOLUNTEER)


@bp.route("/m/")
@allow(*WORKER_ROLES)
def mobile_app() -> ResponseReturnValue:
    """The caregiver app's shell."""
    u = user()
    return render_template(
        "mobile/app.html",
        config=mobile_config(u),
        strings={key: str(text) for key, text in JS_STRINGS.items()},
    )


@bp.route("/sw.js")
@public
def service_worker() -> ResponseReturnValue:
    """The service worker, from the site root so its scope is the whole site."""
    static = Path(current_app.static_folder or "static")
    # Read whole (a few kB) rather than streamed, so no file handle outlives the request.
    source = (static / "sw.js").read_bytes()
    # The cache name follows the static files' content: a deploy that changes any of them
    # makes browsers drop the old cache instead of serving stale scripts cache-first.
    version = f'const VERSION = "careroute-{static_digest(str(static))}";'.encode()
    source = source.replace(b'const VERSION = "careroute-v1";', version, 1)
    response = Response(source, mimetype="text/javascript")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["Service-Worker-Allowed"] = "/"
    return response


@functools.cache
def static_digest(folder: str) -> str:
    """A short digest of every static file's path and bytes (computed once per process)."""
    digest = hashlib.sha256()
    for path in sorted(Path(folder).rglob("*")):
        if path.is_file():
            digest.update(str(path.relative_to(folder)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def mobile_config(u: User) -> dict[str, Any]:
    worker = (
        {"kind": "caregiver", "id": u.caregiver_id}
        if u.role == Role.CAREGIVER
        else {"kind": "volunteer", "id": u.volunteer_id}
    )
    return {
        "userId": u.id,
        "worker": worker,
        "today": local_today(current_app.config["BABEL_DEFAULT_TIMEZONE"]).isoformat(),
        "routeUrl": "/api/v1/my/days/{date}/route",
        "actionsUrl": "/api/v1/my/evv/actions",
        "ackUrl": "/api/v1/my/notices/{id}/ack",
        "logoutUrl": url_for("auth.logout"),
        "loginUrl": url_for("auth.login"),
        "swUrl": url_for("views.service_worker"),
        "timezone": current_app.config["BABEL_DEFAULT_TIMEZONE"],
        "locale": "en" if str(get_locale() or "").startswith("en") else "zh-CN",
    }


# Every word mobile.js shows. Placeholders are %(name)s, filled in by the script.
JS_STRINGS: dict[str, LazyString] = {
    "loading": _l("Loading your route…"),
    "offline": _l("Offline: actions are kept on this phone and sent when back online."),
    "online": _l("Online"),
    "pending_n": _l("%(n)s action(s) waiting to be sent"),
    "no_visits": _l("No visits on your route today."),
    "load_failed": _l("Could not load the route: %(message)s"),
    "stale": _l("Showing the route saved on this phone at %(time)s."),
    "planned_start": _l("Planned %(time)s"),
    "window": _l("Window %(from)s–%(to)s"),
    "duration": _l("%(n)s min"),
    "items": _l("Items to do"),
    "care_notes": _l("Care notes"),
    "partner": _l("With %(names)s"),
    "navigate": _l("Navigate"),
    "amap": _l("Amap"),
    "baidu": _l("Baidu Maps"),
    "call": _l("Call"),
    "check_in": _l("Check in"),
    "check_out": _l("Check out"),
    "locating": _l("Getting your position…"),
    "no_fix": _l("No position could be had; the action is sent without one."),
    "checked_in_at": _l("Checked in %(time)s"),
    "checked_out_at": _l("Checked out %(time)s"),
    "tick_items": _l("Tick the items you did before checking out."),
    "pin": _l("PIN of the person or family (optional)"),
    "sent": _l("Sent."),
    "queued": _l("Saved on the phone; it will be sent when online."),
    "refused": _l("Not accepted: %(message)s"),
    "outcome_verified": _l("Verified"),
    "outcome_exception": _l("Sent for review: %(reasons)s"),
    "outcome_rejected": _l("Rejected by the dispatcher"),
    "route_changed": _l("Your route has changed."),
    "acknowledge": _l("Acknowledge"),
    "acknowledged": _l("Thank you, the dispatcher sees that you know."),
    "map_label": _l("Map of today's stops, in order"),
    "status_assigned": _l("To do"),
    "status_in_progress": _l("In progress"),
    "status_completed": _l("Completed"),
    "status_verified": _l("Verified"),
    "status_planned": _l("Planned"),
    "status_missed": _l("Missed"),
    "reason_outside_geofence": _l("away from the home"),
    "reason_no_position": _l("no position"),
    "reason_low_accuracy": _l("position too vague"),
    "reason_early": _l("too early"),
    "reason_late": _l("too late"),
    "reason_too_short": _l("too short"),
    "reason_items_missing": _l("items missing"),
    "reason_not_confirmed": _l("not confirmed"),
}
