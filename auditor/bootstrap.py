"""The composition root: wire the SQL adapter to the services from settings."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from auditor.config import Settings
from auditor.connectors.metrc_http import MetrcHttp
from auditor.connectors.metrc_settings import base_url, load_keys
from auditor.domain.license import License
from auditor.domain.trail import load_key
from auditor.rules.loader import default_rules_dir
from auditor.services.job_kinds import KINDS, Workspace
from auditor.services.job_ports import JobQueue
from auditor.services.jobs import Jobs, requeue_stalled, run_job
from auditor.services.local_jobs import LocalQueue
from auditor.services.packets import PacketSources
from auditor.services.report_ports import StatusWaivers
from auditor.services.uploads import STAGED_FOR
from auditor.store.api_sql import SqlApiStore
from auditor.store.engine import make_engine
from auditor.store.jobs_sql import SqlJobs
from auditor.store.migrate import check_ready, upgrade
from auditor.store.packet_files_sql import SqlPacketFiles
from auditor.store.packet_records import SqlPacketRecords
from auditor.store.report_queries import SqlActivityLog
from auditor.store.rule_versions_sql import SqlRuleVersions
from auditor.store.sql_store import SqlEventStore
from auditor.store.sync_sql import SqlSyncState
from auditor.store.trail_sql import SqlTrail, with_trail_key
from auditor.store.uploads_sql import SqlStagedUploads


def open_store(settings: Settings, *, migrate: bool = False) -> SqlEventStore:
    """Return the event store for settings, upgrading its schema first if migrate is set.

    Without migrate, a database whose schema is missing or old raises StoreNotReady
    naming the command that fixes it.
    """
    engine = make_engine(settings.database_url, schema=settings.database_schema,
                         pool_size=settings.database_pool)
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


def job_workspace(settings: Settings, store: SqlEventStore,
                  metrc: Callable[[License], Any] = metrc_source) -> Workspace:
    """Return what the job functions work with, on the store's database."""
    from auditor.packets import PacketDocuments  # WeasyPrint loads slowly: only when needed

    api = SqlApiStore(store.engine)
    activity = SqlActivityLog(store.engine)
    packets = PacketSources(store, activity, SqlPacketRecords(store.engine),
                            StatusWaivers(api), SqlTrail(store.engine))
    return Workspace(store, settings.rules_dir or default_rules_dir(),
                     SqlRuleVersions(store.engine), packets, SqlPacketFiles(store.engine),
                     PacketDocuments(), activity, SqlSyncState(store.engine), metrc,
                     settings.import_chunk, SqlStagedUploads(store.engine))


def job_runner(settings: Settings, store: SqlEventStore,
               metrc: Callable[[License], Any] = metrc_source) -> Callable[[str], object]:
    """Return a function that runs one job by id (what every runner calls)."""
    return functools.partial(run_job, store=SqlJobs(store.engine),
                             workspace=job_workspace(settings, store, metrc), kinds=KINDS)


def open_jobs(settings: Settings, store: SqlEventStore,
              metrc: Callable[[License], Any] = metrc_source) -> Jobs:
    """Return the job service: queued for workers on PostgreSQL, run in-process otherwise."""
    records = SqlJobs(store.engine)
    if settings.job_runner == "queue":
        from auditor.store.job_queue_pg import PostgresQueue

        queue = PostgresQueue(settings.database_url, settings.database_schema)
        reap_stalled(settings, store, records, queue)  # the workers also do, every minute
        return Jobs(records, queue)
    local = LocalQueue(job_runner(settings, store, metrc), settings.job_threads)
    local.start_reaper(functools.partial(reap_stalled, settings, store, records, local))
    return Jobs(records, local)


def reap_stalled(settings: Settings, store: SqlEventStore, records: SqlJobs,
                 queue: JobQueue) -> None:
    """Hand out again the jobs of stopped runners; fail the imports stopped processes left;
    forget uploads whose import job gave up long ago."""
    requeue_stalled(records, queue)
    now = datetime.now(UTC)
    store.fail_stalled_imports(now - timedelta(seconds=settings.import_lease_seconds), now)
    SqlStagedUploads(store.engine).drop_older(now - STAGED_FOR)
