"""The worker against a real store: idempotent commits, checkpoints, rule changes, CLI."""

import json
from dataclasses import replace
from datetime import timedelta

import pytest
from click.testing import CliRunner

from auditor.bootstrap import open_store
from auditor.cli import main
from auditor.config import Settings
from auditor.domain.rules import Pack
from auditor.rules.loader import default_rules_dir, load_pack
from auditor.services.ingest import ingest
from auditor.services.worker import Worker, run_once
from auditor.store.continuous_sql import ContinuousStore
from tests.conftest import LICENSE

TAG_RULE = next(r for r in load_pack(default_rules_dir()).rules if r.id == "tag-invalid")


def add_bad_tags(store, count, start=0):
    lines = "\n".join(json.dumps({
        "type": "move", "natural_key": f"m-{i}", "occurred_at": f"2026-01-05T10:{i:02d}:00Z",
        "package_label": f"bad-{i}", "payload": {"label": f"bad-{i}", "to_location": "Vault"}})
        for i in range(start, start + count))
    ingest(store, LICENSE.number, "events", f"moves-{start}.ndjson", lines.encode())


def test_replaying_the_whole_stream_writes_no_finding_twice(sql_store):
    add_bad_tags(sql_store, 5)
    found = ContinuousStore(sql_store.engine)
    pack = Pack("p", 1, "p", (TAG_RULE,))
    first = Worker(found, [LICENSE], lambda _: pack, lateness=timedelta(0))
    assert run_once(first).findings_written == 5
    again = Worker(found, [LICENSE], lambda _: pack, lateness=timedelta(0))
    assert run_once(again).findings_written == 0
    license_id = found.license_ids([LICENSE.number])[LICENSE.number]
    assert found.count(license_id) == 5
    checkpoint = found.checkpoint("default")
    assert checkpoint is not None and checkpoint.events_processed == 5
    assert checkpoint.last_event_id == again.progress.last_event_id


def test_a_new_rule_version_is_picked_up_without_a_restart(sql_store):
    add_bad_tags(sql_store, 2)
    packs = {"current": Pack("p", 1, "p", (TAG_RULE,))}
    found = ContinuousStore(sql_store.engine)
    work = Worker(found, [LICENSE], lambda _: packs["current"], lateness=timedelta(0))
    run_once(work)
    packs["current"] = Pack("p", 2, "p", (replace(TAG_RULE, version=TAG_RULE.version + 1),))
    assert work.reload_if_changed()
    run_once(work)
    license_id = found.license_ids([LICENSE.number])[LICENSE.number]
    versions = sorted(row["rule_version"] for row in found.findings(license_id))
    assert versions == [TAG_RULE.version] * 2 + [TAG_RULE.version + 1] * 2
    assert not work.reload_if_changed()


@pytest.fixture
def bad_tags_store(sqlite_url, monkeypatch):
    """Yield a store (the CLI's database) holding three moves of malformed tags."""
    store = open_store(Settings(database_url=sqlite_url), migrate=True)
    store.add_license(LICENSE)
    add_bad_tags(store, 3)
    monkeypatch.setenv("AUDITOR_DATABASE_URL", sqlite_url)
    yield store
    store.engine.dispose()


def worker_once(runner):
    ran = runner.invoke(main, ["worker", "--no-supervise", "--once", "--lateness", "0"])
    assert ran.exit_code == 0, ran.output


def test_auditor_findings_lists_the_open_findings(bad_tags_store):
    runner = CliRunner()
    worker_once(runner)
    listed = runner.invoke(main, ["findings", "--license", LICENSE.number, "--open"])
    assert listed.exit_code == 0
    assert listed.output.count("tag-invalid") == 3


def test_auditor_findings_prints_json_by_status_and_period(bad_tags_store):
    store, runner = bad_tags_store, CliRunner()

    def listed(*args):
        shown = runner.invoke(main, ["findings", "--license", LICENSE.number, "--json", *args])
        assert shown.exit_code == 0, shown.output
        return json.loads(shown.output)

    def snapshot(label, at):
        line = {"type": "package_snapshot", "natural_key": f"s-{label}", "occurred_at": at,
                "package_label": label, "payload": {"label": label, "location": "Vault"}}
        ingest(store, LICENSE.number, "events", f"s-{label}.ndjson", json.dumps(line).encode())

    # METRC's package list has reported past the moves: the untracked tags are raised.
    snapshot("1A4000000000000000000001", "2026-01-05T10:30:00Z")
    worker_once(runner)
    assert listed()["counts"]["by_rule"]["untracked-package"] == 3
    # METRC lists bad-0 after all: the untracked-package finding on it is withdrawn.
    snapshot("bad-0", "2026-01-05T11:00:00Z")
    worker_once(runner)
    standing = listed()
    audit_keys = {"rule_id", "rule_version", "severity", "package_label", "subject",
                  "occurred_at", "message", "evidence"}
    assert all(audit_keys <= set(f) for f in standing["findings"])
    assert standing["counts"]["by_rule"]["tag-invalid"] == 4  # three moves and the snapshot
    assert {f["status"] for f in standing["findings"]} <= {"open", "remedied"}
    withdrawn = listed("--status", "withdrawn")["findings"]
    assert [(f["rule_id"], f["package_label"]) for f in withdrawn] == [
        ("untracked-package", "bad-0")]
    assert withdrawn[0]["identity"] not in {f["identity"] for f in standing["findings"]}
    # 10:00 UTC on 5 January is 02:00 on the 5th in Los Angeles: the license's calendar.
    assert listed("--from", "2026-01-05", "--to", "2026-01-05")["findings"] == \
        standing["findings"]
    assert listed("--from", "2026-01-06")["findings"] == []
    assert listed("--to", "2026-01-04")["period"] == {"from": "2000-01-01", "to": "2026-01-04"}


