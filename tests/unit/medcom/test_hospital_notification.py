from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, NamedTuple

import pytest
from fhir.resources.R4B.bundle import Bundle

from fhir_adapters.medcom import (
    EncounterStatus,
    EpisodeIdentifier,
    HospitalNotice,
    HospitalNotificationActivity,
    MedComOrganization,
    MessageContentInvalid,
    MessageStructureInvalid,
    NoticeExpressions,
    parse_hospital_notification,
)
from pathways.errors import ValidationFailed
from pathways.stays import PathwayEventType
from tests.unit.medcom.support import (
    AALBORG,
    ACUTE_SOR,
    CENTRE,
    HOSPITAL_NOTIFICATIONS,
    KOBENHAVN,
    MSG,
    SOR_ENDPOINT,
    WARD_P3,
    load,
    resource,
)

A = HospitalNotificationActivity
E = PathwayEventType
S = EncounterStatus
LPR3 = "https://www.esundhed.dk/Registre/Landspatientregisteret"
BENTE_LPR3 = EpisodeIdentifier(LPR3, "urn:uuid:a3ce63e3-1e8a-5b34-ae3e-444968042726")
BENTE_LOCAL = EpisodeIdentifier(SOR_ENDPOINT + WARD_P3.sor, "45558f98-61cc-56a9-af6e-2af0b1a80cc0")
JONAS_LPR3 = EpisodeIdentifier(
    "https://www.esundhed.dk/Registre/Landspatientsregisteret",
    "urn:uuid:bfc6df41-5821-5f0f-9457-17843972c351",
)
METTE_LOCAL = EpisodeIdentifier(SOR_ENDPOINT + WARD_P3.sor, "0464a3f5-c8ee-58e6-9214-5173483ad092")
POUL_LPR3 = EpisodeIdentifier(LPR3, "urn:uuid:3c2dd48f-73ab-5938-b282-44231322cbf2")


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


class Expected(NamedTuple):
    message_id: str
    activity: HospitalNotificationActivity
    status: EncounterStatus
    occurred_at: datetime
    pathway_event: PathwayEventType
    cpr: str
    kommunekode: str | None
    episode: EpisodeIdentifier
    previous: str | None
    corrects: str | None
    sender_sor: str
    receiver_sor: str
    ward_sor: str


