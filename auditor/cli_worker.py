"""`auditor worker` (continuous evaluation, supervised) and `auditor findings`."""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import click

from auditor.bootstrap import open_store
from auditor.cli_progress import progress
from auditor.config import Settings
from auditor.connectors.webhook import Webhook
from auditor.domain.license import License
from auditor.domain.rules import Pack
from auditor.rules.loader import default_rules_dir
from auditor.services.alerts import deliver_due
from auditor.services.audit import local_bounds
from auditor.services.rule_versions import published_pack
from auditor.services.supervise import supervise
from auditor.services.worker import Progress, Worker, run_once
from auditor.store.alerts_sql import SqlAlertOutbox
from auditor.store.continuous_sql import ContinuousStore
from auditor.store.rule_versions_sql import SqlRuleVersions


def _packs(settings: Settings, versions: SqlRuleVersions) -> Callable[[License], Pack]:
    """Return the loader of a license's pack in force: the seed with published versions."""
    root = settings.rules_dir or default_rules_dir()
    return lambda license: published_pack(root, license.state,
                                          versions.of(license.organization))


def _alerts(engine: Any, url: str) -> Callable[[], object]:
    """Return what sends the alerts due after each commit (to the configured webhook)."""
    outbox, send = SqlAlertOutbox(engine), Webhook(url)
    return lambda: deliver_due(outbox, send, datetime.now(UTC))


def _status(state: Progress) -> str:
    mark = state.watermark.isoformat() if state.watermark else "-"
    return (f"last event {state.last_event_id}  processed {state.events_processed:,}"
            f"  watermark {mark}  working memory {state.working_memory}"
            f"  findings {state.findings_written}  pending {state.pending}"
            f"  withdrawn {state.withdrawn}")


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
    hook = settings.alert_webhook_url
    work = Worker(ContinuousStore(store.engine, alerts=hook is not None), chosen,
                  _packs(settings, SqlRuleVersions(store.engine)), partition,
                  timedelta(seconds=lateness), batch,
                  after_commit=None if hook is None else _alerts(store.engine, hook))
    for evaluator in work.evaluators.values():
        click.echo(f"{evaluator.license.number}: {len(evaluator.programs)} rules run "
                   f"continuously; batch only: {', '.join(sorted(evaluator.batch_only))}",
                   err=True)
    with progress("worker") as shown:
        if once:
            shown.done(_status(run_once(work, until, on_step=lambda state: shown.show(
                _status(state)))))
            return
        work.run(lambda: False, on_progress=lambda state: shown.show(_status(state)),
                 on_ready=lambda: click.echo("worker ready", err=True))


# What each --status shows: the standing findings (the batch audit reports a violation
# remedied late too), or one status; withdrawn ones (later data refuted them) only asked.
STATUSES = {"standing": ("open", "remedied"), "open": ("open",), "remedied": ("remedied",),
            "withdrawn": ("withdrawn",), "all": ("open", "remedied", "withdrawn")}


@click.command("findings")
@click.option("--license", "number", required=True, help="The license.")
@click.option("--status", type=click.Choice(list(STATUSES)), default="standing",
              show_default=True, help="standing: open and remedied late (as the batch "
              "audit reports them); withdrawn findings are listed only when asked.")
@click.option("--open", "only_open", is_flag=True, help="Same as --status open.")
@click.option("--from", "start", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="First day (the license's calendar) of the findings' occurrence.")
@click.option("--to", "end", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="Last day, inclusive.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON in the `audit --json` shape.")
def findings(number: str, status: str, only_open: bool, start: datetime | None,
             end: datetime | None, as_json: bool) -> None:
    """List the continuous evaluation's findings for a license."""
    store = open_store(Settings.from_env())
    license = store.get_license(number)
    found = ContinuousStore(store.engine)
    ids = found.license_ids([license.number])
    period = continuous_period(license, start, end)
    rows = found.findings(ids[number], STATUSES["open" if only_open else status],
                          *(period[2] if period else (None, None)))
    if as_json:
        click.echo(json.dumps(findings_json(license.number, period, rows), indent=2))
        return
    for row in rows:
        click.echo(f"{row['occurred_at'].isoformat()}  {row['rule_id']} v{row['rule_version']}"
                   f"  {row['severity']}  {row['status']}  {row['message']}")


Period = tuple[date, date, tuple[datetime, datetime]]


def continuous_period(license: License, start: datetime | None,
                      end: datetime | None) -> Period | None:
    """Return the days asked and their UTC bounds in the license's calendar, if any."""
    if start is None and end is None:
        return None
    first = (start or datetime(2000, 1, 1)).date()
    last = (end or datetime(2100, 12, 31)).date()
    return first, last, local_bounds(license, first, last)


def findings_json(number: str, period: Period | None,
                  rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Return continuous findings in the shape `auditor audit --json` prints."""
    return {
        "license": number,
        "period": None if period is None else {"from": period[0].isoformat(),
                                               "to": period[1].isoformat()},
        "counts": {"by_severity": dict(Counter(r["severity"] for r in rows)),
                   "by_rule": dict(Counter(r["rule_id"] for r in rows)),
                   "by_status": dict(Counter(r["status"] for r in rows))},
        "findings": [{
            "rule_id": r["rule_id"], "rule_version": r["rule_version"],
            "severity": r["severity"], "package_label": r["package_label"],
            "subject": r["subject"], "occurred_at": r["occurred_at"].isoformat(),
            "message": r["message"], "evidence": list(r["evidence"]), "status": r["status"],
            "remedied_at": r["remedied_at"].isoformat() if r["remedied_at"] else None,
            "identity": r["identity"]} for r in rows]}
