"""`auditor trail verify` and `auditor trail show` on a database changed through the CLI."""

from __future__ import annotations

import json

from click.testing import CliRunner

from auditor.cli import main


def test_cli_changes_are_recorded_shown_and_verified_against_a_published_head(
        sqlite_url, monkeypatch, tmp_path):
    monkeypatch.setenv("AUDITOR_DATABASE_URL", sqlite_url)
    (tmp_path / "key").write_bytes(b"k" * 32)
    monkeypatch.setenv("AUDITOR_TRAIL_KEY_FILE", str(tmp_path / "key"))
    runner = CliRunner()
    assert runner.invoke(main, ["db", "upgrade"]).exit_code == 0
    added = runner.invoke(main, ["--actor", "ana", "license", "add", "C10-0000123-LIC",
                                 "--state", "CA", "--timezone", "America/Los_Angeles"])
    assert added.exit_code == 0, added.output
    shown = runner.invoke(main, ["trail", "show", "--json"])
    entry = json.loads(shown.output.splitlines()[-1])
    assert (entry["seq"], entry["actor"], entry["action"]) == (1, "ana", "license.add")
    assert entry["mac"] and entry["new"]["timezone"] == "America/Los_Angeles"

    verified = runner.invoke(main, ["trail", "verify", "--head", f"1:{entry['hash']}"])
    assert verified.exit_code == 0 and "hashes and MACs verified" in verified.output
    wrong = runner.invoke(main, ["trail", "verify", "--head", f"1:{'0' * 64}"])
    assert wrong.exit_code == 1 and wrong.output.startswith("seq 1: hash differs")
    later = runner.invoke(main, ["trail", "verify", "--head", f"2:{entry['hash']}"])
    assert later.exit_code == 1 and "truncated" in later.output
    (tmp_path / "other").write_bytes(b"o" * 32)
    other = runner.invoke(main, ["trail", "verify", "--key-file", str(tmp_path / "other")])
    assert other.exit_code == 1 and other.output.startswith("seq 1: MAC mismatch")
