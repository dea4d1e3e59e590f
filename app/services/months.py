"""Calendar months as the services name them: by their first day.

One place for what settlements, anomaly findings, the supervision dashboard and the
command line all need: a month's bounds, the month before today's, ``"YYYY-MM"`` parsed.
"""

from __future__ import annotations

import datetime as dt
import re

from flask_babel import gettext as _

# Care under LTCI began in the pilots of 2016; a month before 2000 is a typing error.
MONTH_PATTERN = r"^20\d\d-(0[1-9]|1[0-2])$"
_MONTH = re.compile(MONTH_PATTERN)


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def add_months(month: dt.date, n: int) -> dt.date:
    """The first day of the month ``n`` months after ``month``'s (negative: before)."""
    index = month.year * 12 + month.month - 1 + n
    return dt.date(index // 12, index % 12 + 1, 1)


def month_end(month: dt.date) -> dt.date:
    return add_months(month, 1) - dt.timedelta(days=1)


def month_bounds(day: dt.date) -> tuple[dt.date, dt.date]:
    """The first and last day of ``day``'s month."""
    return month_start(day), month_end(day)


def previous_month(today: dt.date) -> dt.date:
    """The first day of the calendar month before ``today``'s: the last whole month."""
    return add_months(month_start(today), -1)


def parse_month(value: object) -> dt.date:
    """``"YYYY-MM"`` (or a date) -> the first day of that month; else ValueError with a
    translated message."""
    if isinstance(value, dt.date):
        return month_start(value)
    text = value.strip() if isinstance(value, str) else ""
    if not _MONTH.fullmatch(text):
        raise ValueError(_("Must be a month as YYYY-MM."))
    return dt.date(int(text[:4]), int(text[5:7]), 1)