EXPECTED = {
    "admit-inpatient": Expected(
        MSG["A1"], A.ADMIT_INPATIENT, S.IN_PROGRESS, utc(2026, 3, 2, 9, 12), E.ADMITTED,
        "0101701234", "101", BENTE_LPR3, None, None, WARD_P3.sor, KOBENHAVN.sor, WARD_P3.sor,
    ),
    "revise-admit-inpatient": Expected(
        MSG["A2"], A.REVISE_ADMIT_INPATIENT, S.IN_PROGRESS, utc(2026, 3, 2, 8, 55), E.ADMITTED,
        "0101701234", "101", BENTE_LPR3, MSG["A1"], MSG["A1"], WARD_P3.sor, KOBENHAVN.sor,
        WARD_P3.sor,
    ),
    "start-leave-inpatient": Expected(
        MSG["A3"], A.START_LEAVE_INPATIENT, S.ON_LEAVE, utc(2026, 3, 6, 13, 0),
        E.LEAVE_STARTED, "0101701234", "101", BENTE_LPR3, MSG["A2"], None, WARD_P3.sor,
        KOBENHAVN.sor, WARD_P3.sor,
    ),
    "cancel-start-leave-inpatient": Expected(
        MSG["A3X"], A.CANCEL_START_LEAVE_INPATIENT, S.IN_PROGRESS, utc(2026, 3, 6, 13, 0),
        E.LEAVE_STARTED, "0101701234", "101", BENTE_LPR3, MSG["A3"], MSG["A3"], WARD_P3.sor,
        KOBENHAVN.sor, WARD_P3.sor,
    ),
    "end-leave-inpatient": Expected(
        MSG["A4"], A.END_LEAVE_INPATIENT, S.IN_PROGRESS, utc(2026, 3, 8, 17, 30), E.LEAVE_ENDED,
        "0101701234", "101", BENTE_LPR3, MSG["A3"], None, WARD_P3.sor, KOBENHAVN.sor,
        WARD_P3.sor,
    ),
    "discharge-inpatient-home": Expected(
        MSG["A5"], A.DISCHARGE_INPATIENT_HOME, S.FINISHED, utc(2026, 3, 20, 10, 0),
        E.DISCHARGED, "0101701234", "101", BENTE_LPR3, MSG["A4"], None, WARD_P3.sor,
        KOBENHAVN.sor, WARD_P3.sor,
    ),
    "revise-discharge-inpatient-home": Expected(
        MSG["A6"], A.REVISE_DISCHARGE_INPATIENT_HOME, S.FINISHED, utc(2026, 3, 20, 12, 30),
        E.DISCHARGED, "0101701234", "101", BENTE_LPR3, MSG["A5"], MSG["A5"], WARD_P3.sor,
        KOBENHAVN.sor, WARD_P3.sor,
    ),
    "admit-emergency": Expected(
        MSG["B1"], A.ADMIT_EMERGENCY, S.IN_PROGRESS, utc(2026, 4, 11, 0, 40), E.ADMITTED,
        "1502851118", "851", JONAS_LPR3, None, None, CENTRE.sor, AALBORG.sor, ACUTE_SOR,
    ),
    "cancel-admit-emergency": Expected(
        MSG["B1X"], A.CANCEL_ADMIT_EMERGENCY, S.ENTERED_IN_ERROR, utc(2026, 4, 11, 0, 40),
        E.ADMITTED, "1502851118", "851", JONAS_LPR3, MSG["B1"], MSG["B1"], CENTRE.sor,
        AALBORG.sor, ACUTE_SOR,
    ),
    "discharge-emergency-home": Expected(
        MSG["B2"], A.DISCHARGE_EMERGENCY_HOME, S.FINISHED, utc(2026, 4, 11, 7, 5), E.DISCHARGED,
        "1502851118", "851", JONAS_LPR3, MSG["B1"], None, CENTRE.sor, AALBORG.sor, ACUTE_SOR,
    ),
    # the Encounter no longer holds the cancelled discharge time: occurred_at is when it was cancelled
    "cancel-discharge-inpatient-home": Expected(
        MSG["C2X"], A.CANCEL_DISCHARGE_INPATIENT_HOME, S.IN_PROGRESS, utc(2026, 5, 4, 14, 2, 2),
        E.DISCHARGED, "2907624321", None, METTE_LOCAL, MSG["C2"], MSG["C2"], WARD_P3.sor,
        KOBENHAVN.sor, WARD_P3.sor,
    ),
    # MedCom "MORS": the current activity stays admit-inpatient, Encounter finished, Patient.deceased
    "deceased-inpatient": Expected(
        MSG["D2"], A.ADMIT_INPATIENT, S.FINISHED, utc(2026, 6, 9, 4, 45), E.DISCHARGED,
        "1203581234", "101", POUL_LPR3, MSG["D1"], None, WARD_P3.sor, KOBENHAVN.sor,
        WARD_P3.sor,
    ),
}  # fmt: skip


def test_the_fixture_table_covers_all_six_activities_and_corrections() -> None:
    assert set(EXPECTED) == set(HOSPITAL_NOTIFICATIONS)
    activities = {e.activity for e in EXPECTED.values()}
    assert {a for a in A if not a.is_revise and not a.is_cancel} <= activities
    assert sum(a.is_revise for a in activities) >= 2
    assert sum(a.is_cancel for a in activities) >= 2


@pytest.mark.parametrize("name", HOSPITAL_NOTIFICATIONS)
def test_every_fixture_is_valid_fhir_r4(name: str) -> None:
    Bundle.model_validate(load(name))


@pytest.mark.parametrize("name", HOSPITAL_NOTIFICATIONS)
def test_every_fixture_parses_to_the_expected_notice(name: str) -> None:
    notice = parse_hospital_notification(load(name))
    expected = EXPECTED[name]
    assert notice.message_id == expected.message_id
    assert notice.activity is expected.activity
    assert notice.encounter_status is expected.status
    assert notice.occurred_at == expected.occurred_at
    assert notice.occurred_at.tzinfo is UTC
    assert notice.pathway_event is expected.pathway_event
    assert notice.cpr == expected.cpr
    assert notice.kommunekode == expected.kommunekode
    assert notice.episode_of_care == expected.episode
    assert expected.episode in notice.episode_identifiers
    assert notice.previous_message_id == expected.previous
    assert notice.corrects_message_id == expected.corrects
    assert notice.sender.sor == expected.sender_sor
    assert notice.receiver.sor == expected.receiver_sor
    assert notice.ward_sor == expected.ward_sor
    # the acknowledgement goes back to the sender's SOR endpoint
    assert notice.sender.endpoint == SOR_ENDPOINT + expected.sender_sor


