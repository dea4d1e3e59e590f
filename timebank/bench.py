"""Write-throughput benchmark: concurrent writers, one transaction per request.

``python -m timebank bench --writers 16 --transfers N [--url URL]`` opens ``--accounts``
member accounts, funds them, then lets ``--writers`` threads, each on its own connection,
write ``N`` transfers between random members (``--mode spread``) or from the issuance
account to random members (``--mode hot``: every writer locks the same account, like
service credits), one committed transaction per request of ``--batch`` transfers (1 by
default), sent with :func:`timebank.submit_transfers`. It prints postings per second (a
posting is one committed transfer, i.e. two entries) and latency percentiles, then
verifies the whole ledger. ``--in-transaction`` writes each request with
:func:`timebank.create_transfers` inside ``BEGIN`` ... ``COMMIT`` instead, as the app
credits a visit inside its verification's transaction. ``--serial-chain`` adds a
PostgreSQL advisory lock held from the end of each write to its commit, to measure what
one global hash-chain head would cost. ``--python-path`` keeps every write in Python on
PostgreSQL too (no server function), to compare the two write paths. Without ``--url`` it
runs on a fresh SQLite file in a temporary directory.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import os
import random
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from timebank.engine import configure_sqlite
from timebank.ledger import create_transfers, open_account, submit_transfers
from timebank.model import AccountKind, TransferCode, TransferSpec
from timebank.policy import ensure_system_accounts
from timebank.schema import create_schema, drop_schema
from timebank.verify import verify

__all__ = ["BenchResult", "add_arguments", "run_bench", "main"]

_FUNDING_MIN = 10_000_000
_GLOBAL_CHAIN_LOCK = 7_355_608


@dataclass(frozen=True)
class BenchResult:
    """Figures of one run; ``postings_per_s`` counts committed transfers."""

    dialect: str
    writers: int
    transfers: int
    failed: int
    elapsed_s: float
    postings_per_s: float
    p50_ms: float
    p99_ms: float
    verify_ok: bool | None
    verify_s: float
    client_cpu_ms: float
    server_cpu_ms: float | None


@dataclass(frozen=True)
class _WritePath:
    """How each writer sends its requests."""

    serial_chain: bool
    on_server: bool
    in_transaction: bool


@dataclass(frozen=True)
class _WriterStats:
    """One writer's request latencies, refusals and CPU seconds (its thread, its backend)."""

    latencies: tuple[float, ...]
    refused: int
    client_cpu_s: float
    server_cpu_s: float | None


class _UsageError(Exception):
    """A bad option value; reported on stderr with exit code 2."""


def _engine(url: str, writers: int) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError as error:
        raise _UsageError(f"--url: cannot parse {url!r}") from error
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise _UsageError(f"--url: sqlite or postgresql only, not {backend!r}")
    engine = create_engine(parsed, pool_size=writers + 2, max_overflow=0)
    if backend == "sqlite":
        configure_sqlite(engine, busy_timeout_ms=60_000)
    return engine


def _prepare(engine: Engine, accounts: int, reset: bool) -> tuple[int, list[int]]:
    """Create the schema if needed, open and fund the members; return issuance and members."""
    with engine.begin() as connection:
        if reset:
            drop_schema(connection)
        if reset or not inspect(connection).has_table("tb_transfers"):
            create_schema(connection)
    with engine.begin() as connection:
        issuance = ensure_system_accounts(connection).issuance.id
        members = [
            open_account(connection, AccountKind.MEMBER, f"bench:{i}").id for i in range(accounts)
        ]
    run = uuid.uuid4().hex[:8]
    for start in range(0, accounts, 500):
        with engine.begin() as connection:
            specs = [
                TransferSpec(
                    f"bench-fund:{run}:{m}", _FUNDING_MIN, issuance, m, TransferCode.PLEDGE
                )
                for m in members[start : start + 500]
            ]
            create_transfers(connection, specs)
    if engine.dialect.name == "postgresql":
        # A live ledger has planner statistics (autovacuum gathers them within a minute);
        # tables just recreated by --reset have none until then, which costs the writes
        # about a fifth more server time.
        with engine.begin() as connection:
            connection.exec_driver_sql("ANALYZE tb_accounts, tb_transfers, tb_entries")
    return issuance, members


def _plan(
    writers: int,
    transfers: int,
    issuance: int,
    members: Sequence[int],
    hot: bool,
    seed: int,
    batch: int = 1,
) -> list[list[list[TransferSpec]]]:
    """Each writer's requests: ``batch`` independent transfers per request."""
    run = uuid.uuid4().hex[:8]
    plans: list[list[list[TransferSpec]]] = []
    for w in range(writers):
        rng = random.Random(seed * 1000 + w)
        count = transfers // writers + (1 if w < transfers % writers else 0)
        specs = []
        for k in range(count):
            if hot:
                debit, credit = issuance, rng.choice(members)
            else:
                debit, credit = rng.sample(members, 2)
            code = TransferCode.SERVICE_CREDIT if hot else TransferCode.GIFT
            amount = rng.randint(1, 120)
            specs.append(TransferSpec(f"bench:{run}:{w}:{k}", amount, debit, credit, code))
        plans.append([specs[i : i + batch] for i in range(0, len(specs), batch)])
    return plans


