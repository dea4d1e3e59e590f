"""The time bank's services against the real EVV flow: earning exactly once, redemption
as a held visit, gifts and donations between registered relatives, reversals that tell
both parties, statements and their CSV export."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

import timebank
from app.models import Role, Visit, VisitStatus
from app.services import evv_events, timebank_events
from app.services import timebank as tb_service
from app.services import timebank_redemption as redemption
from app.services.errors import Conflict, Forbidden, NotFound, ValidationFailed
from app.services.exports import safe_cell
from app.services.timebank_hooks import on_visit_verified
from app.services.timebank_policy import load_timebank_policy
from tests.app.timebank.conftest import TbWorld, verify_visit, volunteer_visit


def _balance(session: Session, tb: TbWorld) -> tb_service.Balance:
    return tb_service.my_balance(session, tb.user)


def _fund(session: Session, tb: TbWorld, minutes: int, *, seq: int = 40) -> None:
    """Give the volunteer ``minutes`` by a verified visit of that length."""
    visit = volunteer_visit(session, tb, seq=seq)
    visit.duration_min = minutes
    visit.windows = [["09:00", "20:00"]]
    session.commit()
    end = (dt.datetime(2000, 1, 1, 9, 0) + dt.timedelta(minutes=minutes)).strftime("%H:%M")
    verify_visit(session, tb.user, visit, "09:00", end)


@pytest.fixture
def corrections() -> Iterator[list[dict[str, Any]]]:
    seen: list[dict[str, Any]] = []

    def receiver(sender: object, *, room: str, payload: dict[str, Any]) -> None:
        seen.append({"room": room, **payload})

    timebank_events.correction_posted.connect(receiver)
    yield seen
    timebank_events.correction_posted.disconnect(receiver)


@pytest.fixture
def policy_file(app: Flask, tmp_path: Path) -> Iterator[Path]:
    """Point the app at a policy file of the test's own; restored afterwards."""
    path = tmp_path / "timebank_policy.json"
    app.config["CAREROUTE_TIMEBANK_POLICY_FILE"] = str(path)
    yield path
    app.config.pop("CAREROUTE_TIMEBANK_POLICY_FILE")


def _write_policy(path: Path, **changes: Any) -> None:
    data = json.loads(
        Path(tb_service.__file__).parents[1].joinpath("policy", "timebank_policy.json").read_text()
    )
    data.update(changes)
    path.write_text(json.dumps(data))


def test_the_listener_is_registered_by_the_app(app: Flask) -> None:
    assert on_visit_verified in evv_events.VERIFIED_LISTENERS


def test_a_verified_volunteer_visit_credits_its_verified_minutes_once(
    session: Session, tb: TbWorld
) -> None:
    visit = volunteer_visit(session, tb)
    record = verify_visit(session, tb.user, visit, "09:05", "09:55")
    assert _balance(session, tb) == tb_service.Balance(50, 0, 50, 90_000)
    # The verification replayed (a second listener call, as on a duplicate): nothing new.
    on_visit_verified(session, visit, record)
    on_visit_verified(session, visit, record)
    session.commit()
    assert _balance(session, tb).balance_min == 50
    st = tb_service.my_statement(session, tb.user)
    assert [(line.code, line.amount_min, line.balance_after_min) for line in st.lines] == [
        ("service_credit", 50, 50)
    ]
    assert st.lines[0].description == f"提供服务，探访 v-{visit.id}"  # zh_Hans_CN by default
    assert timebank.verify(session).ok


def test_a_caregivers_verified_visit_credits_nobody(session: Session, tb: TbWorld) -> None:
    verify_visit(session, tb.w.users[Role.CAREGIVER], tb.w.visits[0])
    assert timebank.liability_report(session).members_balance_min == 0


