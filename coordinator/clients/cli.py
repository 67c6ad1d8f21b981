"""`flask --app coordinator clients register|list|revoke`: manage the systems that call carepath."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import sqlalchemy as sa
from flask import Flask, current_app
from flask.cli import AppGroup

from coordinator.clients.models import ApiClient
from coordinator.clients.services import register_client, revoke_client
from coordinator.db import get_database
from pathways.clock import SystemClock
from pathways.errors import DomainError, ValidationFailed
from pathways.people import Actor

clients_cli = AppGroup(
    "clients",
    help="System clients: OAuth2 client credentials with signed JWTs (SMART Backend Services).",
)
_CLI = Actor.system("cli")


def _fail(error: DomainError) -> click.ClickException:
    if isinstance(error, ValidationFailed):
        return click.ClickException("\n".join(f"{e.field}: {e.message}" for e in error.errors))
    return click.ClickException(error.message)


def _read_jwks(path: Path) -> Any:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise click.BadParameter(
            f"cannot read JSON from {path}: {exc}", param_hint="--jwks-file"
        ) from exc
    # A single public JWK is accepted too and wrapped into a set.
    if isinstance(document, dict) and "kty" in document:
        return {"keys": [document]}
    return document


@clients_cli.command("register")
@click.option(
    "--organisation-id", type=int, required=True, help="The organisation the system acts for."
)
@click.option("--name", required=True, help='e.g. "Sundhedsplatformen, Region Hovedstaden".')
@click.option(
    "--scopes",
    required=True,
    help='Space-separated, e.g. "system/CarePlan.read system/CarePlan.write".',
)
@click.option(
    "--jwks-file",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The client's public keys: a JWKS (or one JWK) in JSON, each key with a kid.",
)
def register(organisation_id: int, name: str, scopes: str, jwks_file: Path) -> None:
    """Register a system client and print its client_id."""
    jwks = _read_jwks(jwks_file)
    try:
        with get_database().transaction() as session:
            client = register_client(
                session,
                _CLI,
                SystemClock(),
                organisation_id=organisation_id,
                name=name,
                scopes=scopes,
                jwks=jwks,
            )
            client_id, granted = client.client_id, client.scopes
    except DomainError as exc:
        raise _fail(exc) from exc
    token_url = current_app.config.get("OAUTH2_TOKEN_URL") or "<this server>/oauth/token"
    click.echo(f"client_id: {client_id}")
    click.echo(f"scopes:    {granted}")
    click.echo(f"token URL: {token_url} (the aud of the client's assertions)")


@clients_cli.command("list")
def list_clients() -> None:
    """List the registered system clients."""
    with get_database().transaction() as session:
        for client in session.scalars(sa.select(ApiClient).order_by(ApiClient.id)):
            status = "revoked" if client.revoked_at is not None else "active"
            click.echo(
                f"{client.client_id}  {status:<7}  org {client.organisation_id:<5} "
                f"{client.name}  [{client.scopes}]"
            )


@clients_cli.command("revoke")
@click.argument("client_id")
def revoke(client_id: str) -> None:
    """Revoke a system client and every token it holds."""
    try:
        with get_database().transaction() as session:
            revoke_client(session, _CLI, SystemClock(), client_id)
    except DomainError as exc:
        raise _fail(exc) from exc
    click.echo(f"revoked {client_id}")


def init_app(app: Flask) -> None:
    app.cli.add_command(clients_cli)
