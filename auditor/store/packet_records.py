"""Packet versions in SQL: a draft is replaced until final; a final version never changes.

The adapter updates only rows whose `finalized_at` is null, and migration 0006 adds
triggers that refuse any UPDATE or DELETE of a final row, whoever attempts it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select

from auditor.domain.errors import Conflict
from auditor.domain.trail import Change
from auditor.services.report_ports import PacketVersion
from auditor.store.engine import WRITE
from auditor.store.schema import packet_versions as pv
from auditor.store.trail_sql import record, run_license

FINAL = "a final packet version never changes: record an amendment as a new version"
# Installed by migration 0006: the database itself refuses to alter a final version.
GUARDS = {
    "sqlite": [f"CREATE TRIGGER packet_versions_final_{verb.lower()} BEFORE {verb} ON "
               f"packet_versions WHEN OLD.finalized_at IS NOT NULL "
               f"BEGIN SELECT RAISE(ABORT, '{FINAL}'); END" for verb in ("UPDATE", "DELETE")],
    "postgresql": [
        f"""CREATE FUNCTION auditor_packet_final() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN IF OLD.finalized_at IS NOT NULL THEN RAISE EXCEPTION '{FINAL}'; END IF;
            IF TG_OP = 'DELETE' THEN RETURN OLD; END IF; RETURN NEW; END $$""",
        "CREATE TRIGGER packet_versions_final BEFORE UPDATE OR DELETE ON packet_versions "
        "FOR EACH ROW EXECUTE FUNCTION auditor_packet_final()",
        "CREATE TRIGGER packet_versions_no_truncate BEFORE TRUNCATE ON packet_versions "
        "FOR EACH STATEMENT EXECUTE FUNCTION auditor_refuse_change()"],
}


class SqlPacketRecords:
    """Keeps each run's packet versions with their SHA-256."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def versions(self, run_id: str) -> list[PacketVersion]:
        """Return a run's packet versions, oldest first."""
        query = select(pv).where(pv.c.run_id == run_id).order_by(pv.c.version)
        with self.engine.connect() as conn:
            return [PacketVersion(r.run_id, r.version, r.sha256, dict(r.content), r.created_at,
                                  r.created_by, r.reason, list(r.changes), r.finalized_at)
                    for r in conn.execute(query)]

    def save_draft(self, packet: PacketVersion) -> None:
        """Store or replace version 1 while it is not final."""
        with self.engine.connect().execution_options(**WRITE) as conn, conn.begin():
            replaced = conn.scalar(select(pv.c.sha256).where(pv.c.run_id == packet.run_id,
                                                             pv.c.version == 1))
            done = conn.execute(pv.update().where(pv.c.run_id == packet.run_id,
                                                  pv.c.version == 1,
                                                  pv.c.finalized_at.is_(None))
                                .values(**_row(packet)))
            if done.rowcount == 0:
                if conn.scalar(select(pv.c.id).where(pv.c.run_id == packet.run_id)):
                    raise Conflict(f"the packet of run {packet.run_id} is final")
                conn.execute(pv.insert(), _row(packet))
            record(conn, _change(conn, "packet.generate", packet.run_id, packet.version,
                                 {"sha256": packet.sha256},
                                 {"sha256": replaced} if replaced else None))

    def finalize(self, run_id: str, version: int, at: datetime) -> None:
        """Mark a version final; Conflict if it already is (or does not exist)."""
        with self.engine.connect().execution_options(**WRITE) as conn, conn.begin():
            done = conn.execute(pv.update().where(pv.c.run_id == run_id,
                                                  pv.c.version == version,
                                                  pv.c.finalized_at.is_(None))
                                .values(finalized_at=at))
            if done.rowcount != 1:
                raise Conflict(f"version {version} of run {run_id}'s packet is final or absent")
            sha256 = conn.scalar(select(pv.c.sha256).where(pv.c.run_id == run_id,
                                                           pv.c.version == version))
            record(conn, _change(conn, "packet.finalize", run_id, version,
                                 {"sha256": sha256, "finalized_at": at.isoformat()}))

    def add_version(self, packet: PacketVersion) -> None:
        """Append a final version; Conflict if the number is taken or skips one."""
        with self.engine.connect().execution_options(**WRITE) as conn, conn.begin():
            latest = conn.scalar(select(pv.c.version).where(pv.c.run_id == packet.run_id)
                                 .order_by(pv.c.version.desc()).limit(1))
            if (latest or 0) != packet.version - 1:
                raise Conflict(f"packet version {packet.version} of run {packet.run_id} "
                               "does not follow the latest")
            conn.execute(pv.insert(), _row(packet))
            record(conn, _change(conn, "packet.amend", packet.run_id, packet.version, {
                "sha256": packet.sha256, "reason": packet.reason, "changes": packet.changes}))


def _change(conn: Any, action: str, run_id: str, version: int, new: dict[str, Any],
            old: dict[str, Any] | None = None) -> Change:
    """Return the trail entry of a packet version stored, finalized or amended."""
    return Change(action, "packet", f"{run_id} v{version}", run_license(conn, run_id), old,
                  new)


def _row(packet: PacketVersion) -> dict[str, Any]:
    return {"run_id": packet.run_id, "version": packet.version, "sha256": packet.sha256,
            "content": packet.content, "created_at": packet.created_at,
            "created_by": packet.created_by, "reason": packet.reason,
            "changes": packet.changes, "finalized_at": packet.finalized_at}
