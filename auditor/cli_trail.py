"""`auditor trail verify` and `auditor trail show`: check and read the audit trail."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from auditor.bootstrap import open_store
from auditor.config import Settings
from auditor.domain.errors import InvalidInput
from auditor.domain.trail import Head, decode, load_key
from auditor.services.trail import verify_trail
from auditor.store.sql_store import SqlEventStore
from auditor.store.trail_sql import SqlTrail


def verdict_line(store: SqlEventStore, key_file: Path | None) -> str:
    """Return the one-line verdict on a store's trail (the demo prints it last)."""
    return f"audit trail {verify_trail(SqlTrail(store.engine), _key(key_file))}"


def _key(key_file: Path | None) -> bytes | None:
    return load_key(str(key_file)) if key_file else None


@click.group()
def trail() -> None:
    """The tamper-evident audit trail of every change."""


@trail.command("verify")
@click.option("--key-file", type=click.Path(dir_okay=False, path_type=Path),
              help="the HMAC key file (default: AUDITOR_TRAIL_KEY_FILE); checks every MAC")
@click.option("--head", "published", metavar="SEQ:SHA256",
              help="a head printed on a packet: it must still be there, unchanged")
def trail_verify(key_file: Path | None, published: str | None) -> None:
    """Check every entry's hash, link (and MAC); exit 1 naming the first broken entry."""
    settings = Settings.from_env()
    key_path = key_file or settings.trail_key_file
    try:
        head = Head.parse(published) if published else None
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    verdict = verify_trail(SqlTrail(open_store(settings).engine), _key(key_path), head)
    click.echo(str(verdict))
    if not verdict.ok:
        sys.exit(1)


@trail.command("show")
@click.option("--last", default=20, show_default=True, type=click.IntRange(1),
              help="how many of the newest entries")
@click.option("--json", "as_json", is_flag=True, help="one JSON object per line")
def trail_show(last: int, as_json: bool) -> None:
    """Print the newest entries: seq, time, actor, action, entity, old -> new."""
    source = SqlTrail(open_store(Settings.from_env()).engine)
    head = source.head()
    after = max(0, head.seq - last) if head else 0
    for row in source.rows(after):
        try:
            entry = decode(row)
        except ValueError as exc:
            click.echo(f"{row['seq']:>7} undecodable row ({exc}): run `auditor trail verify`")
            continue
        if as_json:
            click.echo(json.dumps(entry.as_json(), sort_keys=True))
            continue
        where = f" [{entry.license}]" if entry.license else ""
        click.echo(f"{entry.seq:>7} {entry.at} {entry.actor}: {entry.action} "
                   f"{entry.entity_type} {entry.entity_id}{where} {entry.old} -> {entry.new}")
