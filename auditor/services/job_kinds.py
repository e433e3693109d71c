"""The kinds of long work and the functions that do them: audit, backtest, packet, report,
sync, and the import of a file uploaded in the console.

Each function takes the job's context (its parameters, a way to report progress) and a
Workspace (the ports it needs), and returns the job's outcome: a JSON result, naming
where the thing made can be read (`result_url`), and a file for reports. The API and
the CLI only submit; these functions are the one place the work is done.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from auditor.domain.events import canonical_json
from auditor.domain.license import License
from auditor.domain.rules import Pack
from auditor.services.api_ports import RuleVersions
from auditor.services.audit import run_audit
from auditor.services.job_ports import OutputFile, PacketFiles
from auditor.services.jobs import JobContext, JobFunction, JobOutcome
from auditor.services.packets import PacketRenderer, PacketSources, current_packet, render_packet
from auditor.services.ports import EventStore
from auditor.services.report_ports import ActivityLog
from auditor.services.reports import build_report, report_tables
from auditor.services.rule_versions import backtest, parse_draft, published_pack
from auditor.services.sync import EndpointRun, sync_license
from auditor.services.sync_ports import MetrcSource, SyncState
from auditor.services.upload_ports import StagedUploads
from auditor.services.uploads import import_staged

MEDIA = {"pdf": "application/pdf", "json": "application/json",
         "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


@dataclass
class Workspace:
    """What the job functions work with, wired by the composition root."""

    store: EventStore
    rules_dir: Path
    rule_versions: RuleVersions
    packets: PacketSources
    packet_files: PacketFiles
    renderer: PacketRenderer
    activity: ActivityLog
    sync_state: SyncState
    metrc: Callable[[License], MetrcSource]
    import_chunk: int = 2000
    staged: StagedUploads | None = None  # uploads waiting for their import job

    def pack(self, license: License) -> Pack:
        """Return a license's pack in force: its organization's versions over its state's."""
        return published_pack(self.rules_dir, license.state,
                              self.rule_versions.of(license.organization))


def audit(ctx: JobContext, ws: Workspace) -> JobOutcome:
    """Run a readiness audit over the job's period and store the run."""
    p = ctx.job.params
    license = ws.store.get_license(ctx.job.license_number)
    report = run_audit(ws.store, ws.pack(license), license.number, _day(p["start"]),
                       _day(p["end"]), on_rule=lambda rule, done, total: ctx.progress(
                           done, total, f"rule {rule}"), engine=p.get("engine", "sql"))
    summary = {k: v for k, v in report.as_json().items() if k != "findings"}
    return JobOutcome({**summary, "result_url": f"/audits/{report.run_id}"})


def backtest_draft(ctx: JobContext, ws: Workspace) -> JobOutcome:
    """Compare a draft rule's findings over the period with the rule in force's."""
    p = ctx.job.params
    license = ws.store.get_license(ctx.job.license_number)
    pack = ws.pack(license)
    draft = parse_draft(p["yaml"], dict(pack.parameters))
    ctx.progress(0, 1, f"backtest of {draft.id}")
    return JobOutcome(backtest(ws.store, pack, draft, license.number, _day(p["start"]),
                               _day(p["end"])))


def packet(ctx: JobContext, ws: Workspace) -> JobOutcome:
    """Build the run's packet (its final version, or the draft afresh) and store its file."""
    run_id, fmt = ctx.job.params["run_id"], ctx.job.params["format"]
    license = ws.store.get_license(ctx.job.license_number)
    ctx.progress(0, 2, "building the packet's content")
    version = current_packet(ws.packets, run_id, ws.pack(license), ctx.job.actor)
    ctx.progress(1, 2, f"rendering version {version.version} as {fmt}")
    data = render_packet(version, fmt, ws.renderer)
    stored = ws.packet_files.put(run_id, version.version, version.sha256, fmt, data,
                                 datetime.now(UTC))
    return JobOutcome({"run_id": run_id, "version": version.version, "format": fmt,
                       "packet_sha256": version.sha256, "file_sha256": stored.sha256,
                       "final": stored.final,
                       "result_url": f"/audits/{run_id}/packet?format={fmt}"})


def report(ctx: JobContext, ws: Workspace) -> JobOutcome:
    """Build one of the associate's reports for the period as a file."""
    p = ctx.job.params
    license = ws.store.get_license(ctx.job.license_number)
    ctx.progress(0, 1, f"building the {p['name']} report")
    built = build_report(p["name"], ws.activity, license, _day(p["start"]), _day(p["end"]))
    data = (canonical_json(built).encode() if p["format"] == "json"
            else ws.renderer.xlsx(report_tables(built)))
    name = f"{p['name']}-{license.number}.{p['format']}"
    rows = [[t["title"], len(t["rows"])] for t in built["tables"]]  # in order (jsonb sorts keys)
    return JobOutcome({"name": p["name"], "format": p["format"], "bytes": len(data),
                       "rows": rows, "result_url": f"/jobs/{ctx.job.id}/result"},
                      OutputFile(MEDIA[p["format"]], name, data))


def sync(ctx: JobContext, ws: Workspace) -> JobOutcome:
    """Pull the license's data from METRC, endpoint by endpoint."""
    p = ctx.job.params
    license = ws.store.get_license(ctx.job.license_number)
    source = ws.metrc(license)
    pulled: set[str] = set()

    def shown(run: EndpointRun) -> None:
        pulled.add(run.endpoint)
        ctx.progress(len(pulled), len(p["endpoints"] or ()) or len(pulled) + 1,
                     f"{run.endpoint}: {run.pulled} pulled")

    try:
        result = sync_license(ws.store, ws.sync_state, source, license.number,
                              since=_time(p.get("since")), until=_time(p.get("until")),
                              only=p.get("endpoints"), progress=shown,
                              chunk_size=ws.import_chunk)
    finally:
        source.close()
    return JobOutcome(result.as_json())


def import_upload(ctx: JobContext, ws: Workspace) -> JobOutcome:
    """Import a file uploaded in the console, reporting rows read and accepted as it goes."""
    assert ws.staged is not None, "the composition root wires staged uploads for this kind"
    return JobOutcome(import_staged(ctx, ws.store, ws.staged, ws.import_chunk))


KINDS: dict[str, JobFunction] = {"audit": audit, "backtest": backtest_draft, "packet": packet,
                                 "report": report, "sync": sync, "import": import_upload}


def _day(text: str) -> date:
    return date.fromisoformat(text)


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None
