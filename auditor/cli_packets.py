"""The `auditor packet` command: a stored run's audit packet as PDF, Excel or JSON."""

from __future__ import annotations

import getpass
import sys
from pathlib import Path

import click

from auditor.bootstrap import open_store
from auditor.config import Settings
from auditor.packets import PacketDocuments
from auditor.rules.loader import default_rules_dir, load_pack
from auditor.services.packets import PacketSources, current_packet, render_packet
from auditor.services.report_fakes import InMemoryPacketRecords
from auditor.store.report_queries import SqlActivityLog


@click.command("packet")
@click.argument("run_id")
@click.option("--format", "fmt", type=click.Choice(["pdf", "xlsx", "json"]), default="pdf",
              show_default=True, help="json writes the canonical content the SHA-256 covers.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write it (default: packet-RUN.FORMAT in the current folder).")
@click.option("--by", default=getpass.getuser, show_default="the current user",
              help="Who generates the packet.")
def packet(run_id: str, fmt: str, out: Path | None, by: str) -> None:
    """Write the audit packet of a stored run and print its SHA-256."""
    settings = Settings.from_env()
    store = open_store(settings)
    # Packet versions are not yet kept in the database (its migration waits on 0005),
    # so each generation is a fresh draft: same run and events, same content and hash.
    sources = PacketSources(store, SqlActivityLog(store.engine), InMemoryPacketRecords())
    license = store.get_license(store.runs.get(run_id)["license"])
    pack = load_pack(settings.rules_dir or default_rules_dir(), license.state)
    version = current_packet(sources, run_id, pack, by)
    target = out or Path(f"packet-{run_id}.{fmt}")
    target.write_bytes(render_packet(version, fmt, PacketDocuments()))
    click.echo(f"wrote {target} (packet v{version.version}, "
               f"{'final' if version.finalized_at else 'draft'}); "
               f"content sha256 {version.sha256}", file=sys.stdout)
