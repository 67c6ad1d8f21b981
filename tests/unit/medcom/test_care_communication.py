from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle

from fhir_adapters.medcom import (
    AckCode,
    CareCommunicationAuthor,
    CareCommunicationCategory,
    CareCommunicationPatient,
    CareCommunicationSegment,
    EpisodeIdentifier,
    MedComOrganization,
    build_acknowledgement,
    build_care_communication,
    parse_acknowledgement,
    parse_care_communication,
)
from pathways.errors import ValidationFailed
from tests.unit.medcom.support import (
    CENTRE,
    KOBENHAVN,
    MSG,
    SOR_ENDPOINT,
    WARD_P3,
    load,
    resource,
)

NOW = datetime(2026, 3, 17, 14, 5, tzinfo=UTC)
MESSAGE_ID = "5a0c3b1e-9d2f-4e6a-8b7c-1f0e2d3c4b5a"
PATIENT = CareCommunicationPatient(family_name="Testsen", given_name="Bente", cpr="010170-1234")
AUTHOR = CareCommunicationAuthor(
    given_name="Lise",
    family_name="Plejersen",
    phone="+45 38640000",
    role_code="sygeplejerske",
)
EPISODE = EpisodeIdentifier(
    "https://www.esundhed.dk/Registre/Landspatientregisteret",
    "urn:uuid:a3ce63e3-1e8a-5b34-ae3e-444968042726",
)
TEXT = (
    "Udskrivningsaftale (psykiatriloven § 13 a) er vedhæftet i carepath.\n"
    "Forslag til netværksmøde torsdag kl. 10."
)
FHIR_BASE = "https://carepath.example/fhir"
CATEGORY_SYSTEM = (
    "http://medcomfhir.dk/ig/terminology/CodeSystem/medcom-careCommunication-categoryCodes"
)


def build(**overrides: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "message_id": MESSAGE_ID,
        "now": NOW,
        "sender": WARD_P3,
        "receiver": KOBENHAVN,
        "patient": PATIENT,
        "author": AUTHOR,
        "category": CareCommunicationCategory.PSYCHIATRY_SOCIAL_DISABILITY,
        "text": TEXT,
        "topic": "Udskrivningsaftale",
        "episode_of_care": EPISODE,
    }
    return build_care_communication(**(args | overrides))


def test_a_care_communication_message_bundle() -> None:
    bundle = build(fhir_base=FHIR_BASE)
    Bundle.model_validate(bundle)
    assert bundle["entry"][0]["fullUrl"] == f"{FHIR_BASE}/MessageHeader/{MESSAGE_ID}"
    assert bundle["type"] == "message"
    assert bundle["meta"]["profile"] == [
        "http://medcomfhir.dk/ig/carecommunication/StructureDefinition/medcom-careCommunication-message"
    ]
    header = bundle["entry"][0]["resource"]
    assert header["id"] == MESSAGE_ID
    assert header["eventCoding"]["code"] == "care-communication-message"
    assert header["definition"].endswith("MedComCareCommunicationMessageDefinition|5.0")
    assert header["destination"][0]["endpoint"] == SOR_ENDPOINT + KOBENHAVN.sor
    assert header["source"]["endpoint"] == SOR_ENDPOINT + WARD_P3.sor
    communication = resource(bundle, "Communication")
    assert header["focus"] == [{"reference": f"Communication/{communication['id']}"}]
    assert communication["status"] == "unknown"
    assert communication["category"] == [
        {"coding": [{"system": CATEGORY_SYSTEM, "code": "psychiatry-social-disability"}]}
    ]
    assert communication["topic"] == {"text": "Udskrivningsaftale"}
    assert communication["identifier"][0]["value"].startswith("urn:uuid:")
    [payload] = communication["payload"]
    assert payload["contentString"] == TEXT
    extensions = {e["url"].rsplit("/", 1)[1]: e for e in payload["extension"]}
    assert extensions["medcom-core-datetime-extension"]["valueDateTime"] == (
        "2026-03-17T14:05:00+00:00"
    )
    assert extensions["medcom-core-contact-extension"]["valueContactPoint"] == {
        "system": "phone",
        "value": "+45 38640000",
    }
    role = resource(bundle, "PractitionerRole")
    assert extensions["medcom-core-practitioner-extension"]["valueReference"] == {
        "reference": f"PractitionerRole/{role['id']}"
    }
    assert role["code"][0]["coding"][0]["code"] == "sygeplejerske"
    assert resource(bundle, "Practitioner")["name"] == [
        {"use": "official", "family": "Plejersen", "given": ["Lise"]}
    ]
    patient = resource(bundle, "Patient")
    assert patient["identifier"] == [
        {"use": "official", "system": "urn:oid:1.2.208.176.1.2", "value": "0101701234"}
    ]
    encounter = resource(bundle, "Encounter")
    assert communication["encounter"] == {"reference": f"Encounter/{encounter['id']}"}
    assert encounter["episodeOfCare"] == [
        {"identifier": {"system": EPISODE.system, "value": EPISODE.value}}
    ]
    organisations = [
        r["resource"] for r in bundle["entry"] if r["resource"]["resourceType"] == "Organization"
    ]
    assert {o["identifier"][0]["value"] for o in organisations} == {WARD_P3.sor, KOBENHAVN.sor}
    assert all(o["identifier"][1]["system"] == "https://www.gs1.org/gln" for o in organisations)
    provenance = resource(bundle, "Provenance")
    assert provenance["activity"]["coding"][0]["code"] == "new-message"
    assert provenance["target"] == [{"reference": f"MessageHeader/{MESSAGE_ID}"}]
    segment_id = extensions["medcom-core-identifier-extension"]["valueIdentifier"]["value"]
    assert segment_id.startswith("urn:uuid:")
    assert provenance["entity"] == [
        {"role": "source", "what": {"identifier": {"value": segment_id}}}
    ]


