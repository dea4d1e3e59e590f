"""Where the benchmark data folder is, and which sets it holds.

By default it is ``shared/benchmarks`` beside the project root (the folder that
holds ``scheduling/``); ``$CAREROUTE_BENCHMARKS_DIR`` or ``--data-dir`` override it.
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import BenchmarkError

ENV_DATA_DIR = "CAREROUTE_BENCHMARKS_DIR"

VRPTW_SETS = {
    "solomon": "solomon",
    "homberger200": "homberger200",
    "homberger1000": "homberger1000",
}
"""Benchmark set name -> folder inside the data directory."""

HHC_FOLDER = "hhc/mankowska2014"
"""The Mankowska et al. (2014) folder inside the data directory."""


def default_data_dir() -> Path:
    """``shared/benchmarks`` beside the project root."""
    return Path(__file__).resolve().parents[2].parent / "shared" / "benchmarks"


def data_dir(option: str | None = None) -> Path:
    """The data directory: ``option``, else ``$CAREROUTE_BENCHMARKS_DIR``, else the default.

    Raises
    ------
    BenchmarkError
        If the directory does not exist (the message names where the path came from).
    """
    raw = option or os.environ.get(ENV_DATA_DIR)
    path = Path(raw) if raw else default_data_dir()
    if not path.is_dir():
        source = "--data-dir" if option else (ENV_DATA_DIR if raw else "default data directory")
        raise BenchmarkError(f"{source}: {path} is not a directory")
    return path
