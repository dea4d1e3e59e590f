"""Reading and writing the exchange formats ``careroute.day/1`` and ``careroute.plan/1``.

The formats are described in ``docs/formats/dayproblem.md``. Reading is strict:
unknown keys, wrong JSON types (``true`` is not a number, ``"45"`` is not a
number), out-of-range values and dangling references are all errors, and every
error is a ``FormatError`` whose ``path`` names the offending field, such as
``visits[3].windows[0][1]``. Times of day become whole seconds since local
midnight.

The validator is written by hand rather than with pydantic so that each message
speaks the format's language (``window ends (08:00) before it starts (09:00)``)
and cross-references (locks, preferred caregivers, matrix points) are checked in
the same pass with the same kind of path.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import zoneinfo
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from .problem import (
    Break,
    BreakTaken,
    Caregiver,
    DayPlan,
    DayProblem,
    Kpis,
    Lock,
    Point,
    Route,
    SolverInfo,
    Stop,
    Travel,
    Unassigned,
    Visit,
    Weights,
    Window,
)

__all__ = [
    "DAY_FORMAT",
    "PLAN_FORMAT",
    "FormatError",
    "dump_plan",
    "dump_problem",
    "format_time",
    "load_plan",
    "load_problem",
    "parse_json",
    "to_json_text",
    "read_plan",
    "read_problem",
    "write_plan",
    "write_problem",
]

DAY_FORMAT = "careroute.day/1"
PLAN_FORMAT = "careroute.plan/1"

_GENDERS = ("f", "m")
_MODELS = ("geodesic", "matrix")
_TIME = re.compile(r"([01]\d|2[0-3]):([0-5]\d)(?::([0-5]\d))?")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DAY_S = 24 * 3600

T = TypeVar("T")


class FormatError(ValueError):
    """An input document does not follow its format.

    Attributes
    ----------
    path : str
        JSON path of the offending field, e.g. ``"visits[3].windows[0][1]"``;
        ``"$"`` for the document itself.
    message : str
        What is wrong with it.
    """

    def __init__(self, path: str, message: str) -> None:
        self.path = path or "$"
        self.message = message
        super().__init__(f"{self.path}: {message}")


# ---------------------------------------------------------------------------
# JSON parsing


class _Object(dict[str, Any]):
    """A parsed JSON object that remembers keys it saw twice.

    ``json`` keeps the last of duplicate keys silently; remembering them lets the
    validator report the duplicate with its full path.
    """

    duplicates: tuple[str, ...] = ()


def _pairs_hook(pairs: list[tuple[str, Any]]) -> _Object:
    obj = _Object()
    dups: list[str] = []
    for key, value in pairs:
        if key in obj:
            dups.append(key)
        obj[key] = value
    obj.duplicates = tuple(dups)
    return obj


def _reject_constant(name: str) -> Any:
    raise FormatError("$", f"invalid JSON: {name} is not a number in JSON")


def parse_json(text: str) -> Any:
    """Parse JSON text, raising ``FormatError`` (path ``$``) when it is not JSON.

    Objects with duplicate keys and ``NaN``/``Infinity`` are refused later or here,
    so that nothing in a document is silently dropped.
    """
    try:
        return json.loads(text, object_pairs_hook=_pairs_hook, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise FormatError(
            "$", f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None


def _read_json(path: str | Path) -> Any:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise FormatError("$", f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    return parse_json(text)


def to_json_text(data: object, width: int = 100) -> str:
    """Indented JSON that keeps any value fitting in ``width`` columns on one line.

    A stop, a window or a matrix row then reads as one line, which keeps day and
    plan files short and easy to compare in a diff.
    """
    return _pretty(data, 0, width) + "\n"


def _pretty(value: object, level: int, width: int) -> str:
    flat = json.dumps(value, ensure_ascii=False)
    if not isinstance(value, dict | list) or len(flat) + 2 * level <= width:
        return flat
    inner = "  " * (level + 1)
    if isinstance(value, dict):
        items = [
            f"{inner}{json.dumps(k, ensure_ascii=False)}: {_pretty(v, level + 1, width)}"
            for k, v in value.items()
        ]
        return "{\n" + ",\n".join(items) + "\n" + "  " * level + "}"
    items = [inner + _pretty(v, level + 1, width) for v in value]
    return "[\n" + ",\n".join(items) + "\n" + "  " * level + "]"


def _write_json(data: Mapping[str, Any], path: str | Path) -> None:
    Path(path).write_text(to_json_text(data), encoding="utf-8")


# ---------------------------------------------------------------------------
# Small typed readers: each takes the value and its JSON path


def _key(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _idx(path: str, i: int) -> str:
    return f"{path}[{i}]"


def _describe(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"the integer {value}"
    if isinstance(value, float):
        return f"the number {value!r}"
    if isinstance(value, str):
        shown = value if len(value) <= 30 else value[:27] + "..."
        return f"the string {shown!r}"
    if isinstance(value, list):
        return "a list"
    return "an object"


def _obj(
    value: object, path: str, required: Sequence[str], optional: Sequence[str] = ()
) -> dict[str, Any]:
    obj = _map(value, path)
    allowed = (*required, *optional)
    for key in obj:
        if key not in allowed:
            raise FormatError(_key(path, key), f"unknown key (allowed: {', '.join(allowed)})")
    for key in required:
        if key not in obj:
            raise FormatError(_key(path, key), "required key is missing")
    return obj


def _map(value: object, path: str) -> dict[str, Any]:
    """An object whose keys are data (travel modes, priorities), not field names."""
    if not isinstance(value, dict):
        raise FormatError(path, f"expected an object, got {_describe(value)}")
    if isinstance(value, _Object) and value.duplicates:
        raise FormatError(_key(path, value.duplicates[0]), "key appears twice in the object")
    return value


def _list(value: object, path: str, *, non_empty: bool = False) -> list[Any]:
    if not isinstance(value, list):
        raise FormatError(path, f"expected a list, got {_describe(value)}")
    if non_empty and not value:
        raise FormatError(path, "must not be empty")
    return value


def _each(value: object, path: str, read: Callable[[Any, str], T]) -> list[T]:
    return [read(item, _idx(path, i)) for i, item in enumerate(_list(value, path))]


def _str(value: object, path: str) -> str:
    if not isinstance(value, str):
        raise FormatError(path, f"expected a string, got {_describe(value)}")
    if not value.strip():
        raise FormatError(path, "must not be empty")
    return value


def _text(value: object, path: str) -> str:
    """A string that may be empty (free text such as a reason)."""
    if not isinstance(value, str):
        raise FormatError(path, f"expected a string, got {_describe(value)}")
    return value


def _bool(value: object, path: str) -> bool:
    if not isinstance(value, bool):
        raise FormatError(path, f"expected true or false, got {_describe(value)}")
    return value


def _int(value: object, path: str, *, minimum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise FormatError(path, f"expected an integer, got {_describe(value)}")
    if minimum is not None and value < minimum:
        raise FormatError(path, f"must be at least {minimum}, got {value}")
    return value


def _num(
    value: object,
    path: str,
    *,
    minimum: float | None = None,
    above: float | None = None,
    maximum: float | None = None,
) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FormatError(path, f"expected a number, got {_describe(value)}")
    x = float(value)
    if not math.isfinite(x):
        raise FormatError(path, "must be a finite number")
    if minimum is not None and x < minimum:
        raise FormatError(path, f"must be at least {minimum:g}, got {value}")
    if above is not None and x <= above:
        raise FormatError(path, f"must be greater than {above:g}, got {value}")
    if maximum is not None and x > maximum:
        raise FormatError(path, f"must be at most {maximum:g}, got {value}")
    return x


def _choice(value: object, path: str, choices: Sequence[str]) -> str:
    s = _str(value, path)
    if s not in choices:
        raise FormatError(path, f"must be one of {', '.join(choices)}; got {s!r}")
    return s


def _time(value: object, path: str) -> int:
    if not isinstance(value, str):
        raise FormatError(path, f'expected a time "HH:MM" or "HH:MM:SS", got {_describe(value)}')
    m = _TIME.fullmatch(value)
    if m is None:
        raise FormatError(path, f'{value!r} is not a time "HH:MM" or "HH:MM:SS" (00:00-23:59:59)')
    return int(m[1]) * 3600 + int(m[2]) * 60 + int(m[3] or 0)


def _pair(value: object, path: str, what: str) -> list[Any]:
    items = _list(value, path)
    if len(items) != 2:
        raise FormatError(path, f"expected {what}, got a list of {len(items)}")
    return items


def _window(value: object, path: str, what: str = "window") -> Window:
    a, b = _pair(value, path, f"a {what} [start, end]")
    start = _time(a, _idx(path, 0))
    end = _time(b, _idx(path, 1))
    if end < start:
        raise FormatError(
            path, f"{what} ends ({format_time(end)}) before it starts ({format_time(start)})"
        )
    return (start, end)


def _point(value: object, path: str) -> Point:
    a, b = _pair(value, path, "a position [lat, lon]")
    lat = _num(a, _idx(path, 0))
    lon = _num(b, _idx(path, 1))
    if not -90.0 <= lat <= 90.0:
        raise FormatError(_idx(path, 0), f"latitude must be within -90..90, got {a}")
    if not -180.0 <= lon <= 180.0:
        raise FormatError(_idx(path, 1), f"longitude must be within -180..180, got {b}")
    return (lat, lon)


def _id_list(value: object, path: str, known: Mapping[str, int], what: str) -> list[str]:
    ids = _each(value, path, _str)
    for i, ident in enumerate(ids):
        if ident not in known:
            raise FormatError(_idx(path, i), f"unknown {what} {ident!r}")
    return ids


def _unique_ids(items: Iterable[str], path: str) -> dict[str, int]:
    """Index ids by position, refusing a repeated id with the path of the repeat."""
    seen: dict[str, int] = {}
    for i, ident in enumerate(items):
        if ident in seen:
            raise FormatError(
                _key(_idx(path, i), "id"), f"duplicate id {ident!r} (also {path}[{seen[ident]}])"
            )
        seen[ident] = i
    return seen


def format_time(seconds: int, *, always_seconds: bool = False) -> str:
    """Seconds since midnight as ``"HH:MM"`` (or ``"HH:MM:SS"`` when needed or asked)."""
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    if s or always_seconds:
        return f"{h:02d}:{m:02d}:{s:02d}"
    return f"{h:02d}:{m:02d}"


def _dump_time(seconds: int, *, always_seconds: bool = False) -> str:
    if not 0 <= seconds < _DAY_S:
        raise ValueError(f"time {seconds} s is outside the day (0..86399 s)")
    return format_time(seconds, always_seconds=always_seconds)


# ---------------------------------------------------------------------------
# Problem


def _document(
    data: object, tag: str, required: Sequence[str], optional: Sequence[str] = ()
) -> dict[str, Any]:
    """The top-level object, its format tag checked first.

    A plan passed where a day is expected (or the reverse) is then reported as
    the wrong format rather than as a list of unknown keys.
    """
    doc = _map(data, "")
    if "format" in doc and doc["format"] != tag:
        raise FormatError("format", f"expected {tag!r}, got {_describe(doc['format'])}")
    return _obj(doc, "", required, optional)


def _date(value: object, path: str) -> dt.date:
    s = _str(value, path)
    try:
        if _DATE.fullmatch(s) is None:
            raise ValueError
        return dt.date.fromisoformat(s)
    except ValueError:
        raise FormatError(path, f"{s!r} is not an ISO date YYYY-MM-DD") from None


def _timezone(value: object, path: str) -> str:
    s = _str(value, path)
    try:
        zoneinfo.ZoneInfo(s)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise FormatError(path, f"{s!r} is not a known time zone name") from None
    return s


def _travel(value: object, path: str) -> Travel:
    t = _obj(value, path, ["model"], ["detour_factor", "speeds_kmh", "points", "seconds"])
    model = _choice(t["model"], _key(path, "model"), _MODELS)
    defaults = Travel()
    detour = defaults.detour_factor
    speeds: dict[str, float] = dict(defaults.speeds_kmh)
    if model == "geodesic":
        for key in ("points", "seconds"):
            if key in t:
                raise FormatError(_key(path, key), 'only allowed with model "matrix"')
        _obj(t, path, ["model", "detour_factor", "speeds_kmh"])
    if "detour_factor" in t:
        detour = _num(t["detour_factor"], _key(path, "detour_factor"), minimum=1.0)
    if "speeds_kmh" in t:
        sp = _key(path, "speeds_kmh")
        speeds = {
            mode: _num(v, _key(sp, mode), above=0.0)
            for mode, v in _map(t["speeds_kmh"], sp).items()
        }
        if not speeds:
            raise FormatError(sp, "must name at least one travel mode")
    if model == "geodesic":
        return Travel("geodesic", detour, speeds)
    _obj(t, path, ["model", "points", "seconds"], ["detour_factor", "speeds_kmh"])
    points = _each(t["points"], _key(path, "points"), _point)
    where: dict[Point, int] = {}
    for i, p in enumerate(points):
        if p in where:
            raise FormatError(
                _idx(_key(path, "points"), i), f"duplicate of {path}.points[{where[p]}]"
            )
        where[p] = i
    seconds = _matrix(t["seconds"], _key(path, "seconds"), len(points))
    return Travel("matrix", detour, speeds, tuple(points), seconds)


def _matrix(value: object, path: str, n: int) -> tuple[tuple[int, ...], ...]:
    rows = _list(value, path)
    if len(rows) != n:
        raise FormatError(
            path, f"matrix must be {n} x {n} (one row per point), got {len(rows)} rows"
        )
    out: list[tuple[int, ...]] = []
    for i, row in enumerate(rows):
        rp = _idx(path, i)
        cells = _list(row, rp)
        if len(cells) != n:
            raise FormatError(rp, f"matrix must be {n} x {n}, this row has {len(cells)} entries")
        out.append(tuple(_int(c, _idx(rp, j), minimum=0) for j, c in enumerate(cells)))
    return tuple(out)


def _break(value: object, path: str) -> Break:
    b = _obj(value, path, ["window", "duration_min"])
    window = _window(b["window"], _key(path, "window"), "break window")
    dur = _int(b["duration_min"], _key(path, "duration_min"), minimum=1)
    if dur * 60 > window[1] - window[0]:
        raise FormatError(
            _key(path, "duration_min"),
            f"a {dur} min break does not fit its window "
            f"{format_time(window[0])}-{format_time(window[1])}",
        )
    return Break(window, dur * 60)


_CAREGIVER_REQUIRED = ("id", "mode", "skills", "start", "shift", "volunteer")
_CAREGIVER_OPTIONAL = ("gender", "end", "breaks", "max_work_min", "max_visits")


def _caregiver(value: object, path: str, travel: Travel) -> Caregiver:
    c = _obj(value, path, _CAREGIVER_REQUIRED, _CAREGIVER_OPTIONAL)
    mode = _str(c["mode"], _key(path, "mode"))
    if travel.model == "geodesic" and mode not in travel.speeds_kmh:
        raise FormatError(_key(path, "mode"), f"no speed for mode {mode!r} in travel.speeds_kmh")
    start = _point(c["start"], _key(path, "start"))
    shift = _window(c["shift"], _key(path, "shift"), "shift")
    breaks = tuple(_each(c.get("breaks", []), _key(path, "breaks"), _break))
    for i, b in enumerate(breaks):
        if max(b.window[0], shift[0]) + b.duration_s > min(b.window[1], shift[1]):
            raise FormatError(
                _idx(_key(path, "breaks"), i),
                f"break cannot be taken inside the shift "
                f"{format_time(shift[0])}-{format_time(shift[1])}",
            )
    return Caregiver(
        id=_str(c["id"], _key(path, "id")),
        mode=mode,
        skills=frozenset(_each(c["skills"], _key(path, "skills"), _str)),
        start=start,
        end=_point(c["end"], _key(path, "end")) if "end" in c else start,
        shift=shift,
        gender=_choice(c["gender"], _key(path, "gender"), _GENDERS) if "gender" in c else None,
        breaks=breaks,
        max_work_min=_opt_int(c, path, "max_work_min"),
        max_visits=_opt_int(c, path, "max_visits"),
        volunteer=_bool(c["volunteer"], _key(path, "volunteer")),
    )


def _opt_int(obj: Mapping[str, Any], path: str, key: str) -> int | None:
    return _int(obj[key], _key(path, key), minimum=0) if key in obj else None


_VISIT_REQUIRED = (
    "id",
    "client_id",
    "location",
    "windows",
    "duration_min",
    "skills",
    "staff",
    "priority",
    "volunteer_ok",
)
_VISIT_OPTIONAL = ("gender", "preferred_caregivers", "excluded_caregivers")


def _visit(value: object, path: str, caregivers: Mapping[str, int]) -> Visit:
    v = _obj(value, path, _VISIT_REQUIRED, _VISIT_OPTIONAL)
    wp = _key(path, "windows")
    _list(v["windows"], wp, non_empty=True)
    staff = _int(v["staff"], _key(path, "staff"))
    if staff not in (1, 2):
        raise FormatError(_key(path, "staff"), f"must be 1 or 2, got {staff}")
    return Visit(
        id=_str(v["id"], _key(path, "id")),
        client_id=_str(v["client_id"], _key(path, "client_id")),
        location=_point(v["location"], _key(path, "location")),
        windows=tuple(_each(v["windows"], wp, _window)),
        duration_min=_int(v["duration_min"], _key(path, "duration_min"), minimum=1),
        skills=frozenset(_each(v["skills"], _key(path, "skills"), _str)),
        staff=staff,
        priority=_int(v["priority"], _key(path, "priority"), minimum=1),
        gender=_choice(v["gender"], _key(path, "gender"), _GENDERS) if "gender" in v else None,
        preferred_caregivers=tuple(
            _id_list(
                v.get("preferred_caregivers", []),
                _key(path, "preferred_caregivers"),
                caregivers,
                "caregiver",
            )
        ),
        excluded_caregivers=frozenset(
            _id_list(
                v.get("excluded_caregivers", []),
                _key(path, "excluded_caregivers"),
                caregivers,
                "caregiver",
            )
        ),
        volunteer_ok=_bool(v["volunteer_ok"], _key(path, "volunteer_ok")),
    )


def _lock(
    value: object, path: str, caregivers: Mapping[str, int], visits: Mapping[str, int]
) -> Lock:
    lk = _obj(value, path, ["visit_id", "caregiver_id"], ["start"])
    visit_id = _str(lk["visit_id"], _key(path, "visit_id"))
    if visit_id not in visits:
        raise FormatError(_key(path, "visit_id"), f"unknown visit {visit_id!r}")
    caregiver_id = _str(lk["caregiver_id"], _key(path, "caregiver_id"))
    if caregiver_id not in caregivers:
        raise FormatError(_key(path, "caregiver_id"), f"unknown caregiver {caregiver_id!r}")
    start = _time(lk["start"], _key(path, "start")) if "start" in lk else None
    return Lock(visit_id, caregiver_id, start)


def _check_locks(locks: Sequence[Lock], visits: Sequence[Visit], index: Mapping[str, int]) -> None:
    """Refuse lock sets that no plan could satisfy: too many or repeated caregivers."""
    by_visit: dict[str, list[int]] = {}
    for i, lk in enumerate(locks):
        earlier = by_visit.setdefault(lk.visit_id, [])
        for j in earlier:
            if locks[j].caregiver_id == lk.caregiver_id:
                raise FormatError(f"locks[{i}]", f"repeats locks[{j}]")
        staff = visits[index[lk.visit_id]].staff
        if len(earlier) >= staff:
            raise FormatError(
                f"locks[{i}]",
                f"visit {lk.visit_id!r} needs {staff} staff but has more locks than that",
            )
        earlier.append(i)


def _weights(value: object, path: str) -> Weights:
    w = _obj(value, path, ["travel_per_min", "continuity_miss", "unassigned"])
    up = _key(path, "unassigned")
    unassigned: dict[int, int] = {}
    for key, cost in _map(w["unassigned"], up).items():
        if not key.isdigit() or int(key) < 1 or str(int(key)) != key:
            raise FormatError(_key(up, key), 'keys are priorities as strings: "1", "2", ...')
        unassigned[int(key)] = _int(cost, _key(up, key), minimum=0)
    return Weights(
        travel_per_min=_int(w["travel_per_min"], _key(path, "travel_per_min"), minimum=0),
        continuity_miss=_int(w["continuity_miss"], _key(path, "continuity_miss"), minimum=0),
        unassigned=unassigned,
    )


def _on_matrix(problem: DayProblem) -> None:
    """With a matrix model every place of the day must be one of ``travel.points``."""
    points = set(problem.travel.points)

    def need(p: Point, path: str) -> None:
        if p not in points:
            raise FormatError(path, f"[{p[0]}, {p[1]}] is not one of travel.points")

    for i, c in enumerate(problem.caregivers):
        need(c.start, f"caregivers[{i}].start")
        need(c.end, f"caregivers[{i}].end")
    for i, v in enumerate(problem.visits):
        need(v.location, f"visits[{i}].location")


_DAY_REQUIRED = ("format", "date", "timezone", "travel", "caregivers", "visits", "weights")


def load_problem(data: object) -> DayProblem:
    """Validate a parsed ``careroute.day/1`` document and build the ``DayProblem``.

    Parameters
    ----------
    data : object
        The document as parsed by ``json`` (use ``parse_json`` to also catch
        duplicate keys).

    Returns
    -------
    DayProblem

    Raises
    ------
    FormatError
        On the first field that breaks the format, with its JSON path.
    """
    d = _document(data, DAY_FORMAT, _DAY_REQUIRED, ["locks"])
    date = _date(d["date"], "date")
    timezone = _timezone(d["timezone"], "timezone")
    travel = _travel(d["travel"], "travel")
    caregivers = _each(d["caregivers"], "caregivers", lambda x, p: _caregiver(x, p, travel))
    cg_index = _unique_ids((c.id for c in caregivers), "caregivers")
    visits = _each(d["visits"], "visits", lambda x, p: _visit(x, p, cg_index))
    v_index = _unique_ids((v.id for v in visits), "visits")
    locks = _each(d.get("locks", []), "locks", lambda x, p: _lock(x, p, cg_index, v_index))
    _check_locks(locks, visits, v_index)
    problem = DayProblem(
        date=date,
        caregivers=tuple(caregivers),
        visits=tuple(visits),
        travel=travel,
        timezone=timezone,
        locks=tuple(locks),
        weights=_weights(d["weights"], "weights"),
    )
    if travel.model == "matrix":
        _on_matrix(problem)
    return problem


def read_problem(path: str | Path) -> DayProblem:
    """Read and validate a ``careroute.day/1`` file.

    Raises
    ------
    OSError
        When the file cannot be read.
    FormatError
        When it is not JSON or not a valid day problem.
    """
    return load_problem(_read_json(path))


def _dump_point(p: Point) -> list[float]:
    return [p[0], p[1]]


def _dump_window(w: Window) -> list[str]:
    return [_dump_time(w[0]), _dump_time(w[1])]


def _dump_caregiver(c: Caregiver) -> dict[str, Any]:
    if c.capacity is not None:
        raise ValueError(f"caregiver {c.id!r}: capacity is not part of {DAY_FORMAT}")
    out: dict[str, Any] = {"id": c.id, "mode": c.mode}
    if c.gender is not None:
        out["gender"] = c.gender
    out["skills"] = sorted(c.skills)
    out["start"] = _dump_point(c.start)
    out["end"] = _dump_point(c.end)
    out["shift"] = _dump_window(c.shift)
    out["breaks"] = [
        {"window": _dump_window(b.window), "duration_min": _whole_minutes(b.duration_s, c.id)}
        for b in c.breaks
    ]
    if c.max_work_min is not None:
        out["max_work_min"] = c.max_work_min
    if c.max_visits is not None:
        out["max_visits"] = c.max_visits
    out["volunteer"] = c.volunteer
    return out


def _whole_minutes(seconds: int, owner: str) -> int:
    if seconds % 60:
        raise ValueError(f"caregiver {owner!r}: break of {seconds} s is not whole minutes")
    return seconds // 60


def _dump_visit(v: Visit) -> dict[str, Any]:
    if v.demand or v.service_s is not None:
        field = "demand" if v.demand else "service_s"
        raise ValueError(f"visit {v.id!r}: {field} is not part of {DAY_FORMAT}")
    out: dict[str, Any] = {
        "id": v.id,
        "client_id": v.client_id,
        "location": _dump_point(v.location),
        "windows": [_dump_window(w) for w in v.windows],
        "duration_min": v.duration_min,
        "skills": sorted(v.skills),
        "staff": v.staff,
        "priority": v.priority,
    }
    if v.gender is not None:
        out["gender"] = v.gender
    if v.preferred_caregivers:
        out["preferred_caregivers"] = list(v.preferred_caregivers)
    if v.excluded_caregivers:
        out["excluded_caregivers"] = sorted(v.excluded_caregivers)
    out["volunteer_ok"] = v.volunteer_ok
    return out


def _dump_travel(t: Travel) -> dict[str, Any]:
    out: dict[str, Any] = {
        "model": t.model,
        "detour_factor": t.detour_factor,
        "speeds_kmh": dict(t.speeds_kmh),
    }
    if t.model == "matrix":
        out["points"] = [_dump_point(p) for p in t.points]
        out["seconds"] = [list(row) for row in t.seconds]
    return out


def dump_problem(problem: DayProblem) -> dict[str, Any]:
    """The ``careroute.day/1`` document of ``problem`` (ready for ``json.dumps``).

    Raises
    ------
    ValueError
        When the problem uses a field that the format cannot hold (the
        benchmark-only ``capacity``, ``demand``, ``service_s`` and
        ``route_fixed``), or a time outside the day.
    """
    if problem.weights.route_fixed:
        raise ValueError(f"weights.route_fixed is not part of {DAY_FORMAT}")
    out: dict[str, Any] = {
        "format": DAY_FORMAT,
        "date": problem.date.isoformat(),
        "timezone": problem.timezone,
        "travel": _dump_travel(problem.travel),
        "caregivers": [_dump_caregiver(c) for c in problem.caregivers],
        "visits": [_dump_visit(v) for v in problem.visits],
        "locks": [_dump_lock(lk) for lk in problem.locks],
        "weights": {
            "travel_per_min": problem.weights.travel_per_min,
            "continuity_miss": problem.weights.continuity_miss,
            "unassigned": {str(p): c for p, c in sorted(problem.weights.unassigned.items())},
        },
    }
    return out


def _dump_lock(lk: Lock) -> dict[str, Any]:
    out: dict[str, Any] = {"visit_id": lk.visit_id, "caregiver_id": lk.caregiver_id}
    if lk.start_s is not None:
        out["start"] = _dump_time(lk.start_s)
    return out


def write_problem(problem: DayProblem, path: str | Path) -> None:
    """Write ``problem`` as a ``careroute.day/1`` file (UTF-8, indented JSON)."""
    _write_json(dump_problem(problem), path)


# ---------------------------------------------------------------------------
# Plan


def _stop(value: object, path: str) -> Stop:
    s = _obj(value, path, ["visit_id", "arrival", "start", "end"])
    return Stop(
        visit_id=_str(s["visit_id"], _key(path, "visit_id")),
        arrival_s=_time(s["arrival"], _key(path, "arrival")),
        start_s=_time(s["start"], _key(path, "start")),
        end_s=_time(s["end"], _key(path, "end")),
    )


def _break_taken(value: object, path: str) -> BreakTaken:
    b = _obj(value, path, ["start", "end"])
    start = _time(b["start"], _key(path, "start"))
    end = _time(b["end"], _key(path, "end"))
    if end < start:
        raise FormatError(
            path, f"break ends ({format_time(end)}) before it starts ({format_time(start)})"
        )
    return BreakTaken(start, end)


def _route(value: object, path: str) -> Route:
    r = _obj(value, path, ["caregiver_id", "stops", "breaks", "travel_s", "work_s"])
    return Route(
        caregiver_id=_str(r["caregiver_id"], _key(path, "caregiver_id")),
        stops=tuple(_each(r["stops"], _key(path, "stops"), _stop)),
        breaks=tuple(_each(r["breaks"], _key(path, "breaks"), _break_taken)),
        travel_s=_int(r["travel_s"], _key(path, "travel_s"), minimum=0),
        work_s=_int(r["work_s"], _key(path, "work_s"), minimum=0),
    )


def _unassigned(value: object, path: str) -> Unassigned:
    u = _obj(value, path, ["visit_id", "reason"])
    return Unassigned(
        _str(u["visit_id"], _key(path, "visit_id")), _text(u["reason"], _key(path, "reason"))
    )


def _kpis(value: object, path: str) -> Kpis:
    k = _obj(value, path, ["visits", "assigned", "travel_s", "continuity_rate"])
    return Kpis(
        visits=_int(k["visits"], _key(path, "visits"), minimum=0),
        assigned=_int(k["assigned"], _key(path, "assigned"), minimum=0),
        travel_s=_int(k["travel_s"], _key(path, "travel_s"), minimum=0),
        continuity_rate=_num(
            k["continuity_rate"], _key(path, "continuity_rate"), minimum=0.0, maximum=1.0
        ),
    )


def _solver(value: object, path: str) -> SolverInfo:
    s = _obj(value, path, ["name", "time_limit_s", "wall_s", "objective"])
    return SolverInfo(
        name=_text(s["name"], _key(path, "name")),
        time_limit_s=_num(s["time_limit_s"], _key(path, "time_limit_s"), minimum=0.0),
        wall_s=_num(s["wall_s"], _key(path, "wall_s"), minimum=0.0),
        objective=_int(s["objective"], _key(path, "objective")),
    )


def load_plan(data: object) -> DayPlan:
    """Validate a parsed ``careroute.plan/1`` document and build the ``DayPlan``.

    Only the document's own shape is checked here; whether the plan answers its
    problem is ``scheduling.check.check``'s job.

    Raises
    ------
    FormatError
        On the first field that breaks the format, with its JSON path.
    """
    d = _document(data, PLAN_FORMAT, ["format", "routes", "unassigned", "kpis", "solver"])
    return DayPlan(
        routes=tuple(_each(d["routes"], "routes", _route)),
        unassigned=tuple(_each(d["unassigned"], "unassigned", _unassigned)),
        kpis=_kpis(d["kpis"], "kpis"),
        solver=_solver(d["solver"], "solver"),
    )


def read_plan(path: str | Path) -> DayPlan:
    """Read and validate a ``careroute.plan/1`` file.

    Raises
    ------
    OSError
        When the file cannot be read.
    FormatError
        When it is not JSON or not a valid plan document.
    """
    return load_plan(_read_json(path))


def _dump_stop(s: Stop) -> dict[str, Any]:
    return {
        "visit_id": s.visit_id,
        "arrival": _dump_time(s.arrival_s, always_seconds=True),
        "start": _dump_time(s.start_s, always_seconds=True),
        "end": _dump_time(s.end_s, always_seconds=True),
    }


def _dump_route(r: Route) -> dict[str, Any]:
    return {
        "caregiver_id": r.caregiver_id,
        "stops": [_dump_stop(s) for s in r.stops],
        "breaks": [
            {
                "start": _dump_time(b.start_s, always_seconds=True),
                "end": _dump_time(b.end_s, always_seconds=True),
            }
            for b in r.breaks
        ],
        "travel_s": r.travel_s,
        "work_s": r.work_s,
    }


def dump_plan(plan: DayPlan) -> dict[str, Any]:
    """The ``careroute.plan/1`` document of ``plan`` (times as ``"HH:MM:SS"``)."""
    return {
        "format": PLAN_FORMAT,
        "routes": [_dump_route(r) for r in plan.routes],
        "unassigned": [{"visit_id": u.visit_id, "reason": u.reason} for u in plan.unassigned],
        "kpis": {
            "visits": plan.kpis.visits,
            "assigned": plan.kpis.assigned,
            "travel_s": plan.kpis.travel_s,
            "continuity_rate": plan.kpis.continuity_rate,
        },
        "solver": {
            "name": plan.solver.name,
            "time_limit_s": plan.solver.time_limit_s,
            "wall_s": plan.solver.wall_s,
            "objective": plan.solver.objective,
        },
    }


def write_plan(plan: DayPlan, path: str | Path) -> None:
    """Write ``plan`` as a ``careroute.plan/1`` file (UTF-8, indented JSON)."""
    _write_json(dump_plan(plan), path)
