"""Idempotency-Key: the same key and request give the stored answer again; the same key with another
request is refused. The answer is stored in the same transaction as the change it answers, so it can never
half-exist; of two concurrent requests with one key, the unique key lets one commit and the edge runs the
other again, which then finds the stored answer (coordinator.edge.unit_of_work)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from coordinator.idempotency.models import MAX_KEY_LENGTH, IdempotencyKey
from pathways.errors import ValidationFailed
from pathways.people import Actor

FIELD = "Idempotency-Key"


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    status_code: int
    headers: dict[str, Any]
    body: str


def check_key(key: str) -> str:
    if len(key) > MAX_KEY_LENGTH:
        raise ValidationFailed.single(FIELD, f"at most {MAX_KEY_LENGTH} characters")
    return key


def stored_answer(
    session: Session, actor: Actor, key: str, fingerprint: str
) -> StoredAnswer | None:
    """The answer stored for this caller's key, or None when the key is new; a key used for another
    request (another fingerprint) is refused."""
    stored = session.scalar(
        sa.select(IdempotencyKey).where(
            IdempotencyKey.actor_kind == actor.kind.value,
            IdempotencyKey.actor_id == actor.id,
            IdempotencyKey.key == key,
        )
    )
    if stored is None:
        return None
    if stored.fingerprint != fingerprint:
        raise ValidationFailed.single(
            FIELD, "this key was used for a different request; use a new key", "key-reused"
        )
    return StoredAnswer(stored.status_code, dict(stored.headers), stored.body)


def remember(
    session: Session,
    actor: Actor,
    key: str,
    fingerprint: str,
    answer: StoredAnswer,
    *,
    now: datetime,
) -> None:
    session.add(
        IdempotencyKey(
            actor_kind=actor.kind.value,
            actor_id=actor.id,
            key=key,
            fingerprint=fingerprint,
            status_code=answer.status_code,
            body=answer.body,
            created_at=now,
            headers=answer.headers,
        )
    )
    session.flush()  # a concurrent twin fails here, inside the unit of work, and is run again
