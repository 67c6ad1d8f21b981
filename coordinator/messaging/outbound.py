"""MedCom CareCommunication out: share a plan or a reminder with a receiving organisation, through the outbox.

The message is queued in the transaction that decides to send it; the sender delivers it to the messaging
gateway after commit. A MedCom Acknowledgement (``ok``) later marks it delivered, which the reminder rules
read as the first step of the GP ladder (delivered -> read -> accepted); it never means read or accepted.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from coordinator.access.services import require_patient_access, require_share_recipient
from coordinator.accounts.models import User
from coordinator.audit.services import record
from coordinator.care_pathways.models import Pathway, PathwayFact
from coordinator.organisations.models import Organisation
from coordinator.outbox.models import OutboxChannel, OutboxMessage
from coordinator.outbox.services import enqueue, record_delivery
from coordinator.patients.models import Patient
from coordinator.plans.parties import municipality_of
from coordinator.plans.queries import get_plan
from coordinator.reminders.delivery import reference
from coordinator.reminders.models import Reminder
from coordinator.reminders.services import get_reminder
from fhir_adapters import medcom
from pathways.audit import AuditAction
from pathways.clock import Clock, to_copenhagen
from pathways.errors import ErrorCollector, NotFound, ValidationFailed
from pathways.labels import label, reminder_message
from pathways.legal import all_legal_bases
from pathways.people import Actor
from pathways.permissions import Permission
from pathways.plans import PlanKind, SectionKey
from pathways.reminders import GapRule, rule_title
from pathways.stays import EventSource, PathwayFactType


def _render(value: object) -> str:
    if isinstance(value, list):
        return "; ".join(_render(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_render(v)}" for k, v in value.items())
    return str(value)


def plan_text(kind: PlanKind, version: int, sections: Mapping[str, Mapping[str, Any]]) -> str:
    lines = [f"{label('plan_kind', kind)}, version {version}.", ""]
    for key in SectionKey:
        content = sections.get(key.value) or {}
        filled = {k: v for k, v in content.items() if v not in (None, "", [], {})}
        if not filled:
            continue
        lines.append(f"{label('plan_section', key)}:")
        lines += [f"  {field}: {_render(value)}" for field, value in filled.items()]
    return "\n".join(lines).strip()


def _medcom_patient(patient: Patient) -> medcom.CareCommunicationPatient:
    return medcom.CareCommunicationPatient(
        family_name=patient.family_name,
        given_name=patient.given_name,
        cpr=patient.cpr,
        replacement_cpr=None if patient.cpr else patient.replacement_cpr,
    )


def our_party(config: Mapping[str, Any]) -> medcom.MedComOrganization:
    """carepath's own MedCom identity (SOR code, GLN), the sender of what it sends and acknowledges."""
    return medcom.MedComOrganization(
        sor=str(config.get("MESSAGING_SOR", "")),
        gln=str(config.get("MESSAGING_GLN", "")),
        name=str(config.get("MESSAGING_NAME", "carepath")),
    )


def _sender(org: Organisation | None, config: Mapping[str, Any]) -> medcom.MedComOrganization:
    """The sending organisation when it has a messaging address (SOR and GLN), else carepath itself."""
    if org is not None and org.sor_code and org.gln:
        return medcom.MedComOrganization(sor=org.sor_code, gln=org.gln, name=org.name)
    return our_party(config)


def _party(org: Organisation, where: str) -> medcom.MedComOrganization:
    if not org.sor_code or not org.gln:
        raise ValidationFailed.single(
            where, f"{org.name} has no messaging address (SOR code and GLN) in carepath", "unknown"
        )
    return medcom.MedComOrganization(sor=org.sor_code, gln=org.gln, name=org.name)


def _send(
    session: Session,
    actor: Actor,
    clock: Clock,
    *,
    patient: Patient,
    sender_org: Organisation | None,
    receiver: medcom.MedComOrganization,
    category: medcom.CareCommunicationCategory,
    text: str,
    topic: str,
    config: Mapping[str, Any],
    idempotency_key: str | None = None,
    reminder_id: int | None = None,
) -> OutboxMessage:
    """Queue one CareCommunication from ``sender_org`` (or carepath, without a messaging address) to
    ``receiver``; once per ``idempotency_key`` when one is given, else once per message."""
    message_id = str(uuid.uuid4())
    now = clock.now()
    bundle = medcom.build_care_communication(
        message_id=message_id,
        now=now,
        sender=_sender(sender_org, config),
        receiver=receiver,
        patient=_medcom_patient(patient),
        author=_author(session, actor, config),
        category=category,
        text=text,
        topic=topic,
    )
    return enqueue(
        session,
        channel=OutboxChannel.FHIR_MESSAGE,
        idempotency_key=idempotency_key or f"carecommunication:{message_id}",
        message_id=message_id,
        recipient=receiver.gln,
        subject=topic,
        payload=bundle,
        now=now,
        patient_id=patient.id,
        reminder_id=reminder_id,
    )