def test_build_then_parse_round_trips() -> None:
    bundle = build()
    notice = parse_care_communication(bundle)
    assert notice.message_id == MESSAGE_ID
    assert notice.activity == "new-message"
    assert notice.previous_message_id is None
    assert notice.category is CareCommunicationCategory.PSYCHIATRY_SOCIAL_DISABILITY
    assert notice.topic == "Udskrivningsaftale"
    assert notice.cpr == "0101701234"
    assert notice.patient_name == "Bente Testsen"
    assert notice.episode_identifiers == (EPISODE,)
    assert notice.sender == replace(WARD_P3, endpoint=SOR_ENDPOINT + WARD_P3.sor)
    assert notice.receiver == replace(KOBENHAVN, endpoint=SOR_ENDPOINT + KOBENHAVN.sor)
    assert notice.sent_at == NOW
    [segment] = notice.segments
    assert segment.text == TEXT
    assert segment.written_at == NOW
    assert segment.author_name == "Lise Plejersen"
    assert segment.author_role == "sygeplejerske"
    assert segment.author_organisation_sor == WARD_P3.sor
    assert segment.author_phone == "+45 38640000"
    assert notice.thread_id is not None
    # ... and its acknowledgement tells the outbox it was delivered
    ack = build_acknowledgement(
        notice,
        code=AckCode.OK,
        outcome=None,
        sender=KOBENHAVN,
        now=NOW,
        message_id="6b1d4c2f-0e3a-4f7b-9c8d-2a1f3e4d5c6b",
    )
    assert parse_acknowledgement(ack).acknowledged_message_id == MESSAGE_ID


def test_building_is_deterministic() -> None:
    assert build() == build()
    other = build(message_id="00000000-0000-4000-8000-000000000001")
    assert other["id"] != build()["id"]
    assert build(thread_id="urn:uuid:11111111-2222-4333-8444-555555555555") != build()


