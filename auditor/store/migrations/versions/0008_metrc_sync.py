"""METRC sync checkpoints: per license and endpoint, the end of the last window stored."""

import sqlalchemy as sa
from alembic import op

from auditor.store.schema import Json, UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "metrc_sync_state",
        sa.Column("license_id", sa.Integer, sa.ForeignKey("licenses.id"), primary_key=True),
        sa.Column("endpoint", sa.String(64), primary_key=True),
        sa.Column("synced_through", UTCDateTime),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("last_run", Json, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("metrc_sync_state")
