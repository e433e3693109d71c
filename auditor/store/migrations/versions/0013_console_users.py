"""Console users: people who sign in with an email and a password, scoped like API tokens."""

import sqlalchemy as sa
from alembic import op

from auditor.store.schema import Id, Json, UTCDateTime

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", Id, primary_key=True),
        sa.Column("organization_id", sa.Integer, sa.ForeignKey("organizations.id"),
                  nullable=False),
        sa.Column("email", sa.String(254), nullable=False, unique=True),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("licenses", Json, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("disabled_at", UTCDateTime),
    )


def downgrade() -> None:
    op.drop_table("users")
