"""Shared fixtures: licenses, the in-memory store, and the SQL store on SQLite and PostgreSQL.

PostgreSQL tests run when AUDITOR_TEST_POSTGRES_URL names a server; each test gets a
schema of its own that is dropped afterwards. With AUDITOR_REQUIRE_POSTGRES=1 (as in
CI) a missing or unreachable server fails the run instead of skipping.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import settings as hypothesis_settings

from auditor.bootstrap import open_store
from auditor.config import Settings
from auditor.domain.license import License
from auditor.services.fakes import InMemoryEventStore
from auditor.store.sql_store import SqlEventStore

pytest_plugins = ["tests.figures"]  # the `figure` fixture the scorecard reads

# CI replays the same examples every run (a red CI names a real regression, never a draw
# of the dice); on a developer's machine Hypothesis keeps exploring new examples.
hypothesis_settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")

FIXTURES = Path(__file__).parent / "fixtures"
METRC_EXAMPLES = FIXTURES / "metrc-examples"
LICENSE = License("C10-0000123-LIC", "CA", "America/Los_Angeles", ("Sales Floor",),
                  "Test Dispensary", ("Vault",))


def postgres_url() -> str | None:
    """Return the PostgreSQL URL for tests, or skip (fail in CI) when there is none."""
    url = os.environ.get("AUDITOR_TEST_POSTGRES_URL")
    required = os.environ.get("AUDITOR_REQUIRE_POSTGRES") == "1"
    if not url:
        if required:
            pytest.fail("AUDITOR_REQUIRE_POSTGRES=1 but AUDITOR_TEST_POSTGRES_URL is not set")
        pytest.skip("PostgreSQL not configured: set AUDITOR_TEST_POSTGRES_URL to run this")
    return url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'auditor.db'}"


@pytest.fixture
def postgres_schema() -> Iterator[tuple[str, str]]:
    """Yield (url, schema) for a fresh PostgreSQL schema, dropped after the test."""
    url = postgres_url()
    assert url is not None
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    except sa.exc.OperationalError as exc:
        if os.environ.get("AUDITOR_REQUIRE_POSTGRES") == "1":
            raise
        pytest.skip(f"PostgreSQL unreachable: {exc.orig}")
    yield url, schema
    with admin.begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def sql_settings(request: pytest.FixtureRequest, sqlite_url: str) -> Settings:
    """Return settings for an empty database, on each database in turn."""
    if request.param == "sqlite":
        return Settings(database_url=sqlite_url)
    url, schema = request.getfixturevalue("postgres_schema")
    return Settings(database_url=url, database_schema=schema)


@pytest.fixture
def sql_store(sql_settings: Settings) -> Iterator[SqlEventStore]:
    """Yield a migrated SQL store holding the test license."""
    store = open_store(sql_settings, migrate=True)
    store.add_license(LICENSE)
    yield store
    store.engine.dispose()


@pytest.fixture
def fake_store() -> InMemoryEventStore:
    store = InMemoryEventStore()
    store.add_license(LICENSE)
    return store
