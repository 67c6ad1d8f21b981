"""MedCom Acknowledgement messages (http://medcomfhir.dk/ig/acknowledgement, 2.0.x): build and read.

An acknowledgement only says "technically received" (ok) or not (transient-error: try again later;
fatal-error: the message will never be accepted as sent). It is not "read" and not "accepted".
MessageHeader.response.identifier is the MessageHeader.id of the acknowledged message; for an error,
response.details references an OperationOutcome (MedComAcknowledgementOperationOutcome) in the Bundle.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from pathways.errors import ValidationFailed

from fhir_adapters.medcom_common import (
    DUPLICATE,
    FORBIDDEN,
    INCONSISTENT,
    MESSAGE_EVENTS_SYSTEM,
    MESSAGING_PROVENANCE_PROFILE,
    REQUIRED,
    STRUCTURE,
    UNSUPPORTED_MESSAGE,
    VALUE_UNKNOWN,
    Links,
    MedComEvent,
    MedComOrganization,
    Problems,
    ReceivedMessage,
    as_dict,
    as_text,
    codings,
    derived_id,
    destination,
    dicts,
    lenient_organization,
    message_bundle,
    must,
    narrative,
    open_message,
    organization_entry,
    parse_instant,
    profile_meta,
    provenance_entry,
    render_instant,
    structure_error,
)

ACKNOWLEDGEMENT_PROFILE = "http://medcomfhir.dk/ig/acknowledgement/StructureDefinition/"
MESSAGE_PROFILE = ACKNOWLEDGEMENT_PROFILE + "medcom-messaging-acknowledgement"
MESSAGE_HEADER_PROFILE = ACKNOWLEDGEMENT_PROFILE + "medcom-messaging-acknowledgementHeader"
OPERATION_OUTCOME_PROFILE = ACKNOWLEDGEMENT_PROFILE + "medcom-acknowledgement-operationoutcome"
# Issue details come from MedCom's own error codes or HL7's operation-outcome codes (ValueSet
# medcom-acknowledgement-issue-details).
MEDCOM_ERROR_CODES_SYSTEM = (
    "http://medcomfhir.dk/ig/terminology/CodeSystem/medcom-acknowledgement-error-codes"
)
HL7_OPERATION_OUTCOME_SYSTEM = "http://terminology.hl7.org/CodeSystem/operation-outcome"


class AckCode(StrEnum):
    """MessageHeader.response.code (http://hl7.org/fhir/response-code)."""

    OK = "ok"
    TRANSIENT_ERROR = "transient-error"
    FATAL_ERROR = "fatal-error"


@dataclass(frozen=True, slots=True)
class AckIssue:
    """One OperationOutcome.issue of an error acknowledgement."""

    severity: str  # fatal | error | warning | information
    code: str  # http://hl7.org/fhir/issue-type, e.g. structure | required | value | code-invalid | transient
    text: str | None = None
    details_code: str | None = None  # e.g. MSG_VALUESET_VALUE_UNKNOWN
    details_system: str | None = None  # defaults to MedCom's error codes for MSG_* codes of theirs
    expression: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AckNotice:
    """A received acknowledgement, for the outbox: which of our messages it answers and how."""

    message_id: str  # the acknowledgement's own MessageHeader.id
    acknowledged_message_id: str  # MessageHeader.id of our message (response.identifier)
    code: AckCode
    issues: tuple[AckIssue, ...]
    sent_at: datetime
    sender: MedComOrganization | None
    bundle_id: str | None

    @property
    def delivered(self) -> bool:
        return self.code is AckCode.OK


_MEDCOM_CODES = frozenset(
    {
        "MSG_Receiver_Identifier_UNKNOWN",
        "MSG_Receiver_Identifier_MISSING",
        "MSG_RECEIVER_UNABLE_TO_RECEIVE_MSG_TYPE",
        "MSG_VALUESET_VALUE_UNKNOWN",
        "MSG_CodeSystem_VALUE_UNKNOWN",
        "MSG_Element_To_Long",
        "MSG_Datatype_Wrong",
        "MSG_Mailbox_Out_Of_Operation",
        "MSG_Damaged_durin_transport",
    }
)
# FieldError.code of the MedCom mappers -> (issue-type, MedCom error code or None)
_ISSUE_FOR_ERROR: dict[str, tuple[str, str | None]] = {
    STRUCTURE: ("structure", None),
    REQUIRED: ("required", None),
    VALUE_UNKNOWN: ("code-invalid", "MSG_VALUESET_VALUE_UNKNOWN"),
    UNSUPPORTED_MESSAGE: ("not-supported", "MSG_RECEIVER_UNABLE_TO_RECEIVE_MSG_TYPE"),
    INCONSISTENT: ("business-rule", None),
    FORBIDDEN: ("forbidden", None),
    DUPLICATE: ("duplicate", None),
}


def issues_from_error(error: ValidationFailed) -> list[AckIssue]:
    """The issues of a fatal-error acknowledgement for a message we could not accept."""
    issues = []
    for field_error in error.errors:
        issue_code, details = _ISSUE_FOR_ERROR.get(field_error.code, ("value", None))
        issues.append(
            AckIssue(
                severity="error",
                code=issue_code,
                text=field_error.message,
                details_code=details,
                expression=(field_error.field,),
            )
        )
    return issues


def _issue_json(issue: AckIssue) -> dict[str, Any]:
    body: dict[str, Any] = {"severity": issue.severity, "code": issue.code}
    details: dict[str, Any] = {}
    if issue.details_code:
        system = issue.details_system or (
            MEDCOM_ERROR_CODES_SYSTEM
            if issue.details_code in _MEDCOM_CODES
            else HL7_OPERATION_OUTCOME_SYSTEM
        )
        details["coding"] = [{"system": system, "code": issue.details_code}]
    if issue.text:
        details["text"] = issue.text
    if details:
        body["details"] = details
    if issue.expression:
        body["expression"] = list(issue.expression)
    return body


def build_acknowledgement(
    acknowledged: ReceivedMessage | str,
    *,
    code: AckCode | str,
    outcome: Sequence[AckIssue] | None,
    sender: MedComOrganization,
    now: datetime,
    message_id: str,
    receiver: MedComOrganization | None = None,
    fhir_base: str | None = None,
) -> dict[str, Any]:
    """A MedCom Acknowledgement message Bundle answering ``acknowledged``.

    ``acknowledged`` is the parsed message (HospitalNotice), its envelope (read_envelope/salvage_envelope)
    or, when nothing else could be read, the bare MessageHeader.id of the message. ``sender`` is us;
    ``receiver`` (the original sender) defaults to the sender named by the acknowledged message, and the
    acknowledgement goes to that message's MessageHeader.source.endpoint. With only a bare id and no
    receiver, the Bundle has no destination: valid FHIR R4, but the caller must know where to send it.
    ``message_id`` is the new MessageHeader.id; the other resource ids are derived from it.
    ``outcome`` is required for transient-error/fatal-error (a generic issue is used if it is empty) and
    not allowed with ok (MedCom: the OperationOutcome is only used when delivery failed).
    ``fhir_base`` (our FHIR base URL) gives RESTful fullUrls with relative references as in MedCom's
    examples; without it entries are named ``urn:uuid:<id>``. Raises ValueError on bad input.
    """
    ack_code = AckCode(code)
    issues = _issues(ack_code, outcome)
    acked_id, original_sender = _acknowledged(acknowledged)
    to = receiver or original_sender
    links = Links(fhir_base)
    stamp = render_instant(now)
    ids = {
        name: derived_id(message_id, name)
        for name in ("bundle", "sender", "receiver", "provenance", "outcome")
    }
    endpoint = (to.endpoint or (to.sor_endpoint if to.sor else None)) if to else None
    header = _header(
        links,
        ids,
        message_id=message_id,
        ack_code=ack_code,
        acked_id=acked_id,
        sender=sender,
        to=to,
        endpoint=endpoint,
    )
    entries: list[dict[str, Any]] = [
        links.entry(header),
        organization_entry(links, ids["sender"], sender),
    ]
    if to is not None and endpoint is not None and to.sor:
        entries.append(organization_entry(links, ids["receiver"], to))
    entries.append(
        provenance_entry(
            links,
            ids["provenance"],
            profile=MESSAGING_PROVENANCE_PROFILE,
            summary=f"Acknowledgement of message {acked_id}",
            message_id=message_id,
            stamp=stamp,
            activity="acknowledgement",
            sender_id=ids["sender"],
            entity={"role": "revision", "what": {"reference": f"MessageHeader/{acked_id}"}},
        )
    )
    if ack_code is not AckCode.OK:
        entries.append(_outcome_entry(links, ids["outcome"], issues))
    return message_bundle(ids["bundle"], MESSAGE_PROFILE, stamp, entries)


def _issues(ack_code: AckCode, outcome: Sequence[AckIssue] | None) -> list[AckIssue]:
    """The OperationOutcome's issues: none with ok, a generic one for an error given none."""
    issues = list(outcome or [])
    if ack_code is AckCode.OK and issues:
        raise ValueError("an ok acknowledgement carries no OperationOutcome")
    if ack_code is not AckCode.OK and not issues:
        issues = [
            AckIssue(
                severity="error",
                code="transient" if ack_code is AckCode.TRANSIENT_ERROR else "processing",
                text="the message could not be received",
            )
        ]
    return issues


def _acknowledged(
    acknowledged: ReceivedMessage | str,
) -> tuple[str, MedComOrganization | None]:
    """(MessageHeader.id, sender) of the acknowledged message; a bare id names no sender."""
    if isinstance(acknowledged, str):
        acked_id, original_sender = acknowledged, None
    else:
        acked_id, original_sender = acknowledged.message_id, acknowledged.sender
    if not acked_id:
        raise ValueError("the acknowledged message id is required")
    return acked_id, original_sender


def _header(
    links: Links,
    ids: dict[str, str],
    *,
    message_id: str,
    ack_code: AckCode,
    acked_id: str,
    sender: MedComOrganization,
    to: MedComOrganization | None,
    endpoint: str | None,
) -> dict[str, Any]:
    """The MessageHeader: the response to ``acked_id``, sent to ``to`` when its endpoint is known."""
    header: dict[str, Any] = {
        "resourceType": "MessageHeader",
        "id": message_id,
        "meta": profile_meta(MESSAGE_HEADER_PROFILE),
        "text": narrative(
            f"Acknowledgement ({ack_code}) of message {acked_id}",
            f"From {sender.name} (SOR {sender.sor})",
        ),
        "eventCoding": {
            "system": MESSAGE_EVENTS_SYSTEM,
            "code": MedComEvent.ACKNOWLEDGEMENT.value,
        },
        "sender": links.ref("Organization", ids["sender"]),
        "source": {"endpoint": sender.messaging_endpoint},
        "response": {"identifier": acked_id, "code": ack_code.value},
    }
    if to is not None and endpoint is not None:
        header["destination"] = [destination(links, endpoint, ids["receiver"] if to.sor else None)]
    if ack_code is not AckCode.OK:
        header["response"]["details"] = links.ref("OperationOutcome", ids["outcome"])
    return header


def _outcome_entry(links: Links, outcome_id: str, issues: list[AckIssue]) -> dict[str, Any]:
    return links.entry(
        {
            "resourceType": "OperationOutcome",
            "id": outcome_id,
            "meta": profile_meta(OPERATION_OUTCOME_PROFILE),
            "text": narrative(*(i.text or i.code for i in issues)),
            "issue": [_issue_json(i) for i in issues],
        }
    )


def _read_issue(issue: dict[str, Any]) -> AckIssue:
    details = as_dict(issue.get("details")) or {}
    found = codings(details)
    coding = found[0][1] if found else {}
    return AckIssue(
        severity=as_text(issue.get("severity")) or "error",
        code=as_text(issue.get("code")) or "unknown",
        text=as_text(details.get("text")) or as_text(issue.get("diagnostics")),
        details_code=as_text(coding.get("code")),
        details_system=as_text(coding.get("system")),
        expression=tuple(e for e in issue.get("expression") or [] if isinstance(e, str)),
    )


def parse_acknowledgement(bundle_json: dict[str, Any]) -> AckNotice:
    """Read a MedCom Acknowledgement message Bundle so the outbox can record delivered / failed.

    Raises MessageStructureInvalid when it is not an acknowledgement (no response, unknown code). The
    sender's identifiers are taken as they are; a missing OperationOutcome on an error gives no issues.
    """
    message = open_message(bundle_json, MedComEvent.ACKNOWLEDGEMENT)
    header = message.header()
    response = as_dict(header.get("response"))
    if response is None:
        raise structure_error(
            "Bundle.entry[0].resource.response", "an acknowledgement needs a response", REQUIRED
        )
    acked = as_text(response.get("identifier"))
    if acked is None:
        raise structure_error(
            "Bundle.entry[0].resource.response.identifier",
            "the acknowledged message id is required",
            REQUIRED,
        )
    try:
        ack_code = AckCode(as_text(response.get("code")) or "")
    except ValueError:
        raise structure_error(
            "Bundle.entry[0].resource.response.code",
            "must be one of: ok, transient-error, fatal-error",
            VALUE_UNKNOWN,
        ) from None
    problems = Problems()
    sent_at = parse_instant(
        message.bundle.get("timestamp"), "Bundle.timestamp", problems, required=True
    )
    problems.raise_if_any()
    issues: list[AckIssue] = []
    outcome_index = message.resolve(response.get("details"), "OperationOutcome")
    if outcome_index is not None:
        issues = [_read_issue(i) for _, i in dicts(message.resources[outcome_index].get("issue"))]
    sender_index = message.resolve(header.get("sender"), "Organization")
    endpoint = as_text((as_dict(header.get("source")) or {}).get("endpoint"))
    sender = (
        lenient_organization(message.resources[sender_index], endpoint)
        if sender_index is not None
        else None
    )
    return AckNotice(
        message_id=must(as_text(header.get("id")), "Bundle.entry[0].resource.id"),
        acknowledged_message_id=acked,
        code=ack_code,
        issues=tuple(issues),
        sent_at=must(sent_at, "Bundle.timestamp"),
        sender=sender,
        bundle_id=as_text(message.bundle.get("id")),
    )
