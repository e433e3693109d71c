"""Who runs jobs, as the environment says: the queue on PostgreSQL, threads on SQLite."""

from __future__ import annotations

import pytest

from auditor.config import ServerSettings, Settings
from auditor.domain.errors import InvalidInput

PG = "postgresql://postgres@127.0.0.1:5432/test"


def test_postgresql_queues_jobs_for_workers_and_sqlite_runs_them_in_process() -> None:
    assert Settings.from_env({"AUDITOR_DATABASE_URL": PG}).job_runner == "queue"
    assert Settings.from_env({}).job_runner == "local"
    assert Settings.from_env({"AUDITOR_DATABASE_URL": PG,
                              "AUDITOR_JOB_RUNNER": "local"}).job_runner == "local"


def test_a_queue_without_postgresql_or_an_unknown_runner_is_refused_with_the_fix() -> None:
    with pytest.raises(InvalidInput, match="needs PostgreSQL"):
        Settings.from_env({"AUDITOR_JOB_RUNNER": "queue"})
    with pytest.raises(InvalidInput, match="local or queue"):
        Settings.from_env({"AUDITOR_JOB_RUNNER": "celery"})


def test_leases_and_processes_come_from_the_environment() -> None:
    settings = Settings.from_env({"AUDITOR_IMPORT_LEASE_SECONDS": "3",
                                  "AUDITOR_IDEMPOTENCY_LEASE_SECONDS": "5"})
    assert (settings.import_lease_seconds, settings.idempotency_lease_seconds) == (3, 5)
    assert ServerSettings.from_env({"AUDITOR_SERVE_PROCESSES": "2"}).processes == 2
    with pytest.raises(InvalidInput, match="AUDITOR_SERVE_PROCESSES"):
        ServerSettings.from_env({"AUDITOR_SERVE_PROCESSES": "0"})
