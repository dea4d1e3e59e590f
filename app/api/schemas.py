"""Request and response shapes of the JSON API, as pydantic models.

Request bodies are strict (a JSON string is not a number, ``1.0`` is not an integer) and
reject unknown keys; query strings are parsed leniently because every value there is a
string. Response models read ORM rows (``from_attributes``). The OpenAPI document is
generated from these classes, so they are the single statement of the API's shapes.

Field checks that need no database live here (formats, ranges, window order, the ID
number's check digit); checks against stored rows (unknown ids, uniqueness, cross-field
rules that involve stored values on PATCH) live in the services.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, ClassVar, Generic, TypeVar

from flask_babel import gettext as _
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)

from app.models import Gender, ItemCategory, PersonStatus, PlanStatus, Skill, TravelMode
from app.models import VisitStatus as VisitStatusEnum
from app.services.evv_confirmation import PIN_PATTERN

T = TypeVar("T")

HHMM_PATTERN = r"^([01]\d|2[0-3]):[0-5]\d$"
_HHMM = re.compile(HHMM_PATTERN)
ID_NUMBER_PATTERN = r"^[1-8]\d{16}[0-9X]$"
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
WEEKDAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


# --- field types -------------------------------------------------------------------------


def _hhmm_str(value: str) -> str:
    if not _HHMM.fullmatch(value):
        raise ValueError(_("Must be a time of day as HH:MM (00:00 to 23:59)."))
    return value


def _time_of_day(value: Any) -> dt.time:
    if isinstance(value, dt.time):
        return value
    if not isinstance(value, str):
        raise ValueError(_("Must be a time of day as HH:MM (00:00 to 23:59)."))
    return dt.time.fromisoformat(_hhmm_str(value))


HHMM = Annotated[
    str, AfterValidator(_hhmm_str), WithJsonSchema({"type": "string", "pattern": HHMM_PATTERN})
]
# A time column (shift start, break window) written and read as "HH:MM".
TimeOfDay = Annotated[
    dt.time,
    PlainValidator(_time_of_day),
    PlainSerializer(lambda t: t.strftime("%H:%M"), return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": HHMM_PATTERN}),
]


def _window_order(window: tuple[str, str]) -> tuple[str, str]:
    # Zero-padded HH:MM strings compare in time order.
    if window[1] <= window[0]:
        raise ValueError(_("The window must end after it starts."))
    return window


def _windows_disjoint(windows: list[tuple[str, str]]) -> list[tuple[str, str]]:
    ordered = sorted(windows)
    for before, after in zip(ordered, ordered[1:], strict=False):
        if after[0] < before[1]:
            raise ValueError(_("Windows must not overlap."))
    return ordered


Window = Annotated[tuple[HHMM, HHMM], AfterValidator(_window_order)]
Windows = Annotated[
    list[Window], Field(min_length=1, max_length=6), AfterValidator(_windows_disjoint)
]
Latitude = Annotated[float, Field(ge=-90, le=90)]
Longitude = Annotated[float, Field(ge=-180, le=180)]
Name = Annotated[str, Field(min_length=1, max_length=100)]
Phone = Annotated[str, Field(pattern=r"^[0-9+\- ]{3,32}$")]
Code = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_.\-]+$")]
Priority = Annotated[int, Field(ge=1, le=3, description="1 is the most urgent.")]
DurationMin = Annotated[int, Field(ge=1, le=600)]
Id = Annotated[int, Field(ge=1)]


def check_id_number(value: str) -> str:
    """Validate a mainland resident ID number: format, birth date and ISO 7064 check digit."""
    value = value.upper()
    if not re.fullmatch(ID_NUMBER_PATTERN, value):
        raise ValueError(_("Must be an 18-character resident ID number."))
    try:
        born = dt.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        raise ValueError(_("The birth date inside the ID number is not a date.")) from None
    if born.year < 1900:
        raise ValueError(_("The birth date inside the ID number is not a date."))
    total = sum(int(digit) * weight for digit, weight in zip(value, _ID_WEIGHTS, strict=False))
    if _ID_CHECK[total % 11] != value[17]:
        raise ValueError(_("The ID number's check digit is wrong."))
    return value


IdNumber = Annotated[
    str,
    AfterValidator(check_id_number),
    WithJsonSchema({"type": "string", "pattern": ID_NUMBER_PATTERN.replace("X", "Xx")}),
]


def _unique_weekdays(days: list[int]) -> list[int]:
    if len(set(days)) != len(days):
        raise ValueError(_("Weekdays must not repeat."))
    return sorted(days)


Weekdays = Annotated[
    list[Annotated[int, Field(ge=1, le=7)]],
    Field(min_length=1, max_length=7, description="ISO weekdays, 1 = Monday .. 7 = Sunday."),
    AfterValidator(_unique_weekdays),
]


# --- bases ---------------------------------------------------------------------------------


class Body(BaseModel):
    """A request body: strict types, unknown keys rejected."""

    model_config = ConfigDict(extra="forbid", strict=True, str_strip_whitespace=True)


class Patch(Body):
    """A PATCH body: every field optional; ``null`` only where the column may be empty."""

    nullable: ClassVar[frozenset[str]] = frozenset()

    @field_validator("*", mode="after")
    @classmethod
    def _not_null(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and info.field_name not in cls.nullable:
            raise ValueError(_("May not be null."))
        return value


class Query(BaseModel):
    """Query-string parameters of a list: lenient parsing, unknown parameters rejected."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    page: int = Field(1, ge=1)
    per_page: int | None = Field(
        None, ge=1, description="Default 50; values above the maximum (200) are capped."
    )


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class Page(Out, Generic[T]):
    """One page of a list, with the total count of matching rows."""

    items: list[T]
    page: int
    per_page: int
    total: int
    pages: int


