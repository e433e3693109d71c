"""Audit runs and their findings, kept as run so they can be read back unchanged."""

import sqlalchemy as sa
from alembic import op

from auditor.store.schema import Id, Json, UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_runs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("license_id", sa.Integer, sa.ForeignKey("licenses.id"), nullable=False),
        sa.Column("pack_id", sa.String(64), nullable=False),
        sa.Column("pack_version", sa.Integer, nullable=False),
        sa.Column("pack_hash", sa.String(64), nullable=False),
        sa.Column("period_start", sa.Date, nullable=False),
        sa.Column("period_end", sa.Date, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("readiness_score", sa.Integer, nullable=False),
        sa.Column("report", Json, nullable=False),
    )
    op.create_index("ix_audit_runs_license_created", "audit_runs", ["license_id", "created_at"])
    op.create_table(
        "findings",
        sa.Column("id", Id, primary_key=True),
        sa.Column("run_id", sa.String(32), sa.ForeignKey("audit_runs.id"), nullable=False),
        sa.Column("identity", sa.String(32), nullable=False),
        sa.Column("rule_id", sa.String(64), nullable=False),
        sa.Column("rule_version", sa.Integer, nullable=False),
        sa.Column("severity", sa.String(10), nullable=False),
        sa.Column("occurred_at", UTCDateTime, nullable=False),
        sa.Column("package_label", sa.String(64)),
        sa.Column("subject", sa.String(200)),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("evidence", Json, nullable=False),
        sa.UniqueConstraint("run_id", "identity", name="uq_findings_run_identity"),
    )
    op.create_index("ix_findings_rule", "findings", ["run_id", "rule_id"])


def downgrade() -> None:
    op.drop_table("findings")
    op.drop_table("audit_runs")
