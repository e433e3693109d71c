"""The SQL event store on SQLite and PostgreSQL: durability settings, append-only, idempotency."""

import threading
from datetime import datetime

import pytest
import sqlalchemy as sa

from auditor.bootstrap import open_store
from auditor.config import Settings
from auditor.domain.errors import Conflict, NaiveDateTime, StoreNotReady, UnknownLicense
from auditor.domain.events import Event, EventType
from auditor.importers.metrc import reason_list_digest
from auditor.importers.sources import json_records
from auditor.services.ingest import ingest
from auditor.store.schema import events
from tests.conftest import LICENSE, METRC_EXAMPLES

RECEIPTS = (METRC_EXAMPLES / "Sales/CreateReceipts.request.json").read_bytes()


def count_events(store):
    with store.engine.connect() as conn:
        return conn.scalar(sa.select(sa.func.count()).select_from(events))


def test_every_sqlite_connection_is_durable(sqlite_url):
    store = open_store(Settings(database_url=sqlite_url), migrate=True)
    for _ in range(2):
        with store.engine.connect() as conn:
            read = {name: conn.exec_driver_sql(f"PRAGMA {name}").scalar() for name in
                    ("journal_mode", "synchronous", "foreign_keys", "recursive_triggers")}
        assert read == {"journal_mode": "wal", "synchronous": 2, "foreign_keys": 1,
                        "recursive_triggers": 1}
    store.engine.dispose()


@pytest.mark.postgres
def test_postgres_commits_are_durable(postgres_schema):
    url, schema = postgres_schema
    store = open_store(Settings(database_url=url, database_schema=schema), migrate=True)
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("SHOW fsync").scalar() == "on"
        assert conn.exec_driver_sql("SHOW synchronous_commit").scalar() == "on"
    store.engine.dispose()


def test_a_database_without_schema_names_the_fix(sqlite_url):
    with pytest.raises(StoreNotReady, match="auditor db upgrade"):
        open_store(Settings(database_url=sqlite_url))


def test_licenses_round_trip_and_duplicates_are_refused(sql_store):
    assert sql_store.get_license(LICENSE.number) == LICENSE
    with pytest.raises(Conflict):
        sql_store.add_license(LICENSE)
    with pytest.raises(UnknownLicense, match="auditor license add"):
        sql_store.get_license("NOPE-1")


def test_stored_events_are_append_only(sql_store):
    ingest(sql_store, LICENSE.number, "metrc-receipts", "r.json", RECEIPTS)
    statements = ["UPDATE events SET package_label = 'X'", "DELETE FROM events"]
    if sql_store.engine.dialect.name == "sqlite":
        statements.append("INSERT OR REPLACE INTO events SELECT * FROM events")
    else:
        statements.append("TRUNCATE events")
    for statement in statements:
        with pytest.raises(sa.exc.DatabaseError, match="append-only"), \
                sql_store.engine.begin() as conn:
            conn.exec_driver_sql(statement)
    assert count_events(sql_store) == 3


def test_importing_the_same_files_three_times_adds_nothing(sql_store):
    paths = ["Sales/CreateReceipts.request.json", "Packages/GetActivePackages.response.json",
             "Packages/GetAdjustments.response.json"]
    formats = ["metrc-receipts", "metrc-packages", "metrc-adjustments"]
    added = []
    for _ in range(3):
        added.append(sum(ingest(sql_store, LICENSE.number, fmt, p,
                                (METRC_EXAMPLES / p).read_bytes()).events_added
                         for fmt, p in zip(formats, paths, strict=True)))
    assert added == [7, 0, 0]
    assert count_events(sql_store) == 7


def test_concurrent_imports_of_the_same_file_store_it_once(sql_store):
    lines = [{"PackageLabel": f"1A40000000000000000{i:05d}", "Quantity": 1, "UnitOfMeasure": "Each"}
             for i in range(300)]
    body = (f'[{{"Id": 1, "SalesDateTime": "2026-01-05T10:00:00", '
            f'"Transactions": {lines!r}}}]').replace("'", '"').encode()
    results = []

    def worker():
        results.append(ingest(sql_store, LICENSE.number, "metrc-receipts", "same.json", body,
                              chunk_size=1))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(s.accepted for s in results) == [0, 0, 0, 1]
    assert count_events(sql_store) == 301


def test_times_come_back_aware_and_naive_times_are_refused(sql_store):
    ingest(sql_store, LICENSE.number, "metrc-receipts", "r.json", RECEIPTS)
    with sql_store.engine.connect() as conn:
        stored = conn.scalar(sa.select(events.c.occurred_at).limit(1))
    assert stored.utcoffset().total_seconds() == 0
    with pytest.raises(NaiveDateTime):
        Event(EventType.MOVE, datetime(2026, 1, 1), "k", {})
    with pytest.raises(sa.exc.StatementError) as caught:  # the column type refuses it too
        sql_store.start_import(LICENSE.number, "events", "x", "0" * 64, datetime(2026, 1, 1))
    assert isinstance(caught.value.orig, NaiveDateTime)


def test_event_counts_and_earliest(sql_store):
    reasons = (METRC_EXAMPLES / "Packages/GetAdjustReasons.response.json").read_bytes()
    summary = ingest(sql_store, LICENSE.number, "metrc-adjust-reasons", "r.json", reasons)
    assert sql_store.event_counts(LICENSE.number) == {"adjust_reason": 2}
    first_effective = sql_store.earliest(LICENSE.number, EventType.ADJUST_REASON,
                                         reason_list_digest(json_records(reasons)))
    assert first_effective is not None and first_effective.utcoffset().total_seconds() == 0
    again = ingest(sql_store, LICENSE.number, "metrc-adjust-reasons", "r.json", reasons)
    assert (summary.accepted, again.duplicates) == (2, 2)
    assert sql_store.earliest(LICENSE.number, EventType.ADJUST_REASON, "no-such-list") is None
