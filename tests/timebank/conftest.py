"""Engines for the ledger tests; none of them use the Flask app.

- ``engine`` / ``session``: SQLite in memory, a fresh schema per test (fast).
- ``file_engine``: a SQLite file with WAL, ``BEGIN IMMEDIATE`` and a busy timeout, for
  tests with several connections and threads.
- ``pg_engine``: PostgreSQL from ``TEST_DATABASE_URL``, in a private ``tb_test`` schema
  (so the app's tables in the same database are never touched); skipped without it.
- ``concurrent_engine``: ``file_engine`` and ``pg_engine`` in turn.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

from timebank import (
    AccountKind,
    Executor,
    configure_sqlite,
    ensure_system_accounts,
    open_account,
)
from timebank.schema import create_schema, drop_schema

T0 = dt.datetime(2026, 1, 5, 8, 0, tzinfo=dt.UTC)
PG_SCHEMA = "tb_test"


def memory_engine() -> Engine:
    engine = create_engine("sqlite://", poolclass=StaticPool)
    configure_sqlite(engine, wal=False)
    with engine.begin() as connection:
        create_schema(connection)
    return engine


@pytest.fixture
def engine() -> Iterator[Engine]:
    e = memory_engine()
    yield e
    e.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with Session(engine) as s:
        yield s


@pytest.fixture
def file_engine(tmp_path: Path) -> Iterator[Engine]:
    e = create_engine(f"sqlite:///{tmp_path / 'ledger.db'}", pool_size=20, max_overflow=0)
    configure_sqlite(e, busy_timeout_ms=30_000)
    with e.begin() as connection:
        create_schema(connection)
    yield e
    e.dispose()


def _pg_url() -> str:
    url = os.environ.get("TEST_DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql")):
        pytest.skip("PostgreSQL tests need TEST_DATABASE_URL=postgresql://...")
    # The suite shares one TEST_DATABASE_URL with the app tests, which accept the plain
    # scheme; psycopg 3 is the driver installed, so name it here as the app does.
    scheme, rest = url.split("://", 1)
    return f"postgresql+psycopg://{rest}" if "+" not in scheme else url


@pytest.fixture
def pg_engine() -> Iterator[Engine]:
    url = _pg_url()
    admin = create_engine(url)
    with admin.begin() as connection:
        connection.exec_driver_sql(f"CREATE SCHEMA IF NOT EXISTS {PG_SCHEMA}")
    admin.dispose()
    e = create_engine(
        url,
        pool_size=40,
        max_overflow=0,
        connect_args={"options": f"-c search_path={PG_SCHEMA}"},
    )
    with e.begin() as connection:
        drop_schema(connection)
        create_schema(connection)
    yield e
    with e.begin() as connection:
        drop_schema(connection)
    e.dispose()


@pytest.fixture(params=["sqlite-file", "postgresql"])
def concurrent_engine(request: pytest.FixtureRequest) -> Engine:
    name = "file_engine" if request.param == "sqlite-file" else "pg_engine"
    engine: Engine = request.getfixturevalue(name)
    return engine


def member(session: Executor, ref: str) -> int:
    """Open (idempotently) the member account ``ref`` and return its id."""
    return open_account(session, AccountKind.MEMBER, ref, now=T0).id


def setup_bank(engine: Engine) -> None:
    with engine.begin() as connection:
        ensure_system_accounts(connection, now=T0)
