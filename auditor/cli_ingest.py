"""`auditor ingest`: import files of one format, streamed from their paths, with progress."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import click

from auditor.bootstrap import open_store
from auditor.cli_progress import Progress, progress
from auditor.config import Settings
from auditor.domain.errors import FileRejected
from auditor.domain.license import License
from auditor.importers.profile import builtin_names, load_profile
from auditor.importers.registry import FORMATS
from auditor.services.ingest import ingest_path
from auditor.services.ports import ImportSummary

SHOWN_REJECTIONS = 20


@click.command("ingest")
@click.option("--license", "license_number", required=True, help="The license the data is for.")
@click.option("--format", "fmt", required=True, type=click.Choice(sorted(FORMATS)),
              help="The source format (see `auditor formats`).")
@click.option("--effective-date", type=click.DateTime(["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d"]),
              help="For metrc-adjust-reasons: when the list took effect (default: first import).")
@click.option("--profile", "profile_name", metavar="NAME|FILE",
              help=f"Read a POS or scanner export through a profile: one of "
                   f"{', '.join(builtin_names())}, or a profile file (.toml).")
@click.argument("files", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
def ingest_command(license_number: str, fmt: str, effective_date: datetime | None,
                   profile_name: str | None, files: tuple[Path, ...]) -> None:
    """Import FILES of one format; exit 1 if any row was rejected, 2 if a file was."""
    settings = Settings.from_env()
    store = open_store(settings)
    effective = _effective_at(store.get_license(license_number), effective_date)
    profile = load_profile(profile_name) if profile_name else None
    rows = rows_rejected = files_rejected = 0
    with progress("ingest") as shown:
        for number, path in enumerate(files, start=1):
            shown.show(f"file {number}/{len(files)} {path}: checking its structure", force=True)
            try:
                summary = ingest_path(store, license_number, fmt, path, effective_at=effective,
                                      chunk_size=settings.import_chunk, profile=profile,
                                      progress=_rows_shown(shown, number, len(files)))
            except FileRejected as exc:
                shown.clear()
                click.echo(f"{path}: rejected: {exc}", err=True)
                files_rejected += 1
                continue
            shown.clear()
            _print_summary(summary)
            rows += summary.rows_read
            rows_rejected += summary.rejected
        shown.done(f"{len(files)} files, {rows:,} rows read, {rows_rejected:,} rejected, "
                   f"{files_rejected} files refused")
    if files_rejected:
        sys.exit(2)
    if rows_rejected:
        sys.exit(1)


def _rows_shown(shown: Progress, number: int, total: int) -> Callable[[ImportSummary], None]:
    """Return the per-batch callback that redraws the live line."""
    def show(summary: ImportSummary) -> None:
        rate = summary.rows_read / max(shown.elapsed(), 1e-9)
        shown.show(f"file {number}/{total} {summary.source}: {summary.rows_read:,} rows "
                   f"({rate:,.0f}/s)")
    return show


def _print_summary(summary: ImportSummary) -> None:
    click.echo(f"{summary.source}: read {summary.rows_read}, accepted {summary.accepted}, "
               f"duplicates {summary.duplicates}, rejected {summary.rejected} "
               f"({summary.events_added} events added, import #{summary.import_id})")
    for rejection in summary.rejections[:SHOWN_REJECTIONS]:
        click.echo(f"  rejected {rejection}", err=True)
    if summary.rejected > SHOWN_REJECTIONS:
        click.echo(f"  ... and {summary.rejected - SHOWN_REJECTIONS} more; all are kept with "
                   f"import #{summary.import_id}", err=True)
    if summary.ignored_fields:
        click.echo(f"  ignored unknown fields: {', '.join(sorted(summary.ignored_fields))}",
                   err=True)


def _effective_at(license: License, value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=license.zone())  # a bare date is local midnight
