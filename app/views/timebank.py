"""Time-bank pages: the volunteer's minutes in the mobile app's look (``/m/timebank/``)
and the admins' liability report, statements and reversals (``/timebank/admin``).

Plain server-rendered forms: each form carries a request id made when it was rendered,
so a double tap or a resubmitted form is one transfer.
"""

from __future__ import annotations

import datetime as dt
import uuid

from flask import Response, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import format_datetime, get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.extensions import db
from app.models import InsuredPerson, Role, Volunteer, VolunteerRelative
from app.security import allow, scope_to_agency, user
from app.services import timebank as tb
from app.services import timebank_hooks  # noqa: F401  (registers the verified-visit listener)
from app.services import timebank_redemption as redemption
from app.services.crud import local_today
from app.services.errors import ServiceError
from app.views import bp

ADMINS = (Role.AGENCY_ADMIN, Role.AUDITOR, Role.SYS_ADMIN)
REVERSERS = (Role.AGENCY_ADMIN, Role.SYS_ADMIN)
CODE_LABELS = {
    "service_credit": _l("Service credits"),
    "redemption": _l("Redemptions"),
    "gift": _l("Gifts"),
    "donation": _l("Donations"),
    "cap_overflow": _l("Above the storage cap"),
    "pool_grant": _l("Grants from the pool"),
    "pledge": _l("Guarantee pledges"),
    "correction": _l("Corrections"),
    "expiry": _l("Expiries"),
}


def _today() -> dt.date:
    return local_today(current_app.config["BABEL_DEFAULT_TIMEZONE"])


def _english() -> bool:
    return str(get_locale() or "").startswith("en")


