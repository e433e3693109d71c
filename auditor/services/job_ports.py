"""The ports of long work: where jobs are recorded, and the queue that hands them out.

A job's record (status, progress, result, error) lives in the store of record on every
backend; the queue only carries job ids to whatever runs them: a thread of this process
on SQLite, a `auditor jobs worker` process (on any machine) through PostgreSQL.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

QUEUED, RUNNING, SUCCEEDED, FAILED = "queued", "running", "succeeded", "failed"
FINISHED = (SUCCEEDED, FAILED)


@dataclass(frozen=True)
class Job:
    """A piece of long work: what, for which license, who asked, how far, what came of it."""

    id: str
    kind: str
    license_number: str
    subject: str
    params: dict[str, Any]
    actor: str
    status: str
    created_at: datetime
    progress_done: int = 0
    progress_total: int = 0
    progress_note: str = ""
    result: dict[str, Any] | None = None
    error: str | None = None
    attempts: int = 0
    started_at: datetime | None = None
    heartbeat_at: datetime | None = None
    finished_at: datetime | None = None

    @property
    def finished(self) -> bool:
        """Return whether the job is over, one way or the other."""
        return self.status in FINISHED


@dataclass(frozen=True)
class OutputFile:
    """A file a job produced, as it will be served."""

    media_type: str
    filename: str
    data: bytes = field(repr=False)


class JobStore(Protocol):
    """The job records."""

    def create(self, job: Job) -> Job:
        """Store a queued job; return the active job of its kind and subject if there is one."""

    def get(self, job_id: str) -> Job | None:
        """Return a job, or None."""

    def start(self, job_id: str, at: datetime, stale_before: datetime) -> Job | None:
        """Mark a queued job (or a running one silent since stale_before) running; else None."""

    def progress(self, job_id: str, done: int, total: int, note: str, at: datetime) -> None:
        """Record how far a running job is (this is also its heartbeat)."""

    def succeed(self, job_id: str, result: dict[str, Any], at: datetime,
                output: OutputFile | None = None) -> None:
        """Record a job's result (and the file it made, if any)."""

    def fail(self, job_id: str, error: str, at: datetime) -> None:
        """Record why a job failed."""

    def output(self, job_id: str) -> OutputFile | None:
        """Return the file a job made, or None."""

    def stalled(self, stale_before: datetime) -> list[str]:
        """Return the ids of queued or running jobs not heard of since stale_before."""


class JobQueue(Protocol):
    """Hands job ids to runners."""

    def enqueue(self, job_id: str) -> None:
        """Have the job run soon, by whichever runner is free."""

    def close(self) -> None:
        """Stop taking jobs (an in-process runner finishes those it has)."""


@dataclass(frozen=True)
class PacketFile:
    """A packet version rendered in one format, as stored."""

    run_id: str
    version: int
    packet_sha256: str  # of the content it renders
    format: str
    sha256: str  # of the file's bytes
    final: bool
    created_at: datetime
    data: bytes = field(repr=False)


class PacketFiles(Protocol):
    """Rendered packet files, one per packet version, content and format."""

    def newest(self, run_id: str, fmt: str) -> PacketFile | None:
        """Return the file of the run's newest packet version in fmt, if it was rendered."""

    def put(self, run_id: str, version: int, packet_sha256: str, fmt: str, data: bytes,
            at: datetime) -> PacketFile:
        """Keep a rendering (the first one stored wins) and return it."""
