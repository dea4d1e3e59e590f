"""The LTCI policy: disability grading, eligibility, entitlements, fund shares, service items.

The numbers live in two JSON files next to this module, so that a city can ship its own
without a code change:

- ``ltci_policy.json``: the national 2021 disability standard's items and score bands, the
  combination table giving the grade (0 normal .. 5 severe III), the eligibility rule (grade
  and duration), the entitlements per grade and the fund's share per care setting.
- ``service_items.json``: the home-care service list (服务项目清单).

Both are validated in full when loaded; an error names the JSON path of the offending field
(``$.dimensions.adl.items[3].scores``). ``CAREROUTE_POLICY_FILE`` and
``CAREROUTE_SERVICE_ITEMS_FILE`` (application config, else environment) point elsewhere.
Loaded files are cached per path for the life of the process.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import current_app, has_app_context

from app.models.enums import ItemCategory, Skill

__all__ = [
    "CARE_SETTINGS",
    "DIMENSIONS",
    "POLICY_FILE",
    "SERVICE_ITEMS_FILE",
    "VOLUNTEER_SKILLS",
    "City",
    "Dimension",
    "Entitlement",
    "Grade",
    "Level",
    "Policy",
    "PolicyError",
    "ScoredItem",
    "ServiceItemSpec",
    "load_policy",
    "load_service_items",
    "read_policy",
    "read_service_items",
]

POLICY_FILE = Path(__file__).with_name("ltci_policy.json")
SERVICE_ITEMS_FILE = Path(__file__).with_name("service_items.json")
POLICY_FORMAT = "careroute.policy/1"
SERVICE_ITEMS_FORMAT = "careroute.service_items/1"
DIMENSIONS = ("adl", "cognition", "perception")
CARE_SETTINGS = ("home", "institution")
# Skills whose items a time-bank volunteer may deliver (companionship and light household).
VOLUNTEER_SKILLS = frozenset({Skill.COMPANIONSHIP.value, Skill.HOUSEHOLD.value})


class PolicyError(ValueError):
    """A policy or service-item file is malformed; ``path`` is the JSON path at fault."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class ScoredItem:
    """One item of a dimension (e.g. ADL 'eating') with the scores an assessor may give."""

    code: str
    name_zh: str
    name_en: str
    scores: tuple[int, ...]


@dataclass(frozen=True)
class Level:
    """A band of a dimension's total: 0 intact .. 3 severely impaired."""

    level: int
    name_zh: str
    name_en: str
    min: int
    max: int


@dataclass(frozen=True)
class Dimension:
    """A first-level indicator of the standard: its items and the bands of its total."""

    code: str
    name_zh: str
    name_en: str
    items: tuple[ScoredItem, ...]
    levels: tuple[Level, ...]

    @property
    def max_total(self) -> int:
        return sum(item.scores[-1] for item in self.items)

    def level_for(self, total: int) -> int:
        """The level whose band holds ``total``.

        Raises
        ------
        ValueError
            If ``total`` is outside 0..max_total.
        """
        for band in self.levels:
            if band.min <= total <= band.max:
                return band.level
        raise ValueError(f"{self.code} total {total} is outside 0..{self.max_total}")


@dataclass(frozen=True)
class Grade:
    """A disability grade of the standard (0 normal .. 5 severe III)."""

    grade: int
    name_zh: str
    name_en: str


@dataclass(frozen=True)
class Entitlement:
    """What a grade entitles a person to in home care."""

    max_visits_per_week: int
    minutes_per_month: int


@dataclass(frozen=True)
class City:
    """A city's overrides of the national defaults."""

    code: str
    name_zh: str
    fund_share_pct: Mapping[str, int]


