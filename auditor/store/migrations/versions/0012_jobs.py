"""Long work as jobs: the job table, job and packet files, import heartbeats, the queue.

On PostgreSQL this also installs procrastinate's tables and functions (the queue the
workers take jobs from) in the same schema; SQLite runs jobs in the process.
"""

import sqlalchemy as sa
from alembic import op

from auditor.store.jobs_schema import ACTIVE
from auditor.store.schema import Json, UTCDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("license_number", sa.String(40), sa.ForeignKey("licenses.number"),
                  nullable=False),
        sa.Column("subject", sa.String(300), nullable=False),
        sa.Column("params", Json, nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("progress_done", sa.Integer, nullable=False, server_default="0"),
        sa.Column("progress_total", sa.Integer, nullable=False, server_default="0"),
        sa.Column("progress_note", sa.String(200), nullable=False, server_default=""),
        sa.Column("result", Json),
        sa.Column("error", sa.Text),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("started_at", UTCDateTime),
        sa.Column("heartbeat_at", UTCDateTime),
        sa.Column("finished_at", UTCDateTime),
    )
    op.create_index("ix_jobs_active_subject", "jobs", ["kind", "subject"], unique=True,
                    sqlite_where=sa.text(ACTIVE), postgresql_where=sa.text(ACTIVE))
    op.create_index("ix_jobs_license_created", "jobs", ["license_number", "created_at"])
    op.create_table(
        "job_files",
        sa.Column("job_id", sa.String(32), sa.ForeignKey("jobs.id"), primary_key=True),
        sa.Column("media_type", sa.String(100), nullable=False),
        sa.Column("filename", sa.String(200), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "packet_files",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("run_id", sa.String(32), sa.ForeignKey("audit_runs.id"), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("packet_sha256", sa.String(64), nullable=False),
        sa.Column("format", sa.String(8), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("run_id", "version", "packet_sha256", "format",
                            name="uq_packet_files_rendering"),
    )
    # A findings page reads a run's findings in occurrence order from an offset.
    op.create_index("ix_findings_run_occurred", "findings", ["run_id", "occurred_at", "id"])
    op.add_column("imports", sa.Column("heartbeat_at", UTCDateTime))
    op.add_column("imports", sa.Column("error", sa.Text))
    if op.get_bind().dialect.name == "postgresql":
        from auditor.store.job_queue_pg import install_queue_schema

        install_queue_schema(op.get_bind())


def downgrade() -> None:
    op.drop_column("imports", "error")
    op.drop_column("imports", "heartbeat_at")
    op.drop_index("ix_findings_run_occurred", "findings")
    op.drop_table("packet_files")
    op.drop_table("job_files")
    op.drop_index("ix_jobs_license_created", "jobs")
    op.drop_index("ix_jobs_active_subject", "jobs")
    op.drop_table("jobs")

