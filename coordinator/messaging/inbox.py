"""The MedCom inbox worker: stored messages processed in batches, failures retried, then dead-lettered.

Guarantee (docs/adr/0013-medcom-durable-inbox.md):
- Exactly once: a batch is claimed, processed, marked done and its Acknowledgements queued in the outbox in
  ONE transaction, holding the rows' locks (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so several workers
  share the work). A worker killed in the middle of a batch loses its transaction: its rows are pending
  again, nothing of its work is left, and the next worker processes them as if for the first time.
- In order per patient: a message is taken only when no earlier message with the same ``order_key`` is
  still pending (the same rule holds across workers, because the earlier row is pending in every
  snapshot until the transaction that processed it commits), and a batch processes its rows in arrival
  order. A revise or cancel thus never overtakes the message it refers to.
- Never lost: a message that fails for a reason of ours (anything but the message's own fault, which is
  answered with a fatal-error Acknowledgement like in synchronous mode) rolls back its batch, whose
  messages are then taken one per transaction; it is counted and retried with backoff, and the patient's
  later messages wait. After ``INBOX_MAX_ATTEMPTS`` it is dead: a negative Acknowledgement goes to the
  sender, administrators see it (``GET /api/v1/inbox/failed``, the failed-messages page), and
  ``flask --app coordinator messages replay ID`` gives it another round (audited).
- Health data at rest only while needed: the body is cleared when the message is processed, and a dead
  letter's body after ``INBOX_DEAD_RETENTION_DAYS``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session, aliased

from coordinator.audit.services import record
from coordinator.db import Database
from coordinator.messaging.models import InboundMessage, InboxStatus
from coordinator.messaging.services import (
    dead_letter_acknowledgement,
    process_entry,
    send_acknowledgement,
)
from fhir_adapters import medcom
from pathways.audit import AuditAction
from pathways.clock import Clock
from pathways.errors import Conflict, NotFound
from pathways.people import Actor
from pathways.permissions import Permission, require

log = structlog.get_logger("carepath.inbox")


@dataclass(frozen=True, slots=True)
class InboxPolicy:
    batch: int = 100
    max_attempts: int = 6
    first_delay: timedelta = timedelta(seconds=30)
    max_delay: timedelta = timedelta(hours=1)
    dead_retention: timedelta = timedelta(days=30)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> InboxPolicy:
        return cls(
            batch=int(config.get("INBOX_BATCH", 100)),
            max_attempts=int(config.get("INBOX_MAX_ATTEMPTS", 6)),
            dead_retention=timedelta(days=int(config.get("INBOX_DEAD_RETENTION_DAYS", 30))),
        )

    def delay_after(self, attempts: int) -> timedelta:
        """Exponential backoff: 30 s, 1 min, 2 min, ... capped at ``max_delay``."""
        return min(self.max_delay, self.first_delay * (2 ** max(0, attempts - 1)))


@dataclass(slots=True)
class InboxSummary:
    batches: int = 0
    processed: int = 0
    retried: int = 0
    dead: int = 0
    purged: int = 0

    def as_log(self) -> dict[str, int]:
        return {
            "batches": self.batches,
            "processed": self.processed,
            "retried": self.retried,
            "dead": self.dead,
            "purged": self.purged,
        }


def describe(error: BaseException) -> str:
    """What administrators see of a failure: never a statement's parameters (they may hold a CPR)."""
    if isinstance(error, sa_exc.StatementError):
        return f"{type(error).__name__} ({type(error.orig).__name__})"
    return f"{type(error).__name__}: {error}"[:1000]


