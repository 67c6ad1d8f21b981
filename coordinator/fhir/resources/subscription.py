"""Subscription (R4 rest-hook): a client's (or a user's) own subscriptions, made, read, listed and ended.

The router serves no DELETE: a subscription is ended by an update that sets ``status`` to ``off``
(If-Match with its version). The use cases check who may be told of what (coordinator.subscriptions).
"""

from __future__ import annotations

from flask import current_app

from coordinator.fhir.core import JSON, Context, SearchQuery, SearchResult, int_id, validate_output
from coordinator.fhir.search import cursor_id, next_cursor, tokens
from coordinator.subscriptions.models import Subscription, SubscriptionStatus
from coordinator.subscriptions.services import (
    create_subscription,
    criteria_of,
    get_subscription,
    list_subscriptions,
    update_subscription,
)
from fhir_adapters.subscription import (
    SubscriptionRecord,
    subscription_from_fhir,
    subscription_to_fhir,
)

STATUS_SYSTEM = "http://hl7.org/fhir/subscription-status"


def subscription_json(subscription: Subscription) -> JSON:
    return subscription_to_fhir(
        SubscriptionRecord(
            id=subscription.id,
            version=subscription.version,
            status=subscription.status.value,
            criteria=criteria_of(subscription),
            endpoint=subscription.endpoint,
            headers=tuple(subscription.headers),
            payload=subscription.payload or None,
            reason=subscription.reason,
            end=subscription.end_at,
            error=subscription.last_error,
            updated_at=subscription.updated_at,
        ),
        validate=validate_output(),
    )


def allow_local_http() -> bool:
    """Plain http to this machine (a test or development receiver): SUBSCRIPTION_ALLOW_LOCAL_HTTP."""
    return bool(current_app.config.get("SUBSCRIPTION_ALLOW_LOCAL_HTTP"))


def create(ctx: Context, body: JSON) -> JSON:
    request = subscription_from_fhir(body)
    subscription = create_subscription(
        ctx.session, ctx.actor, ctx.clock, request, allow_local_http=allow_local_http()
    )
    return subscription_json(subscription)


def read(ctx: Context, rid: str) -> JSON:
    subscription = get_subscription(ctx.session, ctx.actor, ctx.clock, int_id("Subscription", rid))
    return subscription_json(subscription)


def update(ctx: Context, rid: str, body: JSON, expected_version: int | None) -> JSON:
    request = subscription_from_fhir(body)
    subscription = update_subscription(
        ctx.session,
        ctx.actor,
        ctx.clock,
        int_id("Subscription", rid),
        request,
        expected_version=expected_version,
    )
    return subscription_json(subscription)


def _statuses(query: SearchQuery) -> frozenset[SubscriptionStatus] | None:
    result: frozenset[SubscriptionStatus] | None = None
    known = {s.value: s for s in SubscriptionStatus}
    for occurrence in tokens(query, "status"):
        found = {
            known[t.code]
            for t in occurrence
            if t.system in (None, STATUS_SYSTEM) and t.code in known
        }
        result = frozenset(found) if result is None else result & found
    return result


def search(ctx: Context, query: SearchQuery) -> SearchResult:
    statuses = _statuses(query)
    if statuses is not None and not statuses:
        return SearchResult([])
    page = list_subscriptions(
        ctx.session,
        ctx.actor,
        ctx.clock,
        statuses=statuses,
        after_id=cursor_id(query),
        limit=query.count,
    )
    return SearchResult(
        [subscription_json(s) for s in page],
        next_cursor=next_cursor([s.id for s in page], query.count),
    )
