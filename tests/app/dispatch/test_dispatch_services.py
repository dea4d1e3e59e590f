"""The dispatch services end to end on a small day: plan -> publish -> edit -> repair,
and the rules around them (immutable versions, caps, notices, scoping)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import (
    CapOverride,
    CaregiverAbsence,
    PlanVersion,
    PlanVersionImmutable,
    RouteNotice,
    SolveJob,
    Visit,
    VisitAssignment,
)
from app.services import dispatch, dispatch_events
from app.services.dayproblem import build_day_problem, caregiver_ref, visit_ref
from app.services.errors import Conflict, NotFound, ValidationFailed
from scheduling import check, load_plan, load_problem
from tests.app.dispatch.conftest import Day, add_visit


def _plan(session: Session, day: Day, who: str = "dispatcher") -> PlanVersion:
    job = dispatch.request_plan(session, day.users[who], day.day, 2)
    assert job.status == "succeeded", job.error
    version = session.get(PlanVersion, job.plan_version_id)
    assert version is not None
    return version


def _routes(version: PlanVersion) -> dict[str, list[str]]:
    return {
        r["caregiver_id"]: [s["visit_id"] for s in r["stops"]]
        for r in version.plan["routes"]
        if r["stops"]
    }


def _holder(version: PlanVersion, ref: str) -> str | None:
    for cg, stops in _routes(version).items():
        if ref in stops:
            return cg
    return None


class Recorder:
    """Collects what the dispatch services announce."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, dict[str, Any]]] = []
        self._receivers = []
        for name in (
            "job_progress",
            "job_finished",
            "plan_published",
            "route_changed",
            "notice_acknowledged",
        ):
            signal = getattr(dispatch_events, name)

            def receive(
                sender: object, *, room: str, payload: dict[str, Any], n: str = name
            ) -> None:
                self.sent.append((n, room, payload))

            signal.connect(receive)
            self._receivers.append((signal, receive))

    def names(self) -> list[str]:
        return [n for n, _r, _p in self.sent]

    def close(self) -> None:
        for signal, receive in self._receivers:
            signal.disconnect(receive)


@pytest.fixture
def recorder() -> Any:
    r = Recorder()
    yield r
    r.close()


def test_plan_stores_a_valid_version_answering_the_day(session: Session, day: Day) -> None:
    version = _plan(session, day)

    problem, plan = load_problem(version.problem), load_plan(version.plan)
    assert version.kind == "optimise"
    assert version.number == 1
    assert version.valid
    assert version.violations == []
    assert check(problem, plan).ok
    assert {v.id for v in problem.visits} == {visit_ref(v.id) for v in day.visits}
    assert plan.kpis.assigned >= 10
    # The volunteer may take the companionship visit only.
    for r in plan.routes:
        if r.caregiver_id.startswith("vol-"):
            assert {s.visit_id for s in r.stops} <= {visit_ref(day.visits[-1].id)}


def test_a_job_reports_progress_and_its_end_to_the_board_room(
    session: Session, day: Day, recorder: Recorder
) -> None:
    version = _plan(session, day)

    room = f"board:{day.agency.id}:{day.day.isoformat()}"
    assert "job_progress" in recorder.names()
    assert recorder.names()[-1] == "job_finished"
    assert all(r == room for n, r, _p in recorder.sent)
    finished = recorder.sent[-1][2]
    assert finished["status"] == "succeeded"
    assert finished["plan_version_id"] == version.id
    job = session.scalars(select(SolveJob)).one()
    assert job.progress is not None
    assert job.progress["assigned"] == version.plan["kpis"]["assigned"]
    assert job.params["solution_limit"] > 0
    assert job.params["time_limit_s"] == 2


