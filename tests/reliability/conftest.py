"""Reliability fixtures: the API on each database, and a count of what the store holds."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from auditor.config import Settings
from auditor.store.schema import metadata
from tests.api.conftest import serve

# Tables a refused request may still touch: the import log records every attempt with its
# rejections, and the audit trail records who tried what.
LOG_TABLES = frozenset({"imports", "audit_trail"})


@pytest.fixture
def sql_app(sql_settings: Settings) -> Iterator[Flask]:
    """Yield the API on an empty migrated database, on SQLite and on PostgreSQL."""
    yield from serve(sql_settings)


@pytest.fixture
def sql_client(sql_app: Flask) -> FlaskClient:
    return sql_app.test_client()


def rows_held(app: Flask) -> int:
    """Return how many rows the store's data tables hold (logs of attempts left out)."""
    engine = app.extensions["auditor"]["store"].engine
    with engine.connect() as conn:
        return sum(conn.scalar(sa.select(sa.func.count()).select_from(table)) or 0
                   for table in metadata.sorted_tables if table.name not in LOG_TABLES)
