"""kill -9 `auditor sync` mid-pull, resume it: nothing lost, nothing stored twice, no key leaked."""

from __future__ import annotations

import logging
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from auditor.cli import main
from auditor.config import Settings
from auditor.sample.metrc_simulator import Faults, SimulatorServer
from auditor.store.schema import metadata
from auditor.store.sql_store import SqlEventStore
from tests.conftest import LICENSE
from tests.metrc_sim import (
    SINCE,
    UNTIL,
    USER_KEY,
    VENDOR_KEY,
    ingested_events,
    make_sample,
    simulator,
    stored_events,
)

pytestmark = pytest.mark.reliability
LIC = LICENSE.number
SPAN = ["--since", SINCE.isoformat(), "--until", UNTIL.isoformat()]


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_sample(tmp_path_factory.mktemp("sample"))


def sync_env(settings: Settings, server: SimulatorServer, user_key: str = USER_KEY
             ) -> dict[str, str]:
    return {**os.environ, "AUDITOR_DATABASE_URL": settings.database_url,
            "AUDITOR_DATABASE_SCHEMA": settings.database_schema or "",
            "AUDITOR_METRC_BASE_URL": server.url, "AUDITOR_METRC_VENDOR_KEY": VENDOR_KEY,
            "AUDITOR_METRC_USER_KEY": user_key}


def run_sync(env: dict[str, str], *span: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "auditor", "sync", "--license", LIC, *span],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def receipts_stored(store: SqlEventStore) -> int:
    return store.event_counts(LIC).get("metrc_receipt", 0)


@pytest.mark.slow
def test_a_sync_killed_mid_pull_then_resumed_loses_and_duplicates_nothing(
        sql_settings: Settings, sql_store: SqlEventStore, sample: Path, tmp_path: Path,
        figure: Any) -> None:
    rng = random.Random(11)
    kills = 0
    with simulator(sample, Faults(delay=0.01)) as server:
        env = sync_env(sql_settings, server)
        for attempt in range(2):
            before = receipts_stored(sql_store)
            # The first run names where to start; the others resume from the checkpoints.
            process = run_sync(env, *(SPAN if attempt == 0 else SPAN[2:]))
            deadline = time.monotonic() + 60
            while receipts_stored(sql_store) == before:  # a receipts window has committed
                assert process.poll() is None, process.communicate()
                assert time.monotonic() < deadline, "the sync made no progress"
                time.sleep(0.01)
            time.sleep(rng.uniform(0, 0.2))
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                kills += 1
            process.communicate()
        resumed = run_sync(env, *SPAN[2:])
        out, err = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, err
    assert kills >= 1
    expected = ingested_events(sample, tmp_path)
    got = stored_events(sql_store.engine)
    figure("crash-sync: METRC events lost", sum(1 for e in expected if e not in got),
           of=len(expected))
    figure("crash-sync: METRC events stored twice", len(got) - len({repr(e) for e in got}),
           of=len(got))
    assert got == expected  # equal as sorted lists: nothing missing, nothing twice
    assert "receipts-active" in out and "rejected 0" in out


def test_the_keys_appear_in_no_output_no_table_no_trail_and_no_log(
        sql_settings: Settings, sql_store: SqlEventStore, sample: Path,
        caplog: pytest.LogCaptureFixture, figure: Any) -> None:
    caplog.set_level(logging.DEBUG)
    runner = CliRunner()
    with simulator(sample) as server:
        good = runner.invoke(main, ["sync", "--license", LIC, *SPAN],
                             env=sync_env(sql_settings, server))
        refused = runner.invoke(main, ["sync", "--license", LIC, *SPAN],
                                env=sync_env(sql_settings, server, user_key="uk-wrong-1234"))
    assert good.exit_code == 0, good.output
    assert refused.exit_code == 2
    assert f"METRC refused the user key for license {LIC}" in refused.output
    texts = [good.output, refused.output, caplog.text]
    with sql_store.engine.connect() as conn:
        for table in metadata.sorted_tables:
            texts += [repr(tuple(row)) for row in conn.execute(sa.select(table))]
    leaks = [key for key in (VENDOR_KEY, USER_KEY, "uk-wrong-1234")
             if any(key in text for text in texts)]
    figure("secrets: METRC keys found in output, logs, tables or trail", len(leaks), of=3)
    assert leaks == []