def test_a_plan_job_with_two_workers_records_them_and_keeps_the_cheaper_seed(
    app: Flask, session: Session, day: Day
) -> None:
    app.config["DISPATCH_SOLVER_WORKERS"] = 2
    try:
        version = _plan(session, day)
    finally:
        app.config["DISPATCH_SOLVER_WORKERS"] = 1
    job = session.scalars(select(SolveJob)).one()
    assert job.params["workers"] == 2
    plan = load_plan(version.plan)
    assert check(load_problem(version.problem), plan).ok
    assert "best of 2 seeds: seed " in plan.solver.name


def test_versions_are_never_updated_or_deleted(session: Session, day: Day) -> None:
    version = _plan(session, day)

    version.note = "changed"
    with pytest.raises(PlanVersionImmutable):
        session.flush()
    session.rollback()
    session.delete(session.get(PlanVersion, version.id))
    with pytest.raises(PlanVersionImmutable):
        session.flush()
    session.rollback()
    assert session.get(PlanVersion, version.id).note != "changed"


def test_planning_again_adds_a_version_and_keeps_the_first(session: Session, day: Day) -> None:
    first = _plan(session, day)
    first_plan = dict(first.plan)
    second = _plan(session, day)

    assert (first.number, second.number) == (1, 2)
    session.expire_all()
    assert session.get(PlanVersion, first.id).plan == first_plan


def test_a_second_job_on_a_busy_day_is_refused(session: Session, day: Day) -> None:
    session.add(
        SolveJob(
            id="busy",
            agency_id=day.agency.id,
            date=day.day,
            kind="optimise",
            status="running",
            params={},
        )
    )
    session.commit()
    with pytest.raises(Conflict):
        dispatch.request_plan(session, day.users["dispatcher"], day.day, 2)


def test_a_past_day_cannot_be_planned(session: Session, day: Day) -> None:
    with pytest.raises(ValidationFailed) as caught:
        dispatch.request_plan(session, day.users["dispatcher"], dt.date(2020, 1, 1), 2)
    assert "date" in caught.value.errors


def test_cancelling_a_running_job_stores_nothing(
    session: Session, day: Day, recorder: Recorder
) -> None:
    def cancel_on_progress(sender: object, *, room: str, payload: dict[str, Any]) -> None:
        dispatch.cancel_job(session, day.users["dispatcher"], payload["job_id"])

    dispatch_events.job_progress.connect(cancel_on_progress)
    try:
        job = dispatch.request_plan(session, day.users["dispatcher"], day.day, 2)
    finally:
        dispatch_events.job_progress.disconnect(cancel_on_progress)

    assert job.status == "cancelled"
    assert job.plan_version_id is None
    assert session.scalar(select(func.count(PlanVersion.id))) == 0
    assert recorder.sent[-1][2]["status"] == "cancelled"


def test_publish_assigns_visits_and_notifies_changed_routes(
    session: Session, day: Day, recorder: Recorder
) -> None:
    version = _plan(session, day)
    published = dispatch.publish_version(session, day.users["dispatcher"], version.id)

    routes = _routes(version)
    assert set(published.notified) == set(routes)
    rows = session.execute(
        select(VisitAssignment.visit_id, VisitAssignment.caregiver_id, VisitAssignment.volunteer_id)
    ).all()
    got = {(visit_ref(v), caregiver_ref(c) if c else f"vol-{vol}") for v, c, vol in rows}
    want = {(v, cg) for cg, stops in routes.items() for v in stops}
    assert got == want
    served = {v for stops in routes.values() for v in stops}
    for visit in day.visits:
        session.refresh(visit)
        assert visit.status == ("assigned" if visit_ref(visit.id) in served else "planned")
    notices = session.scalars(select(RouteNotice)).all()
    assert len(notices) == len(routes)
    assert all(n.first_affected_at is not None for n in notices)
    names = recorder.names()
    assert names.count("route_changed") == len(routes)
    assert "plan_published" in names
    rooms = {r for n, r, _p in recorder.sent if n == "route_changed"}
    assert f"caregiver:{day.caregivers[0].id}" in rooms or len(routes) < 3


