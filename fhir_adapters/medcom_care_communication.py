"""MedCom CareCommunication (korrespondancemeddelelse) messages, 5.0.x: build and read.

http://medcomfhir.dk/ig/carecommunication. The focus is a Communication with one category, an optional
topic, the Patient as subject, an optional Encounter that carries the episode-of-care identifier, and payload
segments; a text segment carries its date, a segment identifier assigned by the sending organisation, its
author (PractitionerRole -> Practitioner with name, role code, organisation) and the author's phone number.
MessageHeader.definition names MedCom's MessageDefinition for CareCommunication 5.x. Our builder makes new
messages (activity ``new-message``) with one text segment.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from pathways.errors import ErrorCollector, ValidationFailed
from pathways.identifiers import (
    CPR_SYSTEM,
    X_ECPR_SYSTEM,
    validate_cpr,
    validate_gln,
    validate_sor,
    validate_x_ecpr,
)

from fhir_adapters.medcom_common import (
    CORE_PATIENT_PROFILE,
    CORE_PROFILE,
    MESSAGE_EVENTS_SYSTEM,
    REQUIRED,
    V3_ACT_CODE_SYSTEM,
    VALUE_UNKNOWN,
    EpisodeIdentifier,
    Links,
    MedComEvent,
    MedComOrganization,
    Message,
    Problems,
    as_dict,
    as_list,
    as_text,
    codings,
    derived_id,
    destination,
    dicts,
    header_organization,
    message_bundle,
    must,
    narrative,
    open_message,
    organization_entry,
    parse_instant,
    primary_destination,
    profile_meta,
    provenance_entry,
    read_organization,
    referenced_id,
    render_instant,
    structure_error,
)

CARE_COMMUNICATION_PROFILE = "http://medcomfhir.dk/ig/carecommunication/StructureDefinition/"
MESSAGE_PROFILE = CARE_COMMUNICATION_PROFILE + "medcom-careCommunication-message"
MESSAGE_HEADER_PROFILE = CARE_COMMUNICATION_PROFILE + "medcom-careCommunication-messageHeader"
COMMUNICATION_PROFILE = CARE_COMMUNICATION_PROFILE + "medcom-careCommunication-communication"
PROVENANCE_PROFILE = CARE_COMMUNICATION_PROFILE + "medcom-careCommunication-provenance"
MESSAGE_DEFINITION = (
    "http://medcomfhir.dk/ig/messagedefinitions/MessageDefinition/"
    "MedComCareCommunicationMessageDefinition|5.0"
)
CATEGORY_SYSTEM = (
    "http://medcomfhir.dk/ig/terminology/CodeSystem/medcom-careCommunication-categoryCodes"
)
PRACTITIONER_ROLES_SKS_SYSTEM = (
    "http://medcomfhir.dk/ig/terminology/CodeSystem/medcom-core-PractitionerRolesSKSadministrativ"
)
PRACTITIONER_ROLES_AUTHORISATION_SYSTEM = (
    "http://medcomfhir.dk/ig/terminology/CodeSystem/"
    "medcom-core-PractitionerRolesAutorisationsregistret"
)
DATETIME_EXTENSION = CORE_PROFILE + "medcom-core-datetime-extension"
IDENTIFIER_EXTENSION = CORE_PROFILE + "medcom-core-identifier-extension"
AUTHOR_EXTENSION = CORE_PROFILE + "medcom-core-practitioner-extension"
AUTHOR_CONTACT_EXTENSION = CORE_PROFILE + "medcom-core-contact-extension"
SENDER_EXTENSION = CORE_PROFILE + "medcom-core-sender-extension"
_PHONE = re.compile(r"\+?[0-9][-0-9 ]*", re.ASCII)


class CareCommunicationCategory(StrEnum):
    """Communication.category (CodeSystem medcom-careCommunication-categoryCodes)."""

    ALCOHOL_AND_DRUG_TREATMENT = "alcohol-and-drug-treatment"
    ASSISTIVE_DEVICES = "assistive-devices"
    CARE_COORDINATION = "carecoordination"
    DECEASE = "decease"
    DISCHARGE = "discharge"
    EXAMINATION_RESULTS = "examination-results"
    HEALTHCARE = "healthcare"
    HOME_CARE_ASSESSMENT = "home-care-assessment"
    MEDICINE = "medicine"
    NURSING = "nursing"
    OUTPATIENT = "outpatient"
    PSYCHIATRY_SOCIAL_DISABILITY = "psychiatry-social-disability"
    REGARDING_REFERRAL = "regarding-referral"
    TELEMEDICINE = "telemedicine"
    TRAINING = "training"
    ACUTE_AMBULANT = "acute-ambulant"
    EXTENDED_CARE_RESPONSIBILITY = "extended-care-responsibility"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class CareCommunicationPatient:
    family_name: str
    given_name: str = ""
    cpr: str | None = None
    replacement_cpr: str | None = None  # X-eCPR, only when there is no CPR number


@dataclass(frozen=True, slots=True)
class CareCommunicationAuthor:
    """The signature of a text segment: who wrote it, in which role, for which organisation."""

    given_name: str
    family_name: str
    phone: str  # MedCom requires a telephone number for the author of a text segment
    role_code: str | None = None  # e.g. sygeplejerske, overlaege, socialraadgiver, psykolog
    role_system: str = PRACTITIONER_ROLES_SKS_SYSTEM
    role_text: str | None = None  # free text, only when there is no role code
    organisation: MedComOrganization | None = None  # defaults to the message sender

    @property
    def name(self) -> str:
        return f"{self.given_name} {self.family_name}".strip()


@dataclass(frozen=True, slots=True)
class CareCommunicationSegment:
    """One payload segment of a received CareCommunication."""

    identifier: str | None
    text: str | None  # None for an attachment
    attachment_title: str | None
    written_at: datetime | None
    author_name: str | None
    author_role: str | None  # role code, or the role text
    author_organisation_sor: str | None
    author_phone: str | None


@dataclass(frozen=True, slots=True)
class CareCommunicationNotice:
    message_id: str
    bundle_id: str | None
    sent_at: datetime
    activity: str  # new-message | reply-message | forward-message
    previous_message_id: str | None
    thread_id: str | None  # Communication.identifier, kept across replies
    category: CareCommunicationCategory
    topic: str | None
    cpr: str | None
    replacement_cpr: str | None
    patient_name: str | None
    episode_identifiers: tuple[EpisodeIdentifier, ...]
    sender: MedComOrganization
    receiver: MedComOrganization
    segments: tuple[CareCommunicationSegment, ...]


def _check_inputs(
    *,
    sender: MedComOrganization,
    receiver: MedComOrganization,
    patient: CareCommunicationPatient,
    author: CareCommunicationAuthor,
    category: str,
    text: str,
    topic: str | None,
) -> CareCommunicationCategory:
    errors = ErrorCollector()
    for role, org in (("sender", sender), ("receiver", receiver)):
        errors.check(f"{role}.sor", validate_sor, org.sor or None)
        errors.check(f"{role}.gln", validate_gln, org.gln or None)
        if not org.sor or not org.gln:
            errors.add(f"{role}", "SOR code and GLN are both required", REQUIRED)
    if patient.cpr:
        errors.check("patient.cpr", validate_cpr, patient.cpr)
    elif patient.replacement_cpr:
        errors.check("patient.replacement_cpr", validate_x_ecpr, patient.replacement_cpr)
    else:
        errors.add("patient.cpr", "a CPR number (or replacement CPR) is required", REQUIRED)
    errors.text("patient.family_name", patient.family_name)
    errors.text("author.family_name", author.family_name)
    if not _PHONE.fullmatch(author.phone.strip()):
        errors.add("author.phone", "a telephone number (digits, optionally a leading +)")
    if bool(author.role_code) == bool(author.role_text):
        errors.add("author.role_code", "give either a role code or a role text", REQUIRED)
    chosen = errors.choice("category", CareCommunicationCategory, category)
    errors.text("text", text, max_length=100_000)
    if chosen is CareCommunicationCategory.OTHER and not (topic or "").strip():
        errors.add("topic", "a topic is required when the category is 'other'", REQUIRED)
    errors.raise_if_any()
    return must(chosen, "category")


def build_care_communication(
    *,
    message_id: str,
    now: datetime,
    sender: MedComOrganization,
    receiver: MedComOrganization,
    patient: CareCommunicationPatient,
    author: CareCommunicationAuthor,
    category: CareCommunicationCategory | str,
    text: str,
    topic: str | None = None,
    episode_of_care: EpisodeIdentifier | None = None,
    encounter_status: str = "unknown",
    encounter_class: str = "IMP",
    thread_id: str | None = None,
    fhir_base: str | None = None,
) -> dict[str, Any]:
    """A new MedCom CareCommunication message Bundle with one text segment.

    ``message_id`` is the new MessageHeader.id (our outbox row's id); the ids of the other resources, the
    segment identifier and, unless given, the thread id (Communication.identifier, ``urn:uuid:...``) are
    derived from it, so the same input gives the same Bundle. Raises ValidationFailed on bad input
    (field names such as ``patient.cpr``, ``sender.gln``). ``fhir_base`` as in build_acknowledgement.
    """
    chosen = _check_inputs(
        sender=sender,
        receiver=receiver,
        patient=patient,
        author=author,
        category=str(category),
        text=text,
        topic=topic,
    )
    stamp = render_instant(now)
    links = Links(fhir_base)
    ids = _resource_ids(message_id)
    author_org = author.organisation or sender
    author_org_id = ids["sender"] if author_org == sender else ids["author-org"]
    segment_id = f"urn:uuid:{ids['segment']}"
    communication = _communication(
        links,
        ids,
        category=chosen,
        text=text,
        topic=topic,
        thread=thread_id or f"urn:uuid:{ids['thread']}",
        segment_id=segment_id,
        stamp=stamp,
        author=author,
        author_org=author_org,
    )
    entries: list[dict[str, Any]] = [
        links.entry(_header(links, ids, message_id, sender, receiver)),
        links.entry(_patient(ids["patient"], patient)),
        links.entry(communication),
    ]
    if episode_of_care is not None:
        communication["encounter"] = links.ref("Encounter", ids["encounter"])
        entries.append(
            links.entry(_encounter(links, ids, episode_of_care, encounter_status, encounter_class))
        )
    entries += [
        links.entry(
            _practitioner_role(links, ids["role"], ids["practitioner"], author_org_id, author)
        ),
        links.entry(_practitioner(ids["practitioner"], author)),
        organization_entry(links, ids["sender"], sender),
        organization_entry(links, ids["receiver"], receiver),
    ]
    if author_org_id != ids["sender"]:
        entries.append(organization_entry(links, author_org_id, author_org))
    entries.append(
        provenance_entry(
            links,
            ids["provenance"],
            profile=PROVENANCE_PROFILE,
            summary=f"new-message {message_id}",
            message_id=message_id,
            stamp=stamp,
            activity="new-message",
            sender_id=ids["sender"],
            entity={"role": "source", "what": {"identifier": {"value": segment_id}}},
        )
    )
    return message_bundle(ids["bundle"], MESSAGE_PROFILE, stamp, entries)


def _resource_ids(message_id: str) -> dict[str, str]:
    """The ids of the message's parts, derived from the message id (the same input, the same Bundle)."""
    return {
        name: derived_id(message_id, name)
        for name in (
            "bundle",
            "patient",
            "communication",
            "encounter",
            "role",
            "practitioner",
            "sender",
            "receiver",
            "author-org",
            "provenance",
            "segment",
            "thread",
        )
    }


def _header(
    links: Links,
    ids: dict[str, str],
    message_id: str,
    sender: MedComOrganization,
    receiver: MedComOrganization,
) -> dict[str, Any]:
    return {
        "resourceType": "MessageHeader",
        "id": message_id,
        "meta": profile_meta(MESSAGE_HEADER_PROFILE),
        "text": narrative(
            f"CareCommunication from {sender.name} to {receiver.name}", f"Message id {message_id}"
        ),
        "eventCoding": {
            "system": MESSAGE_EVENTS_SYSTEM,
            "code": MedComEvent.CARE_COMMUNICATION.value,
        },
        "destination": [destination(links, receiver.messaging_endpoint, ids["receiver"])],
        "sender": links.ref("Organization", ids["sender"]),
        "source": {"endpoint": sender.messaging_endpoint},
        "focus": [links.ref("Communication", ids["communication"])],
        "definition": MESSAGE_DEFINITION,
    }


def _communication(
    links: Links,
    ids: dict[str, str],
    *,
    category: CareCommunicationCategory,
    text: str,
    topic: str | None,
    thread: str,
    segment_id: str,
    stamp: str,
    author: CareCommunicationAuthor,
    author_org: MedComOrganization,
) -> dict[str, Any]:
    """The Communication with its one text segment, signed by the author (the encounter comes later)."""
    role = author.role_code or author.role_text or ""
    signature = f"{author.name}, {role}, {author_org.name} (tlf. {author.phone.strip()})"
    communication: dict[str, Any] = {
        "resourceType": "Communication",
        "id": ids["communication"],
        "meta": profile_meta(COMMUNICATION_PROFILE),
        "text": narrative(
            f"Kategori: {category.value}", f"Emne: {topic}" if topic else "", text, signature
        ),
        "identifier": [{"value": thread}],
        "status": "unknown",
        "category": [{"coding": [{"system": CATEGORY_SYSTEM, "code": category.value}]}],
        "subject": links.ref("Patient", ids["patient"]),
        "payload": [
            {
                "extension": [
                    {"url": DATETIME_EXTENSION, "valueDateTime": stamp},
                    {
                        "url": IDENTIFIER_EXTENSION,
                        "valueIdentifier": {
                            "value": segment_id,
                            "assigner": links.ref("Organization", ids["sender"]),
                        },
                    },
                    {
                        "url": AUTHOR_EXTENSION,
                        "valueReference": links.ref("PractitionerRole", ids["role"]),
                    },
                    {
                        "url": AUTHOR_CONTACT_EXTENSION,
                        "valueContactPoint": {"system": "phone", "value": author.phone.strip()},
                    },
                ],
                "contentString": text,
            }
        ],
    }
    if topic and topic.strip():
        communication["topic"] = {"text": topic.strip()}
    return communication


def _encounter(
    links: Links,
    ids: dict[str, str],
    episode_of_care: EpisodeIdentifier,
    status: str,
    encounter_class: str,
) -> dict[str, Any]:
    """The Encounter that carries the episode-of-care identifier."""
    return {
        "resourceType": "Encounter",
        "id": ids["encounter"],
        "meta": profile_meta(CORE_PROFILE + "medcom-core-encounter"),
        "text": narrative(f"Episode of care {episode_of_care.system} {episode_of_care.value}"),
        "status": status,
        "class": {"system": V3_ACT_CODE_SYSTEM, "code": encounter_class},
        "subject": links.ref("Patient", ids["patient"]),
        "episodeOfCare": [
            {
                "identifier": {
                    "system": episode_of_care.system,
                    "value": episode_of_care.value,
                }
            }
        ],
    }


def _practitioner(practitioner_id: str, author: CareCommunicationAuthor) -> dict[str, Any]:
    return {
        "resourceType": "Practitioner",
        "id": practitioner_id,
        "meta": profile_meta(CORE_PROFILE + "medcom-core-practitioner"),
        "text": narrative(author.name),
        "name": [_human_name(author.family_name, author.given_name)],
    }


def _human_name(family: str, given: str) -> dict[str, Any]:
    name: dict[str, Any] = {"use": "official", "family": family.strip()}
    if given.strip():
        name["given"] = given.split()
    return name


def _patient(patient_id: str, patient: CareCommunicationPatient) -> dict[str, Any]:
    if patient.cpr:
        identifier = {"use": "official", "system": CPR_SYSTEM, "value": validate_cpr(patient.cpr)}
    else:
        value = validate_x_ecpr(patient.replacement_cpr)
        identifier = {"use": "temp", "system": X_ECPR_SYSTEM, "value": value}
    return {
        "resourceType": "Patient",
        "id": patient_id,
        "meta": profile_meta(CORE_PATIENT_PROFILE),
        "text": narrative(f"{patient.given_name} {patient.family_name}".strip()),
        "identifier": [identifier],
        "name": [_human_name(patient.family_name, patient.given_name)],
    }


def _practitioner_role(
    links: Links,
    role_id: str,
    practitioner_id: str,
    organisation_id: str,
    author: CareCommunicationAuthor,
) -> dict[str, Any]:
    code: dict[str, Any] = (
        {"coding": [{"system": author.role_system, "code": author.role_code}]}
        if author.role_code
        else {"text": author.role_text}
    )
    return {
        "resourceType": "PractitionerRole",
        "id": role_id,
        "meta": profile_meta(CORE_PROFILE + "medcom-core-practitionerrole"),
        "text": narrative(f"{author.name}: {author.role_code or author.role_text}"),
        "practitioner": links.ref("Practitioner", practitioner_id),
        "organization": links.ref("Organization", organisation_id),
        "code": [code],
    }


# ---------------------------------------------------------------- reading
def _segment(
    message: Message, payload: dict[str, Any], problems: Problems, field: str
) -> CareCommunicationSegment:
    extensions = {ext.get("url"): (k, ext) for k, ext in reversed(dicts(payload.get("extension")))}
    written_at = None
    if DATETIME_EXTENSION in extensions:
        k, ext = extensions[DATETIME_EXTENSION]
        written_at = parse_instant(
            ext.get("valueDateTime"),
            f"{field}.extension[{k}].valueDateTime",
            problems,
            required=True,
        )
    identifier = None
    if IDENTIFIER_EXTENSION in extensions:
        value = as_dict(extensions[IDENTIFIER_EXTENSION][1].get("valueIdentifier")) or {}
        identifier = as_text(value.get("value"))
    phone = None
    if AUTHOR_CONTACT_EXTENSION in extensions:
        contact = as_dict(extensions[AUTHOR_CONTACT_EXTENSION][1].get("valueContactPoint")) or {}
        phone = as_text(contact.get("value"))
    author_name = author_role = author_sor = None
    if AUTHOR_EXTENSION in extensions:
        role_index = message.resolve(
            extensions[AUTHOR_EXTENSION][1].get("valueReference"), "PractitionerRole"
        )
        if role_index is not None:
            role = message.resources[role_index]
            found = [c for _, concept in dicts(role.get("code")) for _, c in codings(concept)]
            concepts = dicts(role.get("code"))
            author_role = (
                as_text(found[0].get("code"))
                if found
                else (as_text(concepts[0][1].get("text")) if concepts else None)
            )
            practitioner = message.resolve(role.get("practitioner"), "Practitioner")
            if practitioner is not None:
                author_name = _name(message.resources[practitioner])
            org = message.resolve(role.get("organization"), "Organization")
            if org is not None:
                author_sor = (
                    read_organization(message, org, Problems(), gln_required=False).sor or None
                )
    attachment = as_dict(payload.get("contentAttachment"))
    return CareCommunicationSegment(
        identifier=identifier,
        text=as_text(payload.get("contentString")),
        attachment_title=as_text(attachment.get("title")) if attachment else None,
        written_at=written_at,
        author_name=author_name,
        author_role=author_role,
        author_organisation_sor=author_sor,
        author_phone=phone,
    )


def _name(resource: dict[str, Any]) -> str | None:
    names = dicts(resource.get("name"))
    if not names:
        return None
    chosen = next((n for _, n in names if n.get("use") == "official"), names[0][1])
    given = [g for g in as_list(chosen.get("given")) if isinstance(g, str)]
    family = as_text(chosen.get("family"))
    return " ".join([*given, *([family] if family else [])]) or as_text(chosen.get("text"))


def _category(message: Message, index: int, problems: Problems) -> CareCommunicationCategory | None:
    found = [
        c
        for _, concept in dicts(message.resources[index].get("category"))
        for _, c in codings(concept)
    ]
    try:
        return CareCommunicationCategory((found and as_text(found[0].get("code"))) or "")
    except ValueError:
        problems.add(
            message.path(index, ".category[0].coding[0].code"),
            "not a CareCommunication category",
            VALUE_UNKNOWN,
        )
        return None


def _subject(
    message: Message, communication_index: int, problems: Problems
) -> tuple[str | None, str | None, str | None]:
    """(CPR, replacement CPR, name) of the Communication's subject Patient."""
    cpr = replacement = None
    index = message.resolve(message.resources[communication_index].get("subject"), "Patient")
    if index is None:
        problems.add(
            message.path(communication_index, ".subject"), "the Patient is required", REQUIRED
        )
        return None, None, None
    patient = message.resources[index]
    for j, ident in dicts(patient.get("identifier")):
        field = message.path(index, f".identifier[{j}].value")
        try:
            if ident.get("system") == CPR_SYSTEM:
                cpr = validate_cpr(ident.get("value"), field)
            elif ident.get("system") == X_ECPR_SYSTEM:
                replacement = validate_x_ecpr(ident.get("value"), field)
        except ValidationFailed as exc:
            problems.extend(exc)
    return cpr, replacement, _name(patient)


def _focus(message: Message, header: dict[str, Any]) -> int:
    """The index of the Communication the MessageHeader focuses on."""
    focus = [message.resolve(ref, "Communication") for _, ref in dicts(header.get("focus"))]
    communication_index = next((i for i in focus if i is not None), None)
    if communication_index is None:
        raise structure_error(
            "Bundle.entry[0].resource.focus[0].reference",
            "the MessageHeader focus must reference the Communication in the Bundle",
            REQUIRED,
        )
    return communication_index


def _provenance(message: Message, header_id: str) -> dict[str, Any]:
    """The Provenance of this message: the one that targets its MessageHeader."""
    provenance = next(
        (
            message.resources[i]
            for i in message.of_type("Provenance")
            for _, target in dicts(message.resources[i].get("target"))
            if message.resolve(target, "MessageHeader") == 0 or referenced_id(target) == header_id
        ),
        None,
    )
    if provenance is None:
        raise structure_error(
            "Bundle.entry.resource.ofType(Provenance).target",
            "no Provenance targets this message's MessageHeader",
            REQUIRED,
        )
    return provenance


def _episodes(message: Message, communication: dict[str, Any]) -> list[EpisodeIdentifier]:
    """The episode-of-care identifiers of the Communication's Encounter (none without one)."""
    episodes: list[EpisodeIdentifier] = []
    encounter_index = message.resolve(communication.get("encounter"), "Encounter")
    if encounter_index is not None:
        for _, episode in dicts(message.resources[encounter_index].get("episodeOfCare")):
            ident = as_dict(episode.get("identifier")) or {}
            system, value = as_text(ident.get("system")), as_text(ident.get("value"))
            if system and value:
                episodes.append(EpisodeIdentifier(system, value))
    return episodes


def parse_care_communication(bundle_json: dict[str, Any]) -> CareCommunicationNotice:
    """Read a MedCom CareCommunication message Bundle (new, reply or forward)."""
    message = open_message(bundle_json, MedComEvent.CARE_COMMUNICATION)
    header = message.header()
    sender_index, _ = header_organization(
        message, header.get("sender"), "Bundle.entry[0].resource.sender"
    )
    destination_index, dest = primary_destination(message)
    receiver_index, _ = header_organization(
        message,
        dest.get("receiver"),
        f"Bundle.entry[0].resource.destination[{destination_index}].receiver",
    )
    communication_index = _focus(message, header)
    communication = message.resources[communication_index]
    header_id = must(as_text(header.get("id")), "Bundle.entry[0].resource.id")
    provenance = _provenance(message, header_id)
    activity = next((as_text(c.get("code")) for _, c in codings(provenance.get("activity"))), None)
    previous = next(
        (
            referenced_id(e.get("what"))
            for _, e in dicts(provenance.get("entity"))
            if e.get("role") == "revision"
        ),
        None,
    )

    problems = Problems()
    sent_at = parse_instant(
        message.bundle.get("timestamp"), "Bundle.timestamp", problems, required=True
    )
    sender = read_organization(message, sender_index, problems)
    receiver = read_organization(message, receiver_index, problems)
    category = _category(message, communication_index, problems)
    cpr, replacement, patient_name = _subject(message, communication_index, problems)
    episodes = _episodes(message, communication)
    segments = tuple(
        _segment(message, payload, problems, message.path(communication_index, f".payload[{k}]"))
        for k, payload in dicts(communication.get("payload"))
    )
    problems.raise_if_any()
    thread = next(
        (as_text(i.get("value")) for _, i in dicts(communication.get("identifier"))), None
    )
    return CareCommunicationNotice(
        message_id=header_id,
        bundle_id=as_text(message.bundle.get("id")),
        sent_at=must(sent_at, "Bundle.timestamp"),
        activity=activity or "",
        previous_message_id=previous,
        thread_id=thread,
        category=must(category, message.path(communication_index, ".category")),
        topic=as_text((as_dict(communication.get("topic")) or {}).get("text")),
        cpr=cpr,
        replacement_cpr=replacement,
        patient_name=patient_name,
        episode_identifiers=tuple(episodes),
        sender=MedComOrganization(
            sender.sor,
            sender.gln,
            sender.name,
            as_text((as_dict(header.get("source")) or {}).get("endpoint")),
        ),
        receiver=MedComOrganization(
            receiver.sor, receiver.gln, receiver.name, as_text(dest.get("endpoint"))
        ),
        segments=segments,
    )
