"""Shared fixtures. DB tests run on SQLite by default and on PostgreSQL when TEST_DATABASE_URL is set.

Each DB test runs inside a transaction that is rolled back at the end (SQLAlchemy's "join a session into an
external transaction" recipe; the pysqlite SAVEPOINT fix lives in coordinator.db.make_engine).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from coordinator import commit_hooks, create_app, migrate
from coordinator.db import Database, get_database, make_engine
from pathways.clock import FixedClock
from tests import factories
from tests import scenario as sc

TESTS = Path(__file__).parent
PG_SCHEMA = "carepath_test"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        path = Path(str(item.fspath))
        if any(TESTS / d in path.parents for d in ("integration", "api", "fhir", "web")):
            item.add_marker(pytest.mark.db)
        if TESTS / "e2e" in path.parents:
            item.add_marker(pytest.mark.db)
            item.add_marker(pytest.mark.e2e)


_CREATED_SCHEMAS: set[tuple[str, str]] = set()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Drop the PostgreSQL schemas this run made."""
    for base_url, schema in sorted(_CREATED_SCHEMAS):
        engine = make_engine(base_url)
        try:
            with engine.begin() as conn:
                conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        finally:
            engine.dispose()


def fresh_database_url(base_url: str | None, tmp_dir: Path, name: str) -> str:
    """An empty database: a new SQLite file, or a freshly made schema on the PostgreSQL server."""
    if not base_url:
        return f"sqlite:///{tmp_dir / f'{name}.sqlite3'}"
    # One schema per test run and purpose: runs in parallel (two developers, two checkouts) never collide.
    schema = f"{PG_SCHEMA}_{os.getpid()}_{name}"
    _CREATED_SCHEMAS.add((base_url, schema))
    engine = make_engine(base_url)
    with engine.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    separator = "&" if "?" in base_url else "?"
    return f"{base_url}{separator}options={quote(f'-csearch_path={schema}')}"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = fresh_database_url(
        os.environ.get("TEST_DATABASE_URL"), tmp_path_factory.mktemp("db"), "main"
    )
    migrate.upgrade(url)
    return url


@pytest.fixture(scope="session")
def database(database_url: str) -> Iterator[Database]:
    db = Database(database_url, hooks=commit_hooks())
    yield db
    db.dispose()


@pytest.fixture
def connection(database: Database) -> Iterator[sa.Connection]:
    with database.engine.connect() as conn:
        outer = conn.begin()
        yield conn
        if outer.is_active:
            outer.rollback()


@pytest.fixture
def session(database: Database, connection: sa.Connection) -> Iterator[Session]:
    """A session of the test database's factory (so with its commit hooks), joined to the connection's
    transaction."""
    with database.sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    ) as db_session:
        factories.bind(db_session)
        yield db_session
        factories.bind(None)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 11, 26, 9, 30, tzinfo=UTC))


@pytest.fixture
def world(session: Session, clock: FixedClock) -> sc.Scenario:
    """The scenario world (tests/scenario.py), built in the test's transaction. tests/api and
    tests/fhir override it to give their app the same clock."""
    return sc.build(session, clock)


@pytest.fixture
def app(database_url: str, connection: sa.Connection) -> Iterator[Flask]:
    application = create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "test"})
    database = get_database(application)
    database.sessionmaker.configure(bind=connection, join_transaction_mode="create_savepoint")
    yield application
    database.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()
