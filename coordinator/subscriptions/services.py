"""Use cases of subscriptions: create, read, list and end (``off``) one's own; the owner for matching and
the delivery target for the outbox.

Who may subscribe to what is checked when the subscription is made (a care relation to the patient, or
acting for the organisation) and again for every notification (coordinator.subscriptions.matching).
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy.orm import Session

from coordinator.access.services import require_patient_access
from coordinator.accounts.models import User
from coordinator.accounts.services import actor_for
from coordinator.audit.services import record
from coordinator.clients.models import ApiClient
from coordinator.clients.services import client_actor
from coordinator.db import Database
from coordinator.organisations.lineage import acts_for
from coordinator.organisations.models import Organisation
from coordinator.outbox.transports import HookLookup, HookTarget
from coordinator.subscriptions.models import Subscription, SubscriptionStatus
from fhir_adapters.subscription import (
    Criteria,
    SubscriptionRequest,
    header_name,
    redacted,
)
from pathways.audit import AuditAction
from pathways.clock import Clock
from pathways.errors import (
    ErrorCollector,
    NotFound,
    PermissionDenied,
    StaleVersion,
    ValidationFailed,
    VersionRequired,
)
from pathways.people import Actor, ActorKind
from pathways.permissions import Permission
from pathways.scopes import actor_scope_allows

AUDIT_TYPE = "Subscription"
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
MAX_PAGE = 100
OWNERS = (ActorKind.USER, ActorKind.CLIENT)


def _require_owner_kind(actor: Actor) -> None:
    if actor.kind not in OWNERS or actor.id is None or actor.organisation_id is None:
        raise PermissionDenied("only a member of staff or a system client can own subscriptions")


def _check_endpoint(endpoint: str, *, allow_local_http: bool, errors: ErrorCollector) -> None:
    """https only; plain http only to this machine, and only where the site allows it (tests, a
    development receiver): notifications carry patient data."""
    parts = urlsplit(endpoint)
    if parts.scheme == "https":
        return
    if allow_local_http and parts.hostname in LOCAL_HOSTS:
        return
    errors.add(
        "Subscription.channel.endpoint",
        "must be an https URL (notifications carry patient data)",
        "value",
    )


def _check_criteria(session: Session, actor: Actor, clock: Clock, criteria: Criteria) -> str:
    """May the actor be told of ``criteria``? Returns the purpose for the audit entry."""
    if not actor_scope_allows(actor, criteria.resource_type, "read"):
        raise PermissionDenied(
            f"the token has no scope for system/{criteria.resource_type}.read, which the "
            "notifications need"
        )
    if criteria.patient_id is not None:
        decision = require_patient_access(
            session,
            actor,
            clock,
            criteria.patient_id,
            Permission.READ_PLAN,
        )
        return decision.purpose
    organisation_id = criteria.organisation_id
    if organisation_id is None or session.get(Organisation, organisation_id) is None:
        raise ValidationFailed.single(
            "Subscription.criteria", f"Organization/{organisation_id} is not known here", "value"
        )
    if not acts_for(session, actor, organisation_id):
        raise PermissionDenied(
            f"you do not act for Organization/{organisation_id}; subscribe to organisations "
            "you act for"
        )
    return f"subscription for Organization/{organisation_id}"


def create_subscription(
    session: Session,
    actor: Actor,
    clock: Clock,
    request: SubscriptionRequest,
    *,
    allow_local_http: bool = False,
) -> Subscription:
    """A rest-hook subscription owned by the actor (and its organisation), active at once."""
    _require_owner_kind(actor)
    now = clock.now()
    errors = ErrorCollector()
    _check_endpoint(request.endpoint, allow_local_http=allow_local_http, errors=errors)
    if request.status not in (SubscriptionStatus.REQUESTED, SubscriptionStatus.ACTIVE):
        errors.add("Subscription.status", "a new subscription is requested (or active)", "value")
    if request.end is not None and request.end <= now:
        errors.add("Subscription.end", "must be in the future", "value")
    errors.raise_if_any()
    purpose = _check_criteria(session, actor, clock, request.criteria)
    criteria = request.criteria
    subscription = Subscription(
        owner_kind=actor.kind,
        owner_user_id=actor.id if actor.kind is ActorKind.USER else None,
        owner_client_id=actor.id if actor.kind is ActorKind.CLIENT else None,
        organisation_id=actor.organisation_id,
        resource_type=criteria.resource_type,
        patient_id=criteria.patient_id,
        filter_organisation_id=criteria.organisation_id,
        endpoint=request.endpoint,
        headers=list(request.headers),
        payload=request.payload or "",
        status=SubscriptionStatus.ACTIVE,
        reason=request.reason,
        end_at=request.end,
        last_error="",
        version=1,
        created_at=now,
        updated_at=now,
    )
    session.add(subscription)
    session.flush()
    _audit(session, actor, now, AuditAction.CREATE, subscription, purpose=purpose)
    return subscription


def _audit(
    session: Session,
    actor: Actor,
    at: datetime,
    action: AuditAction,
    subscription: Subscription,
    *,
    purpose: str = "subscription",
) -> None:
    # The criteria and the endpoint's host: never the headers (secrets of the receiver's).
    record(
        session,
        actor=actor,
        at=at,
        action=action,
        resource_type=AUDIT_TYPE,
        resource_id=subscription.id,
        patient_id=subscription.patient_id,
        purpose=purpose,
        details={
            "criteria": criteria_of(subscription).text(),
            "endpoint_host": urlsplit(subscription.endpoint).hostname or "",
            "headers": [header_name(h) for h in subscription.headers],
            "status": subscription.status.value,
        },
    )


def criteria_of(subscription: Subscription) -> Criteria:
    return Criteria(
        resource_type=subscription.resource_type,
        patient_id=subscription.patient_id,
        organisation_id=subscription.filter_organisation_id,
    )


def _owned(actor: Actor) -> sa.ColumnElement[bool]:
    if actor.kind is ActorKind.USER:
        return Subscription.owner_user_id == actor.id
    return Subscription.owner_client_id == actor.id


def _load(session: Session, actor: Actor, subscription_id: int) -> Subscription:
    _require_owner_kind(actor)
    found = session.scalar(
        sa.select(Subscription).where(Subscription.id == subscription_id, _owned(actor))
    )
    if found is None:  # also someone else's: no oracle
        raise NotFound("Subscription", subscription_id)
    return found


def get_subscription(
    session: Session, actor: Actor, clock: Clock, subscription_id: int
) -> Subscription:
    subscription = _load(session, actor, subscription_id)
    _audit(session, actor, clock.now(), AuditAction.READ, subscription)
    return subscription


def list_subscriptions(
    session: Session,
    actor: Actor,
    clock: Clock,
    *,
    statuses: frozenset[SubscriptionStatus] | None = None,
    after_id: int | None = None,
    limit: int = 50,
) -> list[Subscription]:
    """The actor's own subscriptions, newest first (keyset by id)."""
    _require_owner_kind(actor)
    if not 1 <= limit <= MAX_PAGE:
        raise ValidationFailed.single("_count", f"must be between 1 and {MAX_PAGE}")
    statement = (
        sa.select(Subscription).where(_owned(actor)).order_by(Subscription.id.desc()).limit(limit)
    )
    if statuses is not None:
        statement = statement.where(Subscription.status.in_(statuses))
    if after_id is not None:
        statement = statement.where(Subscription.id < after_id)
    found = list(session.scalars(statement))
    record(
        session,
        actor=actor,
        at=clock.now(),
        action=AuditAction.SEARCH,
        resource_type=AUDIT_TYPE,
        purpose="subscription",
        details={"subscriptions": [s.id for s in found]},
    )
    return found