def test_publishing_an_invalid_version_is_refused(session: Session, day: Day) -> None:
    version = _plan(session, day)
    ref = next(iter(_routes(version)[next(iter(_routes(version)))]))
    # Moving a visit to the volunteer, who may not serve personal care, breaks a rule.
    outcome = dispatch.edit_version(
        session,
        day.users["dispatcher"],
        version.id,
        {"action": "move", "visit_ref": ref, "caregiver_ref": f"vol-{day.volunteer.id}"},
    )
    edited = outcome.version
    assert edited is not None
    assert not edited.valid
    assert "volunteer" in {v["code"] for v in edited.violations}
    with pytest.raises(Conflict):
        dispatch.publish_version(session, day.users["dispatcher"], edited.id)


def test_move_in_check_mode_stores_an_edit_version(session: Session, day: Day) -> None:
    version = _plan(session, day)
    routes = _routes(version)
    source = max(routes, key=lambda cg: len(routes[cg]) if cg.startswith("cg-") else -1)
    ref = routes[source][-1]
    target = next(caregiver_ref(c.id) for c in day.caregivers if caregiver_ref(c.id) != source)

    outcome = dispatch.edit_version(
        session,
        day.users["dispatcher"],
        version.id,
        {"action": "move", "visit_ref": ref, "caregiver_ref": target},
    )

    edited = outcome.version
    assert edited is not None
    assert outcome.job is None
    assert (edited.kind, edited.parent_id, edited.number) == ("edit", version.id, 2)
    assert _holder(edited, ref) == target
    assert ref not in _routes(edited).get(source, [])
    report = check(load_problem(edited.problem), load_plan(edited.plan))
    assert [v.code for v in report.violations] == [v["code"] for v in edited.violations]
    assert "kpi" not in {v["code"] for v in edited.violations}


def test_lock_then_plan_keeps_the_locked_visit(session: Session, day: Day) -> None:
    version = _plan(session, day)
    routes = _routes(version)
    cg = next(c for c in routes if c.startswith("cg-"))
    ref = routes[cg][0]

    locked = dispatch.edit_version(
        session, day.users["dispatcher"], version.id, {"action": "lock", "visit_ref": ref}
    ).version
    assert locked is not None
    assert locked.valid
    assert [lk["visit_id"] for lk in locked.problem["locks"]] == [ref]

    again = _plan(session, day)
    assert _holder(again, ref) == cg
    assert [lk["visit_id"] for lk in again.problem["locks"]] == [ref]

    unlocked = dispatch.edit_version(
        session, day.users["dispatcher"], again.id, {"action": "unlock", "visit_ref": ref}
    ).version
    assert unlocked is not None
    assert unlocked.problem["locks"] == []


def test_move_reoptimise_runs_a_job_around_the_new_lock(session: Session, day: Day) -> None:
    version = _plan(session, day)
    routes = _routes(version)
    source = next(c for c in routes if c.startswith("cg-"))
    ref = routes[source][0]
    target = next(caregiver_ref(c.id) for c in day.caregivers if caregiver_ref(c.id) != source)

    outcome = dispatch.edit_version(
        session,
        day.users["dispatcher"],
        version.id,
        {
            "action": "move",
            "visit_ref": ref,
            "caregiver_ref": target,
            "mode": "reoptimise",
            "time_limit_s": 2,
        },
    )

    assert outcome.job is not None
    assert outcome.job.status == "succeeded"
    result = session.get(PlanVersion, outcome.job.plan_version_id)
    assert (result.kind, result.parent_id) == ("edit", version.id)
    assert result.valid
    assert _holder(result, ref) == target


