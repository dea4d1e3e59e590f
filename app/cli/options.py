"""Option parsers shared by the command groups."""

from __future__ import annotations

import datetime as dt

import click

from app.services.crud import local_today
from app.services.months import parse_month, previous_month


def month_option(ctx: click.Context, param: click.Parameter, value: str | None) -> dt.date:
    """``--month YYYY-MM`` as the month's first day; by default the last whole month."""
    if value is None:
        return previous_month(local_today())
    try:
        return parse_month(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a month (YYYY-MM)") from None
