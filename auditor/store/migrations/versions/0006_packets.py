"""Packet versions: each run's packet content and SHA-256; final versions are immutable."""

import sqlalchemy as sa
from alembic import op

from auditor.store.packet_records import GUARDS
from auditor.store.schema import Id, Json, UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "packet_versions",
        sa.Column("id", Id, primary_key=True),
        sa.Column("run_id", sa.String(32), sa.ForeignKey("audit_runs.id"), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("content", Json, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("changes", Json, nullable=False),
        sa.Column("finalized_at", UTCDateTime),
        sa.UniqueConstraint("run_id", "version", name="uq_packet_versions_run_version"),
    )
    for statement in GUARDS[op.get_bind().dialect.name]:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION auditor_packet_final() CASCADE")
    op.drop_table("packet_versions")
