"""The `auditor` command: set-up, licenses, ingest, sample stores and the demo."""

from __future__ import annotations

import getpass
import json
import shutil
import sys
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from auditor.bootstrap import open_store
from auditor.cli_api import org, serve, token
from auditor.cli_ingest import ingest_command
from auditor.cli_jobs import jobs, run_here
from auditor.cli_packets import packet, report, write_outputs
from auditor.cli_sync import demo_sync, metrc_simulator, sync
from auditor.cli_trail import trail, verdict_line
from auditor.cli_users import user
from auditor.cli_worker import findings, worker
from auditor.config import Settings
from auditor.domain.errors import AuditorError, InvalidInput
from auditor.domain.license import DEFAULT_ORGANIZATION, License
from auditor.domain.rules import Pack
from auditor.domain.trail import set_actor
from auditor.importers.registry import FORMATS
from auditor.rules.loader import default_rules_dir, load_pack
from auditor.sample import StoreSpec, generate_store
from auditor.services.audit import run_audit
from auditor.services.demo import DemoResult, check_sample_store, load_sample_store
from auditor.services.ports import AUDIT_ENGINES


class AuditorGroup(click.Group):
    """A click group that reports the product's own errors as one clear line."""

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command, turning an AuditorError into `error: ...` and exit status 2."""
        try:
            return super().invoke(ctx)
        except AuditorError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)


@click.group(cls=AuditorGroup)
@click.version_option(package_name="auditor")
@click.option("--actor", help="who the audit trail records as making the changes "
              "(default: the OS user)")
def main(actor: str | None) -> None:
    """Compliance auditor for licensed cannabis dispensaries."""
    set_actor(actor or _os_user())


def _os_user() -> str:
    try:
        return f"cli {getpass.getuser()}"
    except (KeyError, OSError):  # no login name in the environment or the passwd file
        return "cli (unknown user)"


def _store(migrate: bool = False) -> Any:
    return open_store(Settings.from_env(), migrate=migrate)


@main.group()
def db() -> None:
    """Manage the database (AUDITOR_DATABASE_URL; default sqlite:///var/auditor.db)."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Create the schema or bring it up to date."""
    _store(migrate=True)
    click.echo("database is up to date")


@main.group("license")
def license_group() -> None:
    """Add and list licensed facilities."""


@license_group.command("add")
@click.argument("number")
@click.option("--state", required=True, help="Two-letter state code, e.g. CA.")
@click.option("--timezone", required=True, help="IANA zone, e.g. America/Los_Angeles.")
@click.option("--sales-floor", "sales_floor", multiple=True, default=["Sales Floor"],
              show_default=True, help="A sales-floor location name (repeatable).")
@click.option("--vault", multiple=True, default=["Vault"], show_default=True,
              help="A vault or back-stock location name (repeatable).")
@click.option("--name", "business_name", default="", help="The business name for reports.")
@click.option("--org", "organization", default=DEFAULT_ORGANIZATION, show_default=True,
              help="The organization that holds the license.")
def license_add(number: str, state: str, timezone: str, sales_floor: tuple[str, ...],
                vault: tuple[str, ...], business_name: str, organization: str) -> None:
    """Add a license NUMBER with its state and time zone, held by an organization."""
    license = License(number, state.upper(), timezone, tuple(sales_floor), business_name,
                      tuple(vault), organization)
    _store().add_license(license)
    click.echo(f"added license {number} ({license.state}, {timezone}) to {organization}")


@license_group.command("list")
def license_list() -> None:
    """List the licenses."""
    for lic in _store().list_licenses():
        click.echo(f"{lic.number}\t{lic.organization}\t{lic.state}\t{lic.timezone}\t"
                   f"sales floor: {', '.join(lic.sales_floor_locations)}")


@main.command()
def formats() -> None:
    """List the import formats."""
    for name, fmt in sorted(FORMATS.items()):
        click.echo(f"{name:26} {fmt.description}")


@main.command()
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@click.option("--days", default=90, show_default=True)
@click.option("--receipts-per-day", default=120, show_default=True)
@click.option("--seed", default=1, show_default=True)
@click.option("--start", type=click.DateTime(["%Y-%m-%d"]), default="2026-01-01",
              show_default=True)
@click.option("--clean", is_flag=True, help="Plant no violations.")
def sample(out: Path, days: int, receipts_per_day: int, seed: int, start: datetime,
           clean: bool) -> None:
    """Write a realistic sample store to OUT, in the formats `auditor ingest` reads."""
    spec = StoreSpec(days=days, receipts_per_day=receipts_per_day, seed=seed,
                     start=start.date(), plant=not clean)
    with click.progressbar(length=days, label="generating days", file=sys.stderr) as bar:
        truth = generate_store(out, spec, lambda done, _total: bar.update(done - bar.pos))
    click.echo(f"wrote {sum(truth['record_counts'].values())} records "
               f"({sum(truth['event_counts'].values())} events, "
               f"{len(truth['violations'])} planted violations) to {out}")


@main.command()
@click.option("--days", default=30, show_default=True)
@click.option("--receipts-per-day", default=120, show_default=True)
@click.option("--seed", default=1, show_default=True)
@click.option("--dir", "work_dir", default="var/demo", show_default=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="Scratch folder for the sample files and the demo database (recreated).")
def demo(days: int, receipts_per_day: int, seed: int, work_dir: Path) -> None:
    """Generate a sample store, ingest it into a fresh SQLite database, and check the counts."""
    shutil.rmtree(work_dir, ignore_errors=True)
    work_dir.mkdir(parents=True)
    store = open_store(Settings(database_url=f"sqlite:///{work_dir / 'auditor.db'}",
                                trail_key_file=Settings.from_env().trail_key_file),
                       migrate=True)
    spec = StoreSpec(days=days, receipts_per_day=receipts_per_day, seed=seed,
                     start=date(2026, 1, 1))
    click.echo(f"sample store: {days} days, ~{receipts_per_day} receipts a day, seed {seed}")
    with click.progressbar(length=days, label="generating", file=sys.stderr) as bar:
        generate_store(work_dir / "store", spec, lambda done, _t: bar.update(done - bar.pos))
    with click.progressbar(length=1, label="ingesting ", file=sys.stderr) as bar:
        def on_file(done: int, total: int, _path: str) -> None:
            bar.length = total
            bar.update(done - bar.pos)
        summaries = load_sample_store(store, work_dir / "store", on_file=on_file)
    result = check_sample_store(store, work_dir / "store", summaries)
    _print_demo(result)
    pack = _pack(result.license.state)
    report = run_audit(store, pack, result.license.number, spec.start,
                       spec.start + timedelta(days=days - 1))
    _print_stored_run(report.as_json(), findings=False)
    click.echo("writing the audit packet and the associate's reports ...", err=True)
    for path in write_outputs(store, report.run_id, pack, work_dir / "outputs"):
        click.echo(f"wrote {path}")
    click.echo(verdict_line(store, Settings.from_env().trail_key_file))


def _pack(state: str | None) -> Pack:
    return load_pack(Settings.from_env().rules_dir or default_rules_dir(), state)


@main.group()
def rules() -> None:
    """Inspect and validate rule packs (AUDITOR_RULES_DIR; default: this checkout's rules/)."""


@rules.command("list")
@click.option("--state", help="Merge in this state's pack, e.g. CA.")
def rules_list(state: str | None) -> None:
    """List the rules of the core pack, or of a state's merged pack."""
    pack = _pack(state)
    click.echo(f"{pack.id} v{pack.version} ({len(pack.rules)} rules) sha256 {pack.content_hash}")
    for rule in sorted(pack.rules, key=lambda r: r.id):
        click.echo(f"  {rule.id:30} v{rule.version} {rule.severity.value:8} {rule.template.value}")
    for rule_id, reason in sorted(pack.excluded.items()):
        click.echo(f"  not in force: {rule_id} ({reason})")


@rules.command("validate")
@click.option("--state", help="Validate this state's merged pack too.")
def rules_validate(state: str | None) -> None:
    """Check every rule file; print the first problem, naming the file, rule and field."""
    pack = _pack(state)
    click.echo(f"ok: {pack.id} v{pack.version}, {len(pack.rules)} rules, "
               f"{sum(len(r.cases) for r in pack.rules)} cases")


@main.command()
@click.option("--license", "license_number", required=True)
@click.option("--from", "start", required=True, type=click.DateTime(["%Y-%m-%d"]),
              help="First day of the period (license-local).")
@click.option("--to", "end", required=True, type=click.DateTime(["%Y-%m-%d"]),
              help="Last day of the period, inclusive.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--engine", type=click.Choice(AUDIT_ENGINES), default="sql", show_default=True,
              help="Where the rules run: the store itself, or a DuckDB copy of the "
                   "license's events (same findings).")
def audit(license_number: str, start: datetime, end: datetime, as_json: bool,
          engine: str) -> None:
    """Run the readiness audit for a license over a period and print the findings."""
    settings = Settings.from_env()
    store = open_store(settings)
    store.get_license(license_number)
    first, last = start.date().isoformat(), end.date().isoformat()
    job = run_here(settings, store, "audit", license_number,
                   f"{license_number} {first} {last}",
                   {"start": first, "end": last, "engine": engine}, "audit")
    assert job.result is not None
    stored = store.runs.get(job.result["run_id"])
    if as_json:
        click.echo(json.dumps(stored, indent=2))
        return
    _print_stored_run(stored)


@main.group()
def audits() -> None:
    """List and read back stored audit runs."""


@audits.command("list")
@click.option("--license", "license_number", required=True)
def audits_list(license_number: str) -> None:
    """List a license's audit runs, newest first."""
    store = open_store(Settings.from_env())
    store.get_license(license_number)
    for run in store.runs.list(license_number):
        click.echo(f"{run['id']}  {run['created_at']:%Y-%m-%d %H:%M}Z  "
                   f"{run['period_start']} to {run['period_end']}  "
                   f"{run['pack_id']} v{run['pack_version']}  score {run['readiness_score']}")


@audits.command("show")
@click.argument("run_id")
def audits_show(run_id: str) -> None:
    """Print a stored run's report (JSON), exactly as it was produced."""
    click.echo(json.dumps(open_store(Settings.from_env()).runs.get(run_id), indent=2))


def finding_rate_line(activity: dict[str, Any]) -> str:
    """Return the finding rate and its change since the previous run, in words."""
    rate, previous = activity["findings_per_1000_events"], activity["previous"]
    line = f"findings per 1,000 events {rate} ({activity['events']} events)"
    if activity["change"] is None:
        return line + ("; no earlier run to compare with" if previous is None
                       else "; the previous run has no rate to compare with")
    change = activity["change"]
    trend = "fewer: improving" if change < 0 else "more: worsening" if change > 0 else "unchanged"
    return line + (f"; previous run {previous['findings_per_1000_events']}, "
                   f"{change:+} ({trend})")


def _print_stored_run(run: dict[str, Any], *, findings: bool = True) -> None:
    """Print a run's report (as stored, or `AuditReport.as_json`) for people."""
    period, pack, counts = run["period"], run["pack"], run["counts"]
    click.echo(f"readiness audit {run['run_id']} for {run['license']}, "
               f"{period['from']} to {period['to']}")
    click.echo(f"pack {pack['id']} v{pack['version']} sha256 {pack['hash']}")
    for f in run["findings"] if findings else []:
        click.echo(f"  [{f['severity']}] {f['rule_id']} v{f['rule_version']}: {f['message']} "
                   f"(events {', '.join(map(str, f['evidence']))})")
    click.echo(f"readiness score {run['readiness_score']}/100; {len(run['findings'])} findings; "
               + ", ".join(f"{k} {v}" for k, v in sorted(counts["by_severity"].items())))
    activity = run.get("activity")  # runs stored before the finding rate have none
    if activity:
        click.echo(finding_rate_line(activity))
    rates = (activity or {}).get("per_rule_per_1000_events", {})
    for rule_id, count in sorted(counts["by_rule"].items()):
        rate = f"  ({rates[rule_id]} per 1,000 events)" if rule_id in rates else ""
        click.echo(f"  {rule_id:30} {count}{rate}")
    for rule_id, count in sorted(counts["undetermined"].items()):
        click.echo(f"  {rule_id:30} {count} events not judged: their package's state was "
                   "not yet known")


def _print_demo(result: DemoResult) -> None:
    rejected = sum(s.rejected for s in result.summaries)
    click.echo(f"ingested {len(result.summaries)} files for license {result.license.number}: "
               f"{sum(s.accepted for s in result.summaries)} records accepted, "
               f"{rejected} rejected")
    click.echo(f"{'event type':20} {'stored':>9} {'expected':>9}")
    for kind, expected in sorted(result.truth["event_counts"].items()):
        stored = result.counts.get(kind, 0)
        verdict = "ok" if stored == expected else "MISMATCH"
        click.echo(f"{kind:20} {stored:>9} {expected:>9} {verdict}")
    if result.mismatches() or rejected:
        raise InvalidInput("the stored events do not match the sample store's ground truth")
    click.echo(f"all {sum(result.counts.values())} events match the ground truth; "
               f"{len(result.truth['violations'])} violations were planted")


for command in (ingest_command, jobs, packet, report, worker, findings, serve, token, trail, org,
                sync, metrc_simulator, demo_sync, user):
    main.add_command(command)
