"""Best-known results of the benchmark sets, read from the CSV tables of the data folder.

The tables are described in the data folder's README: ``bks.csv`` of Solomon and
Gehring & Homberger (hierarchical: vehicles, then distance) and
``summary_best_known.csv`` of Mankowska et al. (best published objective, best
lower bound, and the instance file).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .errors import BenchmarkFileError


@dataclass(frozen=True)
class VrptwBks:
    """Best known hierarchical result: fewest vehicles, then shortest distance with them."""

    instance: str
    vehicles: int
    distance: float


@dataclass(frozen=True)
class HhcBest:
    """Best published objective (``best_ub``) and best lower bound of an HHCRSP instance."""

    instance: str
    file: str
    patients: int
    caregivers: int
    best_ub: float
    best_ub_method: str
    best_lb: float


def _rows(path: Path, required: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            header = reader.fieldnames or []
            missing = [c for c in required if c not in header]
            if missing:
                raise BenchmarkFileError(path, 1, missing[0], "column missing from the header")
            return [(reader.line_num, row) for row in reader]
    except OSError as exc:
        raise BenchmarkFileError(path, None, "file", f"cannot read: {exc}") from None


def _number(path: Path, line: int, row: Mapping[str, str], column: str) -> float:
    token = (row.get(column) or "").strip()
    try:
        value = float(token)
    except ValueError:
        raise BenchmarkFileError(path, line, column, f"not a number: {token!r}") from None
    if not math.isfinite(value) or value < 0:
        raise BenchmarkFileError(path, line, column, f"must be finite and >= 0: {token!r}")
    return value


def _integer(path: Path, line: int, row: Mapping[str, str], column: str) -> int:
    token = (row.get(column) or "").strip()
    try:
        return int(token)
    except ValueError:
        raise BenchmarkFileError(path, line, column, f"not an integer: {token!r}") from None


def read_vrptw_bks(path: str | Path) -> dict[str, VrptwBks]:
    """Read a ``bks.csv`` table (columns ``instance``, ``vehicles``, ``distance``).

    Raises
    ------
    BenchmarkFileError
        If a column is missing or a value is not a number (names line and column).
    """
    p = Path(path)
    out: dict[str, VrptwBks] = {}
    for line, row in _rows(p, ("instance", "vehicles", "distance")):
        name = row["instance"].strip().upper()
        if not name:
            raise BenchmarkFileError(p, line, "instance", "empty")
        vehicles = _integer(p, line, row, "vehicles")
        out[name] = VrptwBks(name, vehicles, _number(p, line, row, "distance"))
    return out


def read_hhc_best(path: str | Path) -> dict[str, HhcBest]:
    """Read Mankowska's ``summary_best_known.csv`` (instance name -> best results).

    Raises
    ------
    BenchmarkFileError
        If a column is missing or a value is not a number (names line and column).
    """
    p = Path(path)
    cols = ("instance", "file", "patients", "caregivers", "best_ub", "best_ub_method", "best_lb")
    out: dict[str, HhcBest] = {}
    for line, row in _rows(p, cols):
        name = row["instance"].strip().upper()
        if not name or not row["file"].strip():
            raise BenchmarkFileError(p, line, "instance", "empty instance or file name")
        out[name] = HhcBest(
            instance=name,
            file=row["file"].strip(),
            patients=_integer(p, line, row, "patients"),
            caregivers=_integer(p, line, row, "caregivers"),
            best_ub=_number(p, line, row, "best_ub"),
            best_ub_method=row["best_ub_method"].strip(),
            best_lb=_number(p, line, row, "best_lb"),
        )
    return out