def test_category_weights_and_the_storage_cap_come_from_the_policy_file(
    session: Session, tb: TbWorld, policy_file: Path
) -> None:
    _write_policy(policy_file, storage_cap_min=60, category_weight_pct={"basic_care": 150})
    visit = volunteer_visit(session, tb)
    verify_visit(session, tb.user, visit, "09:05", "09:55")  # 50 min at 150 % = 75
    assert _balance(session, tb).balance_min == 60
    report = timebank.liability_report(session)
    assert (report.pool_min, report.members_balance_min) == (15, 60)
    codes = [line.code for line in tb_service.my_statement(session, tb.user).lines]
    assert codes == ["service_credit", "cap_overflow"]


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        ({"format": "x"}, "$.format"),
        ({"storage_cap_min": 0}, "$.storage_cap_min"),
        ({"category_weight_pct": {"dancing": 120}}, "$.category_weight_pct.dancing"),
        ({"category_weight_pct": {"household": 0}}, "$.category_weight_pct.household"),
        ({"expiry_days": "30"}, "$.expiry_days"),
        ({"redemption_hold_timeout_s": None}, "$.redemption_hold_timeout_s"),
        ({"colour": "red"}, "$.colour"),
    ],
)
def test_a_bad_policy_file_names_the_field(
    tmp_path: Path, changes: dict[str, Any], path: str
) -> None:
    from app.policy import PolicyError

    target = tmp_path / "p.json"
    _write_policy(target, **changes)
    with pytest.raises(PolicyError) as err:
        load_timebank_policy(target)
    assert err.value.path == path


def test_gifts_go_to_registered_relatives_only(session: Session, tb: TbWorld) -> None:
    _fund(session, tb, 90)
    request_id = str(uuid.uuid4())
    tb_service.gift_minutes(
        session, tb.user, relative_id=tb.daughter_link.id, amount_min=30, request_id=request_id
    )
    # The same form sent twice is one gift.
    tb_service.gift_minutes(
        session, tb.user, relative_id=tb.daughter_link.id, amount_min=30, request_id=request_id
    )
    assert _balance(session, tb).balance_min == 60
    assert tb_service.my_balance(session, tb.daughter_user).balance_min == 30
    daughter_lines = tb_service.my_statement(session, tb.daughter_user).lines
    assert daughter_lines[0].description == "来自 李强 的赠予"
    with pytest.raises(ValidationFailed) as err:
        tb_service.gift_minutes(
            session,
            tb.user,
            relative_id=tb.stranger_link_id,
            amount_min=5,
            request_id=str(uuid.uuid4()),
        )
    assert "relative_id" in err.value.errors
    with pytest.raises(Conflict) as err2:
        tb_service.gift_minutes(
            session,
            tb.user,
            relative_id=tb.daughter_link.id,
            amount_min=61,
            request_id=str(uuid.uuid4()),
        )
    assert "amount_min" in err2.value.errors
    with pytest.raises(Conflict) as err3:  # the id already made another gift
        tb_service.gift_minutes(
            session, tb.user, relative_id=tb.daughter_link.id, amount_min=10, request_id=request_id
        )
    assert "request_id" in err3.value.errors
    # Minutes given to an insured relative land on that person's own account.
    tb_service.gift_minutes(
        session, tb.user, relative_id=tb.mother_link.id, amount_min=10, request_id=str(uuid.uuid4())
    )
    person = tb_service.find_member(session, f"person:{tb.mother.id}")
    assert person is not None
    assert person.balance_min == 10


def test_donations_go_to_the_pool(session: Session, tb: TbWorld) -> None:
    _fund(session, tb, 40)
    tb_service.donate_minutes(session, tb.user, amount_min=15, request_id=str(uuid.uuid4()))
    assert _balance(session, tb).balance_min == 25
    assert timebank.liability_report(session).pool_min == 15
    with pytest.raises(ValidationFailed):
        tb_service.donate_minutes(session, tb.user, amount_min=0, request_id=str(uuid.uuid4()))
    with pytest.raises(Forbidden):
        tb_service.donate_minutes(session, tb.w.users[Role.CAREGIVER], amount_min=1, request_id="x")


