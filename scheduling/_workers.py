"""The same day solved with different seeds in parallel processes; the cheapest plan wins.

A solve of the portfolio runs on one core: PyVRP, OR-Tools' search and ``_construct``'s
moves are all single-threaded. On a tight day, which visits a seed's search strands is
largely luck, so a second core is best spent on a second seed: worker ``w`` solves with
``seed + w``, the calling process itself being worker 0, and the plan the checker prices
lowest is returned, the lowest seed winning a tie. With a solution limit every worker is
deterministic, hence so is the choice. Progress is the whole solve's: the calling
process's phases, and each plan cheaper than every one reported before, whichever worker
found it (``_Progress``).

A worker is a fresh interpreter (``main``) that reads its job pickled on stdin and writes
its progress, then its plan, pickled on stdout. Not ``multiprocessing``: its
``fork`` would copy a threaded web process half-way through what its other threads were
doing, and its ``spawn`` re-imports the caller's main module, which breaks any script
without a ``__main__`` guard. Starting a worker costs about a second (importing OR-Tools
and PyVRP), so it solves for what is left of the caller's time limit when it is ready.
The clock is ``time.monotonic``, which all processes of a machine share. Cancelling the
solve ends the workers: the caller's own plan is the one returned then.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import pickle
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING

from .check import check
from .problem import DayPlan, DayProblem

if TYPE_CHECKING:
    from .solve import Progress, SolveParams
    from .travel import TravelTimes

log = logging.getLogger(__name__)

_SEND_S = 0.3
"""Seconds a worker keeps, before the caller's deadline, for its plan to reach the caller."""
_GRACE_S = 3.0
"""How long past the deadline the caller waits for a worker's plan (a search can overrun
its limit by a second or two) before it ends the worker and goes on without it."""

Solve = Callable[..., DayPlan]


@dataclasses.dataclass(frozen=True)
class _Job:
    """What a worker is sent."""

    problem: DayProblem
    params: SolveParams
    travel: TravelTimes | None
    deadline: float
    report: bool
    """Whether to send progress: the caller listens for it."""


class _Progress:
    """The progress of every worker reported as one solve's, on the calling thread (a
    caller's callback may use what only its own thread may, as the web app's database
    session): the calling process's own as it comes, the workers' when ``drain`` is
    called. Phases are the calling process's; a plan is reported when it is cheaper than
    every plan reported before."""

    def __init__(self, on_progress: Callable[[Progress], None]) -> None:
        self.on_progress = on_progress
        self.best: int | None = None
        self.heard: queue.SimpleQueue[Progress] = queue.SimpleQueue()

    def __call__(self, p: Progress) -> None:
        if p.objective is None:
            if self.best is None:
                self.on_progress(p)
        elif self.best is None or p.objective < self.best:
            self.best = p.objective
            self.on_progress(p)

    def drain(self) -> None:
        """Report what the workers have sent since the last call."""
        while not self.heard.empty():  # one reader: what is there stays there
            self(self.heard.get())


