"""Job records in SQL: one row per job, claimed by a conditional update so one runner wins."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, and_, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from auditor.services.job_ports import FAILED, QUEUED, RUNNING, SUCCEEDED, Job, OutputFile
from auditor.store.engine import WRITE
from auditor.store.jobs_schema import job_files, jobs


class SqlJobs:
    """JobStore on a SQLAlchemy engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def _write(self) -> Any:
        return self.engine.connect().execution_options(**WRITE)

    def create(self, job: Job) -> Job:
        """Store a queued job; return the active job of its kind and subject if there is one."""
        try:
            with self._write() as conn, conn.begin():
                conn.execute(insert(jobs), {
                    "id": job.id, "kind": job.kind, "license_number": job.license_number,
                    "subject": job.subject, "params": job.params, "actor": job.actor,
                    "status": QUEUED, "created_at": job.created_at, "progress_done": 0,
                    "progress_total": 0, "progress_note": "", "attempts": 0})
        except IntegrityError:
            # The partial unique index says one like it is queued or running: share it.
            active = self._active(job.kind, job.subject)
            if active is not None:
                return active
            return self.create(job)  # it finished in between: queue this one
        return job

    def _active(self, kind: str, subject: str) -> Job | None:
        query = select(jobs).where(jobs.c.kind == kind, jobs.c.subject == subject,
                                   jobs.c.status.in_((QUEUED, RUNNING)))
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return _job(row) if row else None

    def get(self, job_id: str) -> Job | None:
        """Return a job, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(select(jobs).where(jobs.c.id == job_id)).first()
        return _job(row) if row else None

    def start(self, job_id: str, at: datetime, stale_before: datetime) -> Job | None:
        """Mark a queued job (or a running one silent since stale_before) running; else None."""
        claimable = or_(jobs.c.status == QUEUED,
                        and_(jobs.c.status == RUNNING, jobs.c.heartbeat_at < stale_before))
        with self._write() as conn, conn.begin():
            done = conn.execute(update(jobs).where(jobs.c.id == job_id, claimable).values(
                status=RUNNING, started_at=at, heartbeat_at=at, attempts=jobs.c.attempts + 1))
        return self.get(job_id) if done.rowcount == 1 else None

    def progress(self, job_id: str, done: int, total: int, note: str, at: datetime) -> None:
        """Record how far a running job is; done < 0 only moves the heartbeat."""
        values: dict[str, Any] = {"heartbeat_at": at}
        if done >= 0:
            values.update(progress_done=done, progress_total=total, progress_note=note)
        with self._write() as conn, conn.begin():
            conn.execute(update(jobs).where(jobs.c.id == job_id, jobs.c.status == RUNNING)
                         .values(**values))

    def succeed(self, job_id: str, result: dict[str, Any], at: datetime,
                output: OutputFile | None = None) -> None:
        """Record a job's result, and the file it made, in one transaction."""
        with self._write() as conn, conn.begin():
            if output is not None:
                conn.execute(insert(job_files), {
                    "job_id": job_id, "media_type": output.media_type,
                    "filename": output.filename, "data": output.data,
                    "sha256": hashlib.sha256(output.data).hexdigest()})
            conn.execute(update(jobs).where(jobs.c.id == job_id).values(
                status=SUCCEEDED, result=result, finished_at=at, heartbeat_at=at,
                progress_done=func.greatest(jobs.c.progress_done, jobs.c.progress_total)
                if self.engine.dialect.name == "postgresql"
                else func.max(jobs.c.progress_done, jobs.c.progress_total)))

    def fail(self, job_id: str, error: str, at: datetime) -> None:
        """Record why a job failed."""
        with self._write() as conn, conn.begin():
            conn.execute(update(jobs).where(jobs.c.id == job_id).values(
                status=FAILED, error=error, finished_at=at, heartbeat_at=at))

    def output(self, job_id: str) -> OutputFile | None:
        """Return the file a job made, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(select(job_files).where(job_files.c.job_id == job_id)).first()
        return OutputFile(row.media_type, row.filename, bytes(row.data)) if row else None

    def stalled(self, stale_before: datetime) -> list[str]:
        """Return ids of jobs queued, or running without a heartbeat, since before stale_before."""
        silent = or_(and_(jobs.c.status == QUEUED, jobs.c.created_at < stale_before),
                     and_(jobs.c.status == RUNNING, jobs.c.heartbeat_at < stale_before))
        with self.engine.connect() as conn:
            return list(conn.scalars(select(jobs.c.id).where(silent)
                                     .order_by(jobs.c.created_at)))


def _job(row: Any) -> Job:
    return Job(row.id, row.kind, row.license_number, row.subject, dict(row.params), row.actor,
               row.status, row.created_at, row.progress_done, row.progress_total,
               row.progress_note, dict(row.result) if row.result is not None else None,
               row.error, row.attempts, row.started_at, row.heartbeat_at, row.finished_at)
