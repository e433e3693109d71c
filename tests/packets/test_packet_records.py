"""SQL packet records on SQLite and PostgreSQL, with the guards migration 0006 installs."""

from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa

from auditor.domain.errors import Conflict
from auditor.services.report_ports import PacketVersion
from auditor.store.packet_records import SqlPacketRecords
from auditor.store.schema import audit_runs, licenses

WHEN = datetime(2026, 2, 1, tzinfo=UTC)


@pytest.fixture
def records(sql_store) -> SqlPacketRecords:
    engine = sql_store.engine
    with engine.begin() as conn:
        license_id = conn.scalar(sa.select(licenses.c.id))
        conn.execute(audit_runs.insert(), {
            "id": "r1", "license_id": license_id, "pack_id": "p", "pack_version": 1,
            "pack_hash": "h", "period_start": date(2026, 1, 1), "period_end": date(2026, 1, 7),
            "created_at": WHEN, "readiness_score": 90, "report": {}})
    return SqlPacketRecords(engine)


def _packet(version: int = 1, sha: str = "a", final: datetime | None = None) -> PacketVersion:
    return PacketVersion("r1", version, sha * 64, {"logs": [sha]}, WHEN, "me", "why", [], final)


def test_a_draft_is_replaced_until_it_is_final_then_only_amended(records):
    records.save_draft(_packet(sha="a"))
    records.save_draft(_packet(sha="b"))
    assert [(v.version, v.sha256[0], v.content) for v in records.versions("r1")] == \
        [(1, "b", {"logs": ["b"]})]
    records.finalize("r1", 1, WHEN)
    with pytest.raises(Conflict):
        records.save_draft(_packet(sha="c"))
    with pytest.raises(Conflict):
        records.finalize("r1", 1, WHEN)
    with pytest.raises(Conflict):
        records.add_version(_packet(3, "d", WHEN))
    records.add_version(_packet(2, "d", WHEN))
    assert [(v.version, v.sha256[0], v.finalized_at) for v in records.versions("r1")] == \
        [(1, "b", WHEN), (2, "d", WHEN)]


@pytest.mark.parametrize("statement", ["UPDATE packet_versions SET sha256 = 'x'",
                                       "DELETE FROM packet_versions"])
def test_the_database_refuses_to_alter_a_final_version(records, statement):
    records.save_draft(_packet())
    records.finalize("r1", 1, WHEN)
    with pytest.raises(sa.exc.DatabaseError), records.engine.begin() as conn:
        conn.exec_driver_sql(statement)
    assert records.versions("r1")[0].sha256 == "a" * 64
