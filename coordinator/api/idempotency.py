"""Idempotency-Key on POST: the same key and body give the stored answer again; the same key with another
body is refused. Stored in the same transaction as the change it answers, so it can never half-exist."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import Response, request
from sqlalchemy.orm import Mapped, Session, mapped_column

from coordinator.db import Base, IntPK
from pathways.errors import ValidationFailed
from pathways.people import Actor

MAX_KEY_LENGTH = 200
REPLAYED_HEADERS = ("Content-Type", "Location", "ETag", "Link")


class IdempotencyKey(Base):
    __tablename__ = "idempotency_keys"

    id: Mapped[IntPK]
    actor_kind: Mapped[str] = mapped_column(sa.String(16))
    actor_id: Mapped[int | None]
    key: Mapped[str] = mapped_column(sa.String(MAX_KEY_LENGTH))
    fingerprint: Mapped[str] = mapped_column(sa.String(64))
    status_code: Mapped[int]
    headers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    body: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime]

    __table_args__ = (sa.UniqueConstraint("actor_kind", "actor_id", "key"),)


def requested_key() -> str | None:
    if request.method != "POST":
        return None
    key = request.headers.get("Idempotency-Key", "").strip()
    if not key:
        return None
    if len(key) > MAX_KEY_LENGTH:
        raise ValidationFailed.single("Idempotency-Key", f"at most {MAX_KEY_LENGTH} characters")
    return key


def _fingerprint() -> str:
    digest = hashlib.sha256()
    digest.update(f"{request.method} {request.path}?{request.query_string.decode()}\n".encode())
    digest.update(request.get_data(cache=True))
    return digest.hexdigest()


def replay(session: Session, actor: Actor, key: str) -> Response | None:
    """The stored answer to this key, or None when the key is new."""
    stored = session.scalar(
        sa.select(IdempotencyKey).where(
            IdempotencyKey.actor_kind == actor.kind.value,
            IdempotencyKey.actor_id == actor.id,
            IdempotencyKey.key == key,
        )
    )
    if stored is None:
        return None
    if stored.fingerprint != _fingerprint():
        raise ValidationFailed.single(
            "Idempotency-Key",
            "this key was used for a different request; use a new key",
            "key-reused",
        )
    response = Response(stored.body, status=stored.status_code, headers=stored.headers)
    response.headers["Idempotent-Replayed"] = "true"
    return response


def remember(session: Session, actor: Actor, key: str, response: Response, now: datetime) -> None:
    session.add(
        IdempotencyKey(
            actor_kind=actor.kind.value,
            actor_id=actor.id,
            key=key,
            fingerprint=_fingerprint(),
            status_code=response.status_code,
            body=response.get_data(as_text=True),
            created_at=now,
            headers={h: response.headers[h] for h in REPLAYED_HEADERS if h in response.headers},
        )
    )