class Error(BaseModel):
    """The one error shape of the API."""

    code: str = Field(description="Machine-readable: validation_error, not_found, conflict, ...")
    message: str = Field(description="Human-readable, in the request's language.")
    errors: dict[str, str] = Field(
        default_factory=dict,
        description="Field path (like items[0].windows[1]) -> what is wrong with it.",
    )


class Empty(Body):
    """An empty JSON object."""


# --- agencies ------------------------------------------------------------------------------

CityCode = Annotated[
    str,
    Field(
        min_length=1,
        max_length=32,
        description="A city of the LTCI policy file (its fund shares apply); null: the default.",
    ),
]


class AgencyCreate(Body):
    code: Code
    name: Annotated[str, Field(min_length=1, max_length=200)]
    licence_no: Annotated[str, Field(min_length=1, max_length=64)]
    districts: list[Annotated[str, Field(min_length=1, max_length=50)]] = []
    phone: Phone | None = None
    address: Annotated[str, Field(min_length=1, max_length=300)] | None = None
    city: CityCode | None = None
    active: bool = True


class AgencyUpdate(Patch):
    nullable: ClassVar[frozenset[str]] = frozenset({"phone", "address", "city"})

    code: Code | None = None
    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    licence_no: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    districts: list[Annotated[str, Field(min_length=1, max_length=50)]] | None = None
    phone: Phone | None = None
    address: Annotated[str, Field(min_length=1, max_length=300)] | None = None
    city: CityCode | None = None
    active: bool | None = None


class AgencyQuery(Query):
    q: str | None = Field(None, description="Part of the name or code.")
    active: bool | None = None


class AgencyOut(Out):
    id: int
    code: str
    name: str
    licence_no: str
    districts: list[str]
    phone: str | None
    address: str | None
    city: str | None
    active: bool
    created_at: dt.datetime


# --- insured persons -------------------------------------------------------------------------


class PersonCreate(Body):
    name: Name
    gender: Gender
    birth_date: dt.date
    id_number: IdNumber
    address: Annotated[str, Field(min_length=1, max_length=300)]
    district: Annotated[str, Field(min_length=1, max_length=50)]
    lat: Latitude
    lon: Longitude
    phone: Phone | None = None
    emergency_contact_name: Name | None = None
    emergency_contact_phone: Phone | None = None
    consent_given_at: AwareDatetime | None = None
    consent_by: Name | None = None
    disability_since: dt.date | None = None
    care_notes: Annotated[str, Field(max_length=4000)] | None = None
    status: PersonStatus = PersonStatus.ACTIVE


