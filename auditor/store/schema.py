"""Tables of the event store. Times are stored in UTC and come back tz-aware."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB

from auditor.domain.events import canonical_json, require_aware


def sqlite_timestamp(value: datetime) -> str:
    """Return an aware time as SQLAlchemy stores DateTime on SQLite: naive UTC text."""
    # The first 26 characters of the UTC time's text are the naive text: one call, not two.
    return require_aware(value).isoformat(" ", "microseconds")[:26]


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that refuses naive datetimes and always reads back in UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> datetime | None:
        """Refuse a naive datetime; store an aware one as UTC."""
        if value is None:
            return None
        aware = require_aware(value)
        # SQLite keeps no zone: store naive UTC there, aware UTC elsewhere.
        return aware.replace(tzinfo=None) if dialect.name == "sqlite" else aware

    def process_result_value(self, value: Any, dialect: Any) -> datetime | None:
        """Return stored times as aware UTC."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class EventPayload(TypeDecorator[Any]):
    """An event's JSON payload: jsonb on PostgreSQL, JSON text on SQLite.

    The store writes the text the event already serialised for its fingerprint,
    which saves serialising every payload twice on import.
    """

    impl = Text
    cache_ok = True

    def load_dialect_impl(self, dialect: Any) -> Any:
        """Use jsonb on PostgreSQL and plain text elsewhere."""
        return dialect.type_descriptor(JSONB() if dialect.name == "postgresql" else Text())

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        """Pass JSON text through on SQLite; serialise a dict there canonically."""
        if dialect.name == "postgresql":
            return json.loads(value) if isinstance(value, str) else value
        return value if value is None or isinstance(value, str) else canonical_json(value)

    def process_result_value(self, value: Any, dialect: Any) -> Any:
        """Return the payload as a dict (PostgreSQL's jsonb arrives decoded already)."""
        return json.loads(value) if isinstance(value, str) else value


Json = JSON().with_variant(JSONB(), "postgresql")
Id = BigInteger().with_variant(Integer(), "sqlite")  # SQLite autoincrements only INTEGER keys

metadata = MetaData()

# Organizations (migration 0009): the tenants that own licenses, tokens and rule versions.
organizations = Table(
    "organizations", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("created_at", UTCDateTime, nullable=False),
)
DEFAULT_ORGANIZATION_ID = 1  # every license, token and rule version from before 0009