@dataclass(frozen=True)
class Policy:
    """The grading tables and benefit rules, as loaded from a policy file."""

    name: str
    standard: str
    notes: tuple[str, ...]
    adl: Dimension
    cognition: Dimension
    perception: Dimension
    grades: tuple[Grade, ...]
    combination: tuple[tuple[int, ...], ...]
    min_grade: int
    min_duration_months: int
    assessment_valid_months: int
    entitlements: Mapping[int, Entitlement]
    fund_share_pct: Mapping[str, int]
    cities: Mapping[str, City]

    def dimension(self, code: str) -> Dimension:
        """The dimension called ``code`` (one of ``DIMENSIONS``)."""
        if code not in DIMENSIONS:
            raise KeyError(code)
        dim: Dimension = getattr(self, code)
        return dim

    def grade_for_totals(self, adl_total: int, cognition_total: int, perception_total: int) -> int:
        """The grade of three dimension totals, by the combination table.

        The row is the ADL level; the column is the more severe of the cognition and
        perception levels.
        """
        row = self.adl.level_for(adl_total)
        col = max(
            self.cognition.level_for(cognition_total),
            self.perception.level_for(perception_total),
        )
        return self.combination[row][col]

    def grade_name(self, grade: int, locale: str = "zh") -> str:
        entry = self.grades[grade]
        return entry.name_en if locale.startswith("en") else entry.name_zh

    def reaches_threshold(self, grade: int) -> bool:
        """Whether ``grade`` is severe enough for benefits."""
        return grade >= self.min_grade

    def entitlement(self, grade: int) -> Entitlement | None:
        """The home-care entitlement of ``grade``; None below the threshold."""
        return self.entitlements.get(grade)

    def fund_share(self, setting: str, city: str | None = None) -> int:
        """The fund's share of an item price, in percent, for a care setting and city."""
        if setting not in CARE_SETTINGS:
            raise KeyError(setting)
        if city is not None and city in self.cities:
            return self.cities[city].fund_share_pct[setting]
        return self.fund_share_pct[setting]

    def split_price(self, price_fen: int, setting: str, city: str | None = None) -> tuple[int, int]:
        """``(fund_fen, co_pay_fen)`` of a price. The fund's part is rounded down, so the
        two parts always add up to the price in whole fen."""
        fund_fen = price_fen * self.fund_share(setting, city) // 100
        return fund_fen, price_fen - fund_fen


@dataclass(frozen=True)
class ServiceItemSpec:
    """An entry of the service list file (mirrors ``app.models.ServiceItem``)."""

    code: str
    name_zh: str
    name_en: str
    category: str
    standard_min: int
    required_skill: str
    price_fen: int
    volunteer_ok: bool


# --------------------------------------------------------------------------- loading


def _configured(key: str, default: Path) -> Path:
    if has_app_context() and current_app.config.get(key):
        return Path(current_app.config[key])
    if os.environ.get(key):
        return Path(os.environ[key])
    return default


def load_policy(path: str | Path | None = None) -> Policy:
    """The policy from ``path``, else ``CAREROUTE_POLICY_FILE``, else the bundled file.

    Raises
    ------
    PolicyError
        If the file is missing, not JSON, or any field is invalid.
    """
    target = Path(path) if path is not None else _configured("CAREROUTE_POLICY_FILE", POLICY_FILE)
    return _load_policy_cached(target.resolve())


def load_service_items(path: str | Path | None = None) -> tuple[ServiceItemSpec, ...]:
    """The service list from ``path``, else ``CAREROUTE_SERVICE_ITEMS_FILE``, else the
    bundled file."""
    target = (
        Path(path)
        if path is not None
        else _configured("CAREROUTE_SERVICE_ITEMS_FILE", SERVICE_ITEMS_FILE)
    )
    return _load_items_cached(target.resolve())


@functools.lru_cache(maxsize=8)
def _load_policy_cached(path: Path) -> Policy:
    return read_policy(_read_json(path))


@functools.lru_cache(maxsize=8)
def _load_items_cached(path: Path) -> tuple[ServiceItemSpec, ...]:
    return read_service_items(_read_json(path))


