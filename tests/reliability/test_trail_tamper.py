"""Tampering with the audit trail in the SQLite database file is always named by its entry.

The attacker owns the file: a store is built through the API with a trail key, then
for every trail row and every column one byte of the stored value is flipped in the
file's bytes, and rows are deleted, swapped and inserted with the guards dropped.
Verification must name exactly the entry touched.
"""

from __future__ import annotations

import io
import sqlite3
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from auditor.cli import main
from auditor.config import Settings
from auditor.domain.trail import STORED, Change, Entry, Head, Verdict, decode, seal, verify
from auditor.store.engine import make_engine
from auditor.store.trail_sql import SqlTrail
from tests.api.conftest import audit_run, auth, download, make_app, pos_csv
from tests.conftest import LICENSE

pytestmark = [pytest.mark.reliability, pytest.mark.slow]
KEY = b"a-trail-key-that-lives-outside-the-database"
TEXT_COLUMNS = STORED[1:]


@pytest.fixture(scope="module")
def tampered_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return a SQLite file whose trail holds a few dozen entries of real API changes."""
    folder = tmp_path_factory.mktemp("trail")
    (folder / "key").write_bytes(KEY)
    database = folder / "auditor.db"
    settings = Settings(database_url=f"sqlite:///{database}", trail_key_file=folder / "key")
    app, secrets = make_app(settings)
    client = app.test_client()
    lic, officer = LICENSE.number, auth(secrets["compliance_officer"])
    for day in range(1, 16):
        client.post(f"/licenses/{lic}/imports?format=pos-sales",
                    headers=auth(secrets["associate"]),
                    data={"file": (io.BytesIO(pos_csv(f"R{day}", day)), f"pos-{day}.csv")})
    run = audit_run(client, secrets["compliance_officer"], lic, "2026-01-01", "2026-01-20")[
        "run_id"]
    first = client.get(f"/audits/{run}/findings", headers=officer).json["items"][0]["id"]
    client.patch(f"/findings/{first}", json={"status": "acknowledged", "note": "seen"},
                 headers={**officer, "If-Match": "*"})
    download(client, f"/audits/{run}/packet?format=json", secrets["compliance_officer"])
    for _ in range(3):
        client.get("/trail", headers=officer)  # a 403 each, recorded
        client.get("/licenses")  # a 401 each, recorded
    app.extensions["auditor"]["store"].engine.dispose()
    _compact(database)
    assert verify(_rows(database), KEY).ok
    return database


def _compact(database: Path) -> None:
    """Fold the WAL into the file and rewrite it without stale copies of any row."""
    with sqlite3.connect(database) as conn:
        conn.execute("VACUUM")
        # In WAL mode VACUUM writes to the WAL; the file itself must hold what is read.
        busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        assert busy == 0
    conn.close()


def _rows(database: Path) -> list[dict[str, Any]]:
    engine = make_engine(f"sqlite:///{database}")
    try:
        return list(SqlTrail(engine).rows())
    finally:
        engine.dispose()


def _verify(database: Path, published: Head | None = None) -> Verdict:
    return verify(_rows(database), KEY, published)


def _varint(value: int) -> bytes:
    assert 0 <= value < 128  # one byte is all a few dozen rows and short texts need
    return bytes([value])


def _locations(data: bytes, row: dict[str, Any]) -> Iterator[tuple[str, int]]:
    """Yield (column, offset in the file) of one byte inside each stored value of a row."""
    values = [bytes(row[name]) if row[name] is not None else None for name in TEXT_COLUMNS]
    body = b"".join(v for v in values if v)
    assert data.count(body) == 1, "each row is stored exactly once"
    start = data.index(body)
    offset = start
    for name, value in zip(TEXT_COLUMNS, values, strict=True):
        if value:
            yield name, offset + len(value) // 2
            offset += len(value)
    # The record header lists each column's serial type (NULL 0, text 2n+13); the cell's
    # rowid, which is seq, is the varint right before the header.
    types = [0] + [0 if v is None else 2 * len(v) + 13 for v in values]
    header_types = b"".join(_serial(t) for t in types)
    header = _varint(len(header_types) + 1) + header_types
    assert data[start - len(header):start] == header
    yield "seq", start - len(header) - 1


def _serial(value: int) -> bytes:
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    return bytes(reversed(out))


def test_flipping_any_byte_of_any_trail_row_names_that_entry(tampered_base, tmp_path, figure):
    database = tmp_path / "copy.db"
    database.write_bytes(tampered_base.read_bytes())
    data = database.read_bytes()
    rows = _rows(database)
    assert len(rows) >= 30  # a few dozen
    detected, total, missed = 0, 0, []
    for row in rows:
        for column, where in _locations(data, row):
            edited = bytearray(data)
            edited[where] ^= 0x01
            database.write_bytes(bytes(edited))
            verdict = _verify(database)
            total += 1
            if verdict.broken_seq == row["seq"]:
                detected += 1
            else:
                missed.append((row["seq"], column, str(verdict)))
    database.write_bytes(data)
    figure("trail: single-byte edits detected at the exact entry", 100 * detected / total,
           of=100, unit="%", edits=total)
    # Every column of every row, but a NULL (a license-less entry's license) has no byte.
    assert total == sum(1 + sum(row[c] is not None for c in TEXT_COLUMNS) for row in rows)
    assert missed == []
    assert _verify(database).ok


def _attack(base: Path, target: Path, *statements: str) -> Path:
    target.write_bytes(base.read_bytes())
    with sqlite3.connect(target) as conn:
        for trigger in ("audit_trail_no_update", "audit_trail_no_delete",
                        "audit_trail_next_only"):
            conn.execute(f"DROP TRIGGER {trigger}")
        for statement in statements:
            conn.execute(statement)
    conn.close()
    return target


def test_deleting_swapping_or_inserting_rows_names_the_entry(tampered_base, tmp_path, figure):
    rows = [decode(r) for r in _rows(tampered_base)]
    last = rows[-1]
    cases: list[tuple[str, int, list[str], Head | None]] = []
    for entry in rows:
        # Deleting the newest entry leaves a valid chain: the head a packet printed shows it.
        published = last.head if entry.seq == last.seq else None
        cases.append(("delete", entry.seq,
                      [f"DELETE FROM audit_trail WHERE seq = {entry.seq}"], published))
    columns = ", ".join(f"{c} = (SELECT {c} FROM audit_trail WHERE seq = {{other}})"
                        for c in TEXT_COLUMNS)
    for entry in rows[:-1]:
        cases.append(("swap", entry.seq, [
            "CREATE TABLE saved AS SELECT * FROM audit_trail",
            f"UPDATE audit_trail SET {columns.replace('audit_trail', 'saved')} "
            f"WHERE seq = {entry.seq}".format(other=entry.seq + 1),
            f"UPDATE audit_trail SET {columns.replace('audit_trail', 'saved')} "
            f"WHERE seq = {entry.seq + 1}".format(other=entry.seq)], None))
    forged = seal(last.head, Change("rule.publish", "rule", "x"), "mallory", _when(last))
    cases.append(("insert at the end, chained but without the key", forged.seq,
                  [_insert(forged.row())], None))
    for entry in rows[:-1]:
        cases.append(("insert in the middle", entry.seq + 1, [
            f"UPDATE audit_trail SET seq = seq + 1000 WHERE seq > {entry.seq}",
            "UPDATE audit_trail SET seq = seq - 999 WHERE seq > 1000",
            _insert(seal(entry.head, Change("x", "y", "z"), "mallory", _when(entry),
                         KEY[::-1]).row())], None))
    missed = []
    for n, (kind, seq, statements, published) in enumerate(cases):
        verdict = _verify(_attack(tampered_base, tmp_path / f"{n}.db", *statements), published)
        if verdict.broken_seq != seq:
            missed.append((kind, seq, str(verdict)))
    figure("trail: row deletions, swaps and insertions detected at the exact entry",
           100 * (len(cases) - len(missed)) / len(cases), of=100, unit="%", edits=len(cases))
    assert missed == []


def _when(entry: Entry) -> datetime:
    return datetime.fromisoformat(entry.at.replace("Z", "+00:00"))


def _insert(row: dict[str, Any]) -> str:
    values = ", ".join("NULL" if v is None else str(v) if isinstance(v, int)
                       else "'" + str(v).replace("'", "''") + "'" for v in row.values())
    return f"INSERT INTO audit_trail ({', '.join(row)}) VALUES ({values})"


def test_the_demo_trail_verifies_and_a_byte_edit_is_named(tmp_path, monkeypatch):
    runner = CliRunner()
    demo = runner.invoke(main, ["demo", "--days", "2", "--receipts-per-day", "20",
                                "--dir", str(tmp_path / "demo")])
    assert demo.exit_code == 0, demo.output
    assert demo.output.splitlines()[-1].startswith("audit trail OK: ")
    database = tmp_path / "demo" / "auditor.db"
    monkeypatch.setenv("AUDITOR_DATABASE_URL", f"sqlite:///{database}")
    ok = runner.invoke(main, ["trail", "verify"])
    assert ok.exit_code == 0 and ok.output.startswith("OK: "), ok.output
    _compact(database)
    rows = _rows(database)
    target = rows[len(rows) // 2]
    data = bytearray(database.read_bytes())
    actor = bytes(target["actor"])
    where = dict(_locations(bytes(data), target))["actor"]
    assert data[where - len(actor) // 2:where - len(actor) // 2 + len(actor)] == actor
    data[where] ^= 0x01
    database.write_bytes(bytes(data))
    broken = runner.invoke(main, ["trail", "verify"])
    assert broken.exit_code == 1
    assert broken.output.startswith(f"seq {target['seq']}: hash mismatch"), broken.output
