"""Indexes shaped for the rules: a package's (or a receipt's) events of one type.

Rules look up "the METRC sale lines of this package" or "the POS lines of this
receipt"; with the type inside the index they read only those rows instead of every
event of the package (hundreds, for a busy product).
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_events_license_label_time", "events")
    op.drop_index("ix_events_license_reference", "events")
    op.create_index("ix_events_license_label_type_time", "events",
                    ["license_id", "package_label", "type", "occurred_at"])
    op.create_index("ix_events_license_reference_type", "events",
                    ["license_id", "reference", "type"])


def downgrade() -> None:
    op.drop_index("ix_events_license_reference_type", "events")
    op.drop_index("ix_events_license_label_type_time", "events")
    op.create_index("ix_events_license_label_time", "events",
                    ["license_id", "package_label", "occurred_at"])
    op.create_index("ix_events_license_reference", "events", ["license_id", "reference"])