def _share(
    session: Session,
    actor: Actor,
    clock: Clock,
    *,
    patient: Patient,
    receiver_org: Organisation,
    category: str,
    text: str,
    topic: str,
    config: Mapping[str, Any],
    reminder_id: int | None = None,
) -> OutboxMessage:
    """Share something with ``receiver_org`` (the request's ``organisation_id``) from the actor's own
    organisation, in the category the request names."""
    errors = ErrorCollector()
    chosen = errors.choice("category", medcom.CareCommunicationCategory, category)
    errors.raise_if_any()
    receiver = _party(receiver_org, "organisation_id")
    own = session.get(Organisation, actor.organisation_id) if actor.organisation_id else None
    return _send(
        session,
        actor,
        clock,
        patient=patient,
        sender_org=own,
        receiver=receiver,
        category=chosen or medcom.CareCommunicationCategory.CARE_COORDINATION,
        text=text,
        topic=topic,
        config=config,
        reminder_id=reminder_id,
    )


def _organisation(session: Session, organisation_id: int) -> Organisation:
    found = session.get(Organisation, organisation_id)
    if found is None:
        raise NotFound("organisation", organisation_id)
    return found


def share_plan(
    session: Session,
    actor: Actor,
    clock: Clock,
    *,
    plan_id: int,
    organisation_id: int,
    category: str = "carecoordination",
    config: Mapping[str, Any],
) -> OutboxMessage:
    """Send the plan's current version to an organisation as a MedCom CareCommunication (§13c: only to an
    organisation with a part in the patient's care, the same rule as for a reminder; a refusal is
    audited). Records the fact "plan shared" with that organisation."""
    plan = get_plan(
        session, actor, clock, plan_id=plan_id, purpose="share plan (CareCommunication)"
    )
    receiver_org = _organisation(session, organisation_id)
    require_share_recipient(
        session,
        actor,
        clock,
        patient=plan.patient,
        organisation_id=receiver_org.id,
        organisation_name=receiver_org.name,
        resource_type="Plan",
        resource_id=plan.id,
    )
    message = _share(
        session,
        actor,
        clock,
        patient=plan.patient,
        receiver_org=receiver_org,
        category=category,
        text=plan_text(plan.kind, plan.current_version_number, plan.current_version.sections),
        topic=label("plan_kind", plan.kind),
        config=config,
    )
    if plan.pathway_id is not None:
        now = clock.now()
        session.add(
            PathwayFact(
                pathway_id=plan.pathway_id,
                type=PathwayFactType.PLAN_SHARED,
                occurred_at=now,
                recorded_at=now,
                source=EventSource.MEDCOM,
                idempotency_key=f"shared:{message.message_id}",
                plan_id=plan.id,
                organisation_id=receiver_org.id,
                recorded_by_id=actor.user_id,
                payload={"message_id": message.message_id},
            )
        )
        session.flush()
    return message


def reminder_text(reminder: Reminder) -> str:
    """The CareCommunication text of a shared reminder, in Danish: the gap, its due time and its legal
    basis; no clinical content (the message's Patient says whom it is about)."""
    rule = GapRule(reminder.rule)
    due = to_copenhagen(reminder.due_at).strftime("%d.%m.%Y kl. %H:%M")
    lines = [
        f"Påmindelse {reference(reminder)} fra carepath: {rule_title(rule)}.",
        f"{reminder_message(reminder.rule, reminder.params)}.",
        f"Frist: {due} ({label('severity', reminder.severity)}).",
    ]
    basis = all_legal_bases().get(reminder.legal_basis)
    if basis is not None:
        lines.append(f"Grundlag: {basis.reference}. {basis.text_da}")
    lines.append("Kontakt afsenderen, hvis I kan lukke hullet, eller hvis det ikke er jer.")
    return "\n".join(lines)


def share_reminder(
    session: Session,
    actor: Actor,
    clock: Clock,
    *,
    reminder_id: int,
    organisation_id: int,
    category: str = "carecoordination",
    config: Mapping[str, Any],
) -> OutboxMessage:
    """Tell an organisation in the patient's care about a gap, as a MedCom CareCommunication (the
    municipality about a readmission, the GP about a missing follow-up). Only a reminder in the caller's
    inbox, only to an organisation with a part in the patient's care (§13c: to those who need it, for
    closing the gap); the disclosure is audited."""
    reminder = get_reminder(session, actor, clock, reminder_id)
    require_patient_access(session, actor, clock, reminder.patient_id, Permission.READ_PLAN)
    receiver_org = _organisation(session, organisation_id)
    patient = session.get(Patient, reminder.patient_id)
    assert patient is not None  # a reminder's patient exists (foreign key)
    require_share_recipient(
        session,
        actor,
        clock,
        patient=patient,
        organisation_id=receiver_org.id,
        organisation_name=receiver_org.name,
        resource_type="Reminder",
        resource_id=reminder.id,
    )
    message = _share(
        session,
        actor,
        clock,
        patient=patient,
        receiver_org=receiver_org,
        category=category,
        text=reminder_text(reminder),
        topic=rule_title(GapRule(reminder.rule)),
        config=config,
        reminder_id=reminder.id,
    )
    record(
        session,
        actor=actor,
        at=clock.now(),
        action=AuditAction.EXPORT,
        resource_type="Reminder",
        resource_id=reminder.id,
        patient_id=patient.id,
        purpose="share reminder (CareCommunication)",
        details={"organisation_id": receiver_org.id, "message_id": message.message_id},
    )
    return message


