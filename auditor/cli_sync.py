"""`auditor sync` (pull from METRC), `auditor metrc-simulator` and `auditor demo-sync`."""

from __future__ import annotations

import os
import re
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import click

from auditor.bootstrap import metrc_source, open_store
from auditor.cli_progress import progress
from auditor.config import Settings
from auditor.connectors.metrc_settings import load_keys
from auditor.domain.errors import InvalidInput
from auditor.domain.license import License
from auditor.sample import StoreSpec, generate_store
from auditor.sample.metrc_simulator import Faults, MetrcData, SimulatorServer, create_simulator
from auditor.services.demo import sample_license
from auditor.services.sync import ENDPOINT_NAMES, SyncResult, sync_license
from auditor.services.sync_ports import EndpointRun
from auditor.store.sql_store import SqlEventStore
from auditor.store.sync_sql import SqlSyncState

TIME_FORMATS = ["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M%z", "%Y-%m-%d"]
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
# The event types a sync stores: what METRC's GET endpoints hold of a sample store.
PULLED_TYPES = ("adjust_reason", "adjustment", "manifest", "manifest_package",
                "metrc_receipt", "metrc_sale_line", "package_snapshot")


def parse_every(text: str) -> timedelta:
    """Parse an interval such as 90s, 15m, 1h or 1d."""
    found = re.fullmatch(r"\s*(\d+)\s*([smhd])\s*", text)
    if not found or int(found.group(1)) == 0:
        raise click.BadParameter(f"{text!r} is not an interval like 30s, 15m, 1h or 1d")
    return timedelta(seconds=int(found.group(1)) * _UNITS[found.group(2)])