def test_optional_parts_and_an_author_of_another_organisation() -> None:
    author = replace(AUTHOR, role_code=None, role_text="Overlæge", organisation=CENTRE)
    patient = CareCommunicationPatient(family_name="Eksempel", replacement_cpr="0101701XY2")
    bundle = build(
        author=author,
        patient=patient,
        topic=None,
        episode_of_care=None,
        category="discharge",
    )
    Bundle.model_validate(bundle)
    types = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert "Encounter" not in types
    assert types.count("Organization") == 3
    assert resource(bundle, "PractitionerRole")["code"] == [{"text": "Overlæge"}]
    assert resource(bundle, "Patient")["identifier"][0]["use"] == "temp"
    notice = parse_care_communication(bundle)
    assert notice.replacement_cpr == "0101701XY2"
    assert notice.topic is None
    assert notice.segments[0].author_role == "Overlæge"
    assert notice.segments[0].author_organisation_sor == CENTRE.sor


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"patient": CareCommunicationPatient("Testsen", cpr="3102701234")}, "patient.cpr"),
        ({"patient": CareCommunicationPatient("Testsen")}, "patient.cpr"),
        ({"sender": replace(WARD_P3, gln="5790000990116")}, "sender.gln"),
        ({"receiver": MedComOrganization("123", "", "x")}, "receiver.sor"),
        ({"author": replace(AUTHOR, phone="ring til afsnittet")}, "author.phone"),
        ({"author": replace(AUTHOR, role_text="Sygeplejerske")}, "author.role_code"),
        ({"category": "chit-chat"}, "category"),
        ({"category": "other", "topic": None}, "topic"),
        ({"text": "  "}, "text"),
    ],
    ids=[
        "bad cpr", "no cpr", "bad gln", "bad sor", "bad phone", "role code and text",
        "unknown category", "other without topic", "no text",
    ],
)  # fmt: skip
def test_bad_input_is_refused_with_field_names(overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        build(**overrides)
    assert field in caught.value.fields


def test_a_reply_from_the_municipality_is_read() -> None:
    notice = parse_care_communication(load("care-communication-reply"))
    assert notice.message_id == MSG["CC2"]
    assert notice.activity == "reply-message"
    assert notice.previous_message_id == MSG["CC1"]
    assert notice.thread_id == "urn:uuid:89089d45-b14a-5491-833b-19f2cfb5a953"
    assert notice.category is CareCommunicationCategory.DISCHARGE
    assert notice.cpr == "0101701234"
    assert notice.sender.sor == KOBENHAVN.sor
    assert notice.receiver.sor == WARD_P3.sor
    assert notice.episode_identifiers == (EPISODE,)
    assert notice.segments[1] == CareCommunicationSegment(
        identifier="urn:uuid:c5c00c5d-d916-5703-a916-8358fafce06f",
        text="Tak. Vi kan deltage torsdag kl. 10. Bostøtten er klar fra udskrivelsesdagen.\n"
        "Mvh. Karin Sagsbehandlersen",
        attachment_title=None,
        written_at=datetime(2026, 3, 18, 12, 20, tzinfo=UTC),
        author_name="Karin Sagsbehandlersen",
        author_role="socialraadgiver",
        author_organisation_sor=KOBENHAVN.sor,
        author_phone="+4533660000",
    )
    assert notice.segments[0].author_name == "Lise Plejersen"
    assert parse_care_communication(load("care-communication-reply")) == notice


def _references(node: object, path: str = "") -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "reference" and isinstance(value, str):
                found.append((path, value))
            else:
                found += _references(value, f"{path}.{key}")
    elif isinstance(node, list):
        for item in node:
            found += _references(item, path)
    return found


@pytest.mark.parametrize("fhir_base", [None, FHIR_BASE], ids=["urn:uuid", "RESTful"])
def test_every_reference_inside_a_built_bundle_resolves(fhir_base: str | None) -> None:
    author = replace(AUTHOR, organisation=CENTRE)
    care = build(fhir_base=fhir_base, author=author)
    ack = build_acknowledgement(
        parse_care_communication(care),
        code=AckCode.FATAL_ERROR,
        outcome=None,
        sender=KOBENHAVN,
        now=NOW,
        message_id="6b1d4c2f-0e3a-4f7b-9c8d-2a1f3e4d5c6b",
        fhir_base=fhir_base,
    )
    for bundle in (care, ack):
        full_urls = {e["fullUrl"] for e in bundle["entry"]}
        for path, ref in _references(bundle["entry"]):
            if path.endswith("entity.what"):  # the previous message: outside the Bundle by design
                assert ref.startswith("MessageHeader/")
                continue
            target = f"{fhir_base}/{ref}" if fhir_base and not ref.startswith("urn:") else ref
            assert target in full_urls, (path, ref)
