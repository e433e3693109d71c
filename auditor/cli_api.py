"""`auditor serve` (waitress, a production WSGI server), `auditor token` and `auditor org`."""

from __future__ import annotations

import os
import secrets

import click

from auditor.bootstrap import open_store
from auditor.config import ServerSettings, Settings
from auditor.services.access import Role, create_token
from auditor.serving import ready, serve_processes
from auditor.store.api_sql import SqlTokens
from auditor.store.organizations_sql import SqlOrganizations


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.option("--threads", default=None, type=int,
              help="worker threads per process (default: AUDITOR_SERVE_THREADS, else 8)")
@click.option("--processes", default=None, type=int,
              help="processes sharing the port (default: AUDITOR_SERVE_PROCESSES, else 1)")
def serve(host: str, port: int, threads: int | None, processes: int | None) -> None:
    """Serve the HTTP API with waitress on the configured database (AUDITOR_SERVE_* tune it)."""
    import waitress  # imported here: only serving needs it

    from api import serving_app

    server = ServerSettings.from_env()
    options = server.waitress_options()
    threads = options["threads"] = threads or server.threads
    processes = processes or server.processes
    _pool_for_threads(threads)
    click.echo(f"serving the auditor API on http://{host}:{port} "
               f"({processes} process{'es' if processes > 1 else ''}, "
               f"{threads} threads each; web console: http://{host}:{port}/console/)")
    if processes > 1:
        _share_console_key()
        serve_processes(serving_app, host, port, processes, options)
        return
    waitress.serve(ready(serving_app), host=host, port=port, **options)


def _pool_for_threads(threads: int) -> None:
    """Keep a database connection open for each thread (and two for jobs), unless set.

    The apps read AUDITOR_DATABASE_POOL when they are built (in each child, after this).
    """
    os.environ.setdefault("AUDITOR_DATABASE_POOL", str(threads + 2))


def _share_console_key() -> None:
    """Give every serving process one console key, so a session signed by one is read by all.

    Without AUDITOR_CONSOLE_SECRET_KEY each app draws a random key; the children build
    their apps after the fork, so the key is drawn here, once, and inherited.
    """
    if not os.environ.get("AUDITOR_CONSOLE_SECRET_KEY"):
        os.environ["AUDITOR_CONSOLE_SECRET_KEY"] = secrets.token_hex(32)


@click.group()
def token() -> None:
    """Create, list and revoke API bearer tokens."""


@token.command("create")
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]))
@click.option("--license", "licenses", required=True, multiple=True,
              help="a license the token may see; repeat for several")
@click.option("--label", default="", help="who or what holds the token")
@click.option("--org", "organization", default=None,
              help="the organization the token belongs to (default: its licenses')")
def token_create(role: str, licenses: tuple[str, ...], label: str,
                 organization: str | None) -> None:
    """Create a token and print its secret, which is shown this once only."""
    store = open_store(Settings.from_env())
    secret, record = create_token(SqlTokens(store.engine), store, role, list(licenses), label,
                                  organization)
    click.echo(f"token {record.id} ({record.organization}; {record.role}; "
               f"{', '.join(record.licenses)})")
    click.echo(secret)


@token.command("list")
def token_list() -> None:
    """List tokens (never their secrets)."""
    store = open_store(Settings.from_env())
    for record in SqlTokens(store.engine).list():
        state = f"revoked {record.revoked_at:%Y-%m-%d}" if record.revoked_at else "live"
        click.echo(f"{record.id:>5} {record.organization:12} {record.role:20} {state:18} "
                   f"{record.label:20} "
                   f"{', '.join(record.licenses)}")


@token.command("revoke")
@click.argument("token_id", type=int)
def token_revoke(token_id: int) -> None:
    """Revoke a token: it stops working at once."""
    from datetime import UTC, datetime

    store = open_store(Settings.from_env())
    SqlTokens(store.engine).revoke(token_id, datetime.now(UTC))
    click.echo(f"token {token_id} revoked")


@click.group()
def org() -> None:
    """Add and list organizations (tenants holding licenses, tokens and rule versions)."""


@org.command("add")
@click.argument("name")
def org_add(name: str) -> None:
    """Add an organization NAME."""
    store = open_store(Settings.from_env())
    SqlOrganizations(store.engine).add(name)
    click.echo(f"added organization {name}")


@org.command("list")
def org_list() -> None:
    """List the organizations and how many licenses each holds."""
    store = open_store(Settings.from_env())
    for name, held in SqlOrganizations(store.engine).list():
        click.echo(f"{name}\t{held} licenses")
