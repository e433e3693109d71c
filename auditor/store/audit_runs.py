"""Stored audit runs: the report as first produced, and its findings for querying."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Engine, select

from auditor.domain.errors import NotFound
from auditor.domain.findings import Finding
from auditor.domain.trail import Change
from auditor.store.engine import WRITE
from auditor.store.schema import audit_runs, findings, licenses
from auditor.store.trail_sql import record


class SqlAuditRuns:
    """Keeps audit runs; a stored run is never changed."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def save(self, report: dict[str, Any], found: Sequence[Finding], created_at: datetime) -> None:
        """Store a run's report (its documented JSON) and each finding, in one transaction."""
        run_id = report["run_id"]
        with self.engine.connect().execution_options(**WRITE) as conn, conn.begin():
            license_id = conn.scalar(select(licenses.c.id).where(
                licenses.c.number == report["license"]))
            conn.execute(audit_runs.insert(), {
                "id": run_id, "license_id": license_id, "pack_id": report["pack"]["id"],
                "pack_version": report["pack"]["version"], "pack_hash": report["pack"]["hash"],
                "period_start": date.fromisoformat(report["period"]["from"]),
                "period_end": date.fromisoformat(report["period"]["to"]),
                "created_at": created_at, "readiness_score": report["readiness_score"],
                "report": report})
            if found:
                conn.execute(findings.insert(), [{
                    "run_id": run_id, "identity": f.identity, "rule_id": f.rule_id,
                    "rule_version": f.rule_version, "severity": f.severity.value,
                    "occurred_at": f.occurred_at, "package_label": f.package_label,
                    "subject": f.subject, "message": f.message, "evidence": list(f.evidence),
                } for f in found])
            record(conn, Change("audit.run", "audit_run", run_id, report["license"], None, {
                "period": report["period"], "pack": report["pack"], "findings": len(found),
                "readiness_score": report["readiness_score"]}))

    def list(self, license_number: str) -> list[dict[str, Any]]:
        """Return a license's runs, newest first, as summaries."""
        query = (select(audit_runs.c.id, audit_runs.c.created_at, audit_runs.c.period_start,
                        audit_runs.c.period_end, audit_runs.c.pack_id,
                        audit_runs.c.pack_version, audit_runs.c.readiness_score)
                 .join(licenses, licenses.c.id == audit_runs.c.license_id)
                 .where(licenses.c.number == license_number)
                 .order_by(audit_runs.c.created_at.desc()))
        with self.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]

    def get(self, run_id: str) -> dict[str, Any]:
        """Return a run's report exactly as it was produced."""
        with self.engine.connect() as conn:
            report = conn.scalar(select(audit_runs.c.report).where(audit_runs.c.id == run_id))
        if report is None:
            raise NotFound(f"no audit run {run_id!r}: `auditor audits list --license LIC` "
                           "lists the runs")
        return dict(report)
