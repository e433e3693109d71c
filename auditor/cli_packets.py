"""The `auditor packet` commands (write, finalize, amend a run's packet) and `auditor report`."""

from __future__ import annotations

import getpass
from datetime import date, datetime
from pathlib import Path

import click

from auditor.bootstrap import open_store
from auditor.cli_jobs import run_here
from auditor.cli_progress import progress
from auditor.config import Settings
from auditor.domain.rules import Pack
from auditor.packets import PacketDocuments
from auditor.rules.loader import default_rules_dir
from auditor.services.packets import (
    PacketSources,
    amend_packet,
    current_packet,
    finalize_packet,
    render_packet,
)
from auditor.services.report_ports import StatusWaivers
from auditor.services.reports import REPORTS, build_report, report_tables
from auditor.services.rule_versions import published_pack
from auditor.store.api_sql import SqlApiStore
from auditor.store.jobs_sql import SqlJobs
from auditor.store.packet_files_sql import SqlPacketFiles
from auditor.store.packet_records import SqlPacketRecords
from auditor.store.report_queries import SqlActivityLog
from auditor.store.rule_versions_sql import SqlRuleVersions
from auditor.store.sql_store import SqlEventStore
from auditor.store.trail_sql import SqlTrail

BY = click.option("--by", default=getpass.getuser, show_default="the current user",
                  help="Who does it (recorded with the packet version).")


class DefaultToWrite(click.Group):
    """`auditor packet RUN ...` means `auditor packet write RUN ...`."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        """Insert `write` when the first argument is not a subcommand or an option."""
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["write", *args]
        return super().parse_args(ctx, args)


@click.group("packet", cls=DefaultToWrite)
def packet() -> None:
    """Audit packets of stored runs: `auditor packet RUN --format pdf|xlsx|json`."""


def _sources(run_id: str) -> tuple[PacketSources, Pack]:
    settings = Settings.from_env()
    store = open_store(settings)
    license = store.get_license(store.runs.get(run_id)["license"])
    # The license's pack in force, as the packet job and the API use it.
    return (sources_for(store),
            published_pack(settings.rules_dir or default_rules_dir(), license.state,
                           SqlRuleVersions(store.engine).of(license.organization)))


def sources_for(store: SqlEventStore) -> PacketSources:
    """Return what a packet is built from, all read from the store's database."""
    return PacketSources(store, SqlActivityLog(store.engine), SqlPacketRecords(store.engine),
                         StatusWaivers(SqlApiStore(store.engine)), SqlTrail(store.engine))


def write_outputs(store: SqlEventStore, run_id: str, pack: Pack, folder: Path) -> list[Path]:
    """Write a run's packet (PDF and Excel) and every associate report (Excel) into folder."""
    folder.mkdir(parents=True, exist_ok=True)
    run = store.runs.get(run_id)
    version = current_packet(sources_for(store), run_id, pack, getpass.getuser())
    written = []
    for fmt in ("pdf", "xlsx"):
        written.append(folder / f"packet-{run_id}.{fmt}")
        written[-1].write_bytes(render_packet(version, fmt, PacketDocuments()))
    license = store.get_license(run["license"])
    start, end = (date.fromisoformat(run["period"][k]) for k in ("from", "to"))
    for name in REPORTS:
        built = build_report(name, SqlActivityLog(store.engine), license, start, end)
        written.append(folder / f"{name}.xlsx")
        written[-1].write_bytes(PacketDocuments().xlsx(report_tables(built)))
    return written


@packet.command("write")
@click.argument("run_id")
@click.option("--format", "fmt", type=click.Choice(["pdf", "xlsx", "json"]), default="pdf",
              show_default=True, help="json writes the canonical content the SHA-256 covers.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write it (default: packet-RUN.FORMAT in the current folder).")
@click.option("--full-logs", is_flag=True, help="List every row of every log in the PDF "
              "(by default: the exceptions and per-day totals; the XLSX and JSON hold all).")