def test_absent_in_check_mode_unassigns_the_rest_of_the_day(session: Session, day: Day) -> None:
    version = _plan(session, day)
    routes = _routes(version)
    cg = max((c for c in routes if c.startswith("cg-")), key=lambda c: len(routes[c]))

    edited = dispatch.edit_version(
        session,
        day.users["dispatcher"],
        version.id,
        {"action": "absent", "caregiver_ref": cg, "from": None, "reason": "sick"},
    ).version

    assert edited is not None
    assert edited.valid
    assert cg not in _routes(edited)
    unassigned = {u["visit_id"]: u["reason"] for u in edited.plan["unassigned"]}
    assert all("sick" in unassigned[v] for v in routes[cg])
    absence = session.scalars(select(CaregiverAbsence)).one()
    assert absence.from_time is None
    assert absence.reason == "sick"


def test_repair_keeps_other_routes_and_reassigns_the_absent_caregivers_visits(
    session: Session, day: Day
) -> None:
    version = _plan(session, day)
    routes = _routes(version)
    cg = max((c for c in routes if c.startswith("cg-")), key=lambda c: len(routes[c]))
    cg_id = int(cg.split("-")[1])

    job = dispatch.request_repair(session, day.users["dispatcher"], day.day, cg, "10:00", "sick")

    assert job.status == "succeeded", job.error
    repaired = session.get(PlanVersion, job.plan_version_id)
    assert (repaired.kind, repaired.parent_id) == ("repair", version.id)
    assert repaired.valid
    after = load_plan(repaired.plan)
    for r in after.routes:
        if r.caregiver_id == cg:
            assert all(s.end_s <= 10 * 3600 for s in r.stops)
    absence = session.scalars(select(CaregiverAbsence)).one()
    assert (absence.caregiver_id, absence.from_time) == (cg_id, dt.time(10, 0))
    # The day's problem now ends the absent caregiver's shift at 10:00.
    problem = build_day_problem(session, day.agency.id, day.day).problem
    assert problem.caregiver(cg).shift[1] == 10 * 3600


def test_urgent_visit_is_added_and_inserted_where_it_fits(session: Session, day: Day) -> None:
    version = _plan(session, day)
    person, item = day.persons[3], day.items[3]

    edited = dispatch.edit_version(
        session,
        day.users["dispatcher"],
        version.id,
        {
            "action": "urgent",
            "person_id": person.id,
            "plan_item_id": item.id,
            "windows": [["15:00", "16:30"]],
            "duration_min": 30,
            "priority": 1,
        },
    ).version

    assert edited is not None
    assert edited.valid
    visit = session.scalars(select(Visit).order_by(Visit.id.desc())).first()
    assert visit.date == day.day
    assert visit.priority == 1
    assert visit.seq >= 100
    assert _holder(edited, visit_ref(visit.id)) is not None


def test_urgent_visit_for_another_persons_item_is_refused(session: Session, day: Day) -> None:
    version = _plan(session, day)
    with pytest.raises(ValidationFailed) as caught:
        dispatch.edit_version(
            session,
            day.users["dispatcher"],
            version.id,
            {
                "action": "urgent",
                "person_id": day.persons[1].id,
                "plan_item_id": day.items[2].id,
                "windows": [["15:00", "16:30"]],
                "duration_min": 30,
            },
        )
    assert "plan_item_id" in caught.value.errors


def test_edit_naming_a_visit_outside_the_version_names_the_field(
    session: Session, day: Day
) -> None:
    version = _plan(session, day)
    with pytest.raises(ValidationFailed) as caught:
        dispatch.edit_version(
            session,
            day.users["dispatcher"],
            version.id,
            {
                "action": "move",
                "visit_ref": visit_ref(day.other_visit.id),
                "caregiver_ref": caregiver_ref(day.caregivers[0].id),
            },
        )
    assert "visit_ref" in caught.value.errors
    assert session.scalar(select(func.count(PlanVersion.id))) == 1


