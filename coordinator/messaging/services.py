"""MedCom messaging in: HospitalNotification (sygehusadvis) moves the patient's pathway.

admit-* opens a pathway (a readmission when the patient's last stay was discharged), start/end-leave record
leave, discharge-* discharges (and the commit trigger runs the gap checks), revise-* corrects the time of the
earlier event and cancel-* annuls it. A message is processed once, by its MessageHeader id: a resent message
(same id, same content by ``message_fingerprint``) gets the first answer again and changes nothing; another
message reusing the id is refused.

Who may send what is decided in coordinator.messaging.senders (the sender's own stays; episode, patient and
the corrected message must agree). A refusal is a fatal-error Acknowledgement naming the problem: nothing
changed, and an audit entry with outcome DENIED, committed with the answer.

The inbox (ADR 0013): ``receive`` stores a message (one insert, unique on its MessageHeader id) before it
is processed, so a resend is recognised even before processing and an accepted message is never lost;
``process_entry`` processes a stored message and clears its body. The door runs the two in their own
transactions (synchronous mode) or only the first (``async=true``), leaving the second to the inbox worker
(coordinator.messaging.inbox), which sends the Acknowledgement through the outbox.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from coordinator.audit.services import record
from coordinator.care_pathways.corrections import Correction, correct_pathway_event
from coordinator.care_pathways.models import Pathway
from coordinator.care_pathways.services import admit_patient, record_pathway_event
from coordinator.messaging.models import InboundMessage, InboxStatus
from coordinator.messaging.outbound import our_party, record_acknowledgement
from coordinator.messaging.senders import (
    MessageRefused,
    corrected_stay,
    pathway_of,
    require_own_stay,
    require_senders_stay,
    sender_of,
)
from coordinator.organisations.models import Organisation
from coordinator.outbox.models import OutboxChannel
from coordinator.outbox.services import enqueue_new
from coordinator.patients.models import Patient
from coordinator.patients.services import register_patient
from coordinator.reminders.triggers import defer_evaluation
from fhir_adapters import medcom
from pathways.audit import AuditAction, AuditOutcome
from pathways.clock import Clock
from pathways.errors import DomainError, FieldError, ValidationFailed
from pathways.organisations import OrganisationKind
from pathways.people import Actor, ActorKind, Role
from pathways.permissions import Permission, require
from pathways.stays import EncounterClass, EventSource, PathwayEventType, PathwayStatus

A = medcom.HospitalNotificationActivity
# A message stored by a synchronous request is processed by that request; the inbox worker takes it only if
# the request did not finish it within this time (it failed, or its process died).
SYNC_GRACE = timedelta(minutes=2)


@dataclass(frozen=True, slots=True)
class Receipt:
    """What to answer: the Acknowledgement message and whether it is a replay of an earlier answer."""

    acknowledgement: dict[str, Any]
    code: medcom.AckCode
    replayed: bool = False
    pathway_id: int | None = None
    # An Acknowledgement of a message we never sent: recorded (a resend changes nothing), answered 404.
    unknown_message_id: str | None = None


def _ack(
    acknowledged: Any,
    code: medcom.AckCode,
    clock: Clock,
    config: Mapping[str, Any],
    issues: list[medcom.AckIssue] | None = None,
) -> dict[str, Any]:
    return medcom.build_acknowledgement(
        acknowledged,
        code=code,
        outcome=issues,
        sender=our_party(config),
        now=clock.now(),
        message_id=str(uuid.uuid4()),
    )


def _ward(session: Session, notice: medcom.HospitalNotice) -> Organisation:
    for sor in (notice.ward_sor, notice.sender.sor):
        if not sor:
            continue
        org = session.scalar(sa.select(Organisation).where(Organisation.sor_code == sor))
        if org is not None and org.kind is OrganisationKind.WARD:
            return org
    raise ValidationFailed.single(
        notice.expressions.ward,
        f"no ward with SOR {notice.ward_sor or notice.sender.sor} is registered in carepath",
        "unknown",
    )


def _home_municipality(session: Session, notice: medcom.HospitalNotice) -> str:
    """The patient's kommunekode: from Patient.address, else from the receiver, for MedCom sends a
    HospitalNotification to the patient's home municipality (the receiver or a unit above it that is
    registered with a kommunekode, found by SOR code, else by GLN)."""
    if notice.kommunekode:
        return notice.kommunekode
    receiver = notice.receiver
    org = None
    if receiver.sor:
        org = session.scalar(sa.select(Organisation).where(Organisation.sor_code == receiver.sor))
    if org is None and receiver.gln:
        org = session.scalar(
            sa.select(Organisation)
            .where(Organisation.gln == receiver.gln)
            .order_by(Organisation.id)
            .limit(1)
        )
    while org is not None:
        if org.kommunekode:
            return org.kommunekode
        org = org.parent
    raise ValidationFailed.single(
        notice.expressions.address,
        "the patient's home municipality is required: neither the Patient's address nor the "
        f"receiver (SOR {receiver.sor or '-'}, GLN {receiver.gln or '-'}) names one",
        medcom.REQUIRED,
    )


def _patient(
    session: Session, actor: Actor, clock: Clock, notice: medcom.HospitalNotice
) -> Patient:
    if notice.cpr:
        found = session.scalar(sa.select(Patient).where(Patient.cpr == notice.cpr))
    else:
        found = session.scalar(
            sa.select(Patient).where(Patient.replacement_cpr == notice.replacement_cpr)
        )
    if found is not None:
        return found
    given, _, family = (notice.patient_name or "").rpartition(" ")
    where = notice.expressions
    fields = {
        "kommunekode": where.address,
        "cpr": where.patient,
        "replacement_cpr": where.patient,
        "given_name": where.patient_name,
        "family_name": where.patient_name,
    }
    kommunekode = _home_municipality(session, notice)
    try:
        return register_patient(
            session,
            actor,
            clock,
            given_name=given or "-",
            family_name=family or "-",
            kommunekode=kommunekode,
            cpr=notice.cpr,
            replacement_cpr=notice.replacement_cpr,
            is_protected=notice.patient_confidential,
            purpose="MedCom HospitalNotification",
        )
    except ValidationFailed as exc:  # named as in the message, not as register_patient names them
        raise ValidationFailed(
            FieldError(fields.get(e.field, where.patient), e.message, e.code) for e in exc.errors
        ) from exc


def _key(message_id: str) -> str:
    return f"medcom:{message_id}"


def _admit(
    session: Session,
    actor: Actor,
    clock: Clock,
    notice: medcom.HospitalNotice,
    *,
    ward: Organisation,
    patient: Patient,
    earlier: Pathway | None,
) -> Pathway:
    episode = notice.episode_of_care
    return admit_patient(
        session,
        actor,
        clock,
        patient_id=patient.id,
        ward_id=ward.id,
        admitted_at=notice.occurred_at,
        idempotency_key=_key(notice.message_id),
        source=EventSource.MEDCOM,
        episode_system=episode.system,
        episode_value=episode.value,
        readmission_of_id=earlier.id if earlier else None,
        encounter_class=notice.encounter_class or EncounterClass.INPATIENT,
    )


def _apply(
    session: Session, actor: Actor, clock: Clock, notice: medcom.HospitalNotice
) -> Pathway | None:
    sender = sender_of(session, actor, notice)
    activity = notice.activity
    if activity.is_revise or activity.is_cancel:
        stay = corrected_stay(session, actor, notice, sender)
        assert notice.corrects_message_id is not None  # checked by _corrected_stay
        corrected = correct_pathway_event(
            session,
            actor,
            clock,
            corrects_key=_key(notice.corrects_message_id),
            correction=Correction.REVISE if activity.is_revise else Correction.CANCEL,
            idempotency_key=_key(notice.message_id),
            occurred_at=notice.occurred_at if activity.is_revise else None,
            source=EventSource.MEDCOM,
            pathway_id=stay.id,
        )
        return corrected.pathway
    pathway = pathway_of(session, notice)
    event = notice.pathway_event
    if pathway is not None:
        require_senders_stay(session, actor, sender, pathway, notice)
    if event is PathwayEventType.ADMITTED:
        if pathway is not None:
            return pathway  # the stay is known (e.g. a user registered it first): nothing to do
        ward = _ward(session, notice)
        require_own_stay(session, actor, sender, ward.id, where=notice.expressions.ward)
        patient = _patient(session, actor, clock, notice)
        earlier = session.scalar(
            sa.select(Pathway)
            .where(Pathway.patient_id == patient.id, Pathway.status == PathwayStatus.DISCHARGED)
            .order_by(Pathway.discharged_at.desc())
            .limit(1)
        )
        try:
            return _admit(
                session, actor, clock, notice, ward=ward, patient=patient, earlier=earlier
            )
        except ValidationFailed as exc:  # named as in the message
            where = {"admitted_at": f"{notice.expressions.encounter}.period.start"}
            raise ValidationFailed(
                FieldError(where.get(e.field, "Bundle"), e.message, e.code) for e in exc.errors
            ) from exc
    if pathway is None:
        raise ValidationFailed.single(
            notice.expressions.episode,
            "no pathway with this episode of care: the admission was never notified",
            "unknown",
        )
    record_pathway_event(
        session,
        actor,
        clock,
        pathway_id=pathway.id,
        event_type=event,
        occurred_at=notice.occurred_at,
        idempotency_key=_key(notice.message_id),
        source=EventSource.MEDCOM,
    )
    return pathway


def _remember(
    session: Session,
    clock: Clock,
    entry: InboundMessage,
    *,
    activity: str,
    code: medcom.AckCode,
    ack: dict[str, Any],
    pathway_id: int | None,
) -> None:
    """The message is processed: its answer is kept, its body (health data) is cleared in the same
    transaction."""
    entry.status = InboxStatus.DONE
    entry.outcome = code.value
    entry.activity = activity
    entry.acknowledgement = ack
    entry.pathway_id = pathway_id
    entry.body = None
    entry.next_attempt_at = None
    entry.processed_at = clock.now()


@dataclass(frozen=True, slots=True)
class Received:
    """What ``receive`` found: a stored message still to be processed (``entry_id``), or the answer that
    is already known (``receipt``: a resend of a processed message, or another message reusing its id)."""

    entry_id: int | None = None
    message_id: str = ""
    receipt: Receipt | None = None


def actor_record(actor: Actor) -> dict[str, Any]:
    """The sender as resolved at receipt, kept with the stored message: the worker acts as it."""
    return {
        "kind": actor.kind.value,
        "name": actor.name,
        "id": actor.id,
        "organisation_id": actor.organisation_id,
        "role": actor.role.value if actor.role else None,
        "scopes": sorted(actor.scopes),
    }


def actor_from_record(data: Mapping[str, Any] | None) -> Actor:
    if not data:
        return Actor.system("medcom-inbox")
    return Actor(
        kind=ActorKind(data["kind"]),
        name=str(data["name"]),
        id=data.get("id"),
        organisation_id=data.get("organisation_id"),
        role=Role(data["role"]) if data.get("role") else None,
        scopes=frozenset(data.get("scopes") or ()),
    )


def order_key(bundle: object, config: Mapping[str, Any]) -> str:
    """One patient's messages share this key (an HMAC of the patient's identifier with the app's secret, so
    the stored key reveals no CPR number); "" for a message that follows no other."""
    identity = medcom.ordering_identity(bundle)
    if identity is None:
        return ""
    secret = str(config.get("SECRET_KEY") or "carepath").encode()
    return hmac.new(secret, identity.encode(), hashlib.sha256).hexdigest()


def receive(
    session: Session,
    actor: Actor,
    clock: Clock,
    bundle: object,
    config: Mapping[str, Any],
    *,
    asynchronous: bool = False,
) -> Received:
    """Store a message in the inbox (one insert; the caller commits), or find the answer it already has.

    A resend of a processed message gets its answer again (``replayed``); another message under a used id
    is refused (fatal-error, audited, not stored); a message stored but not yet processed (pending, or dead
    after its retries) is returned for processing. Raises ``ValidationFailed`` when not even a message id
    can be read (the edge answers 400). ``asynchronous`` makes the message due for the inbox worker at once;
    a synchronous request processes it itself, and the worker takes it only after ``SYNC_GRACE``."""
    require(actor, Permission.RECORD_PATHWAY_EVENT)
    envelope = medcom.salvage_envelope(bundle)
    if envelope is None or not isinstance(bundle, dict):
        raise ValidationFailed(
            [FieldError("Bundle", "not a MedCom message: no MessageHeader id", "structure")]
        )
    if str(envelope.event) == medcom.MedComEvent.ACKNOWLEDGEMENT.value:
        medcom.parse_acknowledgement(
            bundle
        )  # an unreadable one is refused at once (400), not stored
    fingerprint = medcom.message_fingerprint(bundle)
    now = clock.now()
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    stored = session.scalar(  # one statement: a new message is stored, a known one changes nothing
        insert(InboundMessage)
        .values(
            message_id=envelope.message_id,
            fingerprint=fingerprint,
            event=str(envelope.event),
            activity="",
            sender_sor=envelope.sender.sor if envelope.sender else "",
            outcome="",
            acknowledgement={},
            received_at=now,
            status=InboxStatus.PENDING,
            body=bundle,
            actor=actor_record(actor),
            order_key=order_key(bundle, config),
            attempts=0,
            next_attempt_at=now if asynchronous else now + SYNC_GRACE,
            last_error="",
        )
        .on_conflict_do_nothing(index_elements=["message_id"])
        .returning(InboundMessage.id)
    )
    if stored is not None:
        return Received(entry_id=stored, message_id=envelope.message_id)
    seen = session.scalars(
        sa.select(InboundMessage).where(InboundMessage.message_id == envelope.message_id)
    ).one()
    if seen.fingerprint is not None and seen.fingerprint != fingerprint:
        receipt = _reused_id(session, actor, clock, config=config, envelope=envelope, seen=seen)
        return Received(receipt=receipt)
    if seen.status is InboxStatus.DONE:
        return Received(
            receipt=Receipt(
                seen.acknowledgement, medcom.AckCode(seen.outcome), True, seen.pathway_id
            )
        )
    return Received(entry_id=seen.id, message_id=seen.message_id)


def process_received(
    session: Session, actor: Actor, clock: Clock, entry_id: int, config: Mapping[str, Any]
) -> Receipt:
    """The synchronous door's second transaction: lock the stored message (a worker that holds it is waited
    for) and process it, unless it was processed meanwhile (then its answer, as for a resend)."""
    entry = session.get(InboundMessage, entry_id, with_for_update=True, populate_existing=True)
    if entry is None:  # pragma: no cover - rows are never deleted
        raise DomainError(f"inbound message {entry_id} is gone")
    if entry.status is InboxStatus.DONE:
        return Receipt(entry.acknowledgement, medcom.AckCode(entry.outcome), True, entry.pathway_id)
    return process_entry(session, clock, entry, config, actor=actor)


def process_message(
    session: Session, actor: Actor, clock: Clock, bundle: object, config: Mapping[str, Any]
) -> Receipt:
    """Store and process one MedCom message Bundle in the caller's transaction (only HospitalNotification
    and Acknowledgement are accepted today); the door splits the two steps into transactions of their own.

    Returns the Acknowledgement: ``ok``, or ``fatal-error`` with the problems as OperationOutcome issues
    (the message is wrong and must not be resent as is). A domain conflict (e.g. cancelling an event that
    has later events) is a fatal error too, and so is a refused message (see the module's docstring), which
    is audited as DENIED. Raises ``ValidationFailed`` when not even a message id can be read (the edge
    answers 400). The caller commits; on a fatal error it must commit as well so the answer (and the audit
    entry of a refusal) is remembered, which is why this function never leaves half of a message's changes
    behind: the work runs in a savepoint.

    The gaps of the pathway a message moves are queued for the scheduler's ``evaluate_queued`` job (within
    seconds, in batches), not evaluated in the message's transaction: the gateway waits for the answer, and
    a hospital's messages come in bursts.
    """
    received = receive(session, actor, clock, bundle, config)
    if received.receipt is not None:
        return received.receipt
    entry = session.get_one(InboundMessage, received.entry_id)
    return process_entry(session, clock, entry, config, actor=actor)


def process_entry(
    session: Session,
    clock: Clock,
    entry: InboundMessage,
    config: Mapping[str, Any],
    *,
    actor: Actor | None = None,
    reply: bool = False,
) -> Receipt:
    """Process a stored message and mark it done (its body cleared), in the caller's transaction.

    ``actor`` is the sender when the door processes the message it just received; the worker acts as the
    sender recorded at receipt. ``reply`` sends the Acknowledgement through the outbox to the sender (the
    worker: nobody waits for an HTTP answer). Errors that are not the message's fault (anything but a
    ``DomainError``) propagate: the caller rolls back and retries later."""
    actor = actor or actor_from_record(entry.actor)
    require(actor, Permission.RECORD_PATHWAY_EVENT)
    defer_evaluation(session)
    bundle = entry.body
    envelope = medcom.salvage_envelope(bundle)
    if envelope is None or not isinstance(bundle, dict):
        raise InboxBodyMissing(entry.message_id)
    if entry.event == medcom.MedComEvent.ACKNOWLEDGEMENT.value:
        return _acknowledgement(session, clock, bundle, entry)
    try:
        with session.begin_nested():
            notice = medcom.parse_hospital_notification(bundle)
            pathway = _apply(session, actor, clock, notice)
    except (
        DomainError
    ) as exc:  # a refusal, MessageStructureInvalid, MessageContentInvalid, a conflict
        receipt = _fatal(
            session, actor, clock, config=config, envelope=envelope, entry=entry, exc=exc
        )
    else:
        ack = _ack(notice, medcom.AckCode.OK, clock, config)
        _remember(
            session,
            clock,
            entry,
            activity=notice.activity.value,
            code=medcom.AckCode.OK,
            ack=ack,
            pathway_id=pathway.id if pathway else None,
        )
        record(
            session,
            actor=actor,
            at=clock.now(),
            action=AuditAction.CREATE,
            resource_type="Message",
            resource_id=notice.message_id,
            patient_id=pathway.patient_id if pathway else None,
            purpose=f"MedCom HospitalNotification {notice.activity.value}",
        )
        receipt = Receipt(ack, medcom.AckCode.OK, False, pathway.id if pathway else None)
    if reply:
        send_acknowledgement(session, clock, entry, envelope, receipt.acknowledgement)
    return receipt


class InboxBodyMissing(DomainError):
    code = "gone"

    def __init__(self, message_id: str) -> None:
        super().__init__(
            f"message {message_id} has no stored body (cleared after its retention time): "
            "ask the sender to send it again"
        )


def send_acknowledgement(
    session: Session,
    clock: Clock,
    entry: InboundMessage,
    envelope: medcom.MessageEnvelope,
    ack: dict[str, Any],
) -> None:
    """Queue an Acknowledgement to the message's sender through the outbox (in the caller's transaction:
    it exists exactly when the processing it answers was committed)."""
    if not ack:
        return  # an Acknowledgement of ours is never acknowledged back
    ack_id = str(ack["entry"][0]["resource"]["id"])
    sender = envelope.sender
    enqueue_new(  # the key holds the Acknowledgement's fresh id: no lookup needed
        session,
        channel=OutboxChannel.FHIR_MESSAGE,
        idempotency_key=f"medcom-ack:{entry.message_id}:{ack_id}",
        message_id=ack_id,
        recipient=(sender.gln or sender.sor) if sender else entry.sender_sor,
        subject=f"Acknowledgement of {entry.message_id}"[:200],
        payload=ack,
        now=clock.now(),
    )


def dead_letter_acknowledgement(
    envelope: medcom.MessageEnvelope, clock: Clock, config: Mapping[str, Any], attempts: int
) -> dict[str, Any]:
    """The negative Acknowledgement of a message given up on: fatal-error, naming no internals (the error
    itself is for administrators); a replay that succeeds later sends an ok Acknowledgement after it."""
    issue = medcom.AckIssue(
        "error",
        "exception",
        f"carepath could not process the message after {attempts} attempts; it is kept for an "
        "administrator to replay",
    )
    return _ack(envelope, medcom.AckCode.FATAL_ERROR, clock, config, [issue])


def _audit_refusal(
    session: Session,
    actor: Actor,
    clock: Clock,
    *,
    message_id: str,
    error: ValidationFailed,
    patient_id: int | None,
) -> None:
    problem = error.errors[0]
    record(
        session,
        actor=actor,
        at=clock.now(),
        action=AuditAction.CREATE,
        resource_type="Message",
        resource_id=message_id,
        patient_id=patient_id,
        purpose="MedCom message refused",
        outcome=AuditOutcome.DENIED,
        details={"expression": problem.field, "problem": problem.message},
    )


def _reused_id(
    session: Session,
    actor: Actor,
    clock: Clock,
    *,
    config: Mapping[str, Any],
    envelope: medcom.MessageEnvelope,
    seen: InboundMessage,
) -> Receipt:
    """Another message under the id of one already processed: refused, and not remembered (the id is the
    first message's), so the first message's resends are still answered with its own acknowledgement."""
    problem = ValidationFailed.single(
        "Bundle.entry[0].resource.id",
        f"message id {envelope.message_id} was already used for a message with different content; "
        "a new message needs a new MessageHeader id",
        medcom.DUPLICATE,
    )
    if str(envelope.event) == medcom.MedComEvent.ACKNOWLEDGEMENT.value:
        raise problem  # an Acknowledgement is never acknowledged: the edge answers 400
    pathway = session.get(Pathway, seen.pathway_id) if seen.pathway_id is not None else None
    _audit_refusal(
        session,
        actor,
        clock,
        message_id=envelope.message_id,
        error=problem,
        patient_id=pathway.patient_id if pathway else None,
    )
    ack = _ack(
        envelope, medcom.AckCode.FATAL_ERROR, clock, config, medcom.issues_from_error(problem)
    )
    return Receipt(ack, medcom.AckCode.FATAL_ERROR)


def _fatal(
    session: Session,
    actor: Actor,
    clock: Clock,
    *,
    config: Mapping[str, Any],
    envelope: medcom.MessageEnvelope,
    entry: InboundMessage,
    exc: DomainError,
) -> Receipt:
    """The fatal-error answer to a message that could not be applied, remembered under its id. A refusal is
    audited as DENIED; any other domain error (e.g. a conflict) is reported on the Bundle."""
    if isinstance(exc, MessageRefused):
        _audit_refusal(
            session,
            actor,
            clock,
            message_id=envelope.message_id,
            error=exc.error,
            patient_id=exc.patient_id,
        )
        problem = exc.error
    elif isinstance(exc, ValidationFailed):
        problem = exc
    else:
        problem = ValidationFailed([FieldError("Bundle", exc.message, exc.code)])
    ack = _ack(
        envelope, medcom.AckCode.FATAL_ERROR, clock, config, medcom.issues_from_error(problem)
    )
    _remember(
        session,
        clock,
        entry,
        activity="",
        code=medcom.AckCode.FATAL_ERROR,
        ack=ack,
        pathway_id=None,
    )
    return Receipt(ack, medcom.AckCode.FATAL_ERROR)


def _acknowledgement(
    session: Session,
    clock: Clock,
    bundle: dict[str, Any],
    entry: InboundMessage,
) -> Receipt:
    """An Acknowledgement of one of our messages: recorded, never acknowledged back (MedCom)."""
    ack = medcom.parse_acknowledgement(bundle)
    ours = record_acknowledgement(session, clock, ack)
    _remember(
        session,
        clock,
        entry,
        activity=ack.code.value,
        code=medcom.AckCode.OK,
        ack={},
        pathway_id=None,
    )
    return Receipt(
        {}, medcom.AckCode.OK, unknown_message_id=None if ours else ack.acknowledged_message_id
    )


def transient_error(
    bundle: object, clock: Clock, config: Mapping[str, Any], diagnostics: str
) -> dict[str, Any] | None:
    """A transient-error Acknowledgement (send the message again later) for a message that could not be
    processed for a reason of ours, such as an unreachable database; None when no message id is found."""
    envelope = medcom.salvage_envelope(bundle)
    if envelope is None:
        return None
    issue = medcom.AckIssue("error", "transient", diagnostics)
    return _ack(envelope, medcom.AckCode.TRANSIENT_ERROR, clock, config, [issue])