def _read_json(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError("$", f"cannot read {path}: {exc.strerror}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise PolicyError("$", f"not JSON ({exc.msg} at line {exc.lineno})") from None


# --------------------------------------------------------------------------- field readers


def _obj(
    value: Any, path: str, required: Sequence[str], optional: Sequence[str] = ()
) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise PolicyError(path, "must be an object")
    for key in required:
        if key not in value:
            raise PolicyError(f"{path}.{key}", "is required")
    for key in value:
        if key not in required and key not in optional:
            raise PolicyError(f"{path}.{key}", "unknown key")
    return value


def _int(value: Any, path: str, lo: int | None = None, hi: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise PolicyError(path, "must be an integer")
    if lo is not None and value < lo:
        raise PolicyError(path, f"must be >= {lo}")
    if hi is not None and value > hi:
        raise PolicyError(path, f"must be <= {hi}")
    return value


def _str(value: Any, path: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise PolicyError(path, "must be a non-empty string")
    return value


def _bool(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise PolicyError(path, "must be true or false")
    return value


def _list(value: Any, path: str) -> list[Any]:
    if not isinstance(value, list) or not value:
        raise PolicyError(path, "must be a non-empty list")
    return value


def _format(doc: dict[str, Any], expected: str) -> None:
    if doc["format"] != expected:
        raise PolicyError("$.format", f"must be {expected!r}")


# --------------------------------------------------------------------------- policy


def read_policy(doc: Any) -> Policy:
    """Validate a parsed policy document and build the ``Policy``.

    Raises
    ------
    PolicyError
        Naming the JSON path of the first invalid field.
    """
    root = _obj(
        doc,
        "$",
        (
            "format",
            "name",
            "dimensions",
            "grades",
            "combination",
            "eligibility",
            "entitlements",
            "fund_share_pct",
        ),
        ("standard", "notes", "cities"),
    )
    _format(root, POLICY_FORMAT)
    dims_doc = _obj(root["dimensions"], "$.dimensions", DIMENSIONS)
    dims = {code: _dimension(code, dims_doc[code], f"$.dimensions.{code}") for code in DIMENSIONS}
    grades = _grades(root["grades"])
    combination = _combination(root["combination"], dims, len(grades))
    elig = _obj(
        root["eligibility"],
        "$.eligibility",
        ("min_grade", "min_duration_months", "assessment_valid_months"),
    )
    min_grade = _int(elig["min_grade"], "$.eligibility.min_grade", 0, len(grades) - 1)
    notes = root.get("notes", [])
    if not isinstance(notes, list):
        raise PolicyError("$.notes", "must be a list of strings")
    return Policy(
        name=_str(root["name"], "$.name"),
        standard=_str(root.get("standard", "-"), "$.standard"),
        notes=tuple(_str(n, f"$.notes[{i}]") for i, n in enumerate(notes)),
        adl=dims["adl"],
        cognition=dims["cognition"],
        perception=dims["perception"],
        grades=grades,
        combination=combination,
        min_grade=min_grade,
        min_duration_months=_int(
            elig["min_duration_months"], "$.eligibility.min_duration_months", 0, 120
        ),
        assessment_valid_months=_int(
            elig["assessment_valid_months"], "$.eligibility.assessment_valid_months", 1, 120
        ),
        entitlements=_entitlements(root["entitlements"], min_grade, len(grades) - 1),
        fund_share_pct=_shares(root["fund_share_pct"], "$.fund_share_pct"),
        cities=_cities(root.get("cities", {})),
    )


def _dimension(code: str, value: Any, path: str) -> Dimension:
    doc = _obj(value, path, ("name_zh", "name_en", "items", "levels"))
    items = tuple(
        _scored_item(v, f"{path}.items[{i}]")
        for i, v in enumerate(_list(doc["items"], f"{path}.items"))
    )
    codes = [item.code for item in items]
    for i, item_code in enumerate(codes):
        if codes.index(item_code) != i:
            raise PolicyError(f"{path}.items[{i}].code", f"duplicate item code {item_code!r}")
    levels = _levels(doc["levels"], f"{path}.levels", _reachable_totals(items))
    return Dimension(
        code=code,
        name_zh=_str(doc["name_zh"], f"{path}.name_zh"),
        name_en=_str(doc["name_en"], f"{path}.name_en"),
        items=items,
        levels=levels,
    )


def _reachable_totals(items: Sequence[ScoredItem]) -> frozenset[int]:
    totals = {0}
    for item in items:
        totals = {t + s for t in totals for s in item.scores}
    return frozenset(totals)


def _scored_item(value: Any, path: str) -> ScoredItem:
    doc = _obj(value, path, ("code", "name_zh", "name_en", "scores"))
    raw = _list(doc["scores"], f"{path}.scores")
    scores = tuple(_int(s, f"{path}.scores[{i}]", 0) for i, s in enumerate(raw))
    if list(scores) != sorted(set(scores)):
        raise PolicyError(f"{path}.scores", "must be strictly increasing")
    if scores[0] != 0:
        raise PolicyError(f"{path}.scores[0]", "the lowest score must be 0")
    return ScoredItem(
        code=_str(doc["code"], f"{path}.code"),
        name_zh=_str(doc["name_zh"], f"{path}.name_zh"),
        name_en=_str(doc["name_en"], f"{path}.name_en"),
        scores=scores,
    )


def _levels(value: Any, path: str, reachable: frozenset[int]) -> tuple[Level, ...]:
    max_total = max(reachable)
    levels = []
    for i, raw in enumerate(_list(value, path)):
        p = f"{path}[{i}]"
        doc = _obj(raw, p, ("level", "name_zh", "name_en", "min", "max"))
        level = Level(
            level=_int(doc["level"], f"{p}.level", i, i),
            name_zh=_str(doc["name_zh"], f"{p}.name_zh"),
            name_en=_str(doc["name_en"], f"{p}.name_en"),
            min=_int(doc["min"], f"{p}.min", 0, max_total),
            max=_int(doc["max"], f"{p}.max", 0, max_total),
        )
        if level.min > level.max:
            raise PolicyError(f"{p}.min", "must not exceed max")
        levels.append(level)
    # Level 0 is the best band: bands run downwards, do not overlap, and every total the
    # items can add up to falls in one of them.
    if levels[0].max != max_total:
        raise PolicyError(f"{path}[0].max", f"must be {max_total}, the highest possible total")
    for i in range(1, len(levels)):
        if levels[i].max >= levels[i - 1].min:
            raise PolicyError(
                f"{path}[{i}].max", "bands must be in descending order without overlap"
            )
    if levels[-1].min != 0:
        raise PolicyError(f"{path}[{len(levels) - 1}].min", "the last band must reach 0")
    for total in sorted(reachable):
        if not any(level.min <= total <= level.max for level in levels):
            raise PolicyError(path, f"no band holds the possible total {total}")
    return tuple(levels)


def _grades(value: Any) -> tuple[Grade, ...]:
    grades = []
    for i, raw in enumerate(_list(value, "$.grades")):
        p = f"$.grades[{i}]"
        doc = _obj(raw, p, ("grade", "name_zh", "name_en"))
        grades.append(
            Grade(
                grade=_int(doc["grade"], f"{p}.grade", i, i),
                name_zh=_str(doc["name_zh"], f"{p}.name_zh"),
                name_en=_str(doc["name_en"], f"{p}.name_en"),
            )
        )
    return tuple(grades)


def _combination(
    value: Any, dims: Mapping[str, Dimension], grade_count: int
) -> tuple[tuple[int, ...], ...]:
    doc = _obj(value, "$.combination", ("table",), ("rows", "columns"))
    rows = _list(doc["table"], "$.combination.table")
    n_rows = len(dims["adl"].levels)
    n_cols = max(len(dims["cognition"].levels), len(dims["perception"].levels))
    if len(rows) != n_rows:
        raise PolicyError("$.combination.table", f"must have {n_rows} rows (one per ADL level)")
    table = []
    for r, row in enumerate(rows):
        p = f"$.combination.table[{r}]"
        cells = _list(row, p)
        if len(cells) != n_cols:
            raise PolicyError(p, f"must have {n_cols} columns (one per level)")
        table.append(tuple(_int(c, f"{p}[{k}]", 0, grade_count - 1) for k, c in enumerate(cells)))
    return tuple(table)


def _entitlements(value: Any, min_grade: int, max_grade: int) -> dict[int, Entitlement]:
    wanted = [str(g) for g in range(min_grade, max_grade + 1)]
    doc = _obj(value, "$.entitlements", wanted)
    result = {}
    for key in wanted:
        p = f"$.entitlements.{key}"
        ent = _obj(doc[key], p, ("max_visits_per_week", "minutes_per_month"))
        result[int(key)] = Entitlement(
            max_visits_per_week=_int(ent["max_visits_per_week"], f"{p}.max_visits_per_week", 1, 50),
            minutes_per_month=_int(ent["minutes_per_month"], f"{p}.minutes_per_month", 1),
        )
    return result


def _shares(value: Any, path: str) -> dict[str, int]:
    doc = _obj(value, path, CARE_SETTINGS)
    return {s: _int(doc[s], f"{path}.{s}", 0, 100) for s in CARE_SETTINGS}


def _cities(value: Any) -> dict[str, City]:
    if not isinstance(value, dict):
        raise PolicyError("$.cities", "must be an object")
    cities = {}
    for code, raw in value.items():
        p = f"$.cities.{code}"
        doc = _obj(raw, p, ("fund_share_pct",), ("name_zh",))
        cities[code] = City(
            code=code,
            name_zh=_str(doc.get("name_zh", code), f"{p}.name_zh"),
            fund_share_pct=_shares(doc["fund_share_pct"], f"{p}.fund_share_pct"),
        )
    return cities


# --------------------------------------------------------------------------- service items


def read_service_items(doc: Any) -> tuple[ServiceItemSpec, ...]:
    """Validate a parsed service-list document.

    Raises
    ------
    PolicyError
        Naming the JSON path of the first invalid field.
    """
    root = _obj(doc, "$", ("format", "items"), ("notes",))
    _format(root, SERVICE_ITEMS_FORMAT)
    categories = {c.value for c in ItemCategory}
    skills = {s.value for s in Skill}
    items: list[ServiceItemSpec] = []
    seen: set[str] = set()
    for i, raw in enumerate(_list(root["items"], "$.items")):
        p = f"$.items[{i}]"
        d = _obj(
            raw,
            p,
            (
                "code",
                "name_zh",
                "name_en",
                "category",
                "standard_min",
                "required_skill",
                "price_fen",
                "volunteer_ok",
            ),
        )
        code = _str(d["code"], f"{p}.code")
        if len(code) > 16:
            raise PolicyError(f"{p}.code", "must be at most 16 characters")
        if code in seen:
            raise PolicyError(f"{p}.code", f"duplicate code {code!r}")
        seen.add(code)
        if d["category"] not in categories:
            raise PolicyError(f"{p}.category", f"must be one of {sorted(categories)}")
        if d["required_skill"] not in skills:
            raise PolicyError(f"{p}.required_skill", f"must be one of {sorted(skills)}")
        volunteer_ok = _bool(d["volunteer_ok"], f"{p}.volunteer_ok")
        if volunteer_ok and d["required_skill"] not in VOLUNTEER_SKILLS:
            raise PolicyError(
                f"{p}.volunteer_ok", "only companionship and household items may be volunteer_ok"
            )
        items.append(
            ServiceItemSpec(
                code=code,
                name_zh=_str(d["name_zh"], f"{p}.name_zh"),
                name_en=_str(d["name_en"], f"{p}.name_en"),
                category=d["category"],
                standard_min=_int(d["standard_min"], f"{p}.standard_min", 1, 480),
                required_skill=d["required_skill"],
                price_fen=_int(d["price_fen"], f"{p}.price_fen", 0),
                volunteer_ok=volunteer_ok,
            )
        )
    return tuple(items)
