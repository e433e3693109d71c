"""The audit trail on SQLite and PostgreSQL: appended with its change, and never altered."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, registry

from auditor.bootstrap import open_store
from auditor.domain.errors import UnknownLicense
from auditor.domain.license import License
from auditor.domain.trail import Change, acting_as, seal
from auditor.services.trail import verify_trail
from auditor.store import trail_sql
from auditor.store.schema import audit_trail
from auditor.store.trail_sql import SqlTrail
from tests.conftest import LICENSE

KEY = b"trail-key-kept-outside-the-database"
NEW = License("C10-0000999-LIC", "CA", "America/Los_Angeles", ("Sales Floor",), "New", ())


def newest(store):
    return SqlTrail(store.engine).entries()[-1]


def test_a_change_and_its_entry_commit_together(sql_store):
    with acting_as("token 3 (ana)"):
        sql_store.add_license(NEW)
    entry = newest(sql_store)
    assert (entry.action, entry.entity_type, entry.entity_id, entry.license) == \
        ("license.add", "license", NEW.number, NEW.number)
    assert entry.actor == "token 3 (ana)" and entry.at.endswith("Z")
    assert entry.as_json()["new"]["state"] == "CA" and entry.as_json()["old"] is None
    assert verify_trail(SqlTrail(sql_store.engine)).ok


def test_when_the_trail_write_fails_the_change_rolls_back(sql_store, monkeypatch):
    before = SqlTrail(sql_store.engine).head()

    def off_the_chain(*args, **kwargs):  # an entry the database's insert guard refuses
        return replace(seal(*args, **kwargs), prev_hash="f" * 64)

    monkeypatch.setattr(trail_sql, "seal", off_the_chain)
    with pytest.raises(sa.exc.DatabaseError):
        sql_store.add_license(NEW)
    with pytest.raises(UnknownLicense):
        sql_store.get_license(NEW.number)
    assert SqlTrail(sql_store.engine).head() == before


def test_concurrent_writers_extend_one_chain(sql_store):
    trail, errors = SqlTrail(sql_store.engine), []

    def write(n: int) -> None:
        try:
            for i in range(5):
                trail.record(Change("test.write", "thread", f"{n}-{i}"))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    verdict = verify_trail(trail)
    assert verdict.ok and verdict.entries == 1 + 30  # the test license, then the writes


def test_with_a_key_every_entry_carries_a_mac_that_only_that_key_verifies(sql_settings,
                                                                          tmp_path: Path):
    (tmp_path / "key").write_bytes(KEY)
    store = open_store(replace(sql_settings, trail_key_file=tmp_path / "key"), migrate=True)
    store.add_license(LICENSE)
    trail = SqlTrail(store.engine)
    assert trail.entries()[0].mac
    assert verify_trail(trail, KEY).ok
    assert verify_trail(trail, b"another-key-of-enough-length").broken_seq == 1
    store.engine.dispose()


def mutations(dialect: str) -> dict[str, str]:
    first = "(SELECT min(seq) FROM audit_trail)"
    paths = {"UPDATE": "UPDATE audit_trail SET actor = 'mallory'",
             "DELETE": "DELETE FROM audit_trail",
             "DELETE one": f"DELETE FROM audit_trail WHERE seq = {first}",
             "INSERT copy": "INSERT INTO audit_trail SELECT seq + 1000, at, actor, action, "
                            "entity_type, entity_id, license, old, new, prev_hash, hash, mac "
                            "FROM audit_trail"}
    if dialect == "sqlite":
        paths["INSERT OR REPLACE"] = ("INSERT OR REPLACE INTO audit_trail SELECT seq, at, "
                                      "'mallory', action, entity_type, entity_id, license, old,"
                                      " new, prev_hash, hash, mac FROM audit_trail")
        paths["REPLACE"] = paths["INSERT OR REPLACE"].replace("INSERT OR REPLACE", "REPLACE")
    else:
        paths["INSERT ON CONFLICT UPDATE"] = (
            "INSERT INTO audit_trail SELECT * FROM audit_trail "
            "ON CONFLICT (seq) DO UPDATE SET actor = 'mallory'")
        paths["TRUNCATE"] = "TRUNCATE audit_trail"
    return paths


@pytest.mark.reliability
def test_no_sql_mutation_path_alters_the_trail(sql_store, figure):
    trail = SqlTrail(sql_store.engine)
    sql_store.add_license(NEW)
    before = [entry.row() for entry in trail.entries()]
    paths = mutations(sql_store.engine.dialect.name)
    succeeded = []
    for name, statement in paths.items():
        try:
            with sql_store.engine.begin() as conn:
                conn.exec_driver_sql(statement)
            succeeded.append(name)
        except sa.exc.DatabaseError:
            pass
    orm = _orm_paths(sql_store.engine)
    succeeded += [name for name, ok in orm.items() if ok]
    figure(f"trail: mutation paths that succeeded ({sql_store.engine.dialect.name})",
           len(succeeded), of=len(paths) + len(orm))
    assert succeeded == []
    assert [entry.row() for entry in trail.entries()] == before
    assert verify_trail(trail).ok


class _Row:
    """An ORM mapping of the trail, as an application bug or an attacker's script might use."""


