"""Helpers for tests against the METRC simulator: a small sample store, events to compare."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from auditor.bootstrap import open_store
from auditor.cli_sync import PULLED_TYPES
from auditor.config import Settings
from auditor.connectors.metrc_http import MetrcHttp
from auditor.sample import StoreSpec, generate_store
from auditor.sample.metrc_simulator import Faults, MetrcData, SimulatorServer, create_simulator
from auditor.services.demo import load_sample_store
from auditor.services.sync_ports import MetrcKeys
from auditor.store.schema import events

VENDOR_KEY = "vk-4f1c9e7a-simulated-vendor"
USER_KEY = "uk-82b0d3e5-simulated-user"
KEYS = MetrcKeys(VENDOR_KEY, USER_KEY)
SINCE = datetime(2025, 12, 31, 8, tzinfo=UTC)  # local midnight before the first day
UNTIL = datetime(2026, 1, 4, 8, tzinfo=UTC)  # a day after the last, for late records
DAYS = 2


def make_sample(root: Path) -> Path:
    """Write a two-day sample store (with planted violations) and return its folder."""
    generate_store(root, StoreSpec(days=DAYS, seed=3, start=date(2026, 1, 1)))
    return root


@contextmanager
def simulator(sample: Path, faults: Faults | None = None) -> Iterator[SimulatorServer]:
    """Serve the sample store's METRC data on a loopback port."""
    app = create_simulator(MetrcData.from_store(sample), VENDOR_KEY, USER_KEY, faults)
    with SimulatorServer(app) as server:
        yield server


def client(server: SimulatorServer, license_number: str, **kwargs: Any) -> MetrcHttp:
    """Return a METRC client of the simulator that never waits for real."""
    options: dict[str, Any] = {"rate": 10_000.0, "sleep": lambda _s: None}
    options.update(kwargs)
    return MetrcHttp(server.url, KEYS, license_number, **options)


def stored_events(engine: sa.Engine) -> list[tuple[Any, ...]]:
    """Return the stored METRC events, comparable across databases, sorted.

    An adjust-reason list takes effect when first imported, so its time and key differ
    between two databases; its content may not.
    """
    with engine.connect() as conn:
        rows = conn.execute(sa.select(events.c.type, events.c.natural_key, events.c.occurred_at,
                                      events.c.package_label, events.c.reference,
                                      events.c.payload)
                            .where(events.c.type.in_(PULLED_TYPES))).all()
    out = []
    for kind, key, occurred, label, reference, payload in rows:
        if kind == "adjust_reason":
            payload = {k: v for k, v in payload.items() if k != "effective_at"}
            key, occurred = payload["name"], None
        out.append((kind, key, occurred, label, reference, sorted(payload.items())))
    return sorted(out, key=repr)


def ingested_events(sample: Path, tmp: Path) -> list[tuple[Any, ...]]:
    """Return the METRC events of the sample store imported from its files."""
    store = open_store(Settings(database_url=f"sqlite:///{tmp / 'files.db'}"), migrate=True)
    try:
        load_sample_store(store, sample)
        return stored_events(store.engine)
    finally:
        store.engine.dispose()