@pytest.mark.parametrize("name", HOSPITAL_NOTIFICATIONS)
def test_the_same_message_parses_identically_twice(name: str) -> None:
    bundle = load(name)
    first = parse_hospital_notification(bundle)
    assert parse_hospital_notification(bundle) == first
    assert parse_hospital_notification(load(name)) == first
    assert bundle == load(name)  # parsing does not touch its input


def test_the_admission_in_full() -> None:
    assert parse_hospital_notification(load("admit-inpatient")) == HospitalNotice(
        message_id=MSG["A1"],
        bundle_id="03adf2e3-6dfd-5ec9-bd3f-ec0579b334e6",
        sent_at=utc(2026, 3, 2, 9, 15, 1),
        activity=A.ADMIT_INPATIENT,
        occurred_at=utc(2026, 3, 2, 9, 12),
        encounter_status=S.IN_PROGRESS,
        encounter_class="IMP",
        stay_start=utc(2026, 3, 2, 9, 12),
        stay_end=None,
        leave_start=None,
        leave_end=None,
        cpr="0101701234",
        replacement_cpr=None,
        patient_name="Bente Testsen",
        patient_deceased=False,
        patient_confidential=False,
        kommunekode="101",
        episode_of_care=BENTE_LPR3,
        episode_identifiers=(BENTE_LPR3, BENTE_LOCAL),
        sender=MedComOrganization(
            WARD_P3.sor, WARD_P3.gln, WARD_P3.name, SOR_ENDPOINT + WARD_P3.sor
        ),
        receiver=MedComOrganization(
            KOBENHAVN.sor, KOBENHAVN.gln, KOBENHAVN.name, SOR_ENDPOINT + KOBENHAVN.sor
        ),
        previous_message_id=None,
        provenance_occurred_at=utc(2026, 3, 2, 9, 15, 2),
        ward_sor=WARD_P3.sor,
        ward_name=WARD_P3.name,
        report_of_admission_requested=True,
        expressions=NoticeExpressions(
            sender="Bundle.entry[4].resource.identifier",
            receiver="Bundle.entry[3].resource.identifier",
            patient="Bundle.entry[1].resource.identifier",
            patient_name="Bundle.entry[1].resource.name",
            address="Bundle.entry[1].resource.address",
            encounter="Bundle.entry[2].resource",
            episode="Bundle.entry[2].resource.episodeOfCare",
            ward="Bundle.entry[2].resource.serviceProvider",
            activity="Bundle.entry[5].resource.activity",
            corrects="Bundle.entry[5].resource.entity",
        ),
    )


def test_a_cancellation_names_where_the_message_it_cancels_is_referenced() -> None:
    cancel = parse_hospital_notification(load("cancel-admit-emergency"))
    assert cancel.expressions.corrects == "Bundle.entry[7].resource.entity[0].what"
    assert cancel.expressions.activity == "Bundle.entry[7].resource.activity"


def test_leave_and_stay_times_and_the_ward_are_reported() -> None:
    end_leave = parse_hospital_notification(load("end-leave-inpatient"))
    assert end_leave.leave_start == utc(2026, 3, 6, 13, 0)
    assert end_leave.leave_end == utc(2026, 3, 8, 17, 30)
    assert end_leave.stay_start == utc(2026, 3, 2, 8, 55)
    acute = parse_hospital_notification(load("admit-emergency"))
    assert acute.encounter_class == "EMER"
    assert acute.sender.name == CENTRE.name  # the centre sends; its acute unit is in charge
    assert acute.ward_name == "Psykiatrisk Akutmodtagelse Nordtest"
    assert acute.receiver.gln == AALBORG.gln  # given in the legacy urn:oid:1.3.88 system
    assert acute.patient_name == "Jonas Test Prøvesen"


