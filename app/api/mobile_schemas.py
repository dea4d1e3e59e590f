"""Request and response shapes of the caregiver app's API (``/api/v1/my``) and of the
dispatchers' EVV API (``/api/v1/evv``)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Literal

from flask_babel import gettext as _
from pydantic import AwareDatetime, BaseModel, Field, ValidationInfo, field_validator

from app.api.schemas import Body, Id, Latitude, Longitude, Out, Query
from app.models import VisitStatus
from app.services import evv_confirmation as confirming

UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
ItemCode = Annotated[str, Field(min_length=1, max_length=16, pattern=r"^[A-Za-z0-9_.\-]+$")]


class PositionIn(Body):
    """A GPS fix as the browser's Geolocation API gives it."""

    lat: Latitude
    lon: Longitude
    accuracy_m: float = Field(ge=0, le=100_000, description="Radius of 68% confidence, metres.")


class ConfirmationIn(Body):
    """The person's or family's confirmation of the visit."""

    method: Literal["pin", "signature"]
    by: Literal["person", "family"]
    value: str = Field(
        min_length=1,
        max_length=confirming.MAX_SIGNATURE_CHARS,
        description=(
            "The PIN (4-6 digits; checked against the person's, never stored) or the "
            "signature as SVG path data: absolute M, L and Q commands with numbers in a "
            f"{confirming.SIGNATURE_BOX[0]} x {confirming.SIGNATURE_BOX[1]} box, "
            f"at least {confirming.MIN_SIGNATURE_POINTS} points."
        ),
    )

    @field_validator("value")
    @classmethod
    def _fits_method(cls, value: str, info: ValidationInfo) -> str:
        method = info.data.get("method")
        if method == "pin" and not re.fullmatch(confirming.PIN_PATTERN, value):
            raise ValueError(_("A PIN is 4 to 6 digits."))
        if method == "signature":
            confirming.signature_points(value)
        return value


class ConfirmationOut(BaseModel):
    """What was kept of a confirmation: never the PIN; a signature's path and its box."""

    method: Literal["pin", "signature"]
    by: Literal["person", "family"]
    ok: bool = Field(False, description="Whether it confirms the visit (a wrong PIN does not).")
    reason: Literal["no_pin", "wrong_pin", "too_many_attempts"] | None = Field(
        None, description="Why a PIN did not confirm: none set, wrong, or too many wrong today."
    )
    path: str | None = Field(None, description="The signature as SVG path data.")
    box: tuple[int, int] | None = Field(None, description="Width and height of the path's box.")


class EvvActionIn(Body):
    """A check-in or check-out made on the phone, possibly sent again later from the outbox."""

    id: str = Field(pattern=UUID_PATTERN, description="Made on the phone (crypto.randomUUID).")
    visit_id: Id
    kind: Literal["check_in", "check_out"]
    occurred_at: AwareDatetime = Field(description="When it happened, by the phone's clock.")
    position: PositionIn | None = Field(None, description="null when no fix could be had.")
    items_done: list[ItemCode] = Field(default_factory=list, max_length=30)
    confirmation: ConfirmationIn | None = Field(None, description="With a check-out only.")

    @field_validator("confirmation")
    @classmethod
    def _with_check_out(
        cls, value: ConfirmationIn | None, info: ValidationInfo
    ) -> ConfirmationIn | None:
        if value is not None and info.data.get("kind") == "check_in":
            raise ValueError(_("A confirmation goes with the check-out."))
        return value


class EvvOut(Out):
    """A verification record: the six elements of one worker's part in a visit."""

    id: int
    visit_id: int
    kind: Literal["evaluation", "approval", "rejection"]
    outcome: Literal["verified", "exception", "rejected"]
    reasons: list[str]
    caregiver_id: int | None
    volunteer_id: int | None
    person_id: int
    items_planned: list[str]
    items_done: list[str]
    check_in_at: dt.datetime
    check_out_at: dt.datetime
    check_in_distance_m: float | None
    check_out_distance_m: float | None
    duration_s: int
    confirmation: ConfirmationOut | None
    supersedes_id: int | None
    decided_by_id: int | None
    decision_reason: str | None
    created_at: dt.datetime


class EvvActionOut(BaseModel):
    """What the server made of an action. ``duplicate``: the id was already stored."""

    id: str
    visit_id: int
    kind: str
    state: Literal["applied", "pending", "ignored", "refused"]
    note: str | None
    confirmation: ConfirmationOut | None
    duplicate: bool
    visit_status: VisitStatus
    verification: EvvOut | None


class ItemOut(BaseModel):
    code: str
    name: str


class StopOut(BaseModel):
    visit_id: int
    visit_ref: str
    status: VisitStatus
    planned_start: str | None = Field(description='"HH:MM" from the published plan.')
    windows: list[list[str]]
    duration_min: int
    staff_count: int
    person_id: int
    person_name: str
    address: str
    location: tuple[float, float]
    phone: str | None
    care_notes: str | None
    items: list[ItemOut]
    partners: list[str]
    checked_in_at: dt.datetime | None
    checked_out_at: dt.datetime | None
    outcome: str | None
    reasons: list[str]


class NoticeOut(BaseModel):
    id: int
    publication_id: int
    first_affected_at: dt.datetime | None
    acknowledged_at: dt.datetime | None


class RouteOut(BaseModel):
    """The worker's route of a day, in visiting order."""

    date: dt.date
    worker_ref: str
    worker_name: str
    publication_id: int | None
    stops: list[StopOut]
    notices: list[NoticeOut]


class DecisionIn(Body):
    approve: bool
    reason: str = Field(min_length=1, max_length=300)


class QueueItemOut(BaseModel):
    verification: EvvOut
    visit_date: dt.date
    visit_status: VisitStatus
    windows: list[list[str]]
    duration_min: int
    person_name: str
    worker_name: str


class QueueQuery(Query):
    agency_id: Id | None = Field(None, description="Cross-agency roles: one agency (else all).")


class VisitEvvOut(BaseModel):
    """A visit's status and every verification record of it, oldest first."""

    visit_id: int
    status: VisitStatus
    verified_at: dt.datetime | None
    records: list[EvvOut]
