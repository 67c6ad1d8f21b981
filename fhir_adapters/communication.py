"""Communication from a MedCom CareCommunication carepath sent (CommunicationRecord), read-only.

Only messages of the messaging gateway about a patient become Communications (plans shared with a party,
the planned discharge date for the home municipality); reminder mails never do. No message text: the
CareCommunication's payload is clinical free text and stays in the message.

- ``identifier``: the MedCom message id (MessageHeader.id) as ``urn:uuid:...`` (system ``urn:ietf:rfc:3986``).
- ``status``: pending and sending -> ``in-progress``; sent (handed to the gateway) and delivered (a MedCom
  Acknowledgement said received, which is not read) -> ``completed``; a dead letter (the gateway never took
  it; an administrator may requeue it) -> ``stopped`` with ``statusReason``. Not ``entered-in-error``: the
  message was not a mistake, its delivery failed.
- ``category``: the MedCom CareCommunication category (``medcom-careCommunication-categoryCodes``) read from
  the message; ``topic.text`` the message's topic (the plan kind, "Forventet udskrivelsesdato").
- ``subject`` the Patient; ``encounter`` the stay; ``about`` the CarePlan when a plan was shared, the Task
  when a reminder was.
- ``recipient`` the receiving Organization with its GLN (the messaging address the message went to);
  ``sender`` the sending Organization with its SOR code (carepath's own identity when the sender had no
  messaging address).
- ``sent`` when the gateway took it; ``received`` when the Acknowledgement came (``delivered_at``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from fhir.resources.R4B.communication import Communication as FhirCommunication
from pathways.identifiers import (
    GLN_SYSTEM,
    MUNICIPALITY_SYSTEM,
    REGION_SYSTEM,
    SOR_SYSTEM,
    YDERNUMMER_SYSTEM,
)

from fhir_adapters.common import JSON, build, compact, fhir_datetime, meta, reference
from fhir_adapters.medcom_care_communication import CATEGORY_SYSTEM
from fhir_adapters.medcom_common import GLN_INPUT_SYSTEMS
from fhir_adapters.organization import organization_to_fhir
from fhir_adapters.records import OrganisationRecord

URI_SYSTEM = "urn:ietf:rfc:3986"
DEAD_LETTER_REASON = (
    "delivery to the messaging gateway failed after the last attempt; "
    "an administrator can requeue it"
)
# The DK-core identifier an Organization reference carries, in order of preference.
_PREFERRED_SYSTEMS = (SOR_SYSTEM, MUNICIPALITY_SYSTEM, YDERNUMMER_SYSTEM, GLN_SYSTEM, REGION_SYSTEM)


class MessageState(StrEnum):
    """The outbox states of a message (coordinator.outbox.models.OutboxStatus, by value)."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    DEAD = "dead"


COMMUNICATION_STATUS: dict[MessageState, str] = {
    MessageState.PENDING: "in-progress",
    MessageState.SENDING: "in-progress",
    MessageState.SENT: "completed",
    MessageState.DELIVERED: "completed",
    MessageState.DEAD: "stopped",
}


def states_for(code: str) -> frozenset[MessageState]:
    """The outbox states a Communication.status code stands for (none for codes we never emit)."""
    return frozenset(state for state, status in COMMUNICATION_STATUS.items() if status == code)


# ------------------------------------------------------------------ references to organisations
def organisation_reference(record: OrganisationRecord, *, system: str | None = None) -> JSON:
    """``Organization/{id}`` with one DK-core identifier of the organisation (that of ``system`` when it has
    one, else SOR, kommunekode, ydernummer, GLN, region in that order) and its name."""
    assert record.id is not None
    identifiers: list[JSON] = (
        organization_to_fhir(record)
        .model_dump(mode="json", exclude_none=True)
        .get("identifier", [])
    )
    by_system = {i["system"]: i for i in identifiers}
    order = (system, *_PREFERRED_SYSTEMS) if system else _PREFERRED_SYSTEMS
    chosen = next((by_system[s] for s in order if s in by_system), None)
    return compact(
        {
            **reference("Organization", record.id),
            "identifier": (
                {"system": chosen["system"], "value": chosen["value"]} if chosen else None
            ),
            "display": record.organisation.name,
        }
    )


def identifier_reference(system: str, value: str, display: str = "") -> JSON:
    """An Organization named by a DK-core identifier only (a party carepath does not know as a row)."""
    return compact(
        {
            "type": "Organization",
            "identifier": {"system": system, "value": value},
            "display": display,
        }
    )


# ------------------------------------------------------------------ what the sent message says
@dataclass(frozen=True, slots=True)
class SentMessage:
    """What a Communication may repeat from a CareCommunication Bundle we built: never its text."""

    category: str | None
    sender_sor: str | None
    sender_gln: str | None
    sender_name: str


def _dicts(value: object) -> Iterator[Mapping[str, Any]]:
    if isinstance(value, list):
        yield from (item for item in value if isinstance(item, Mapping))


