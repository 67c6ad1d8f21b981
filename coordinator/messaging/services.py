"""MedCom messaging in: HospitalNotification (sygehusadvis) moves the patient's pathway.

admit-* opens a pathway (a readmission when the patient's last stay was discharged), start/end-leave record
leave, discharge-* discharges (and the commit trigger runs the gap checks), revise-* corrects the time of the
earlier event and cancel-* annuls it. A message is processed once, by its MessageHeader id: a resent message
gets the first answer again and changes nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from coordinator.audit.services import record
from coordinator.care_pathways.corrections import Correction, correct_pathway_event
from coordinator.care_pathways.models import Pathway
from coordinator.care_pathways.services import admit_patient, record_pathway_event
from coordinator.messaging.models import InboundMessage
from coordinator.organisations.lineage import acts_for
from coordinator.organisations.models import Organisation
from coordinator.patients.models import Patient
from coordinator.patients.services import register_patient
from coordinator.reminders.triggers import defer_evaluation
from fhir_adapters import medcom
from pathways.audit import AuditAction
from pathways.clock import Clock
from pathways.errors import DomainError, FieldError, PermissionDenied, ValidationFailed
from pathways.organisations import OrganisationKind
from pathways.people import Actor
from pathways.permissions import Permission, require
from pathways.stays import EventSource, PathwayEventType, PathwayStatus

A = medcom.HospitalNotificationActivity


@dataclass(frozen=True, slots=True)
class Receipt:
    """What to answer: the Acknowledgement message and whether it is a replay of an earlier answer."""

    acknowledgement: dict[str, Any]
    code: medcom.AckCode
    replayed: bool = False
    pathway_id: int | None = None
    # An Acknowledgement of a message we never sent: recorded (a resend changes nothing), answered 404.
    unknown_message_id: str | None = None


def our_party(config: Mapping[str, Any]) -> medcom.MedComOrganization:
    return medcom.MedComOrganization(
        sor=str(config.get("MESSAGING_SOR", "")),
        gln=str(config.get("MESSAGING_GLN", "")),
        name=str(config.get("MESSAGING_NAME", "carepath")),
    )


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
        "Encounter.serviceProvider",
        f"no ward with SOR {notice.ward_sor or notice.sender.sor} is registered in carepath",
        "unknown",
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
    return register_patient(
        session,
        actor,
        clock,
        given_name=given or "-",
        family_name=family or "-",
        kommunekode=notice.kommunekode,
        cpr=notice.cpr,
        replacement_cpr=notice.replacement_cpr,
        is_protected=notice.patient_confidential,
        purpose="MedCom HospitalNotification",
    )


def _pathway_of(session: Session, notice: medcom.HospitalNotice) -> Pathway | None:
    """The pathway of the first of the notice's episode identifiers that names one (one query for all)."""
    episodes = [(e.system, e.value) for e in notice.episode_identifiers]
    if not episodes:
        return None
    found = {
        (p.episode_system, p.episode_value): p
        for p in session.scalars(
            sa.select(Pathway).where(
                sa.or_(
                    *(
                        sa.and_(Pathway.episode_system == system, Pathway.episode_value == value)
                        for system, value in episodes
                    )
                )
            )
        )
    }
    return next((found[e] for e in episodes if e in found), None)


def _key(message_id: str) -> str:
    return f"medcom:{message_id}"


def _apply(
    session: Session, actor: Actor, clock: Clock, notice: medcom.HospitalNotice
) -> Pathway | None:
    activity = notice.activity
    if activity.is_revise or activity.is_cancel:
        if notice.corrects_message_id is None:
            raise ValidationFailed.single(
                "Provenance.entity.what", "a revision or cancellation must name the earlier message"
            )
        event = correct_pathway_event(
            session,
            actor,
            clock,
            corrects_key=_key(notice.corrects_message_id),
            correction=Correction.REVISE if activity.is_revise else Correction.CANCEL,
            idempotency_key=_key(notice.message_id),
            occurred_at=notice.occurred_at if activity.is_revise else None,
            source=EventSource.MEDCOM,
        )
        return event.pathway
    ward = _ward(session, notice)
    if not acts_for(session, actor, ward.id):
        raise PermissionDenied(f"{actor.name} does not send notifications for {ward.name}")
    pathway = _pathway_of(session, notice)
    event = notice.pathway_event
    if event is PathwayEventType.ADMITTED:
        if pathway is not None:
            return pathway  # the stay is known (e.g. a user registered it first): nothing to do
        patient = _patient(session, actor, clock, notice)
        earlier = session.scalar(
            sa.select(Pathway)
            .where(Pathway.patient_id == patient.id, Pathway.status == PathwayStatus.DISCHARGED)
            .order_by(Pathway.discharged_at.desc())
            .limit(1)
        )
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
            episode_system=episode.system if episode else None,
            episode_value=episode.value if episode else None,
            readmission_of_id=earlier.id if earlier else None,
        )
    if pathway is None:
        raise ValidationFailed.single(
            "Encounter.episodeOfCare.identifier",
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
    *,
    message_id: str,
    event: str,
    activity: str,
    sender_sor: str,
    code: medcom.AckCode,
    ack: dict[str, Any],
    pathway_id: int | None,
) -> None:
    session.add(
        InboundMessage(
            message_id=message_id,
            event=event,
            activity=activity,
            sender_sor=sender_sor,
            outcome=code.value,
            pathway_id=pathway_id,
            acknowledgement=ack,
            received_at=clock.now(),
        )
    )
    session.flush()


