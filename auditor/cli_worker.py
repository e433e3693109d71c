"""`auditor worker` (continuous evaluation, supervised) and `auditor findings`."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import datetime, timedelta

import click

from auditor.bootstrap import open_store
from auditor.config import Settings
from auditor.domain.license import License
from auditor.domain.rules import Pack
from auditor.rules.loader import default_rules_dir
from auditor.services.rule_versions import published_pack
from auditor.services.supervise import supervise
from auditor.services.worker import Progress, Worker, run_once
from auditor.store.continuous_sql import ContinuousStore
from auditor.store.rule_versions_sql import SqlRuleVersions


def _packs(settings: Settings, versions: SqlRuleVersions) -> Callable[[License], Pack]:
    """Return the loader of a license's pack in force: the seed with published versions."""
    root = settings.rules_dir or default_rules_dir()
    return lambda license: published_pack(root, license.state,
                                          versions.of(license.organization))


def _show(progress: Progress) -> None:
    mark = progress.watermark.isoformat() if progress.watermark else "-"
    click.echo(f"\rlast event {progress.last_event_id}  processed {progress.events_processed}"
               f"  watermark {mark}  working memory {progress.working_memory}"
               f"  findings {progress.findings_written}  late {progress.late}", nl=False, err=True)


@click.command("worker")
@click.option("--license", "numbers", multiple=True, help="A license of the partition "
              "(repeat; default: every license).")
@click.option("--partition", default="default", show_default=True,
              help="The checkpoint's name: one worker per partition.")
@click.option("--lateness", default=300, show_default=True,
              help="Allowed lateness in seconds behind the latest event time.")
@click.option("--once", is_flag=True, help="Process what is stored now, then exit.")
@click.option("--until", type=click.DateTime(["%Y-%m-%dT%H:%M:%S%z"]), default=None,
              help="With --once: move the event-time clock to this cut-off.")
@click.option("--batch", default=5000, show_default=True,
              help="Events per transaction (findings and checkpoint commit together).")
@click.option("--supervise/--no-supervise", "supervised", default=True, show_default=True,
              help="Run the worker in a child process and restart it if it crashes.")
def worker(numbers: tuple[str, ...], partition: str, lateness: int, once: bool,
           until: datetime | None, batch: int, supervised: bool) -> None:
    """Evaluate the rules continuously on new events, in event time."""
    if supervised:
        argv = [a for a in sys.argv[1:] if a != "--supervise"]
        record = supervise([sys.executable, "-m", "auditor", *argv, "--no-supervise"])
        click.echo(f"worker exited {record.exits[-1]} after {record.restarts} restarts",
                   err=True)
        sys.exit(0 if record.exits[-1] == 0 else 1)
    settings = Settings.from_env()
    store = open_store(settings)
    chosen = [store.get_license(n) for n in numbers] or store.list_licenses()
    work = Worker(ContinuousStore(store.engine), chosen,
                  _packs(settings, SqlRuleVersions(store.engine)), partition,
                  timedelta(seconds=lateness), batch)
    for evaluator in work.evaluators.values():
        click.echo(f"{evaluator.license.number}: {len(evaluator.programs)} rules run "
                   f"continuously; batch only: {', '.join(sorted(evaluator.batch_only))}",
                   err=True)
    if once:
        _show(run_once(work, until))
        click.echo("", err=True)
        return
    work.run(lambda: False, on_progress=_show)


@click.command("findings")
@click.option("--license", "number", required=True, help="The license.")
@click.option("--open", "only_open", is_flag=True, help="Only findings still open.")
def findings(number: str, only_open: bool) -> None:
    """List the continuous evaluation's findings for a license."""
    store = open_store(Settings.from_env())
    found = ContinuousStore(store.engine)
    ids = found.license_ids([store.get_license(number).number])
    for row in found.findings(ids[number], "open" if only_open else None):
        click.echo(f"{row['occurred_at'].isoformat()}  {row['rule_id']} v{row['rule_version']}"
                   f"  {row['severity']}  {row['status']}  {row['message']}")
