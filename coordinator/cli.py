"""Command line: `flask --app coordinator db upgrade`, `flask --app coordinator demo load`."""

from __future__ import annotations

import signal
import threading

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from coordinator import migrate
from coordinator.db import get_database
from pathways.clock import SystemClock

db_cli = AppGroup("db", help="Database schema (Alembic migrations).")
demo_cli = AppGroup("demo", help="Synthetic demo data (never real people).")


def _url() -> str:
    return str(current_app.config["DATABASE_URL"])


@db_cli.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Migrate the database to REVISION (default: the newest)."""
    migrate.upgrade(_url(), revision)
    click.echo(f"database at {revision}")


@db_cli.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Migrate the database back to REVISION."""
    migrate.downgrade(_url(), revision)


@db_cli.command("check")
def db_check() -> None:
    """Fail if the models have changes that no migration covers."""
    migrate.check(_url())
    click.echo("models and migrations agree")


@demo_cli.command("load")
@click.option(
    "--reset-passwords", is_flag=True, help="Give every demo login a new password and print it."
)
def demo_load(reset_passwords: bool) -> None:
    """Load the demo data set. Safe to run again: nothing is duplicated."""
    from coordinator.demo import load_demo  # noqa: PLC0415 - keeps app start-up light

    database = get_database()
    with database.transaction() as session:
        result = load_demo(session, SystemClock(), reset_passwords=reset_passwords)
    click.echo(result.summary())
    if result.logins:
        click.echo("\nDemo logins (synthetic data only; the passwords are new on every reset):")
        for login in result.logins:
            click.echo(
                f"  {login.username:<22} {login.password:<20} {login.role:<16} {login.organisation}"
            )
    else:
        click.echo(
            "Demo logins are unchanged; run `flask --app coordinator demo load --reset-passwords`."
        )


@demo_cli.command("mail-sink")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8025, show_default=True, type=int)
def demo_mail_sink(host: str, port: int) -> None:
    """Run a local SMTP server that keeps every mail as an .eml file (shown on /dev/mail); Ctrl-C stops
    it. For `make run`, which points SMTP_HOST/SMTP_PORT at it. Development only."""
    from coordinator.demo.mail import mail_dir, start_sink  # noqa: PLC0415 - aiosmtpd is a dev tool

    directory = mail_dir(current_app.config, current_app.instance_path)
    sink = start_sink(directory, host=host, port=port)
    click.echo(f"demo mail sink on {host}:{port}, keeping mails in {directory}")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        sink.stop()


def init_app(app: Flask) -> None:
    from coordinator.accounts.cli import accounts_cli  # noqa: PLC0415 - as demo load: light start-up
    from coordinator.messaging.cli import messages_cli  # noqa: PLC0415

    app.cli.add_command(db_cli)
    app.cli.add_command(demo_cli)
    app.cli.add_command(accounts_cli)
    app.cli.add_command(messages_cli)
