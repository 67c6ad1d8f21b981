"""Delivering the outbox after commit: claim, send, mark; retries with exponential backoff.

Guarantee (documented in docs/adr/0005-outbox-and-scheduler.md):
- Nothing is lost: a message is written in the transaction of the change that caused it, and it leaves
  the outbox only when a transport accepted it (``sent``) or after its last attempt (``dead``, shown to
  administrators, who can requeue it). Any failure of a transport, expected or not, counts as an
  attempt and backs off, so one message that keeps failing never holds up the others.
- Two senders never send the same message at once: a sender claims a batch with ``FOR UPDATE SKIP
  LOCKED`` (PostgreSQL) and a short lease, and commits the claim before it sends. While it sends, it
  renews the lease of the rows it still holds (a heartbeat, every ``RetryPolicy.heartbeat``), and it
  sends only rows that the last renewal confirmed as its own. This holds while one send plus one
  heartbeat interval stays well inside the lease (10 s SMTP timeout + 15 s against 60 s).
- A sender killed after the SMTP server accepted a mail but before it marked the row ``sent`` stops
  renewing; its claims come free when the lease runs out (about a minute) and the next sender sends
  that mail again *with the same Message-ID*. That is the one window in which a recipient can get a
  copy: it is the same message (RFC 5322 Message-ID), which mail stores collapse, never a second,
  different mail.
- One run drains the queue: it claims batch after batch until nothing is due or its time budget
  (``run_for``) is spent; the rows it claimed but did not reach go back to the queue at once, with no
  attempt counted.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import TracebackType

import sqlalchemy as sa
import structlog

from coordinator.db import Database
from coordinator.outbox.models import OutboxMessage, OutboxStatus
from coordinator.outbox.transports import DeliveryError, Transport
from pathways.clock import Clock

log = structlog.get_logger("carepath.outbox")

DEFAULT_RUN_FOR = timedelta(seconds=25)  # below the job's 30 s interval: runs do not pile up


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 8
    first_delay: timedelta = timedelta(seconds=30)
    max_delay: timedelta = timedelta(hours=6)
    # Short, and renewed while the sender works: a killed sender's claims come free within a minute.
    lease: timedelta = timedelta(seconds=60)
    heartbeat: timedelta = timedelta(seconds=15)

    def delay_after(self, attempts: int) -> timedelta:
        """Exponential backoff: 30 s, 1 min, 2 min, ... capped at ``max_delay``."""
        return min(self.max_delay, self.first_delay * (2 ** max(0, attempts - 1)))


@dataclass(slots=True)
class SendSummary:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    dead: int = 0
    released: int = 0  # claimed, then given back unsent because the run's time was up
    lost: int = 0  # claimed, then found taken over by another sender (this one had stalled)
    errors: list[str] = field(default_factory=list)

    def as_log(self) -> dict[str, int]:
        return {
            "claimed": self.claimed,
            "sent": self.sent,
            "retried": self.retried,
            "dead": self.dead,
            "released": self.released,
            "lost": self.lost,
        }


def _due(now: datetime) -> sa.ColumnElement[bool]:
    return sa.or_(
        sa.and_(OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.next_attempt_at <= now),
        sa.and_(OutboxMessage.status == OutboxStatus.SENDING, OutboxMessage.lease_until < now),
    )


def _held(worker: str, ids: Sequence[int]) -> sa.ColumnElement[bool]:
    """The rows among ``ids`` that are still claimed by ``worker``."""
    return sa.and_(
        OutboxMessage.id.in_(ids),
        OutboxMessage.status == OutboxStatus.SENDING,
        OutboxMessage.claimed_by == worker,
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


def renew(
    database: Database, now: datetime, *, worker: str, ids: Sequence[int], policy: RetryPolicy
) -> set[int]:
    """The heartbeat: extend the lease of the rows among ``ids`` this worker still holds; their ids.

    A row missing from the answer was taken over after this worker's lease ran out (it stalled):
    sending it now could send it twice at once, so the caller leaves it to its new owner."""
    if not ids:
        return set()
    with database.transaction() as session:
        # One statement: a claim another sender commits meanwhile is seen by the UPDATE's own WHERE
        # (PostgreSQL re-checks a row it waited for), so an id returned here is surely still ours.
        held = session.scalars(
            sa.update(OutboxMessage)
            .where(_held(worker, ids))
            .values(lease_until=now + policy.lease)
            .returning(OutboxMessage.id)
            .execution_options(synchronize_session=False)
        )
        return set(held)


def release(database: Database, *, worker: str, ids: Sequence[int]) -> int:
    """Give back claimed rows this worker did not try to send: due at once, the claim's attempt undone."""
    if not ids:
        return 0
    with database.transaction() as session:
        result = session.execute(
            sa.update(OutboxMessage)
            .where(_held(worker, ids))
            .values(
                status=OutboxStatus.PENDING,
                attempts=OutboxMessage.attempts - 1,
                lease_until=None,
                claimed_by="",
            )
            .execution_options(synchronize_session=False)
        )
    return int(result.rowcount)  # type: ignore[attr-defined]


