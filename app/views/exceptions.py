"""The dispatchers' EVV exception queue: visits whose check-in or check-out broke a
verification rule, to approve or reject with a reason. Auditors and operators read it."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import format_datetime
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.extensions import db
from app.models import Role
from app.security import STAFF_ROLES, allow, user
from app.services import evv
from app.services.errors import ServiceError
from app.views import bp

MANAGERS = (Role.DISPATCHER, Role.AGENCY_ADMIN)
REASON_LABELS = {
    "outside_geofence": _l("Away from the home"),
    "no_position": _l("No position"),
    "low_accuracy": _l("Position too vague"),
    "early": _l("Too early"),
    "late": _l("Too late"),
    "too_short": _l("Too short"),
    "items_missing": _l("Items missing"),
    "not_confirmed": _l("Not confirmed"),
}


@bp.route("/dispatch/exceptions")
@allow(*STAFF_ROLES)
def exceptions() -> ResponseReturnValue:
    """The queue of EVV exceptions of the user's agency (all agencies for auditors)."""
    u = user()
    entries = evv.exception_queue(db.session, u, per_page=200).items
    return render_template(
        "dispatch/exceptions.html",
        entries=entries,
        reason_labels=REASON_LABELS,
        editable=u.role in MANAGERS,
        fmt=format_datetime,
    )


@bp.route("/dispatch/exceptions/<int:verification_id>/decision", methods=["POST"])
@allow(*MANAGERS)
def decide_exception(verification_id: int) -> ResponseReturnValue:
    """Approve or reject one exception (a form post from the queue)."""
    approve = request.form.get("decision") == "approve"
    reason = (request.form.get("reason") or "").strip()[:300]
    if not reason:
        flash(_("Give a reason for the decision."), "error")
        return redirect(url_for("views.exceptions"))
    try:
        evv.decide(db.session, user(), verification_id, approve=approve, reason=reason)
    except ServiceError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        flash(_("Approved: the visit counts as verified.") if approve else _("Rejected."), "ok")
    return redirect(url_for("views.exceptions"))
