"""An import without an Idempotency-Key killed mid-file does not stay `running` forever.

A real `auditor ingest` is killed -9 after its first chunks; once its heartbeat is older
than AUDITOR_IMPORT_LEASE_SECONDS, starting `auditor serve` marks it failed with the
reason (and one trail entry), while an import still moving at that moment is left alone.
Importing the file again then stores the rest, none of it twice.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import sqlalchemy as sa

from auditor.store.schema import events, imports
from tests.api.test_real_server import free_port, wait_until_serving
from tests.integration.test_kill_during_import import ROWS, pos_file, run_ingest, stored

LEASE_SECONDS = 3


def import_rows(store):
    with store.engine.connect() as conn:
        return conn.execute(sa.select(imports.c.id, imports.c.status, imports.c.error)
                            .order_by(imports.c.id)).all()


@pytest.mark.slow
@pytest.mark.reliability
def test_a_killed_import_is_marked_failed_with_its_reason_when_the_server_starts(
        sql_settings, sql_store, tmp_path, figure) -> None:
    env = {**os.environ, "AUDITOR_IMPORT_CHUNK": "500",
           "AUDITOR_DATABASE_URL": sql_settings.database_url,
           "AUDITOR_DATABASE_SCHEMA": sql_settings.database_schema or "",
           "AUDITOR_IMPORT_LEASE_SECONDS": str(LEASE_SECONDS)}
    path = pos_file(tmp_path / "pos.csv")
    killed = run_ingest(env, path)
    while stored(sql_store) == 0:
        assert killed.poll() is None, killed.communicate()
        time.sleep(0.01)
    killed.send_signal(signal.SIGKILL)
    killed.communicate()
    assert [row.status for row in import_rows(sql_store)] == ["running"]
    time.sleep(LEASE_SECONDS + 1)  # the killed import's heartbeat is now stale

    other = tmp_path / "other.csv"
    other.write_text(path.read_text().replace("R", "Q"))
    live = run_ingest(env, other)  # moving while the server starts: must be left alone
    while len(import_rows(sql_store)) < 2:
        assert live.poll() is None, live.communicate()
        time.sleep(0.01)
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "auditor", "serve", "--port", str(port)],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until_serving(f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + 20
        while import_rows(sql_store)[0].status == "running" and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        server.terminate()
        server.wait(timeout=20)
    _, live_err = live.communicate(timeout=120)
    assert live.returncode == 0, live_err
    first, second = import_rows(sql_store)[:2]
    figure("crash: imports left running after a kill and a server start",
           int(first.status == "running"))
    assert first.status == "failed" and first.error.startswith("interrupted: no progress since")
    assert second.status == "completed"  # its heartbeat kept moving

    again = run_ingest(env, path)
    out, err = again.communicate(timeout=120)
    assert again.returncode == 0, err
    with sql_store.engine.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(events)) == 2 * ROWS
    verify = subprocess.run([sys.executable, "-m", "auditor", "trail", "verify"], env=env,
                            capture_output=True, text=True)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    entries = subprocess.run([sys.executable, "-m", "auditor", "trail", "show", "--last",
                              "500"], env=env, capture_output=True, text=True).stdout
    assert entries.count("import.interrupted") == 1
