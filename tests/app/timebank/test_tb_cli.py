"""``flask timebank``: verify detects a row altered behind the ledger's back, the hold
sweep, the liability report and pledges."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.extensions import db
from app.services import timebank as tb_service
from app.services import timebank_redemption as redemption
from app.services.timebank_policy import POLICY_FILE
from tests.app.timebank.conftest import TbWorld, verify_visit, volunteer_visit
from timebank import drop_trigger_ddl


def _earn(session: Session, tb: TbWorld) -> None:
    verify_visit(session, tb.user, volunteer_visit(session, tb), "09:05", "10:05")


def test_verify_passes_on_an_honest_ledger(
    runner: FlaskCliRunner, session: Session, tb: TbWorld
) -> None:
    _earn(session, tb)
    result = runner.invoke(args=["timebank", "verify"])
    assert result.exit_code == 0, result.output
    assert "ok" in result.output.lower()


def test_verify_exits_1_when_a_row_was_altered_in_the_database(
    runner: FlaskCliRunner, session: Session, tb: TbWorld
) -> None:
    _earn(session, tb)
    with db.engine.begin() as conn:
        # Only someone with write access to the database can do this: drop the guard first.
        for statement in drop_trigger_ddl(conn.dialect.name):
            if not statement.startswith("DROP FUNCTION"):
                conn.execute(text(statement))
        conn.execute(text("UPDATE tb_transfers SET amount_min = 600 WHERE code = 'service_credit'"))
    result = runner.invoke(args=["timebank", "verify"])
    assert result.exit_code == 1
    assert "hash" in result.output.lower()


def test_expire_holds_voids_holds_past_their_timeout(
    runner: FlaskCliRunner, session: Session, tb: TbWorld
) -> None:
    _earn(session, tb)
    r = redemption.request_redemption(
        session, tb.user, plan_item_id=tb.companion_item.id, day=tb.w.today
    )
    now = r.hold.created_at + dt.timedelta(days=8)
    result = runner.invoke(args=["timebank", "expire-holds", "--now", now.isoformat()])
    assert result.exit_code == 0, result.output
    assert "Voided 1 expired hold(s), 0 of closed visits" in result.output
    result = runner.invoke(args=["timebank", "expire-holds", "--now", "2026-01-01T00:00"])
    assert result.exit_code == 2
    assert "--now" in result.output


def test_pledge_and_liability(runner: FlaskCliRunner, session: Session, tb: TbWorld) -> None:
    _earn(session, tb)
    args = ["timebank", "pledge", "--id", "city-2026", "--minutes", "1000", "--reason", "budget"]
    assert runner.invoke(args=args).output.strip() == "Pledged"
    assert "Already pledged" in runner.invoke(args=args).output
    result = runner.invoke(args=["timebank", "liability"])
    assert result.exit_code == 0
    assert (
        "members 1: 60 min (held 0); pool 0; owed 60; guarantee 1000; uncovered 0" in result.output
    )
    bad = runner.invoke(args=["timebank", "pledge", "--id", "x", "--minutes", "0", "--reason", "r"])
    assert bad.exit_code == 2
    assert "--minutes" in bad.output


def test_expire_credits_is_off_by_default_and_follows_the_policy(
    app: Flask, runner: FlaskCliRunner, session: Session, tb: TbWorld, tmp_path: Path
) -> None:
    _earn(session, tb)
    assert "off" in runner.invoke(args=["timebank", "expire-credits"]).output
    policy = json.loads(POLICY_FILE.read_text())
    policy["expiry_days"] = 30
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(policy))
    app.config["CAREROUTE_TIMEBANK_POLICY_FILE"] = str(path)
    try:
        later = (dt.datetime.now(dt.UTC) + dt.timedelta(days=31)).isoformat()
        result = runner.invoke(args=["timebank", "expire-credits", "--now", later])
    finally:
        app.config.pop("CAREROUTE_TIMEBANK_POLICY_FILE")
    assert "Expired the old minutes of 1 member(s)" in result.output
    assert tb_service.my_balance(session, tb.user).balance_min == 0
