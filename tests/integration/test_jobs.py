"""Jobs on real SQLite and PostgreSQL: run in-process, by a real worker, failed, and taken over."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from auditor.bootstrap import open_jobs
from auditor.config import Settings
from auditor.domain.errors import InvalidInput
from auditor.services.job_ports import FAILED, QUEUED, RUNNING, SUCCEEDED, Job
from auditor.services.jobs import LEASE, MAX_ATTEMPTS, JobContext, JobOutcome, run_job
from auditor.store.jobs_sql import SqlJobs
from tests.conftest import LICENSE


def queued(store: SqlJobs, kind: str = "audit", subject: str = "s",
           at: datetime | None = None) -> Job:
    job = Job(os.urandom(16).hex(), kind, LICENSE.number, subject,
              {"start": "2026-01-01", "end": "2026-01-31"}, "tester", QUEUED,
              at or datetime.now(UTC))
    return store.create(job)


def test_an_audit_job_runs_in_process_and_records_its_progress_and_result(
        sql_settings: Settings, sql_store) -> None:
    jobs = open_jobs(sql_settings, sql_store)
    try:
        job = jobs.submit("audit", LICENSE.number, "period", {"start": "2026-01-01",
                                                               "end": "2026-01-31"}, "ana")
        done = jobs.wait(job.id, timeout=60)
    finally:
        jobs.queue.close()
    assert done.status == SUCCEEDED, done.error
    assert done.result and done.result["result_url"] == f"/audits/{done.result['run_id']}"
    assert done.progress_total > 0 and done.progress_done == done.progress_total
    assert sql_store.runs.get(done.result["run_id"])["license"] == LICENSE.number


def test_one_active_job_per_kind_and_subject_is_shared(sql_settings, sql_store) -> None:
    store = SqlJobs(sql_store.engine)
    first = queued(store, subject="same")
    assert queued(store, subject="same").id == first.id
    assert queued(store, subject="other").id != first.id
    store.fail(first.id, "stopped", datetime.now(UTC))
    assert queued(store, subject="same").id != first.id  # a finished one is not shared


def test_a_failing_job_records_the_reason_and_an_unexpected_error_no_detail(
        sql_settings, sql_store) -> None:
    store = SqlJobs(sql_store.engine)

    def refuses(ctx: JobContext, ws: object) -> JobOutcome:
        raise InvalidInput("the period is empty")

    def breaks(ctx: JobContext, ws: object) -> JobOutcome:
        raise KeyError("/srv/secret/path")

    kinds = {"refuses": refuses, "breaks": breaks}
    refused = run_job(queued(store, "refuses").id, store, None, kinds)
    broken = run_job(queued(store, "breaks").id, store, None, kinds)
    assert refused and (refused.status, refused.error) == (FAILED, "the period is empty")
    assert broken and broken.status == FAILED and "/srv" not in (broken.error or "")
    assert broken.id in (broken.error or "")  # the log line to look for


def test_a_job_whose_runner_stopped_is_run_again_then_failed_after_max_attempts(
        sql_settings, sql_store) -> None:
    store = SqlJobs(sql_store.engine)
    runs: list[int] = []

    def counts(ctx: JobContext, ws: object) -> JobOutcome:
        runs.append(ctx.job.attempts)
        return JobOutcome({"attempt": ctx.job.attempts})

    t0 = datetime.now(UTC)
    job = queued(store, "counts", at=t0)
    assert store.start(job.id, t0, t0 - LEASE) is not None  # a runner took it, then died
    assert store.stalled(t0) == []
    later = t0 + LEASE + timedelta(seconds=1)
    assert store.stalled(later - LEASE) == [job.id]
    assert run_job(job.id, store, None, {"counts": counts}, clock=lambda: t0) is None  # alive
    again = run_job(job.id, store, None, {"counts": counts}, clock=lambda: later)
    assert again and again.status == SUCCEEDED and runs == [2]

    hopeless = queued(store, "counts", subject="h", at=t0)
    for attempt in range(MAX_ATTEMPTS):
        at = t0 + attempt * (LEASE + timedelta(seconds=1))
        assert store.start(hopeless.id, at, at - LEASE) is not None
    last = t0 + MAX_ATTEMPTS * (LEASE + timedelta(seconds=1))
    ended = run_job(hopeless.id, store, None, {"counts": counts}, clock=lambda: last)
    assert ended and ended.status == FAILED and "interrupted 3 times" in (ended.error or "")
    assert runs == [2]


@pytest.mark.postgres
@pytest.mark.slow
def test_a_worker_process_runs_jobs_the_api_queues_on_postgresql(postgres_schema) -> None:
    url, schema = postgres_schema
    settings = Settings(database_url=url, database_schema=schema, job_runner="queue")
    from auditor.bootstrap import open_store

    store = open_store(settings, migrate=True)
    store.add_license(LICENSE)
    jobs = open_jobs(settings, store)
    env = {**os.environ, "AUDITOR_DATABASE_URL": url, "AUDITOR_DATABASE_SCHEMA": schema}
    submitted = [jobs.submit("audit", LICENSE.number, f"p{i}", {
        "start": "2026-01-01", "end": f"2026-01-{10 + i}"}, "ana") for i in range(4)]
    assert {jobs.get(j.id).status for j in submitted} == {QUEUED}  # type: ignore[union-attr]
    workers = [subprocess.Popen([sys.executable, "-m", "auditor", "jobs", "worker",
                                 "--concurrency", "2"], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True) for _ in range(2)]
    try:
        done = [jobs.wait(j.id, timeout=90) for j in submitted]
    finally:
        for worker in workers:
            worker.terminate()
        errors = [w.communicate(timeout=30)[1] for w in workers]
        jobs.queue.close()
        store.engine.dispose()
    assert [d.status for d in done] == [SUCCEEDED] * 4, (done, errors)
    assert all(d.attempts == 1 for d in done)  # each run once, by one worker
    assert len({d.result["run_id"] for d in done if d.result}) == 4
    assert all(w.returncode == 0 for w in workers), errors
    assert RUNNING not in {d.status for d in done}
