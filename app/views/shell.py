"""What every page's layout needs: navigation for the user's role, the language switch,
and date filters in the user's language."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from babel.dates import format_skeleton
from flask import current_app, request, url_for
from flask_babel import LazyString, format_date, get_locale
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from app.views import bp
from app.views.labels import figure_label, panel_label, role_label, status_label

# Pages offered in the navigation, in order. An entry shows only once its endpoint exists
# and the user's role may open it, so links never point at pages that are not built yet.
NAV_ITEMS: list[tuple[str, LazyString]] = [
    ("views.home", _l("Home")),
    ("views.board", _l("Dispatch board")),
    ("views.exceptions", _l("Visit exceptions")),
    ("views.mobile_app", _l("My route")),
    ("views.timebank_home", _l("Time bank")),
    ("views.timebank_admin", _l("Time bank")),
    ("views.settlements", _l("Settlements")),
    ("views.supervision_dashboard", _l("Supervision")),
    ("views.anomalies_page", _l("Anomalies")),
    ("auth.sessions", _l("My sessions")),
]

LANGUAGE_CHOICES = (("zh-CN", "zh_Hans_CN", "中文"), ("en", "en", "English"))


@dataclass(frozen=True)
class NavLink:
    label: str
    url: str
    active: bool


@dataclass(frozen=True)
class LanguageLink:
    label: str
    url: str
    active: bool
    lang: str


def nav_links() -> list[NavLink]:
    if not current_user.is_authenticated:
        return []
    links = []
    for endpoint, label in NAV_ITEMS:
        view = current_app.view_functions.get(endpoint)
        if view is None or current_user.role not in getattr(view, "allowed_roles", ()):
            continue
        links.append(NavLink(str(label), url_for(endpoint), request.endpoint == endpoint))
    return links


def language_links() -> list[LanguageLink]:
    here = request.full_path.rstrip("?") if request.method == "GET" else None
    current = str(get_locale() or "")
    return [
        LanguageLink(
            label=label,
            url=url_for("views.set_language", code=code, next=here),
            active=current == locale,
            lang=code,
        )
        for code, locale, label in LANGUAGE_CHOICES
    ]


def html_lang() -> str:
    return "en" if str(get_locale() or "").startswith("en") else "zh-CN"


@bp.app_context_processor
def shell_context() -> dict[str, Any]:
    return {
        "nav_links": nav_links,
        "language_links": language_links,
        "html_lang": html_lang,
        "role_label": role_label,
        "figure_label": figure_label,
        "panel_label": panel_label,
        "status_label": status_label,
    }


# Order matters: Edge and WeChat also say "Chrome", Chrome also says "Safari".
_BROWSERS = (
    ("MicroMessenger", "WeChat"),
    ("Edg/", "Edge"),
    ("Firefox/", "Firefox"),
    ("Chrome/", "Chrome"),
    ("Safari/", "Safari"),
)
_SYSTEMS = (
    ("Android", "Android"),
    ("iPhone", "iOS"),
    ("iPad", "iPadOS"),
    ("Windows", "Windows"),
    ("Mac OS X", "macOS"),
    ("Linux", "Linux"),
)


@bp.app_template_filter("device")
def device_filter(user_agent: str | None) -> str:
    """A short name for a browser's User-Agent, e.g. "Chrome · Android" ("" if unknown)."""
    if not user_agent:
        return ""
    browser = next((name for token, name in _BROWSERS if token in user_agent), "")
    system = next((name for token, name in _SYSTEMS if token in user_agent), "")
    return " · ".join(part for part in (browser, system) if part)


@bp.app_template_filter("day")
def day_filter(value: dt.date) -> str:
    """A date with its weekday, e.g. 2026年11月26日星期四 / Thursday, November 26, 2026."""
    return str(format_date(value, "full"))


@bp.app_template_filter("month")
def month_filter(value: dt.date) -> str:
    """A month and year, e.g. 2026年11月 / November 2026."""
    return format_skeleton("yMMMM", value, locale=get_locale() or "en")
