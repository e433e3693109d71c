"""The METRC connector against the simulator on a real loopback port, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from auditor.connectors.metrc_http import MetrcHttp
from auditor.sample.metrc_simulator import Faults, MetrcData, SimulatorServer, create_simulator
from auditor.services.sync import ENDPOINTS, MAX_WINDOW, metrc_time, sync_license, windows
from auditor.services.sync_ports import MetrcKeys, MetrcRefused
from auditor.store.schema import audit_trail, imports
from auditor.store.sql_store import SqlEventStore
from auditor.store.sync_sql import SqlSyncState
from tests.conftest import LICENSE
from tests.metrc_sim import (
    SINCE,
    UNTIL,
    USER_KEY,
    VENDOR_KEY,
    client,
    ingested_events,
    make_sample,
    simulator,
    stored_events,
)

LIC = LICENSE.number


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_sample(tmp_path_factory.mktemp("sample"))


@pytest.fixture(scope="module")
def from_files(sample: Path, tmp_path_factory: pytest.TempPathFactory) -> list:
    return ingested_events(sample, tmp_path_factory.mktemp("files"))


def pull(store: SqlEventStore, source: MetrcHttp, **kwargs):
    return sync_license(store, SqlSyncState(store.engine), source, LIC,
                        **{"since": SINCE, "until": UNTIL, **kwargs})


def test_a_full_sync_stores_the_same_events_as_ingesting_the_files(
        sql_store: SqlEventStore, sample: Path, from_files: list) -> None:
    with simulator(sample) as server:
        result = pull(sql_store, client(server, LIC))
    assert result.ok, [r.line() for r in result.runs]
    assert stored_events(sql_store.engine) == from_files
    assert {r.endpoint for r in result.runs} == {e.name for e in ENDPOINTS}


def test_a_second_sync_adds_nothing(sql_store: SqlEventStore, sample: Path) -> None:
    with simulator(sample) as server:
        first = pull(sql_store, client(server, LIC))
        before = sql_store.event_counts(LIC)
        second = pull(sql_store, client(server, LIC))
    assert sum(r.accepted for r in first.runs) > 0
    assert sum(r.accepted for r in second.runs) == 0
    assert sum(r.duplicates for r in second.runs) == sum(r.accepted for r in first.runs)
    assert sql_store.event_counts(LIC) == before
    with sql_store.engine.connect() as conn:
        reason_imports = conn.scalar(sa.select(sa.func.count()).select_from(imports)
                                     .where(imports.c.format == "metrc-adjust-reasons"))
    assert reason_imports == 1  # an unchanged reason list is not imported again


def test_429_500_and_dropped_connections_are_retried_honouring_retry_after(
        sql_store: SqlEventStore, sample: Path, from_files: list) -> None:
    waits: list[float] = []
    faults = Faults(retry_after=7)
    faults.queued.extend(["429", "500", "drop", "500"])
    with simulator(sample, faults) as server:
        source = client(server, LIC, sleep=waits.append)
        result = pull(sql_store, source)
    assert result.ok
    assert source.retries == 4
    assert 7.0 in waits  # the 429's Retry-After
    assert stored_events(sql_store.engine) == from_files


def test_a_fault_that_outlasts_the_retries_fails_only_its_endpoint(
        sql_store: SqlEventStore, sample: Path) -> None:
    faults = Faults(every=1, kind="500")
    with simulator(sample, faults) as server:
        result = pull(sql_store, client(server, LIC, max_attempts=2), only=["adjustments"])
    (run,) = result.runs
    assert run.status == "failed"
    assert "kept failing (HTTP 500) after 2 attempts" in (run.error or "")
    # Still where --since put it: the next sync pulls the whole span again.
    assert SqlSyncState(sql_store.engine).checkpoint(LIC, "adjustments") == SINCE


def test_a_refused_user_key_gives_the_error_naming_the_fix(
        sql_store: SqlEventStore, sample: Path) -> None:
    with simulator(sample) as server:
        source = MetrcHttp(server.url, MetrcKeys("vk-4f1c9e7a-simulated-vendor", "wrong-key"),
                           LIC, rate=10_000.0, sleep=lambda _s: None)
        with pytest.raises(MetrcRefused) as refused:
            pull(sql_store, source)
    message = str(refused.value)
    assert message.startswith(f"METRC refused the user key for license {LIC} (HTTP 401")
    assert "AUDITOR_METRC_USER_KEY" in message and "wrong-key" not in message
    assert sql_store.event_counts(LIC) == {}
    states = {s["endpoint"]: s["status"] for s in SqlSyncState(sql_store.engine).status(LIC)}
    assert states["adjust-reasons"] == "failed"
    with sql_store.engine.connect() as conn:
        actions = conn.execute(sa.select(audit_trail.c.action)).scalars().all()
    assert actions.count("metrc.sync") == 1  # the refused sync is on the record too


def test_windows_never_exceed_24_hours_and_cover_the_span(
        sql_store: SqlEventStore, sample: Path) -> None:
    with simulator(sample) as server:
        pull(sql_store, client(server, LIC))
        requests = server.app.config["requests"]
    windows: dict[str, list[tuple[datetime, datetime]]] = {}
    for path, query in requests:
        if "lastModifiedStart" in query:
            start = datetime.fromisoformat(query["lastModifiedStart"])
            end = datetime.fromisoformat(query["lastModifiedEnd"])
            assert timedelta(0) < end - start <= MAX_WINDOW
            windows.setdefault(path, []).append((start, end))
    assert len(windows) == sum(e.windowed for e in ENDPOINTS)
    for pages in windows.values():
        spans = sorted(set(pages))  # a window of several pages is asked for once a page
        assert spans[0][0] == SINCE and spans[-1][1] == UNTIL
        assert all(a[1] == b[0] for a, b in zip(spans, spans[1:], strict=False))  # no gap


def test_a_sync_resumes_from_its_checkpoints(sql_store: SqlEventStore, sample: Path) -> None:
    middle = SINCE + timedelta(hours=36)
    with simulator(sample) as server:
        pull(sql_store, client(server, LIC), until=middle)
        server.app.config["requests"].clear()
        pull(sql_store, client(server, LIC), since=None)
        starts = {q["lastModifiedStart"] for p, q in server.app.config["requests"]
                  if p == "/sales/v2/receipts/active" and "lastModifiedStart" in q}
    resumed = min(datetime.fromisoformat(s) for s in starts)
    assert resumed == middle - timedelta(minutes=5)  # the checkpoint, less the overlap


def test_a_rejected_row_is_reported_with_its_window_and_place_and_the_rest_stored(
        sql_store: SqlEventStore, sample: Path) -> None:
    data = MetrcData.from_store(sample)
    receipts = data.lists["/sales/v2/receipts/active"]
    bad = receipts[5]
    bad["SalesDateTime"] = "yesterday"
    modified = datetime.fromisoformat(bad["LastModified"])
    window = next(w for w in windows(SINCE, UNTIL) if w[0] <= modified < w[1])
    place = [r for r in receipts
             if window[0] <= datetime.fromisoformat(r["LastModified"]) < window[1]].index(bad)
    app = create_simulator(data, VENDOR_KEY, USER_KEY)
    with SimulatorServer(app) as server:
        result = pull(sql_store, client(server, LIC), only=["receipts-active"])
    (run,) = result.runs
    assert run.rejected == 1 and run.accepted == run.pulled - 1
    (rejection,) = run.rejections
    assert rejection.startswith(
        f"METRC GET /sales/v2/receipts/active {metrc_time(window[0])}..{metrc_time(window[1])}"
        f":{place + 2}: ")
    assert "SalesDateTime" in rejection
    assert not result.ok


def test_a_re_pull_of_an_older_span_leaves_the_checkpoint_where_it_was(
        sql_store: SqlEventStore, sample: Path) -> None:
    state = SqlSyncState(sql_store.engine)
    with simulator(sample) as server:
        pull(sql_store, client(server, LIC), only=["receipts-active"])
        pull(sql_store, client(server, LIC), only=["receipts-active"],
             until=SINCE + timedelta(hours=12))
    assert state.checkpoint(LIC, "receipts-active") == UNTIL
