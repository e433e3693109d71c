"""Uploaded files waiting for their import job: the console's uploads run as jobs."""

import sqlalchemy as sa
from alembic import op

from auditor.store.schema import UTCDateTime

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "staged_uploads",
        sa.Column("upload_id", sa.String(32), nullable=False),
        sa.Column("piece", sa.Integer, nullable=False),
        sa.Column("license_number", sa.String(40), nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.Column("staged_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("upload_id", "piece"),
    )
    op.create_index("ix_staged_uploads_staged_at", "staged_uploads", ["staged_at"])


def downgrade() -> None:
    op.drop_index("ix_staged_uploads_staged_at", "staged_uploads")
    op.drop_table("staged_uploads")