def claim(session: Session, now: datetime, batch: int) -> list[InboundMessage]:
    """Up to ``batch`` due messages in arrival order, locked until the caller's transaction ends (other
    workers skip them), leaving out every message that must wait for an earlier one of its patient.

    The query leaves out what waits behind a message that is backing off; rows locked by another worker
    are skipped by the query and invisible to it, so the messages claimed here are checked once more
    against every earlier pending message of their patients (one query): a message whose predecessor is
    not in this batch stays where it is."""
    earlier = aliased(InboundMessage)
    behind_a_retry = (
        sa.select(earlier.id)
        .where(
            earlier.order_key == InboundMessage.order_key,
            earlier.status == InboxStatus.PENDING,
            earlier.id < InboundMessage.id,
            earlier.next_attempt_at > now,
        )
        .exists()
    )
    rows = list(
        session.scalars(
            sa.select(InboundMessage)
            .where(
                InboundMessage.status == InboxStatus.PENDING,
                InboundMessage.next_attempt_at <= now,
                sa.or_(InboundMessage.order_key == "", ~behind_a_retry),
            )
            .order_by(InboundMessage.id)
            .limit(batch)
            .with_for_update(skip_locked=True)
        )
    )
    keys = {row.order_key for row in rows if row.order_key}
    if not keys:
        return rows
    ids = [row.id for row in rows]
    held_back: dict[str, int] = {}
    for key, first in session.execute(
        sa.select(InboundMessage.order_key, sa.func.min(InboundMessage.id))
        .where(
            InboundMessage.status == InboxStatus.PENDING,
            InboundMessage.order_key.in_(keys),
            InboundMessage.id < max(ids),
            InboundMessage.id.not_in(ids),
        )
        .group_by(InboundMessage.order_key)
    ):
        held_back[key] = first
    return [
        row
        for row in rows
        if not (row.order_key in held_back and row.id > held_back[row.order_key])
    ]


def note_failure(
    session: Session,
    clock: Clock,
    entry: InboundMessage,
    *,
    error: BaseException,
    policy: InboxPolicy,
    config: Mapping[str, Any],
) -> bool:
    """Count a failed attempt: back off, or after the last attempt dead-letter the message and send the
    negative Acknowledgement. Returns True when the message is now dead."""
    now = clock.now()
    entry.attempts += 1
    entry.last_error = describe(error)
    if entry.attempts < policy.max_attempts:
        entry.next_attempt_at = now + policy.delay_after(entry.attempts)
        return False
    entry.status = InboxStatus.DEAD
    entry.next_attempt_at = None
    entry.processed_at = now
    envelope = medcom.salvage_envelope(entry.body)
    if envelope is not None and entry.event != medcom.MedComEvent.ACKNOWLEDGEMENT.value:
        ack = dead_letter_acknowledgement(envelope, clock, config, entry.attempts)
        entry.outcome = medcom.AckCode.FATAL_ERROR.value
        entry.acknowledgement = ack
        send_acknowledgement(session, clock, entry, envelope, ack)
    log.error("inbox.dead_letter", inbound_message=entry.id, error=entry.last_error)
    return True


def note_failure_apart(
    database: Database,
    clock: Clock,
    entry_id: int,
    error: BaseException,
    config: Mapping[str, Any],
    *,
    policy: InboxPolicy | None = None,
) -> bool:
    """``note_failure`` in a transaction of its own (after the failed one was rolled back); True when the
    message is now dead. Best effort: when even this fails (the database is gone), the message simply
    stays due."""
    try:
        with database.transaction() as session:
            entry = session.get(InboundMessage, entry_id, with_for_update=True)
            if entry is not None and entry.status is InboxStatus.PENDING:
                return note_failure(
                    session,
                    clock,
                    entry,
                    error=error,
                    policy=policy or InboxPolicy.from_config(config),
                    config=config,
                )
    except Exception:
        log.exception("inbox.note_failure_failed", inbound_message=entry_id)
    return False


class BatchFailed(Exception):
    """A message of a batch of several failed for a reason of ours: the batch is rolled back and its
    messages are taken again one per transaction, so that only the culprit is counted."""


def _process_batch(
    session: Session,
    clock: Clock,
    config: Mapping[str, Any],
    *,
    rows: list[InboundMessage],
) -> int:
    """Process the claimed rows in arrival order, in the caller's transaction; how many. No savepoint
    per message (each would cost two round trips): a failure of ours rolls back the whole batch
    (``BatchFailed``: the messages are taken again one per transaction), and a batch of one re-raises,
    for the caller to count the attempt on that message after the rollback."""
    for entry in rows:
        try:
            process_entry(session, clock, entry, config, reply=True)
        except Exception as exc:
            log.warning("inbox.message_failed", inbound_message=entry.id, error=describe(exc))
            if len(rows) > 1:
                raise BatchFailed from exc
            raise
    return len(rows)