def process_message(
    session: Session, actor: Actor, clock: Clock, bundle: object, config: Mapping[str, Any]
) -> Receipt:
    """Process one MedCom message Bundle (only HospitalNotification is accepted today).

    Returns the Acknowledgement: ``ok``, or ``fatal-error`` with the problems as OperationOutcome issues
    (the message is wrong and must not be resent as is). A domain conflict (e.g. cancelling an event that
    has later events) is a fatal error too. Raises ``ValidationFailed`` when not even a message id can be
    read (the edge answers 400). The caller commits; on a fatal error it must commit as well so the answer
    is remembered, which is why this function never leaves half of a message's changes behind: the work
    runs in a savepoint.

    The gaps of the pathway a message moves are queued for the scheduler's ``evaluate_queued`` job (within
    seconds, in batches), not evaluated in the message's transaction: the gateway waits for the answer, and
    a hospital's messages come in bursts.
    """
    require(actor, Permission.RECORD_PATHWAY_EVENT)
    defer_evaluation(session)
    envelope = medcom.salvage_envelope(bundle)
    if envelope is None:
        raise ValidationFailed(
            [FieldError("Bundle", "not a MedCom message: no MessageHeader id", "structure")]
        )
    seen = session.scalar(
        sa.select(InboundMessage).where(InboundMessage.message_id == envelope.message_id)
    )
    if seen is not None:
        return Receipt(seen.acknowledgement, medcom.AckCode(seen.outcome), True, seen.pathway_id)
    if str(envelope.event) == medcom.MedComEvent.ACKNOWLEDGEMENT.value:
        return _acknowledgement(session, clock, bundle, envelope)
    try:
        with session.begin_nested():
            notice = medcom.parse_hospital_notification(bundle)  # type: ignore[arg-type]
            pathway = _apply(session, actor, clock, notice)
    except medcom.MessageStructureInvalid as exc:
        return _fatal(session, clock, config, envelope, exc)
    except ValidationFailed as exc:
        return _fatal(session, clock, config, envelope, exc)
    except DomainError as exc:
        problem = ValidationFailed([FieldError("Bundle", exc.message, exc.code)])
        return _fatal(session, clock, config, envelope, problem)
    ack = _ack(notice, medcom.AckCode.OK, clock, config)
    _remember(
        session,
        clock,
        message_id=notice.message_id,
        event=str(envelope.event),
        activity=notice.activity.value,
        sender_sor=notice.sender.sor,
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
    return Receipt(ack, medcom.AckCode.OK, False, pathway.id if pathway else None)


def _fatal(
    session: Session,
    clock: Clock,
    config: Mapping[str, Any],
    envelope: medcom.MessageEnvelope,
    exc: ValidationFailed,
) -> Receipt:
    ack = _ack(envelope, medcom.AckCode.FATAL_ERROR, clock, config, medcom.issues_from_error(exc))
    _remember(
        session,
        clock,
        message_id=envelope.message_id,
        event=str(envelope.event),
        activity="",
        sender_sor=envelope.sender.sor if envelope.sender else "",
        code=medcom.AckCode.FATAL_ERROR,
        ack=ack,
        pathway_id=None,
    )
    return Receipt(ack, medcom.AckCode.FATAL_ERROR)


def _acknowledgement(
    session: Session, clock: Clock, bundle: object, envelope: medcom.MessageEnvelope
) -> Receipt:
    """An Acknowledgement of one of our messages: recorded, never acknowledged back (MedCom)."""
    from coordinator.messaging.outbound import record_acknowledgement  # noqa: PLC0415 - cycle

    ack = medcom.parse_acknowledgement(bundle)  # type: ignore[arg-type]
    ours = record_acknowledgement(session, clock, ack)
    _remember(
        session,
        clock,
        message_id=envelope.message_id,
        event=str(envelope.event),
        activity=ack.code.value,
        sender_sor=envelope.sender.sor if envelope.sender else "",
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
