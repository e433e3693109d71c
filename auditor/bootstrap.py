"""The composition root: wire the SQL adapter to the services from settings."""

from __future__ import annotations

from collections.abc import Mapping

from auditor.config import Settings
from auditor.connectors.metrc_http import MetrcHttp
from auditor.connectors.metrc_settings import base_url, load_keys
from auditor.domain.license import License
from auditor.domain.trail import load_key
from auditor.store.engine import make_engine
from auditor.store.migrate import check_ready, upgrade
from auditor.store.sql_store import SqlEventStore
from auditor.store.trail_sql import with_trail_key


def open_store(settings: Settings, *, migrate: bool = False) -> SqlEventStore:
    """Return the event store for settings, upgrading its schema first if migrate is set.

    Without migrate, a database whose schema is missing or old raises StoreNotReady
    naming the command that fixes it.
    """
    engine = make_engine(settings.database_url, schema=settings.database_schema)
    try:
        if migrate:
            upgrade(engine)
        check_ready(engine)
    except Exception:
        engine.dispose()
        raise
    key = load_key(str(settings.trail_key_file)) if settings.trail_key_file else None
    return SqlEventStore(with_trail_key(engine, key))


def metrc_source(license: License, environ: Mapping[str, str] | None = None) -> MetrcHttp:
    """Return a METRC client for the license: its state's base URL and the configured keys."""
    return MetrcHttp(base_url(license, environ), load_keys(environ), license.number)