def test_over_cap_visits_wait_for_an_override(session: Session, day: Day) -> None:
    # Twelve visits by this day of the week for a grade-5 person (cap 10): the last is over.
    person_item = day.items[5]
    week_start = day.day - dt.timedelta(days=day.day.weekday())
    for k in range(10):
        add_visit(
            session,
            person_item,
            week_start + dt.timedelta(days=k % (day.day.weekday() + 1)),
            ("08:00", "12:00"),
            seq=10 + k,
            status="cancelled" if k == 0 else "planned",
        )
    add_visit(session, person_item, week_start, ("08:00", "12:00"), seq=30)
    extra = add_visit(session, person_item, day.day, ("14:00", "16:00"), seq=50)
    session.commit()

    version = _plan(session, day)
    assert visit_ref(extra.id) not in {v["id"] for v in version.problem["visits"]}
    board = dispatch.board(session, day.users["dispatcher"], day.day, None)
    flagged = {v["ref"]: v["over_cap"] for v in board["visits"]}
    assert flagged[visit_ref(extra.id)].startswith("over the weekly cap")

    dispatch.override_cap(session, day.users["dispatcher"], extra.id, "doctor's order")
    assert session.scalars(select(CapOverride)).one().reason == "doctor's order"
    again = _plan(session, day)
    assert visit_ref(extra.id) in {v["id"] for v in again.problem["visits"]}
    with pytest.raises(Conflict):
        dispatch.override_cap(session, day.users["dispatcher"], extra.id, "twice")


def test_override_of_a_visit_within_the_cap_is_refused(session: Session, day: Day) -> None:
    with pytest.raises(Conflict):
        dispatch.override_cap(session, day.users["dispatcher"], day.visits[0].id, "why not")


def test_notice_ack_is_the_workers_own_and_flags_overdue(
    session: Session, day: Day, recorder: Recorder
) -> None:
    version = _plan(session, day)
    dispatch.publish_version(session, day.users["dispatcher"], version.id)
    notice = session.scalars(
        select(RouteNotice).where(RouteNotice.caregiver_id == day.caregivers[0].id)
    ).first()
    if notice is None:
        pytest.skip("the first caregiver got no visit on this day")

    with pytest.raises(NotFound):
        dispatch.acknowledge_notice(session, day.users["caregiver2"], notice.id)
    board = dispatch.board(session, day.users["dispatcher"], day.day, None)
    ack = next(a for a in board["acks"] if a["notice_id"] == notice.id)
    assert ack["acknowledged_at"] is None
    assert ack["overdue"] is False

    dispatch.acknowledge_notice(session, day.users["caregiver"], notice.id)
    assert recorder.sent[-1][0] == "notice_acknowledged"
    board = dispatch.board(session, day.users["dispatcher"], day.day, None)
    ack = next(a for a in board["acks"] if a["notice_id"] == notice.id)
    assert ack["acknowledged_at"] is not None
    assert ack["overdue"] is False


def test_an_unacknowledged_change_is_overdue_30_minutes_before(session: Session, day: Day) -> None:
    from app.services.dispatch_board import is_overdue

    first = dt.datetime(2026, 11, 26, 2, 0, tzinfo=dt.UTC)
    notice = RouteNotice(first_affected_at=first, acknowledged_at=None)
    assert not is_overdue(notice, first - dt.timedelta(minutes=31))
    assert is_overdue(notice, first - dt.timedelta(minutes=30))
    notice.acknowledged_at = first - dt.timedelta(hours=1)
    assert not is_overdue(notice, first)


def test_second_publication_notifies_only_changed_routes(session: Session, day: Day) -> None:
    version = _plan(session, day)
    dispatch.publish_version(session, day.users["dispatcher"], version.id)
    routes = _routes(version)
    source = max((c for c in routes if c.startswith("cg-")), key=lambda c: len(routes[c]))
    target = (
        next(caregiver_ref(c.id) for c in day.caregivers if caregiver_ref(c.id) not in routes)
        if any(caregiver_ref(c.id) not in routes for c in day.caregivers)
        else None
    )
    if target is None:
        target = next(c for c in routes if c.startswith("cg-") and c != source)
    edited = dispatch.edit_version(
        session,
        day.users["dispatcher"],
        version.id,
        {"action": "move", "visit_ref": routes[source][-1], "caregiver_ref": target},
    ).version
    assert edited is not None
    if not edited.valid:
        pytest.skip("the move broke a rule on this day")
    published = dispatch.publish_version(session, day.users["dispatcher"], edited.id)
    assert set(published.notified) <= {source, target}
    assert source in published.notified


