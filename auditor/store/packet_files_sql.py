"""Rendered packet files in SQL, beside the packet versions they render.

The bytes live in the store of record rather than in files under a data folder: the
API and its workers may run on several machines that share only the database, a backup
of the database is then a backup of every packet handed out, and a file is stored in
the same transaction that names it, so no row can point at a file that is missing.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import IntegrityError

from auditor.services.job_ports import PacketFile
from auditor.store.engine import WRITE
from auditor.store.jobs_schema import packet_files as pf
from auditor.store.schema import packet_versions as pv


class SqlPacketFiles:
    """PacketFiles on a SQLAlchemy engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def newest(self, run_id: str, fmt: str) -> PacketFile | None:
        """Return the file of the run's newest packet version in fmt, if it was rendered."""
        newest = (select(pv.c.version, pv.c.sha256, pv.c.finalized_at)
                  .where(pv.c.run_id == run_id).order_by(pv.c.version.desc()).limit(1)
                  .subquery())
        query = (select(pf, newest.c.finalized_at).join(
            newest, (pf.c.version == newest.c.version)
            & (pf.c.packet_sha256 == newest.c.sha256))
            .where(pf.c.run_id == run_id, pf.c.format == fmt))
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return _file(row, row.finalized_at is not None) if row else None

    def put(self, run_id: str, version: int, packet_sha256: str, fmt: str, data: bytes,
            at: datetime) -> PacketFile:
        """Keep a rendering (the first one stored wins) and return it."""
        try:
            with self.engine.connect().execution_options(**WRITE) as conn, conn.begin():
                conn.execute(insert(pf), {
                    "run_id": run_id, "version": version, "packet_sha256": packet_sha256,
                    "format": fmt, "sha256": hashlib.sha256(data).hexdigest(),
                    "size": len(data), "data": data, "created_at": at})
        except IntegrityError:
            pass  # rendered meanwhile by another runner: same content, keep the first
        query = (select(pf, pv.c.finalized_at).join(
            pv, (pv.c.run_id == pf.c.run_id) & (pv.c.version == pf.c.version))
            .where(pf.c.run_id == run_id, pf.c.version == version,
                   pf.c.packet_sha256 == packet_sha256, pf.c.format == fmt))
        with self.engine.connect() as conn:
            row = conn.execute(query).one()
        return _file(row, row.finalized_at is not None)


def _file(row: Any, final: bool) -> PacketFile:
    return PacketFile(row.run_id, row.version, row.packet_sha256, row.format, row.sha256,
                      final, row.created_at, bytes(row.data))
