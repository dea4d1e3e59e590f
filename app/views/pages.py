"""The entry pages: the role's home, the language switch and the health check."""

from __future__ import annotations

from flask import abort, current_app, jsonify, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app.extensions import db
from app.i18n import LOCALE_SESSION_KEY
from app.protection import safe_next, same_host_referrer
from app.security import ALL_ROLES, allow, public, user
from app.services.crud import local_today
from app.services.dashboard import home_for
from app.views import bp

# URL spellings of the languages, mapped to the catalog names in Config.LANGUAGES.
LANGUAGE_CODES = {"zh-CN": "zh_Hans_CN", "zh": "zh_Hans_CN", "zh_Hans_CN": "zh_Hans_CN", "en": "en"}


@bp.route("/")
@public
def index() -> ResponseReturnValue:
    """Send visitors to their home page, or to the login form."""
    if current_user.is_authenticated:
        return redirect(url_for("views.home"))
    return redirect(url_for("auth.login"))


@bp.route("/home")
@allow(*ALL_ROLES)
def home() -> ResponseReturnValue:
    """The home page of the user's role with figures from their scope."""
    u = user()
    today = local_today(current_app.config["BABEL_DEFAULT_TIMEZONE"])
    page = home_for(db.session, u, today)
    return render_template(f"home/{page.role}.html", page=page, today=today)


@bp.route("/lang/<code>")
@public
def set_language(code: str) -> ResponseReturnValue:
    """Remember the chosen language in the session and go back where the user was."""
    locale = LANGUAGE_CODES.get(code)
    if locale is None or locale not in current_app.config["LANGUAGES"]:
        abort(404)
    session[LOCALE_SESSION_KEY] = locale
    target = safe_next(request.args.get("next")) or same_host_referrer()
    return redirect(target or url_for("views.index"))


@bp.route("/healthz")
@public
def healthz() -> ResponseReturnValue:
    """Liveness and database reachability, for load balancers and monitoring."""
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        db.session.rollback()
        return jsonify(status="error", database="error"), 503
    return jsonify(status="ok", database="ok")
