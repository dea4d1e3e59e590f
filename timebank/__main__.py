"""Command line: ``python -m timebank bench ...`` and ``python -m timebank verify --url URL``.

Bad options exit with code 2 and a message naming the option; ``verify`` exits 1 when the
ledger has problems.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from timebank import bench
from timebank.verify import verify


def _verify(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    try:
        url = make_url(args.url)
    except ArgumentError:
        parser.error(f"--url: cannot parse {args.url!r}")
    if url.get_backend_name() not in ("sqlite", "postgresql"):
        parser.error(f"--url: sqlite or postgresql only, not {url.get_backend_name()!r}")
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            report = verify(connection)
    finally:
        engine.dispose()
    print(report.summary())
    return 0 if report.ok else 1


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen command; return its exit code."""
    parser = argparse.ArgumentParser(prog="python -m timebank", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    bench_parser = commands.add_parser("bench", help="measure write throughput")
    bench.add_arguments(bench_parser)
    verify_parser = commands.add_parser("verify", help="recompute hashes and balances")
    verify_parser.add_argument("--url", required=True, help="SQLAlchemy URL of the ledger")
    args = parser.parse_args(argv)
    if args.command == "bench":
        return bench.main(args, bench_parser)
    return _verify(args, verify_parser)


if __name__ == "__main__":
    sys.exit(main())
