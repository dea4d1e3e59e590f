"""/api/v1/dispatch: plan a day, follow the solve, edit, repair and publish the plan.

Dispatchers and agency admins work on their own agency's days; auditors and sys_admins
read any agency's (naming it with ``?agency_id=`` where the URL does not). A solve runs as
a background job (202 with its id); its progress also streams over Socket.IO.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any, Literal

from flask import Response, current_app
from flask_babel import gettext as _
from pydantic import BaseModel, ConfigDict, Field, RootModel

from app.api import bp
from app.api.http import one_json, parse_body, parse_query, spec
from app.api.schemas import (
    HHMM,
    DurationMin,
    Empty,
    Id,
    Out,
    Priority,
    Windows,
)
from app.api.schemas import Body as StrictBody
from app.extensions import db
from app.models import Role
from app.security import STAFF_ROLES, allow, user
from app.services import dispatch
from app.services.crud import invalid
from app.services.dispatch_jobs import job_json

MANAGERS = (Role.DISPATCHER, Role.AGENCY_ADMIN)
WORKERS = (Role.CAREGIVER, Role.VOLUNTEER)

VisitRef = Annotated[str, Field(pattern=r"^v-\d+$", description='A visit, "v-<id>".')]
WorkerRef = Annotated[
    str,
    Field(pattern=r"^(cg|vol)-\d+$", description='A caregiver "cg-<id>" or volunteer "vol-<id>".'),
]
CaregiverRef = Annotated[str, Field(pattern=r"^cg-\d+$", description='A caregiver, "cg-<id>".')]
TimeLimit = Annotated[int, Field(ge=1, le=120, description="Solver time limit in seconds.")]
Mode = Literal["check", "reoptimise"]
Reason = Annotated[str, Field(min_length=1, max_length=200)]


# --- request shapes ------------------------------------------------------------------------


class AgencyScope(BaseModel):
    """The agency of a read: required for auditors and sys_admins, implied for others."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    agency_id: Id | None = Field(None, description="Cross-agency roles only (required).")


class PlanRequest(StrictBody):
    time_limit_s: TimeLimit = 20


class _Edit(StrictBody):
    mode: Mode = Field(
        "check",
        description="check: store the edited plan now with its violations; "
        "reoptimise: re-solve around the locks (a job).",
    )
    time_limit_s: TimeLimit | None = Field(None, description="reoptimise only; default 20.")


class MoveEdit(_Edit):
    action: Literal["move"]
    visit_ref: VisitRef
    caregiver_ref: WorkerRef
    start: HHMM | None = Field(None, description="New start; default: keep its time.")


class LockEdit(_Edit):
    action: Literal["lock", "unlock"]
    visit_ref: VisitRef


class AbsentEdit(_Edit):
    model_config = ConfigDict(populate_by_name=True)

    action: Literal["absent"]
    caregiver_ref: CaregiverRef
    from_: HHMM | None = Field(None, alias="from", description="null: all day.")
    reason: Reason


class UrgentEdit(_Edit):
    action: Literal["urgent"]
    person_id: Id
    plan_item_id: Id
    windows: Windows
    duration_min: DurationMin
    priority: Priority = 1


EDITS: dict[str, type[_Edit]] = {
    "move": MoveEdit,
    "lock": LockEdit,
    "unlock": LockEdit,
    "absent": AbsentEdit,
    "urgent": UrgentEdit,
}


class EditHead(BaseModel):
    """Only the action, read first to choose the body's shape."""

    model_config = ConfigDict(extra="allow", strict=True)

    action: Literal["move", "lock", "unlock", "absent", "urgent"]


class EditBody(RootModel[Any]):
    """One edit of a plan version."""

    root: Annotated[MoveEdit | LockEdit | AbsentEdit | UrgentEdit, Field(discriminator="action")]