class CountingStore(ContinuousStore):
    """The worker's store, counting the rules it is asked to judge."""

    judged: list[str] = []

    def judge(self, license_id, license, rule, cutoff, scope):
        self.judged.append(rule.id)
        return super().judge(license_id, license, rule, cutoff, scope)


def test_a_restarted_worker_rehearses_every_rule_before_ready_and_writes_nothing(sql_store):
    add_bad_tags(sql_store, 3)
    pack = Pack("p", 1, "p", (TAG_RULE,))
    found = CountingStore(sql_store.engine)
    found.judged = []
    run_once(Worker(found, [LICENSE], lambda _: pack, lateness=timedelta(0)))
    license_id = found.license_ids([LICENSE.number])[LICENSE.number]
    before = (found.findings(license_id), found.checkpoint("default"))
    found.judged = []
    ready = []
    restarted = Worker(found, [LICENSE], lambda _: pack, lateness=timedelta(0))
    restarted.run(lambda: bool(ready), on_ready=lambda: ready.append(list(found.judged)))
    # Ready after the rehearsal judged the rule, with nothing written and no step taken.
    assert ready == [["tag-invalid"]]
    assert (found.findings(license_id), found.checkpoint("default")) == before
    # The first file after it is settled as any other.
    add_bad_tags(sql_store, 2, start=3)
    run_once(restarted)
    assert found.count(license_id) == 5


FULL_COUNT_RULE = next(r for r in load_pack(default_rules_dir()).rules
                       if r.id == "reconciliation-overdue")


class SlowLaneDies(ContinuousStore):
    """A store whose judging of the full-count rule dies: a crash inside the slow lane."""

    def judge(self, license_id, license, rule, cutoff, scope):  # noqa: D102 - as the store's
        if rule.id == FULL_COUNT_RULE.id:
            raise RuntimeError("killed while judging the full-count rule")
        return super().judge(license_id, license, rule, cutoff, scope)


def test_the_quick_rules_findings_commit_before_the_full_count_rule_is_judged(sql_store):
    """A step commits the other rules' findings before it re-judges the full-count rule
    (whole history, seconds on a year), and the checkpoint only after it: a crash in
    between leaves those findings, and the restarted worker re-judges the step without
    writing any of them twice."""
    add_bad_tags(sql_store, 3)
    tag = "1A4000000000000000000001"
    ingest(sql_store, LICENSE.number, "events", "count.ndjson", json.dumps({
        "type": "count_line", "natural_key": "c-1", "occurred_at": "2026-01-05T21:30:00Z",
        "package_label": tag, "reference": "C-1",
        "payload": {"label": tag, "count_id": "C-1", "counted_quantity": 1, "unit": "Each"}})
        .encode())  # a count: the full-count rule has something to judge
    pack = Pack("p", 1, "p", (TAG_RULE, FULL_COUNT_RULE))
    # batch=1: a backlog, so the settle alone answers (no durable-rules fast path)
    dying = Worker(SlowLaneDies(sql_store.engine), [LICENSE], lambda _: pack,
                   lateness=timedelta(0), batch=1)
    with pytest.raises(RuntimeError, match="full-count"):
        dying.step()
    found = ContinuousStore(sql_store.engine)
    license_id = found.license_ids([LICENSE.number])[LICENSE.number]
    assert found.count(license_id) == 3  # tag-invalid's, committed before the crash
    assert found.checkpoint("default") is None  # the step is not done
    restarted = Worker(found, [LICENSE], lambda _: pack, lateness=timedelta(0))
    assert run_once(restarted).findings_written == 0
    assert found.count(license_id) == 3
    checkpoint = found.checkpoint("default")
    assert checkpoint is not None and checkpoint.last_event_id == restarted.progress.last_event_id
