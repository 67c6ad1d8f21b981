"""Notify matching subscriptions of every committed change to a CarePlan, a Task or a Communication.

Whatever door a change comes through (web, REST, FHIR, MedCom, a scheduler job), every flush notes the
plans, reminders and MedCom messages it touched; just before the commit, the active subscriptions whose
criteria match (the resource's patient, or an organisation that is a party to it) get one outbox row
each, in the same transaction: no change is committed without its notifications, and none is sent for a
change that was rolled back. The outbox's ``rest_hook`` transport delivers them, with its retries,
backoff and dead letters.

Who is told what is decided here, at matching time, for the subscription's owner as they act today:
their token scopes (a client's registered scopes) and what the FHIR door would let them read: a current
care relation to the patient (§13c, with its grace period) for a CarePlan or a Communication, the
reminder being in their inbox for a Task. A subscriber who lost the relation
is not notified of later changes; a notification already queued is still sent (within minutes, or after
retries) unless the subscription was ended meanwhile, which the transport checks at every attempt. Each
notification is audited as a read by the owner.

Not noticed: a MedCom message's ``sent`` and ``dead`` states (the outbox sender writes them in bulk);
its creation and its Acknowledgement (``delivered``) are.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy.orm import Session

from coordinator.access.services import check_patient_access
from coordinator.audit.services import record
from coordinator.db import CommitHook, session_clock
from coordinator.organisations.models import Organisation
from coordinator.outbox.models import OutboxChannel, OutboxMessage, OutboxStatus
from coordinator.outbox.services import enqueue
from coordinator.plans.models import Plan, PlanParticipant, PlanVersion
from coordinator.reminders.models import Reminder
from coordinator.reminders.services import in_inbox
from coordinator.subscriptions.models import Subscription, SubscriptionStatus
from coordinator.subscriptions.services import owner_of
from pathways.audit import AuditAction
from pathways.clock import Clock
from pathways.permissions import Permission
from pathways.scopes import actor_scope_allows

log = structlog.get_logger("carepath.subscriptions")
PENDING_KEY = "subscriptions.changed"
PURPOSE = "subscription notification"

# The FHIR JSON of a changed row, given by the FHIR door (create_app wires it): a feature does not
# import a door.
Render = Callable[[Session, str, Any], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Changed:
    """A changed resource: its type and id, its patient and the organisations that are party to it."""

    resource_type: str
    row: Any
    patient_id: int
    organisations: frozenset[int]


def _note(session: Session, _context: Any) -> None:
    changed: set[tuple[str, int]] = session.info.setdefault(PENDING_KEY, set())
    for obj in (*session.new, *session.dirty):
        match obj:
            case Plan():
                changed.add(("CarePlan", obj.id))
            case PlanParticipant() | PlanVersion():
                changed.add(("CarePlan", obj.plan_id))
            case Reminder():
                changed.add(("Task", obj.id))
            case OutboxMessage() if _is_communication_change(session, obj):
                changed.add(("Communication", obj.id))


def _is_communication_change(session: Session, message: OutboxMessage) -> bool:
    """A MedCom message about a patient that was queued, or acknowledged, in this flush."""
    if message.channel is not OutboxChannel.FHIR_MESSAGE or message.patient_id is None:
        return False
    if message in session.new:
        return True
    history = sa.inspect(message).attrs.status.history
    return OutboxStatus.DELIVERED in (history.added or ())


def _load(session: Session, resource_type: str, rid: int) -> Changed | None:
    if resource_type == "CarePlan":
        plan = session.get(Plan, rid)
        if plan is None:
            return None
        parties = {p.organisation_id for p in plan.participants if p.organisation_id is not None}
        orgs = frozenset({plan.responsible_organisation_id, *parties})
        return Changed(resource_type, plan, plan.patient_id, orgs)
    if resource_type == "Task":
        reminder = session.get(Reminder, rid)
        if reminder is None:
            return None
        owner = {reminder.owner_organisation_id} - {None}
        return Changed(resource_type, reminder, reminder.patient_id, frozenset(owner))
    message = session.get(OutboxMessage, rid)
    if message is None or message.patient_id is None:
        return None
    recipients = session.scalars(
        sa.select(Organisation.id).where(Organisation.gln == message.recipient)
    )
    return Changed(resource_type, message, message.patient_id, frozenset(recipients))


def _candidates(session: Session, clock: Clock, changes: list[Changed]) -> list[Subscription]:
    patients = {c.patient_id for c in changes}
    orgs = {o for c in changes for o in c.organisations}
    now = clock.now()
    return list(
        session.scalars(
            sa.select(Subscription)
            .where(
                Subscription.resource_type.in_({c.resource_type for c in changes}),
                Subscription.status == SubscriptionStatus.ACTIVE,
                sa.or_(Subscription.end_at.is_(None), Subscription.end_at > now),
                sa.or_(
                    Subscription.patient_id.in_(patients),
                    Subscription.filter_organisation_id.in_(orgs),
                ),
            )
            .order_by(Subscription.id)
        )
    )


def _matches(subscription: Subscription, change: Changed) -> bool:
    if subscription.resource_type != change.resource_type:
        return False
    if subscription.patient_id is not None:
        return subscription.patient_id == change.patient_id
    return subscription.filter_organisation_id in change.organisations


def _notify(
    session: Session,
    clock: Clock,
    subscription: Subscription,
    change: Changed,
    render: Render,
) -> bool:
    """Queue the notification if the owner may read the resource today; whether it was queued."""
    owner = owner_of(session, subscription)
    if owner is None or not actor_scope_allows(owner, change.resource_type, "read"):
        return False
    if change.resource_type == "Task":  # as the Task door reads: the reminder is in their inbox
        if not in_inbox(session, owner, change.row.id):
            return False
        purpose = "reminder owner: inbox"
    else:
        decision = check_patient_access(
            session, owner, clock, change.patient_id, Permission.READ_PLAN
        )
        if not decision.allowed:
            return False
        purpose = decision.purpose
    reference = f"{change.resource_type}/{change.row.id}"
    payload: dict[str, Any] = {"subscription_id": subscription.id, "reference": reference}
    if subscription.payload:
        payload["resource"] = render(session, change.resource_type, change.row)
    now = clock.now()
    enqueue(
        session,
        channel=OutboxChannel.REST_HOOK,
        idempotency_key=f"rest-hook:{subscription.id}:{reference}:{uuid.uuid4().hex}",
        recipient=subscription.endpoint,
        subject=reference,
        payload=payload,
        patient_id=change.patient_id,
        now=now,
    )
    record(
        session,
        actor=owner,
        at=now,
        action=AuditAction.READ,
        resource_type=change.resource_type,
        resource_id=change.row.id,
        patient_id=change.patient_id,
        purpose=f"{PURPOSE}: {purpose}",
        details={"subscription": subscription.id, "payload": "resource" in payload},
    )
    return True


def notify_changes(
    session: Session,
    clock: Clock,
    changed: set[tuple[str, int]],
    render: Render,
) -> int:
    """Queue the notifications for ``changed`` (type, id); how many were queued. ``render`` builds the
    resource a subscription with a payload gets."""
    if not session.scalar(
        sa.select(sa.literal(True))
        .where(
            Subscription.resource_type.in_({t for t, _ in changed}),
            Subscription.status == SubscriptionStatus.ACTIVE,
        )
        .limit(1)
    ):
        return 0  # the common case: nobody subscribes to these types
    changes = [c for t, rid in sorted(changed) if (c := _load(session, t, rid)) is not None]
    queued = 0
    for subscription in _candidates(session, clock, changes):
        for change in changes:
            if _matches(subscription, change):
                queued += _notify(session, clock, subscription, change, render)
    return queued


def _act(session: Session, render: Render) -> None:
    changed: set[tuple[str, int]] = session.info.pop(PENDING_KEY, set())
    changed = {(t, rid) for t, rid in changed if rid is not None}
    if not changed:
        return
    try:
        with session.begin_nested():
            notify_changes(session, session_clock(session), changed, render)
    except Exception:  # a fault in notifying must never block a clinical change
        log.exception("subscriptions.matching_failed", changes=len(changed))
    session.info.pop(PENDING_KEY, None)


def hook(render: Render) -> CommitHook:
    """The commit hook that notifies subscribers; install it after the reminders and the CarePlan history
    (their work before the commit changes reminders and plans too). ``render`` builds the FHIR JSON of a
    row."""

    def act(session: Session) -> None:
        _act(session, render)

    return CommitHook("subscriptions.matching", note=_note, act=act, keys=(PENDING_KEY,))
