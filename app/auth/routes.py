"""The login form, logout and the user's list of live sessions."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from app.auth import bp
from app.extensions import db
from app.protection import safe_next
from app.security import ALL_ROLES, LoginUser, allow, public, user
from app.services import account
from app.services.auth import revoke_session
from app.services.errors import NotFound

USERNAME_MAX = 64
PASSWORD_MAX = 200


@bp.route("/login", methods=["GET", "POST"])
@public
def login() -> ResponseReturnValue:
    """Show the login form; on a good POST open a session and go to ``next`` or home."""
    next_url = safe_next(request.values.get("next"))
    if current_user.is_authenticated:
        return redirect(next_url or url_for("views.home"))
    if request.method == "GET":
        return render_template("auth/login.html", next_url=next_url, errors={}, username="")
    username = request.form.get("username", "").strip()
    password = request.form.get("password", "")
    errors = _login_form_errors(username, password)
    if not errors:
        opened = account.log_in(
            db.session,
            username,
            password,
            user_agent=request.user_agent.string,
            ip=request.remote_addr,
        )
        if opened is not None:
            row, token = opened
            login_user(LoginUser(row, token))
            return redirect(next_url or url_for("views.home"))
        # One message for unknown user, wrong password and disabled account alike.
        errors["form"] = _("Wrong username or password.")
    return render_template(
        "auth/login.html", next_url=next_url, errors=errors, username=username
    ), 400


def _login_form_errors(username: str, password: str) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not username:
        errors["username"] = _("Enter your username.")
    elif len(username) > USERNAME_MAX:
        errors["username"] = _("A username has at most %(n)d characters.", n=USERNAME_MAX)
    if not password:
        errors["password"] = _("Enter your password.")
    elif len(password) > PASSWORD_MAX:
        errors["password"] = _("A password has at most %(n)d characters.", n=PASSWORD_MAX)
    return errors


@bp.route("/logout", methods=["POST"])
@allow(*ALL_ROLES)
def logout() -> ResponseReturnValue:
    """End this session on the server (the cookie becomes useless) and forget it here."""
    revoke_session(db.session, current_user.token)
    logout_user()
    flash(_("You have logged out."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/sessions")
@allow(*ALL_ROLES)
def sessions() -> ResponseReturnValue:
    """The user's live sessions, each with a button to end it."""
    lines = account.live_sessions(db.session, user().id, current_user.token)
    return render_template("auth/sessions.html", sessions=lines)


@bp.route("/sessions/<int:session_id>/revoke", methods=["POST"])
@allow(*ALL_ROLES)
def revoke(session_id: int) -> ResponseReturnValue:
    """End one of the user's sessions; ending the current one logs out here too."""
    try:
        was_current = account.revoke_own_session(
            db.session, user().id, session_id, current_user.token
        )
    except NotFound:
        abort(404)
    if was_current:
        logout_user()
        flash(_("You have logged out."), "info")
        return redirect(url_for("auth.login"))
    flash(_("The session has been ended."), "info")
    return redirect(url_for("auth.sessions"))