def _hours(minutes: int) -> str:
    if minutes % 60 == 0:
        return _("%(h)s h", h=minutes // 60)
    return _("%(h)s h %(m)s min", h=minutes // 60, m=minutes % 60)


def _render(template: str, **context: object) -> str:
    return render_template(
        template, fmt=format_datetime, hours=_hours, english=_english(), **context
    )


def _amount(field: str = "amount_min") -> int | None:
    raw = (request.form.get(field) or "").strip()
    return int(raw) if raw.isdigit() and len(raw) <= 7 else None


def _request_id() -> str:
    raw = request.form.get("request_id") or ""
    return raw if 8 <= len(raw) <= 64 and raw.replace("-", "").isalnum() else str(uuid.uuid4())


def _flash_error(exc: ServiceError) -> None:
    db.session.rollback()
    detail = next(iter(exc.errors.values()), None)
    flash(detail or exc.message, "error")


# --- the volunteer's pages ------------------------------------------------------------------


@bp.route("/m/timebank/")
@allow(Role.VOLUNTEER)
def timebank_home() -> ResponseReturnValue:
    """My minutes at a glance, with what I can do with them."""
    u = user()
    return _render(
        "timebank/home.html",
        balance=tb.my_balance(db.session, u),
        open=redemption.open_redemptions(db.session, u),
        recent=tb.my_statement(db.session, u).lines[-3:][::-1],
    )


@bp.route("/m/timebank/statement")
@allow(Role.VOLUNTEER)
def timebank_statement() -> ResponseReturnValue:
    """My statement, newest first, with the running balance."""
    st = tb.my_statement(db.session, user())
    return _render("timebank/statement.html", st=st, lines=st.lines[::-1])


@bp.route("/m/timebank/statement.csv")
@allow(Role.VOLUNTEER)
def timebank_statement_csv() -> ResponseReturnValue:
    """My statement as a CSV file (UTF-8 with BOM, opens in spreadsheet programs)."""
    st = tb.my_statement(db.session, user())
    body = tb.statement_csv(st, current_app.config["BABEL_DEFAULT_TIMEZONE"])
    response = Response(body, mimetype="text/csv")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="timebank-{st.owner_ref.replace(":", "-")}.csv"'
    )
    return response


@bp.route("/m/timebank/redeem", methods=["GET", "POST"])
@allow(Role.VOLUNTEER)
def timebank_redeem() -> ResponseReturnValue:
    """Redeem minutes for a service to a registered relative (a visit is planned)."""
    u = user()
    if request.method == "POST":
        try:
            day = dt.date.fromisoformat(request.form.get("date") or "")
            item_id = int(request.form.get("plan_item_id") or "0")
        except ValueError:
            flash(_("Choose a service and a date."), "error")
            return redirect(url_for("views.timebank_redeem"))
        try:
            r = redemption.request_redemption(db.session, u, plan_item_id=item_id, day=day)
        except ServiceError as exc:
            _flash_error(exc)
            return redirect(url_for("views.timebank_redeem"))
        flash(
            _(
                "%(n)s minutes are held; the visit of %(date)s is being planned.",
                n=r.amount_min,
                date=r.visit.date.isoformat(),
            ),
            "ok",
        )
        return redirect(url_for("views.timebank_home"))
    return _render(
        "timebank/redeem.html",
        balance=tb.my_balance(db.session, u),
        options=redemption.redemption_options(db.session, u, _today()),
        open=redemption.open_redemptions(db.session, u),
        today=_today(),
    )


@bp.route("/m/timebank/redemptions/<int:visit_id>/cancel", methods=["POST"])
@allow(Role.VOLUNTEER)
def timebank_cancel_redemption(visit_id: int) -> ResponseReturnValue:
    """Withdraw a redemption whose visit has not started."""
    try:
        redemption.cancel_redemption(db.session, user(), visit_id)
    except ServiceError as exc:
        _flash_error(exc)
    else:
        flash(_("Cancelled: the minutes are available again."), "ok")
    return redirect(url_for("views.timebank_redeem"))


@bp.route("/m/timebank/give", methods=["GET", "POST"])
@allow(Role.VOLUNTEER)
def timebank_give() -> ResponseReturnValue:
    """Give minutes to a registered relative, or donate them to the pool."""
    u = user()
    if request.method == "POST":
        amount = _amount()
        target = request.form.get("to") or ""
        try:
            if amount is None:
                flash(_("Give a whole number of minutes."), "error")
                return redirect(url_for("views.timebank_give"))
            if target == "pool":
                tb.donate_minutes(db.session, u, amount_min=amount, request_id=_request_id())
                flash(_("Thank you: %(n)s minutes donated to the pool.", n=amount), "ok")
            else:
                relative = int(target) if target.isdigit() else 0
                tb.gift_minutes(
                    db.session,
                    u,
                    relative_id=relative,
                    amount_min=amount,
                    request_id=_request_id(),
                )
                flash(_("%(n)s minutes given.", n=amount), "ok")
        except ServiceError as exc:
            _flash_error(exc)
            return redirect(url_for("views.timebank_give"))
        return redirect(url_for("views.timebank_home"))
    vid = tb.volunteer_id_of(u)
    relatives = [(link, _relative_name(link)) for link in tb.relatives_of(db.session, vid)]
    return _render(
        "timebank/give.html",
        balance=tb.my_balance(db.session, u),
        relatives=relatives,
        request_id=str(uuid.uuid4()),
    )


def _relative_name(link: VolunteerRelative) -> str:
    if link.relative_volunteer_id is not None:
        row: Volunteer | InsuredPerson | None = db.session.get(
            Volunteer, link.relative_volunteer_id
        )
    else:
        row = db.session.get(InsuredPerson, link.relative_person_id)
    return row.name if row is not None else "?"


# --- admins ----------------------------------------------------------------------------------


@bp.route("/timebank/admin")
@allow(*ADMINS)
def timebank_admin() -> ResponseReturnValue:
    """The liability report, the members' statements and reversals."""
    u = user()
    volunteers = db.session.scalars(
        scope_to_agency(select(Volunteer), Volunteer.agency_id, u).order_by(Volunteer.member_no)
    ).all()
    return _render(
        "timebank/admin.html",
        report=tb.liability(db.session, u),
        volunteers=volunteers,
        may_reverse=u.role in REVERSERS,
        code_labels=CODE_LABELS,
    )


@bp.route("/timebank/admin/volunteers/<int:volunteer_id>")
@allow(*ADMINS)
def timebank_admin_statement(volunteer_id: int) -> ResponseReturnValue:
    """One volunteer's statement, with a reversal form on each posted line."""
    u = user()
    try:
        st = tb.volunteer_statement(db.session, u, volunteer_id)
    except ServiceError as exc:
        _flash_error(exc)
        return redirect(url_for("views.timebank_admin"))
    return _render(
        "timebank/admin_statement.html",
        st=st,
        lines=st.lines[::-1],
        volunteer_id=volunteer_id,
        may_reverse=u.role in REVERSERS,
    )


@bp.route("/timebank/admin/corrections", methods=["POST"])
@allow(*REVERSERS)
def timebank_admin_reverse() -> ResponseReturnValue:
    """Reverse a transfer, wholly or in part, with a reason (both parties are told)."""
    transfer_id = (request.form.get("transfer_id") or "").strip()[:128]
    reason = (request.form.get("reason") or "").strip()[:300]
    back = request.form.get("volunteer_id") or ""
    amount = _amount() if request.form.get("amount_min") else None
    try:
        tb.reverse_transfer(
            db.session, user(), transfer_id=transfer_id, reason=reason, amount_min=amount
        )
    except ServiceError as exc:
        _flash_error(exc)
    else:
        flash(_("Reversed; both parties see the correction on their statement."), "ok")
    if back.isdigit():
        return redirect(url_for("views.timebank_admin_statement", volunteer_id=int(back)))
    return redirect(url_for("views.timebank_admin"))
