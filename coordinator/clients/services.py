"""Use cases for system clients: register and revoke them, keep their tokens, and turn a token into an actor.

Tokens themselves are issued by the OAuth2 server in coordinator.clients.oauth, which calls
``save_issued_token`` and ``use_assertion`` here. Only the SHA-256 of a token is ever stored.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from coordinator.audit.services import record
from coordinator.clients.models import ApiClient, ApiToken, UsedAssertion
from coordinator.organisations.lineage import ancestors_and_self, descendants_and_self
from coordinator.organisations.models import Organisation
from pathways.audit import AuditAction, AuditOutcome
from pathways.clock import Clock
from pathways.errors import ErrorCollector, NotFound, PermissionDenied, ValidationFailed
from pathways.people import Actor, ActorKind, Role
from pathways.scopes import client_role, format_scopes, parse_scopes, validate_public_jwks

MAX_BEARER_TOKEN_LENGTH = 512  # ours are 43 characters; anything far longer is not worth a lookup


def token_hash(access_token: str) -> str:
    return hashlib.sha256(access_token.encode("utf-8")).hexdigest()


def _is_client_admin(actor: Actor) -> bool:
    return actor.kind is ActorKind.SYSTEM or actor.role in (Role.ORG_ADMIN, Role.SYSTEM_ADMIN)


def _may_manage_clients_of(session: Session, actor: Actor, organisation_id: int) -> bool:
    """System admins manage every client; an org admin those of their organisation and the units below it.

    Deliberately narrower than ``acts_for`` (which also looks upwards): a ward's administrator must not
    register a client that acts for the whole region.
    """
    if actor.kind is ActorKind.SYSTEM or actor.role is Role.SYSTEM_ADMIN:
        return True
    if actor.kind is not ActorKind.USER or actor.role is not Role.ORG_ADMIN:
        return False
    return actor.organisation_id is not None and actor.organisation_id in ancestors_and_self(
        session, organisation_id
    )


def _require_client_admin(session: Session, actor: Actor, organisation_id: int) -> None:
    if not _may_manage_clients_of(session, actor, organisation_id):
        role = actor.role.value if actor.role else "no role"
        raise PermissionDenied(
            f"{actor.name} ({role}) may not manage the system clients of organisation "
            f"{organisation_id}"
        )


def _check_keys_import(errors: ErrorCollector, jwks: dict[str, Any]) -> None:
    """The structure is checked in pathways.scopes; this makes sure the key material itself is usable."""
    try:
        KeySet.import_key_set(jwks)  # type: ignore[arg-type]  # a JWKS dict, checked above
    except (JoseError, ValueError, TypeError) as exc:
        errors.add("jwks", f"the keys cannot be used: {type(exc).__name__}")


def register_client(
    session: Session,
    actor: Actor,
    clock: Clock,
    *,
    organisation_id: int,
    name: object,
    scopes: object,
    jwks: object,
) -> ApiClient:
    """Register another system that acts for ``organisation_id`` with these scopes and public keys."""
    if not _is_client_admin(actor):  # refused before anything is looked up
        _require_client_admin(session, actor, organisation_id)
    organisation = session.get(Organisation, organisation_id)
    if organisation is None:
        raise ValidationFailed.single(
            "organisation_id", f"organisation {organisation_id} does not exist", "unknown"
        )
    _require_client_admin(session, actor, organisation_id)
    errors = ErrorCollector()
    if not organisation.is_active:
        errors.add("organisation_id", f"organisation {organisation_id} is not active", "inactive")
    clean_name = errors.text("name", name)
    clean_scopes = ""
    try:
        clean_scopes = format_scopes(parse_scopes(scopes, field="scopes"))
    except ValidationFailed as exc:
        errors.errors.extend(exc.errors)
    clean_jwks: dict[str, Any] | None = None
    try:
        clean_jwks = validate_public_jwks(jwks, field="jwks")
    except ValidationFailed as exc:
        errors.errors.extend(exc.errors)
    else:
        _check_keys_import(errors, clean_jwks)
    errors.raise_if_any()
    assert clean_jwks is not None
    now = clock.now()
    client = ApiClient(
        client_id=str(uuid.uuid4()),
        name=clean_name,
        organisation_id=organisation.id,
        scopes=clean_scopes,
        jwks=clean_jwks,
        is_active=True,
        created_at=now,
        created_by_id=actor.id if actor.kind is ActorKind.USER else None,
    )
    session.add(client)
    session.flush()
    record(
        session,
        actor=actor,
        at=now,
        action=AuditAction.CREATE,
        resource_type="ApiClient",
        resource_id=client.id,
        details={
            "client_id": client.client_id,
            "organisation_id": organisation.id,
            "scopes": clean_scopes,
            "kids": [key["kid"] for key in clean_jwks["keys"]],
        },
    )
    return client


def get_client(session: Session, client_id: str) -> ApiClient:
    client = session.scalar(sa.select(ApiClient).where(ApiClient.client_id == client_id))
    if client is None:
        raise NotFound("client", client_id)
    return client


def _revoke_live_tokens(session: Session, client: ApiClient, now: datetime) -> int:
    live = session.scalars(
        sa.select(ApiToken).where(
            ApiToken.client_id == client.id,
            ApiToken.revoked_at.is_(None),
            ApiToken.expires_at > now,
        )
    ).all()
    for token in live:
        token.revoked_at = now
    return len(live)


def revoke_client(session: Session, actor: Actor, clock: Clock, client_id: str) -> ApiClient:
    """Switch a client off for good: no new tokens, and every token it holds stops working now."""
    client = get_client(session, client_id)
    _require_client_admin(session, actor, client.organisation_id)
    if client.revoked_at is not None:
        return client  # revoking twice changes nothing and logs nothing new
    now = clock.now()
    client.is_active = False
    client.revoked_at = now
    tokens = _revoke_live_tokens(session, client, now)
    session.flush()
    record(
        session,
        actor=actor,
        at=now,
        action=AuditAction.UPDATE,
        resource_type="ApiClient",
        resource_id=client.id,
        details={"client_id": client.client_id, "revoked": True, "tokens_revoked": tokens},
    )
    return client


def revoke_token(session: Session, actor: Actor, clock: Clock, token_id: int) -> ApiToken:
    """Withdraw one access token (e.g. one that leaked into a log) before it expires."""
    token = session.get(ApiToken, token_id)
    if token is None:
        raise NotFound("token", token_id)
    _require_client_admin(session, actor, token.client.organisation_id)
    if token.revoked_at is not None:
        return token
    now = clock.now()
    token.revoked_at = now
    session.flush()
    record(
        session,
        actor=actor,
        at=now,
        action=AuditAction.UPDATE,
        resource_type="ApiToken",
        resource_id=token.id,
        details={"client_id": token.client.client_id, "revoked": True},
    )
    return token


def active_client(session: Session, client_id: str) -> ApiClient | None:
    """The client that may authenticate now: registered, not revoked, its organisation active."""
    return session.scalar(
        sa.select(ApiClient)
        .join(Organisation, Organisation.id == ApiClient.organisation_id)
        .where(
            ApiClient.client_id == client_id,
            ApiClient.is_active.is_(True),
            ApiClient.revoked_at.is_(None),
            Organisation.is_active.is_(True),
        )
    )


def client_actor(client: ApiClient, scopes: frozenset[str] = frozenset()) -> Actor:
    return Actor(
        kind=ActorKind.CLIENT,
        name=client.name,
        id=client.id,
        organisation_id=client.organisation_id,
        role=client_role(client.organisation.sector),
        scopes=scopes,
    )


def use_assertion(
    session: Session, clock: Clock, client: ApiClient, jti: str, expires_at: datetime
) -> bool:
    """Remember an assertion's ``jti`` until it expires. False when it was used before (a replay).

    The unique constraint decides, so two requests racing with one assertion cannot both pass.
    """
    session.execute(
        sa.delete(UsedAssertion).where(
            UsedAssertion.client_id == client.id, UsedAssertion.expires_at < clock.now()
        )
    )
    try:
        with session.begin_nested():
            session.add(UsedAssertion(client_id=client.id, jti=jti, expires_at=expires_at))
    except IntegrityError:
        return False
    return True


def save_issued_token(
    session: Session,
    clock: Clock,
    client: ApiClient,
    *,
    access_token: str,
    scope: str,
    expires_in: int,
) -> ApiToken:
    """Keep the hash of a token the OAuth2 server just issued, and log the client's login."""
    now = clock.now()
    token = ApiToken(
        client_id=client.id,
        access_token_hash=token_hash(access_token),
        scope=scope,
        issued_at=now,
        expires_at=now + timedelta(seconds=expires_in),
    )
    session.add(token)
    session.flush()
    record(
        session,
        actor=client_actor(client, frozenset(scope.split())),
        at=now,
        action=AuditAction.LOGIN,
        resource_type="ApiToken",
        resource_id=token.id,
        details={"client_id": client.client_id, "scope": scope, "expires_in": expires_in},
    )
    return token