class RepairRequest(StrictBody):
    model_config = ConfigDict(populate_by_name=True)

    caregiver_ref: CaregiverRef
    from_: HHMM | None = Field(None, alias="from", description="null: absent all day.")
    reason: Reason
    time_limit_s: TimeLimit | None = Field(None, description="Default 4 s.")


class CapOverrideRequest(StrictBody):
    reason: Annotated[str, Field(min_length=1, max_length=300)]


# --- response shapes -----------------------------------------------------------------------


class JobAccepted(Out):
    job_id: str


class JobProgress(Out):
    elapsed_s: float
    objective: int | None
    assigned: int
    visits: int


class JobOut(Out):
    id: str
    kind: str
    date: dt.date
    status: Literal["queued", "running", "succeeded", "failed", "cancelled"]
    progress: JobProgress
    plan_version_id: int | None
    error: str | None
    created_at: dt.datetime | None
    started_at: dt.datetime | None
    finished_at: dt.datetime | None


class AgencyBrief(Out):
    id: int
    code: str
    name: str


class Absence(Out):
    from_: str | None = Field(alias="from", serialization_alias="from")
    reason: str

    model_config = ConfigDict(populate_by_name=True)


class BoardCaregiver(Out):
    ref: str
    id: int
    name: str
    kind: Literal["caregiver", "volunteer"]
    mode: str
    shift: list[str]
    home: list[float]
    absent: Absence | None


class ServiceBrief(Out):
    code: str
    name: str


class BoardVisit(Out):
    ref: str
    id: int
    person_id: int
    person_name: str
    address: str
    location: list[float]
    windows: list[list[str]]
    duration_min: int
    priority: int
    staff: int
    skills: list[str]
    gender: str | None
    status: str
    service_item: ServiceBrief
    locked: bool
    over_cap: str | None
    preferred: str | None


class VersionKpis(Out):
    visits: int | None
    assigned: int | None
    travel_s: int | None
    continuity_rate: float | None


class VersionSummary(Out):
    id: int
    number: int
    kind: str
    parent_id: int | None
    created_at: dt.datetime
    valid: bool
    note: str | None
    published_at: dt.datetime | None
    kpis: VersionKpis


class Ack(Out):
    caregiver_ref: str
    notice_id: int
    publication_id: int
    acknowledged_at: dt.datetime | None
    first_affected_at: dt.datetime | None
    overdue: bool


class BoardOut(Out):
    date: dt.date
    agency: AgencyBrief
    caregivers: list[BoardCaregiver]
    visits: list[BoardVisit]
    versions: list[VersionSummary]
    current_version_id: int | None
    published_version_id: int | None
    acks: list[Ack]


class ViolationOut(Out):
    code: str
    message: str
    visit_id: str | None
    caregiver_id: str | None


class WorkSpread(Out):
    min: int
    max: int
    stdev: float


class KpisDetail(Out):
    assigned_by_priority: dict[str, list[int]]
    travel_h: float
    continuity_rate: float
    work_min_by_caregiver: dict[str, int]
    work_min_spread: WorkSpread


class VersionOut(Out):
    id: int
    agency_id: int
    date: dt.date
    number: int
    kind: str
    parent_id: int | None
    note: str | None
    created_at: dt.datetime
    valid: bool
    violations: list[ViolationOut]
    locks: list[dict[str, Any]]
    plan: dict[str, Any] = Field(description="The careroute.plan/1 document.")
    kpis_detail: KpisDetail


class MovedVisit(Out):
    visit_ref: str
    from_: str | None = Field(alias="from", serialization_alias="from")
    to: str | None
    from_all: list[str]
    to_all: list[str]
    from_start: str | None
    to_start: str | None

    model_config = ConfigDict(populate_by_name=True)


class CompareOut(Out):
    from_version_id: int
    to_version_id: int
    moved: list[MovedVisit]
    unchanged: int


class EditResult(Out):
    plan_version_id: int
    valid: bool
    violations: list[ViolationOut]


