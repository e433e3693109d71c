"""The continuous worker's tables: events read in id order, findings and checkpoints.

A worker's findings and its checkpoint are written in one transaction; findings are
inserted only when their (license, identity) is new, so a replay after a crash adds
nothing twice.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, and_, func, select, update
from sqlalchemy.exc import IntegrityError

from auditor.domain.events import StreamEvent
from auditor.services.worker_ports import Checkpoint, Withdrawal, Written
from auditor.store.alerts_sql import ALERTED, queue_alert
from auditor.store.schema import continuous_findings, events, licenses, worker_checkpoints
from auditor.store.settle_sql import SettleQueries, bound_page_cache


class ContinuousStore(SettleQueries):
    """Reads events for the worker and writes its findings and checkpoints (a WorkerStore)."""

    def __init__(self, engine: Engine, alerts: bool = False) -> None:
        """Use the event store's SQLAlchemy engine; with alerts, queue each new critical
        or high finding in the alert outbox, in the finding's own transaction."""
        self.engine = engine
        self.alerts = alerts
        bound_page_cache(engine)  # memory bounded by the working set, not the history

    def license_ids(self, numbers: Sequence[str]) -> dict[str, int]:
        """Return the ids of the given license numbers."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(licenses.c.number, licenses.c.id)
                                .where(licenses.c.number.in_(list(numbers)))).all()
        return {row.number: row.id for row in rows}

    def read_events(self, license_ids: Sequence[int], after: int,
                    limit: int) -> list[tuple[int, StreamEvent]]:
        """Return up to limit events of the licenses with id > after, in id order."""
        query = (select(events.c.id, events.c.license_id, events.c.type, events.c.occurred_at,
                        events.c.package_label, events.c.reference, events.c.payload)
                 # `+ 0` keeps the planners off the license indexes, which would fetch a
                 # license's whole history and sort it; this walks the ids after `after`.
                 .where((events.c.license_id + 0).in_(list(license_ids)), events.c.id > after)
                 .order_by(events.c.id).limit(limit))
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [(row.license_id, StreamEvent(
            row.id, row.type, row.occurred_at, row.package_label, row.reference,
            json.loads(row.payload) if isinstance(row.payload, str) else row.payload))
            for row in rows]

    def commit(self, found: Sequence[Written | Withdrawal],
               checkpoint: Checkpoint | None) -> int:
        """Write findings (new identities only; a withdrawn one found again is reopened)
        and the checkpoint, if given, in one transaction."""
        added = 0
        with self.engine.begin() as conn:
            for item in found:
                if isinstance(item, Withdrawal):
                    conn.execute(update(continuous_findings).where(
                        continuous_findings.c.license_id == item.license_id,
                        continuous_findings.c.identity == item.identity)
                        .values(status="withdrawn"))
                    continue
                if item.status in ("withdrawn", "remedied"):
                    changed = conn.execute(update(continuous_findings).where(
                        continuous_findings.c.license_id == item.license_id,
                        continuous_findings.c.identity == item.finding.identity)
                        .values(status=item.status, remedied_at=item.remedied_at,
                                **_late_message(item))).rowcount
                    if changed or item.status == "withdrawn":
                        continue  # a finding first seen remedied (its remedy stored) is new
                added += _insert_new(conn, item, datetime.now(UTC), self.alerts)
            if checkpoint is not None:
                _save_checkpoint(conn, checkpoint)
        return added

    def checkpoint(self, partition: str) -> Checkpoint | None:
        """Return the partition's last checkpoint, or None before its first commit."""
        with self.engine.connect() as conn:
            row = conn.execute(select(worker_checkpoints).where(
                worker_checkpoints.c.partition == partition)).first()
        return None if row is None else Checkpoint(**row._mapping)

    def findings(self, license_id: int, status: str | Sequence[str] | None = None,
                 start: datetime | None = None,
                 end: datetime | None = None) -> list[dict[str, Any]]:
        """Return a license's continuous findings, oldest first: of one status or several,
        and that occurred in [start, end) when given."""
        query = select(continuous_findings).where(continuous_findings.c.license_id == license_id)
        if status:
            statuses = [status] if isinstance(status, str) else list(status)
            query = query.where(continuous_findings.c.status.in_(statuses))
        if start is not None:
            query = query.where(continuous_findings.c.occurred_at >= start)
        if end is not None:
            query = query.where(continuous_findings.c.occurred_at < end)
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(continuous_findings.c.occurred_at,
                                               continuous_findings.c.id)).all()
        return [dict(row._mapping) for row in rows]

    def count(self, license_id: int) -> int:
        """Return how many findings a license has (every status)."""
        with self.engine.connect() as conn:
            return int(conn.scalar(select(func.count()).where(
                continuous_findings.c.license_id == license_id)) or 0)


def _insert_new(conn: Any, item: Written, now: datetime, alert: bool) -> int:
    mine = and_(continuous_findings.c.license_id == item.license_id,
                continuous_findings.c.identity == item.finding.identity)
    status = conn.scalar(select(continuous_findings.c.status).where(mine))
    if status == "withdrawn":  # later data refuted it, and still later data supports it
        conn.execute(update(continuous_findings).where(mine).values(
            status=item.status, remedied_at=item.remedied_at, detected_at=now))
        return 1
    if status is not None:
        return 0
    f = item.finding
    try:
        with conn.begin_nested():  # a concurrent writer may win the unique key
            conn.execute(continuous_findings.insert(), {
                "license_id": item.license_id, "identity": f.identity, "rule_id": f.rule_id,
                "rule_version": f.rule_version, "pack_id": item.pack_id,
                "pack_hash": item.pack_hash, "severity": f.severity.value,
                "occurred_at": f.occurred_at, "package_label": f.package_label,
                "subject": f.subject, "message": f.message, "evidence": list(f.evidence),
                "status": item.status, "remedied_at": item.remedied_at, "detected_at": now})
    except IntegrityError:
        return 0
    if alert and f.severity.value in ALERTED:
        queue_alert(conn, item.license_id, f, now)
    return 1


def _save_checkpoint(conn: Any, checkpoint: Checkpoint) -> None:
    values = {k: getattr(checkpoint, k) for k in Checkpoint.__dataclass_fields__}
    changed = conn.execute(update(worker_checkpoints).where(
        worker_checkpoints.c.partition == checkpoint.partition).values(**values)).rowcount
    if not changed:
        conn.execute(worker_checkpoints.insert(), values)


def _late_message(item: Written) -> dict[str, Any]:
    """Return the new message of a finding remedied late: it now says late, not missing."""
    return {"message": item.finding.message} if item.status == "remedied" else {}
