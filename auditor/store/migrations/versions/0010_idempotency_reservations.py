"""Idempotency keys reserved before the work starts: a pending row first, the answer after."""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Keys stored before 0009 were written with their answer: they are done.
    op.add_column("idempotency_keys", sa.Column("status", sa.String(16), nullable=False,
                                                server_default="done"))


def downgrade() -> None:
    op.execute("DELETE FROM idempotency_keys WHERE status <> 'done'")
    op.drop_column("idempotency_keys", "status")
