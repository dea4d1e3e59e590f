"""The database model. Importing this package registers every table on ``Base.metadata``."""

from .base import Base, TimestampMixin, UTCDateTime, utcnow
from .care import CarePlan, PlanItem, ServiceItem, Visit, VisitAssignment
from .dispatch import (
    CapOverride,
    CaregiverAbsence,
    PlanVersion,
    PlanVersionImmutable,
    Publication,
    RouteNotice,
    SolveJob,
)
from .enums import (
    CROSS_AGENCY_ROLES,
    Gender,
    ItemCategory,
    PersonStatus,
    PlanStatus,
    Role,
    Skill,
    TravelMode,
    VisitStatus,
)
from .evv import EvvAction, EvvRecordImmutable, VisitVerification
from .org import AccessLog, Agency, User, UserSession
from .people import (
    Assessment,
    Caregiver,
    InsuredPerson,
    Qualification,
    Volunteer,
    VolunteerRelative,
    mask_id_number,
)
from .settlement import (
    ClaimLine,
    ExportLog,
    Settlement,
    SettlementEvent,
    SettlementLocked,
)

__all__ = [
    "CROSS_AGENCY_ROLES",
    "AccessLog",
    "Agency",
    "Assessment",
    "Base",
    "CapOverride",
    "ClaimLine",
    "ExportLog",
    "CarePlan",
    "Caregiver",
    "CaregiverAbsence",
    "EvvAction",
    "EvvRecordImmutable",
    "Gender",
    "InsuredPerson",
    "ItemCategory",
    "PersonStatus",
    "PlanItem",
    "PlanStatus",
    "PlanVersion",
    "PlanVersionImmutable",
    "Publication",
    "Qualification",
    "Role",
    "RouteNotice",
    "ServiceItem",
    "Settlement",
    "SettlementEvent",
    "SettlementLocked",
    "Skill",
    "SolveJob",
    "TimestampMixin",
    "TravelMode",
    "UTCDateTime",
    "User",
    "UserSession",
    "Visit",
    "VisitAssignment",
    "VisitVerification",
    "VisitStatus",
    "Volunteer",
    "VolunteerRelative",
    "mask_id_number",
    "utcnow",
]
