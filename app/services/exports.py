"""Settlement exports: CSV for any spreadsheet or claims system, XLSX for Excel users.

Both are written row by row from a server-side cursor, so a month of a large agency never
sits in memory: the CSV is streamed to the client as it is produced; the XLSX is written
by XlsxWriter in constant-memory mode to a temporary file and sent from there (an XLSX is
a zip whose directory comes last, so it cannot be streamed before it is complete).

CSV is UTF-8 with a byte-order mark, so Excel on Chinese Windows reads the names right.
Text cells that a spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``,
``@``, a tab or a carriage return) are prefixed with an apostrophe (OWASP's advice on CSV
injection): names and reasons come from people and must stay data. Amounts are integer
fen, as stored; no float ever touches them.

Every export is logged (who, which settlement and revision, which format, how many rows)
before the first byte leaves.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import Iterable, Iterator
from typing import Any

import xlsxwriter
from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import (
    Agency,
    Caregiver,
    ClaimLine,
    ExportLog,
    InsuredPerson,
    ServiceItem,
    Settlement,
    User,
    mask_id_number,
)

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
BATCH = 500


def safe_cell(value: Any) -> Any:
    """``value`` as a spreadsheet must hold it: text never starts a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


COLUMNS = (
    "period",
    "agency",
    "line",
    "visit",
    "service_date",
    "person",
    "id_number",
    "item_code",
    "item",
    "minutes",
    "caregiver",
    "staff_no",
    "price_fen",
    "fund_share_pct",
    "fund_fen",
    "copay_fen",
    "status",
    "reasons",
    "review",
    "review_reason",
)


def headers() -> list[str]:
    """The column titles in the reader's language, in the order of ``COLUMNS``."""
    return [
        _("Period"),
        _("Agency"),
        _("Line"),
        _("Visit"),
        _("Service date"),
        _("Person"),
        _("ID number"),
        _("Item code"),
        _("Item"),
        _("Minutes"),
        _("Caregiver"),
        _("Staff no."),
        _("Price (fen)"),
        _("Fund share %"),
        _("Fund (fen)"),
        _("Co-pay (fen)"),
        _("Status"),
        _("Reasons"),
        _("Review"),
        _("Review reason"),
    ]


def log_export(session: Session, actor: User, settlement: Settlement, fmt: str) -> ExportLog:
    """Record the export and commit, before any of it is sent."""
    rows = session.scalar(select(func.count()).where(ClaimLine.settlement_id == settlement.id))
    entry = ExportLog(
        settlement_id=settlement.id,
        user_id=actor.id,
        format=fmt,
        revision=settlement.revision,
        status=settlement.status,
        rows=int(rows or 0),
    )
    session.add(entry)
    session.commit()
    return entry


def rows(session: Session, settlement: Settlement) -> Iterator[list[Any]]:
    """The settlement's lines as export rows, read in batches."""
    agency = session.get(Agency, settlement.agency_id)
    assert agency is not None
    period = settlement.period.strftime("%Y-%m")
    stmt = (
        select(ClaimLine, InsuredPerson.name, InsuredPerson.id_number, ServiceItem.name_zh)
        .add_columns(Caregiver.name, Caregiver.staff_no)
        .join(InsuredPerson, ClaimLine.person_id == InsuredPerson.id)
        .join(ServiceItem, ClaimLine.service_item_id == ServiceItem.id)
        .outerjoin(Caregiver, ClaimLine.caregiver_id == Caregiver.id)
        .where(ClaimLine.settlement_id == settlement.id)
        .order_by(ClaimLine.service_date, ClaimLine.id)
        .execution_options(yield_per=BATCH)
    )
    for line, person, id_number, item, caregiver, staff_no in session.execute(stmt):
        yield [
            safe_cell(v)
            for v in (
                period,
                agency.code,
                line.id,
                line.visit_id,
                line.service_date.isoformat(),
                person,
                mask_id_number(id_number),
                line.item_code,
                item,
                line.minutes,
                caregiver or "",
                staff_no or "",
                line.price_fen,
                line.fund_share_pct,
                line.fund_fen,
                line.copay_fen,
                line.status,
                " ".join(line.reasons),
                line.review,
                line.review_reason or "",
            )
        ]


def csv_chunks(header: list[str], data: Iterable[list[Any]]) -> Iterator[str]:
    """The CSV text in chunks of ``BATCH`` rows, starting with the byte-order mark."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow([safe_cell(h) for h in header])
    for count, row in enumerate(data, start=1):
        writer.writerow(row)
        if count % BATCH == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def write_xlsx(header: list[str], data: Iterable[list[Any]], sheet: str) -> str:
    """Write the rows to a temporary XLSX file and return its path (the caller removes it)."""
    descriptor, path = tempfile.mkstemp(prefix="careroute-", suffix=".xlsx")
    os.close(descriptor)
    book = xlsxwriter.Workbook(path, {"constant_memory": True, "strings_to_formulas": False})
    page = book.add_worksheet(sheet[:31])
    bold = book.add_format({"bold": True})
    page.write_row(0, 0, header, bold)
    page.freeze_panes(1, 0)
    for index, row in enumerate(data, start=1):
        for column, value in enumerate(row):
            # write_string/number by type: a name like "=1+1" stays text.
            if isinstance(value, int):
                page.write_number(index, column, value)
            else:
                page.write_string(index, column, str(value))
    book.close()
    return path


def filename(settlement: Settlement, agency_code: str, ext: str) -> str:
    return f"settlement-{agency_code}-{settlement.period:%Y-%m}-r{settlement.revision}.{ext}"