def purge_dead_bodies(session: Session, now: datetime, policy: InboxPolicy) -> int:
    """The retention rule: a dead letter's body is cleared ``dead_retention`` after it died."""
    result = session.execute(
        sa.update(InboundMessage)
        .where(
            InboundMessage.status == InboxStatus.DEAD,
            InboundMessage.body.is_not(None),
            InboundMessage.processed_at < now - policy.dead_retention,
        )
        .values(body=None)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def process_inbox(
    database: Database,
    clock: Clock,
    config: Mapping[str, Any],
    *,
    run_for: timedelta = timedelta(seconds=20),
    policy: InboxPolicy | None = None,
) -> InboxSummary:
    """One run of the worker: batch after batch until nothing is due or ``run_for`` is spent."""
    policy = policy or InboxPolicy.from_config(config)
    summary = InboxSummary()
    with database.transaction() as session:
        summary.purged = purge_dead_bodies(session, clock.now(), policy)
    deadline = time.monotonic() + run_for.total_seconds()
    size = policy.batch
    singles = 0  # after a failed batch: how many messages to take one per transaction
    while time.monotonic() < deadline:
        ids: list[int] = []
        try:
            with database.transaction() as session:
                rows = claim(session, clock.now(), size)
                ids = [row.id for row in rows]
                if not rows:
                    break  # nothing due, or all of it waits for messages other workers hold
                processed = _process_batch(session, clock, config, rows=rows)
        except BatchFailed:
            # Nothing of the batch stayed: its messages again, one per transaction.
            size, singles = 1, len(ids)
            continue
        except Exception as exc:
            if not ids:
                raise  # not even the claim worked: the job fails and is run again
            # One message failed, or the commit of its transaction did (e.g. a unique race with a
            # synchronous request): nothing of it stayed. Count the attempt on it, apart.
            if size > 1:
                size = 1
                continue
            if note_failure_apart(database, clock, ids[0], exc, config, policy=policy):
                summary.dead += 1
            else:
                summary.retried += 1
            continue
        summary.batches += 1
        summary.processed += processed
        singles = max(0, singles - 1)
        size = 1 if singles else policy.batch
    return summary


# --------------------------------------------------------------------- administrators: see and replay
def list_problem_messages(
    session: Session, actor: Actor, *, limit: int = 100
) -> list[InboundMessage]:
    """Dead letters and messages that failed at least once, newest first (administrators only)."""
    require(actor, Permission.MANAGE_OUTBOX)
    return list(
        session.scalars(
            sa.select(InboundMessage)
            .where(
                sa.or_(
                    InboundMessage.status == InboxStatus.DEAD,
                    sa.and_(
                        InboundMessage.status == InboxStatus.PENDING, InboundMessage.attempts > 0
                    ),
                )
            )
            .order_by(InboundMessage.id.desc())
            .limit(limit)
        )
    )


def replay(session: Session, actor: Actor, clock: Clock, *, entry_id: int) -> InboundMessage:
    """Give a dead letter another round of attempts after the cause was fixed (audited)."""
    require(actor, Permission.MANAGE_OUTBOX)
    entry = session.get(InboundMessage, entry_id, with_for_update=True)
    if entry is None:
        raise NotFound("inbound message", entry_id)
    if entry.status is not InboxStatus.DEAD:
        raise Conflict(f"only dead letters can be replayed; this one is {entry.status.value}")
    if entry.body is None:
        raise Conflict(
            "its body was cleared after the retention time: ask the sender to send it again"
        )
    now = clock.now()
    entry.status = InboxStatus.PENDING
    entry.attempts = 0
    entry.next_attempt_at = now
    entry.processed_at = None
    record(
        session,
        actor=actor,
        at=now,
        action=AuditAction.UPDATE,
        resource_type="InboundMessage",
        resource_id=entry.id,
        details={"replayed": True, "message_id": entry.message_id, "error": entry.last_error},
    )
    return entry
