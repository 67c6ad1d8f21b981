"""Who may send what over MedCom: a message comes from an organisation registered in carepath (its SOR code)
that the caller acts for, and it may only create or change a stay of that organisation's own (the stay's ward
is the sender or a unit below it, and the caller acts for that ward). The episode of care, the patient (CPR)
and, for revise-* and cancel-*, the earlier message (same sender, same stay, same base activity) must agree;
anything else is a ``MessageRefused`` (coordinator.messaging.services answers it with a fatal-error
Acknowledgement, audited DENIED)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from coordinator.care_pathways.models import Pathway
from coordinator.messaging.models import InboundMessage
from coordinator.organisations.lineage import acts_for, ancestors_and_self
from coordinator.organisations.models import Organisation
from fhir_adapters import medcom
from pathways.errors import DomainError, ValidationFailed
from pathways.people import Actor

A = medcom.HospitalNotificationActivity


class MessageRefused(DomainError):
    """The sender may not send this message, or it contradicts what carepath knows: answered with a
    fatal-error Acknowledgement, nothing changed, and audited as DENIED."""

    code = "message-refused"

    def __init__(
        self,
        field: str,
        message: str,
        code: str = medcom.FORBIDDEN,
        *,
        patient_id: int | None = None,
    ) -> None:
        super().__init__(message)
        self.error = ValidationFailed.single(field, message, code)
        self.patient_id = patient_id  # whose stay the message would have touched, when known


def sender_of(session: Session, actor: Actor, notice: medcom.HospitalNotice) -> Organisation:
    """The registered organisation the message comes from, which the caller must act for."""
    sor = notice.sender.sor
    org = session.scalar(sa.select(Organisation).where(Organisation.sor_code == sor))
    where = notice.expressions.sender
    if org is None:
        raise MessageRefused(where, f"the sender (SOR {sor}) is not registered in carepath")
    if not acts_for(session, actor, org.id):
        raise MessageRefused(
            where, f"{actor.name} does not send messages for {org.name} (SOR {sor})"
        )
    return org


def require_own_stay(
    session: Session,
    actor: Actor,
    sender: Organisation,
    ward_id: int,
    *,
    where: str,
    patient_id: int | None = None,
) -> None:
    """The stay's ward is the sender or a unit below it, and the caller acts for that ward."""
    if sender.id in ancestors_and_self(session, ward_id) and acts_for(session, actor, ward_id):
        return
    raise MessageRefused(
        where,
        f"the stay belongs to a ward that {sender.name} (SOR {sender.sor_code}) does not send for",
        patient_id=patient_id,
    )


def require_senders_stay(
    session: Session,
    actor: Actor,
    sender: Organisation,
    pathway: Pathway,
    notice: medcom.HospitalNotice,
) -> None:
    """A known stay the message names: the sender's, and the patient's the message is about."""
    require_own_stay(
        session,
        actor,
        sender,
        pathway.ward_id,
        where=notice.expressions.episode,
        patient_id=pathway.patient_id,
    )
    _require_same_patient(pathway, notice)


def _require_same_patient(pathway: Pathway, notice: medcom.HospitalNotice) -> None:
    patient = pathway.patient
    if notice.cpr is not None:
        same = patient.cpr == notice.cpr
    else:
        same = patient.cpr is None and patient.replacement_cpr == notice.replacement_cpr
    if not same:
        raise MessageRefused(
            notice.expressions.patient,
            f"the episode of care {notice.episode_of_care.value} belongs to another patient than "
            "the one in this message",
            medcom.INCONSISTENT,
            patient_id=pathway.patient_id,
        )


def corrected_stay(
    session: Session, actor: Actor, notice: medcom.HospitalNotice, sender: Organisation
) -> Pathway:
    """The stay of the earlier message a revise-/cancel- notice corrects, once everything agrees."""
    verb = "revise" if notice.activity.is_revise else "cancel"
    where = notice.expressions.corrects
    earlier_id = notice.corrects_message_id
    if earlier_id is None:
        raise ValidationFailed.single(
            where, f"a {notice.activity} message must name the earlier one"
        )
    earlier = session.scalar(
        sa.select(InboundMessage).where(InboundMessage.message_id == earlier_id)
    )
    if (
        earlier is None
        or earlier.outcome != medcom.AckCode.OK.value
        or earlier.event != medcom.MedComEvent.HOSPITAL_NOTIFICATION.value
        or earlier.pathway_id is None
    ):
        raise MessageRefused(
            where,
            f"message {earlier_id} is not a HospitalNotification carepath accepted: "
            f"there is nothing to {verb}",
            medcom.INCONSISTENT,
        )
    pathway = session.get_one(Pathway, earlier.pathway_id)
    if earlier.sender_sor != notice.sender.sor:
        raise MessageRefused(
            where,
            f"message {earlier_id} has another sender: only its sender may {verb} it",
            patient_id=pathway.patient_id,
        )
    if base_activity(earlier.activity) is not notice.activity.base:
        raise MessageRefused(
            notice.expressions.activity,
            f"{notice.activity} cannot {verb} message {earlier_id}, which is {earlier.activity}",
            medcom.INCONSISTENT,
            patient_id=pathway.patient_id,
        )
    if pathway_of(session, notice) is not pathway:
        raise MessageRefused(
            notice.expressions.episode,
            f"the episode of care {notice.episode_of_care.value} is not the stay of message "
            f"{earlier_id}",
            medcom.INCONSISTENT,
            patient_id=pathway.patient_id,
        )
    require_senders_stay(session, actor, sender, pathway, notice)
    return pathway


def base_activity(code: str) -> medcom.HospitalNotificationActivity | None:
    try:
        return A(code).base
    except ValueError:
        return None


def pathway_of(session: Session, notice: medcom.HospitalNotice) -> Pathway | None:
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