def _finish(
    database: Database, message: OutboxMessage, worker: str, values: dict[str, object]
) -> bool:
    """Write the outcome only if the claim is still ours (the lease may have passed to another)."""
    with database.transaction() as session:
        result = session.execute(
            sa.update(OutboxMessage)
            .where(_held(worker, [message.id]))
            .values(**values)
            .execution_options(synchronize_session=False)
        )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def _origin(traceback: TracebackType | None) -> str:
    """Where an exception was raised (file:line of the innermost frame): enough to find the bug, and
    unlike the exception's text it cannot hold a recipient, a name or a CPR number."""
    if traceback is None:
        return ""
    while traceback.tb_next is not None:
        traceback = traceback.tb_next
    code = traceback.tb_frame.f_code
    return f"{code.co_filename}:{traceback.tb_lineno}"


def _failed(
    database: Database,
    clock: Clock,
    message: OutboxMessage,
    *,
    worker: str,
    policy: RetryPolicy,
    summary: SendSummary,
    exc: Exception,
) -> None:
    """Any failure is an attempt: back off, or dead-letter after the last attempt or a refusal."""
    expected = isinstance(exc, DeliveryError)
    # Our transports word a DeliveryError themselves; any other exception's text is unknown and may
    # hold personal data, so only its type is kept and logged.
    error = str(exc)[:2000] if expected else f"unexpected {type(exc).__name__}"
    permanent = isinstance(exc, DeliveryError) and exc.permanent
    dead = permanent or message.attempts >= policy.max_attempts
    _finish(
        database,
        message,
        worker,
        {
            "status": OutboxStatus.DEAD if dead else OutboxStatus.PENDING,
            "next_attempt_at": clock.now() + policy.delay_after(message.attempts),
            "lease_until": None,
            "last_error": error,
        },
    )
    summary.dead += dead
    summary.retried += not dead
    summary.errors.append(error)
    details = {
        "message_id": message.id,
        "channel": message.channel.value,
        "attempts": message.attempts,
        "dead": dead,
        "error_type": type(exc).__name__,
    }
    if expected:
        log.warning("outbox.delivery_failed", error=error, **details)
    else:
        log.error("outbox.delivery_failed", origin=_origin(exc.__traceback__), **details)


def send_due(
    database: Database,
    clock: Clock,
    transport: Transport,
    *,
    worker: str,
    batch: int = 50,
    policy: RetryPolicy | None = None,
    run_for: timedelta = DEFAULT_RUN_FOR,
    after_send: Callable[[OutboxMessage], None] | None = None,
) -> SendSummary:
    """One run of the sender job: batch after batch until nothing is due or ``run_for`` is spent.

    ``after_send`` is a test seam: it runs between send and mark."""
    policy = policy or RetryPolicy()
    summary = SendSummary()
    deadline = clock.now() + run_for
    while (claimed_at := clock.now()) < deadline:
        messages = claim(database, claimed_at, worker=worker, batch=batch, policy=policy)
        if not messages:
            break
        summary.claimed += len(messages)
        _send_batch(
            database,
            clock,
            transport,
            messages,
            claimed_at=claimed_at,
            worker=worker,
            policy=policy,
            deadline=deadline,
            summary=summary,
            after_send=after_send,
        )
    return summary


def _send_batch(
    database: Database,
    clock: Clock,
    transport: Transport,
    messages: list[OutboxMessage],
    *,
    claimed_at: datetime,
    worker: str,
    policy: RetryPolicy,
    deadline: datetime,
    summary: SendSummary,
    after_send: Callable[[OutboxMessage], None] | None,
) -> None:
    renewed_at = claimed_at  # the claim itself was the first lease
    held = {m.id for m in messages}
    for index, message in enumerate(messages):
        now = clock.now()
        if now >= deadline:
            summary.released += release(
                database, worker=worker, ids=[m.id for m in messages[index:]]
            )
            return
        if now - renewed_at >= policy.heartbeat:
            waiting = [m.id for m in messages[index:]]
            held = renew(database, now, worker=worker, ids=waiting, policy=policy)
            renewed_at = now
            if len(held) < len(waiting):
                log.warning("outbox.claims_lost", worker=worker, lost=len(waiting) - len(held))
        if message.id not in held:
            summary.lost += 1
            continue
        # Any failure is an attempt. A BaseException (a kill, Ctrl-C) is not: it ends the run.
        try:
            transport.send(message)
        except Exception as exc:
            _failed(
                database,
                clock,
                message,
                worker=worker,
                policy=policy,
                summary=summary,
                exc=exc,
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
