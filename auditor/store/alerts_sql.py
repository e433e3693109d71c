"""The alert outbox in SQL: queued with a new finding, then sent until delivered.

A row is written in the transaction that inserts its finding, so an alert exists if and
only if its finding was committed; it is unique on (license, identity), so a finding
withdrawn and found again, or re-found after a restart, is never alerted twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select, update
from sqlalchemy.exc import IntegrityError

from auditor.domain.findings import Finding
from auditor.services.alerts import Alert
from auditor.store.schema import alert_outbox

ALERTED = ("critical", "high")


def queue_alert(conn: Any, license_id: int, finding: Finding, now: datetime) -> None:
    """Queue the alert of a new finding, in the caller's transaction."""
    payload = {"id": f"{license_id}:{finding.identity}", "license_id": license_id,
               "identity": finding.identity, "rule_id": finding.rule_id,
               "rule_version": finding.rule_version, "severity": finding.severity.value,
               "occurred_at": finding.occurred_at.isoformat(),
               "package_label": finding.package_label, "subject": finding.subject,
               "message": finding.message, "evidence": list(finding.evidence)}
    try:
        with conn.begin_nested():
            conn.execute(alert_outbox.insert(), {
                "license_id": license_id, "identity": finding.identity, "payload": payload,
                "created_at": now, "attempts": 0, "next_attempt_at": now})
    except IntegrityError:
        pass  # already queued once: an alert is sent once per finding, ever


class SqlAlertOutbox:
    """The alert outbox of an event store (an AlertOutbox)."""

    def __init__(self, engine: Engine) -> None:
        """Use the event store's SQLAlchemy engine."""
        self.engine = engine

    def due(self, now: datetime, limit: int) -> list[Alert]:
        """Return up to limit undelivered alerts whose next attempt is due, oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(alert_outbox).where(
                alert_outbox.c.delivered_at.is_(None),
                alert_outbox.c.next_attempt_at <= now)
                .order_by(alert_outbox.c.id).limit(limit)).all()
        return [Alert(row.id, dict(row.payload), row.attempts) for row in rows]

    def delivered(self, alert_id: int, at: datetime) -> None:
        """Record that an alert was delivered."""
        with self.engine.begin() as conn:
            conn.execute(update(alert_outbox).where(alert_outbox.c.id == alert_id)
                         .values(delivered_at=at, attempts=alert_outbox.c.attempts + 1))

    def failed(self, alert_id: int, next_attempt_at: datetime, error: str) -> None:
        """Record a failed attempt and when to try again."""
        with self.engine.begin() as conn:
            conn.execute(update(alert_outbox).where(alert_outbox.c.id == alert_id).values(
                attempts=alert_outbox.c.attempts + 1, next_attempt_at=next_attempt_at,
                last_error=error[:1000]))
