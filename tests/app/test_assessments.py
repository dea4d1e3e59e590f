"""Recording and grading assessments, and the eligibility rule (grade, 6 months, validity)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import Agency, Assessment, InsuredPerson
from app.policy import load_policy
from app.services.assessments import (
    add_months,
    grade_for,
    is_eligible,
    record_assessment,
)
from app.services.errors import ValidationFailed
from tests.conftest import make_agency

# Item scores in the policy's order. ADL: eating, dressing, grooming, bowel, bladder,
# toileting, walking (0-15), transfer (0-15), stairs, bathing (0-5).
ADL_FULL = [10, 10, 5, 10, 10, 10, 15, 15, 10, 5]
ADL_40 = [5, 5, 0, 5, 5, 5, 5, 5, 0, 5]  # 40: top of 'severe'
ADL_0 = [0] * 10
COG_FULL = [4, 4, 4, 4]
COG_11 = [3, 3, 3, 2]  # 11: top of 'moderate'
PER_FULL = [4, 4, 4]
ON = dt.date(2026, 3, 4)


def make_person(
    session: Session, agency: Agency, *, since: dt.date | None, n: int = 1
) -> InsuredPerson:
    person = InsuredPerson(
        agency_id=agency.id,
        name=f"测试{n}",
        gender="f",
        birth_date=dt.date(1940, 1, 1),
        id_number=f"32060219400101{n:03d}X",
        address="南通市崇川区虹桥新村1幢101室",
        district="崇川区",
        lat=32.01,
        lon=120.86,
        disability_since=since,
    )
    session.add(person)
    session.flush()
    return person


def test_sums_add_up_as_in_the_standard() -> None:
    policy = load_policy()
    assert sum(ADL_FULL) == 100
    assert sum(ADL_40) == 40
    assert sum(COG_11) == 11
    assert grade_for(policy, ADL_FULL, COG_FULL, PER_FULL) == 0
    assert grade_for(policy, ADL_40, COG_FULL, PER_FULL) == 3
    assert grade_for(policy, ADL_40, COG_11, PER_FULL) == 4
    assert grade_for(policy, ADL_0, [0, 0, 0, 0], [0, 0, 0]) == 5


def test_record_assessment_stores_totals_grade_and_default_validity(session: Session) -> None:
    agency = make_agency(session)
    person = make_person(session, agency, since=dt.date(2024, 1, 1))
    a = record_assessment(
        session,
        person,
        adl_scores=ADL_40,
        cognition_scores=COG_11,
        perception_scores=PER_FULL,
        assessed_at=dt.date(2025, 8, 31),
        assessor="评估中心 张医师",
    )
    stored = session.get(Assessment, a.id)
    assert stored is not None
    assert (stored.adl_total, stored.cognition_total, stored.perception_total) == (40, 11, 12)
    assert stored.grade == 4
    assert stored.adl_scores == ADL_40
    # 24 months of validity by the policy file.
    assert stored.valid_until == dt.date(2027, 8, 31)


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        ({"adl_scores": [*ADL_FULL[:3], 7, *ADL_FULL[4:]]}, {"adl_scores[3]"}),
        ({"adl_scores": [*ADL_FULL[:9], 10]}, {"adl_scores[9]"}),  # bathing is 0 or 5
        ({"adl_scores": ADL_FULL[:9]}, {"adl_scores"}),
        ({"cognition_scores": [4, 4, 5, 4]}, {"cognition_scores[2]"}),
        ({"cognition_scores": [4, 4, True, 4]}, {"cognition_scores[2]"}),
        ({"perception_scores": "444"}, {"perception_scores"}),
        ({"perception_scores": [4, 4, 4, 4]}, {"perception_scores"}),
        ({"assessor": " "}, {"assessor"}),
        ({"assessed_at": "2026-01-01"}, {"assessed_at"}),
        ({"valid_until": dt.date(2025, 1, 1)}, {"valid_until"}),
        (
            {"adl_scores": [*ADL_FULL[:6], 1, *ADL_FULL[7:]], "cognition_scores": [-1, 4, 4, 4]},
            {"adl_scores[6]", "cognition_scores[0]"},
        ),
    ],
)
def test_bad_input_is_named_and_nothing_is_written(
    session: Session, fields: dict[str, object], errors: set[str]
) -> None:
    agency = make_agency(session)
    person = make_person(session, agency, since=dt.date(2024, 1, 1))
    session.commit()
    args: dict[str, object] = {
        "adl_scores": ADL_FULL,
        "cognition_scores": COG_FULL,
        "perception_scores": PER_FULL,
        "assessed_at": dt.date(2026, 1, 1),
        "assessor": "评估员",
    }
    args.update(fields)
    with pytest.raises(ValidationFailed) as err:
        record_assessment(session, person, **args)  # type: ignore[arg-type]
    assert set(err.value.errors) == errors
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Assessment)) == 0


def _assess(
    session: Session,
    person: InsuredPerson,
    adl: list[int],
    on: dt.date,
    valid_until: dt.date | None = None,
) -> Assessment:
    return record_assessment(
        session,
        person,
        adl_scores=adl,
        cognition_scores=COG_FULL,
        perception_scores=PER_FULL,
        assessed_at=on,
        assessor="评估员",
        valid_until=valid_until,
    )


def test_eligible_needs_the_threshold_grade(session: Session) -> None:
    agency = make_agency(session)
    severe = make_person(session, agency, since=dt.date(2024, 1, 1), n=1)
    moderate = make_person(session, agency, since=dt.date(2024, 1, 1), n=2)
    _assess(session, severe, ADL_40, dt.date(2025, 6, 1))  # grade 3
    _assess(session, moderate, [5, 5, 0, 5, 5, 5, 10, 5, 0, 5], dt.date(2025, 6, 1))  # 45: 2
    assert is_eligible(session, severe, ON)
    assert not is_eligible(session, moderate, ON)


def test_disability_must_have_lasted_six_months(session: Session) -> None:
    agency = make_agency(session)
    person = make_person(session, agency, since=dt.date(2025, 8, 15))
    _assess(session, person, ADL_0, dt.date(2025, 9, 15))
    assert not is_eligible(session, person, dt.date(2026, 2, 14))
    assert is_eligible(session, person, dt.date(2026, 2, 15))

    # The rule is since <= on - 6 months: from 31 August, February's end (28 Feb - 6
    # months = 28 Aug) is still short; 1 March is the first day.
    month_end = make_person(session, agency, since=dt.date(2025, 8, 31), n=2)
    _assess(session, month_end, ADL_0, dt.date(2025, 9, 15))
    assert not is_eligible(session, month_end, dt.date(2026, 2, 28))
    assert is_eligible(session, month_end, dt.date(2026, 3, 1))

    unknown = make_person(session, agency, since=None, n=3)
    _assess(session, unknown, ADL_0, dt.date(2025, 9, 15))
    assert not is_eligible(session, unknown, ON)


def test_expired_or_future_assessment_does_not_count(session: Session) -> None:
    agency = make_agency(session)
    person = make_person(session, agency, since=dt.date(2020, 1, 1))
    _assess(session, person, ADL_0, dt.date(2024, 1, 10), valid_until=dt.date(2026, 1, 9))
    assert is_eligible(session, person, dt.date(2026, 1, 9))
    assert not is_eligible(session, person, dt.date(2026, 1, 10))
    assert not is_eligible(session, person, dt.date(2024, 1, 9))  # before the assessment


def test_latest_assessment_supersedes_an_older_one(session: Session) -> None:
    agency = make_agency(session)
    person = make_person(session, agency, since=dt.date(2020, 1, 1))
    _assess(session, person, ADL_0, dt.date(2025, 1, 1))  # grade 5, valid to 2027
    _assess(session, person, ADL_FULL, dt.date(2026, 2, 1))  # recovered: grade 0
    assert is_eligible(session, person, dt.date(2026, 1, 31))
    assert not is_eligible(session, person, dt.date(2026, 2, 1))


def test_add_months_clamps_and_crosses_years() -> None:
    assert add_months(dt.date(2024, 8, 31), -6) == dt.date(2024, 2, 29)
    assert add_months(dt.date(2025, 11, 30), 3) == dt.date(2026, 2, 28)
    assert add_months(dt.date(2026, 1, 15), -1) == dt.date(2025, 12, 15)
