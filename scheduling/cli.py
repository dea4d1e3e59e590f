"""``python -m scheduling``: solve, check and generate care days from a shell.

Commands::

    python -m scheduling solve DAY.json -o PLAN.json --time-limit 30 [--seed N] [--solutions N]
    python -m scheduling check DAY.json PLAN.json
    python -m scheduling generate --visits 400 --seed 0 -o DAY.json
    python -m scheduling bench ...            (see python -m scheduling bench --help)

Results go to stdout, progress and diagnostics to stderr. Exit status: 0 when
the plan is valid, 1 when the checker finds a violation, 2 for unusable input
(a missing file, invalid JSON, a field that breaks the format: one line naming
the file and the field's JSON path, never a traceback).
"""

from __future__ import annotations

import argparse
import datetime as dt
import signal
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, TypeVar

from .check import CheckReport, check
from .generate import generate_day_with_witness
from .io import FormatError, read_plan, read_problem, write_plan, write_problem

if TYPE_CHECKING:
    from .solve import Progress

__all__ = ["build_parser", "main"]

PROGRESS_EVERY_S = 0.5
"""Least time between two progress lines (the first and last are always shown)."""

SHOWN_VIOLATIONS = 50
"""Violations printed before the rest are summarised (``check --all`` prints all)."""

T = TypeVar("T")


class _InputError(Exception):
    """Unusable input: reported on one line, exit status 2."""


def _load(read: Callable[[Path], T], path: Path) -> T:
    try:
        return read(path)
    except FormatError as exc:
        raise _InputError(f"{path}: {exc}") from None
    except OSError as exc:
        raise _InputError(f"{path}: {exc.strerror or exc}") from None


def _save(write: Callable[[Path], None], path: Path) -> None:
    try:
        write(path)
    except OSError as exc:
        raise _InputError(f"cannot write {path}: {exc.strerror or exc}") from None


