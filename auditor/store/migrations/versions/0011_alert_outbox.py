"""The alert outbox: new critical and high continuous findings waiting for the webhook."""

import sqlalchemy as sa
from alembic import op

from auditor.store.schema import Id, Json, UTCDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alert_outbox",
        sa.Column("id", Id, primary_key=True),
        sa.Column("license_id", sa.Integer, sa.ForeignKey("licenses.id"), nullable=False),
        sa.Column("identity", sa.String(32), nullable=False),
        sa.Column("payload", Json, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", UTCDateTime, nullable=False),
        sa.Column("delivered_at", UTCDateTime),
        sa.Column("last_error", sa.Text),
        sa.UniqueConstraint("license_id", "identity", name="uq_alert_outbox_identity"),
    )
    op.create_index("ix_alert_outbox_due", "alert_outbox", ["delivered_at", "next_attempt_at"])


def downgrade() -> None:
    op.drop_index("ix_alert_outbox_due", "alert_outbox")
    op.drop_table("alert_outbox")