def test_redemption_holds_minutes_plans_a_visit_and_posts_on_verification(
    session: Session, tb: TbWorld
) -> None:
    _fund(session, tb, 100)
    options = redemption.redemption_options(session, tb.user)
    assert [
        (o.person_name, o.service_code, o.duration_min, o.age_years >= 65) for o in options
    ] == [("李母", "CP01", 60, True)]
    r = redemption.request_redemption(
        session, tb.user, plan_item_id=tb.companion_item.id, day=tb.w.today
    )
    assert (r.visit.status, r.visit.person_id, r.visit.seq >= 100, r.amount_min) == (
        VisitStatus.PLANNED,
        tb.mother.id,
        True,
        60,
    )
    assert r.visit.volunteer_ok
    assert r.visit.skills == ["companionship"]
    assert _balance(session, tb) == tb_service.Balance(100, 60, 40, 90_000)
    # Not enough left for a second one.
    with pytest.raises(Conflict):
        redemption.request_redemption(
            session, tb.user, plan_item_id=tb.companion_item.id, day=tb.w.today
        )
    assert (
        session.scalar(
            select(func.count())
            .select_from(Visit)
            .where(Visit.plan_item_id == tb.companion_item.id)
        )
        == 1
    )
    # The dispatcher gives it to the daughter, who serves it: posted, and she earns.
    from app.services.visits import transition
    from tests.app.conftest import assign

    visit = session.get(Visit, r.visit.id)
    assert visit is not None
    assign(session, visit, volunteer=tb.daughter)
    transition(session, visit, VisitStatus.ASSIGNED)
    session.commit()
    verify_visit(session, tb.daughter_user, visit, "14:05", "15:05")
    assert _balance(session, tb) == tb_service.Balance(40, 0, 40, 90_000)
    assert tb_service.my_balance(session, tb.daughter_user).balance_min == 60
    kinds = [
        (line.code, line.kind, line.held_after_min)
        for line in tb_service.my_statement(session, tb.user).lines
    ]
    assert kinds[-2:] == [("redemption", "pending", 60), ("redemption", "post", 0)]
    assert timebank.verify(session).ok


def test_redemption_refuses_strangers_the_young_and_past_dates(
    session: Session, tb: TbWorld
) -> None:
    _fund(session, tb, 100)
    with pytest.raises(ValidationFailed) as err:
        redemption.request_redemption(
            session, tb.daughter_user, plan_item_id=tb.companion_item.id, day=tb.w.today
        )
    assert "plan_item_id" in err.value.errors
    with pytest.raises(ValidationFailed) as err:
        redemption.request_redemption(session, tb.user, plan_item_id=tb.w.item.id, day=tb.w.today)
    assert "plan_item_id" in err.value.errors  # bathing is not a volunteer's service
    with pytest.raises(ValidationFailed) as err:
        redemption.request_redemption(
            session,
            tb.user,
            plan_item_id=tb.companion_item.id,
            day=tb.w.today - dt.timedelta(days=1),
        )
    assert "date" in err.value.errors
    tb.mother.birth_date = tb.w.today - dt.timedelta(days=365 * 60)
    session.commit()
    with pytest.raises(ValidationFailed) as err:
        redemption.request_redemption(
            session, tb.user, plan_item_id=tb.companion_item.id, day=tb.w.today
        )
    assert err.value.errors["plan_item_id"] == "年满 65 周岁方可用时间兑换服务。"
    # Nothing was left behind by the refusals.
    assert (
        session.scalar(
            select(func.count())
            .select_from(Visit)
            .where(Visit.plan_item_id == tb.companion_item.id)
        )
        == 0
    )
    assert _balance(session, tb).held_min == 0


def test_cancelling_and_sweeping_release_holds(session: Session, tb: TbWorld) -> None:
    _fund(session, tb, 200)
    first = redemption.request_redemption(
        session, tb.user, plan_item_id=tb.companion_item.id, day=tb.w.today
    )
    redemption.cancel_redemption(session, tb.user, first.visit.id)
    assert session.get(Visit, first.visit.id).status == VisitStatus.CANCELLED  # type: ignore[union-attr]
    assert _balance(session, tb).held_min == 0
    with pytest.raises(NotFound):  # not hers
        redemption.cancel_redemption(session, tb.daughter_user, first.visit.id)
    # A dispatcher cancels the second visit; a third one times out.
    second = redemption.request_redemption(
        session, tb.user, plan_item_id=tb.companion_item.id, day=tb.w.today
    )
    from app.services.visits import transition

    transition(
        session, session.get(Visit, second.visit.id), VisitStatus.CANCELLED, reason="family away"
    )  # type: ignore[arg-type]
    session.commit()
    third = redemption.request_redemption(
        session, tb.user, plan_item_id=tb.companion_item.id, day=tb.w.today
    )
    assert _balance(session, tb).held_min == 120
    sweep = redemption.sweep_holds(session)
    assert (sweep.timed_out, sweep.closed_visits) == (0, 1)
    later = third.hold.created_at + dt.timedelta(days=8)
    sweep = redemption.sweep_holds(session, now=later)
    assert (sweep.timed_out, sweep.closed_visits) == (1, 0)
    assert _balance(session, tb) == tb_service.Balance(200, 0, 200, 90_000)
    assert redemption.sweep_holds(session, now=later) == redemption.Sweep(0, 0)
    assert timebank.verify(session).ok


