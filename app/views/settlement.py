"""Settlement pages: the agency admin opens, checks and submits a month's claim; the
insurer's auditor reviews its lines, approves or returns it, and reconciles it once paid.

Plain form posts that call the same services as the API and come back with a message.
"""

from __future__ import annotations

import datetime as dt

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import format_datetime
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.extensions import db
from app.models import Role
from app.security import allow, user
from app.services import months
from app.services import settlement as svc
from app.services.claims import yuan
from app.services.crud import local_today
from app.services.errors import NotFound, ServiceError
from app.views import bp

READERS = (Role.AGENCY_ADMIN, Role.AUDITOR, Role.SYS_ADMIN)
LINES_PER_PAGE = 100
STATUS_LABELS = {
    "draft": _l("Draft"),
    "submitted": _l("Submitted"),
    "approved": _l("Approved"),
    "partly_rejected": _l("Partly rejected"),
    "resubmitted": _l("Resubmitted"),
    "reconciled": _l("Reconciled"),
}
STATE_ORDER = ("draft", "submitted", "approved", "reconciled")
REASON_LABELS = {
    "not_verified": _l("Not verified"),
    "not_in_plan": _l("Not in the approved plan"),
    "not_entitled": _l("Not entitled on that date"),
    "caregiver_not_qualified": _l("Caregiver not qualified"),
    "over_cap": _l("Over the monthly cap"),
}
REVIEW_LABELS = {
    "pending": _l("To review"),
    "accepted": _l("Accepted"),
    "disallowed": _l("Disallowed"),
}
ACTION_LABELS = {
    "open": _l("Opened"),
    "rebuild": _l("Lines rebuilt"),
    "submit": _l("Submitted"),
    "resubmit": _l("Resubmitted"),
    "approve": _l("Approved"),
    "reject": _l("Returned, partly rejected"),
    "reconcile": _l("Reconciled"),
}
STEP_DONE = {
    "submit": _l("Submitted to the insurer."),
    "resubmit": _l("Resubmitted to the insurer."),
    "approve": _l("Approved."),
    "reject": _l("Returned to the agency, partly rejected."),
    "reconcile": _l("Reconciled: the settlement is final."),
}


@bp.route("/settlements")
@allow(*READERS)
def settlements() -> ResponseReturnValue:
    """The settlements the user may see, newest month first."""
    u = user()
    result = svc.list_settlements(db.session, u, per_page=200)
    last_month = months.previous_month(local_today())
    return render_template(
        "settlement/list.html",
        settlements=result.items,
        agencies=svc.agency_names(db.session),
        status_labels=STATUS_LABELS,
        can_open=u.role == Role.AGENCY_ADMIN,
        last_month=last_month.strftime("%Y-%m"),
        yuan=yuan,
    )


@bp.route("/settlements/open", methods=["POST"])
@allow(Role.AGENCY_ADMIN)
def settlement_open() -> ResponseReturnValue:
    """Open (or find) the agency's settlement of the month in the form."""
    text = (request.form.get("period") or "").strip()
    try:
        period = dt.date.fromisoformat(text + "-01")
    except ValueError:
        flash(_("Choose a month."), "error")
        return redirect(url_for("views.settlements"))
    try:
        found, _created = svc.open_settlement(db.session, user(), period)
    except ServiceError as exc:
        db.session.rollback()
        flash(_messages(exc), "error")
        return redirect(url_for("views.settlements"))
    return redirect(url_for("views.settlement_detail", settlement_id=found.id))


@bp.route("/settlements/<int:settlement_id>")
@allow(*READERS)
def settlement_detail(settlement_id: int) -> ResponseReturnValue:
    """One settlement: totals, the steps, its lines (filterable) and its history."""
    u = user()
    status = request.args.get("status") or None
    review = request.args.get("review") or None
    page = request.args.get("page", default=1, type=int) or 1
    if status not in (None, "claimable", "rejected"):
        status = None
    if review not in (None, *REVIEW_LABELS):
        review = None
    try:
        found = svc.visible(db.session, u, settlement_id)
    except NotFound:
        abort(404)
    lines = svc.list_lines(
        db.session,
        u,
        settlement_id,
        status=status,
        review=review,
        page=max(page, 1),
        per_page=LINES_PER_PAGE,
    )
    return render_template(
        "settlement/detail.html",
        s=found,
        agency=svc.agency_names(db.session).get(found.agency_id, ""),
        lines=lines,
        names=svc.names(db.session, list(lines.items)),
        events=svc.history(db.session, u, settlement_id),
        filters={"status": status, "review": review},
        actions=_actions_for(u.role, found.status),
        reviewable=u.role == Role.AUDITOR and found.status in svc.REVIEWABLE,
        status_labels=STATUS_LABELS,
        state_order=STATE_ORDER,
        reason_labels=REASON_LABELS,
        review_labels=REVIEW_LABELS,
        action_labels=ACTION_LABELS,
        fmt=format_datetime,
        yuan=yuan,
    )


def _actions_for(role: str, status: str) -> list[str]:
    actions = [a for a, step in svc.STEPS.items() if step.role == role and status in step.sources]
    if role == Role.AGENCY_ADMIN and status in svc.REBUILDABLE:
        actions.insert(0, "rebuild")
    return actions


@bp.route("/settlements/<int:settlement_id>/step", methods=["POST"])
@allow(Role.AGENCY_ADMIN, Role.AUDITOR)
def settlement_step(settlement_id: int) -> ResponseReturnValue:
    """Rebuild, submit, approve, reject or reconcile (a form post from the page)."""
    action = request.form.get("action", "")
    reason = (request.form.get("reason") or "").strip()[:300] or None
    payment_ref = (request.form.get("payment_ref") or "").strip()[:64] or None
    try:
        if action == "rebuild":
            svc.rebuild(db.session, user(), settlement_id)
            flash(_("Lines rebuilt from the visits as they are now."), "ok")
        else:
            svc.advance(
                db.session, user(), settlement_id, action, reason=reason, payment_ref=payment_ref
            )
            flash(str(STEP_DONE[action]), "ok")
    except ServiceError as exc:
        db.session.rollback()
        flash(_messages(exc), "error")
    return redirect(url_for("views.settlement_detail", settlement_id=settlement_id))


@bp.route("/settlements/<int:settlement_id>/lines/<int:line_id>/review", methods=["POST"])
@allow(Role.AUDITOR)
def settlement_review_line(settlement_id: int, line_id: int) -> ResponseReturnValue:
    """Disallow a line with a reason, or accept it again."""
    disallow = request.form.get("decision") == "disallow"
    reason = (request.form.get("reason") or "").strip()[:300] or None
    try:
        svc.review_line(
            db.session, user(), settlement_id, line_id, disallow=disallow, reason=reason
        )
        flash(_("Line disallowed.") if disallow else _("Line accepted."), "ok")
    except ServiceError as exc:
        db.session.rollback()
        flash(_messages(exc), "error")
    back = request.form.get("back") or ""
    target = url_for("views.settlement_detail", settlement_id=settlement_id)
    return redirect(target + (back if back.startswith("?") else ""))


def _messages(exc: ServiceError) -> str:
    return " ".join([exc.message, *exc.errors.values()])
