"""CSV and XLSX exports of a settlement: byte-order mark, formula injection defused, every
line present with integer fen, and a log row per export."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from typing import Any

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import ExportLog, Role
from app.services.exports import COLUMNS, headers, safe_cell
from tests.app.settlement.conftest import MonthWorld, deliver, deliver_away
from tests.conftest import login

EVIL = '=HYPERLINK("http://x","y")'


def settled(app: Flask, session: Session, mw: MonthWorld) -> tuple[Any, int]:
    mw.w.person.name = EVIL
    session.commit()
    deliver(session, mw, mw.day(2))
    deliver_away(session, mw, mw.day(3))
    client = app.test_client()
    login(client, session, mw.user(Role.AGENCY_ADMIN))
    r = client.post("/api/v1/settlements", json={"period": mw.period.strftime("%Y-%m")})
    return client, r.get_json()["id"]


def test_safe_cell() -> None:
    for text in ("=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"):
        assert safe_cell(text) == "'" + text
    assert safe_cell("张秀英") == "张秀英"
    assert safe_cell(-5) == -5
    assert safe_cell("") == ""


def test_csv_has_a_bom_every_line_and_no_formula(
    app: Flask, session: Session, mw: MonthWorld
) -> None:
    client, sid = settled(app, session, mw)
    r = client.get(f"/api/v1/settlements/{sid}/export?format=csv")
    assert r.status_code == 200
    assert r.mimetype == "text/csv"
    assert "attachment" in r.headers["Content-Disposition"]
    raw = r.get_data()
    assert raw.startswith("\ufeff".encode())
    table = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    header, rows = table[0], table[1:]
    assert len(rows) == 2
    assert len(header) == len(COLUMNS)
    person = COLUMNS.index("person")
    assert {row[person] for row in rows} == {"'" + EVIL}
    fund = COLUMNS.index("fund_fen")
    status = COLUMNS.index("status")
    assert sorted((row[status], row[fund]) for row in rows) == [
        ("claimable", "4200"),
        ("rejected", "4200"),
    ]
    assert all(not cell.startswith(("=", "+", "@")) for row in rows for cell in row)

    (log,) = session.scalars(select(ExportLog)).all()
    assert (log.settlement_id, log.format, log.rows, log.revision, log.status) == (
        sid,
        "csv",
        2,
        0,
        "draft",
    )
    assert log.user_id == mw.user(Role.AGENCY_ADMIN).id


def test_xlsx_opens_with_text_cells_and_integer_fen(
    app: Flask, session: Session, mw: MonthWorld
) -> None:
    client, sid = settled(app, session, mw)
    auditor = app.test_client()
    login(auditor, session, mw.user(Role.AUDITOR))
    r = auditor.get(f"/api/v1/settlements/{sid}/export?format=xlsx")
    assert r.status_code == 200
    assert r.headers["Content-Disposition"].endswith(".xlsx")
    data = r.get_data()
    r.close()
    book = zipfile.ZipFile(io.BytesIO(data))
    sheet = book.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet  # no formula anywhere
    assert "'=HYPERLINK" in sheet.replace("&quot;", '"')
    assert len(re.findall(r"<row ", sheet)) == 3
    assert "<v>4200</v>" in sheet
    assert "<v>1800</v>" in sheet
    formats = [log.format for log in session.scalars(select(ExportLog))]
    assert formats == ["xlsx"]


def test_headers_match_the_columns(app: Flask) -> None:
    with app.test_request_context():
        assert len(headers()) == len(COLUMNS)


def test_export_rejects_an_unknown_format(app: Flask, session: Session, mw: MonthWorld) -> None:
    client, sid = settled(app, session, mw)
    r = client.get(f"/api/v1/settlements/{sid}/export?format=pdf")
    assert r.status_code == 400
    assert "format" in r.get_json()["errors"]
    assert session.scalars(select(ExportLog)).all() == []