def test_a_reversal_needs_a_reason_changes_both_statements_and_tells_both(
    session: Session, tb: TbWorld, corrections: list[dict[str, Any]]
) -> None:
    _fund(session, tb, 90)
    request_id = str(uuid.uuid4())
    gift = tb_service.gift_minutes(
        session, tb.user, relative_id=tb.daughter_link.id, amount_min=30, request_id=request_id
    )
    admin = tb.w.users[Role.AGENCY_ADMIN]
    with pytest.raises(ValidationFailed):
        tb_service.reverse_transfer(session, admin, transfer_id=gift.id, reason="  ")
    with pytest.raises(Forbidden):
        tb_service.reverse_transfer(
            session, tb.w.users[Role.AUDITOR], transfer_id=gift.id, reason="x"
        )
    with pytest.raises(NotFound):
        tb_service.reverse_transfer(session, admin, transfer_id="gift:nope", reason="x")
    c = tb_service.reverse_transfer(
        session, admin, transfer_id=gift.id, reason="gift sent by mistake", amount_min=20
    )
    assert c.result.outcome is timebank.Outcome.CREATED
    assert _balance(session, tb).balance_min == 80
    assert tb_service.my_balance(session, tb.daughter_user).balance_min == 10
    assert sorted(
        (e["room"], e["delta_min"], e["balance_after_min"]) for e in corrections
    ) == sorted(
        [(f"volunteer:{tb.volunteer.id}", 20, 80), (f"volunteer:{tb.daughter.id}", -20, 10)]
    )
    assert {e["reason"] for e in corrections} == {"gift sent by mistake"}
    for u in (tb.user, tb.daughter_user):
        last = tb_service.my_statement(session, u).lines[-1]
        assert (last.code, last.description) == ("correction", "更正：gift sent by mistake")
    with pytest.raises(Conflict) as err:
        tb_service.reverse_transfer(session, admin, transfer_id=gift.id, reason="again")
    assert "transfer_id" in err.value.errors
    # Another agency's admin does not see these members' transfers.
    from tests.conftest import make_user

    other_admin = make_user(session, Role.AGENCY_ADMIN, tb.w.other_agency, "admin-b2")
    earn = tb_service.my_statement(session, tb.user).lines[0].transfer_id
    with pytest.raises(NotFound):
        tb_service.reverse_transfer(session, other_admin, transfer_id=earn, reason="x")


def test_the_statement_csv_has_a_bom_and_defuses_formulas(session: Session, tb: TbWorld) -> None:
    _fund(session, tb, 90)
    gift = tb_service.gift_minutes(
        session, tb.user, relative_id=tb.daughter_link.id, amount_min=30, request_id="r1"
    )
    admin = tb.w.users[Role.SYS_ADMIN]
    tb_service.reverse_transfer(session, admin, transfer_id=gift.id, reason="=1+2", amount_min=5)
    data = tb_service.statement_csv(tb_service.my_statement(session, tb.user), "Asia/Shanghai")
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0][:4] == ["时间", "转账", "事项", "变动（分钟）"]
    assert [r[3:7] for r in rows[1:]] == [
        ["90", "0", "90", "0"],
        ["-30", "0", "60", "0"],
        ["5", "0", "65", "0"],
    ]
    assert rows[3][2] == "更正：=1+2"
    assert rows[3][7] == "'=1+2"  # the raw reason, which a spreadsheet would run
    assert rows[2][2] == "赠予 李娜"
    assert [safe_cell(v) for v in ("-1", "+x", "@a", "\tz", "ok", -1)] == [
        "'-1",
        "'+x",
        "'@a",
        "'\tz",
        "ok",
        -1,
    ]
