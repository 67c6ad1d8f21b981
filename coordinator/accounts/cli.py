"""`flask --app coordinator accounts locks|unlock`: see and lift login lockouts from the server."""

from __future__ import annotations

import click
import sqlalchemy as sa
from flask.cli import AppGroup

from coordinator.accounts.models import User
from coordinator.accounts.services import list_login_locks, unlock_user
from coordinator.db import get_database
from pathways.clock import SystemClock
from pathways.errors import DomainError
from pathways.people import Actor

accounts_cli = AppGroup("accounts", help="Staff accounts: login lockouts.")
_CLI = Actor.system("cli")


@accounts_cli.command("locks")
def locks() -> None:
    """List the login lockouts in force (account, address, failures, until when)."""
    with get_database().transaction() as session:
        rows = [
            (t.user.username or "", t.address, t.failed_count, t.locked_until)
            for t in list_login_locks(session, _CLI, SystemClock())
        ]
    if not rows:
        click.echo("No login lockouts in force.")
    for username, address, failures, until in rows:
        assert until is not None  # listed because it is locked
        click.echo(f"{username:<22} {address:<40} {failures:>3} until {until.isoformat()}")


@accounts_cli.command("unlock")
@click.argument("username")
def unlock(username: str) -> None:
    """Lift every login lockout of USERNAME (from every address); audited as the CLI."""
    name = username.strip().lower()
    try:
        with get_database().transaction() as session:
            user_id = session.scalar(sa.select(User.id).where(User.username == name))
            if user_id is None:
                raise click.ClickException(f"no account with the username {name}")
            lifted = unlock_user(session, _CLI, SystemClock(), user_id)
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"{name}: {lifted} lockout(s) lifted")
