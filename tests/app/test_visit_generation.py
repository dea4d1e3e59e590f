"""Making a day's visits from approved plans: what is made, idempotence, reconciling plan
changes, and who never gets a visit."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from flask.testing import FlaskCliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import (
    Agency,
    Caregiver,
    CarePlan,
    InsuredPerson,
    PersonStatus,
    PlanItem,
    PlanStatus,
    ServiceItem,
    Visit,
    VisitStatus,
)
from app.services.assessments import record_assessment
from app.services.visits import WEEKDAY_PATTERNS, generate_visits, transition
from tests.conftest import make_agency

S = VisitStatus
DAY = dt.date(2026, 3, 4)  # a Wednesday
MONDAY = dt.date(2026, 3, 2)
ADL_SEVERE = [0, 0, 0, 5, 5, 0, 5, 5, 0, 0]  # 20: severe, grade 3 with intact cognition
ADL_MODERATE = [5, 5, 0, 5, 5, 5, 10, 5, 0, 5]  # 45: grade 2, below the threshold


class City:
    """A small world to generate visits in."""

    def __init__(self, session: Session) -> None:
        self.s = session
        self.agency = make_agency(session, "A1")
        self.items = {
            code: ServiceItem(
                code=code,
                name_zh=zh,
                name_en=code,
                category=cat,
                standard_min=minutes,
                required_skill=skill,
                price_fen=5000,
                volunteer_ok=vol,
            )
            for code, zh, cat, minutes, skill, vol in (
                ("BC01", "协助沐浴", "basic_care", 45, "personal_care", False),
                ("CP01", "陪伴聊天", "companionship", 60, "companionship", True),
                ("MC01", "压疮护理", "medical_care", 30, "nursing", False),
            )
        }
        session.add_all(self.items.values())
        self.caregiver = Caregiver(
            agency_id=self.agency.id,
            staff_no="C1",
            name="王芳",
            gender="f",
            home_lat=32.0,
            home_lon=120.86,
        )
        session.add(self.caregiver)
        session.flush()
        self.n = 0

    def person(
        self,
        *,
        agency: Agency | None = None,
        gender: str = "f",
        since: dt.date = dt.date(2024, 1, 1),
        adl: list[int] | None = None,
        status: str = PersonStatus.ACTIVE,
    ) -> InsuredPerson:
        self.n += 1
        person = InsuredPerson(
            agency_id=(agency or self.agency).id,
            name=f"测试{self.n}",
            gender=gender,
            birth_date=dt.date(1940, 1, 1),
            id_number=f"32060219400101{self.n:03d}X",
            address="南通市崇川区虹桥新村1幢101室",
            district="崇川区",
            lat=32.01,
            lon=120.86,
            disability_since=since,
            status=status,
        )
        self.s.add(person)
        self.s.flush()
        record_assessment(
            self.s,
            person,
            adl_scores=adl or ADL_SEVERE,
            cognition_scores=[4, 4, 4, 4],
            perception_scores=[4, 4, 4],
            assessed_at=dt.date(2025, 6, 1),
            assessor="评估员",
        )
        return person

    def plan(
        self,
        person: InsuredPerson,
        *items: dict[str, Any],
        status: str = PlanStatus.APPROVED,
        valid: tuple[dt.date, dt.date] = (dt.date(2026, 1, 1), dt.date(2026, 12, 31)),
    ) -> CarePlan:
        plan = CarePlan(
            person_id=person.id,
            agency_id=person.agency_id,
            valid_from=valid[0],
            valid_to=valid[1],
            status=status,
        )
        for spec in items:
            fields = {"windows": [["09:00", "11:00"]], **spec}
            code = fields.pop("code", "BC01")
            plan.items.append(PlanItem(service_item_id=self.items[code].id, **fields))
        self.s.add(plan)
        self.s.commit()
        return plan


@pytest.fixture
def city(session: Session) -> City:
    return City(session)


def visits_on(session: Session, day: dt.date = DAY) -> list[Visit]:
    return list(session.scalars(select(Visit).where(Visit.date == day).order_by(Visit.id)))


def test_visits_carry_what_the_plan_item_asks_for(session: Session, city: City) -> None:
    person = city.person(gender="m")
    city.plan(
        person,
        {
            "times_per_week": 3,  # Mon, Wed, Fri
            "two_staff": True,
            "same_gender": True,
            "duration_min": 60,
            "priority": 1,
            "preferred_caregiver_id": city.caregiver.id,
            "windows": [["08:30", "10:00"], ["14:00", "15:30"]],
        },
        {"code": "CP01", "weekdays": [3, 6]},
        {"code": "MC01", "times_per_week": 2},  # Tue, Fri: not today
    )
    result = generate_visits(session, DAY)
    assert (result.created, result.updated, result.removed, result.unchanged) == (2, 0, 0, 0)
    bath, talk = visits_on(session)
    assert bath.status == S.PLANNED
    assert bath.windows == [["08:30", "10:00"], ["14:00", "15:30"]]
    assert bath.duration_min == 60
    assert bath.skills == ["personal_care"]
    assert bath.staff_count == 2
    assert bath.gender_required == "m"
    assert bath.preferred_caregiver_id == city.caregiver.id
    assert bath.priority == 1
    assert bath.volunteer_ok is False
    assert (bath.person_id, bath.agency_id) == (person.id, city.agency.id)
    assert talk.duration_min == 60  # the item's standard minutes
    assert talk.skills == ["companionship"]
    assert talk.staff_count == 1
    assert talk.gender_required is None
    assert talk.volunteer_ok is True


def test_times_per_week_follow_the_fixed_weekday_pattern(session: Session, city: City) -> None:
    person = city.person()
    plan = city.plan(person, *({"times_per_week": n} for n in range(1, 8)))
    for offset in range(7):
        generate_visits(session, MONDAY + dt.timedelta(days=offset))
    for item in plan.items:
        days = session.scalars(
            select(Visit.date).where(Visit.plan_item_id == item.id).order_by(Visit.date)
        ).all()
        assert [d.isoweekday() for d in days] == list(WEEKDAY_PATTERNS[item.times_per_week or 0])


def test_second_run_adds_nothing(session: Session, city: City) -> None:
    city.plan(city.person(), {"times_per_week": 7}, {"code": "CP01", "weekdays": [3]})
    first = generate_visits(session, DAY)
    second = generate_visits(session, DAY)
    assert first.created == 2
    assert (second.created, second.updated, second.removed, second.unchanged) == (0, 0, 0, 2)
    assert len(visits_on(session)) == 2


def test_changed_plan_updates_only_visits_not_started(session: Session, city: City) -> None:
    plan = city.plan(city.person(), *({"times_per_week": 7} for _ in range(3)))
    generate_visits(session, DAY)
    planned, assigned, started = visits_on(session)
    transition(session, assigned, S.ASSIGNED)
    transition(session, started, S.ASSIGNED)
    transition(session, started, S.IN_PROGRESS)
    session.commit()
    for item in plan.items:
        item.windows = [["13:30", "15:00"]]
        item.duration_min = 50
    session.commit()

    result = generate_visits(session, DAY)

    assert (result.created, result.updated, result.removed, result.unchanged) == (0, 2, 0, 1)
    session.expire_all()
    assert planned.windows == [["13:30", "15:00"]]
    assert assigned.duration_min == 50
    assert assigned.status == S.ASSIGNED
    assert started.windows == [["09:00", "11:00"]]
    assert started.duration_min == 45


def test_item_that_no_longer_applies_is_cancelled_not_deleted(session: Session, city: City) -> None:
    plan = city.plan(city.person(), {"weekdays": [1, 3]}, {"weekdays": [3]})
    generate_visits(session, DAY)
    moved, started = visits_on(session)
    transition(session, started, S.ASSIGNED)
    transition(session, started, S.IN_PROGRESS)
    for item in plan.items:
        item.weekdays = [1]
    session.commit()

    result = generate_visits(session, DAY)

    assert (result.created, result.removed) == (0, 1)
    session.expire_all()
    assert len(visits_on(session)) == 2
    assert moved.status == S.CANCELLED
    assert moved.cancel_reason == "plan changed"
    assert started.status == S.IN_PROGRESS
    # Idempotent in this state too.
    again = generate_visits(session, DAY)
    assert (again.created, again.updated, again.removed) == (0, 0, 0)


def test_item_that_applies_again_gets_a_new_visit(session: Session, city: City) -> None:
    plan = city.plan(city.person(), {"weekdays": [3]})
    generate_visits(session, DAY)
    plan.status = PlanStatus.SUSPENDED
    session.commit()
    assert generate_visits(session, DAY).removed == 1
    plan.status = PlanStatus.APPROVED
    session.commit()
    assert generate_visits(session, DAY).created == 1
    old, new = visits_on(session)
    assert (old.status, old.seq) == (S.CANCELLED, 0)
    assert (new.status, new.seq) == (S.PLANNED, 1)


def test_a_dispatchers_cancellation_is_not_undone(session: Session, city: City) -> None:
    city.plan(city.person(), {"weekdays": [3]})
    generate_visits(session, DAY)
    (visit,) = visits_on(session)
    transition(session, visit, S.CANCELLED, reason="家属要求暂停")
    session.commit()
    result = generate_visits(session, DAY)
    assert (result.created, result.unchanged) == (0, 1)
    assert len(visits_on(session)) == 1


def test_visits_added_by_hand_are_left_alone(session: Session, city: City) -> None:
    plan = city.plan(city.person(), {"weekdays": [3]})
    item = plan.items[0]
    manual = Visit(
        plan_item_id=item.id,
        person_id=plan.person_id,
        agency_id=plan.agency_id,
        date=DAY,
        seq=100,
        windows=[["15:00", "16:00"]],
        duration_min=30,
        skills=["personal_care"],
        status=S.PLANNED,
    )
    session.add(manual)
    session.commit()
    assert generate_visits(session, DAY).created == 1
    item.weekdays = [1]
    session.commit()
    assert generate_visits(session, DAY).removed == 1
    session.expire_all()
    assert manual.status == S.PLANNED
    assert manual.windows == [["15:00", "16:00"]]


def test_no_visit_without_a_valid_approved_plan_and_an_eligible_active_person(
    session: Session, city: City
) -> None:
    daily = {"times_per_week": 7}
    city.plan(city.person(), daily, status=PlanStatus.DRAFT)
    city.plan(city.person(), daily, status=PlanStatus.SUSPENDED)
    city.plan(city.person(), daily, status=PlanStatus.ENDED)
    city.plan(city.person(), daily, valid=(dt.date(2025, 1, 1), DAY - dt.timedelta(days=1)))
    city.plan(city.person(), daily, valid=(DAY + dt.timedelta(days=1), dt.date(2026, 12, 31)))
    city.plan(city.person(adl=ADL_MODERATE), daily)  # grade 2
    city.plan(city.person(since=DAY - dt.timedelta(days=100)), daily)  # under 6 months
    city.plan(city.person(status=PersonStatus.SUSPENDED), daily)
    city.plan(city.person(status=PersonStatus.DECEASED), daily)
    result = generate_visits(session, DAY)
    assert (result.created, result.unchanged) == (0, 0)
    assert session.scalar(select(func.count()).select_from(Visit)) == 0
    # The one control: a valid approved plan of an eligible person does get its visit.
    city.plan(city.person(), daily)
    assert generate_visits(session, DAY).created == 1


def test_one_agency_at_a_time(session: Session, city: City) -> None:
    other = make_agency(session, "B2")
    city.plan(city.person(), {"weekdays": [3]})
    city.plan(city.person(agency=other), {"weekdays": [3]}, {"weekdays": [3]})
    assert generate_visits(session, DAY, city.agency.id).created == 1
    everyone = generate_visits(session, DAY)
    assert (everyone.created, everyone.unchanged) == (2, 1)


def test_cli_generate(runner: FlaskCliRunner, session: Session, city: City) -> None:
    city.plan(city.person(), {"weekdays": [3]})
    result = runner.invoke(args=["visits", "generate", "--date", DAY.isoformat(), "--agency", "A1"])
    assert result.exit_code == 0, result.output
    assert "created 1, updated 0, removed 0, unchanged 0" in result.output
    result = runner.invoke(args=["visits", "generate", "--date", DAY.isoformat()])
    assert "created 0, updated 0, removed 0, unchanged 1" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--date", "2026-02-30"], "'2026-02-30' is not a date"),
        (["--date", "tomorrow"], "is not a date"),
        ([], "Missing option '--date'"),
        (["--date", "2026-03-04", "--agency", "NOPE"], "no agency has the code 'NOPE'"),
    ],
)
def test_cli_generate_refuses_bad_input(
    runner: FlaskCliRunner, city: City, args: list[str], message: str
) -> None:
    result = runner.invoke(args=["visits", "generate", *args])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output