class Published(Out):
    publication_id: int
    notified: list[str]


class CapOverrideOut(Out):
    id: int
    visit_id: int
    reason: str
    created_at: dt.datetime


class NoticeOut(Out):
    notice_id: int
    acknowledged_at: dt.datetime | None


class DayDocument(Out):
    """A careroute.day/1 document (see docs/formats/dayproblem.md)."""

    model_config = ConfigDict(extra="allow")

    format: Literal["careroute.day/1"]
    date: dt.date


# --- helpers -------------------------------------------------------------------------------


def _day(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise invalid("date", _("Must be a date as YYYY-MM-DD.")) from None


def _dump(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json", by_alias=True)


def _json(model: BaseModel, status: int = 200) -> Response:
    response = current_app.response_class(
        json.dumps(_dump(model), ensure_ascii=False), mimetype="application/json"
    )
    response.status_code = status
    return response


def _accepted(job_id: str) -> Response:
    return one_json(JobAccepted(job_id=job_id), 202)


# --- views ---------------------------------------------------------------------------------


@bp.post("/v1/dispatch/days/<date>/plan")
@allow(*MANAGERS)
@spec(body=PlanRequest, response=JobAccepted, status=202, errors=[409])
def plan_day(date: str) -> Response:
    """Start optimising a day of the caller's agency (a background job).

    The day is built from its open visits, the caregivers' shifts and leave and the
    volunteers' availability; the locks of the day's latest version are kept. 400 for a
    past date; 409 while another job of the day is queued or running.
    """
    body = parse_body(PlanRequest)
    job = dispatch.request_plan(db.session, user(), _day(date), body.time_limit_s)
    return _accepted(job.id)


@bp.get("/v1/dispatch/jobs/<job_id>")
@allow(*STAFF_ROLES)
@spec(response=JobOut)
def get_job(job_id: str) -> Response:
    """Read a solve job: status, progress, and the plan version it made."""
    return _json(JobOut.model_validate(job_json(dispatch.get_job(db.session, user(), job_id))))


@bp.post("/v1/dispatch/jobs/<job_id>/cancel")
@allow(*MANAGERS)
@spec(body=Empty, response=JobAccepted, status=202, errors=[409])
def cancel_job(job_id: str) -> Response:
    """Cancel a job: a queued one at once, a running one at its next check (nothing stored).

    409 when it has already finished. Send an empty JSON object.
    """
    parse_body(Empty)
    job = dispatch.cancel_job(db.session, user(), job_id)
    return _accepted(job.id)


@bp.get("/v1/dispatch/days/<date>")
@allow(*STAFF_ROLES)
@spec(query=AgencyScope, response=BoardOut)
def get_board(date: str) -> Response:
    """The board of a day: caregivers, visits, plan versions and acknowledgements."""
    query = parse_query(AgencyScope)
    data = dispatch.board(db.session, user(), _day(date), query.agency_id)
    return _json(BoardOut.model_validate(data))


@bp.get("/v1/dispatch/versions/<int:version_id>")
@allow(*STAFF_ROLES)
@spec(response=VersionOut)
def get_version(version_id: int) -> Response:
    """Read a plan version: its plan document, violations and detailed KPIs."""
    data = dispatch.read_version(db.session, user(), version_id)
    return _json(VersionOut.model_validate(data))


@bp.get("/v1/dispatch/versions/<int:a>/compare/<int:b>")
@allow(*STAFF_ROLES)
@spec(response=CompareOut)
def compare_versions(a: int, b: int) -> Response:
    """The visits whose caregivers differ between versions a and b (of one agency)."""
    return _json(CompareOut.model_validate(dispatch.compare_versions(db.session, user(), a, b)))


@bp.post("/v1/dispatch/versions/<int:version_id>/edits")
@allow(*MANAGERS)
@spec(body=EditBody, response=EditResult, status=201, errors=[409])
def edit_version(version_id: int) -> Response:
    """Edit a version: move, lock, unlock, absent or urgent; checked or re-optimised.

    In check mode (the default) the edited plan is stored at once as a new version of
    kind edit, valid or not, with the checker's violations (201). In reoptimise mode a
    job re-solves the day around the locks, starting from the edited plan (202 with its
    job_id). Unknown refs are answered 400 naming the field; a visit that has started,
    409.
    """
    head = parse_body(EditHead)
    edit = parse_body(EDITS[head.action]).model_dump(by_alias=True)
    outcome = dispatch.edit_version(db.session, user(), version_id, edit)
    if outcome.job is not None:
        return _accepted(outcome.job.id)
    assert outcome.version is not None
    version = outcome.version
    result = EditResult(
        plan_version_id=version.id,
        valid=version.valid,
        violations=[ViolationOut.model_validate(v) for v in version.violations],
    )
    return _json(result, 201)


@bp.post("/v1/dispatch/days/<date>/repair")
@allow(*MANAGERS)
@spec(body=RepairRequest, response=JobAccepted, status=202, errors=[409])
def repair_day(date: str) -> Response:
    """A caregiver is away (from a time, or all day): record it and re-plan the day.

    Visits that have started keep their caregiver and time; nothing new starts before
    now; other caregivers' routes change only where that pays (a job, 202).
    """
    body = parse_body(RepairRequest)
    job = dispatch.request_repair(
        db.session, user(), _day(date), body.caregiver_ref, body.from_, body.reason,
        body.time_limit_s,
    )  # fmt: skip
    return _accepted(job.id)


@bp.post("/v1/dispatch/versions/<int:version_id>/publish")
@allow(*MANAGERS)
@spec(body=Empty, response=Published, errors=[409])
def publish_version(version_id: int) -> Response:
    """Publish a valid version: assignments follow it, changed routes are notified.

    409 when the version breaks a rule or its day is over. Send an empty JSON object.
    """
    parse_body(Empty)
    published = dispatch.publish_version(db.session, user(), version_id)
    out = Published(publication_id=published.publication.id, notified=list(published.notified))
    return _json(out)


@bp.get("/v1/dispatch/days/<date>/export")
@allow(*STAFF_ROLES)
@spec(query=AgencyScope, response=DayDocument)
def export_day(date: str) -> Response:
    """Download the day as a careroute.day/1 file, as `python -m scheduling solve` takes it."""
    query = parse_query(AgencyScope)
    day = _day(date)
    document = dispatch.export_day(db.session, user(), day, query.agency_id)
    response = current_app.response_class(
        json.dumps(document, ensure_ascii=False, indent=1), mimetype="application/json"
    )
    response.headers["Content-Disposition"] = f'attachment; filename="day-{day.isoformat()}.json"'
    return response


@bp.post("/v1/dispatch/visits/<int:visit_id>/cap-override")
@allow(*MANAGERS)
@spec(body=CapOverrideRequest, response=CapOverrideOut, status=201, errors=[409])
def override_cap(visit_id: int) -> Response:
    """Let a visit beyond the person's weekly cap be planned; the decision is logged.

    409 when the visit is within the entitlement or was already overridden.
    """
    body = parse_body(CapOverrideRequest)
    row = dispatch.override_cap(db.session, user(), visit_id, body.reason)
    return _json(CapOverrideOut.model_validate(row), 201)


@bp.post("/v1/my/notices/<int:notice_id>/ack")
@allow(*WORKERS)
@spec(body=Empty, response=NoticeOut)
def acknowledge_notice(notice_id: int) -> Response:
    """Acknowledge a change of one's own route (caregivers and volunteers; 404 otherwise)."""
    parse_body(Empty)
    notice = dispatch.acknowledge_notice(db.session, user(), notice_id)
    return _json(NoticeOut(notice_id=notice.id, acknowledged_at=notice.acknowledged_at))
