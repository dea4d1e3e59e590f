"""HTML error pages for the browser routes.

Paths under ``/api/`` belong to the JSON API, which has its own error format. These
handlers are registered by status code, and Flask prefers a code handler over any
exception-class handler, so for an API path they hand the error on to the handler the
API registered (on its blueprint or for an exception class) instead of rendering HTML.
"""

from __future__ import annotations

from typing import cast

from flask import current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException

from app.views import bp

API_PREFIX = "/api/"
API_BLUEPRINT = "api"
HTML_CODES = (400, 401, 403, 404, 405, 500)
# The flash category of "please log in": it tells a redirect caused by a missing login
# apart from an ordinary redirect to the login page (after logging out, say).
LOGIN_REQUIRED = "login_required"


def is_api_request() -> bool:
    return request.path.startswith(API_PREFIX) or request.path == API_PREFIX.rstrip("/")


def handle_http_error(error: HTTPException) -> ResponseReturnValue:
    """Render the HTML page for ``error``; unauthenticated browsers go to the login form."""
    if is_api_request():
        return _hand_on_to_api(error)
    if error.code == 401:
        return _to_login()
    return render_error(error)


def render_error(error: HTTPException) -> ResponseReturnValue:
    code = error.code or 500
    titles = {
        400: _("The request could not be understood"),
        403: _("You do not have access to this page"),
        404: _("Page not found"),
        405: _("This action is not allowed here"),
        500: _("Something went wrong on our side"),
    }
    hints = {
        403: _(
            "Your role does not include this page. Ask your agency administrator if you need it."
        ),
        404: _("The address may be mistyped, or the page has moved."),
        500: _("The error has been recorded. Please try again in a moment."),
    }
    return render_template(
        "errors/error.html",
        code=code,
        title=titles.get(code, _("Error")),
        hint=hints.get(code, ""),
    ), code


def _to_login() -> ResponseReturnValue:
    flash(_("Please log in to continue."), LOGIN_REQUIRED)
    if request.method == "GET":
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    # A form post cannot be replayed after logging in, so do not come back to it.
    return redirect(url_for("auth.login"))


def _hand_on_to_api(error: HTTPException) -> ResponseReturnValue:
    specs = current_app.error_handler_spec
    for scope, code in ((API_BLUEPRINT, error.code), (API_BLUEPRINT, None), (None, None)):
        handlers = specs.get(scope, {}).get(code, {})
        for cls in type(error).__mro__:
            handler = handlers.get(cls)
            if handler is not None:
                return cast(ResponseReturnValue, handler(error))
    return error


for _code in HTML_CODES:
    bp.app_errorhandler(_code)(handle_http_error)
