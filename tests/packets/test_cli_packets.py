"""`auditor packet` and `auditor report` as a user runs them, on a short sample store."""

import hashlib
import io
import json
from datetime import UTC, date, datetime
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from auditor.bootstrap import open_store
from auditor.cli import main
from auditor.config import Settings
from auditor.rules.loader import default_rules_dir, load_pack
from auditor.sample import StoreSpec, generate_store
from auditor.services.api_ports import FindingState
from auditor.services.audit import run_audit
from auditor.services.demo import load_sample_store
from auditor.services.packets import finding_identity
from auditor.store.api_sql import SqlApiStore


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str, Path]:
    root = tmp_path_factory.mktemp("cli")
    generate_store(root / "store", StoreSpec(days=7, receipts_per_day=5, seed=3))
    url = f"sqlite:///{root / 'a.db'}"
    store = open_store(Settings(database_url=url), migrate=True)
    load_sample_store(store, root / "store")
    run = run_audit(store, load_pack(default_rules_dir(), "CA"), "C10-0000123-LIC",
                    date(2026, 1, 1), date(2026, 1, 7))
    store.engine.dispose()
    return url, run.run_id, root


def test_packet_json_is_the_content_whose_sha256_the_command_prints(database) -> None:
    url, run_id, root = database
    out = root / "p.json"
    result = CliRunner().invoke(main, ["packet", run_id, "--format", "json", "--out", str(out)],
                                env={"AUDITOR_DATABASE_URL": url})
    assert result.exit_code == 0, result.output
    assert hashlib.sha256(out.read_bytes()).hexdigest() in result.output
    assert json.loads(out.read_bytes())["run"]["run_id"] == run_id


def test_packet_xlsx_and_a_report_are_written(database) -> None:
    url, run_id, root = database
    env = {"AUDITOR_DATABASE_URL": url}
    out = root / "p.xlsx"
    result = CliRunner().invoke(main, ["packet", run_id, "--format", "xlsx", "--out", str(out)],
                                env=env)
    assert result.exit_code == 0, result.output
    assert openpyxl.load_workbook(io.BytesIO(out.read_bytes())).sheetnames[:2] == \
        ["Cover", "Summary"]
    report = root / "r.json"
    result = CliRunner().invoke(main, ["report", "sell-soon", "--license", "C10-0000123-LIC",
                                       "--from", "2026-01-01", "--to", "2026-01-07",
                                       "--format", "json", "--out", str(report)], env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(report.read_text())["tables"][0]["rows"]


def test_a_waiver_granted_through_the_api_store_is_in_the_packet(database) -> None:
    url, run_id, root = database
    store = open_store(Settings(database_url=url))
    finding = store.runs.get(run_id)["findings"][0]
    identity = finding_identity(finding)
    expires = datetime(2027, 1, 1, tzinfo=UTC)
    assert SqlApiStore(store.engine).set_finding_state(
        "C10-0000123-LIC", identity, 0, "open",
        FindingState("waived", 1, "", "officer@example", datetime.now(UTC),
                     "@import url(file:///etc/passwd)", expires))
    store.engine.dispose()
    out = root / "w.json"
    result = CliRunner().invoke(main, ["packet", run_id, "--format", "json", "--out", str(out)],
                                env={"AUDITOR_DATABASE_URL": url})
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["waivers"] == [{
        "rule_id": finding["rule_id"], "subject": finding["subject"],
        "justification": "@import url(file:///etc/passwd)", "approver": "officer@example",
        "expires_at": expires.isoformat()}]


def test_a_finalized_packet_is_kept_and_an_unchanged_one_cannot_be_amended(database) -> None:
    url, run_id, root = database
    env = {"AUDITOR_DATABASE_URL": url}
    runner = CliRunner()
    written = runner.invoke(main, ["packet", run_id, "--format", "json",
                                   "--out", str(root / "f.json")], env=env)
    final = runner.invoke(main, ["packet", "finalize", run_id, "--by", "officer"], env=env)
    assert final.exit_code == 0, final.output
    sha = hashlib.sha256((root / "f.json").read_bytes()).hexdigest()
    assert sha in written.output and sha in final.output
    amend = runner.invoke(main, ["packet", "amend", run_id, "--reason", "x"], env=env)
    assert amend.exit_code == 2 and "nothing to amend" in amend.output
    listed = runner.invoke(main, ["packet", "versions", run_id], env=env)
    assert listed.output.startswith(f"v1  {sha}  final")
