"""`flask --app coordinator messages list|replay`: the MedCom inbox's dead letters, from the server."""

from __future__ import annotations

from datetime import timedelta

import click
from flask import current_app
from flask.cli import AppGroup

from coordinator.db import get_database
from coordinator.messaging.inbox import list_problem_messages, process_inbox, replay
from coordinator.messaging.models import InboundMessage
from coordinator.security import get_clock
from pathways.errors import DomainError
from pathways.people import Actor

messages_cli = AppGroup("messages", help="MedCom inbox: failed and dead-lettered messages.")
_CLI = Actor.system("cli")


@messages_cli.command("list")
def list_command() -> None:
    """List dead letters and messages being retried (id, status, attempts, message id, error)."""
    with get_database().transaction() as session:
        rows = [
            (m.id, m.status.value, m.attempts, m.message_id, m.last_error)
            for m in list_problem_messages(session, _CLI)
        ]
    if not rows:
        click.echo("No failed inbound messages.")
    for row_id, status, attempts, message_id, error in rows:
        click.echo(f"{row_id:>8} {status:<8} {attempts:>2} {message_id:<40} {error}")


@messages_cli.command("replay")
@click.argument("entry_id", metavar="ID", type=int)
def replay_command(entry_id: int) -> None:
    """Replay the dead-lettered message ID (audited as the CLI) and process the inbox at once."""
    database = get_database()
    clock = get_clock()
    try:
        with database.transaction() as session:
            replay(session, _CLI, clock, entry_id=entry_id)
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc
    summary = process_inbox(database, clock, current_app.config, run_for=timedelta(seconds=30))
    with database.transaction() as session:
        entry = session.get(InboundMessage, entry_id)
        assert entry is not None
        state = (entry.status.value, entry.outcome, entry.attempts, entry.last_error)
    status, outcome, attempts, error = state
    click.echo(
        f"message {entry_id}: {status}"
        + (f" ({outcome})" if outcome and status == "done" else "")
        + (f", attempt {attempts}: {error}" if status != "done" else "")
        + f"; inbox run: {summary.as_log()}"
    )
