"""METRC sync checkpoints on SQL, and the audit trail entry each sync leaves."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError

from auditor.domain.errors import UnknownLicense
from auditor.domain.trail import Change
from auditor.services.sync_ports import EndpointRun
from auditor.store.engine import WRITE
from auditor.store.schema import licenses, metrc_sync_state
from auditor.store.trail_sql import record

state = metrc_sync_state


class SqlSyncState:
    """SyncState on a SQLAlchemy engine: one row per license and endpoint."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def _license_id(self, conn: Any, number: str) -> int:
        found = conn.scalar(select(licenses.c.id).where(licenses.c.number == number))
        if found is None:
            raise UnknownLicense(number)
        return int(found)

    def checkpoint(self, license_number: str, endpoint: str) -> datetime | None:
        """Return the end of the last window pulled completely, or None."""
        with self.engine.connect() as conn:
            license_id = self._license_id(conn, license_number)
            return conn.scalar(select(state.c.synced_through).where(
                state.c.license_id == license_id, state.c.endpoint == endpoint))

    def advance(self, license_number: str, run: EndpointRun, at: datetime) -> None:
        """Store an endpoint's progress; the checkpoint only ever moves forward.

        A failed run keeps the checkpoint it had, and a re-pull of an older span (--since)
        leaves a later checkpoint where it is: what lies past it is stored already.
        """
        with self.engine.connect().execution_options(**WRITE) as conn, conn.begin():
            license_id = self._license_id(conn, license_number)
            where = (state.c.license_id == license_id, state.c.endpoint == run.endpoint)
            values: dict[str, Any] = {"status": run.status, "error": run.error,
                                      "last_run": run.as_json(), "updated_at": at}
            stored = conn.execute(select(state.c.synced_through).where(*where)).first()
            if run.synced_through is not None and (
                    stored is None or stored.synced_through is None
                    or run.synced_through > stored.synced_through):
                values["synced_through"] = run.synced_through
            if stored is None:
                try:  # two syncs of one license at once may both find no row
                    with conn.begin_nested():
                        conn.execute(state.insert().values(license_id=license_id,
                                                           endpoint=run.endpoint, **values))
                    return
                except IntegrityError:
                    pass
            conn.execute(state.update().where(*where).values(**values))

    def status(self, license_number: str) -> list[dict[str, Any]]:
        """Return each endpoint's stored state, ordered by endpoint."""
        with self.engine.connect() as conn:
            license_id = self._license_id(conn, license_number)
            rows = conn.execute(select(state).where(state.c.license_id == license_id)
                                .order_by(state.c.endpoint)).all()
        return [{"endpoint": r.endpoint, "status": r.status, "error": r.error,
                 "synced_through": r.synced_through.isoformat() if r.synced_through else None,
                 "updated_at": r.updated_at.isoformat(), "last_run": r.last_run}
                for r in rows]

    def finish(self, license_number: str, summary: dict[str, Any], at: datetime) -> None:
        """Record the sync in the audit trail: its window end and outcome per endpoint."""
        brief = {**summary, "endpoints": [
            {k: v for k, v in e.items() if k != "rejections"} for e in summary["endpoints"]]}
        with self.engine.connect().execution_options(**WRITE) as conn, conn.begin():
            record(conn, Change("metrc.sync", "license", license_number, license_number,
                                None, brief), at)
