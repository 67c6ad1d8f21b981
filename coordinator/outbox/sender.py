"""Delivering the outbox after commit: claim, send, mark; retries with exponential backoff.

Guarantee (documented in docs/adr/0005-outbox-delivery.md):
- Nothing is lost: a message is written in the transaction of the change that caused it, and it leaves
  the outbox only when a transport accepted it (``sent``) or after its last attempt (``dead``, shown to
  administrators, who can requeue it).
- Two senders never send the same message at once: a sender claims a batch with ``FOR UPDATE SKIP
  LOCKED`` (PostgreSQL) and a lease, and commits the claim before it sends.
- A sender killed after the SMTP server accepted a mail but before it marked the row ``sent`` leaves the
  lease to expire; the next sender sends it again *with the same Message-ID*. That is the one window in
  which a recipient can get a copy: it is the same message (RFC 5322 Message-ID), which mail stores
  collapse, never a second, different mail.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
import structlog

from coordinator.db import Database
from coordinator.outbox.models import OutboxMessage, OutboxStatus
from coordinator.outbox.transports import DeliveryError, Transport
from pathways.clock import Clock

log = structlog.get_logger("carepath.outbox")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 8
    first_delay: timedelta = timedelta(seconds=30)
    max_delay: timedelta = timedelta(hours=6)
    lease: timedelta = timedelta(minutes=5)

    def delay_after(self, attempts: int) -> timedelta:
        """Exponential backoff: 30 s, 1 min, 2 min, ... capped at ``max_delay``."""
        return min(self.max_delay, self.first_delay * (2 ** max(0, attempts - 1)))


@dataclass(slots=True)
class SendSummary:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    dead: int = 0
    errors: list[str] = field(default_factory=list)

    def as_log(self) -> dict[str, int]:
        return {
            "claimed": self.claimed,
            "sent": self.sent,
            "retried": self.retried,
            "dead": self.dead,
        }


def _due(now: datetime) -> sa.ColumnElement[bool]:
    return sa.or_(
        sa.and_(OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.next_attempt_at <= now),
        sa.and_(OutboxMessage.status == OutboxStatus.SENDING, OutboxMessage.lease_until < now),
    )


def claim(
    database: Database, now: datetime, *, worker: str, batch: int, policy: RetryPolicy
) -> list[OutboxMessage]:
    """Take up to ``batch`` due messages for this worker and commit, so no other sender takes them."""
    with database.transaction() as session:
        messages = list(
            session.scalars(
                sa.select(OutboxMessage)
                .where(_due(now))
                .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
                .limit(batch)
                .with_for_update(skip_locked=True)
            )
        )
        for message in messages:
            message.status = OutboxStatus.SENDING
            message.lease_until = now + policy.lease
            message.claimed_by = worker
            message.attempts += 1
    return messages


def _finish(
    database: Database, message: OutboxMessage, worker: str, values: dict[str, object]
) -> bool:
    """Write the outcome only if the claim is still ours (the lease may have passed to another)."""
    with database.transaction() as session:
        result = session.execute(
            sa.update(OutboxMessage)
            .where(
                OutboxMessage.id == message.id,
                OutboxMessage.status == OutboxStatus.SENDING,
                OutboxMessage.claimed_by == worker,
            )
            .values(**values)
        )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def send_due(
    database: Database,
    clock: Clock,
    transport: Transport,
    *,
    worker: str,
    batch: int = 50,
    policy: RetryPolicy | None = None,
    after_send: Callable[[OutboxMessage], None] | None = None,
) -> SendSummary:
    """One round of the sender job. ``after_send`` is a test seam: it runs between send and mark."""
    policy = policy or RetryPolicy()
    summary = SendSummary()
    messages = claim(database, clock.now(), worker=worker, batch=batch, policy=policy)
    summary.claimed = len(messages)
    for message in messages:
        try:
            transport.send(message)
        except DeliveryError as exc:
            now = clock.now()
            dead = exc.permanent or message.attempts >= policy.max_attempts
            _finish(
                database,
                message,
                worker,
                {
                    "status": OutboxStatus.DEAD if dead else OutboxStatus.PENDING,
                    "next_attempt_at": now + policy.delay_after(message.attempts),
                    "lease_until": None,
                    "last_error": str(exc)[:2000],
                },
            )
            summary.dead += dead
            summary.retried += not dead
            summary.errors.append(str(exc))
            log.warning(
                "outbox.delivery_failed",
                message_id=message.id,
                channel=message.channel.value,
                attempts=message.attempts,
                dead=dead,
                error=str(exc),
            )
            continue
        if after_send is not None:
            after_send(message)
        _finish(
            database,
            message,
            worker,
            {"status": OutboxStatus.SENT, "sent_at": clock.now(), "lease_until": None},
        )
        summary.sent += 1
    return summary
