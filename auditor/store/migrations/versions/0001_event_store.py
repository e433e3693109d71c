"""Event store: licenses, imports and the append-only events table."""

import sqlalchemy as sa
from alembic import op

from auditor.store.schema import Id, Json, UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

SQLITE_GUARDS = [
    f"CREATE TRIGGER events_no_{verb.lower()} BEFORE {verb} ON events "
    "BEGIN SELECT RAISE(ABORT, 'events are append-only: record a correction as a new event'); END"
    for verb in ("UPDATE", "DELETE")
]
POSTGRES_GUARDS = [
    """CREATE FUNCTION auditor_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN RAISE EXCEPTION '% is append-only: record a correction as a new event',
       TG_TABLE_NAME; END $$""",
    "CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events "
    "FOR EACH ROW EXECUTE FUNCTION auditor_refuse_change()",
    "CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events "
    "FOR EACH STATEMENT EXECUTE FUNCTION auditor_refuse_change()",
]


def upgrade() -> None:
    op.create_table(
        "licenses",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("number", sa.String(64), nullable=False, unique=True),
        sa.Column("state", sa.String(2), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("business_name", sa.String(200), nullable=False),
        sa.Column("sales_floor_locations", Json, nullable=False),
        sa.Column("vault_locations", Json, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "imports",
        sa.Column("id", Id, primary_key=True),
        sa.Column("license_id", sa.Integer, sa.ForeignKey("licenses.id"), nullable=False),
        sa.Column("format", sa.String(40), nullable=False),
        sa.Column("source_name", sa.String(500), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("started_at", UTCDateTime, nullable=False),
        sa.Column("finished_at", UTCDateTime),
        *(sa.Column(name, sa.Integer, nullable=False) for name in
          ("rows_read", "accepted", "duplicates", "rejected", "events_added")),
        sa.Column("rejections", Json, nullable=False),
        sa.Column("ignored_fields", Json, nullable=False),
    )
    op.create_table(
        "events",
        sa.Column("id", Id, primary_key=True),
        sa.Column("license_id", sa.Integer, sa.ForeignKey("licenses.id"), nullable=False),
        sa.Column("type", sa.String(40), nullable=False),
        sa.Column("occurred_at", UTCDateTime, nullable=False),
        sa.Column("natural_key", sa.Text, nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("package_label", sa.String(64)),
        sa.Column("reference", sa.String(200)),
        sa.Column("source", sa.String(40), nullable=False),
        sa.Column("import_id", Id, sa.ForeignKey("imports.id"), nullable=False),
        sa.Column("recorded_at", UTCDateTime, nullable=False),
        sa.Column("payload", Json, nullable=False),
        sa.UniqueConstraint("license_id", "natural_key", name="uq_events_license_key"),
    )
    op.create_index("ix_events_license_type_time", "events",
                    ["license_id", "type", "occurred_at"])
    op.create_index("ix_events_license_label_time", "events",
                    ["license_id", "package_label", "occurred_at"])
    op.create_index("ix_events_license_reference", "events", ["license_id", "reference"])
    guards = SQLITE_GUARDS if op.get_bind().dialect.name == "sqlite" else POSTGRES_GUARDS
    for statement in guards:
        op.execute(statement)


def downgrade() -> None:
    op.drop_table("events")
    op.drop_table("imports")
    op.drop_table("licenses")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION auditor_refuse_change()")
