"""How `auditor serve` holds load: processes share connections, timings are off unless asked,
a findings page costs the database as few statements as it needs, and stores in other
schemas of the database do not hold up this one's writers."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import event
from sqlalchemy.exc import OperationalError

from api import create_app
from auditor.config import Settings
from auditor.store.engine import lock_in_schema, lock_then_read, make_engine
from tests.api.conftest import auth
from tests.load import free_port, prepare, scratch_schema, start_server


def test_timings_are_off_unless_a_folder_is_named(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'a.db'}")
    target = prepare(settings, 0)
    plain = create_app({"AUDITOR_SETTINGS": settings})
    assert plain.wsgi_app == Flask.wsgi_app.__get__(plain)  # nothing wraps the app

    folder = tmp_path / "timings"
    timed = create_app({"AUDITOR_SETTINGS": Settings(database_url=settings.database_url,
                                                     request_timings=str(folder))})
    answer = timed.test_client().get(f"/audits/{target.run_id}/findings?limit=5",
                                     headers={**auth(target.officer), "X-Load-Id": "r1"})
    assert answer.status_code == 200 and answer.get_json()["items"]  # read to its end
    lines = [json.loads(x) for f in folder.glob("requests-*.jsonl")
             for x in f.read_text().splitlines()]
    (line,) = [x for x in lines if x.get("id") == "r1"]
    assert line["status"] == "200" and line["path"] == f"/audits/{target.run_id}/findings"
    assert line["ended"] >= line["began"] and line["stmts"] >= 1 and line["cpu"] > 0
    assert 0 <= line["db"] <= line["ended"] - line["began"]
    for app in (plain, timed):
        app.extensions["auditor"]["jobs"].queue.close()
        app.extensions["auditor"]["store"].engine.dispose()


def test_a_findings_page_is_two_statements_token_and_page(sql_settings: Settings) -> None:
    """The page's statuses come with its rows and the run's license is remembered."""
    target = prepare(sql_settings, 0)
    app = create_app({"AUDITOR_SETTINGS": sql_settings})
    client = app.test_client()
    engine = app.extensions["auditor"]["store"].engine
    statements: list[str] = []
    event.listen(engine, "after_cursor_execute",
                 lambda _c, _cur, sql, *_: statements.append(sql.split()[0].upper()))
    url = f"/audits/{target.run_id}/findings?limit=50"
    first = client.get(url, headers=auth(target.officer)).get_json()["items"]
    statements.clear()
    client.get(url, headers=auth(target.officer))
    assert [s for s in statements if s != "BEGIN"] == ["SELECT", "SELECT"]

    # A status changed since is in the next page read (the join is not a stale copy).
    finding = first[0]
    etag = client.get(f"/findings/{finding['id']}", headers=auth(target.officer)).headers["ETag"]
    changed = client.patch(f"/findings/{finding['id']}", json={"status": "acknowledged",
                                                               "note": "seen"},
                           headers=auth(target.officer, **{"If-Match": etag}))
    assert changed.status_code == 200
    again = client.get(url, headers=auth(target.officer)).get_json()["items"]
    assert [i["status"] for i in again if i["id"] == finding["id"]] == ["acknowledged"]
    assert {i["status"] for i in again if i["id"] != finding["id"]} == {"open"}
    app.extensions["auditor"]["jobs"].queue.close()
    engine.dispose()


@pytest.mark.slow
def test_two_processes_share_the_connections_and_a_taken_port_is_refused(
        tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    target = prepare(Settings(database_url=url), 0)
    port = free_port()
    folder = tmp_path / "timings"
    env = {**os.environ, "AUDITOR_DATABASE_URL": url, "AUDITOR_REQUEST_TIMINGS": str(folder)}
    server = start_server(env, port, 2, 4)
    try:
        for n in range(40):  # 40 connections, one request each, as 40 terminals would open
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/audits/{target.run_id}/findings?limit=1",
                headers={**auth(target.officer), "X-Load-Id": f"c{n}"})
            with urllib.request.urlopen(request, timeout=30) as answer:
                assert answer.status == 200
        pids = Counter(json.loads(x)["pid"] for f in folder.glob("requests-*.jsonl")
                       for x in f.read_text().splitlines() if '"id": "c' in x)
        # The kernel hashes each connection to one process's socket: both get a share.
        # (All 40 on one side, or 33 and more, is a chance below 1 in 10,000.)
        assert len(pids) == 2 and max(pids.values()) <= 32, pids

        again = subprocess.run([sys.executable, "-m", "auditor", "serve", "--port", str(port),
                                "--processes", "2"], env=env, capture_output=True, text=True,
                               timeout=60)
        assert again.returncode != 0 and "in use" in again.stderr.lower()
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=30)
    with socket.create_server(("127.0.0.1", port)):
        pass  # the port is free again: no child kept it


@pytest.mark.postgres
def test_stores_in_two_schemas_do_not_wait_on_each_others_locks(
        postgres_schema: tuple[str, str]) -> None:
    """Advisory locks are the database's: the key must hold the schema, or stores queue."""
    url, schema = postgres_schema
    with scratch_schema(url, "t_other") as other:
        here, there, here_too = (make_engine(url, schema=s) for s in (schema, other, schema))
        try:
            with here.connect() as holder, holder.begin():
                lock_in_schema(holder, "license", 1)
                lock_in_schema(holder, "trail")
                with there.connect() as conn, conn.begin():  # another schema: no wait
                    conn.exec_driver_sql("SET LOCAL lock_timeout = '5s'")
                    lock_in_schema(conn, "license", 1)
                    lock_in_schema(conn, "trail")
                for name, key in (("license", 1), ("trail", 0)):  # this schema: excluded
                    with here_too.connect() as conn, conn.begin():
                        conn.exec_driver_sql("SET LOCAL lock_timeout = '200ms'")
                        with pytest.raises(OperationalError, match="lock timeout"):
                            lock_in_schema(conn, name, key)
                with here_too.connect() as conn, conn.begin():  # another license: no wait
                    conn.exec_driver_sql("SET LOCAL lock_timeout = '5s'")
                    lock_in_schema(conn, "license", 2)
        finally:
            for engine in (here, there, here_too):
                engine.dispose()


@pytest.mark.postgres
def test_a_read_pipelined_after_a_lock_sees_what_the_holder_committed(
        postgres_schema: tuple[str, str]) -> None:
    """lock_then_read sends lock and read together; the read must follow the wait."""
    url, schema = postgres_schema
    engine = make_engine(url, schema=schema)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE rows_seen (n int)")
        seen: list[list[tuple[int, ...]]] = []
        with engine.connect() as holder, holder.begin():
            lock_in_schema(holder, "license", 7)

            def wait_then_read() -> None:
                with engine.connect() as conn, conn.begin():
                    seen.append(lock_then_read(conn, "license", 7,
                                               "SELECT count(*) FROM rows_seen", ()))

            reader = threading.Thread(target=wait_then_read)
            reader.start()
            time.sleep(0.3)
            assert not seen and reader.is_alive()  # queued on the holder's lock
            holder.exec_driver_sql("INSERT INTO rows_seen VALUES (1)")
        reader.join(timeout=10)
        assert seen == [[(1,)]]  # it read after the holder's commit, not before its wait
    finally:
        engine.dispose()
