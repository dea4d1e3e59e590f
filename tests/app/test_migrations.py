"""Migrations: one head; base -> head -> base -> head; and the models agree with them.

Runs against a database of its own (a temporary SQLite file, or a throwaway PostgreSQL
database next to ``TEST_DATABASE_URL``) so that it never touches the suite's schema.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config as AlembicConfig
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from app import create_app
from app.config import ROOT, TestConfig, normalise_database_url
from app.extensions import db
from timebank import metadata as timebank_metadata

MIGRATIONS = str(ROOT / "migrations")


def _script() -> ScriptDirectory:
    cfg = AlembicConfig(str(ROOT / "migrations" / "alembic.ini"))
    cfg.set_main_option("script_location", MIGRATIONS)
    return ScriptDirectory.from_config(cfg)


def test_single_head() -> None:
    heads = _script().get_heads()
    assert len(heads) == 1, f"several migration heads: {heads}"


def test_every_revision_has_a_downgrade() -> None:
    for rev in _script().walk_revisions():
        source = Path(rev.path).read_text(encoding="utf-8")
        body = source.split("def downgrade", 1)[1]
        assert "op." in body, f"{rev.revision} has an empty downgrade"


@pytest.fixture
def migration_app(tmp_path: Path) -> Iterator[Flask]:
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'm.db'}")
        with app.app_context():
            yield app
            db.engine.dispose()
        return
    base = make_url(normalise_database_url(url))
    name = f"careroute_migr_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=base.set(database=name))
        with app.app_context():
            yield app
            db.engine.dispose()
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


def _tables() -> set[str]:
    return set(inspect(db.engine).get_table_names()) - {"alembic_version"}


def _model_tables() -> set[str]:
    # The time bank's ledger tables live on timebank's own metadata, created by migration too.
    return set(db.metadata.tables) | set(timebank_metadata.tables)


def test_upgrade_downgrade_upgrade(migration_app: Flask) -> None:
    upgrade(directory=MIGRATIONS)
    assert _tables() == _model_tables()
    downgrade(directory=MIGRATIONS, revision="base")
    assert _tables() == set()
    upgrade(directory=MIGRATIONS)
    assert _tables() == _model_tables()


def test_models_match_migrations(migration_app: Flask) -> None:
    upgrade(directory=MIGRATIONS)
    with db.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(ctx, [db.metadata, timebank_metadata])  # type: ignore[arg-type]
    assert diff == [], f"models and migrations differ: {diff}"
