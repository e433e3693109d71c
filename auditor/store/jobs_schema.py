"""Tables of long work (migration 0012): jobs, their output files and rendered packets.

They share the event store's metadata, so `metadata.create_all` and the migration
agree on them.
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from auditor.store.schema import Json, UTCDateTime, metadata

ACTIVE = "status IN ('queued', 'running')"

# One row per piece of long work: what, for which license, who asked, how far, what came of it.
jobs = Table(
    "jobs", metadata,
    Column("id", String(32), primary_key=True),
    Column("kind", String(20), nullable=False),
    Column("license_number", String(40), ForeignKey("licenses.number"), nullable=False),
    # What the job is about (e.g. "RUN pdf"): at most one active job per kind and subject.
    Column("subject", String(300), nullable=False),
    Column("params", Json, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("status", String(12), nullable=False),  # queued, running, succeeded, failed
    Column("progress_done", Integer, nullable=False, default=0),
    Column("progress_total", Integer, nullable=False, default=0),
    Column("progress_note", String(200), nullable=False, default=""),
    Column("result", Json),
    Column("error", Text),
    Column("attempts", Integer, nullable=False, default=0),
    Column("created_at", UTCDateTime, nullable=False),
    Column("started_at", UTCDateTime),
    Column("heartbeat_at", UTCDateTime),  # a running job's runner says it is alive
    Column("finished_at", UTCDateTime),
    Index("ix_jobs_active_subject", "kind", "subject", unique=True,
          sqlite_where=text(ACTIVE), postgresql_where=text(ACTIVE)),
    Index("ix_jobs_license_created", "license_number", "created_at"),
)

# A file a job produced (a report): served by GET /jobs/{id}/result.
job_files = Table(
    "job_files", metadata,
    Column("job_id", String(32), ForeignKey("jobs.id"), primary_key=True),
    Column("media_type", String(100), nullable=False),
    Column("filename", String(200), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("data", LargeBinary, nullable=False),
)

# A packet version rendered once per format and kept with the version it renders.
packet_files = Table(
    "packet_files", metadata,
    Column("id", Integer, primary_key=True),
    Column("run_id", String(32), ForeignKey("audit_runs.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("packet_sha256", String(64), nullable=False),  # the content it renders
    Column("format", String(8), nullable=False),
    Column("sha256", String(64), nullable=False),  # of the file's bytes
    Column("size", Integer, nullable=False),
    Column("data", LargeBinary, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("run_id", "version", "packet_sha256", "format",
                     name="uq_packet_files_rendering"),
)