def _backend_cpu_s(connection: Connection) -> tuple[int, float] | None:
    """The local PostgreSQL backend's pid and CPU seconds so far, or None if not visible."""
    if connection.dialect.name != "postgresql":
        return None
    if connection.engine.url.host not in (None, "", "localhost", "127.0.0.1", "::1"):
        return None
    pid = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
    connection.commit()
    return pid, _proc_cpu_s(pid)


def _proc_cpu_s(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _writer(
    engine: Engine, requests: list[list[TransferSpec]], path: _WritePath, start: Any
) -> _WriterStats:
    """Write each request in its own transaction, after ``start``."""
    latencies: list[float] = []
    refused = 0
    with engine.connect() as connection:
        backend = _backend_cpu_s(connection)
        start.wait()
        cpu = time.thread_time()
        for request in requests:
            began = time.perf_counter()
            refused += _write_request(connection, request, path)
            latencies.append(time.perf_counter() - began)
        client = time.thread_time() - cpu
    server = None if backend is None else _proc_cpu_s(backend[0]) - backend[1]
    return _WriterStats(tuple(latencies), refused, client, server)


def _process_writer(
    url: str, requests: list[list[TransferSpec]], path: _WritePath, start: Any, out: Any
) -> None:
    engine = _engine(url, 1)
    try:
        out.put(_writer(engine, requests, path, start))
    finally:
        engine.dispose()


def _run_threads(
    engine: Engine, plans: list[list[list[TransferSpec]]], path: _WritePath
) -> tuple[float, list[_WriterStats]]:
    start = threading.Barrier(len(plans) + 1)
    results: list[_WriterStats] = []
    threads = [
        threading.Thread(target=lambda p=plan: results.append(_writer(engine, p, path, start)))
        for plan in plans
    ]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    return time.perf_counter() - began, results


def _run_processes(
    url: str, plans: list[list[list[TransferSpec]]], path: _WritePath
) -> tuple[float, list[_WriterStats]]:
    context = multiprocessing.get_context("fork")
    start, out = context.Barrier(len(plans) + 1), context.Queue()
    processes = [
        context.Process(target=_process_writer, args=(url, plan, path, start, out))
        for plan in plans
    ]
    for process in processes:
        process.start()
    start.wait()
    began = time.perf_counter()
    results = [out.get() for _ in processes]
    elapsed = time.perf_counter() - began
    for process in processes:
        process.join()
    return elapsed, results


def _write_request(connection: Connection, request: list[TransferSpec], path: _WritePath) -> int:
    if not path.in_transaction:
        results = submit_transfers(connection, request, on_server=path.on_server)
        return sum(not r.ok for r in results)
    with connection.begin():
        results = create_transfers(connection, request, on_server=path.on_server)
        if path.serial_chain and connection.dialect.name == "postgresql":
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_GLOBAL_CHAIN_LOCK})")
    return sum(not r.ok for r in results)


def run_bench(
    url: str,
    *,
    writers: int,
    transfers: int,
    accounts: int = 1000,
    hot: bool = False,
    serial_chain: bool = False,
    processes: bool = False,
    batch: int = 1,
    reset: bool = False,
    check: bool = True,
    seed: int = 0,
    on_server: bool = True,
    in_transaction: bool = False,
) -> BenchResult:
    """Run the benchmark on ``url`` and return its figures.

    Parameters
    ----------
    url
        SQLAlchemy URL of a SQLite or PostgreSQL database.
    writers
        Concurrent writer threads, each with its own connection.
    transfers
        Transfers written in total, one per transaction.
    accounts
        Member accounts the transfers move between.
    hot
        Credit members from the one issuance account instead of member-to-member.
    serial_chain
        Simulate a single global chain head (PostgreSQL advisory lock until commit).
    processes
        Run each writer in its own process rather than a thread (no shared GIL).
    batch
        Independent transfers per request (transaction); 1 is the app's pattern.
    reset
        Drop and recreate the ledger's tables first.
    check
        Run :func:`timebank.verify.verify` afterwards.
    seed
        Seed of the transfers' random choices.
    on_server
        Let PostgreSQL write lone transfers with its server function (the default, as the
        app does); False keeps the whole write path in Python.
    in_transaction
        Write each request with :func:`create_transfers` inside ``BEGIN`` ... ``COMMIT``,
        as the app credits a visit inside its verification's transaction, rather than
        with :func:`submit_transfers` (a request of its own). ``serial_chain`` implies it.
    """
    engine = _engine(url, writers)
    path = _WritePath(serial_chain, on_server, in_transaction or serial_chain)
    try:
        issuance, members = _prepare(engine, accounts, reset)
        plans = _plan(writers, transfers, issuance, members, hot, seed, batch)
        if processes:
            engine.dispose()  # the children open their own connections
            elapsed, results = _run_processes(url, plans, path)
        else:
            elapsed, results = _run_threads(engine, plans, path)
        refused = sum(r.refused for r in results)
        server = [r.server_cpu_s for r in results]
        flat = sorted(x for r in results for x in r.latencies)
        verify_ok: bool | None = None
        verify_s = 0.0
        if check:
            checked = time.perf_counter()
            with engine.connect() as connection:
                verify_ok = verify(connection).ok
            verify_s = time.perf_counter() - checked
        return BenchResult(
            dialect=engine.dialect.name,
            writers=writers,
            transfers=transfers,
            failed=refused,
            elapsed_s=elapsed,
            postings_per_s=transfers / elapsed if elapsed else 0.0,
            p50_ms=1000 * statistics.median(flat) if flat else 0.0,
            p99_ms=1000 * flat[int(0.99 * (len(flat) - 1))] if flat else 0.0,
            verify_ok=verify_ok,
            verify_s=verify_s,
            client_cpu_ms=1000 * sum(r.client_cpu_s for r in results) / transfers,
            server_cpu_ms=(
                None
                if any(x is None or math.isnan(x) for x in server)
                else 1000 * sum(x for x in server if x is not None) / transfers
            ),
        )
    finally:
        engine.dispose()