def _entries(bundle: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [
        e["resource"] for e in _dicts(bundle.get("entry")) if isinstance(e.get("resource"), Mapping)
    ]


def _ref_id(element: object) -> str | None:
    """The id a Bundle-internal reference names: ``urn:uuid:{id}`` or ``[base/]Type/{id}``."""
    text = element.get("reference") if isinstance(element, Mapping) else None
    if not isinstance(text, str) or not text:
        return None
    return text.removeprefix("urn:uuid:").rstrip("/").rsplit("/", 1)[-1]


def read_sent_message(bundle: Mapping[str, Any]) -> SentMessage:
    """The category and the sender's identifiers of a CareCommunication message Bundle (tolerant: what
    is missing is None; the Bundle was built and checked by ``build_care_communication``)."""
    resources = _entries(bundle)
    category = None
    sender_id = None
    for resource in resources:
        if resource.get("resourceType") == "Communication":
            codes = [
                coding.get("code")
                for concept in _dicts(resource.get("category"))
                for coding in _dicts(concept.get("coding"))
                if coding.get("system") == CATEGORY_SYSTEM
            ]
            category = category or next(iter(codes), None)
        if resource.get("resourceType") == "MessageHeader":
            sender_id = _ref_id(resource.get("sender"))
    sor = gln = None
    name = ""
    for resource in resources:
        if resource.get("resourceType") == "Organization" and resource.get("id") == sender_id:
            name = str(resource.get("name") or "")
            for ident in _dicts(resource.get("identifier")):
                if ident.get("system") == SOR_SYSTEM:
                    sor = ident.get("value")
                elif ident.get("system") in GLN_INPUT_SYSTEMS:
                    gln = ident.get("value")
    return SentMessage(
        category=category if isinstance(category, str) else None,
        sender_sor=sor if isinstance(sor, str) else None,
        sender_gln=gln if isinstance(gln, str) else None,
        sender_name=name,
    )


# ------------------------------------------------------------------ the Communication
@dataclass(frozen=True, slots=True, kw_only=True)
class CommunicationRecord:
    """Communication/{id}: one MedCom message in the outbox (the id is the outbox row's)."""

    id: int
    message_id: str
    state: MessageState
    patient_id: int
    created_at: datetime
    recipient_gln: str
    recipient: OrganisationRecord | None = None  # the receiving organisation's row, when known
    sender: OrganisationRecord | None = None  # the sending organisation's row, when known
    message: SentMessage | None = None
    topic: str = ""
    plan_id: int | None = None  # a shared plan
    reminder_id: int | None = None  # a shared reminder (Task/<id>)
    pathway_id: int | None = None
    sent_at: datetime | None = None
    delivered_at: datetime | None = None


def _recipient(record: CommunicationRecord) -> JSON:
    if record.recipient is not None:
        return organisation_reference(record.recipient, system=GLN_SYSTEM)
    return identifier_reference(GLN_SYSTEM, record.recipient_gln)


def _sender(record: CommunicationRecord) -> JSON | None:
    if record.sender is not None:
        return organisation_reference(record.sender)
    sent = record.message
    if sent is None:
        return None
    if sent.sender_sor:
        return identifier_reference(SOR_SYSTEM, sent.sender_sor, sent.sender_name)
    if sent.sender_gln:
        return identifier_reference(GLN_SYSTEM, sent.sender_gln, sent.sender_name)
    return None


def communication_to_fhir(record: CommunicationRecord) -> FhirCommunication:
    category = record.message.category if record.message is not None else None
    updated = record.delivered_at or record.sent_at or record.created_at
    body = compact(
        {
            "resourceType": "Communication",
            "id": str(record.id),
            "meta": meta(None, updated),
            "identifier": [{"system": URI_SYSTEM, "value": f"urn:uuid:{record.message_id}"}],
            "status": COMMUNICATION_STATUS[record.state],
            "statusReason": (
                {"text": DEAD_LETTER_REASON} if record.state is MessageState.DEAD else None
            ),
            "category": (
                [{"coding": [{"system": CATEGORY_SYSTEM, "code": category}]}] if category else []
            ),
            "subject": reference("Patient", record.patient_id),
            "topic": {"text": record.topic} if record.topic else None,
            "about": [
                *([reference("CarePlan", record.plan_id)] if record.plan_id is not None else []),
                *(
                    [reference("Task", record.reminder_id)]
                    if record.reminder_id is not None
                    else []
                ),
            ],
            "encounter": (
                reference("Encounter", record.pathway_id) if record.pathway_id is not None else None
            ),
            "sent": fhir_datetime(record.sent_at) if record.sent_at else None,
            "received": fhir_datetime(record.delivered_at) if record.delivered_at else None,
            "recipient": [_recipient(record)],
            "sender": _sender(record),
        }
    )
    return build(FhirCommunication, body)