def _orm_paths(engine: sa.Engine) -> dict[str, bool]:
    mapper = registry()
    mapper.map_imperatively(_Row, audit_trail)
    done = {}
    try:
        for name, act in (("ORM delete/flush", lambda s, row: s.delete(row)),
                          ("ORM update/flush", lambda s, row: setattr(row, "actor", "mallory")),
                          ("ORM merge/flush", lambda s, row: s.merge(_copy(row)))):
            with Session(engine) as session:
                row = session.scalars(sa.select(_Row).order_by(audit_trail.c.seq)).first()
                act(session, row)
                try:
                    session.commit()
                    done[name] = True
                except sa.exc.DatabaseError:
                    session.rollback()
                    done[name] = False
    finally:
        mapper.dispose()
    return done


def _copy(row: _Row) -> _Row:
    copy = _Row()
    for column in audit_trail.columns:
        setattr(copy, column.name, getattr(row, column.name))
    copy.actor = "mallory"  # type: ignore[attr-defined]
    return copy


def test_a_denied_request_style_record_stands_alone(sql_store):
    entry = SqlTrail(sql_store.engine).record(Change(
        "request.denied", "request", "GET /trail", None, None, {"status": 403}))
    assert newest(sql_store) == entry
    assert datetime.now(UTC).isoformat()[:10] == entry.at[:10]


def _drop_guards(conn: sa.Connection) -> None:
    """Do what an attacker owning the database can: switch the guards off."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("ALTER TABLE audit_trail DISABLE TRIGGER USER")
        return
    for name in ("audit_trail_no_update", "audit_trail_no_delete", "audit_trail_next_only"):
        conn.exec_driver_sql(f"DROP TRIGGER {name}")


@pytest.mark.parametrize("column", ["at", "actor", "action", "entity_type", "entity_id",
                                    "license", "old", "new", "prev_hash", "hash", "mac", "seq"])
def test_an_edit_of_any_column_with_the_guards_off_is_named(sql_settings, tmp_path, column):
    (tmp_path / "key").write_bytes(KEY)
    store = open_store(replace(sql_settings, trail_key_file=tmp_path / "key"), migrate=True)
    for license in (LICENSE, NEW, replace(NEW, number="C10-0000998-LIC")):
        store.add_license(license)
    value = {"seq": "seq + 10", "old": "'{\"status\":\"x\"}'",
             "at": "'2026-01-01T00:00:00.000000Z'", **{
                 hexed: f"'{'e' * 64}'" for hexed in ("prev_hash", "hash", "mac")}}
    try:
        with store.engine.begin() as conn:
            _drop_guards(conn)
            edited = value.get(column, f"{column} || 'x'")
            conn.exec_driver_sql(f"UPDATE audit_trail SET {column} = {edited} WHERE seq = 2")
        verdict = verify_trail(SqlTrail(store.engine), KEY)
    finally:
        store.engine.dispose()
    assert verdict.broken_seq == 2, (column, str(verdict))
