"""`auditor jobs worker` (runs queued jobs on PostgreSQL), `auditor jobs show`, and the
CLI's way to do long work: as a job run in this process, its progress on a live line.
"""

from __future__ import annotations

import functools
import json
import os
import socket
from typing import Any

import click

from auditor.bootstrap import job_runner, open_store, reap_stalled
from auditor.cli_progress import progress
from auditor.config import Settings
from auditor.domain.errors import AuditorError, InvalidInput
from auditor.domain.trail import current_actor
from auditor.services.job_ports import SUCCEEDED, Job
from auditor.services.jobs import Jobs
from auditor.services.local_jobs import LocalQueue
from auditor.store.jobs_sql import SqlJobs
from auditor.store.sql_store import SqlEventStore


def run_here(settings: Settings, store: SqlEventStore, kind: str, license_number: str,
             subject: str, params: dict[str, Any], label: str,
             actor: str | None = None) -> Job:
    """Run a job in this process (no worker needed) and show its progress; return it.

    If the same work is already queued or running elsewhere, wait for that job instead.
    Raise AuditorError with the job's error if it failed.
    """
    queue = LocalQueue(job_runner(settings, store), threads=1)
    jobs = Jobs(SqlJobs(store.engine), queue)
    try:
        job = jobs.submit(kind, license_number, subject, params, actor or current_actor())
        with progress(label) as shown:
            job = jobs.wait(job.id, timeout=float("inf"), on_progress=lambda j: shown.show(
                _progress_text(j)))
            shown.done(f"job {job.id} {job.status}")
    finally:
        queue.close()
    if job.status != SUCCEEDED:
        raise AuditorError(f"{kind} job {job.id} failed: {job.error}")
    return job


def _progress_text(job: Job) -> str:
    if job.status == "queued":
        return "queued"
    if job.progress_total > 0:
        return f"{job.progress_done}/{job.progress_total} {job.progress_note}"
    return job.progress_note or job.status


@click.group()
def jobs() -> None:
    """Run and read long work: audits, backtests, packets, reports and METRC syncs."""


@jobs.command("worker")
@click.option("--concurrency", type=int, default=None,
              help="jobs run at once (default: AUDITOR_JOB_THREADS, else 2)")
@click.option("--burst", is_flag=True, help="stop once the queue is empty (for scripts)")
def jobs_worker(concurrency: int | None, burst: bool) -> None:
    """Run queued jobs until stopped (SIGTERM or Ctrl-C finish the jobs under way).

    Needs PostgreSQL; start as many as you like, on any machine that reaches the database.
    """
    settings = Settings.from_env()
    if settings.job_runner != "queue":
        raise InvalidInput("a jobs worker takes jobs from PostgreSQL's queue; on SQLite the "
                           "API runs jobs in its own process (set AUDITOR_DATABASE_URL to a "
                           "postgresql:// URL)")
    from auditor.store.job_queue_pg import PostgresQueue, run_worker

    store = open_store(settings)
    requeue = PostgresQueue(settings.database_url, settings.database_schema)
    records = SqlJobs(store.engine)
    reap = functools.partial(reap_stalled, settings, store, records, requeue)
    name = f"{socket.gethostname()}:{os.getpid()}"
    click.echo(f"jobs worker {name}: {concurrency or settings.job_threads} at a time", err=True)
    try:
        run_worker(settings.database_url, settings.database_schema, job_runner(settings, store),
                   reap, concurrency or settings.job_threads, wait=not burst, name=name)
    finally:
        requeue.close()


@jobs.command("show")
@click.argument("job_id")
def jobs_show(job_id: str) -> None:
    """Print a job: status, progress, result or error (JSON)."""
    store = open_store(Settings.from_env())
    job = SqlJobs(store.engine).get(job_id)
    if job is None:
        raise InvalidInput(f"no job {job_id!r}")
    click.echo(json.dumps({
        "id": job.id, "kind": job.kind, "license": job.license_number, "status": job.status,
        "progress": [job.progress_done, job.progress_total, job.progress_note],
        "attempts": job.attempts, "result": job.result, "error": job.error,
        "created_at": job.created_at.isoformat()}, indent=2, default=str))
