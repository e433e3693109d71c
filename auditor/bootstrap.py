"""The composition root: wire the SQL adapter to the services from settings."""

from __future__ import annotations

from auditor.config import Settings
from auditor.store.engine import make_engine
from auditor.store.migrate import check_ready, upgrade
from auditor.store.sql_store import SqlEventStore


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
    return SqlEventStore(engine)