class PersonUpdate(Patch):
    nullable: ClassVar[frozenset[str]] = frozenset(
        {
            "phone",
            "emergency_contact_name",
            "emergency_contact_phone",
            "consent_given_at",
            "consent_by",
            "disability_since",
            "care_notes",
            "confirmation_pin",
        }
    )

    name: Name | None = None
    gender: Gender | None = None
    birth_date: dt.date | None = None
    id_number: IdNumber | None = None
    address: Annotated[str, Field(min_length=1, max_length=300)] | None = None
    district: Annotated[str, Field(min_length=1, max_length=50)] | None = None
    lat: Latitude | None = None
    lon: Longitude | None = None
    phone: Phone | None = None
    emergency_contact_name: Name | None = None
    emergency_contact_phone: Phone | None = None
    consent_given_at: AwareDatetime | None = None
    consent_by: Name | None = None
    disability_since: dt.date | None = None
    care_notes: Annotated[str, Field(max_length=4000)] | None = None
    status: PersonStatus | None = None
    confirmation_pin: Annotated[str, Field(pattern=PIN_PATTERN)] | None = Field(
        None,
        description=(
            "Write-only: the 4-6 digit PIN with which the person or family confirms a visit "
            "at check-out (stored hashed, never returned); null removes it."
        ),
    )


class PersonQuery(Query):
    district: str | None = None
    status: PersonStatus | None = None
    q: str | None = Field(None, description="Part of the name or address.")
    agency_id: Id | None = Field(None, description="Cross-agency roles only.")


class PersonOut(Out):
    id: int
    agency_id: int
    name: str
    gender: Gender
    birth_date: dt.date
    id_number: str = Field(description="Masked (first 4 and last 4 kept) unless stated.")
    address: str
    district: str
    lat: float
    lon: float
    phone: str | None
    emergency_contact_name: str | None
    emergency_contact_phone: str | None
    consent_given_at: dt.datetime | None
    consent_by: str | None
    disability_since: dt.date | None
    status: PersonStatus
    has_confirmation_pin: bool = Field(description="Whether a confirmation PIN is set.")
    created_at: dt.datetime


class PersonDetail(PersonOut):
    care_notes: str | None = Field(
        description="Health data: reading it is logged. Always null for volunteers."
    )


# --- assessments -----------------------------------------------------------------------------


class AssessmentCreate(Body):
    adl_scores: list[int] = Field(description="ADL item scores, in the policy's item order.")
    cognition_scores: list[int]
    perception_scores: list[int]
    assessed_at: dt.date
    assessor: Name
    valid_until: dt.date | None = Field(None, description="Default: the policy's validity.")


class AssessmentOut(Out):
    id: int
    person_id: int
    adl_scores: list[int]
    cognition_scores: list[int]
    perception_scores: list[int]
    adl_total: int
    cognition_total: int
    perception_total: int
    grade: int = Field(description="0 normal .. 5 severe III; LTCI benefits start at 3.")
    assessed_at: dt.date
    assessor: str
    valid_until: dt.date
    created_at: dt.datetime


class AssessmentList(Out):
    items: list[AssessmentOut]


# --- service items ---------------------------------------------------------------------------


class ServiceItemCreate(Body):
    code: Annotated[str, Field(min_length=1, max_length=16, pattern=r"^[A-Za-z0-9_.\-]+$")]
    name_zh: Name
    name_en: Name
    category: ItemCategory
    standard_min: DurationMin
    required_skill: Skill
    price_fen: Annotated[int, Field(ge=0, le=10_000_000)]
    volunteer_ok: bool = False
    active: bool = True


class ServiceItemUpdate(Patch):
    code: (
        Annotated[str, Field(min_length=1, max_length=16, pattern=r"^[A-Za-z0-9_.\-]+$")] | None
    ) = None
    name_zh: Name | None = None
    name_en: Name | None = None
    category: ItemCategory | None = None
    standard_min: DurationMin | None = None
    required_skill: Skill | None = None
    price_fen: Annotated[int, Field(ge=0, le=10_000_000)] | None = None
    volunteer_ok: bool | None = None
    active: bool | None = None


class ServiceItemQuery(Query):
    q: str | None = Field(None, description="Part of the code or a name.")
    category: ItemCategory | None = None
    skill: Skill | None = Field(None, description="The required skill.")
    active: bool | None = None


class ServiceItemOut(Out):
    id: int
    code: str
    name_zh: str
    name_en: str
    category: ItemCategory
    standard_min: int
    required_skill: Skill
    price_fen: int
    volunteer_ok: bool
    active: bool


# --- caregivers ------------------------------------------------------------------------------


class QualificationIn(Body):
    skill: Skill
    level: Annotated[int, Field(ge=1, le=5)] = 1
    expires_on: dt.date | None = None


def _unique_skills(quals: list[QualificationIn]) -> list[QualificationIn]:
    if len({q.skill for q in quals}) != len(quals):
        raise ValueError(_("Each skill may appear once."))
    return quals