def _positive(name: str, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be an integer, not {text!r}") from None
        if not 1 <= value <= high:
            raise argparse.ArgumentTypeError(f"{name} must be in 1..{high}, not {value}")
        return value

    return parse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the ``bench`` options on ``parser``."""
    parser.add_argument("--writers", type=_positive("--writers", 256), default=16)
    parser.add_argument("--transfers", type=_positive("--transfers", 10_000_000), default=10_000)
    parser.add_argument("--accounts", type=_positive("--accounts", 1_000_000), default=1000)
    parser.add_argument("--url", help="SQLAlchemy URL (default: a fresh SQLite file)")
    parser.add_argument("--mode", choices=["spread", "hot"], default="spread")
    parser.add_argument("--serial-chain", action="store_true")
    parser.add_argument("--processes", action="store_true", help="one process per writer")
    parser.add_argument(
        "--batch", type=_positive("--batch", 1000), default=1, help="transfers per transaction"
    )
    parser.add_argument("--reset", action="store_true", help="drop and recreate the tables")
    parser.add_argument(
        "--python-path",
        action="store_true",
        help="write in Python on PostgreSQL too (no server function), to compare",
    )
    parser.add_argument(
        "--in-transaction",
        action="store_true",
        help="each request inside BEGIN ... COMMIT, as the app credits a verified visit",
    )
    parser.add_argument("--no-verify", action="store_true")
    parser.add_argument("--seed", type=int, default=0)


def report(
    result: BenchResult,
    mode: str,
    serial_chain: bool,
    batch: int = 1,
    python_path: bool = False,
    in_transaction: bool = False,
) -> str:
    """Return the benchmark's printed report."""
    chain = ", global chain lock" if serial_chain else ""
    chain += ", inside BEGIN ... COMMIT" if in_transaction or serial_chain else ""
    chain += f", {batch} per transaction" if batch > 1 else ""
    chain += ", Python write path" if python_path else ""
    lines = [
        f"timebank bench: {result.dialect}, {result.writers} writers, "
        f"{result.transfers} transfers ({mode}{chain})",
        f"  {result.postings_per_s:.0f} postings/s ({2 * result.postings_per_s:.0f} entries/s)"
        f" in {result.elapsed_s:.2f} s; commit latency p50 {result.p50_ms:.1f} ms,"
        f" p99 {result.p99_ms:.1f} ms; refused {result.failed}",
    ]
    server = "n/a" if result.server_cpu_ms is None else f"{result.server_cpu_ms:.2f} ms"
    lines.append(
        f"  CPU per posting: client {result.client_cpu_ms:.2f} ms (writer threads),"
        f" server {server} (backends; local PostgreSQL only)"
    )
    if result.verify_ok is not None:
        verdict = "OK" if result.verify_ok else "PROBLEMS"
        lines.append(f"  verify: {verdict} in {result.verify_s:.2f} s")
    return "\n".join(lines)


def main(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Run ``bench`` from parsed arguments; return the exit code."""
    if args.accounts < 2:
        parser.error("--accounts must be at least 2")
    with tempfile.TemporaryDirectory(prefix="timebank-bench-") as tmp:
        url = args.url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        try:
            result = run_bench(
                url,
                writers=args.writers,
                transfers=args.transfers,
                accounts=args.accounts,
                hot=args.mode == "hot",
                serial_chain=args.serial_chain,
                processes=args.processes,
                batch=args.batch,
                reset=args.reset,
                check=not args.no_verify,
                seed=args.seed,
                on_server=not args.python_path,
                in_transaction=args.in_transaction,
            )
        except _UsageError as error:
            parser.error(str(error))
    print(
        report(
            result,
            args.mode,
            args.serial_chain,
            args.batch,
            args.python_path,
            args.in_transaction,
        )
    )
    return 0 if result.verify_ok is not False and not result.failed else 1
