"""The HTTP API: hashed tokens, finding lifecycle and history, idempotency keys, rule versions."""

import sqlalchemy as sa
from alembic import op

from auditor.store.schema import Id, Json, UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_tokens",
        sa.Column("id", Id, primary_key=True),
        sa.Column("secret_sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("licenses", Json, nullable=False),
        sa.Column("label", sa.String(200), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("revoked_at", UTCDateTime),
    )
    op.create_table(
        "finding_states",
        sa.Column("license_id", sa.Integer, sa.ForeignKey("licenses.id"), primary_key=True),
        sa.Column("identity", sa.String(32), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("changed_at", UTCDateTime, nullable=False),
        sa.Column("waiver_justification", sa.Text),
        sa.Column("waiver_expires_at", UTCDateTime),
    )
    op.create_table(
        "finding_changes",
        sa.Column("id", Id, primary_key=True),
        sa.Column("license_id", sa.Integer, sa.ForeignKey("licenses.id"), nullable=False),
        sa.Column("identity", sa.String(32), nullable=False),
        sa.Column("old_status", sa.String(16), nullable=False),
        sa.Column("new_status", sa.String(16), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("changed_at", UTCDateTime, nullable=False),
        sa.Column("waiver_justification", sa.Text),
        sa.Column("waiver_expires_at", UTCDateTime),
    )
    op.create_index("ix_finding_changes_identity", "finding_changes",
                    ["license_id", "identity"])
    op.create_table(
        "idempotency_keys",
        sa.Column("license_id", sa.Integer, sa.ForeignKey("licenses.id"), primary_key=True),
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("request_sha256", sa.String(64), nullable=False),
        sa.Column("response", Json, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "rule_versions",
        sa.Column("id", Id, primary_key=True),
        sa.Column("rule_id", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("yaml", sa.Text, nullable=False),
        sa.Column("published_at", UTCDateTime, nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.UniqueConstraint("rule_id", "version", name="uq_rule_versions_rule_version"),
    )


def downgrade() -> None:
    op.drop_table("rule_versions")
    op.drop_table("idempotency_keys")
    op.drop_index("ix_finding_changes_identity", "finding_changes")
    op.drop_table("finding_changes")
    op.drop_table("finding_states")
    op.drop_table("api_tokens")