Qualifications = Annotated[
    list[QualificationIn], Field(max_length=10), AfterValidator(_unique_skills)
]


class CaregiverCreate(Body):
    staff_no: Code
    name: Name
    gender: Gender
    phone: Phone | None = None
    home_lat: Latitude
    home_lon: Longitude
    travel_mode: TravelMode = TravelMode.EBIKE
    # The schema's default is written as the client writes it, not as Python's 08:00:00.
    shift_start: TimeOfDay = Field(dt.time(8, 0), json_schema_extra={"default": "08:00"})
    shift_end: TimeOfDay = Field(dt.time(17, 0), json_schema_extra={"default": "17:00"})
    break_window_start: TimeOfDay | None = None
    break_window_end: TimeOfDay | None = None
    break_min: Annotated[int, Field(ge=0, le=240)] = 0
    max_work_min: Annotated[int, Field(ge=1, le=1440)] = 480
    max_visits: Annotated[int, Field(ge=1, le=50)] | None = None
    active: bool = True
    qualifications: Qualifications = []


class CaregiverUpdate(Patch):
    nullable: ClassVar[frozenset[str]] = frozenset(
        {"phone", "break_window_start", "break_window_end", "max_visits"}
    )

    staff_no: Code | None = None
    name: Name | None = None
    gender: Gender | None = None
    phone: Phone | None = None
    home_lat: Latitude | None = None
    home_lon: Longitude | None = None
    travel_mode: TravelMode | None = None
    shift_start: TimeOfDay | None = None
    shift_end: TimeOfDay | None = None
    break_window_start: TimeOfDay | None = None
    break_window_end: TimeOfDay | None = None
    break_min: Annotated[int, Field(ge=0, le=240)] | None = None
    max_work_min: Annotated[int, Field(ge=1, le=1440)] | None = None
    max_visits: Annotated[int, Field(ge=1, le=50)] | None = None
    active: bool | None = None
    qualifications: Qualifications | None = Field(None, description="Replaces the whole list.")


class CaregiverQuery(Query):
    skill: Skill | None = Field(None, description="Holds this skill, not expired today.")
    active: bool | None = None
    q: str | None = Field(None, description="Part of the name or staff number.")
    agency_id: Id | None = Field(None, description="Cross-agency roles only.")


class QualificationOut(Out):
    skill: Skill
    level: int
    expires_on: dt.date | None


class CaregiverOut(Out):
    id: int
    agency_id: int
    staff_no: str
    name: str
    gender: Gender
    phone: str | None
    home_lat: float
    home_lon: float
    travel_mode: TravelMode
    shift_start: TimeOfDay
    shift_end: TimeOfDay
    break_window_start: TimeOfDay | None
    break_window_end: TimeOfDay | None
    break_min: int
    max_work_min: int
    max_visits: int | None
    active: bool
    qualifications: list[QualificationOut]
    created_at: dt.datetime


# --- volunteers ------------------------------------------------------------------------------


def _weekday_keys(availability: dict[str, Any]) -> dict[str, Any]:
    for key in availability:
        if key not in WEEKDAY_KEYS:
            raise ValueError(_("Keys must be weekdays: mon, tue, wed, thu, fri, sat, sun."))
    return availability


Availability = Annotated[
    dict[str, Windows],
    AfterValidator(_weekday_keys),
    Field(description='Weekly availability in local time: {"mon": [["09:00", "12:00"]]}.'),
]


class VolunteerCreate(Body):
    member_no: Code
    name: Name
    gender: Gender
    birth_date: dt.date
    phone: Phone | None = None
    home_lat: Latitude
    home_lon: Longitude
    travel_mode: TravelMode = TravelMode.WALK
    availability: Availability = {}
    active: bool = True


class VolunteerUpdate(Patch):
    nullable: ClassVar[frozenset[str]] = frozenset({"phone"})

    member_no: Code | None = None
    name: Name | None = None
    gender: Gender | None = None
    birth_date: dt.date | None = None
    phone: Phone | None = None
    home_lat: Latitude | None = None
    home_lon: Longitude | None = None
    travel_mode: TravelMode | None = None
    availability: Availability | None = None
    active: bool | None = None


class VolunteerQuery(Query):
    active: bool | None = None
    q: str | None = Field(None, description="Part of the name or member number.")
    agency_id: Id | None = Field(None, description="Cross-agency roles only.")