def update_subscription(
    session: Session,
    actor: Actor,
    clock: Clock,
    subscription_id: int,
    request: SubscriptionRequest,
    *,
    expected_version: int | None,
) -> Subscription:
    """End a subscription (status ``off``) or move its end; what it is about, where it goes and
    what it carries stay as made (a new subscription changes those)."""
    subscription = _load(session, actor, subscription_id)
    if expected_version is None:  # told only to the owner
        raise VersionRequired(f"Subscription {subscription.id}")
    now = clock.now()
    errors = ErrorCollector()
    if request.id is not None and request.id != subscription.id:
        errors.add("Subscription.id", f"must be {subscription.id}, the id in the URL", "value")
    unchanged = {
        "Subscription.criteria": request.criteria == criteria_of(subscription),
        "Subscription.channel.endpoint": request.endpoint == subscription.endpoint,
        "Subscription.channel.payload": (request.payload or "") == subscription.payload,
        "Subscription.channel.header": request.headers
        in (tuple(subscription.headers), redacted(tuple(subscription.headers))),
    }
    for field, same in unchanged.items():
        if not same:
            errors.add(field, "cannot be changed; end this subscription and make a new one")
    turning_off = request.status == SubscriptionStatus.OFF
    if not turning_off and request.status != subscription.status:
        errors.add(
            "Subscription.status", f"may only be set to off (it is {subscription.status})", "value"
        )
    if request.end is not None and request.end <= now and not turning_off:
        errors.add("Subscription.end", "must be in the future", "value")
    errors.raise_if_any()
    if expected_version != subscription.version:
        raise StaleVersion(
            f"Subscription {subscription.id}", expected_version, subscription.version
        )
    if turning_off:
        subscription.status = SubscriptionStatus.OFF
    else:
        subscription.end_at = request.end
    subscription.version += 1
    subscription.updated_at = now
    session.flush()
    _audit(session, actor, now, AuditAction.UPDATE, subscription)
    return subscription


# ---------------------------------------------------------------------------- matching and delivery
def is_live(subscription: Subscription, now: datetime) -> bool:
    return subscription.status is SubscriptionStatus.ACTIVE and (
        subscription.end_at is None or subscription.end_at > now
    )


def owner_of(session: Session, subscription: Subscription) -> Actor | None:
    """The subscription's owner as they act today (their role, organisation and, for a client, its
    registered scopes), or None when the account or client is no longer active."""
    if subscription.owner_client_id is not None:
        client = session.get(ApiClient, subscription.owner_client_id)
        if client is None or not client.is_active or client.revoked_at is not None:
            return None
        return client_actor(client, frozenset(client.scopes.split()))
    if subscription.owner_user_id is not None:
        user = session.get(User, subscription.owner_user_id)
        return actor_for(user) if user is not None and user.is_active else None
    return None


def hook_target(session: Session, subscription_id: int, now: datetime) -> HookTarget | None:
    """Where a notification of the subscription goes, or None when it was ended meanwhile."""
    subscription = session.get(Subscription, subscription_id)
    if subscription is None or not is_live(subscription, now):
        return None
    headers = []
    for line in subscription.headers:
        name, _, value = str(line).partition(":")
        headers.append((name.strip(), value.strip()))
    return HookTarget(endpoint=subscription.endpoint, headers=tuple(headers))


def hook_lookup(database: Database, clock: Clock) -> HookLookup:
    """The outbox's rest-hook transport asks this, at every attempt, where a notification goes."""

    def lookup(subscription_id: int) -> HookTarget | None:
        with database.transaction() as session:
            return hook_target(session, subscription_id, clock.now())

    return lookup
