"""Test harness: one migrated database per run (SQLite file or a fresh PostgreSQL database).

`TEST_DATABASE_URL` picks the database; unset means SQLite. With `BACKORDER_TEST_STRICT=1`
(what `.ci/run` sets) any skip is turned into a failure, so CI can never pass by skipping.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography.fernet import Fernet
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, create_engine, make_url, text

from connector.clock import FrozenClock
from connector.config import Settings, load_settings
from connector.db import Database, make_engine
from connector.migrate import upgrade
from connector.models import Base
from connector.runtime import Runtime, build_runtime
from connector.web import create_app

# Fixtures shared by a few files: the served product with both sandbox stores (`stack`).
pytest_plugins = ["tests.stack"]

STRICT = os.environ.get("BACKORDER_TEST_STRICT") == "1"
ADMIN_TOKEN = "admin-" + "x" * 40
ENCRYPTION_KEY = Fernet.generate_key().decode()
SECRET_KEY = "s" * 48


def skip_or_fail(reason: str) -> None:
    """Skip where a server is absent on a developer's machine; fail in strict CI."""
    if STRICT:
        pytest.fail(f"{reason} (BACKORDER_TEST_STRICT=1: skips are failures)", pytrace=False)
    pytest.skip(reason)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if STRICT and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped in strict mode: {report.longrepr}"


def _create_postgres_database(url: str) -> tuple[str, Engine]:
    """Make a database of our own on the server named by `url`, so runs never share state."""
    server = make_url(url).set(drivername="postgresql+psycopg")
    admin = create_engine(server, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
    name = f"bc_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # any connection problem means "no server here"
        admin.dispose()
        skip_or_fail(f"PostgreSQL not reachable at {server.host}:{server.port}: {exc}")
    return server.set(database=name).render_as_string(hide_password=False), admin


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = os.environ.get("TEST_DATABASE_URL", "")
    if not url or url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
        return
    own_url, admin = _create_postgres_database(url)
    yield own_url
    with admin.connect() as connection:
        connection.execute(
            text(f'DROP DATABASE IF EXISTS "{make_url(own_url).database}" WITH (FORCE)')
        )
    admin.dispose()


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def clean_db(engine: Engine) -> Iterator[Engine]:
    yield engine
    with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(table.delete())


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(datetime(2026, 11, 26, 15, 0, tzinfo=UTC))


def test_settings(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "DATABASE_URL": database_url,
        "SECRET_KEY": SECRET_KEY,
        "TOKEN_ENCRYPTION_KEY": ENCRYPTION_KEY,
        "ADMIN_API_TOKEN": ADMIN_TOKEN,
        "REDIS_URL": None,
        "ALLOW_PRIVATE_STORE_URLS": False,
    }
    values.update(overrides)
    return load_settings(**values)


test_settings.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test


@pytest.fixture
def settings(database_url: str) -> Settings:
    return test_settings(database_url)


@pytest.fixture
def runtime(settings: Settings, clock: FrozenClock, clean_db: Engine) -> Runtime:
    return build_runtime(settings, clock, Database(settings.DATABASE_URL, clock, engine=clean_db))


@pytest.fixture
def app(runtime: Runtime) -> Flask:
    return create_app(runtime)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def is_postgres(database_url: str) -> bool:
    return database_url.startswith("postgresql")