class VolunteerOut(Out):
    id: int
    agency_id: int
    member_no: str
    name: str
    gender: Gender
    birth_date: dt.date
    phone: str | None
    home_lat: float
    home_lon: float
    travel_mode: TravelMode
    availability: dict[str, list[list[str]]]
    active: bool
    created_at: dt.datetime


# --- care plans ------------------------------------------------------------------------------


class PlanItemIn(Body):
    service_item_id: Id
    times_per_week: Annotated[int, Field(ge=1, le=7)] | None = None
    weekdays: Weekdays | None = Field(None, validate_default=True)
    windows: Windows
    duration_min: DurationMin | None = Field(None, description="Default: the item's standard.")
    preferred_caregiver_id: Id | None = None
    two_staff: bool = False
    same_gender: bool = False
    priority: Priority = 2

    @field_validator("weekdays", mode="after")
    @classmethod
    def _one_frequency(cls, weekdays: list[int] | None, info: ValidationInfo) -> list[int] | None:
        # weekdays is declared after times_per_week, so info.data holds the latter.
        has_times = info.data.get("times_per_week") is not None
        if "times_per_week" in info.data and has_times == (weekdays is not None):
            raise ValueError(_("Give exactly one of times_per_week and weekdays."))
        return weekdays


class PlanCreate(Body):
    person_id: Id
    valid_from: dt.date
    valid_to: dt.date
    notes: Annotated[str, Field(max_length=2000)] | None = None
    items: Annotated[list[PlanItemIn], Field(min_length=1, max_length=30)]


class PlanUpdate(Patch):
    nullable: ClassVar[frozenset[str]] = frozenset({"notes"})

    valid_from: dt.date | None = None
    valid_to: dt.date | None = None
    notes: Annotated[str, Field(max_length=2000)] | None = None
    items: Annotated[list[PlanItemIn], Field(min_length=1, max_length=30)] | None = Field(
        None, description="Replaces every item of the plan."
    )


class PlanQuery(Query):
    status: PlanStatus | None = None
    person_id: Id | None = None
    agency_id: Id | None = Field(None, description="Cross-agency roles only.")


class PlanItemOut(Out):
    id: int
    service_item_id: int
    times_per_week: int | None
    weekdays: list[int] | None
    windows: list[list[str]]
    duration_min: int | None
    preferred_caregiver_id: int | None
    two_staff: bool
    same_gender: bool
    priority: int


class PlanOut(Out):
    id: int
    person_id: int
    agency_id: int
    valid_from: dt.date
    valid_to: dt.date
    status: PlanStatus
    approved_by_id: int | None
    approved_at: dt.datetime | None
    notes: str | None
    items: list[PlanItemOut]
    created_at: dt.datetime


# --- visits ----------------------------------------------------------------------------------


class VisitCreate(Body):
    plan_item_id: Id
    date: dt.date
    windows: Windows | None = Field(None, description="Default: the plan item's windows.")
    duration_min: DurationMin | None = Field(None, description="Default: as the plan item.")
    priority: Priority | None = Field(None, description="Default: as the plan item.")


class VisitUpdate(Patch):
    windows: Windows | None = None
    duration_min: DurationMin | None = None
    priority: Priority | None = None


class VisitCancel(Body):
    reason: Annotated[str, Field(min_length=1, max_length=200)]


class VisitQuery(Query):
    date: dt.date | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    status: VisitStatusEnum | None = None
    person_id: Id | None = None
    caregiver_id: Id | None = Field(None, description="Visits assigned to this caregiver.")
    agency_id: Id | None = Field(None, description="Cross-agency roles only.")


class VisitOut(Out):
    id: int
    plan_item_id: int
    person_id: int
    agency_id: int
    date: dt.date
    seq: int
    windows: list[list[str]]
    duration_min: int
    skills: list[str]
    staff_count: int
    priority: int
    gender_required: Gender | None
    preferred_caregiver_id: int | None
    volunteer_ok: bool
    status: VisitStatusEnum
    caregiver_ids: list[int] = Field(default_factory=list, description="Assigned now.")
    volunteer_ids: list[int] = Field(default_factory=list)
    status_changed_at: dt.datetime | None
    assigned_at: dt.datetime | None
    started_at: dt.datetime | None
    completed_at: dt.datetime | None
    verified_at: dt.datetime | None
    cancelled_at: dt.datetime | None
    missed_at: dt.datetime | None
    cancel_reason: str | None
    created_at: dt.datetime
