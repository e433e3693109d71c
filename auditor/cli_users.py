"""`auditor user`: create, list and disable the people who sign in to the web console."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from auditor.bootstrap import open_store
from auditor.config import Settings
from auditor.domain.errors import InvalidInput
from auditor.services.access import Role
from auditor.services.users import create_user
from auditor.store.users_sql import SqlUsers


@click.group()
def user() -> None:
    """Create, list and disable web console users."""


def _password(password_file: Path | None) -> str:
    """Return the password from its file (first line), else from a hidden prompt."""
    if password_file is None:
        return str(click.prompt("password", hide_input=True, confirmation_prompt=True))
    lines = password_file.read_text(encoding="utf-8").splitlines()
    if not lines or not lines[0]:
        raise InvalidInput(f"{password_file}: the first line must hold the password")
    return lines[0]


@user.command("create")
@click.argument("email")
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]))
@click.option("--license", "licenses", required=True, multiple=True,
              help="a license the user may see; repeat for several")
@click.option("--org", "organization", default=None,
              help="the organization the user belongs to (default: its licenses')")
@click.option("--password-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="read the password from this file's first line "
                                 "(otherwise it is asked for, hidden; never an argument)")
def user_create(email: str, role: str, licenses: tuple[str, ...], organization: str | None,
                password_file: Path | None) -> None:
    """Create a console user with a role and licenses, like a token's."""
    store = open_store(Settings.from_env())
    record = create_user(SqlUsers(store.engine), store, email, _password(password_file), role,
                         list(licenses), organization)
    click.echo(f"user {record.id} {record.email} ({record.organization}; {record.role}; "
               f"{', '.join(record.licenses)})")


@user.command("list")
def user_list() -> None:
    """List console users (never their password hashes)."""
    store = open_store(Settings.from_env())
    for record in SqlUsers(store.engine).list():
        state = f"disabled {record.disabled_at:%Y-%m-%d}" if record.disabled_at else "active"
        click.echo(f"{record.id:>5} {record.email:32} {record.organization:12} "
                   f"{record.role:20} {state:19} {', '.join(record.licenses)}")


@user.command("disable")
@click.argument("email")
def user_disable(email: str) -> None:
    """Disable a user: signing in stops, and open sessions end at their next page."""
    store = open_store(Settings.from_env())
    SqlUsers(store.engine).disable(email.strip().lower(), datetime.now(UTC))
    click.echo(f"user {email} disabled")
