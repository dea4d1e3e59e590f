"""Configuration read from the environment, with embedded defaults for a laptop."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _sqlite_default() -> str:
    instance = ROOT / "instance"
    instance.mkdir(exist_ok=True)
    return f"sqlite:///{instance / 'careroute.db'}"


def normalise_database_url(url: str) -> str:
    """Accept the common ``postgres://`` and ``postgresql://`` spellings for psycopg 3."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def solver_workers(environ: Mapping[str, str] = os.environ) -> int:
    """Processes per day plan (``SOLVER_WORKERS``), each solving with its own seed, the
    cheapest plan kept: by default two where the machine has two cores (a solve uses one).
    """
    raw = environ.get("SOLVER_WORKERS")
    if raw is None:
        return min(2, os.cpu_count() or 1)
    if not raw.strip().isdigit() or int(raw) < 1:
        raise ValueError(f"SOLVER_WORKERS must be a whole number of at least 1, not {raw!r}")
    return int(raw)


def from_environment(read: Callable[[], int]) -> int:
    """``read()``, or, for a bad environment variable, its error on stderr and exit status
    2: the server or command stops at once with a message naming the variable (read at
    import, a bad value would otherwise end in a traceback)."""
    try:
        return read()
    except ValueError as exc:
        print(f"CareRoute configuration: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


class Config:
    SECRET_KEY = os.environ.get("SECRET_KEY", "dev-only-change-me")
    SQLALCHEMY_DATABASE_URI = normalise_database_url(
        os.environ.get("DATABASE_URL") or _sqlite_default()
    )
    REDIS_URL = os.environ.get("REDIS_URL")  # Socket.IO message queue when set
    BABEL_DEFAULT_LOCALE = "zh_Hans_CN"
    BABEL_DEFAULT_TIMEZONE = "Asia/Shanghai"
    LANGUAGES = ("zh_Hans_CN", "en")
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_LIFETIME_HOURS = 12
    API_PAGE_SIZE = 50
    API_MAX_PAGE_SIZE = 200
    DISPATCH_SOLVER_WORKERS = from_environment(solver_workers)
    TESTING = False


class TestConfig(Config):
    TESTING = True
    SECRET_KEY = "test"
    SQLALCHEMY_DATABASE_URI = normalise_database_url(
        os.environ.get("TEST_DATABASE_URL") or "sqlite://"
    )
    # Argon2 at production cost makes a suite of logins slow; the algorithm stays the same.
    ARGON2_TIME_COST = 1
    ARGON2_MEMORY_COST = 1024
    REDIS_URL = None
    DISPATCH_SOLVER_WORKERS = 1  # the dispatch tests' plans are counted, one process each
