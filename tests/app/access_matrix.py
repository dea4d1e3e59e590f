"""The declared access matrix: who may call every endpoint of the application.

One row per registered endpoint (``static`` aside). ``test_access_matrix.py`` fails when
an endpoint has no row, when a row names an endpoint that is gone, when a view's
``@allow``/``@public`` disagrees with its row, and when a real request by any role (or
anonymously) is not answered as the row says.

To add rows: ``MATRIX["api.persons_get"] = Row(STAFF, kwargs={"person_id": Ref("person_id")})``.
``Ref(name)`` stands for an id of the test world (see ``World.ids`` in conftest.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from app.models import Role


@dataclass(frozen=True)
class Ref:
    """An id from the test world, filled in at request time (e.g. ``Ref("person_id")``)."""

    name: str


@dataclass(frozen=True)
class Row:
    """Who may call an endpoint, and how to call it in the test.

    ``roles`` are the roles let through (all six for a public view); ``public`` views also
    admit anonymous visitors. ``kwargs`` fill the URL rule; ``json`` is sent as the body.
    """

    roles: frozenset[Role]
    method: str = "GET"
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    public: bool = False
    json: Any = None


ALL = frozenset(Role)
STAFF = frozenset({Role.DISPATCHER, Role.AGENCY_ADMIN, Role.AUDITOR, Role.SYS_ADMIN})


def public(method: str = "GET", **kwargs: Any) -> Row:
    return Row(ALL, method=method, kwargs=kwargs, public=True)


MATRIX: dict[str, Row] = {
    # Web shell (app/views)
    "views.index": public(),
    "views.home": Row(ALL),
    "views.set_language": public(code="en"),
    "views.healthz": public(),
    # Dispatcher board (app/views/board.py)
    "views.board": Row(STAFF),
    # Login and sessions (app/auth)
    "auth.login": public("POST"),
    "auth.logout": Row(ALL, method="POST"),
    "auth.sessions": Row(ALL),
    "auth.revoke": Row(ALL, method="POST", kwargs={"session_id": 999_999}),
}

# JSON API (app/api). Bodies are empty objects: allowed roles get 400/404/409 or a no-op,
# never a change to the world, and the verdict only needs "neither 401 nor 403".
MANAGERS = frozenset({Role.DISPATCHER, Role.AGENCY_ADMIN})
INSURER = frozenset({Role.AUDITOR, Role.SYS_ADMIN})
OPERATOR = frozenset({Role.SYS_ADMIN})
_AGENCY = {"agency_id": Ref("agency_id")}
_PERSON = {"person_id": Ref("person_id")}
_ITEM = {"item_id": Ref("service_item_id")}
_CAREGIVER = {"caregiver_id": Ref("caregiver_id")}
_VOLUNTEER = {"volunteer_id": Ref("volunteer_id")}
_PLAN = {"plan_id": Ref("plan_id")}
_VISIT = {"visit_id": Ref("visit_id")}
MATRIX.update(
    {
        "api.openapi": public(),
        "api.docs": public(),
        "api.list_agencies": Row(ALL),
        "api.get_agency": Row(ALL, kwargs=_AGENCY),
        "api.create_agency": Row(OPERATOR, "POST", json={}),
        "api.update_agency": Row(OPERATOR, "PATCH", kwargs=_AGENCY, json={}),
        "api.list_persons": Row(ALL),
        "api.get_person": Row(ALL, kwargs=_PERSON),
        "api.create_person": Row(MANAGERS, "POST", json={}),
        "api.update_person": Row(MANAGERS, "PATCH", kwargs=_PERSON, json={}),
        "api.list_assessments": Row(STAFF, kwargs=_PERSON),
        "api.create_assessment": Row(INSURER, "POST", kwargs=_PERSON, json={}),
        "api.get_assessment": Row(STAFF, kwargs={"assessment_id": 999_999}),
        "api.list_service_items": Row(ALL),
        "api.get_service_item": Row(ALL, kwargs=_ITEM),
        "api.create_service_item": Row(OPERATOR, "POST", json={}),
        "api.update_service_item": Row(OPERATOR, "PATCH", kwargs=_ITEM, json={}),
        "api.list_caregivers": Row(STAFF),
        "api.get_caregiver": Row(STAFF, kwargs=_CAREGIVER),
        "api.create_caregiver": Row(MANAGERS, "POST", json={}),
        "api.update_caregiver": Row(MANAGERS, "PATCH", kwargs=_CAREGIVER, json={}),
        "api.list_volunteers": Row(STAFF),
        "api.get_volunteer": Row(STAFF, kwargs=_VOLUNTEER),
        "api.create_volunteer": Row(MANAGERS, "POST", json={}),
        "api.update_volunteer": Row(MANAGERS, "PATCH", kwargs=_VOLUNTEER, json={}),
        "api.list_plans": Row(STAFF),
        "api.get_plan": Row(STAFF, kwargs=_PLAN),
        "api.create_plan": Row(MANAGERS, "POST", json={}),
        "api.update_plan": Row(MANAGERS, "PATCH", kwargs=_PLAN, json={}),
        "api.approve_plan": Row(INSURER, "POST", kwargs=_PLAN, json={}),
        "api.list_visits": Row(ALL),
        "api.get_visit": Row(ALL, kwargs=_VISIT),
        "api.create_visit": Row(MANAGERS, "POST", json={}),
        "api.update_visit": Row(MANAGERS, "PATCH", kwargs=_VISIT, json={}),
        "api.cancel_visit": Row(MANAGERS, "POST", kwargs=_VISIT, json={}),
    }
)

# Dispatch (app/api/dispatch.py). A past date and unknown ids keep every call a no-op.
WORKERS = frozenset({Role.CAREGIVER, Role.VOLUNTEER})
_PAST = {"date": "2020-01-06"}
_NO_VERSION = {"version_id": 999_999}
MATRIX.update(
    {
        "api.plan_day": Row(MANAGERS, "POST", kwargs=_PAST, json={}),
        "api.get_job": Row(STAFF, kwargs={"job_id": "no-such-job"}),
        "api.cancel_job": Row(MANAGERS, "POST", kwargs={"job_id": "no-such-job"}, json={}),
        "api.get_board": Row(STAFF, kwargs=_PAST),
        "api.get_version": Row(STAFF, kwargs=_NO_VERSION),
        "api.compare_versions": Row(STAFF, kwargs={"a": 999_998, "b": 999_999}),
        "api.edit_version": Row(MANAGERS, "POST", kwargs=_NO_VERSION, json={}),
        "api.repair_day": Row(MANAGERS, "POST", kwargs=_PAST, json={}),
        "api.publish_version": Row(MANAGERS, "POST", kwargs=_NO_VERSION, json={}),
        "api.export_day": Row(STAFF, kwargs=_PAST),
        "api.override_cap": Row(MANAGERS, "POST", kwargs=_VISIT, json={}),
        "api.acknowledge_notice": Row(WORKERS, "POST", kwargs={"notice_id": 999_999}, json={}),
    }
)

# Caregiver app and verified visits (app/views/mobile.py, app/views/exceptions.py,
# app/api/mobile.py, app/api/evv.py).
MATRIX.update(
    {
        "views.mobile_app": Row(WORKERS),
        "views.service_worker": public(),
        "views.exceptions": Row(STAFF),
        "views.decide_exception": Row(
            MANAGERS, "POST", kwargs={"verification_id": 999_999}, json={}
        ),
        "api.my_route": Row(WORKERS, kwargs={"day": "today"}),
        "api.record_evv_action": Row(WORKERS, "POST", json={}),
        "api.list_evv_exceptions": Row(STAFF),
        "api.decide_evv_exception": Row(
            MANAGERS, "POST", kwargs={"verification_id": 999_999}, json={}
        ),
        "api.get_visit_evv": Row(STAFF, kwargs=_VISIT),
    }
)

# Time bank (app/api/timebank.py, app/views/timebank.py).
VOLUNTEER = frozenset({Role.VOLUNTEER})
TB_ADMINS = frozenset({Role.AGENCY_ADMIN, Role.AUDITOR, Role.SYS_ADMIN})
TB_REVERSERS = frozenset({Role.AGENCY_ADMIN, Role.SYS_ADMIN})
MATRIX.update(
    {
        "api.my_timebank_balance": Row(VOLUNTEER),
        "api.my_timebank_statement": Row(VOLUNTEER),
        "api.redeem_minutes": Row(VOLUNTEER, "POST", json={}),
        "api.cancel_my_redemption": Row(VOLUNTEER, "POST", kwargs={"visit_id": 999_999}, json={}),
        "api.gift_minutes": Row(VOLUNTEER, "POST", json={}),
        "api.donate_minutes": Row(VOLUNTEER, "POST", json={}),
        "api.volunteer_timebank_statement": Row(TB_ADMINS, kwargs=_VOLUNTEER),
        "api.reverse_transfer": Row(TB_REVERSERS, "POST", json={}),
        "api.timebank_liability": Row(TB_ADMINS),
    }
)
MATRIX.update(
    {
        "views.timebank_home": Row(VOLUNTEER),
        "views.timebank_statement": Row(VOLUNTEER),
        "views.timebank_statement_csv": Row(VOLUNTEER),
        "views.timebank_redeem": Row(VOLUNTEER),
        "views.timebank_cancel_redemption": Row(VOLUNTEER, "POST", kwargs={"visit_id": 999_999}),
        "views.timebank_give": Row(VOLUNTEER),
        "views.timebank_admin": Row(TB_ADMINS),
        "views.timebank_admin_statement": Row(TB_ADMINS, kwargs=_VOLUNTEER),
        "views.timebank_admin_reverse": Row(TB_REVERSERS, "POST"),
    }
)

# Supervision dashboard (app/api/supervision.py, app/views/supervision.py).
SUPERVISORS = frozenset({Role.AGENCY_ADMIN, Role.AUDITOR, Role.SYS_ADMIN})
MATRIX.update(
    {
        "api.supervision_kpis": Row(SUPERVISORS),
        "views.supervision_dashboard": Row(SUPERVISORS),
    }
)

# Settlement (app/api/settlement.py). Unknown ids and empty bodies keep every call a no-op.
SETTLERS = frozenset({Role.AGENCY_ADMIN, Role.AUDITOR, Role.SYS_ADMIN})
_SETTLEMENT = {"settlement_id": 999_999}
MATRIX.update(
    {
        "api.list_settlements": Row(SETTLERS),
        "api.open_settlement": Row(frozenset({Role.AGENCY_ADMIN}), "POST", json={}),
        "api.get_settlement": Row(SETTLERS, kwargs=_SETTLEMENT),
        "api.list_claim_lines": Row(SETTLERS, kwargs=_SETTLEMENT),
        "api.list_settlement_events": Row(SETTLERS, kwargs=_SETTLEMENT),
        "api.rebuild_settlement": Row(
            frozenset({Role.AGENCY_ADMIN}), "POST", kwargs=_SETTLEMENT, json={}
        ),
        "api.step_settlement": Row(
            frozenset({Role.AGENCY_ADMIN, Role.AUDITOR}), "POST", kwargs=_SETTLEMENT, json={}
        ),
        "api.review_claim_line": Row(
            frozenset({Role.AUDITOR}),
            "POST",
            kwargs={"settlement_id": 999_999, "line_id": 999_999},
            json={},
        ),
        "api.export_settlement": Row(SETTLERS, kwargs=_SETTLEMENT),
    }
)

# Settlement pages (app/views/settlement.py).
MATRIX.update(
    {
        "views.settlements": Row(SETTLERS),
        "views.settlement_open": Row(frozenset({Role.AGENCY_ADMIN}), "POST"),
        "views.settlement_detail": Row(SETTLERS, kwargs=_SETTLEMENT),
        "views.settlement_step": Row(
            frozenset({Role.AGENCY_ADMIN, Role.AUDITOR}), "POST", kwargs=_SETTLEMENT
        ),
        "views.settlement_review_line": Row(
            frozenset({Role.AUDITOR}), "POST", kwargs={"settlement_id": 999_999, "line_id": 999_999}
        ),
    }
)

# Anomalies (app/api/anomalies.py, app/views/anomalies.py): agency admins and the insurer.
ANOMALY_READERS = frozenset({Role.AGENCY_ADMIN, Role.AUDITOR, Role.SYS_ADMIN})
MATRIX.update(
    {
        "api.list_anomalies": Row(ANOMALY_READERS),
        "views.anomalies_page": Row(ANOMALY_READERS),
    }
)
