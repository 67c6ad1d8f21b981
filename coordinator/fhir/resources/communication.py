"""Communication: the MedCom CareCommunications carepath sent about a patient (read and search).

The rows are the outbox's gateway messages with a patient (coordinator.messaging.outbound: a plan shared
with a party, the planned discharge date for the home municipality); reminder mails are never served.
Reads and searches need a care relation to the patient (§13c), like the plans they are about, and are
audited. Searches name the patient and page newest first by keyset (``_count``, ``_cursor``).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.orm import Session

from coordinator.access.services import require_patient_access
from coordinator.audit.services import record
from coordinator.care_pathways.models import PathwayFact
from coordinator.fhir import records
from coordinator.fhir.core import (
    JSON,
    Context,
    SearchQuery,
    SearchResult,
    bad_search,
    int_id,
    not_found,
)
from coordinator.fhir.search import (
    cursor_id,
    int_reference,
    next_cursor,
    reference_ids,
    references,
    tokens,
)
from coordinator.organisations.models import Organisation
from coordinator.outbox.models import OutboxChannel, OutboxMessage, OutboxStatus
from fhir_adapters.common import to_json
from fhir_adapters.communication import (
    CommunicationRecord,
    MessageState,
    communication_to_fhir,
    read_sent_message,
    states_for,
)
from pathways.audit import AuditAction
from pathways.permissions import Permission

EVENT_STATUS_SYSTEM = "http://hl7.org/fhir/event-status"
AUDIT_TYPE = "Communication"
# The pathway facts coordinator.messaging.outbound records beside each message, by idempotency key.
SHARED_KEY = "shared:{}"
NOTIFIED_KEY = "municipality-notified:{}"


def _gateway_messages() -> sa.Select[OutboxMessage]:
    """Gateway (MedCom) messages about a patient: the only outbox rows that are Communications."""
    return sa.select(OutboxMessage).where(
        OutboxMessage.channel == OutboxChannel.FHIR_MESSAGE, OutboxMessage.patient_id.is_not(None)
    )


def _records(session: Session, rows: Sequence[OutboxMessage]) -> list[CommunicationRecord]:
    """The rows with what they are about (the facts recorded with them) and their organisations."""
    keys = {key.format(r.message_id) for r in rows for key in (SHARED_KEY, NOTIFIED_KEY)}
    facts = {
        f.idempotency_key: f
        for f in session.scalars(
            sa.select(PathwayFact).where(PathwayFact.idempotency_key.in_(keys))
        )
    }
    sent = {r.id: read_sent_message(r.payload) for r in rows}
    glns = {r.recipient for r in rows} | {s.sender_gln for s in sent.values() if s.sender_gln}
    sors = {s.sender_sor for s in sent.values() if s.sender_sor}
    org_ids = {f.organisation_id for f in facts.values() if f.organisation_id is not None}
    orgs = list(
        session.scalars(
            sa.select(Organisation)
            .where(
                sa.or_(
                    Organisation.id.in_(org_ids),
                    Organisation.gln.in_(glns),
                    Organisation.sor_code.in_(sors),
                )
            )
            .order_by(Organisation.id)
        )
    )
    by_id = {o.id: o for o in orgs}
    by_gln: dict[str, Organisation] = {}
    by_sor: dict[str, Organisation] = {}
    for org in orgs:
        if org.gln:
            by_gln.setdefault(org.gln, org)
        if org.sor_code:
            by_sor.setdefault(org.sor_code, org)
    out = []
    for row in rows:
        fact = facts.get(SHARED_KEY.format(row.message_id)) or facts.get(
            NOTIFIED_KEY.format(row.message_id)
        )
        receiver = by_id.get(fact.organisation_id) if fact and fact.organisation_id else None
        receiver = receiver if receiver is not None and receiver.gln == row.recipient else None
        receiver = receiver or by_gln.get(row.recipient)
        message = sent[row.id]
        sender = by_sor.get(message.sender_sor or "") or by_gln.get(message.sender_gln or "")
        assert row.patient_id is not None
        out.append(
            CommunicationRecord(
                id=row.id,
                message_id=row.message_id,
                state=MessageState(row.status.value),
                patient_id=row.patient_id,
                created_at=row.created_at,
                recipient_gln=row.recipient,
                recipient=records.organisation_record(receiver) if receiver else None,
                sender=records.organisation_record(sender) if sender else None,
                message=message,
                topic=row.subject,
                plan_id=fact.plan_id if fact else None,
                reminder_id=row.reminder_id,
                pathway_id=fact.pathway_id if fact else None,
                sent_at=row.sent_at,
                delivered_at=row.delivered_at,
            )
        )
    return out


def _json(session: Session, rows: Sequence[OutboxMessage]) -> list[JSON]:
    return [to_json(communication_to_fhir(r)) for r in _records(session, rows)]


def communication_json(session: Session, row: OutboxMessage) -> JSON:
    """One message as a Communication (a subscription's notification carries it)."""
    return _json(session, [row])[0]


# ---------------------------------------------------------------------------- read
def read(ctx: Context, rid: str) -> JSON:
    number = int_id("Communication", rid)
    row = ctx.session.scalar(_gateway_messages().where(OutboxMessage.id == number))
    if row is None or row.patient_id is None:
        raise not_found(f"Communication/{rid} is not known here")
    decision = require_patient_access(
        ctx.session, ctx.actor, ctx.clock, row.patient_id, Permission.READ_PLAN
    )
    record(
        ctx.session,
        actor=ctx.actor,
        at=ctx.clock.now(),
        action=AuditAction.READ,
        resource_type=AUDIT_TYPE,
        resource_id=row.id,
        patient_id=row.patient_id,
        purpose=decision.purpose,
    )
    return _json(ctx.session, [row])[0]


# ---------------------------------------------------------------------------- search
def _single_patient(query: SearchQuery) -> int | None:
    """The one patient the search is about; None when the value names nobody we can have."""
    wanted = reference_ids(query, "patient", "Patient")
    if wanted is None:
        raise bad_search("Communication searches need patient")
    if len(wanted) > 1:
        raise bad_search("search parameter patient: one patient at a time")
    return next(iter(wanted), None) if wanted else None


def _states(query: SearchQuery) -> frozenset[OutboxStatus] | None:
    result: frozenset[OutboxStatus] | None = None
    for occurrence in tokens(query, "status"):
        found = {
            OutboxStatus(state.value)
            for t in occurrence
            if t.system in (None, EVENT_STATUS_SYSTEM)
            for state in states_for(t.code)
        }
        result = frozenset(found) if result is None else result & found
    return result


def _recipient_glns(ctx: Context, query: SearchQuery) -> set[str] | None:
    """The messaging addresses (GLN) of the recipients asked for; None without the parameter."""
    result: set[str] | None = None
    for occurrence in references(query, "recipient", ("Organization",)):
        ids = {n for _, rid in occurrence if (n := int_reference(rid)) is not None}
        found = {
            gln
            for gln in ctx.session.scalars(
                sa.select(Organisation.gln).where(Organisation.id.in_(ids))
            )
            if gln
        }
        result = found if result is None else result & found
    return result


def search(ctx: Context, query: SearchQuery) -> SearchResult:
    patient_id = _single_patient(query)
    states = _states(query)
    glns = _recipient_glns(ctx, query)
    after = cursor_id(query)
    if patient_id is None:
        return SearchResult([])
    session, actor, clock = ctx.session, ctx.actor, ctx.clock
    decision = require_patient_access(session, actor, clock, patient_id, Permission.READ_PLAN)
    rows: list[OutboxMessage] = []
    if (states is None or states) and (glns is None or glns):
        statement = (
            _gateway_messages()
            .where(OutboxMessage.patient_id == patient_id)
            .order_by(OutboxMessage.id.desc())
            .limit(query.count)
        )
        if states is not None:
            statement = statement.where(OutboxMessage.status.in_(states))
        if glns is not None:
            statement = statement.where(OutboxMessage.recipient.in_(glns))
        if after is not None:
            statement = statement.where(OutboxMessage.id < after)
        rows = list(session.scalars(statement))
    record(
        session,
        actor=actor,
        at=clock.now(),
        action=AuditAction.SEARCH,
        resource_type=AUDIT_TYPE,
        patient_id=patient_id,
        purpose=decision.purpose,
        details={"communications": [r.id for r in rows]},
    )
    return SearchResult(
        _json(session, rows), next_cursor=next_cursor([r.id for r in rows], query.count)
    )
