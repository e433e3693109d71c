"""`auditor sync` as a user runs it: one line per endpoint, --every until interrupted."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from auditor.services.sync import ENDPOINT_NAMES
from tests.conftest import LICENSE
from tests.metrc_sim import USER_KEY, VENDOR_KEY, make_sample, simulator

LIC = LICENSE.number


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    env = {**os.environ, "AUDITOR_DATABASE_URL": f"sqlite:///{tmp_path / 'a.db'}",
           "AUDITOR_METRC_VENDOR_KEY": VENDOR_KEY, "AUDITOR_METRC_USER_KEY": USER_KEY}
    for args in (["db", "upgrade"], ["license", "add", LIC, "--state", "CA", "--timezone",
                                     "America/Los_Angeles"]):
        subprocess.run([sys.executable, "-m", "auditor", *args], env=env, check=True,
                       capture_output=True)
    return env


@pytest.mark.slow
def test_sync_every_interval_repeats_until_interrupted(env: dict[str, str],
                                                        tmp_path: Path) -> None:
    with simulator(make_sample(tmp_path / "sample")) as server:
        env["AUDITOR_METRC_BASE_URL"] = server.url
        process = subprocess.Popen(
            [sys.executable, "-m", "auditor", "sync", "--license", LIC, "--since",
             "2026-01-01T00:00:00-08:00", "--until", "2026-01-04T00:00:00-08:00",
             "--every", "1s"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        lines: list[str] = []
        deadline = time.monotonic() + 120
        assert process.stdout is not None
        while len(lines) < 2 * len(ENDPOINT_NAMES):  # two rounds
            assert time.monotonic() < deadline and process.poll() is None
            lines.append(process.stdout.readline())
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert "stopped" in err
    first, second = lines[:len(ENDPOINT_NAMES)], lines[len(ENDPOINT_NAMES):]
    assert [line.split()[0] for line in first] == list(ENDPOINT_NAMES)
    receipts = next(line for line in first if line.startswith("receipts-active"))
    assert " ok " in receipts and "accepted 0," not in receipts
    # The second round starts at the checkpoints: it stores nothing new.
    assert all(" ok " in line and "accepted 0," in line for line in second)