class _Worker:
    """A worker process and the thread that reads its progress and plan (a pipe must be
    drained as it is written, or a big plan would block the worker)."""

    def __init__(self, job: _Job, heard: queue.SimpleQueue[Progress]) -> None:
        package_root = str(Path(__file__).resolve().parent.parent)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([package_root, *sys.path])}
        self.seed = job.params.seed
        self.proc = subprocess.Popen(
            _command(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
        )
        self.plan: DayPlan | None = None
        self.heard = heard
        self.reader = threading.Thread(target=self._read, args=(job,), daemon=True)
        self.reader.start()

    def _read(self, job: _Job) -> None:
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        try:
            with self.proc.stdin:
                pickle.dump(job, self.proc.stdin)
            with self.proc.stdout:
                plan = self._listen(self.proc.stdout)
                self.proc.stdout.read()  # to its end: the worker is done when it closes it
        except (OSError, pickle.UnpicklingError, EOFError, ValueError):
            plan = None
        self.plan = plan if isinstance(plan, DayPlan) else None

    def _listen(self, stream: IO[bytes]) -> object:
        """Pass on the progress the worker sends; what it sends last (its plan)."""
        while True:
            kind, item = pickle.load(stream)
            if kind != "progress":
                return item
            self.heard.put(item)

    def result(self, until: float) -> DayPlan | None:
        """The worker's plan, or None if it sends none by ``until`` (then it is ended)."""
        self.reader.join(max(0.0, until - time.monotonic()))
        late = self.reader.is_alive()
        self.end()
        if late:
            log.warning("solve worker (seed %s) sent no plan in time: ended", self.seed)
        elif self.proc.returncode != 0:
            log.warning(
                "solve worker (seed %s) failed, exit code %s", self.seed, self.proc.returncode
            )
        return self.plan

    def end(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            self.proc.wait(timeout=2.0)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _command() -> list[str]:
    return [sys.executable, "-c", "from scheduling._workers import main; main()"]


def best_of(
    problem: DayProblem,
    params: SolveParams,
    solve: Solve,
    *,
    travel: TravelTimes | None,
    on_progress: Callable[[Progress], None] | None,
    should_stop: Callable[[], bool] | None,
) -> DayPlan:
    """``solve`` of ``problem`` in ``params.workers`` processes, this one included; the
    plan that ``check`` prices lowest, its solver name saying which seed found it."""
    t0 = time.monotonic()
    deadline = t0 + params.time_limit_s
    progress = _Progress(on_progress) if on_progress is not None else None
    heard = progress.heard if progress is not None else queue.SimpleQueue()
    workers = [
        _Worker(
            _Job(problem, _single(params, params.seed + w), travel, deadline, progress is not None),
            heard,
        )
        for w in range(1, params.workers)
    ]
    cancelled = False

    def stop() -> bool:
        # The solve polls this often, on the calling thread: the workers' progress is
        # reported from here.
        nonlocal cancelled
        if progress is not None:
            progress.drain()
        cancelled = cancelled or (should_stop is not None and should_stop())
        return cancelled

    try:
        mine = solve(
            problem,
            _single(params, params.seed, deadline - time.monotonic()),
            travel=travel,
            on_progress=progress,
            should_stop=stop,
        )
        if cancelled:
            return mine
        plans = [mine, *(w.result(deadline + _GRACE_S) for w in workers)]
        if progress is not None:
            progress.drain()
    finally:
        for w in workers:
            w.end()
    return _cheapest(problem, params, plans, time.monotonic() - t0)


def _single(params: SolveParams, seed: int, limit_s: float | None = None) -> SolveParams:
    """One worker's parameters: its seed, one process, and the time left if given."""
    limit = params.time_limit_s if limit_s is None else max(limit_s, 0.01)
    return dataclasses.replace(params, seed=seed, workers=1, time_limit_s=limit)


def _cheapest(
    problem: DayProblem, params: SolveParams, plans: list[DayPlan | None], wall_s: float
) -> DayPlan:
    """The valid plan of lowest cost (a lower worker first on a tie), its solver info
    naming the seed and the whole wall time. Worker 0's plan is never None."""
    priced = []
    for w, plan in enumerate(plans):
        if plan is not None:
            report = check(problem, plan)
            priced.append((not report.ok, report.cost, w, plan))
    *_, w, plan = min(priced, key=lambda p: p[:3])
    name = f"{plan.solver.name}, best of {params.workers} seeds: seed {params.seed + w}"
    solver = dataclasses.replace(
        plan.solver, name=name, time_limit_s=params.time_limit_s, wall_s=wall_s
    )
    return dataclasses.replace(plan, solver=solver)


def main() -> None:
    """A worker: solve the job read from stdin with the time left; write to stdout its
    progress if asked for (the time since the caller began), then its plan (or None,
    with no time left)."""
    # Whatever a library prints goes to stderr: stdout carries the pickled plan alone.
    stdout = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    from .solve import solve

    job: _Job = pickle.load(sys.stdin.buffer)
    limit = job.deadline - time.monotonic() - _SEND_S
    began = job.deadline - job.params.time_limit_s

    def send(p: Progress) -> None:
        if p.objective is not None:
            pickle.dump(
                ("progress", dataclasses.replace(p, elapsed_s=time.monotonic() - began)), stdout
            )
            stdout.flush()

    plan = None
    if limit > 0:
        run = dataclasses.replace(job.params, time_limit_s=limit)
        plan = solve(job.problem, run, travel=job.travel, on_progress=send if job.report else None)
    pickle.dump(("plan", plan), stdout)
    stdout.flush()
