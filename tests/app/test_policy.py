"""The policy file: grading tables, eligibility numbers, entitlements, fund shares, and the
service list; every malformed file is refused with the JSON path of the fault."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from app.models import ItemCategory, Skill
from app.policy import (
    POLICY_FILE,
    SERVICE_ITEMS_FILE,
    PolicyError,
    load_policy,
    load_service_items,
    read_policy,
    read_service_items,
)

Doc = dict[str, Any]


@pytest.fixture
def policy_doc() -> Doc:
    doc: Doc = json.loads(POLICY_FILE.read_text(encoding="utf-8"))
    return doc


@pytest.fixture
def items_doc() -> Doc:
    doc: Doc = json.loads(SERVICE_ITEMS_FILE.read_text(encoding="utf-8"))
    return doc


def test_bundled_policy_follows_the_2021_standard() -> None:
    policy = load_policy()
    assert [len(policy.adl.items), len(policy.cognition.items), len(policy.perception.items)] == [
        10,
        4,
        3,
    ]
    assert [i.code for i in policy.perception.items] == ["vision", "hearing", "communication"]
    assert (policy.adl.max_total, policy.cognition.max_total, policy.perception.max_total) == (
        100,
        16,
        12,
    )
    assert [g.grade for g in policy.grades] == [0, 1, 2, 3, 4, 5]
    assert policy.min_grade == 3
    assert policy.min_duration_months == 6
    assert sorted(policy.entitlements) == [3, 4, 5]


def test_load_policy_is_cached_per_path() -> None:
    assert load_policy() is load_policy(POLICY_FILE)


@pytest.mark.parametrize(
    ("totals", "grade"),
    [
        ((100, 16, 12), 0),  # all intact
        ((100, 12, 8), 0),  # intact ADL, mild elsewhere
        ((100, 11, 12), 1),  # cognition 11 is the top of 'moderate'
        ((100, 3, 12), 2),  # cognition 3: severe
        ((95, 16, 12), 1),  # ADL 95 is the top of 'mild'
        ((65, 16, 12), 1),  # ADL 65 is the bottom of 'mild'
        ((65, 16, 3), 2),  # mild ADL, severe perception
        ((60, 16, 12), 2),  # ADL 60 is the top of 'moderate'
        ((45, 12, 12), 2),
        ((45, 11, 12), 3),  # moderate ADL and moderate cognition: severe I
        ((45, 16, 7), 3),  # the worse of the two decides: perception 7 is moderate
        ((45, 0, 12), 4),
        ((40, 16, 12), 3),  # ADL 40 is the top of 'severe'
        ((40, 16, 8), 3),
        ((40, 15, 4), 4),
        ((0, 4, 12), 4),
        ((0, 3, 12), 5),
        ((0, 16, 3), 5),
        ((0, 0, 0), 5),
    ],
)
def test_grade_for_totals_follows_the_combination_table(
    totals: tuple[int, int, int], grade: int
) -> None:
    assert load_policy().grade_for_totals(*totals) == grade


def test_level_bands_have_no_gap_at_their_boundaries() -> None:
    policy = load_policy()
    assert [policy.adl.level_for(t) for t in (100, 95, 65, 60, 45, 40, 0)] == [0, 1, 1, 2, 2, 3, 3]
    assert [policy.cognition.level_for(t) for t in (16, 15, 12, 11, 4, 3, 0)] == [
        0,
        1,
        1,
        2,
        2,
        3,
        3,
    ]
    assert [policy.perception.level_for(t) for t in (12, 11, 8, 7, 4, 3, 0)] == [
        0,
        1,
        1,
        2,
        2,
        3,
        3,
    ]
    with pytest.raises(ValueError, match="outside"):
        policy.adl.level_for(101)


def test_fund_share_and_city_override() -> None:
    policy = load_policy()
    assert policy.fund_share("home") == 70
    assert policy.fund_share("institution") == 75
    assert policy.fund_share("home", "shanghai") == 90
    assert policy.fund_share("home", "unknown-city") == 70
    # Rounding the fund's part down keeps fund + co-pay equal to the price, in whole fen.
    assert policy.split_price(8000, "home") == (5600, 2400)
    assert policy.split_price(3333, "home") == (2333, 1000)
    assert policy.split_price(3333, "home", "shanghai") == (2999, 334)


def test_entitlements_only_from_the_threshold() -> None:
    policy = load_policy()
    assert policy.entitlement(2) is None
    low, high = policy.entitlement(3), policy.entitlement(5)
    assert low is not None
    assert high is not None
    assert low.max_visits_per_week < high.max_visits_per_week
    assert low.minutes_per_month < high.minutes_per_month


def _set(path: str, value: Any) -> Callable[[Doc], None]:
    """A mutation of a document: set the value at a dotted path with [index] steps."""

    def mutate(doc: Doc) -> None:
        target: Any = doc
        steps = path.replace("[", ".[").split(".")
        for step in steps[:-1]:
            target = target[int(step[1:-1])] if step.startswith("[") else target[step]
        last = steps[-1]
        if value is _DELETE:
            del target[last]
        elif last.startswith("["):
            target[int(last[1:-1])] = value
        else:
            target[last] = value

    return mutate


_DELETE = object()


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        (_set("format", "careroute.policy/9"), "$.format"),
        (_set("grades", _DELETE), "$.grades"),
        (_set("surprise", 1), "$.surprise"),
        (_set("dimensions.adl.items[3].scores", [0, 10, 5]), "$.dimensions.adl.items[3].scores"),
        (_set("dimensions.adl.items[3].scores", [5, 10]), "$.dimensions.adl.items[3].scores[0]"),
        (_set("dimensions.adl.items[0].scores[1]", "5"), "$.dimensions.adl.items[0].scores[1]"),
        (_set("dimensions.adl.items[1].code", "eating"), "$.dimensions.adl.items[1].code"),
        (_set("dimensions.cognition.levels[0].max", 17), "$.dimensions.cognition.levels[0].max"),
        (
            _set("dimensions.cognition.levels[1].min", 13),
            "$.dimensions.cognition.levels",
        ),
        (
            _set("dimensions.perception.levels[3].min", 1),
            "$.dimensions.perception.levels[3].min",
        ),
        (_set("combination.table[2]", [2, 2, 3]), "$.combination.table[2]"),
        (_set("combination.table[1][1]", 6), "$.combination.table[1][1]"),
        (_set("combination.table[1][1]", True), "$.combination.table[1][1]"),
        (_set("eligibility.min_grade", 9), "$.eligibility.min_grade"),
        (_set("entitlements.4", _DELETE), "$.entitlements.4"),
        (
            _set("entitlements.5.minutes_per_month", 0),
            "$.entitlements.5.minutes_per_month",
        ),
        (_set("fund_share_pct.home", 101), "$.fund_share_pct.home"),
        (
            _set("cities.shanghai.fund_share_pct", {"home": 90}),
            "$.cities.shanghai.fund_share_pct.institution",
        ),
    ],
)
def test_malformed_policy_names_the_field(
    policy_doc: Doc, tmp_path: Path, mutate: Callable[[Doc], None], path: str
) -> None:
    bad = copy.deepcopy(policy_doc)
    mutate(bad)
    file = tmp_path / "policy.json"
    file.write_text(json.dumps(bad), encoding="utf-8")
    with pytest.raises(PolicyError) as err:
        load_policy(file)
    assert err.value.path == path


def test_policy_file_that_is_not_json(tmp_path: Path) -> None:
    file = tmp_path / "policy.json"
    file.write_text("{ not json", encoding="utf-8")
    with pytest.raises(PolicyError, match="not JSON") as err:
        load_policy(file)
    assert err.value.path == "$"
    with pytest.raises(PolicyError, match="cannot read"):
        load_policy(tmp_path / "missing.json")


def test_policy_path_comes_from_config(app: Flask, policy_doc: Doc, tmp_path: Path) -> None:
    policy_doc["fund_share_pct"]["home"] = 65
    file = tmp_path / "city.json"
    file.write_text(json.dumps(policy_doc), encoding="utf-8")
    app.config["CAREROUTE_POLICY_FILE"] = str(file)
    try:
        assert load_policy().fund_share("home") == 65
    finally:
        del app.config["CAREROUTE_POLICY_FILE"]
    assert load_policy().fund_share("home") == 70


def test_bundled_service_list() -> None:
    items = load_service_items()
    assert len(items) >= 25
    assert len({i.code for i in items}) == len(items)
    assert {i.category for i in items} == {c.value for c in ItemCategory}
    assert {i.required_skill for i in items} == {s.value for s in Skill}
    assert all(3000 <= i.price_fen <= 12000 for i in items)
    volunteer_skills = {i.required_skill for i in items if i.volunteer_ok}
    assert volunteer_skills <= {"companionship", "household"}
    codes = {i.code: i for i in items}
    assert codes["MC01"].name_zh == "压疮护理"
    assert codes["MC01"].required_skill == "nursing"


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        (_set("items[2].code", "BC01"), "$.items[2].code"),
        (_set("items[0].category", "spa"), "$.items[0].category"),
        (_set("items[0].required_skill", "magic"), "$.items[0].required_skill"),
        (_set("items[0].standard_min", 0), "$.items[0].standard_min"),
        (_set("items[0].price_fen", 80.5), "$.items[0].price_fen"),
        (_set("items[0].volunteer_ok", True), "$.items[0].volunteer_ok"),
        (_set("items[0].name_zh", ""), "$.items[0].name_zh"),
        (_set("items", []), "$.items"),
    ],
)
def test_malformed_service_list_names_the_field(
    items_doc: Doc, mutate: Callable[[Doc], None], path: str
) -> None:
    bad = copy.deepcopy(items_doc)
    mutate(bad)
    with pytest.raises(PolicyError) as err:
        read_service_items(bad)
    assert err.value.path == path


def test_read_policy_refuses_a_non_object() -> None:
    with pytest.raises(PolicyError, match="must be an object"):
        read_policy([])
