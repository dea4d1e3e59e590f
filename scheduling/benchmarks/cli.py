"""``python -m scheduling bench``: run a benchmark set and print its figures.

Tables go to stdout, progress to stderr, and with ``--json`` every result (with
the machine's load) is saved after each instance, so a long run that is stopped
keeps what it measured. Exit status: 0 when every plan is valid, 1 when some
plan breaks a rule (a solver bug worth a look), 2 for unusable input. The ``matrix``
set solves nothing: it times a generated day's travel matrices against geopy and exits
1 when a travel time differs from geopy's.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import platform
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..solve import SolveParams
from .data import VRPTW_SETS, data_dir
from .day import run_day
from .errors import BenchmarkError
from .matrix import matrix_table, run_matrix
from .report import day_table, hhc_status, hhc_table, vrptw_table
from .runner import run_mankowska, run_vrptw, summarise_vrptw

SETS = (*VRPTW_SETS, "mankowska", "day", "matrix")

DEFAULT_VISITS = {"day": 400, "matrix": 1000}
DEFAULT_GEOPY_PAIRS = 20_000
_NOT_FOR_MATRIX = ("time_limit", "instances", "solution_limit", "continuity_weights", "workers")
"""Options that mean nothing to the ``matrix`` set, which solves nothing."""

DEFAULT_TIME_LIMIT_S = {
    "solomon": 30.0,
    "homberger200": 30.0,
    "homberger1000": 60.0,
    "mankowska": 10.0,
    "day": 30.0,
}


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def _int_at_least(minimum: int) -> Any:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    return parse


def _weights(text: str) -> tuple[int, ...]:
    parse = _int_at_least(0)
    parts = [t.strip() for t in text.split(",")]
    if not all(parts):
        raise argparse.ArgumentTypeError(f"expected weights separated by commas, got {text!r}")
    return tuple(parse(t) for t in parts)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``bench`` command."""
    p = argparse.ArgumentParser(
        prog="python -m scheduling bench",
        description="Solve public benchmark instances (or a generated care day) and "
        "compare with the best known results; or time a generated day's travel matrices "
        "against geopy ('matrix').",
    )
    p.add_argument("set", choices=SETS, help="benchmark set")
    p.add_argument(
        "--time-limit",
        type=_positive_float,
        metavar="S",
        help="seconds per instance (per engine for 'day'); default: "
        + ", ".join(f"{k} {v:g}" for k, v in DEFAULT_TIME_LIMIT_S.items()),
    )
    p.add_argument(
        "--instances",
        metavar="A,B",
        help="comma-separated instance names or patterns (e.g. C101,R1* or A*,B*)",
    )
    p.add_argument("--seed", type=_int_at_least(0), default=0, help="solver (and day) seed")
    p.add_argument(
        "--solution-limit",
        type=_int_at_least(1),
        metavar="N",
        help="stop each search after N solutions (deterministic runs)",
    )
    p.add_argument(
        "--engine",
        choices=("portfolio", "plain"),
        default="portfolio",
        help="solver engine for the VRPTW and HHC sets ('day' always runs both)",
    )
    p.add_argument(
        "--workers",
        type=_int_at_least(1),
        metavar="W",
        help="processes per portfolio solve, each with its own seed; the cheapest plan "
        "wins (plain always runs in one); default 1",
    )
    p.add_argument(
        "--visits",
        type=_int_at_least(1),
        help="visits of the generated day of the 'day' and 'matrix' sets; default: "
        + ", ".join(f"{k} {v}" for k, v in DEFAULT_VISITS.items()),
    )
    p.add_argument(
        "--geopy-pairs",
        type=_int_at_least(1),
        metavar="N",
        help="'matrix' only: pairs of places timed with geopy and compared with the "
        f"vectorised matrix (default {DEFAULT_GEOPY_PAIRS:,})",
    )
    p.add_argument(
        "--continuity-weights",
        type=_weights,
        default=(),
        metavar="W,W",
        help="'day' only: also solve plain's visits with each of these costs of a "
        "continuity miss (travel minutes; the day's own is 30)",
    )
    p.add_argument(
        "--data-dir",
        metavar="D",
        help="benchmark data folder (default: $CAREROUTE_BENCHMARKS_DIR or ../shared/benchmarks)",
    )
    p.add_argument("--json", metavar="OUT", help="also write every result to this JSON file")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``bench`` command; returns the process exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(list(argv) if argv is not None else None)
    except SystemExit as exc:  # argparse has printed the message already
        return exc.code if isinstance(exc.code, int) else 2
    try:
        return _run(args)
    except BenchmarkError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _run(args: argparse.Namespace) -> int:
    if args.set == "matrix":
        return _run_matrix(args)
    if args.geopy_pairs is not None:
        raise BenchmarkError("--geopy-pairs: only the 'matrix' set takes it")
    limit = args.time_limit or DEFAULT_TIME_LIMIT_S[args.set]
    params = SolveParams(
        time_limit_s=limit,
        seed=args.seed,
        solution_limit=args.solution_limit,
        minimise_routes=args.set in VRPTW_SETS,
        engine=args.engine,
        workers=args.workers or 1,
    )
    if args.continuity_weights and args.set != "day":
        raise BenchmarkError("--continuity-weights: only the 'day' set takes it")
    out = _JsonOut(Path(args.json), args, limit) if args.json else None
    if args.set == "day":
        day = run_day(
            args.visits or DEFAULT_VISITS["day"],
            args.seed,
            params,
            _progress,
            continuity_weights=args.continuity_weights,
        )
        print(day_table(day))
        if out:
            out.save(day, None)
        return 0 if all(r.valid for r in day) else 1
    root = data_dir(args.data_dir)
    if args.set == "mankowska":
        hhc: list[Any] = []
        hhc_results = run_mankowska(
            root, args.instances, params, _progress, lambda r: _saved(out, hhc, r, None)
        )
        print(hhc_table(hhc_results))
        return 1 if any(hhc_status(r) == "INVALID" for r in hhc_results) else 0
    done: list[Any] = []
    results = run_vrptw(
        args.set,
        root,
        args.instances,
        params,
        _progress,
        lambda r: _saved(out, done, r, lambda: summarise_vrptw(done)),
    )
    print(vrptw_table(results))
    return 0 if all(r.valid for r in results) else 1


