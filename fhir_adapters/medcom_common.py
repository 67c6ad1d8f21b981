"""Shared machinery for MedCom FHIR messages (R4 on the wire, fhir.resources R4B models; ADR 0002).

A MedCom message is a Bundle of type ``message`` whose first entry is the MessageHeader. The message identity
is ``MessageHeader.id`` (an Acknowledgement answers it in ``response.identifier`` and a later message points
to it from ``Provenance.entity.what``); ``Bundle.id`` only names this particular transmission.

Errors name the offending element with a FHIRPath-like expression such as
``Bundle.entry[0].resource.eventCoding.code`` so they can go straight into ``OperationOutcome.issue.expression``.
``MessageStructureInvalid`` means the message cannot be read as the MedCom message it claims to be (not a
Bundle, not a message, no MessageHeader first, an unknown event or activity code, unresolvable references);
``MessageContentInvalid`` means it was read but breaks a rule of content (a bad CPR number, no episode of
care identifier, ...). Both are ``pathways.errors.ValidationFailed``.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol, TypeVar

from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle
from pathways.errors import FieldError, ValidationFailed
from pathways.identifiers import (
    GLN_LEGACY_SYSTEM,
    GLN_SYSTEM,
    LPR3_SYSTEMS,
    SOR_SYSTEM,
    validate_gln,
    validate_sor,
)
from pydantic import ValidationError

# ---------------------------------------------------------------- canonical URLs and systems
MESSAGE_EVENTS_SYSTEM = "http://medcomfhir.dk/ig/terminology/CodeSystem/medcom-messaging-eventCodes"
ACTIVITY_CODES_SYSTEM = (
    "http://medcomfhir.dk/ig/terminology/CodeSystem/medcom-messaging-activityCodes"
)
DESTINATION_USE_SYSTEM = (
    "http://medcomfhir.dk/ig/terminology/CodeSystem/medcom-messaging-destinationUse"
)
DESTINATION_USE_EXTENSION = (
    "http://medcomfhir.dk/ig/messaging/StructureDefinition/medcom-messaging-destinationUseExtension"
)
MESSAGING_PROFILE = "http://medcomfhir.dk/ig/messaging/StructureDefinition/"
CORE_PROFILE = "http://medcomfhir.dk/ig/core/StructureDefinition/"
MESSAGING_ORGANIZATION_PROFILE = MESSAGING_PROFILE + "medcom-messaging-organization"
MESSAGING_PROVENANCE_PROFILE = MESSAGING_PROFILE + "medcom-messaging-provenance"
CORE_PATIENT_PROFILE = CORE_PROFILE + "medcom-core-patient"
CORE_ORGANIZATION_PROFILE = CORE_PROFILE + "medcom-core-organization"
V3_ACT_CODE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
V3_CONFIDENTIALITY_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
MUNICIPALITY_EXTENSION = "http://hl7.dk/fhir/core/StructureDefinition/dk-core-municipalityCodes"
# The SOR "endpoint" MedCom recommends for MessageHeader.source/destination.endpoint and, with the SOR code of
# the hospital, as the system of a hospital's local episode-of-care identifier.
SOR_ENDPOINT_PREFIX = "https://sor2.sum.dsdn.dk/#id="
# GLN systems accepted on input. We emit GLN_SYSTEM (https), which is what the current MedCom messaging,
# acknowledgement and CareCommunication IGs use (they build on DK-core 3.4 or older). DK-core 3.5.0 changed
# its GLNIdentifier to "http://www.gs1.org/gln" (the HL7 terminology NamingSystem spelling); messages built on
# it may carry that, so we read it too, as well as the legacy OID of older MedCom messages.
GLN_DK_CORE_35_SYSTEM = "http://www.gs1.org/gln"
GLN_INPUT_SYSTEMS = (GLN_SYSTEM, GLN_DK_CORE_35_SYSTEM, GLN_LEGACY_SYSTEM)

_XHTML = "http://www.w3.org/1999/xhtml"
_ID_NAMESPACE = "carepath.medcom"
_FHIR_DATETIME = re.compile(
    r"(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})", re.ASCII
)
_MAX_REPORTED_ERRORS = 20
T = TypeVar("T")


class MedComEvent(StrEnum):
    """MessageHeader.eventCoding codes (CodeSystem medcom-messaging-eventCodes)."""

    EMPTY = "empty-message"
    CARE_COMMUNICATION = "care-communication-message"
    HOSPITAL_NOTIFICATION = "hospital-notification-message"
    ACKNOWLEDGEMENT = "acknowledgement-message"
    HOMECARE_OBSERVATION = "homecareobservation-message"


class MessageStructureInvalid(ValidationFailed):
    """The input is not the MedCom message it should be: wrong resource, bundle type, event, references."""

    code = "message-structure-invalid"


class MessageContentInvalid(ValidationFailed):
    """A well-formed MedCom message whose content breaks a rule (identifiers, required facts, consistency)."""

    code = "message-content-invalid"


# FieldError.code values used by the MedCom mappers (issues_from_error maps them to OperationOutcome codes).
STRUCTURE = "structure"
REQUIRED = "required"
INVALID = "invalid"
VALUE_UNKNOWN = "value-unknown"
UNSUPPORTED_MESSAGE = "unsupported-message-type"
INCONSISTENT = "inconsistent"
FORBIDDEN = "forbidden"  # the sender may not touch this stay or message
DUPLICATE = "duplicate"  # the message id was already used for another message


@dataclass(frozen=True, slots=True)
class MedComOrganization:
    """A messaging party (MedComMessagingOrganization): SOR code, GLN (EAN location number) and name.

    ``endpoint`` is the messaging address used in MessageHeader.source/destination; when absent the SOR
    endpoint MedCom recommends (``https://sor2.sum.dsdn.dk/#id=<SOR>``) is used.
    """

    sor: str
    gln: str
    name: str
    endpoint: str | None = None

    @property
    def sor_endpoint(self) -> str:
        return SOR_ENDPOINT_PREFIX + self.sor

    @property
    def messaging_endpoint(self) -> str:
        return self.endpoint or self.sor_endpoint


@dataclass(frozen=True, slots=True)
class EpisodeIdentifier:
    """Encounter.episodeOfCare.identifier (forløbs-id): match episodes on system + value."""

    system: str
    value: str

    @property
    def is_lpr3(self) -> bool:
        return self.system in LPR3_SYSTEMS

    @property
    def local_sor(self) -> str | None:
        """The hospital's SOR code when this is a local identifier (system https://sor2.sum.dsdn.dk/#id=SOR)."""
        if self.system.startswith(SOR_ENDPOINT_PREFIX):
            return self.system.removeprefix(SOR_ENDPOINT_PREFIX)
        return None


@dataclass(frozen=True, slots=True)
class MessageEnvelope:
    """What every MedCom message says about itself, read before (or without) understanding its content."""

    message_id: str
    bundle_id: str | None
    event: str
    sent_at: datetime | None
    sender: MedComOrganization | None
    receiver: MedComOrganization | None


class ReceivedMessage(Protocol):
    """Anything that names a received message and its sender (HospitalNotice, MessageEnvelope, ...)."""

    @property
    def message_id(self) -> str: ...

    @property
    def sender(self) -> MedComOrganization | None: ...


# ---------------------------------------------------------------- small typed JSON helpers
def as_dict(value: object) -> dict[str, Any] | None:
    return value if isinstance(value, dict) else None


def as_list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def as_text(value: object) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def dicts(value: object) -> list[tuple[int, dict[str, Any]]]:
    """(index, element) for the object elements of a JSON array."""
    return [(i, item) for i, item in enumerate(as_list(value)) if isinstance(item, dict)]


def codings(concept: object) -> list[tuple[int, dict[str, Any]]]:
    return dicts((as_dict(concept) or {}).get("coding"))


def profile_meta(profile: str) -> dict[str, Any]:
    return {"profile": [profile]}


def narrative(*lines: str) -> dict[str, str]:
    """A generated narrative (MedCom: "The narrative text SHALL always be included")."""
    body = "".join(f"<p>{html.escape(line)}</p>" for line in lines if line)
    return {"status": "generated", "div": f'<div xmlns="{_XHTML}">{body or "<p>-</p>"}</div>'}


def derived_id(seed: str, label: str) -> str:
    """A UUID (version 4 layout) derived from the message id, so builders stay pure and deterministic."""
    digest = hashlib.sha256(f"{_ID_NAMESPACE}|{seed}|{label}".encode()).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


def render_instant(moment: datetime, what: str = "now") -> str:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware (ADR 0003)")
    return moment.isoformat(timespec="seconds")


# ---------------------------------------------------------------- building blocks of outgoing messages
def _organization(org_id: str, org: MedComOrganization) -> dict[str, Any]:
    identifiers = [{"use": "official", "system": SOR_SYSTEM, "value": org.sor}]
    if org.gln:
        identifiers.append({"use": "official", "system": GLN_SYSTEM, "value": org.gln})
    body: dict[str, Any] = {
        "resourceType": "Organization",
        "id": org_id,
        "meta": profile_meta(MESSAGING_ORGANIZATION_PROFILE),
        "text": narrative(org.name, f"SOR {org.sor}", f"GLN {org.gln}" if org.gln else ""),
        "identifier": identifiers,
    }
    if org.name:
        body["name"] = org.name
    return body


@dataclass(frozen=True, slots=True)
class Links:
    """How an outgoing Bundle names its entries.

    With a FHIR base URL: RESTful fullUrls ``<base>/<Type>/<id>`` and relative references ``<Type>/<id>``,
    as in MedCom's published examples. Without: ``urn:uuid:<id>`` fullUrls and references, which resolve
    inside the Bundle by FHIR's rules. References to earlier messages (Provenance.entity.what) are always
    ``MessageHeader/<id>``, as MedCom prescribes.
    """

    base: str | None = None

    def full_url(self, rtype: str, rid: str) -> str:
        return f"{self.base.rstrip('/')}/{rtype}/{rid}" if self.base else f"urn:uuid:{rid}"

    def ref(self, rtype: str, rid: str) -> dict[str, str]:
        return {"reference": f"{rtype}/{rid}" if self.base else f"urn:uuid:{rid}"}

    def entry(self, resource: dict[str, Any]) -> dict[str, Any]:
        return {
            "fullUrl": self.full_url(resource["resourceType"], resource["id"]),
            "resource": resource,
        }


def organization_entry(links: Links, org_id: str, org: MedComOrganization) -> dict[str, Any]:
    return links.entry(_organization(org_id, org))


def destination(links: Links, endpoint: str, receiver_id: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "extension": [
            {
                "url": DESTINATION_USE_EXTENSION,
                "valueCoding": {"system": DESTINATION_USE_SYSTEM, "code": "primary"},
            }
        ],
        "endpoint": endpoint,
    }
    if receiver_id:
        body["receiver"] = links.ref("Organization", receiver_id)
    return body


def provenance_entry(
    links: Links,
    provenance_id: str,
    *,
    profile: str,
    summary: str,
    message_id: str,
    stamp: str,
    activity: str,
    sender_id: str,
    entity: dict[str, Any],
) -> dict[str, Any]:
    """The entry of an outgoing message's Provenance: the sender did ``activity`` at ``stamp``, and the
    Provenance targets the message's MessageHeader."""
    return links.entry(
        {
            "resourceType": "Provenance",
            "id": provenance_id,
            "meta": profile_meta(profile),
            "text": narrative(summary, stamp),
            "target": [links.ref("MessageHeader", message_id)],
            "occurredDateTime": stamp,
            "recorded": stamp,
            "activity": {"coding": [{"system": ACTIVITY_CODES_SYSTEM, "code": activity}]},
            "agent": [{"who": links.ref("Organization", sender_id)}],
            "entity": [entity],
        }
    )


def message_bundle(
    bundle_id: str, profile: str, stamp: str, entries: list[dict[str, Any]]
) -> dict[str, Any]:
    """The message Bundle around ``entries``, checked: what we send must at least be valid R4(B)."""
    bundle = {
        "resourceType": "Bundle",
        "id": bundle_id,
        "meta": profile_meta(profile),
        "type": "message",
        "timestamp": stamp,
        "entry": entries,
    }
    Bundle.model_validate(bundle)
    return bundle


# ---------------------------------------------------------------- errors
class Problems:
    """Collects FieldErrors; structural ones are raised at once, content ones at the end."""

    def __init__(self) -> None:
        self.errors: list[FieldError] = []

    def add(self, field: str, message: str, code: str = INVALID) -> None:
        self.errors.append(FieldError(field, message, code))

    def extend(self, exc: ValidationFailed) -> None:
        self.errors.extend(exc.errors)

    def raise_if_any(self) -> None:
        if self.errors:  # one resource may be read twice (sender = serviceProvider): report once
            raise MessageContentInvalid(dict.fromkeys(self.errors))


def must(value: T | None, field: str) -> T:
    """A value the checks above guarantee; raises MessageContentInvalid if it is missing after all."""
    if value is None:
        raise MessageContentInvalid([FieldError(field, "is required", REQUIRED)])
    return value


def structure_error(field: str, message: str, code: str = STRUCTURE) -> MessageStructureInvalid:
    return MessageStructureInvalid([FieldError(field, message, code)])


# ---------------------------------------------------------------- timestamps
def parse_instant(
    value: object, field: str, problems: Problems, *, required: bool
) -> datetime | None:
    """A FHIR dateTime with date, time and zone (MedCom requires all three), returned in UTC."""
    if value is None:
        if required:
            problems.add(field, "timestamp is required", REQUIRED)
        return None
    match = _FHIR_DATETIME.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        problems.add(
            field, "must be a date and time with a time zone (e.g. 2026-03-02T10:15:00+01:00)"
        )
        return None
    day, clock, fraction, zone = match.groups()
    fraction = (fraction or "")[:7]  # Python keeps microseconds; FHIR allows more digits
    try:
        moment = datetime.fromisoformat(f"{day}T{clock}{fraction}{zone.replace('Z', '+00:00')}")
        return moment.astimezone(UTC)
    except (ValueError, OverflowError):  # no such day, or none in UTC (0001-01-01T00:00+01:00)
        problems.add(field, "is not a valid date and time")
        return None


# ---------------------------------------------------------------- the bundle as a message
def _fhirpath(loc: tuple[int | str, ...]) -> str:
    path = "Bundle"
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", part):
            path += f".{part}"
    return path


def check_r4(bundle: Mapping[str, Any]) -> None:
    """Structure, cardinality and datatypes of the whole Bundle, checked with fhir.resources' R4B models."""
    for i, entry in enumerate(as_list(bundle.get("entry"))):
        resource = as_dict(entry.get("resource")) if isinstance(entry, dict) else None
        field = f"Bundle.entry[{i}].resource"
        if resource is None:
            raise structure_error(field, "every entry of a message must contain a resource")
        rtype = resource.get("resourceType")
        if not isinstance(rtype, str):
            raise structure_error(f"{field}.resourceType", "resourceType is required")
        try:
            get_fhir_model_class(rtype)
        except ValueError:
            raise structure_error(
                f"{field}.resourceType", f"{rtype} is not a FHIR R4 resource type"
            ) from None
    try:
        Bundle.model_validate(bundle)
    except ValidationError as exc:
        errors = [
            FieldError(_fhirpath(tuple(err["loc"])), str(err["msg"]), STRUCTURE)
            for err in exc.errors()[:_MAX_REPORTED_ERRORS]
        ]
        raise MessageStructureInvalid(errors) from None
    except (TypeError, ValueError, KeyError) as exc:
        raise structure_error("Bundle", f"not a valid FHIR R4 Bundle: {exc}") from None


class Message:
    """A MedCom message Bundle: its entries by position, and reference resolution within the Bundle."""

    def __init__(self, bundle: Mapping[str, Any]) -> None:
        self.bundle = bundle
        self.resources: list[dict[str, Any]] = []
        self._keys: dict[str, int] = {}
        for i, entry in enumerate(as_list(bundle.get("entry"))):
            resource = as_dict(as_dict(entry) and entry.get("resource")) or {}
            self.resources.append(resource)
            full_url = as_text(entry.get("fullUrl")) if isinstance(entry, dict) else None
            rtype, rid = as_text(resource.get("resourceType")), as_text(resource.get("id"))
            if full_url:
                self._keys.setdefault(full_url, i)
            if rtype and rid:
                self._keys.setdefault(f"{rtype}/{rid}", i)
                self._keys.setdefault(f"urn:uuid:{rid}", i)

    @staticmethod
    def path(index: int, rest: str = "") -> str:
        return f"Bundle.entry[{index}].resource{rest}"

    def of_type(self, rtype: str) -> list[int]:
        return [i for i, r in enumerate(self.resources) if r.get("resourceType") == rtype]

    def resolve(self, reference: object, rtype: str | None = None) -> int | None:
        """The entry a Reference points to: by fullUrl, by Type/id (relative or absolute) or by urn:uuid."""
        ref = as_text((as_dict(reference) or {}).get("reference"))
        if ref is None:
            return None
        ref = re.sub(r"/_history/[^/]+$", "", ref)
        index = self._keys.get(ref)
        if index is None:
            parts = ref.rstrip("/").split("/")
            if len(parts) >= 2:
                index = self._keys.get(f"{parts[-2]}/{parts[-1]}")
        if index is None or (rtype and self.resources[index].get("resourceType") != rtype):
            return None
        return index

    def header(self) -> dict[str, Any]:
        return self.resources[0]


def referenced_id(reference: object) -> str | None:
    """The id in a reference to another message ("MessageHeader/<id>", an absolute URL or urn:uuid:<id>)."""
    ref = as_dict(reference) or {}
    text = as_text(ref.get("reference"))
    if text:
        text = re.sub(r"/_history/[^/]+$", "", text)
        return text.removeprefix("urn:uuid:").rstrip("/").split("/")[-1] or None
    # a previous EDIFACT/OIOXML message is named by identifier: [lokationsnummer]#[brevid]
    return as_text((as_dict(ref.get("identifier")) or {}).get("value"))


def open_message(
    bundle_json: object,
    expected: MedComEvent,
    *,
    fast_check: Callable[[Mapping[str, Any]], bool] | None = None,
) -> Message:
    """Structural checks shared by every MedCom message; raises MessageStructureInvalid.

    ``fast_check`` (a slim model of the elements the caller reads, e.g. medcom_fast) spares the full R4
    validation when it passes; when it fails, the full validation runs and names the bad element."""
    bundle = as_dict(bundle_json)
    if bundle is None or bundle.get("resourceType") != "Bundle":
        raise structure_error("Bundle.resourceType", "a MedCom message is a FHIR Bundle")
    if bundle.get("type") != "message":
        raise structure_error("Bundle.type", "a MedCom message is a Bundle of type 'message'")
    if not as_list(bundle.get("entry")):
        raise structure_error("Bundle.entry", "the message Bundle has no entries", REQUIRED)
    message = Message(bundle)
    header = message.header()
    if header.get("resourceType") != "MessageHeader":
        raise structure_error(
            "Bundle.entry[0].resource.resourceType", "the first entry must be the MessageHeader"
        )
    if as_text(header.get("id")) is None:
        raise structure_error(
            "Bundle.entry[0].resource.id", "MessageHeader.id (the message identity) is required"
        )
    event = as_dict(header.get("eventCoding"))
    code = as_text((event or {}).get("code"))
    if event is None or code is None:
        raise structure_error(
            "Bundle.entry[0].resource.eventCoding.code",
            "MessageHeader.eventCoding is required",
            REQUIRED,
        )
    if code != expected:
        known = code in {e.value for e in MedComEvent}
        raise structure_error(
            "Bundle.entry[0].resource.eventCoding.code",
            f"expected a {expected} but got '{code}'"
            if known
            else f"'{code}' is not a MedCom message event",
            UNSUPPORTED_MESSAGE if known else VALUE_UNKNOWN,
        )
    if as_text(event.get("system")) not in (None, MESSAGE_EVENTS_SYSTEM):
        raise structure_error(
            "Bundle.entry[0].resource.eventCoding.system",
            f"the event code system must be {MESSAGE_EVENTS_SYSTEM}",
            VALUE_UNKNOWN,
        )
    if fast_check is None or not fast_check(bundle):
        check_r4(bundle)
    if as_text(bundle.get("timestamp")) is None:
        raise structure_error("Bundle.timestamp", "Bundle.timestamp is required", REQUIRED)
    return message


def header_organization(
    message: Message, reference: object, field: str
) -> tuple[int, dict[str, Any]]:
    """The Organization entry a MessageHeader reference points to (structural if it is not in the Bundle)."""
    index = message.resolve(reference, "Organization")
    if index is None:
        raise structure_error(
            f"{field}.reference", "must reference an Organization entry in the Bundle"
        )
    return index, message.resources[index]


def primary_destination(message: Message) -> tuple[int, dict[str, Any]]:
    destinations = dicts(message.header().get("destination"))
    for i, destination in destinations:
        for _, ext in dicts(destination.get("extension")):
            use = (as_dict(ext.get("valueCoding")) or {}).get("code")
            if ext.get("url") == DESTINATION_USE_EXTENSION and use == "primary":
                return i, destination
    if len(destinations) == 1:  # a single destination is the primary one
        return destinations[0]
    raise structure_error(
        "Bundle.entry[0].resource.destination",
        "the MessageHeader needs exactly one primary destination",
        REQUIRED,
    )


def read_organization(
    message: Message, index: int, problems: Problems, *, gln_required: bool = True
) -> MedComOrganization:
    """SOR, GLN and name of an Organization entry; identifier problems are collected as content errors."""
    org = message.resources[index]
    sor: str | None = None
    gln: str | None = None
    for j, ident in dicts(org.get("identifier")):
        system, value = ident.get("system"), ident.get("value")
        field = message.path(index, f".identifier[{j}].value")
        if system == SOR_SYSTEM and sor is None:
            try:
                sor = validate_sor(value, field)
            except ValidationFailed as exc:
                problems.extend(exc)
                sor = ""
        elif system in GLN_INPUT_SYSTEMS and gln is None:
            try:
                gln = validate_gln(value, field)
            except ValidationFailed as exc:
                problems.extend(exc)
                gln = ""
    if sor is None:
        problems.add(
            message.path(index, ".identifier"),
            f"a SOR identifier ({SOR_SYSTEM}) is required",
            REQUIRED,
        )
    if gln is None and gln_required:
        problems.add(
            message.path(index, ".identifier"),
            f"a GLN/EAN identifier ({GLN_SYSTEM}) is required",
            REQUIRED,
        )
    return MedComOrganization(sor=sor or "", gln=gln or "", name=as_text(org.get("name")) or "")


def lenient_organization(resource: dict[str, Any], endpoint: str | None) -> MedComOrganization:
    sor = gln = ""
    for _, ident in dicts(resource.get("identifier")):
        value = as_text(ident.get("value")) or ""
        if ident.get("system") == SOR_SYSTEM and not sor:
            sor = value
        elif ident.get("system") in GLN_INPUT_SYSTEMS and not gln:
            gln = value
    return MedComOrganization(sor, gln, as_text(resource.get("name")) or "", endpoint)


def _envelope(message: Message, header_index: int = 0) -> MessageEnvelope:
    header = message.resources[header_index]
    sender_index = message.resolve(header.get("sender"), "Organization")
    source_endpoint = as_text((as_dict(header.get("source")) or {}).get("endpoint"))
    receiver: MedComOrganization | None = None
    destinations = dicts(header.get("destination"))
    if destinations:
        destination = destinations[0][1]
        for _, candidate in destinations:
            for _, ext in dicts(candidate.get("extension")):
                if (as_dict(ext.get("valueCoding")) or {}).get("code") == "primary":
                    destination = candidate
        receiver_index = message.resolve(destination.get("receiver"), "Organization")
        if receiver_index is not None:
            receiver = lenient_organization(
                message.resources[receiver_index], as_text(destination.get("endpoint"))
            )
    timestamp = Problems()
    return MessageEnvelope(
        message_id=as_text(header.get("id")) or "",
        bundle_id=as_text(message.bundle.get("id")),
        event=as_text((as_dict(header.get("eventCoding")) or {}).get("code")) or "",
        sent_at=parse_instant(
            message.bundle.get("timestamp"), "Bundle.timestamp", timestamp, required=False
        ),
        sender=lenient_organization(message.resources[sender_index], source_endpoint)
        if sender_index is not None
        else None,
        receiver=receiver,
    )


def read_envelope(bundle_json: object) -> MessageEnvelope:
    """Message id, event and parties of any MedCom message, for dispatching on ``event``.

    Raises MessageStructureInvalid unless the input is a message Bundle with a MessageHeader first that has
    an id and an event code. Organisation identifiers are taken as they are (not validated) here.
    """
    bundle = as_dict(bundle_json)
    if bundle is None or bundle.get("resourceType") != "Bundle":
        raise structure_error("Bundle.resourceType", "a MedCom message is a FHIR Bundle")
    if bundle.get("type") != "message":
        raise structure_error("Bundle.type", "a MedCom message is a Bundle of type 'message'")
    message = Message(bundle)
    if not message.resources or message.header().get("resourceType") != "MessageHeader":
        raise structure_error(
            "Bundle.entry[0].resource.resourceType", "the first entry must be the MessageHeader"
        )
    envelope = _envelope(message)
    if not envelope.message_id:
        raise structure_error(
            "Bundle.entry[0].resource.id", "MessageHeader.id (the message identity) is required"
        )
    if not envelope.event:
        raise structure_error(
            "Bundle.entry[0].resource.eventCoding.code",
            "MessageHeader.eventCoding is required",
            REQUIRED,
        )
    return envelope


# Transmission details that may differ between two sendings of the same message: the Bundle's id ("new for
# every transmission"), timestamp and meta, each resource's version metadata, and the narratives (generated
# from the data they sit beside).
_VOLATILE_BUNDLE_KEYS = frozenset({"id", "timestamp", "meta"})
_VOLATILE_META_KEYS = frozenset({"lastUpdated", "versionId"})


def _stable_resource(resource: object) -> object:
    if not isinstance(resource, dict):
        return resource
    stable = {k: v for k, v in resource.items() if k != "text"}
    meta = as_dict(stable.get("meta"))
    if meta is not None:
        stable["meta"] = {k: v for k, v in meta.items() if k not in _VOLATILE_META_KEYS}
    return stable


def message_fingerprint(bundle: Mapping[str, Any]) -> str:
    """sha256 (hex) of a message's content, to tell a resend of a message from another message that reuses
    its MessageHeader id.

    The canonical JSON (sorted keys, no insignificant whitespace, UTF-8) of the Bundle without what may
    change between two transmissions of one message: Bundle.id, Bundle.timestamp, Bundle.meta, each
    resource's meta.lastUpdated/versionId and narrative (``text``). Everything else counts, including the
    order of the entries and the Provenance times.
    """
    stable: dict[str, Any] = {k: v for k, v in bundle.items() if k not in _VOLATILE_BUNDLE_KEYS}
    if "entry" in stable:
        stable["entry"] = [
            {**entry, "resource": _stable_resource(entry["resource"])}
            if isinstance(entry, dict) and "resource" in entry
            else entry
            for entry in as_list(stable["entry"])
        ]
    canonical = json.dumps(stable, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def salvage_envelope(raw: object) -> MessageEnvelope | None:
    """Best effort for acknowledging a message that could not be parsed: never raises.

    Finds a MessageHeader with an id (first entry preferred, else any entry) and whatever sender it names.
    Returns None when no message id can be found at all (then no MedCom acknowledgement can be made).
    """
    bundle = as_dict(raw)
    if bundle is None:
        return None
    try:
        message = Message(bundle)
        for index in message.of_type("MessageHeader"):  # entry[0] comes first when it is one
            if as_text(message.resources[index].get("id")):
                return _envelope(message, index)
    except (TypeError, ValueError, AttributeError):
        return None
    return None


def ordering_identity(raw: object) -> str | None:
    """Whose message this is, to keep one patient's messages in order: the first identifier (system|value)
    of the message's Patient, else of its Encounter's episode of care; None when neither is found (e.g. an
    Acknowledgement, which follows no other message). Never raises; the value is health data (a CPR
    number): hash it before storing it."""
    bundle = as_dict(raw)
    if bundle is None:
        return None
    try:
        resources = [
            as_dict(as_dict(e) and e.get("resource")) or {} for e in as_list(bundle.get("entry"))
        ]
        for rtype, path in (("Patient", ("identifier",)), ("Encounter", ("episodeOfCare",))):
            for resource in resources:
                if resource.get("resourceType") != rtype:
                    continue
                for item in as_list(resource.get(path[0])):
                    identifier = as_dict(item)
                    if identifier is not None and rtype == "Encounter":
                        identifier = as_dict(identifier.get("identifier"))
                    value = as_text((identifier or {}).get("value"))
                    if value:
                        return f"{as_text((identifier or {}).get('system')) or ''}|{value}"
    except (TypeError, ValueError, AttributeError):
        return None
    return None
