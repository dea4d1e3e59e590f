"""Disability assessments: validate item scores, grade them, and decide eligibility.

The grading tables come from the policy file (``app.policy``); this module only applies
them. Eligibility on a date needs both a severe enough grade on the latest assessment,
still valid on that date, and a disability that has lasted long enough (6 months by the
national rule).
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from flask import has_request_context
from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Assessment, InsuredPerson
from app.policy import Dimension, Policy, load_policy
from app.services.errors import ValidationFailed


def add_months(day: dt.date, months: int) -> dt.date:
    """``day`` moved by whole calendar months, clamped to the month's last day
    (31 Aug + 6 months is 28/29 Feb)."""
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return dt.date(year, month + 1, min(day.day, last))


def _label(name_zh: str, name_en: str) -> str:
    """The name in the request's language (Chinese outside a request)."""
    locale = get_locale() if has_request_context() else None
    return name_en if locale is not None and locale.language == "en" else name_zh


def _check_scores(dim: Dimension, field: str, scores: Any, errors: dict[str, str]) -> int:
    """Record problems with one dimension's item scores in ``errors``; return the total."""
    if not isinstance(scores, Sequence) or isinstance(scores, str | bytes):
        errors[field] = _("Give a list of item scores.")
        return 0
    if len(scores) != len(dim.items):
        errors[field] = _(
            "Give %(n)d item scores (%(dimension)s), not %(got)d.",
            n=len(dim.items),
            dimension=_label(dim.name_zh, dim.name_en),
            got=len(scores),
        )
        return 0
    total = 0
    for i, (item, score) in enumerate(zip(dim.items, scores, strict=True)):
        if isinstance(score, bool) or not isinstance(score, int) or score not in item.scores:
            allowed = ", ".join(str(s) for s in item.scores)
            errors[f"{field}[{i}]"] = _(
                "%(item)s: the score must be one of %(allowed)s.",
                item=_label(item.name_zh, item.name_en),
                allowed=allowed,
            )
        else:
            total += score
    return total


def _totals(policy: Policy, adl: Any, cognition: Any, perception: Any) -> tuple[int, int, int]:
    errors: dict[str, str] = {}
    totals = (
        _check_scores(policy.adl, "adl_scores", adl, errors),
        _check_scores(policy.cognition, "cognition_scores", cognition, errors),
        _check_scores(policy.perception, "perception_scores", perception, errors),
    )
    if errors:
        raise ValidationFailed(_("Some fields are not valid."), errors)
    return totals


def grade_for(
    policy: Policy,
    adl: Sequence[int],
    cognition: Sequence[int],
    perception: Sequence[int],
) -> int:
    """The disability grade (0 normal .. 5 severe III) of three lists of item scores.

    Raises
    ------
    ValidationFailed
        If a list has the wrong length or an item a score its scale does not allow; the
        errors name the field (``adl_scores[3]``).
    """
    return policy.grade_for_totals(*_totals(policy, adl, cognition, perception))


def record_assessment(
    session: Session,
    person: InsuredPerson,
    *,
    adl_scores: Sequence[int],
    cognition_scores: Sequence[int],
    perception_scores: Sequence[int],
    assessed_at: dt.date,
    assessor: str,
    valid_until: dt.date | None = None,
    policy: Policy | None = None,
) -> Assessment:
    """Validate, grade and store an assessment of ``person``; commits.

    ``valid_until`` defaults to the policy's validity period after ``assessed_at``.

    Raises
    ------
    ValidationFailed
        With every invalid field named; nothing is written.
    """
    policy = policy or load_policy()
    errors: dict[str, str] = {}
    try:
        adl_total, cog_total, per_total = _totals(
            policy, adl_scores, cognition_scores, perception_scores
        )
    except ValidationFailed as exc:
        errors.update(exc.errors)
    if isinstance(assessed_at, dt.datetime) or not isinstance(assessed_at, dt.date):
        errors["assessed_at"] = _("Give a date (YYYY-MM-DD).")
    if not isinstance(assessor, str) or not assessor.strip():
        errors["assessor"] = _("This field is required.")
    elif len(assessor) > 100:
        errors["assessor"] = _("At most %(n)d characters.", n=100)
    if valid_until is not None and (
        isinstance(valid_until, dt.datetime) or not isinstance(valid_until, dt.date)
    ):
        errors["valid_until"] = _("Give a date (YYYY-MM-DD).")
    elif valid_until is not None and "assessed_at" not in errors and valid_until < assessed_at:
        errors["valid_until"] = _("The end of validity must not be before the assessment date.")
    if errors:
        raise ValidationFailed(_("Some fields are not valid."), errors)

    assessment = Assessment(
        person_id=person.id,
        adl_scores=list(adl_scores),
        cognition_scores=list(cognition_scores),
        perception_scores=list(perception_scores),
        adl_total=adl_total,
        cognition_total=cog_total,
        perception_total=per_total,
        grade=policy.grade_for_totals(adl_total, cog_total, per_total),
        assessed_at=assessed_at,
        assessor=assessor.strip(),
        valid_until=valid_until or add_months(assessed_at, policy.assessment_valid_months),
    )
    session.add(assessment)
    session.flush()
    session.commit()
    return assessment


def eligible_on(
    policy: Policy,
    disability_since: dt.date | None,
    assessments: Iterable[Assessment],
    on: dt.date,
) -> bool:
    """The eligibility rule on plain data (see ``is_eligible``)."""
    if disability_since is None:
        return False
    if disability_since > add_months(on, -policy.min_duration_months):
        return False
    latest = latest_assessment(assessments, on)
    return (
        latest is not None and latest.valid_until >= on and policy.reaches_threshold(latest.grade)
    )


def latest_assessment(assessments: Iterable[Assessment], on: dt.date) -> Assessment | None:
    """The most recent assessment made on or before ``on`` (it supersedes older ones,
    even when they have not expired)."""
    made = [a for a in assessments if a.assessed_at <= on]
    return max(made, key=lambda a: (a.assessed_at, a.id or 0), default=None)


def is_eligible(
    session: Session, person: InsuredPerson, on: dt.date, *, policy: Policy | None = None
) -> bool:
    """Whether ``person`` is entitled to LTCI care on ``on``.

    True when the latest assessment made by that date is still valid on it and reaches
    the policy's threshold grade, and the disability began at least the policy's minimum
    duration (6 months) before ``on``.
    """
    assessments = session.scalars(
        select(Assessment).where(Assessment.person_id == person.id, Assessment.assessed_at <= on)
    ).all()
    return eligible_on(policy or load_policy(), person.disability_since, assessments, on)
