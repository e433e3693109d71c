"""The job queue on PostgreSQL, through procrastinate (the one module that imports it).

procrastinate keeps its queue in PostgreSQL tables (installed in the store's schema by
migration 0012), hands each job to one worker with `SELECT ... FOR UPDATE SKIP LOCKED`
and wakes idle workers with LISTEN/NOTIFY, so workers can run on as many machines as
reach the database. It carries only a job id: the job's record, progress and result
stay in the `jobs` table, which both backends share.

Each API process defers through a small synchronous pool (psycopg 3, like SQLAlchemy's
engine, but its own connections: procrastinate does not share SQLAlchemy's). A worker
runs procrastinate's asyncio loop; our job functions are synchronous, so procrastinate
runs each in a thread, `concurrency` at a time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import procrastinate
from procrastinate.schema import SchemaManager
from sqlalchemy import Connection
from sqlalchemy.engine import make_url

QUEUE = "auditor"
TASK = "auditor.run_job"
REAP_TASK = "auditor.requeue_stalled"
log = logging.getLogger(__name__)


def install_queue_schema(connection: Connection) -> None:
    """Create procrastinate's tables and functions in the connection's schema."""
    sql = SchemaManager.get_schema()
    # Run through the driver without parameters, so the script's % signs stay literal.
    connection.connection.driver_connection.execute(sql)  # type: ignore[union-attr]


def _pool_args(url: str, schema: str | None) -> dict[str, Any]:
    """Return psycopg pool arguments for the store's database (and schema)."""
    parsed = make_url(url).set(drivername="postgresql")
    options = "-c timezone=UTC" + (f" -c search_path={schema}" if schema else "")
    return {"conninfo": parsed.render_as_string(hide_password=False),
            "kwargs": {"options": options}}


class PostgresQueue:
    """Defers job ids onto procrastinate's queue, for `auditor jobs worker` to run."""

    def __init__(self, url: str, schema: str | None) -> None:
        connector = procrastinate.SyncPsycopgConnector(min_size=1, max_size=4,
                                                       **_pool_args(url, schema))
        self._app = procrastinate.App(connector=connector)
        self._task = self._app.task(name=TASK, queue=QUEUE)(_not_here)
        self._app.open()

    def enqueue(self, job_id: str) -> None:
        """Put the job id on the queue; a worker takes it."""
        self._task.defer(job_id=job_id)

    def close(self) -> None:
        """Close the pool."""
        self._app.close()


def _not_here(job_id: str) -> None:
    raise RuntimeError(f"job {job_id} must be run by `auditor jobs worker`, not the API")


def run_worker(url: str, schema: str | None, run: Callable[[str], object],
               reap: Callable[[], object], concurrency: int, *, wait: bool = True,
               name: str | None = None) -> None:
    """Run jobs from the queue until stopped (SIGINT/SIGTERM), concurrency at a time.

    reap runs at start and every minute (one worker does it each minute, whichever
    takes the periodic job), handing out again the jobs of runners that died.
    """
    connector = procrastinate.PsycopgConnector(min_size=1, max_size=concurrency + 3,
                                               **_pool_args(url, schema))
    app = procrastinate.App(connector=connector)

    @app.task(name=TASK, queue=QUEUE)
    def run_job_task(job_id: str) -> None:
        run(job_id)

    @app.periodic(cron="* * * * *", periodic_id="requeue-stalled")
    @app.task(name=REAP_TASK, queue=QUEUE)
    def requeue_task(timestamp: int) -> None:
        reap()

    reap()
    app.run_worker(queues=[QUEUE], concurrency=concurrency, wait=wait, name=name,
                   delete_jobs="successful", fetch_job_polling_interval=2.0)