def _run_matrix(args: argparse.Namespace) -> int:
    for name in _NOT_FOR_MATRIX:
        if getattr(args, name) not in (None, ()):  # given at all, even empty
            option = "--" + name.replace("_", "-")
            raise BenchmarkError(f"{option}: the 'matrix' set solves nothing and does not take it")
    if args.engine != "portfolio":
        raise BenchmarkError("--engine: the 'matrix' set solves nothing and does not take it")
    out = _JsonOut(Path(args.json), args, None) if args.json else None
    visits = args.visits or DEFAULT_VISITS["matrix"]
    _progress(f"matrix: generating a day of {visits} visits (seed {args.seed})...")
    result = run_matrix(visits, args.seed, args.geopy_pairs or DEFAULT_GEOPY_PAIRS)
    print(matrix_table(result))
    if out:
        out.save([result], None)
    return 0 if result.agrees else 1


def _saved(out: _JsonOut | None, done: list[Any], result: Any, summary: Any) -> None:
    done.append(result)
    if out is not None:
        out.save(done, summary() if summary else None)


class _JsonOut:
    """Rewrites the JSON file after every result so partial runs are kept."""

    def __init__(self, path: Path, args: argparse.Namespace, limit: float | None) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()
        except OSError as exc:
            raise BenchmarkError(f"--json: cannot write {path}: {exc}") from None
        self.path = path
        self.meta = {
            "set": args.set,
            "time_limit_s": limit,
            "seed": args.seed,
            "solution_limit": args.solution_limit,
            "workers": args.workers or 1,
            "engine": {"day": "portfolio+plain", "matrix": None}.get(args.set, args.engine),
            "visits": args.visits,
            "geopy_pairs": args.geopy_pairs,
            "instances": args.instances,
            "continuity_weights": list(args.continuity_weights),
            "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "cpu_count": os.cpu_count(),
            "load_avg_at_start": list(os.getloadavg()),
            "python": platform.python_version(),
            "machine": platform.machine(),
        }

    def save(self, results: Sequence[Any], summary: Any) -> None:
        doc = {
            **self.meta,
            "saved": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "results": [_plain(r) for r in results],
            "summary": _plain(summary) if summary is not None else None,
        }
        tmp = self.path.with_suffix(self.path.suffix + ".tmp")
        tmp.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
        tmp.replace(self.path)


def _plain(obj: Any) -> Any:
    """A dataclass as a dict, with its properties (gap, validity...) included."""
    if not dataclasses.is_dataclass(obj) or isinstance(obj, type):
        return obj
    out = dataclasses.asdict(obj)
    for name in dir(type(obj)):
        if isinstance(getattr(type(obj), name, None), property):
            out[name] = getattr(obj, name)
    return out