def notify_municipality_of_discharge(
    session: Session,
    actor: Actor,
    clock: Clock,
    *,
    pathway_id: int,
    config: Mapping[str, Any],
) -> OutboxMessage:
    """Tell the patient's home municipality the planned discharge date (regional collaboration
    agreements: as soon as it is known), as a MedCom CareCommunication of category ``discharge``.
    Records the fact "municipality notified", which closes that reminder."""
    pathway = session.get(Pathway, pathway_id)
    if pathway is None:
        raise NotFound("pathway", pathway_id)
    require_patient_access(
        session, actor, clock, pathway.patient_id, Permission.RECORD_PATHWAY_EVENT
    )
    if pathway.planned_discharge_on is None:
        raise ValidationFailed.single(
            "planned_discharge_on", "record the planned discharge date first", "required"
        )
    patient = pathway.patient
    municipality = municipality_of(session, patient)
    receiver = _party(municipality, "municipality")
    ward = pathway.ward
    day = pathway.planned_discharge_on.strftime("%d.%m.%Y")
    message = _send(
        session,
        actor,
        clock,
        patient=patient,
        sender_org=ward,
        receiver=receiver,
        category=medcom.CareCommunicationCategory.DISCHARGE,
        text=(
            f"Forventet udskrivelse fra {ward.name}: {day}.\n"
            "Kontakt afsnittet om udskrivningsaftale/koordinationsplan, netværksmøde og opfølgning."
        ),
        topic="Forventet udskrivelsesdato",
        config=config,
        idempotency_key=f"discharge-notice:{pathway.id}:{pathway.planned_discharge_on.isoformat()}",
    )
    now = clock.now()
    key = f"municipality-notified:{message.message_id}"
    if session.scalar(sa.select(PathwayFact.id).where(PathwayFact.idempotency_key == key)) is None:
        session.add(
            PathwayFact(
                pathway_id=pathway.id,
                type=PathwayFactType.MUNICIPALITY_NOTIFIED,
                occurred_at=now,
                recorded_at=now,
                source=EventSource.MEDCOM,
                idempotency_key=key,
                organisation_id=municipality.id,
                recorded_by_id=actor.user_id,
                payload={
                    "message_id": message.message_id,
                    "date": pathway.planned_discharge_on.isoformat(),
                },
            )
        )
        session.flush()
    return message


def _author(
    session: Session, actor: Actor, config: Mapping[str, Any]
) -> medcom.CareCommunicationAuthor:
    user = session.get(User, actor.user_id) if actor.user_id else None
    given, _, family = (user.name if user else actor.name).rpartition(" ")
    return medcom.CareCommunicationAuthor(
        given_name=given or actor.name,
        family_name=family or "-",
        phone=(
            user.phone if user and user.phone else str(config.get("MESSAGING_PHONE", "70000000"))
        ),
        role_text=user.title if user and user.title else (actor.role.value if actor.role else None),
    )


def record_acknowledgement(session: Session, clock: Clock, ack: medcom.AckNotice) -> bool:
    """An Acknowledgement for one of our messages: ``ok`` marks it delivered (and, for a shared plan,
    records "plan delivered" for the pathway). Unknown ids are ignored (True: it was one of ours)."""
    if not ack.delivered:
        return (
            session.scalar(
                sa.select(OutboxMessage.id).where(
                    OutboxMessage.message_id == ack.acknowledged_message_id
                )
            )
            is not None
        )
    message = record_delivery(session, message_id=ack.acknowledged_message_id, at=clock.now())
    if message is None:
        return False
    shared = session.scalar(
        sa.select(PathwayFact).where(PathwayFact.idempotency_key == f"shared:{message.message_id}")
    )
    if shared is not None:
        key = f"delivered:{message.message_id}"
        exists = session.scalar(sa.select(PathwayFact.id).where(PathwayFact.idempotency_key == key))
        if exists is None:
            session.add(
                PathwayFact(
                    pathway_id=shared.pathway_id,
                    type=PathwayFactType.PLAN_DELIVERED,
                    occurred_at=ack.sent_at or clock.now(),
                    recorded_at=clock.now(),
                    source=EventSource.MEDCOM,
                    idempotency_key=key,
                    plan_id=shared.plan_id,
                    organisation_id=shared.organisation_id,
                    payload={"acknowledgement": ack.message_id},
                )
            )
            session.flush()
    return True
