"""Fixtures shared by the whole suite.

One suite, two databases: ``TEST_DATABASE_URL`` picks PostgreSQL, SQLite in memory
otherwise. The schema is created once per session; after each test every table is
emptied, so tests stay independent without paying for a new schema each time.

The time bank's ledger tables (``tb_*``, on ``timebank.metadata``) are append-only: their
triggers refuse ``DELETE``. After a test that wrote to them, ``reset_ledger`` drops and
recreates that schema (tables and triggers); tests that never touched it pay one query.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask, g, has_app_context
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from app import create_app
from app.config import TestConfig
from app.extensions import db
from app.models import Agency, Assessment, InsuredPerson, Role, ServiceItem, User
from app.services.auth import hash_password, open_session
from timebank.schema import accounts as tb_accounts
from timebank.schema import create_schema as create_ledger
from timebank.schema import drop_schema as drop_ledger

PASSWORD = "correct horse battery"


class FreshGlobalsClient(FlaskClient):
    """A test client whose every request starts with an empty ``flask.g``.

    The ``app`` fixture keeps one application context pushed for the whole session, and
    Flask reuses an active application context for a test request, so ``g`` would carry
    Flask-Login's user and Flask-Babel's locale from one request to the next. In
    production every request gets a fresh context; this client restores that.
    """

    def open(self, *args: Any, **kwargs: Any) -> TestResponse:
        if has_app_context():
            vars(g._get_current_object()).clear()
        return super().open(*args, **kwargs)


@pytest.fixture(scope="session")
def app() -> Iterator[Flask]:
    application = create_app(TestConfig)
    application.test_client_class = FreshGlobalsClient
    with application.app_context():
        db.drop_all()
        with db.engine.begin() as conn:
            drop_ledger(conn)
        db.create_all()
        with db.engine.begin() as conn:
            create_ledger(conn)
        yield application
        db.session.remove()
        with db.engine.begin() as conn:
            drop_ledger(conn)
        db.drop_all()
        db.engine.dispose()


def reset_ledger() -> None:
    """Empty the append-only ledger tables if a test wrote to them (drop and recreate)."""
    with db.engine.begin() as conn:
        if conn.execute(select(tb_accounts.c.id).limit(1)).first() is None:
            return
        drop_ledger(conn)
        create_ledger(conn)


@pytest.fixture(autouse=True)
def _clean_tables(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "app" not in request.fixturenames:
        return
    db.session.rollback()
    reset_ledger()
    for table in reversed(db.metadata.sorted_tables):
        db.session.execute(table.delete())
    db.session.commit()
    db.session.remove()


@pytest.fixture
def session(app: Flask) -> Session:
    return db.session


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


def make_agency(session: Session, code: str = "A1") -> Agency:
    agency = Agency(code=code, name=f"Agency {code}", licence_no=f"LIC-{code}", districts=[])
    session.add(agency)
    session.flush()
    return agency


def make_service_items(session: Session) -> tuple[ServiceItem, ServiceItem]:
    """A personal-care item and a volunteer-eligible companionship item."""
    care = ServiceItem(
        code="HC01",
        name_zh="协助沐浴",
        name_en="Bathing assistance",
        category="basic_care",
        standard_min=45,
        required_skill="personal_care",
        price_fen=6000,
    )
    company = ServiceItem(
        code="HC20",
        name_zh="陪伴",
        name_en="Companionship",
        category="companionship",
        standard_min=60,
        required_skill="companionship",
        price_fen=3000,
        volunteer_ok=True,
    )
    session.add_all([care, company])
    session.flush()
    return care, company


def add_severe_assessment(session: Session, person: InsuredPerson, today: dt.date) -> None:
    """A grade-5 assessment of ``person``, valid around ``today`` (eligible for care)."""
    session.add(
        Assessment(
            person_id=person.id,
            adl_scores=[0] * 10,
            cognition_scores=[0] * 4,
            perception_scores=[0] * 3,
            adl_total=0,
            cognition_total=0,
            perception_total=0,
            grade=5,
            assessed_at=today - dt.timedelta(days=30),
            assessor="评估员",
            valid_until=today + dt.timedelta(days=700),
        )
    )


def make_user(
    session: Session,
    role: Role,
    agency: Agency | None,
    username: str | None = None,
    **fields: object,
) -> User:
    u = User(
        username=username or f"{role.value}-{agency.code if agency else 'all'}",
        password_hash=hash_password(PASSWORD),
        display_name=role.value,
        role=role.value,
        agency_id=agency.id if agency else None,
        **fields,
    )
    session.add(u)
    session.commit()
    return u


def login(client: FlaskClient, session: Session, u: User) -> str:
    """Log ``u`` in on ``client`` without going through the login form."""
    token = open_session(session, u)
    with client.session_transaction() as s:
        s["_user_id"] = token
        s["_fresh"] = True
    return token
