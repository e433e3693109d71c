"""The `auditor` command end to end, as a newcomer would run it."""

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import LICENSE, METRC_EXAMPLES


def auditor(*args, env, cwd=None):
    return subprocess.run([sys.executable, "-m", "auditor", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture
def env(tmp_path):
    return {**os.environ, "AUDITOR_DATABASE_URL": f"sqlite:///{tmp_path / 'a.db'}"}


def test_commands_before_setup_name_the_fix(env):
    result = auditor("license", "list", env=env)
    assert result.returncode == 2 and "run `auditor db upgrade`" in result.stderr


def test_license_and_ingest_report_rows_and_exit_codes(env, tmp_path):
    assert auditor("db", "upgrade", env=env).returncode == 0
    added = auditor("license", "add", LICENSE.number, "--state", "CA", "--timezone",
                    "America/Los_Angeles", env=env)
    assert added.returncode == 0, added.stderr
    receipts = METRC_EXAMPLES / "Sales/CreateReceipts.request.json"
    first = auditor("ingest", "--license", LICENSE.number, "--format", "metrc-receipts",
                    str(receipts), env=env)
    assert first.returncode == 0 and "accepted 1, duplicates 0, rejected 0" in first.stdout
    again = auditor("ingest", "--license", LICENSE.number, "--format", "metrc-receipts",
                    str(receipts), env=env)
    assert "accepted 0, duplicates 1" in again.stdout
    moves = METRC_EXAMPLES / "Packages/UpdatePackagesLocation.request.json"
    partial = auditor("ingest", "--license", LICENSE.number, "--format",
                      "metrc-location-changes", str(moves), env=env)
    assert partial.returncode == 1 and f"{moves}:2: neither RecordedDateTime" in partial.stderr
    broken = tmp_path / "broken.json"
    broken.write_text('[{"Label": ')
    rejected = auditor("ingest", "--license", LICENSE.number, "--format", "metrc-packages",
                       str(broken), env=env)
    assert rejected.returncode == 2 and "nothing was imported" in rejected.stderr


def test_unknown_license_and_bad_timezone_are_clear_errors(env):
    auditor("db", "upgrade", env=env)
    result = auditor("ingest", "--license", "NOPE-1", "--format", "pos-sales",
                     str(METRC_EXAMPLES / "NOTICE.md"), env=env)
    assert result.returncode == 2 and "unknown license 'NOPE-1'" in result.stderr
    bad = auditor("license", "add", "X-1", "--state", "CA", "--timezone", "Mars/Olympus", env=env)
    assert bad.returncode == 2 and "IANA name" in bad.stderr


@pytest.mark.slow
def test_demo_counts_match_the_ground_truth(tmp_path):
    result = auditor("demo", "--days", "10", "--receipts-per-day", "40", "--dir",
                     str(tmp_path / "demo"), env=dict(os.environ))
    assert result.returncode == 0, result.stderr
    truth = json.loads((tmp_path / "demo/store/ground-truth.json").read_text())
    total = sum(truth["event_counts"].values())
    assert f"all {total} events match the ground truth" in result.stdout
    for kind, expected in truth["event_counts"].items():
        assert any(line.split()[:3] == [kind, str(expected), str(expected)]
                   for line in result.stdout.splitlines())