def actor_for_token(session: Session, clock: Clock, bearer_token: str) -> Actor | None:
    """The client actor a bearer token stands for, or None when it is unknown, expired or revoked."""
    if not bearer_token or len(bearer_token) > MAX_BEARER_TOKEN_LENGTH:
        return None
    row = session.execute(
        sa.select(ApiToken, ApiClient)
        .join(ApiClient, ApiClient.id == ApiToken.client_id)
        .where(ApiToken.access_token_hash == token_hash(bearer_token))
    ).one_or_none()
    if row is None:
        return None
    token, client = row
    now = clock.now()
    if token.revoked_at is not None or token.expires_at <= now:
        return None
    if not client.is_active or client.revoked_at is not None or not client.organisation.is_active:
        return None
    return client_actor(client, frozenset(token.scope.split()))


# Whoever sends a refused token request is nobody yet: the refusal is logged against the client it named.
_UNAUTHENTICATED_CLIENT = Actor(kind=ActorKind.CLIENT, name="unauthenticated client")


def record_refused_token_request(
    session: Session,
    clock: Clock,
    claimed_client: ApiClient | None,
    *,
    error: str,
    description: str,
) -> None:
    record(
        session,
        actor=_UNAUTHENTICATED_CLIENT,
        at=clock.now(),
        action=AuditAction.LOGIN,
        resource_type="ApiClient",
        resource_id=claimed_client.id if claimed_client is not None else "",
        outcome=AuditOutcome.DENIED,
        details={"error": error, "description": description[:200]},
    )
    session.flush()


def list_clients(
    session: Session, actor: Actor, organisation_id: int | None = None
) -> list[ApiClient]:
    """The registered clients an administrator manages, newest first: every client for system
    administrators (or one organisation's, when given), an organisation's administrator those of their
    organisation and the units below it."""
    if not _is_client_admin(actor):
        _require_client_admin(session, actor, organisation_id or 0)
    query = sa.select(ApiClient).options(sa.orm.joinedload(ApiClient.organisation))
    if organisation_id is not None:
        _require_client_admin(session, actor, organisation_id)
        query = query.where(ApiClient.organisation_id == organisation_id)
    elif actor.kind is not ActorKind.SYSTEM and actor.role is not Role.SYSTEM_ADMIN:
        if actor.organisation_id is None:
            return []
        query = query.where(
            ApiClient.organisation_id.in_(descendants_and_self(session, actor.organisation_id))
        )
    return list(session.scalars(query.order_by(ApiClient.id.desc())))
