"""The person's or family's confirmation at check-out: a PIN checked against the one the
agency set (never stored), a limit on wrong PINs per person and day, replays answered as
stored, signatures validated and kept as SVG path data, the require_confirmation rule
with each method, and the person API's write-only PIN."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import uuid
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, inspect, select
from sqlalchemy.orm import Session

from app.models import EvvAction, InsuredPerson, Role, VisitVerification
from app.services import evv
from app.services.auth import verify_password
from app.services.evv_confirmation import (
    MAX_WRONG_PINS,
    Confirmation,
    set_pin,
    wrong_pins_today,
)
from app.services.evv_rules import EvvRules
from tests.app.conftest import add_visit, assign
from tests.app.evv.conftest import EvvWorld, action, local
from tests.app.evv.test_evv_api import body, client_for

PIN = "730519"
WRONG = "111111"
# Two strokes across the pad: enough points, spread wide.
SIGNATURE = (
    "M20 100 Q40 60 60 80 Q80 100 100 70 Q120 40 140 80 L160 100 "
    "M200 120 L220 60 L240 110 L260 50 L280 115"
)
REQUIRED = EvvRules(require_confirmation=True)
ACTIONS = "/api/v1/my/evv/actions"


def with_pin(session: Session, person: InsuredPerson, pin: str = PIN) -> None:
    set_pin(person, pin)
    session.commit()


def check_in(session: Session, ew: EvvWorld, rules: EvvRules = REQUIRED, **kw: Any) -> None:
    r = evv.record_action(
        session,
        ew.user,
        action(ew.visit, "check_in", local(ew.w.today, "09:05")),
        rules=rules,
        **kw,
    )
    assert r.action.state == "applied"


def check_out(
    session: Session,
    ew: EvvWorld,
    confirmation: Confirmation | None,
    *,
    rules: EvvRules = REQUIRED,
    action_id: str | None = None,
    now: dt.datetime | None = None,
) -> evv.ActionResult:
    data = dataclasses.replace(
        action(ew.visit, "check_out", local(ew.w.today, "09:55"), action_id=action_id),
        confirmation=confirmation,
    )
    return evv.record_action(session, ew.user, data, rules=rules, now=now)


def pin(value: str, by: str = "family") -> Confirmation:
    return Confirmation("pin", by, value)


# --- PIN -------------------------------------------------------------------------------


def test_the_right_pin_confirms_the_visit(session: Session, ew: EvvWorld) -> None:
    with_pin(session, ew.w.person)
    check_in(session, ew)
    r = check_out(session, ew, pin(PIN, "person"))
    assert r.action.confirmation == {"method": "pin", "by": "person", "ok": True}
    assert r.verification is not None
    assert (r.verification.outcome, r.verification.reasons) == ("verified", [])
    assert r.verification.confirmation == {"method": "pin", "by": "person", "ok": True}
    assert r.visit.status == "verified"


def test_a_wrong_pin_does_not_confirm(session: Session, ew: EvvWorld) -> None:
    with_pin(session, ew.w.person)
    check_in(session, ew)
    r = check_out(session, ew, pin(WRONG))
    expected = {"method": "pin", "by": "family", "ok": False, "reason": "wrong_pin"}
    assert r.action.confirmation == expected
    assert r.verification is not None
    assert (r.verification.outcome, r.verification.reasons) == ("exception", ["not_confirmed"])


def test_a_person_without_a_pin_cannot_be_confirmed_by_pin(session: Session, ew: EvvWorld) -> None:
    check_in(session, ew)
    r = check_out(session, ew, pin(PIN))
    assert r.action.confirmation == {
        "method": "pin",
        "by": "family",
        "ok": False,
        "reason": "no_pin",
    }
    assert r.verification is not None
    assert r.verification.reasons == ["not_confirmed"]


def _row_text(row: Any) -> str:
    # Every column but the timestamps (their digits are the clock's, not ours).
    values = {
        c.key: getattr(row, c.key)
        for c in inspect(row).mapper.column_attrs
        if not isinstance(getattr(row, c.key), dt.datetime)
    }
    return json.dumps(values, default=str, ensure_ascii=False)


def test_the_pin_is_stored_nowhere(session: Session, ew: EvvWorld) -> None:
    with_pin(session, ew.w.person)
    check_in(session, ew)
    check_out(session, ew, pin(PIN))
    check_out(session, ew, pin(WRONG))  # a second check-out: ignored, but checked
    person = session.get(InsuredPerson, ew.w.person.id)
    assert person is not None
    assert person.confirmation_pin_hash is not None
    assert person.confirmation_pin_hash.startswith("$argon2id$")
    assert verify_password(person.confirmation_pin_hash, PIN)
    rows = [
        *session.scalars(select(EvvAction)),
        *session.scalars(select(VisitVerification)),
        person,
    ]
    assert len(rows) == 5
    texts = [_row_text(r) for r in rows]
    assert all(PIN not in t and WRONG not in t for t in texts), texts
    assert sum('"ok": true' in t for t in texts) == 2  # the check-out and its record


def test_after_five_wrong_pins_a_person_is_refused_for_the_rest_of_the_day(
    session: Session, ew: EvvWorld
) -> None:
    with_pin(session, ew.w.person)
    with_pin(session, ew.other_person)
    morning = local(ew.w.today, "10:00")
    for _ in range(MAX_WRONG_PINS):
        r = check_out(session, ew, pin(WRONG), now=morning)
        assert r.action.confirmation["reason"] == "wrong_pin"
    assert wrong_pins_today(session, ew.w.person.id, morning, "Asia/Shanghai") == MAX_WRONG_PINS

    # The right PIN, later the same day: refused without being checked.
    r = check_out(session, ew, pin(PIN), now=local(ew.w.today, "23:59"))
    expected = {"method": "pin", "by": "family", "ok": False, "reason": "too_many_attempts"}
    assert r.action.confirmation == expected
    # Another person's PIN is not affected.
    other = dataclasses.replace(
        action(ew.other_visit, "check_out", local(ew.w.today, "09:55")), confirmation=pin(PIN)
    )
    r = evv.record_action(session, ew.other_user, other, rules=REQUIRED, now=morning)
    assert r.action.confirmation["ok"] is True
    # The next day counts afresh.
    tomorrow = local(ew.w.today + dt.timedelta(days=1), "00:00")
    assert wrong_pins_today(session, ew.w.person.id, tomorrow, "Asia/Shanghai") == 0
    r = check_out(session, ew, pin(PIN), now=tomorrow)
    assert r.action.confirmation["ok"] is True


def test_a_refused_pin_leaves_the_visit_not_confirmed(session: Session, ew: EvvWorld) -> None:
    with_pin(session, ew.w.person)
    # Sent offline before the check-in: kept pending, each PIN checked as it arrives.
    for minute in range(MAX_WRONG_PINS):
        check_out(session, ew, pin(WRONG), now=local(ew.w.today, f"10:0{minute}"))
    right = check_out(session, ew, pin(PIN), now=local(ew.w.today, "10:10"))
    assert right.action.state == "pending"
    assert right.action.confirmation["reason"] == "too_many_attempts"
    # The check-in applies the oldest pending check-out; the rest are ignored.
    check_in(session, ew, now=local(ew.w.today, "10:20"))
    record = session.scalar(select(VisitVerification))
    assert record is not None
    assert record.reasons == ["not_confirmed"]
    assert record.confirmation["reason"] == "wrong_pin"
    session.refresh(right.action)
    assert right.action.state == "ignored"


def test_a_replayed_action_answers_as_stored_and_counts_once(
    session: Session, ew: EvvWorld
) -> None:
    with_pin(session, ew.w.person)
    check_in(session, ew)
    now = local(ew.w.today, "10:00")
    right_id, wrong_id = str(uuid.uuid4()), str(uuid.uuid4())
    first = check_out(session, ew, pin(PIN), action_id=right_id, now=now)
    wrong = check_out(session, ew, pin(WRONG), action_id=wrong_id, now=now)
    assert (first.action.confirmation["ok"], wrong.action.confirmation["ok"]) == (True, False)
    for _ in range(MAX_WRONG_PINS + 2):
        again = check_out(session, ew, pin(WRONG), action_id=wrong_id, now=now)
        assert again.duplicate
        assert again.action.confirmation == wrong.action.confirmation
    assert wrong_pins_today(session, ew.w.person.id, now, "Asia/Shanghai") == 1
    # The PIN changes: a replay of the first check-out still answers what was stored.
    with_pin(session, ew.w.person, "9999")
    replay = check_out(session, ew, pin(PIN), action_id=right_id, now=now)
    assert replay.duplicate
    assert replay.action.confirmation == {"method": "pin", "by": "family", "ok": True}
    assert replay.verification is not None
    assert replay.verification.id == first.verification.id  # type: ignore[union-attr]
    assert replay.verification.outcome == "verified"


# --- signature -------------------------------------------------------------------------


def test_a_signature_is_kept_as_path_data_and_confirms(
    app: Flask, session: Session, ew: EvvWorld
) -> None:
    client = client_for(app, session, ew.user)
    r = client.post(ACTIONS, json=body(ew.visit.id, "check_in", local(ew.w.today, "09:05")))
    assert r.status_code == 200, r.json
    out = body(ew.visit.id, "check_out", local(ew.w.today, "09:55"))
    out["confirmation"] = {"method": "signature", "by": "person", "value": SIGNATURE}
    r = client.post(ACTIONS, json=out)
    assert r.status_code == 200, r.json
    kept = {"method": "signature", "by": "person", "ok": True, "path": SIGNATURE, "box": [400, 160]}
    assert session.get(EvvAction, out["id"]).confirmation == kept  # type: ignore[union-attr]
    answered = kept | {"reason": None}
    assert r.json["confirmation"] == answered
    assert r.json["verification"]["confirmation"] == answered
    staff = client_for(app, session, ew.w.users[Role.DISPATCHER])
    records = staff.get(f"/api/v1/evv/visits/{ew.visit.id}").json["records"]
    assert records[0]["confirmation"]["path"] == SIGNATURE


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("M20 100 C40 60 60 80 100 70 L160 100 L200 120 L220 60 L240 110 L260 50", "M, L and Q"),
        ("L20 100 L40 60 L60 80", "start with an M"),
        ("M20 100 L40 60 L60 80 L500 80", "box"),
        ("M20 100 L-40 60", "number"),
        ("M20 100 Q40 60 L60 80", "count of numbers"),
        ("M5 5 L5 5", "too small"),
        ("M5 5 " + " ".join(f"L{5 + i % 3} {5 + i % 2}" for i in range(40)), "too small"),
        ("M1 1 " + "L200 100 L1 1 " * 1600, "20000"),  # the length cap (in the request's language)
    ],
)
def test_a_bad_signature_is_400_naming_the_field_and_writes_nothing(
    app: Flask, session: Session, ew: EvvWorld, value: str, problem: str
) -> None:
    client = client_for(app, session, ew.user)
    out = body(ew.visit.id, "check_out", local(ew.w.today, "09:55"))
    out["confirmation"] = {"method": "signature", "by": "family", "value": value}
    r = client.post(ACTIONS, json=out, headers={"Accept-Language": "en"})
    assert r.status_code == 400
    assert list(r.json["errors"]) == ["confirmation.value"]
    assert problem in r.json["errors"]["confirmation.value"]
    assert session.scalar(select(func.count()).select_from(EvvAction)) == 0


@pytest.mark.parametrize("value", ["123", "1234567", "12a4", "１２３４"])
def test_a_pin_that_is_not_4_to_6_digits_is_400(
    app: Flask, session: Session, ew: EvvWorld, value: str
) -> None:
    client = client_for(app, session, ew.user)
    out = body(ew.visit.id, "check_out", local(ew.w.today, "09:55"))
    out["confirmation"] = {"method": "pin", "by": "family", "value": value}
    r = client.post(ACTIONS, json=out)
    assert r.status_code == 400
    assert list(r.json["errors"]) == ["confirmation.value"]
    assert session.scalar(select(func.count()).select_from(EvvAction)) == 0


def test_a_confirmation_goes_with_the_check_out_only(
    app: Flask, session: Session, ew: EvvWorld
) -> None:
    client = client_for(app, session, ew.user)
    data = body(ew.visit.id, "check_in", local(ew.w.today, "09:05"))
    data["confirmation"] = {"method": "pin", "by": "family", "value": PIN}
    r = client.post(ACTIONS, json=data)
    assert r.status_code == 400
    assert list(r.json["errors"]) == ["confirmation"]


# --- the require_confirmation rule, each method ----------------------------------------


@pytest.mark.parametrize(
    ("confirmation", "outcome", "reasons"),
    [
        (None, "exception", ["not_confirmed"]),
        (pin(PIN), "verified", []),
        (pin(WRONG), "exception", ["not_confirmed"]),
        (Confirmation("signature", "family", SIGNATURE), "verified", []),
    ],
    ids=["none", "right-pin", "wrong-pin", "signature"],
)
def test_require_confirmation_with_each_method(
    session: Session,
    ew: EvvWorld,
    confirmation: Confirmation | None,
    outcome: str,
    reasons: list[str],
) -> None:
    with_pin(session, ew.w.person)
    check_in(session, ew)
    r = check_out(session, ew, confirmation)
    assert r.verification is not None
    assert (r.verification.outcome, r.verification.reasons) == (outcome, reasons)
    # Without the rule, the visit is verified whatever the confirmation says.
    lenient = add_visit(session, ew.w.item, ew.w.today, "assigned", seq=9)
    assign(session, lenient, caregiver=ew.w.caregiver)
    session.commit()
    rules = EvvRules()
    day = ew.w.today
    evv.record_action(
        session, ew.user, action(lenient, "check_in", local(day, "09:05")), rules=rules
    )
    data = dataclasses.replace(
        action(lenient, "check_out", local(day, "09:55")), confirmation=confirmation
    )
    r = evv.record_action(session, ew.user, data, rules=rules)
    assert r.verification is not None
    assert r.verification.outcome == "verified"


# --- the dispatcher's view of the record -----------------------------------------------


def test_the_exception_queue_shows_the_signature_inline(
    app: Flask, session: Session, ew: EvvWorld
) -> None:
    check_in(session, ew)
    data = dataclasses.replace(
        action(ew.visit, "check_out", local(ew.w.today, "09:15")),  # too short
        confirmation=Confirmation("signature", "family", SIGNATURE),
    )
    r = evv.record_action(session, ew.user, data, rules=REQUIRED)
    assert r.verification is not None
    assert r.verification.reasons == ["too_short"]
    page = client_for(app, session, ew.w.users[Role.DISPATCHER]).get("/dispatch/exceptions")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert '<svg class="exception__signature" viewBox="0 0 400 160"' in html
    assert f'<path d="{SIGNATURE}"/>' in html


# --- the person API: a write-only PIN --------------------------------------------------


def test_a_dispatcher_sets_a_pin_that_is_never_returned(
    app: Flask, session: Session, ew: EvvWorld
) -> None:
    client = client_for(app, session, ew.w.users[Role.DISPATCHER])
    url = f"/api/v1/persons/{ew.w.person.id}"
    assert client.get(url).json["has_confirmation_pin"] is False
    r = client.patch(url, json={"confirmation_pin": PIN})
    assert r.status_code == 200, r.json
    assert r.json["has_confirmation_pin"] is True
    for answer in (r, client.get(url), client.get("/api/v1/persons")):
        text = answer.get_data(as_text=True)
        assert PIN not in text
        assert "confirmation_pin_hash" not in text
        assert '"confirmation_pin"' not in text
    session.expire_all()
    stored = session.get(InsuredPerson, ew.w.person.id)
    assert stored is not None
    assert stored.confirmation_pin_hash is not None
    assert verify_password(stored.confirmation_pin_hash, PIN)
    # null removes it.
    r = client.patch(url, json={"confirmation_pin": None})
    assert r.status_code == 200, r.json
    assert r.json["has_confirmation_pin"] is False


@pytest.mark.parametrize("value", ["123", "1234567", "12 4", "abcd", "１２３４", 1234])
def test_a_pin_for_a_person_must_be_4_to_6_digits(
    app: Flask, session: Session, ew: EvvWorld, value: Any
) -> None:
    client = client_for(app, session, ew.w.users[Role.AGENCY_ADMIN])
    r = client.patch(f"/api/v1/persons/{ew.w.person.id}", json={"confirmation_pin": value})
    assert r.status_code == 400
    assert list(r.json["errors"]) == ["confirmation_pin"]
    session.expire_all()
    assert session.get(InsuredPerson, ew.w.person.id).confirmation_pin_hash is None  # type: ignore[union-attr]


def test_a_caregiver_cannot_set_a_pin(app: Flask, session: Session, ew: EvvWorld) -> None:
    client = client_for(app, session, ew.user)
    r = client.patch(f"/api/v1/persons/{ew.w.person.id}", json={"confirmation_pin": PIN})
    assert r.status_code == 403
    session.expire_all()
    assert session.get(InsuredPerson, ew.w.person.id).confirmation_pin_hash is None  # type: ignore[union-attr]