@BY
def write(run_id: str, fmt: str, out: Path | None, by: str, full_logs: bool) -> None:
    """Write a run's packet (its latest final version, or a draft) and print its SHA-256."""
    target = out or Path(f"packet-{run_id}.{fmt}")
    if full_logs and fmt == "pdf":
        _write_full_logs(run_id, target, by)
        return
    settings = Settings.from_env()
    store = open_store(settings)
    run_here(settings, store, "packet", store.runs.get(run_id)["license"], f"{run_id} {fmt}",
             {"run_id": run_id, "format": fmt}, "packet", actor=by)
    stored = SqlPacketFiles(store.engine).newest(run_id, fmt)
    assert stored is not None, "the packet job stored no file"
    target.write_bytes(stored.data)
    click.echo(f"wrote {target} (packet v{stored.version}, "
               f"{'final' if stored.final else 'draft'}); "
               f"content sha256 {stored.packet_sha256}")


def _write_full_logs(run_id: str, target: Path, by: str) -> None:
    """Render the PDF with every log row here: a one-off variant, not the stored packet."""
    with progress("packet") as shown:
        shown.show("reading the run, its findings and the audit trail", force=True)
        sources, pack = _sources(run_id)
        version = current_packet(sources, run_id, pack, by)
        shown.show("rendering pdf with the full logs", force=True)
        target.write_bytes(render_packet(version, "pdf", PacketDocuments(), full_logs=True))
        shown.done(f"wrote {target}")
    click.echo(f"wrote {target} (packet v{version.version}, "
               f"{'final' if version.finalized_at else 'draft'}, full logs); "
               f"content sha256 {version.sha256}")


@packet.command("finalize")
@click.argument("run_id")
@BY
def finalize(run_id: str, by: str) -> None:
    """Make a run's packet final: it can then only be amended, never changed."""
    sources, pack = _sources(run_id)
    version = finalize_packet(sources, run_id, pack, by)
    click.echo(f"packet v{version.version} of run {run_id} is final; "
               f"content sha256 {version.sha256}")


@packet.command("amend")
@click.argument("run_id")
@click.option("--reason", required=True, help="Why the packet is amended.")
@BY
def amend(run_id: str, reason: str, by: str) -> None:
    """Add a new final version of a final packet from the events as they stand now."""
    sources, pack = _sources(run_id)
    version = amend_packet(sources, run_id, pack, by, reason)
    click.echo(f"packet v{version.version} of run {run_id}: " + "; ".join(version.changes))
    click.echo(f"content sha256 {version.sha256}")


@packet.command("versions")
@click.argument("run_id")
def versions(run_id: str) -> None:
    """List a run's packet versions with their SHA-256, who made them and why."""
    sources, _ = _sources(run_id)
    for v in sources.records.versions(run_id):
        state = f"final {v.finalized_at:%Y-%m-%d %H:%M}Z" if v.finalized_at else "draft"
        click.echo(f"v{v.version}  {v.sha256}  {state}  by {v.created_by}: {v.reason}")


@click.command("report")
@click.argument("name", type=click.Choice(list(REPORTS)))
@click.option("--license", "license_number", required=True)
@click.option("--from", "start", required=True, type=click.DateTime(["%Y-%m-%d"]),
              help="First day of the period (license-local).")
@click.option("--to", "end", required=True, type=click.DateTime(["%Y-%m-%d"]),
              help="Last day of the period, inclusive.")
@click.option("--format", "fmt", type=click.Choice(["xlsx", "json"]), default="xlsx",
              show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write it (default: NAME-LICENSE-FROM-TO.FORMAT).")
def report(name: str, license_number: str, start: datetime, end: datetime, fmt: str,
           out: Path | None) -> None:
    """Write one of the inventory associate's reports as Excel or JSON."""
    settings = Settings.from_env()
    store = open_store(settings)
    store.get_license(license_number)
    target = out or Path(f"{name}-{license_number}-{start:%Y%m%d}-{end:%Y%m%d}.{fmt}")
    first, last = start.date().isoformat(), end.date().isoformat()
    job = run_here(settings, store, "report", license_number, f"{name} {first} {last} {fmt}",
                   {"name": name, "start": first, "end": last, "format": fmt}, "report")
    output = SqlJobs(store.engine).output(job.id)
    assert output is not None and job.result is not None, "the report job made no file"
    target.write_bytes(output.data)
    rows = ", ".join(f"{title} {count}" for title, count in job.result["rows"])
    click.echo(f"wrote {target}: {rows} rows")
