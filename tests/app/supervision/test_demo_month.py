"""The simulated demo month: ``flask demo month`` for one agency, without injected
patterns; its visits really verified (records, actions, statuses, time-bank credits), no
anomaly finding at all on the honest month, the command's guards, and the staffing being
deterministic for a seed.

The month is simulated once for the module, through the command line; what the tests
check is read out right away, because the suite empties every table after each test.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from app.extensions import db
from app.models import (
    Agency,
    EvvAction,
    Qualification,
    Role,
    User,
    Visit,
    VisitAssignment,
    VisitVerification,
)
from app.services import anomalies, demo_month
from app.services.auth import authenticate
from app.services.demo import DEMO_PASSWORD, load_demo
from app.services.errors import Conflict, NotFound
from app.services.visits import generate_visits
from timebank.schema import transfers

TODAY = dt.date(2026, 10, 20)
MONTH = dt.date(2026, 9, 1)
AGENCY = "ANRAN"


@dataclass(frozen=True)
class Month:
    exit_code: int
    output: str
    agency_id: int
    statuses: Counter[str]
    other_agencies_visits: int
    assignments_without_verified_record: int
    records: Counter[str]
    actions: Counter[str]
    stray_actions: int
    volunteer_records: int
    credits: int
    findings: int
    workers_without_login: int
    made_login_works: bool
    again_exit: int
    again_output: str
    statuses_after_again: Counter[str]
    refused_again: str
    refused_future: str
    refused_unknown: str
    bad_month: tuple[int, str]
    bad_agency: tuple[int, str]


@pytest.fixture(scope="module")
def month(app: Flask) -> Month:
    session = db.session
    load_demo(session, seed=1, today=TODAY)
    runner = app.test_cli_runner()
    args = ["demo", "month", "--month", "2026-09", "--seed", "5", "--agency", AGENCY, "--clean"]
    result = runner.invoke(args=args)
    agency_id = session.scalar(select(Agency.id).where(Agency.code == AGENCY))
    assert agency_id is not None
    in_month = (Visit.agency_id == agency_id, Visit.date.between(MONTH, dt.date(2026, 9, 30)))
    statuses = Counter(dict(session.execute(_by(Visit.status, *in_month)).tuples().all()))
    again = runner.invoke(args=[*args[:4], "--if-empty"])
    auditor = session.scalar(select(User).where(User.role == Role.AUDITOR))
    assert auditor is not None
    made = session.scalar(select(User).where(User.username.like(f"{AGENCY.lower()}.%0__")))
    assert made is not None
    return Month(
        exit_code=result.exit_code,
        output=result.output,
        agency_id=agency_id,
        statuses=statuses,
        other_agencies_visits=_count(
            Visit.agency_id != agency_id, Visit.date.between(MONTH, dt.date(2026, 9, 30))
        ),
        assignments_without_verified_record=_unverified_assignments(agency_id),
        records=Counter(dict(session.execute(_by(VisitVerification.kind)).tuples().all())),
        actions=Counter(dict(session.execute(_by(EvvAction.state)).tuples().all())),
        stray_actions=_stray_actions(),
        volunteer_records=_count(
            VisitVerification.volunteer_id.is_not(None), VisitVerification.outcome == "verified"
        ),
        credits=int(
            session.scalar(
                select(func.count()).select_from(transfers).where(transfers.c.id.like("earn:%"))
            )
            or 0
        ),
        findings=len(anomalies.findings(session, auditor, MONTH)),
        workers_without_login=_workers_without_login(agency_id),
        made_login_works=authenticate(session, made.username, DEMO_PASSWORD) is not None,
        again_exit=again.exit_code,
        again_output=again.output,
        statuses_after_again=Counter(
            dict(session.execute(_by(Visit.status, *in_month)).tuples().all())
        ),
        refused_again=_refusal(month=MONTH, agency_ids=[agency_id]),
        refused_future=_refusal(month=dt.date.today() + dt.timedelta(days=40), agency_ids=None),
        refused_unknown=_refusal(month=dt.date(2026, 7, 1), agency_ids=[999_999]),
        bad_month=_invoke(runner, ["demo", "month", "--month", "2026-9x"]),
        bad_agency=_invoke(runner, ["demo", "month", "--month", "2026-08", "--agency", "NOPE"]),
    )


def _by(column: Any, *where: Any) -> Any:
    return select(column, func.count()).select_from(column.class_).where(*where).group_by(column)


def _count(*where: Any) -> int:
    table = where[0].left.table
    return int(db.session.scalar(select(func.count()).select_from(table).where(*where)) or 0)


def _unverified_assignments(agency_id: int) -> int:
    """Assignments of verified visits whose worker has no current verified record."""
    later = aliased(VisitVerification)
    current = (
        select(VisitVerification.id)
        .where(
            VisitVerification.visit_id == VisitAssignment.visit_id,
            VisitVerification.outcome == "verified",
            (VisitVerification.caregiver_id == VisitAssignment.caregiver_id)
            | (VisitVerification.volunteer_id == VisitAssignment.volunteer_id),
            ~select(later.id).where(later.supersedes_id == VisitVerification.id).exists(),
        )
        .exists()
    )
    stmt = (
        select(func.count())
        .select_from(VisitAssignment)
        .join(Visit, Visit.id == VisitAssignment.visit_id)
        .where(Visit.agency_id == agency_id, Visit.status == "verified", ~current)
    )
    return int(db.session.scalar(stmt) or 0)


def _stray_actions() -> int:
    """Actions no verification record points at."""
    used = select(VisitVerification.check_in_action_id).union(
        select(VisitVerification.check_out_action_id)
    )
    return int(
        db.session.scalar(
            select(func.count()).select_from(EvvAction).where(EvvAction.id.not_in(used))
        )
        or 0
    )


def _workers_without_login(agency_id: int) -> int:
    workers = demo_month._workers(db.session, agency_id)
    logins = db.session.execute(
        select(User.caregiver_id, User.volunteer_id).where(User.agency_id == agency_id)
    ).all()
    have = {("caregiver", c) for c, _v in logins if c} | {("volunteer", v) for _c, v in logins if v}
    return sum((w.ref.kind, w.ref.id) not in have for w in workers)


def _refusal(**kwargs: Any) -> str:
    try:
        demo_month.simulate_month(db.session, seed=1, **kwargs)
    except (Conflict, NotFound) as exc:
        db.session.rollback()
        return type(exc).__name__
    return "simulated"


def _invoke(runner: Any, args: list[str]) -> tuple[int, str]:
    result = runner.invoke(args=args)
    return result.exit_code, result.output


# --- the simulated month --------------------------------------------------------------------


def test_the_command_reports_the_month(month: Month) -> None:
    assert month.exit_code == 0, month.output
    assert "Month 2026-09 simulated (seed 5, 1 agencies)" in month.output
    assert "No anomaly patterns injected." in month.output


def test_every_visit_ends_verified_cancelled_or_missed(month: Month) -> None:
    assert set(month.statuses) == {"verified", "cancelled", "missed"}
    total = sum(month.statuses.values())
    assert total > 2000
    assert month.statuses["verified"] > 0.85 * total
    assert 0 < month.statuses["missed"] < 0.02 * total
    assert month.other_agencies_visits == 0  # only the agency asked for


def test_verified_visits_carry_the_evv_records_of_every_worker(month: Month) -> None:
    assert month.assignments_without_verified_record == 0
    assert month.records["evaluation"] >= month.statuses["verified"]
    # Lost GPS fixes made exceptions, which the dispatcher approved the next morning.
    assert 0 < month.records.get("approval", 0) < 0.05 * month.records["evaluation"]
    assert set(month.actions) == {"applied"}
    assert month.actions["applied"] == 2 * month.records["evaluation"]
    assert month.stray_actions == 0


def test_volunteers_are_credited_in_the_time_bank(month: Month) -> None:
    assert month.volunteer_records > 0
    assert month.credits == month.volunteer_records


def test_the_honest_month_has_no_anomaly(month: Month) -> None:
    assert month.findings == 0


def test_every_worker_got_a_phone_login_that_no_password_opens(month: Month) -> None:
    assert month.workers_without_login == 0
    assert not month.made_login_works


# --- guards -------------------------------------------------------------------------------


def test_if_empty_leaves_a_simulated_month_alone(month: Month) -> None:
    assert month.again_exit == 0
    assert "2026-09 already has visits" in month.again_output
    assert month.statuses_after_again == month.statuses


def test_a_worked_month_an_unfinished_one_and_unknown_agencies_are_refused(
    month: Month,
) -> None:
    assert month.refused_again == "Conflict"
    assert month.refused_future == "Conflict"
    assert month.refused_unknown == "NotFound"


def test_bad_options_are_usage_errors(month: Month) -> None:
    assert month.bad_month[0] == 2
    assert "not a month" in month.bad_month[1]
    assert month.bad_agency[0] == 2
    assert "NOPE" in month.bad_agency[1]


# --- determinism ----------------------------------------------------------------------------


def _fingerprint(outcomes: list[demo_month.Outcome]) -> list[tuple[Any, ...]]:
    return [
        (
            o.visit.id,
            o.fate,
            o.reason,
            o.workers,
            tuple((p.check_in_at, p.check_out_at, p.check_in, p.check_out) for p in o.parts),
        )
        for o in outcomes
    ]


def test_the_staffing_and_evidence_repeat_for_a_seed(app: Flask) -> None:
    session = db.session
    load_demo(session, seed=1, today=TODAY)
    agency_id = session.scalar(select(Agency.id).where(Agency.code == AGENCY))
    assert agency_id is not None
    days = [dt.date(2026, 9, 7) + dt.timedelta(days=n) for n in range(3)]
    for day in days:
        generate_visits(session, day, agency_id)
    workers = demo_month._workers(session, agency_id)
    visits = demo_month._visits(session, agency_id, days[0], days[-1])
    rules = anomalies.current_rules()

    def plan(seed: str) -> list[tuple[Any, ...]]:
        planner = demo_month.Planner(random.Random(seed), rules, workers, days)
        return _fingerprint(planner.plan(visits))

    first = plan("5:2")
    assert len(first) == len(visits) > 200
    assert first == plan("5:2")
    assert first != plan("6:2")


def test_the_injected_certificate_lapses_inside_the_month(app: Flask) -> None:
    session = db.session
    load_demo(session, seed=1, today=TODAY)
    agency_id = session.scalar(select(Agency.id).where(Agency.code == AGENCY))
    workers = demo_month._workers(session, agency_id)  # type: ignore[arg-type]
    injector = demo_month.Injector(
        random.Random("1:inject"), anomalies.current_rules(), MONTH, dt.date(2026, 9, 30)
    )
    setup = injector.before_planning(session, workers)
    assert setup.unqualified is not None
    assert setup.capped is not None
    assert setup.stand_in not in (None, setup.capped)
    expires = session.scalar(
        select(Qualification.expires_on).where(
            Qualification.caregiver_id == setup.unqualified.id, Qualification.skill == "nursing"
        )
    )
    assert expires is not None
    assert expires <= dt.date(2026, 9, 11)
    assert setup.unqualified_from == expires + dt.timedelta(days=1)
    session.rollback()