def _aware(value: datetime | None) -> datetime | None:
    """Read a time given without an offset as UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def _status(run: EndpointRun) -> str:
    through = run.synced_through.isoformat() if run.synced_through else "-"
    return f"{run.endpoint} through {through}, pulled {run.pulled}"


def _print_result(result: SyncResult) -> None:
    for run in result.runs:
        click.echo(run.line())
        for rejection in run.rejections:
            click.echo(f"  rejected {rejection}", err=True)


@click.command("sync")
@click.option("--license", "license_number", required=True, help="The license to pull.")
@click.option("--since", type=click.DateTime(TIME_FORMATS),
              help="Pull from this time (default: each endpoint's checkpoint; a first sync "
                   "pulls the last 24 h). Without an offset: UTC.")
@click.option("--until", type=click.DateTime(TIME_FORMATS),
              help="Pull up to this time (default: now).")
@click.option("--every", help="Repeat at this interval (30s, 15m, 1h) until interrupted.")
@click.option("--endpoint", "endpoints", multiple=True, type=click.Choice(ENDPOINT_NAMES),
              help="Pull only this endpoint (repeatable; default: all).")
def sync(license_number: str, since: datetime | None, until: datetime | None,
         every: str | None, endpoints: tuple[str, ...]) -> None:
    """Pull a license's data from METRC; exit 1 if rows were rejected or an endpoint failed.

    Keys: AUDITOR_METRC_VENDOR_KEY and AUDITOR_METRC_USER_KEY, or AUDITOR_METRC_KEYS_FILE.
    Base URL: the state's, or AUDITOR_METRC_BASE_URL(_<LICENSE>).
    """
    interval = parse_every(every) if every else None
    settings = Settings.from_env()
    store = open_store(settings)
    try:
        license = store.get_license(license_number)
        start = _aware(since)
        while True:
            result = _sync_once(store, settings, license, start, _aware(until), endpoints)
            _print_result(result)
            if interval is None:
                sys.exit(0 if result.ok else 1)
            start = None  # later rounds carry on from the checkpoints
            time.sleep(interval.total_seconds())
    except KeyboardInterrupt:  # a window cut short is pulled again by the next run
        click.echo("\nstopped", err=True)
    finally:
        store.engine.dispose()


def _sync_once(store: SqlEventStore, settings: Settings, license: License,
               since: datetime | None, until: datetime | None,
               endpoints: tuple[str, ...]) -> SyncResult:
    source = metrc_source(license)
    try:
        with progress(f"sync {license.number}") as shown:
            result = sync_license(store, SqlSyncState(store.engine), source, license.number,
                                  since=since, until=until, only=endpoints,
                                  progress=lambda run: shown.show(_status(run)),
                                  chunk_size=settings.import_chunk)
            shown.done(f"{len(result.runs)} endpoints, "
                       f"{sum(run.pulled for run in result.runs)} rows pulled")
            return result
    finally:
        source.close()


@click.command("metrc-simulator")
@click.argument("store_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--port", default=8765, show_default=True)
@click.option("--fail-every", default=0, help="Fail every Nth request (0: never).")
@click.option("--fault", type=click.Choice(["429", "500", "drop"]), default="429",
              show_default=True, help="How the failing requests fail.")
def metrc_simulator(store_dir: Path, port: int, fail_every: int, fault: str) -> None:
    """Serve a sample store (`auditor sample`) on 127.0.0.1 as METRC's v2 API would.

    It accepts the keys in AUDITOR_METRC_VENDOR_KEY / AUDITOR_METRC_USER_KEY (or the
    keys file). Point `auditor sync` at it with AUDITOR_METRC_BASE_URL.
    """
    keys = load_keys()
    app = create_simulator(MetrcData.from_store(store_dir), keys.vendor_key, keys.user_key,
                           Faults(every=fail_every, kind=fault))
    server = SimulatorServer(app, port=port)
    click.echo(f"METRC simulator for {store_dir} on {server.url} (Ctrl-C to stop)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        click.echo("stopped", err=True)


@click.command("demo-sync")
@click.option("--days", default=7, show_default=True)
@click.option("--dir", "work_dir", default="var/demo-sync", show_default=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="Scratch folder for the sample store and its database (recreated).")
def demo_sync(days: int, work_dir: Path) -> None:
    """Pull a sample store from a local METRC simulator (with injected faults), twice.

    The first sync must store every METRC record of the store's ground truth, the second
    must add nothing.
    """
    if work_dir.exists():
        for path in sorted(work_dir.rglob("*"), reverse=True):
            path.unlink() if path.is_file() else path.rmdir()
    work_dir.mkdir(parents=True, exist_ok=True)
    spec = StoreSpec(days=days, seed=1, start=date(2026, 1, 1))
    truth = generate_store(work_dir / "store", spec)
    store = open_store(Settings(database_url=f"sqlite:///{work_dir / 'auditor.db'}"),
                       migrate=True)
    license = sample_license(work_dir / "store")
    store.add_license(license)
    faults = Faults(every=50, kind="429")
    app = create_simulator(MetrcData.from_store(work_dir / "store"), "demo-vendor", "demo-user",
                           faults)
    since = datetime(2026, 1, 1, tzinfo=license.zone()) - timedelta(days=1)
    until = since + timedelta(days=days + 2)
    with SimulatorServer(app) as server, tempfile.TemporaryDirectory() as scratch:
        keys_file = Path(scratch) / "keys.json"
        keys_file.write_text('{"vendor_key": "demo-vendor", "user_key": "demo-user"}')
        os.chmod(keys_file, 0o600)
        env = {"AUDITOR_METRC_KEYS_FILE": str(keys_file), "AUDITOR_METRC_BASE_URL": server.url}
        for round_name in ("first sync", "second sync (must add nothing)"):
            click.echo(f"{round_name} from {server.url}, {since:%Y-%m-%d} to {until:%Y-%m-%d}")
            source = metrc_source(license, env)
            result = sync_license(store, SqlSyncState(store.engine), source, license.number,
                                  since=since, until=until)
            source.close()
            _print_result(result)
    click.echo(f"the simulator answered {faults.served} requests, {faults.injected} of them "
               f"with 429 (Retry-After 1 s); each was retried")
    _check_counts(store.event_counts(license.number), truth["event_counts"])


def _check_counts(stored: dict[str, int], expected: dict[str, int]) -> None:
    for kind in PULLED_TYPES:
        verdict = "ok" if stored.get(kind, 0) == expected.get(kind, 0) else "MISMATCH"
        click.echo(f"{kind:20} {stored.get(kind, 0):>8} {expected.get(kind, 0):>8} {verdict}")
    if any(stored.get(k, 0) != expected.get(k, 0) for k in PULLED_TYPES):
        raise InvalidInput("the pulled events do not match the sample store's ground truth")
    click.echo("every METRC record of the sample store was pulled, none twice")