def test_protected_and_deceased_patients_are_flagged() -> None:
    protected = parse_hospital_notification(load("cancel-discharge-inpatient-home"))
    assert protected.patient_confidential
    assert protected.kommunekode is None
    deceased = parse_hospital_notification(load("deceased-inpatient"))
    assert deceased.patient_deceased
    assert deceased.patient_died
    assert deceased.activity.pathway_event is E.ADMITTED  # the activity alone would mislead
    assert deceased.pathway_event is E.DISCHARGED


def test_activity_codes_know_their_base_kind_and_event() -> None:
    assert len(A) == 18
    assert A.REVISE_START_LEAVE_INPATIENT.base is A.START_LEAVE_INPATIENT
    assert A.CANCEL_DISCHARGE_EMERGENCY_HOME.base is A.DISCHARGE_EMERGENCY_HOME
    assert A.ADMIT_EMERGENCY.base is A.ADMIT_EMERGENCY
    assert A.REVISE_ADMIT_EMERGENCY.is_revise
    assert not A.REVISE_ADMIT_EMERGENCY.is_cancel
    assert A.CANCEL_END_LEAVE_INPATIENT.is_cancel
    assert {a.base for a in A} == {a for a in A if not a.is_revise and not a.is_cancel}
    assert {a.pathway_event for a in A} == {
        E.ADMITTED,
        E.LEAVE_STARTED,
        E.LEAVE_ENDED,
        E.DISCHARGED,
    }
    assert A.CANCEL_END_LEAVE_INPATIENT.pathway_event is E.LEAVE_ENDED
    assert A.CANCEL_END_LEAVE_INPATIENT.expected_status is S.ON_LEAVE
    assert A.CANCEL_ADMIT_INPATIENT.expected_status is S.ENTERED_IN_ERROR
    assert A.REVISE_DISCHARGE_INPATIENT_HOME.expected_status is S.FINISHED
    assert A.DISCHARGE_EMERGENCY_HOME.is_emergency


# ---------------------------------------------------------------- accepted variants
def test_a_replacement_cpr_and_the_dk_core_3_5_gln_system_are_accepted() -> None:
    bundle = load("admit-inpatient")
    patient = resource(bundle, "Patient")
    patient["identifier"] = [
        {"use": "temp", "system": "urn:oid:1.2.208.176.1.6.1.1", "value": "0101701XY2"}
    ]
    resource(bundle, "Organization", 1)["identifier"][1]["system"] = "http://www.gs1.org/gln"
    notice = parse_hospital_notification(bundle)
    assert notice.cpr is None
    assert notice.replacement_cpr == "0101701XY2"
    assert notice.sender.gln == WARD_P3.gln


def test_a_local_episode_identifier_alone_is_enough_and_foreign_ones_are_ignored() -> None:
    bundle = load("admit-inpatient")
    resource(bundle, "Encounter")["episodeOfCare"] = [
        {"identifier": {"system": "https://example.org/other-id", "value": "x"}},
        {"identifier": {"system": BENTE_LOCAL.system, "value": BENTE_LOCAL.value}},
    ]
    notice = parse_hospital_notification(bundle)
    assert notice.episode_of_care == BENTE_LOCAL
    assert notice.episode_identifiers == (BENTE_LOCAL,)
    assert notice.episode_of_care.local_sor == WARD_P3.sor


# ---------------------------------------------------------------- malformed messages
Mutation = Callable[[dict[str, Any]], Any]


