"""Locale and time-zone selection. Text is marked with gettext; catalogs live in
``app/translations`` (zh_Hans_CN and en)."""

from __future__ import annotations

from flask import current_app, has_request_context, request, session
from flask_login import current_user

LOCALE_SESSION_KEY = "locale"


def select_locale() -> str | None:
    if not has_request_context():
        return None  # CLI commands and jobs: the default locale
    languages = current_app.config["LANGUAGES"]
    chosen = session.get(LOCALE_SESSION_KEY)
    if chosen in languages:
        return str(chosen)
    user_locale = getattr(current_user, "locale", None)
    if user_locale in languages:
        return str(user_locale)
    best = request.accept_languages.best_match(["zh", "zh_CN", "en"])
    if best is None:
        return None
    return "en" if best.startswith("en") else "zh_Hans_CN"


def select_timezone() -> str:
    return str(current_app.config["BABEL_DEFAULT_TIMEZONE"])