def _int_at_least(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    return parse


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def _iso_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date YYYY-MM-DD: {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m scheduling``."""
    p = argparse.ArgumentParser(
        prog="python -m scheduling",
        description="Plan a care day (careroute.day/1 -> careroute.plan/1), check a plan, "
        "generate a realistic day, or run the benchmarks.",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    s = sub.add_parser("solve", help="solve a day and check the plan")
    s.add_argument("day", type=Path, metavar="DAY.json")
    s.add_argument("-o", "--output", type=Path, required=True, metavar="PLAN.json")
    s.add_argument("--time-limit", type=_positive_float, default=30.0, metavar="S")
    s.add_argument("--seed", type=_int_at_least(0), default=0, metavar="N")
    s.add_argument(
        "--solutions",
        type=_int_at_least(1),
        metavar="N",
        help="stop after N solutions: the same plan on every run",
    )
    s.add_argument("--engine", choices=("portfolio", "plain"), default="portfolio")
    s.add_argument(
        "--workers",
        type=_int_at_least(1),
        default=1,
        metavar="N",
        help="processes solving at once, seeds S, S+1, ...; the cheapest plan wins "
        "(portfolio only; progress shows the best of them all)",
    )
    s.add_argument("--quiet", action="store_true", help="no progress lines")

    c = sub.add_parser("check", help="check a plan against its day")
    c.add_argument("day", type=Path, metavar="DAY.json")
    c.add_argument("plan", type=Path, metavar="PLAN.json")
    c.add_argument("--all", action="store_true", help=f"print more than {SHOWN_VIOLATIONS}")

    g = sub.add_parser("generate", help="generate a realistic Nantong day")
    g.add_argument("--visits", type=_int_at_least(0), default=400, metavar="N")
    g.add_argument("--seed", type=_int_at_least(0), default=0, metavar="S")
    g.add_argument("--caregivers", type=_int_at_least(0), metavar="N", help="incl. volunteers")
    g.add_argument("--volunteers", type=_int_at_least(0), metavar="N")
    g.add_argument("--date", type=_iso_date, default=dt.date(2026, 11, 26), metavar="YYYY-MM-DD")
    g.add_argument("-o", "--output", type=Path, required=True, metavar="DAY.json")
    g.add_argument(
        "--witness",
        type=Path,
        metavar="PLAN.json",
        help="also write the plan the day was planted from (a valid plan holding it)",
    )

    sub.add_parser("bench", help="run benchmark sets (python -m scheduling bench --help)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit status.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name; ``sys.argv[1:]`` by default.
    """
    args_list = list(sys.argv[1:] if argv is None else argv)
    try:
        if args_list[:1] == ["bench"]:
            return _bench(args_list[1:])
        try:
            args = build_parser().parse_args(args_list)
        except SystemExit as exc:  # argparse has printed its message
            return exc.code if isinstance(exc.code, int) else 2
        command: Callable[[argparse.Namespace], int] = _COMMANDS[args.command]
        return command(args)
    except _InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _bench(argv: list[str]) -> int:
    try:
        from .benchmarks.cli import main as bench_main
    except ImportError as exc:
        raise _InputError(f"the benchmark runner is not available: {exc}") from None
    return bench_main(argv)


# ---------------------------------------------------------------------------
# solve


class _Progress:
    """Prints the solver's progress on stderr, at most every ``PROGRESS_EVERY_S``."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.last_line = -1.0
        self.pending: Progress | None = None

    def __call__(self, p: Progress) -> None:
        if p.phase is not None:
            self.flush()
            if not self.quiet:
                print(f"[{p.elapsed_s:7.1f} s] {p.phase}", file=sys.stderr, flush=True)
            return
        self.pending = p
        now = time.monotonic()
        if now - self.last_line >= PROGRESS_EVERY_S:
            self.flush()
            self.last_line = now

    def flush(self) -> None:
        p, self.pending = self.pending, None
        if p is not None and p.cost is not None and not self.quiet:
            print(
                f"[{p.elapsed_s:7.1f} s] cost {p.cost:>12,.2f}  assigned {p.assigned}/{p.visits}",
                file=sys.stderr,
                flush=True,
            )


@contextmanager
def _interruptible() -> Iterator[Callable[[], bool]]:
    """Turn Ctrl-C into a polite stop request: the solver returns its best plan so far."""
    stop = False

    def on_sigint(signum: int, frame: FrameType | None) -> None:
        nonlocal stop
        if stop:  # a second Ctrl-C means now
            raise KeyboardInterrupt
        stop = True
        print("stopping: finishing with the best plan so far", file=sys.stderr, flush=True)

    try:
        previous = signal.signal(signal.SIGINT, on_sigint)
    except ValueError:  # not the main thread: leave Ctrl-C alone
        yield lambda: False
        return
    try:
        yield lambda: stop
    finally:
        signal.signal(signal.SIGINT, previous)


def _solve(args: argparse.Namespace) -> int:
    problem = _load(read_problem, args.day)
    try:
        from .solve import SolveParams, solve
    except ImportError as exc:
        raise _InputError(f"the solver is not available: {exc}") from None
    params = SolveParams(
        time_limit_s=args.time_limit,
        seed=args.seed,
        solution_limit=args.solutions,
        engine=args.engine,
        workers=args.workers,
    )
    progress = _Progress(args.quiet)
    with _interruptible() as should_stop:
        plan = solve(problem, params, on_progress=progress, should_stop=should_stop)
    progress.flush()
    _save(lambda path: write_plan(plan, path), args.output)
    report = check(problem, plan)
    print(f"{args.output}: {_summary(report)} (solver {plan.solver.wall_s:.1f} s)")
    if not report.ok:
        _print_violations(report, sys.stderr, limit=SHOWN_VIOLATIONS)
        return 1
    return 0


# ---------------------------------------------------------------------------
# check


def _summary(report: CheckReport) -> str:
    k = report.kpis
    verdict = "valid" if report.ok else f"INVALID ({len(report.violations)} violations)"
    return (
        f"{k.assigned}/{k.visits} visits assigned, travel {k.travel_s} s "
        f"({k.travel_s / 3600:.1f} h), continuity {k.continuity_rate:.3f}, "
        f"cost {report.cost:.2f}: {verdict}"
    )


def _print_violations(report: CheckReport, out: Any, limit: int | None) -> None:
    shown = report.violations if limit is None else report.violations[:limit]
    for v in shown:
        print(f"{v.code:<11} {v.message}", file=out)
    hidden = len(report.violations) - len(shown)
    if hidden:
        print(f"... and {hidden} more (use check --all)", file=out)
    counts: dict[str, int] = {}
    for v in report.violations:
        counts[v.code] = counts.get(v.code, 0) + 1
    print(
        "violations by rule: " + ", ".join(f"{code} {n}" for code, n in sorted(counts.items())),
        file=out,
    )


def _check(args: argparse.Namespace) -> int:
    problem = _load(read_problem, args.day)
    plan = _load(read_plan, args.plan)
    report = check(problem, plan)
    if not report.ok:
        _print_violations(report, sys.stdout, limit=None if args.all else SHOWN_VIOLATIONS)
    print(_summary(report))
    return 0 if report.ok else 1


# ---------------------------------------------------------------------------
# generate


def _generate(args: argparse.Namespace) -> int:
    try:
        generated = generate_day_with_witness(
            args.visits,
            args.seed,
            date=args.date,
            n_caregivers=args.caregivers,
            n_volunteers=args.volunteers,
        )
    except ValueError as exc:
        raise _InputError(str(exc)) from None
    problem = generated.problem
    _save(lambda path: write_problem(problem, path), args.output)
    if args.witness is not None:
        _save(lambda path: write_plan(generated.witness, path), args.witness)
    volunteers = sum(c.volunteer for c in problem.caregivers)
    print(
        f"{args.output}: {len(problem.visits)} visits, {len(problem.caregivers)} caregivers "
        f"({volunteers} volunteers), {problem.date.isoformat()}, seed {args.seed}"
    )
    return 0


_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "solve": _solve,
    "check": _check,
    "generate": _generate,
}
