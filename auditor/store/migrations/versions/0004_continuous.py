"""Continuous evaluation: its findings (unique per license and identity) and checkpoints.

A worker writes its findings and its checkpoint (last event id processed, watermark)
in one transaction, so a restart resumes exactly where the last commit left off.
"""

import sqlalchemy as sa
from alembic import op

from auditor.store.schema import Id, Json, UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "continuous_findings",
        sa.Column("id", Id, primary_key=True),
        sa.Column("license_id", sa.Integer, sa.ForeignKey("licenses.id"), nullable=False),
        sa.Column("identity", sa.String(32), nullable=False),
        sa.Column("rule_id", sa.String(64), nullable=False),
        sa.Column("rule_version", sa.Integer, nullable=False),
        sa.Column("pack_id", sa.String(64), nullable=False),
        sa.Column("pack_hash", sa.String(64), nullable=False),
        sa.Column("severity", sa.String(10), nullable=False),
        sa.Column("occurred_at", UTCDateTime, nullable=False),
        sa.Column("package_label", sa.String(64)),
        sa.Column("subject", sa.String(200)),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("evidence", Json, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("detected_at", UTCDateTime, nullable=False),
        sa.Column("due_at", UTCDateTime),
        sa.Column("remedied_at", UTCDateTime),
        sa.Column("remedy_event_id", Id),
        sa.UniqueConstraint("license_id", "identity", name="uq_continuous_findings_identity"),
    )
    op.create_index("ix_continuous_findings_license_status", "continuous_findings",
                    ["license_id", "status"])
    op.create_table(
        "worker_checkpoints",
        sa.Column("partition", sa.String(200), primary_key=True),
        sa.Column("last_event_id", Id, nullable=False),
        sa.Column("watermark", UTCDateTime),
        sa.Column("pack_hash", sa.String(64), nullable=False),
        sa.Column("events_processed", Id, nullable=False),
        sa.Column("working_memory", sa.Integer, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("worker_checkpoints")
    op.drop_table("continuous_findings")