licenses = Table(
    "licenses", metadata,
    Column("id", Integer, primary_key=True),
    Column("number", String(64), nullable=False, unique=True),
    Column("state", String(2), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("business_name", String(200), nullable=False, default=""),
    Column("sales_floor_locations", Json, nullable=False),
    Column("vault_locations", Json, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("organization_id", Integer, ForeignKey("organizations.id"), nullable=False),
)

imports = Table(
    "imports", metadata,
    Column("id", Id, primary_key=True),
    Column("license_id", Integer, ForeignKey("licenses.id"), nullable=False),
    Column("format", String(40), nullable=False),
    Column("source_name", String(500), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("status", String(20), nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime),
    Column("rows_read", Integer, nullable=False, default=0),
    Column("accepted", Integer, nullable=False, default=0),
    Column("duplicates", Integer, nullable=False, default=0),
    Column("rejected", Integer, nullable=False, default=0),
    Column("events_added", Integer, nullable=False, default=0),
    Column("rejections", Json, nullable=False),
    Column("ignored_fields", Json, nullable=False),
    # Migration 0012: a running import's last sign of life, and why it failed.
    Column("heartbeat_at", UTCDateTime),
    Column("error", Text),
)

events = Table(
    "events", metadata,
    Column("id", Id, primary_key=True),
    Column("license_id", Integer, ForeignKey("licenses.id"), nullable=False),
    Column("type", String(40), nullable=False),
    Column("occurred_at", UTCDateTime, nullable=False),
    Column("natural_key", Text, nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("package_label", String(64)),
    Column("reference", String(200)),
    Column("source", String(40), nullable=False),
    Column("import_id", Id, ForeignKey("imports.id"), nullable=False),
    Column("recorded_at", UTCDateTime, nullable=False),
    Column("payload", EventPayload, nullable=False),  # JSON (SQLite) / jsonb (PostgreSQL)
    UniqueConstraint("license_id", "natural_key", name="uq_events_license_key"),
    Index("ix_events_license_type_time", "license_id", "type", "occurred_at"),
    Index("ix_events_license_label_type_time", "license_id", "package_label", "type",
          "occurred_at"),
    Index("ix_events_license_reference_type", "license_id", "reference", "type"),
)

audit_runs = Table(
    "audit_runs", metadata,
    Column("id", String(32), primary_key=True),
    Column("license_id", Integer, ForeignKey("licenses.id"), nullable=False),
    Column("pack_id", String(64), nullable=False),
    Column("pack_version", Integer, nullable=False),
    Column("pack_hash", String(64), nullable=False),
    Column("period_start", Date, nullable=False),
    Column("period_end", Date, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("readiness_score", Integer, nullable=False),
    Column("report", Json, nullable=False),  # the report exactly as first produced
)

findings = Table(
    "findings", metadata,
    Column("id", Id, primary_key=True),
    Column("run_id", String(32), ForeignKey("audit_runs.id"), nullable=False),
    Column("identity", String(32), nullable=False),
    Column("rule_id", String(64), nullable=False),
    Column("rule_version", Integer, nullable=False),
    Column("severity", String(10), nullable=False),
    Column("occurred_at", UTCDateTime, nullable=False),
    Column("package_label", String(64)),
    Column("subject", String(200)),
    Column("message", Text, nullable=False),
    Column("evidence", Json, nullable=False),
    UniqueConstraint("run_id", "identity", name="uq_findings_run_identity"),
)

continuous_findings = Table(
    "continuous_findings", metadata,
    Column("id", Id, primary_key=True),
    Column("license_id", Integer, ForeignKey("licenses.id"), nullable=False),
    Column("identity", String(32), nullable=False),
    Column("rule_id", String(64), nullable=False),
    Column("rule_version", Integer, nullable=False),
    Column("pack_id", String(64), nullable=False),
    Column("pack_hash", String(64), nullable=False),
    Column("severity", String(10), nullable=False),
    Column("occurred_at", UTCDateTime, nullable=False),
    Column("package_label", String(64)),
    Column("subject", String(200)),
    Column("message", Text, nullable=False),
    Column("evidence", Json, nullable=False),
    Column("status", String(16), nullable=False),  # open, remedied
    Column("detected_at", UTCDateTime, nullable=False),
    Column("due_at", UTCDateTime),  # deadline of a requires_within obligation
    Column("remedied_at", UTCDateTime),  # event time of the late fulfilment
    Column("remedy_event_id", Id),
    UniqueConstraint("license_id", "identity", name="uq_continuous_findings_identity"),
    Index("ix_continuous_findings_license_status", "license_id", "status"),
)

alert_outbox = Table(
    # A new critical or high continuous finding, written in the finding's transaction and
    # sent to the configured webhook until it is delivered (one row per finding, ever).
    "alert_outbox", metadata,
    Column("id", Id, primary_key=True),
    Column("license_id", Integer, ForeignKey("licenses.id"), nullable=False),
    Column("identity", String(32), nullable=False),
    Column("payload", Json, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("delivered_at", UTCDateTime),
    Column("last_error", Text),
    UniqueConstraint("license_id", "identity", name="uq_alert_outbox_identity"),
    Index("ix_alert_outbox_due", "delivered_at", "next_attempt_at"),
)

worker_checkpoints = Table(
    "worker_checkpoints", metadata,
    Column("partition", String(200), primary_key=True),
    Column("last_event_id", Id, nullable=False),
    Column("watermark", UTCDateTime),
    Column("pack_hash", String(64), nullable=False),
    Column("events_processed", Id, nullable=False),
    Column("working_memory", Integer, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

packet_versions = Table(
    "packet_versions", metadata,
    Column("id", Id, primary_key=True),
    Column("run_id", String(32), ForeignKey("audit_runs.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("sha256", String(64), nullable=False),  # of the canonical content
    Column("content", Json, nullable=False),  # the packet's canonical content
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("reason", Text, nullable=False),
    Column("changes", Json, nullable=False),
    Column("finalized_at", UTCDateTime),  # set once; a final version never changes
    UniqueConstraint("run_id", "version", name="uq_packet_versions_run_version"),
)

# The HTTP API (migration 0005): tokens, finding lifecycle, idempotent uploads.
api_tokens = Table(
    "api_tokens", metadata,
    Column("id", Id, primary_key=True),
    Column("secret_sha256", String(64), nullable=False, unique=True),  # never the secret
    Column("role", String(32), nullable=False),
    Column("licenses", Json, nullable=False),  # license numbers the token may see
    Column("label", String(200), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime),
    Column("organization_id", Integer, ForeignKey("organizations.id"), nullable=False),
)

# Console users (migration 0013): signed in by email and password, scoped like tokens.
users = Table(
    "users", metadata,
    Column("id", Id, primary_key=True),
    Column("organization_id", Integer, ForeignKey("organizations.id"), nullable=False),
    Column("email", String(254), nullable=False, unique=True),  # stored lower-cased
    Column("password_hash", String(255), nullable=False),  # werkzeug scrypt, never the password
    Column("role", String(32), nullable=False),
    Column("licenses", Json, nullable=False),  # license numbers the user may see
    Column("created_at", UTCDateTime, nullable=False),
    Column("disabled_at", UTCDateTime),
)

finding_states = Table(
    "finding_states", metadata,
    Column("license_id", Integer, ForeignKey("licenses.id"), primary_key=True),
    Column("identity", String(32), primary_key=True),  # stable across reruns
    Column("status", String(16), nullable=False),  # open, acknowledged, resolved, waived
    Column("revision", Integer, nullable=False),
    Column("note", Text, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("changed_at", UTCDateTime, nullable=False),
    Column("waiver_justification", Text),
    Column("waiver_expires_at", UTCDateTime),
)

finding_changes = Table(
    "finding_changes", metadata,
    Column("id", Id, primary_key=True),
    Column("license_id", Integer, ForeignKey("licenses.id"), nullable=False),
    Column("identity", String(32), nullable=False),
    Column("old_status", String(16), nullable=False),
    Column("new_status", String(16), nullable=False),
    Column("note", Text, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("changed_at", UTCDateTime, nullable=False),
    Column("waiver_justification", Text),
    Column("waiver_expires_at", UTCDateTime),
    Index("ix_finding_changes_identity", "license_id", "identity"),
)

idempotency_keys = Table(
    "idempotency_keys", metadata,
    Column("license_id", Integer, ForeignKey("licenses.id"), primary_key=True),
    Column("key", String(200), primary_key=True),
    Column("request_sha256", String(64), nullable=False),
    Column("response", Json, nullable=False),  # {} while pending
    Column("created_at", UTCDateTime, nullable=False),  # when reserved (or taken over)
    Column("status", String(16), nullable=False),  # pending, then done (migration 0009)
)

rule_versions = Table(
    "rule_versions", metadata,
    Column("id", Id, primary_key=True),
    Column("rule_id", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("yaml", Text, nullable=False),  # the rule file as published
    Column("published_at", UTCDateTime, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("organization_id", Integer, ForeignKey("organizations.id"), nullable=False),
    UniqueConstraint("organization_id", "rule_id", "version",
                     name="uq_rule_versions_org_rule_version"),
)

# The audit trail (migration 0007): hash-chained, append-only; see auditor/domain/trail.py.
# Every column but seq is text, so the stored bytes are the very bytes the hash covers.
audit_trail = Table(
    "audit_trail", metadata,
    Column("seq", Id, primary_key=True, autoincrement=False),
    Column("at", String(32), nullable=False),  # ISO-8601 UTC text, as hashed
    Column("actor", Text, nullable=False),
    Column("action", String(64), nullable=False),
    Column("entity_type", String(64), nullable=False),
    Column("entity_id", Text, nullable=False),
    Column("license", String(64)),
    Column("old", Text, nullable=False),  # canonical JSON
    Column("new", Text, nullable=False),  # canonical JSON
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Column("mac", String(64)),  # HMAC-SHA256 under a key kept outside the database
)

# METRC sync checkpoints (migration 0008): how far each endpoint has been pulled.
metrc_sync_state = Table(
    "metrc_sync_state", metadata,
    Column("license_id", Integer, ForeignKey("licenses.id"), primary_key=True),
    Column("endpoint", String(64), primary_key=True),
    Column("synced_through", UTCDateTime),  # end of the last window stored completely
    Column("status", String(16), nullable=False),
    Column("error", Text),
    Column("last_run", Json, nullable=False),  # the EndpointRun of the latest sync
    Column("updated_at", UTCDateTime, nullable=False),
)
