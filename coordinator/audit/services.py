"""Writing the audit log. Every use case that touches patient data calls ``record`` in its transaction."""

from __future__ import annotations

from collections.abc import Iterable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.orm import Session

from coordinator.audit.models import AuditEntry
from pathways.audit import AuditAction, AuditOutcome
from pathways.people import Actor


@dataclass(frozen=True, slots=True)
class AuditContext:
    """Where a use case was called from: set once per request, job or command."""

    channel: str = "cli"
    request_id: str = ""


_OUTSIDE_ANY_REQUEST = AuditContext()
audit_context: ContextVar[AuditContext] = ContextVar("audit_context", default=_OUTSIDE_ANY_REQUEST)


def _who_and_where(actor: Actor, at: datetime) -> dict[str, Any]:
    """The columns every entry takes from the actor, the time and the request it is made in."""
    context = audit_context.get()
    return {
        "occurred_at": at,
        "actor_kind": actor.kind,
        "actor_id": actor.id,
        "actor_name": actor.name,
        "actor_organisation_id": actor.organisation_id,
        "channel": context.channel,
        "request_id": context.request_id,
    }


def record(
    session: Session,
    *,
    actor: Actor,
    at: datetime,
    action: AuditAction,
    resource_type: str,
    resource_id: object = "",
    patient_id: int | None = None,
    purpose: str = "",
    outcome: AuditOutcome = AuditOutcome.ALLOWED,
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    entry = AuditEntry(
        **_who_and_where(actor, at),
        patient_id=patient_id,
        resource_type=resource_type,
        resource_id=str(resource_id) if resource_id is not None else "",
        action=action,
        purpose=purpose,
        outcome=outcome,
        details=details or {},
    )
    session.add(entry)
    return entry


def record_now(
    session: Session,
    *,
    actor: Actor,
    at: datetime,
    action: AuditAction,
    resource_type: str,
    resource_id: object = "",
    patient_id: int | None = None,
    purpose: str = "",
    details: dict[str, Any] | None = None,
) -> None:
    """``record`` for a read: the same entry (allowed), inserted at once with one Core statement
    instead of an ORM object flushed at the commit; nothing reads it back in the request."""
    session.connection().execute(
        _INSERT,
        _who_and_where(actor, at)
        | {
            "patient_id": patient_id,
            "resource_type": resource_type,
            "resource_id": str(resource_id) if resource_id is not None else "",
            "action": action,
            "purpose": purpose,
            "outcome": AuditOutcome.ALLOWED,
            "details": details or {},
        },
    )


_INSERT = sa.insert(cast(sa.Table, AuditEntry.__table__))


def record_per_patient(
    session: Session,
    *,
    actor: Actor,
    at: datetime,
    action: AuditAction,
    resource_type: str,
    purpose: str,
    shown: Iterable[tuple[int, int]],
    key: str,
) -> None:
    """One entry per patient for a list or search that showed several patients' data: ``shown`` gives
    (patient id, resource id) pairs, and each patient's entry lists its ids under ``details[key]``. One
    executemany writes them all, instead of an object each."""
    ids: dict[int, list[int]] = {}
    for patient_id, resource_id in shown:
        ids.setdefault(patient_id, []).append(resource_id)
    if not ids:
        return
    common = _who_and_where(actor, at) | {
        "resource_type": resource_type,
        "resource_id": "",
        "action": action,
        "purpose": purpose,
        "outcome": AuditOutcome.ALLOWED,
    }
    session.execute(
        sa.insert(AuditEntry),
        [common | {"patient_id": p, "details": {key: ids[p]}} for p in sorted(ids)],
    )