def test_board_lists_the_day(session: Session, day: Day) -> None:
    version = _plan(session, day)
    board = dispatch.board(session, day.users["dispatcher"], day.day, None)

    assert board["agency"]["code"] == "A1"
    assert board["date"] == day.day.isoformat()
    assert {c["ref"] for c in board["caregivers"]} == {
        *(caregiver_ref(c.id) for c in day.caregivers),
        f"vol-{day.volunteer.id}",
    }
    assert len(board["visits"]) == len(day.visits)
    assert board["current_version_id"] == version.id
    assert board["published_version_id"] is None
    assert board["versions"][0]["kpis"]["assigned"] == version.plan["kpis"]["assigned"]
    with pytest.raises(ValidationFailed):
        dispatch.board(session, day.users["auditor"], day.day, None)
    audited = dispatch.board(session, day.users["auditor"], day.day, day.agency.id)
    assert audited["current_version_id"] == version.id
    with pytest.raises(NotFound):
        dispatch.board(session, day.users["dispatcher_b"], day.day, day.agency.id)


def test_version_detail_and_compare(session: Session, day: Day) -> None:
    version = _plan(session, day)
    routes = _routes(version)
    source = next(c for c in routes if c.startswith("cg-"))
    ref = routes[source][0]
    target = next(caregiver_ref(c.id) for c in day.caregivers if caregiver_ref(c.id) != source)
    edited = dispatch.edit_version(
        session,
        day.users["dispatcher"],
        version.id,
        {"action": "move", "visit_ref": ref, "caregiver_ref": target},
    ).version

    detail = dispatch.read_version(session, day.users["auditor"], version.id)
    by_priority = detail["kpis_detail"]["assigned_by_priority"]
    assert sum(total for _a, total in by_priority.values()) == len(day.visits)
    assert (
        detail["kpis_detail"]["work_min_spread"]["max"]
        >= detail["kpis_detail"]["work_min_spread"]["min"]
    )
    diff = dispatch.compare_versions(session, day.users["dispatcher"], version.id, edited.id)
    assert [m["visit_ref"] for m in diff["moved"]] == [ref]
    assert diff["moved"][0]["from"] == source
    assert diff["moved"][0]["to"] == target
    assert diff["unchanged"] == version.plan["kpis"]["assigned"] - 1
    with pytest.raises(NotFound):
        dispatch.read_version(session, day.users["dispatcher_b"], version.id)


def test_export_is_the_solver_input_with_the_current_locks(session: Session, day: Day) -> None:
    version = _plan(session, day)
    ref = _routes(version)[next(iter(_routes(version)))][0]
    dispatch.edit_version(
        session, day.users["dispatcher"], version.id, {"action": "lock", "visit_ref": ref}
    )
    document = dispatch.export_day(session, day.users["dispatcher"], day.day, None)

    problem = load_problem(document)
    assert [lk.visit_id for lk in problem.locks] == [ref]
    assert len(problem.visits) == len(day.visits)


def test_import_checks_the_plan_against_the_day(session: Session, day: Day) -> None:
    version = _plan(session, day)
    imported = dispatch.import_plan(session, day.agency, day.day, version.plan)
    assert (imported.kind, imported.valid, imported.number) == ("import", True, 2)

    broken = dict(version.plan, kpis=dict(version.plan["kpis"], assigned=0))
    bad = dispatch.import_plan(session, day.agency, day.day, broken)
    assert not bad.valid
    assert {v["code"] for v in bad.violations} == {"kpi"}