def _set(path: str, value: object) -> Mutation:
    """Set bundle[...] along a dotted path of keys and list indices."""

    def mutate(bundle: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = bundle
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        if value is _DELETE:
            del node[int(last) if last.isdigit() else last]
        else:
            node[int(last) if last.isdigit() else last] = value

    return mutate


_DELETE = object()


def _swap_first_entries(bundle: dict[str, Any]) -> None:
    bundle["entry"][0], bundle["entry"][1] = bundle["entry"][1], bundle["entry"][0]


def _drop_provenance_targets(bundle: dict[str, Any]) -> None:
    for entry in bundle["entry"]:
        if entry["resource"]["resourceType"] == "Provenance":
            entry["resource"]["target"] = [{"reference": "MessageHeader/somebody-else"}]


def _second_patient(bundle: dict[str, Any]) -> None:
    bundle["entry"].append(
        {"fullUrl": "urn:uuid:p2", "resource": dict(resource(bundle, "Patient"))}
    )


# (fixture, mutation, error class, expected expression, FieldError.code)
STRUCTURAL = {
    "not a bundle": (
        "admit-inpatient", lambda b: b.update(resourceType="Patient"),
        "Bundle.resourceType", "structure",
    ),
    "not a message": (
        "admit-inpatient", _set("type", "collection"), "Bundle.type", "structure",
    ),
    "message header not first": (
        "admit-inpatient", _swap_first_entries,
        "Bundle.entry[0].resource.resourceType", "structure",
    ),
    "unknown event code": (
        "admit-inpatient", _set("entry.0.resource.eventCoding.code", "sygehusadvis"),
        "Bundle.entry[0].resource.eventCoding.code", "value-unknown",
    ),
    "another MedCom message": (
        "admit-inpatient",
        _set("entry.0.resource.eventCoding.code", "care-communication-message"),
        "Bundle.entry[0].resource.eventCoding.code", "unsupported-message-type",
    ),
    "no event": (
        "admit-inpatient", _set("entry.0.resource.eventCoding", _DELETE),
        "Bundle.entry[0].resource.eventCoding.code", "required",
    ),
    "no message id": (
        "admit-inpatient", _set("entry.0.resource.id", _DELETE),
        "Bundle.entry[0].resource.id", "structure",
    ),
    "no timestamp": (
        "admit-inpatient", _set("timestamp", _DELETE), "Bundle.timestamp", "required",
    ),
    "unknown activity code": (
        "admit-inpatient", _set("entry.5.resource.activity.coding.0.code", "admit-outpatient"),
        "Bundle.entry[5].resource.activity.coding[0].code", "value-unknown",
    ),
    "unknown resource type": (
        "admit-inpatient", _set("entry.1.resource.resourceType", "Borger"),
        "Bundle.entry[1].resource.resourceType", "structure",
    ),
    "unknown element": (
        "admit-inpatient", _set("entry.1.resource.cprNummer", "0101701234"),
        "Bundle.entry[1].resource.cprNummer", "structure",
    ),
    "timestamp without zone": (
        "admit-inpatient", _set("entry.2.resource.period.start", "2026-03-02T10:12:00"),
        "Bundle.entry[2].resource.period.start", "structure",
    ),
    "dangling sender": (
        "admit-inpatient", _set("entry.0.resource.sender.reference", "Organization/nowhere"),
        "Bundle.entry[0].resource.sender.reference", "structure",
    ),
    "no provenance for this message": (
        "revise-admit-inpatient", _drop_provenance_targets,
        "Bundle.entry.resource.ofType(Provenance).target", "required",
    ),
    "two patients": (
        "admit-inpatient", _second_patient,
        "Bundle.entry.where(resource.is(Patient))", "required",
    ),
    "focus is not the encounter": (
        "admit-emergency", _set("entry.0.resource.focus.0.reference", "urn:uuid:nothing"),
        "Bundle.entry[0].resource.focus[0].reference", "required",
    ),
}  # fmt: skip

CONTENT = {
    "an encounter class other than IMP or EMER": (
        "admit-inpatient", _set("entry.2.resource.class.code", "AMB"),
        "Bundle.entry[2].resource.class.code", "value-unknown",
    ),
    "CPR with an impossible date": (
        "admit-inpatient", _set("entry.1.resource.identifier.0.value", "3102701234"),
        "Bundle.entry[1].resource.identifier[0].value", "invalid",
    ),
    "no CPR": (
        "admit-inpatient", _set("entry.1.resource.identifier.0.system", "urn:oid:1.2.3"),
        "Bundle.entry[1].resource.identifier", "required",
    ),
    "no episode of care": (
        "admit-inpatient", _set("entry.2.resource.episodeOfCare", _DELETE),
        "Bundle.entry[2].resource.episodeOfCare.identifier", "required",
    ),
    "only a foreign episode identifier": (
        "admit-emergency", _set("entry.2.resource.episodeOfCare.0.identifier.system", "urn:x"),
        "Bundle.entry[2].resource.episodeOfCare[0].identifier.system", "required",
    ),
    "LPR3 id without urn:uuid": (
        "admit-emergency",
        _set("entry.2.resource.episodeOfCare.0.identifier.value", "bfc6df41-5821"),
        "Bundle.entry[2].resource.episodeOfCare[0].identifier.value", "invalid",
    ),
    "status that does not go with the activity": (
        "admit-inpatient", _set("entry.2.resource.status", "onleave"),
        "Bundle.entry[2].resource.status", "inconsistent",
    ),
    "status outside the HospitalNotification value set": (
        "admit-inpatient", _set("entry.2.resource.status", "arrived"),
        "Bundle.entry[2].resource.status", "value-unknown",
    ),
    "discharge without an end time": (
        "discharge-inpatient-home", _set("entry.2.resource.period.end", _DELETE),
        "Bundle.entry[2].resource.period.end", "required",
    ),
    "leave without a leave period": (
        "start-leave-inpatient", _set("entry.2.resource.extension", _DELETE),
        "Bundle.entry[2].resource.extension('http://medcomfhir.dk/ig/hospitalnotification/"
        "StructureDefinition/medcom-hospitalnotifiation-leave-period-extension')"
        ".valuePeriod.start", "required",
    ),
    "end of leave without its end": (
        "end-leave-inpatient", _set("entry.2.resource.extension.0.valuePeriod.end", _DELETE),
        "Bundle.entry[2].resource.extension[0].valuePeriod.end", "required",
    ),
    "date without a time": (
        "admit-inpatient", _set("entry.2.resource.period.start", "2026-03-02"),
        "Bundle.entry[2].resource.period.start", "invalid",
    ),
    "revision that names no previous message": (
        "revise-admit-inpatient", _set("entry.6.resource.entity", _DELETE),
        "Bundle.entry[6].resource.entity", "required",
    ),
    "GLN with a wrong check digit": (
        "admit-inpatient", _set("entry.4.resource.identifier.1.value", "5790000990116"),
        "Bundle.entry[4].resource.identifier[1].value", "invalid",
    ),
    "receiver without GLN": (
        "admit-inpatient", _set("entry.3.resource.identifier.1", _DELETE),
        "Bundle.entry[3].resource.identifier", "required",
    ),
    "unknown kommunekode": (
        "admit-inpatient",
        _set("entry.1.resource.address.0.extension.0.valueCodeableConcept.coding.0.code", "0999"),
        "Bundle.entry[1].resource.address[0].extension[0].valueCodeableConcept.coding[0].code",
        "invalid",
    ),
}  # fmt: skip


@pytest.mark.parametrize(
    ("fixture", "mutate", "field", "code"), STRUCTURAL.values(), ids=STRUCTURAL
)
def test_structurally_invalid_messages_name_the_element(
    fixture: str, mutate: Mutation, field: str, code: str
) -> None:
    bundle = load(fixture)
    mutate(bundle)
    with pytest.raises(MessageStructureInvalid) as caught:
        parse_hospital_notification(bundle)
    assert isinstance(caught.value, ValidationFailed)
    assert (field, code) in [(e.field, e.code) for e in caught.value.errors]


@pytest.mark.parametrize(("fixture", "mutate", "field", "code"), CONTENT.values(), ids=CONTENT)
def test_semantically_invalid_messages_name_the_element(
    fixture: str, mutate: Mutation, field: str, code: str
) -> None:
    bundle = load(fixture)
    mutate(bundle)
    with pytest.raises(MessageContentInvalid) as caught:
        parse_hospital_notification(bundle)
    assert [(e.field, e.code) for e in caught.value.errors] == [(field, code)]


def test_every_content_problem_is_reported_at_once() -> None:
    bundle = load("admit-inpatient")
    _set("entry.1.resource.identifier.0.value", "3102701234")(bundle)
    _set("entry.2.resource.episodeOfCare", _DELETE)(bundle)
    _set("entry.4.resource.identifier.0.value", "123")(bundle)
    with pytest.raises(MessageContentInvalid) as caught:
        parse_hospital_notification(bundle)
    assert caught.value.fields == (
        "Bundle.entry[4].resource.identifier[0].value",
        "Bundle.entry[1].resource.identifier[0].value",
        "Bundle.entry[2].resource.episodeOfCare.identifier",
    )


def test_that_not_even_json_objects_are_rejected_structurally() -> None:
    junk: object
    for junk in (None, [], "Bundle", {"resourceType": "Bundle", "type": "message"}):
        with pytest.raises(MessageStructureInvalid):
            parse_hospital_notification(junk)  # type: ignore[arg-type]
