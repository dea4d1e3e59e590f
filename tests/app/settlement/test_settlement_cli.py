"""``flask settlement open``: opens the month as the agency's admin and prints its totals."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Settlement
from tests.app.settlement.conftest import MonthWorld, deliver


def test_open_prints_totals_and_is_idempotent(app: Flask, session: Session, mw: MonthWorld) -> None:
    deliver(session, mw, mw.day(2))
    runner = app.test_cli_runner()
    month = mw.period.strftime("%Y-%m")
    first = runner.invoke(args=["settlement", "open", "--month", month, "--agency", "A1"])
    assert first.exit_code == 0, first.output
    assert first.output.startswith(f"opened A1 {month} draft r0: 1 lines, fund ¥42.00")
    again = runner.invoke(args=["settlement", "open", "--month", month, "--agency", "A1"])
    assert again.output.startswith("exists A1")
    assert len(session.scalars(select(Settlement)).all()) == 1


def test_bad_month_and_agency_without_admin(app: Flask, session: Session, mw: MonthWorld) -> None:
    runner = app.test_cli_runner()
    bad = runner.invoke(args=["settlement", "open", "--month", "2026-13", "--agency", "A1"])
    assert bad.exit_code == 2
    assert "is not a month" in bad.output
    lonely = runner.invoke(args=["settlement", "open", "--agency", "B2"])
    assert lonely.exit_code == 1
    assert "no active agency admin" in lonely.output
