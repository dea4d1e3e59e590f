"""Engine settings the ledger relies on when it runs on SQLite.

SQLite has no ``SELECT ... FOR UPDATE``: it serialises writers with one database lock. A
transaction that starts by reading (pysqlite's default, deferred ``BEGIN``) and then
writes can fail with "database is locked" when another writer got there first, instead
of waiting. :func:`configure_sqlite` makes every transaction start with
``BEGIN IMMEDIATE`` (take the write lock up front, waiting up to the busy timeout), so
ledger writes queue up instead of failing. The ledger's invariants do not depend on it:
the compare-and-set on the account version and the ``CHECK`` constraints hold regardless.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, event

__all__ = ["configure_sqlite"]


def configure_sqlite(
    engine: Engine, *, busy_timeout_ms: int = 10_000, wal: bool = True, foreign_keys: bool = True
) -> None:
    """Make ``engine`` start each transaction with ``BEGIN IMMEDIATE`` (SQLite only).

    Parameters
    ----------
    engine
        A SQLite engine, before its first connection.
    busy_timeout_ms
        How long a writer waits for the database lock before failing.
    wal
        Use write-ahead logging (file databases): readers do not block the writer.
    foreign_keys
        Enforce foreign keys (SQLite leaves them off by default).

    Raises
    ------
    ValueError
        If ``engine`` is not SQLite.
    """
    if engine.dialect.name != "sqlite":
        raise ValueError(f"configure_sqlite needs a sqlite engine, not {engine.dialect.name}")

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Stop pysqlite from issuing its own deferred BEGIN; the "begin" hook below does.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        if foreign_keys:
            cursor.execute("PRAGMA foreign_keys = ON")
        if wal:
            cursor.execute("PRAGMA journal_mode = WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
