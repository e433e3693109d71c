"""Organizations (tenants) own licenses, tokens and rule versions; existing ones go to default."""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from auditor.store.schema import UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

DEFAULT_ID = "1"  # the organization every row created before 0008 belongs to


def upgrade() -> None:
    organizations = op.create_table(
        "organizations",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    # The first row of a new table gets id 1 on both databases, and leaves PostgreSQL's
    # sequence past it (an explicit id would not).
    op.bulk_insert(organizations, [{"name": "default", "created_at": datetime.now(UTC)}])
    # SQLite cannot add a column with a REFERENCES clause and a non-null default, and
    # rebuilding `licenses` would cascade through every event; the key is checked in code
    # there, and by a foreign key on PostgreSQL.
    for table in ("licenses", "api_tokens", "rule_versions"):
        op.add_column(table, sa.Column("organization_id", sa.Integer, nullable=False,
                                       server_default=DEFAULT_ID))
        if op.get_bind().dialect.name == "postgresql":
            op.create_foreign_key(f"fk_{table}_organization", table, "organizations",
                                  ["organization_id"], ["id"])
    with op.batch_alter_table("rule_versions") as batch:
        batch.drop_constraint("uq_rule_versions_rule_version", type_="unique")
        batch.create_unique_constraint("uq_rule_versions_org_rule_version",
                                       ["organization_id", "rule_id", "version"])


def downgrade() -> None:
    with op.batch_alter_table("rule_versions") as batch:
        batch.drop_constraint("uq_rule_versions_org_rule_version", type_="unique")
        batch.create_unique_constraint("uq_rule_versions_rule_version", ["rule_id", "version"])
    for table in ("rule_versions", "api_tokens", "licenses"):
        if op.get_bind().dialect.name == "postgresql":
            op.drop_constraint(f"fk_{table}_organization", table, type_="foreignkey")
        op.drop_column(table, "organization_id")  # SQLite 3.35+ drops a column in place
    op.drop_table("organizations")
