"""MedCom HospitalNotification in: every activity, revise and cancel, each message processed twice."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from coordinator.audit.models import AuditEntry
from coordinator.care_pathways.models import Pathway, PathwayEvent
from coordinator.messaging.models import InboundMessage
from coordinator.messaging.services import process_message
from coordinator.organisations.models import Organisation
from coordinator.organisations.services import create_organisation
from coordinator.patients.models import Patient
from coordinator.reminders.models import QueuedEvaluation
from fhir_adapters.medcom import AckCode, HospitalNotificationActivity, parse_acknowledgement
from pathways.audit import AuditOutcome
from pathways.clock import FixedClock
from pathways.people import Actor
from pathways.stays import EncounterClass, PathwayEventType, PathwayStatus
from tests import scenario as sc

A = HospitalNotificationActivity
FIXTURES = Path(__file__).parents[1] / "fixtures" / "medcom"
SYSTEM = Actor.system("medcom-gateway")
CONFIG = {"MESSAGING_SOR": "990000000000001", "MESSAGING_GLN": "5790000000012"}


def message(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text())


@pytest.fixture
def wards(session: Session, clock: FixedClock) -> dict[str, int]:
    def org(**kw: Any) -> int:
        return create_organisation(session, SYSTEM, clock, **kw).id

    region = org(name="Region Test", kind="region", region_code="DK-84")
    centre = org(
        name="PC Test", kind="psychiatric_centre", parent_id=region, sor_code="990101000016007"
    )
    return {
        "inpatient": org(
            name="Afsnit A", kind="ward", parent_id=centre, sor_code="990111000016009"
        ),
        "emergency": org(name="Akut", kind="ward", parent_id=centre, sor_code="990121000016000"),
    }


def send(session: Session, clock: FixedClock, name: str) -> tuple[AckCode, dict[str, Any]]:
    """Process a fixture twice: the second answer must be the first, and nothing may change."""
    body = message(name)
    first = process_message(session, SYSTEM, clock, body, CONFIG)
    events = session.scalar(sa.select(sa.func.count(PathwayEvent.id)))
    second = process_message(session, SYSTEM, clock, body, CONFIG)
    assert second.replayed
    assert second.acknowledgement == first.acknowledgement
    assert session.scalar(sa.select(sa.func.count(PathwayEvent.id))) == events
    ack = parse_acknowledgement(first.acknowledgement)
    assert ack.acknowledged_message_id == body["entry"][0]["resource"]["id"]
    return first.code, first.acknowledgement


def pathway_of(session: Session, cpr: str) -> Pathway:
    patient_id = session.scalar(sa.select(Patient.id).where(Patient.cpr == cpr))
    return session.scalars(sa.select(Pathway).where(Pathway.patient_id == patient_id)).one()


def live_events(session: Session, pathway: Pathway) -> list[PathwayEventType]:
    return list(
        session.scalars(
            sa.select(PathwayEvent.type)
            .where(PathwayEvent.pathway_id == pathway.id, PathwayEvent.is_annulled.is_(False))
            .order_by(PathwayEvent.occurred_at, PathwayEvent.id)
        )
    )


def test_an_inpatient_stay_from_admission_to_revised_discharge(
    session: Session, clock: FixedClock, wards: dict[str, int]
) -> None:
    assert send(session, clock, "admit-inpatient")[0] is AckCode.OK
    stay = pathway_of(session, "0101701234")
    assert stay.status is PathwayStatus.ADMITTED
    assert stay.ward_id == wards["inpatient"]
    assert stay.encounter_class is EncounterClass.INPATIENT
    assert stay.episode_value
    assert stay.episode_value.startswith("urn:uuid:")
    assert send(session, clock, "start-leave-inpatient")[0] is AckCode.OK
    assert stay.status is PathwayStatus.ON_LEAVE
    assert send(session, clock, "end-leave-inpatient")[0] is AckCode.OK
    assert stay.status is PathwayStatus.ADMITTED
    assert send(session, clock, "discharge-inpatient-home")[0] is AckCode.OK
    assert stay.status is PathwayStatus.DISCHARGED
    assert stay.discharged_at.isoformat() == "2026-03-20T10:00:00+00:00"
    assert send(session, clock, "revise-discharge-inpatient-home")[0] is AckCode.OK
    assert stay.discharged_at.isoformat() == "2026-03-20T12:30:00+00:00"
    assert send(session, clock, "revise-admit-inpatient")[0] is AckCode.OK
    assert stay.admitted_at.isoformat() == "2026-03-02T08:55:00+00:00"
    assert live_events(session, stay) == [
        PathwayEventType.ADMITTED,
        PathwayEventType.LEAVE_STARTED,
        PathwayEventType.LEAVE_ENDED,
        PathwayEventType.DISCHARGED,
    ]
    assert session.scalar(sa.select(sa.func.count(InboundMessage.id))) == 6
    # The gaps are evaluated by the scheduler, not in the message's transaction: queued once.
    session.commit()
    assert session.scalars(sa.select(QueuedEvaluation.pathway_id)).all() == [stay.id]


def test_a_cancelled_leave_is_undone(
    session: Session, clock: FixedClock, wards: dict[str, int]
) -> None:
    send(session, clock, "admit-inpatient")
    send(session, clock, "start-leave-inpatient")
    stay = pathway_of(session, "0101701234")
    assert len(stay.leave_periods) == 1
    assert send(session, clock, "cancel-start-leave-inpatient")[0] is AckCode.OK
    assert stay.status is PathwayStatus.ADMITTED
    assert stay.leave_periods == []
    assert live_events(session, stay) == [PathwayEventType.ADMITTED]


def test_an_emergency_admission_and_its_cancellation(
    session: Session, clock: FixedClock, wards: dict[str, int]
) -> None:
    assert send(session, clock, "admit-emergency")[0] is AckCode.OK
    stay = pathway_of(session, "1502851118")
    assert stay.ward_id == wards["emergency"]
    assert stay.encounter_class is EncounterClass.EMERGENCY  # as sent (EMER), not IMP
    assert pathway_of(session, "1502851118").encounter_class.value == "EMER"
    assert send(session, clock, "cancel-admit-emergency")[0] is AckCode.OK
    assert stay.status is PathwayStatus.CANCELLED


def test_cancelling_an_admission_after_the_discharge_is_refused(
    session: Session, clock: FixedClock, wards: dict[str, int]
) -> None:
    send(session, clock, "admit-emergency")
    assert send(session, clock, "discharge-emergency-home")[0] is AckCode.OK
    code, ack = send(session, clock, "cancel-admit-emergency")
    assert code is AckCode.FATAL_ERROR
    outcome = next(
        e["resource"] for e in ack["entry"] if e["resource"]["resourceType"] == "OperationOutcome"
    )
    assert "later events" in json.dumps(outcome)
    assert pathway_of(session, "1502851118").status is PathwayStatus.DISCHARGED


def test_a_death_discharges_the_patient(
    session: Session, clock: FixedClock, wards: dict[str, int]
) -> None:
    body = message("deceased-inpatient")
    code = process_message(session, SYSTEM, clock, body, CONFIG).code
    # The deceased message is an admit-* update of a stay we never heard of: nothing to discharge.
    assert code is AckCode.FATAL_ERROR


def test_an_unknown_ward_is_a_fatal_error_that_changes_nothing(
    session: Session, clock: FixedClock
) -> None:
    code, _ack = send(session, clock, "admit-inpatient")
    assert code is AckCode.FATAL_ERROR
    assert session.scalar(sa.select(sa.func.count(Patient.id))) == 0


def test_a_discharge_without_a_known_admission_is_a_fatal_error(
    session: Session, clock: FixedClock, wards: dict[str, int]
) -> None:
    assert send(session, clock, "discharge-inpatient-home")[0] is AckCode.FATAL_ERROR


def test_over_http(app: Flask, session: Session, clock: FixedClock, wards: dict[str, int]) -> None:
    from coordinator.accounts.services import create_staff_member

    app.extensions["carepath.clock"] = clock
    nurse = create_staff_member(
        session,
        SYSTEM,
        clock,
        organisation_id=wards["inpatient"],
        name="Nurse",
        role="discharge_nurse",
    )
    client = sc.log_in(app.test_client(), nurse.id, clock.now())
    url = "/fhir/$process-message"
    ok = client.post(url, json=message("admit-inpatient"))
    assert ok.status_code == 200
    assert ok.content_type.startswith("application/fhir+json")
    assert parse_acknowledgement(ok.json).code.value == "ok"
    # The emergency ward is not this nurse's: refused.
    other = client.post(url, json=message("admit-emergency"))
    assert other.status_code == 200
    assert parse_acknowledgement(other.json).code.value == "fatal-error"
    garbage = client.post(url, data="{", content_type="application/fhir+json")
    assert garbage.status_code == 400
    assert garbage.json["resourceType"] == "OperationOutcome"
    not_a_message = client.post(url, json={"resourceType": "Patient"})
    assert not_a_message.status_code == 400
    anonymous = app.test_client().post(url, json=message("admit-inpatient"))
    assert anonymous.status_code == 401


# ---------------------------------------------------------------- refusals (issue 17, items 1 and 5)
WARD_6202_SOR = "990131000016001"
CENTRE_SOR = "990101000016007"
P3_SOR = "990111000016009"


@pytest.fixture
def nurse_6202(session: Session, clock: FixedClock, wards: dict[str, int]) -> Actor:
    """A discharge nurse of another ward of the same centre."""
    from coordinator.accounts.services import actor_for, create_staff_member

    centre = session.get_one(Organisation, wards["inpatient"]).parent_id
    ward = create_organisation(
        session, SYSTEM, clock, name="6202", kind="ward", parent_id=centre, sor_code=WARD_6202_SOR
    )
    nurse = create_staff_member(
        session, SYSTEM, clock, organisation_id=ward.id, name="Nurse 6202", role="discharge_nurse"
    )
    return actor_for(nurse)


def resources(body: dict[str, Any], rtype: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in body["entry"] if e["resource"]["resourceType"] == rtype]


def sent_by(body: dict[str, Any], sor: str) -> dict[str, Any]:
    """The message with its sender Organization's SOR code replaced."""
    header = body["entry"][0]["resource"]
    sender_ref = header["sender"]["reference"]
    for entry in body["entry"]:
        resource = entry["resource"]
        ref = f"{resource['resourceType']}/{resource.get('id')}"
        if sender_ref in (entry.get("fullUrl"), ref, f"urn:uuid:{resource.get('id')}"):
            for ident in resource["identifier"]:
                if ident["system"] == "urn:oid:1.2.208.176.1.1":
                    ident["value"] = sor
    header["source"]["endpoint"] = f"https://sor2.sum.dsdn.dk/#id={sor}"
    return body


def with_cpr(body: dict[str, Any], cpr: str) -> dict[str, Any]:
    resources(body, "Patient")[0]["identifier"][0]["value"] = cpr
    return body


def renamed(body: dict[str, Any], message_id: str) -> dict[str, Any]:
    """The message under a new MessageHeader id (and its own Provenance pointing at it)."""
    old = body["entry"][0]["resource"]["id"]
    body["entry"][0]["resource"]["id"] = message_id
    for provenance in resources(body, "Provenance"):
        for target in provenance["target"]:
            target["reference"] = target["reference"].replace(old, message_id)
    for entry in body["entry"]:
        if entry["resource"]["resourceType"] == "MessageHeader":
            entry["fullUrl"] = entry["fullUrl"].replace(old, message_id)
    return body


def issues(ack: dict[str, Any]) -> list[tuple[str, str, list[str]]]:
    """(code, text, expression) of each issue of a fatal-error acknowledgement."""
    outcome = resources(ack, "OperationOutcome")[0]
    return [(i["code"], i["details"]["text"], i.get("expression", [])) for i in outcome["issue"]]


def state(session: Session, stay: Pathway) -> tuple[Any, ...]:
    session.refresh(stay)
    return (
        stay.status,
        stay.admitted_at,
        stay.discharged_at,
        stay.closed_at,
        stay.version,
        tuple(live_events(session, stay)),
        session.scalar(sa.select(sa.func.count(PathwayEvent.id))),
        session.scalar(sa.select(sa.func.count(Patient.id))),
    )


def denied(session: Session, message_id: str) -> list[AuditEntry]:
    return list(
        session.scalars(
            sa.select(AuditEntry).where(
                AuditEntry.resource_type == "Message",
                AuditEntry.resource_id == message_id,
                AuditEntry.outcome == AuditOutcome.DENIED,
            )
        )
    )


def refused(
    session: Session, clock: FixedClock, actor: Actor, body: dict[str, Any]
) -> tuple[AckCode, list[tuple[str, str, list[str]]]]:
    receipt = process_message(session, actor, clock, body, CONFIG)
    return receipt.code, issues(receipt.acknowledgement)


@pytest.mark.parametrize("sender", [WARD_6202_SOR, CENTRE_SOR], ids=["own-ward", "centre"])
def test_another_wards_stay_cannot_be_discharged(
    session: Session, clock: FixedClock, wards: dict[str, int], nurse_6202: Actor, sender: str
) -> None:
    assert send(session, clock, "admit-inpatient")[0] is AckCode.OK
    stay = pathway_of(session, "0101701234")
    before = state(session, stay)
    body = sent_by(message("discharge-inpatient-home"), sender)
    code, problems = refused(session, clock, nurse_6202, body)
    assert code is AckCode.FATAL_ERROR
    sender_name = {WARD_6202_SOR: "6202", CENTRE_SOR: "PC Test"}[sender]
    assert problems == [
        (
            "forbidden",
            f"the stay belongs to a ward that {sender_name} (SOR {sender}) does not send for",
            ["Bundle.entry[2].resource.episodeOfCare"],
        )
    ]
    assert state(session, stay) == before
    assert stay.status is PathwayStatus.ADMITTED
    [entry] = denied(session, body["entry"][0]["resource"]["id"])
    assert entry.patient_id == stay.patient_id
    assert entry.actor_name == "Nurse 6202"
    assert entry.details["expression"] == "Bundle.entry[2].resource.episodeOfCare"


def test_a_message_from_an_organisation_the_caller_does_not_act_for_is_refused(
    session: Session, clock: FixedClock, wards: dict[str, int], nurse_6202: Actor
) -> None:
    send(session, clock, "admit-inpatient")
    stay = pathway_of(session, "0101701234")
    before = state(session, stay)
    body = message("discharge-inpatient-home")  # sent as P3, a ward the nurse does not work for
    code, problems = refused(session, clock, nurse_6202, body)
    assert code is AckCode.FATAL_ERROR
    assert problems == [
        (
            "forbidden",
            f"Nurse 6202 does not send messages for Afsnit A (SOR {P3_SOR})",
            ["Bundle.entry[4].resource.identifier"],
        )
    ]
    assert state(session, stay) == before
    assert len(denied(session, body["entry"][0]["resource"]["id"])) == 1


def test_another_senders_message_cannot_be_cancelled(
    session: Session, clock: FixedClock, wards: dict[str, int], nurse_6202: Actor
) -> None:
    assert send(session, clock, "admit-emergency")[0] is AckCode.OK  # sent by the centre
    stay = pathway_of(session, "1502851118")
    before = state(session, stay)
    body = sent_by(message("cancel-admit-emergency"), WARD_6202_SOR)
    code, problems = refused(session, clock, nurse_6202, body)
    assert code is AckCode.FATAL_ERROR
    assert problems == [
        (
            "forbidden",
            "message ed508594-3035-5f57-ae07-278b3b545deb has another sender: "
            "only its sender may cancel it",
            ["Bundle.entry[7].resource.entity[0].what"],
        )
    ]
    assert state(session, stay) == before
    assert stay.status is PathwayStatus.ADMITTED
    [entry] = denied(session, body["entry"][0]["resource"]["id"])
    assert entry.patient_id == stay.patient_id


def test_a_cancellation_of_a_message_that_was_never_accepted_is_refused(
    session: Session, clock: FixedClock, wards: dict[str, int]
) -> None:
    send(session, clock, "admit-inpatient")
    body = message("cancel-start-leave-inpatient")  # its start-leave message never came
    code, problems = refused(session, clock, SYSTEM, body)
    assert code is AckCode.FATAL_ERROR
    assert problems == [
        (
            "business-rule",
            "message 85cfeb5b-f773-54b0-a2ee-c072b8042626 is not a HospitalNotification carepath "
            "accepted: there is nothing to cancel",
            ["Bundle.entry[8].resource.entity[0].what"],
        )
    ]
    assert len(denied(session, body["entry"][0]["resource"]["id"])) == 1


@pytest.mark.parametrize("name", ["admit-inpatient", "discharge-inpatient-home"])
def test_an_episode_id_of_another_patient_is_refused(
    session: Session, clock: FixedClock, wards: dict[str, int], name: str
) -> None:
    send(session, clock, "admit-inpatient")
    stay = pathway_of(session, "0101701234")
    before = state(session, stay)
    body = with_cpr(renamed(message(name), "0c4f4a36-0000-4000-8000-000000000001"), "1203581234")
    code, problems = refused(session, clock, SYSTEM, body)
    assert code is AckCode.FATAL_ERROR
    assert problems == [
        (
            "business-rule",
            "the episode of care urn:uuid:a3ce63e3-1e8a-5b34-ae3e-444968042726 belongs to another "
            "patient than the one in this message",
            ["Bundle.entry[1].resource.identifier"],
        )
    ]
    assert state(session, stay) == before  # no patient registered, no event recorded
    [entry] = denied(session, "0c4f4a36-0000-4000-8000-000000000001")
    assert entry.patient_id == stay.patient_id


def test_a_message_id_reused_for_other_content_is_refused(
    session: Session, clock: FixedClock, wards: dict[str, int]
) -> None:
    first = process_message(session, SYSTEM, clock, message("admit-inpatient"), CONFIG)
    assert first.code is AckCode.OK
    stay = pathway_of(session, "0101701234")
    before = state(session, stay)
    changed = message("admit-inpatient")
    resources(changed, "Encounter")[0]["period"]["start"] = "2026-03-01T10:12:00+01:00"
    code, problems = refused(session, clock, SYSTEM, changed)
    assert code is AckCode.FATAL_ERROR
    assert problems == [
        (
            "duplicate",
            "message id 5864b254-51cb-5987-bb12-ebb7563c95b1 was already used for a message with "
            "different content; a new message needs a new MessageHeader id",
            ["Bundle.entry[0].resource.id"],
        )
    ]
    assert state(session, stay) == before
    assert stay.admitted_at.isoformat() == "2026-03-02T09:12:00+00:00"
    [entry] = denied(session, "5864b254-51cb-5987-bb12-ebb7563c95b1")
    assert entry.patient_id == stay.patient_id
    # The first message is still the one behind the id: its resend gets its own answer again, also
    # when only the transmission (Bundle id and timestamp, narratives) differs.
    resent = message("admit-inpatient")
    resent["id"] = "8e9f1c1e-0000-4000-8000-000000000002"
    resent["timestamp"] = "2026-03-02T10:30:00+01:00"
    resources(resent, "Patient")[0]["text"]["div"] = (
        '<div xmlns="http://www.w3.org/1999/xhtml">x</div>'
    )
    again = process_message(session, SYSTEM, clock, resent, CONFIG)
    assert again.replayed
    assert again.acknowledgement == first.acknowledgement


def test_a_cancellation_must_match_the_activity_it_cancels(
    session: Session, clock: FixedClock, wards: dict[str, int]
) -> None:
    send(session, clock, "admit-inpatient")
    stay = pathway_of(session, "0101701234")
    before = state(session, stay)
    admit = message("admit-inpatient")
    # cancel-admit-emergency, otherwise in agreement: same sender, patient and episode as the admission
    body = with_cpr(sent_by(message("cancel-admit-emergency"), P3_SOR), "0101701234")
    resources(body, "Encounter")[0]["episodeOfCare"] = resources(admit, "Encounter")[0][
        "episodeOfCare"
    ]
    resources(body, "Provenance")[-1]["entity"][0]["what"]["reference"] = (
        "MessageHeader/5864b254-51cb-5987-bb12-ebb7563c95b1"
    )
    code, problems = refused(session, clock, SYSTEM, body)
    assert code is AckCode.FATAL_ERROR
    assert problems == [
        (
            "business-rule",
            "cancel-admit-emergency cannot cancel message 5864b254-51cb-5987-bb12-ebb7563c95b1, "
            "which is admit-inpatient",
            ["Bundle.entry[7].resource.activity"],
        )
    ]
    assert state(session, stay) == before
    assert stay.status is PathwayStatus.ADMITTED
    [entry] = denied(session, body["entry"][0]["resource"]["id"])
    assert entry.patient_id == stay.patient_id


def test_a_cancellation_must_name_the_episode_of_the_message_it_cancels(
    session: Session, clock: FixedClock, wards: dict[str, int]
) -> None:
    send(session, clock, "admit-emergency")
    send(session, clock, "admit-inpatient")
    emergency = pathway_of(session, "1502851118")
    before = state(session, emergency)
    body = message("cancel-admit-emergency")
    resources(body, "Encounter")[0]["episodeOfCare"] = resources(
        message("admit-inpatient"), "Encounter"
    )[0]["episodeOfCare"]
    code, problems = refused(session, clock, SYSTEM, body)
    assert code is AckCode.FATAL_ERROR
    assert problems == [
        (
            "business-rule",
            "the episode of care urn:uuid:a3ce63e3-1e8a-5b34-ae3e-444968042726 is not the stay of "
            "message ed508594-3035-5f57-ae07-278b3b545deb",
            ["Bundle.entry[2].resource.episodeOfCare"],
        )
    ]
    assert state(session, emergency) == before
    assert pathway_of(session, "0101701234").status is PathwayStatus.ADMITTED


def test_over_http_another_wards_discharge_is_refused_and_the_refusal_kept(
    app: Flask, session: Session, clock: FixedClock, wards: dict[str, int], nurse_6202: Actor
) -> None:

    app.extensions["carepath.clock"] = clock
    send(session, clock, "admit-inpatient")
    stay = pathway_of(session, "0101701234")
    client = sc.log_in(app.test_client(), nurse_6202.id, clock.now())
    body = sent_by(message("discharge-inpatient-home"), WARD_6202_SOR)
    answer = client.post("/fhir/$process-message", json=body)
    assert answer.status_code == 200
    assert parse_acknowledgement(answer.json).code is AckCode.FATAL_ERROR
    assert issues(answer.json)[0][0] == "forbidden"
    session.expire_all()
    assert session.get_one(Pathway, stay.id).status is PathwayStatus.ADMITTED
    [entry] = denied(session, body["entry"][0]["resource"]["id"])
    assert entry.channel != "cli"  # written in the request, committed with the answer
    assert entry.patient_id == stay.patient_id


# ---------------------------------------------------------------- the home municipality (issue 18, item 4)
def without_address(name: str) -> dict[str, Any]:
    body = message(name)
    del resources(body, "Patient")[0]["address"]
    return body


@pytest.mark.parametrize("known_by", ["sor", "gln"])
def test_without_an_address_the_municipality_is_the_receivers(
    session: Session, clock: FixedClock, wards: dict[str, int], known_by: str
) -> None:
    kobenhavn = create_organisation(
        session, SYSTEM, clock, name="Københavns Kommune", kind="municipality", kommunekode="101"
    )
    create_organisation(
        session,
        SYSTEM,
        clock,
        name="Sygehusadvis",
        kind="municipal_unit",
        parent_id=kobenhavn.id,
        **({"sor_code": "990211000016003"} if known_by == "sor" else {"gln": "5790000990214"}),
    )
    receipt = process_message(session, SYSTEM, clock, without_address("admit-inpatient"), CONFIG)
    assert receipt.code is AckCode.OK
    assert pathway_of(session, "0101701234").patient.kommunekode == "101"


def test_without_an_address_or_a_known_receiver_the_admission_is_refused(
    session: Session, clock: FixedClock, wards: dict[str, int]
) -> None:
    receipt = process_message(session, SYSTEM, clock, without_address("admit-inpatient"), CONFIG)
    assert receipt.code is AckCode.FATAL_ERROR
    assert issues(receipt.acknowledgement) == [
        (
            "required",
            "the patient's home municipality is required: neither the Patient's address nor the "
            "receiver (SOR 990211000016003, GLN 5790000990214) names one",
            ["Bundle.entry[1].resource.address"],
        )
    ]
    assert session.scalar(sa.select(sa.func.count(Patient.id))) == 0
    assert session.scalar(sa.select(sa.func.count(Pathway.id))) == 0


def test_an_unknown_ward_is_named_by_its_fhirpath(session: Session, clock: FixedClock) -> None:
    region = create_organisation(
        session, SYSTEM, clock, name="R", kind="region", region_code="DK-84"
    )
    create_organisation(
        session,
        SYSTEM,
        clock,
        name="PC",
        kind="psychiatric_centre",
        parent_id=region.id,
        sor_code=CENTRE_SOR,
    )
    receipt = process_message(session, SYSTEM, clock, message("admit-emergency"), CONFIG)
    assert issues(receipt.acknowledgement) == [
        (
            "value",
            "no ward with SOR 990121000016000 is registered in carepath",
            ["Bundle.entry[2].resource.serviceProvider"],
        )
    ]


# ---------------------------------------------------------------- readmissions and cancellations (issue 18, 6)
def readmission(start: str) -> dict[str, Any]:
    """Bente's next stay: a new admission message with a new episode of care, starting at ``start``."""
    body = renamed(message("admit-inpatient"), "f0e1d2c3-0000-4000-8000-000000000003")
    encounter = resources(body, "Encounter")[0]
    encounter["period"]["start"] = start
    encounter["episodeOfCare"] = [
        {
            "identifier": {
                "system": "https://www.esundhed.dk/Registre/Landspatientregisteret",
                "value": "urn:uuid:0b3c5d7e-1f2a-5b4c-8d6e-7f8091a2b3c4",
            }
        }
    ]
    return body


def test_a_readmission_before_the_previous_discharge_is_refused(
    session: Session, clock: FixedClock, wards: dict[str, int]
) -> None:
    send(session, clock, "admit-inpatient")
    send(session, clock, "discharge-inpatient-home")  # 2026-03-20T10:00Z
    first = pathway_of(session, "0101701234")
    before = state(session, first)
    receipt = process_message(
        session, SYSTEM, clock, readmission("2026-03-20T10:30:00+01:00"), CONFIG
    )
    assert receipt.code is AckCode.FATAL_ERROR
    assert issues(receipt.acknowledgement) == [
        (
            "business-rule",
            "the readmission at 2026-03-20T09:30:00+00:00 would start before the discharge from "
            f"the previous stay (pathway {first.id}) at 2026-03-20T10:00:00+00:00",
            ["Bundle.entry[2].resource.period.start"],
        )
    ]
    assert state(session, first) == before
    assert first.status is PathwayStatus.DISCHARGED
    assert session.scalar(sa.select(sa.func.count(Pathway.id))) == 1


def test_a_readmission_after_the_previous_discharge_closes_it(
    session: Session, clock: FixedClock, wards: dict[str, int]
) -> None:
    send(session, clock, "admit-inpatient")
    send(session, clock, "discharge-inpatient-home")
    first = pathway_of(session, "0101701234")
    receipt = process_message(
        session, SYSTEM, clock, readmission("2026-03-20T11:00:00+01:00"), CONFIG
    )
    assert receipt.code is AckCode.OK
    second = session.get_one(Pathway, receipt.pathway_id)
    assert second.readmission_of_id == first.id
    assert second.admitted_at.isoformat() == "2026-03-20T10:00:00+00:00"
    assert first.closed_at == second.admitted_at


def cancel_of(name: str, message_id: str) -> dict[str, Any]:
    """The cancel-* message of the fixture ``name``: same stay, sender and patient; the Encounter back in
    the state before the event (MedCom's code overview); the new Provenance removes the earlier message."""
    original = message(name)
    earlier_id = original["entry"][0]["resource"]["id"]
    body = renamed(original, message_id)
    activity = A(resources(body, "Provenance")[-1]["activity"]["coding"][0]["code"])
    cancel = A(f"cancel-{activity.base}")
    encounter = resources(body, "Encounter")[0]
    encounter["status"] = cancel.expected_status.value
    encounter["period"].pop("end", None)
    provenance = resources(body, "Provenance")[-1]
    provenance["activity"]["coding"][0]["code"] = cancel.value
    provenance["entity"] = [
        {"role": "removal", "what": {"reference": f"MessageHeader/{earlier_id}"}}
    ]
    return body


CANCELS = {
    # base message: (the messages before it, pathway status after its cancellation)
    "admit-inpatient": ((), PathwayStatus.CANCELLED),
    "admit-emergency": ((), PathwayStatus.CANCELLED),
    "start-leave-inpatient": (("admit-inpatient",), PathwayStatus.ADMITTED),
    "end-leave-inpatient": (("admit-inpatient", "start-leave-inpatient"), PathwayStatus.ON_LEAVE),
    "discharge-inpatient-home": (
        ("admit-inpatient", "start-leave-inpatient", "end-leave-inpatient"),
        PathwayStatus.ADMITTED,
    ),
    "discharge-emergency-home": (("admit-emergency",), PathwayStatus.ADMITTED),
}


@pytest.mark.parametrize("name", CANCELS)
def test_every_activity_can_be_cancelled_by_its_sender(
    session: Session, clock: FixedClock, wards: dict[str, int], name: str
) -> None:
    earlier, status = CANCELS[name]
    for before in (*earlier, name):
        assert send(session, clock, before)[0] is AckCode.OK
    cpr = resources(message(name), "Patient")[0]["identifier"][0]["value"]
    stay = pathway_of(session, cpr)
    events = live_events(session, stay)
    body = cancel_of(name, "c0c0c0c0-0000-4000-8000-000000000004")
    receipt = process_message(session, SYSTEM, clock, body, CONFIG)
    assert receipt.code is AckCode.OK, receipt.acknowledgement
    session.refresh(stay)
    assert stay.status is status
    if status is PathwayStatus.CANCELLED:
        assert live_events(session, stay) == [PathwayEventType.CANCELLED]
    else:
        assert live_events(session, stay) == events[:-1]
    assert stay.discharged_at is None
    # ... and a cancellation under another activity's code is refused
    stay_before = state(session, stay)
    wrong = cancel_of(name, "c0c0c0c0-0000-4000-8000-000000000005")
    other = next(a for a in A if a.is_cancel and a.base is not A(name))
    resources(wrong, "Provenance")[-1]["activity"]["coding"][0]["code"] = other.value
    resources(wrong, "Encounter")[0]["status"] = other.expected_status.value
    code, problems = refused(session, clock, SYSTEM, wrong)
    assert code is AckCode.FATAL_ERROR
    assert problems[0][0] == "business-rule"
    assert f"{other} cannot cancel message" in problems[0][1]
    assert state(session, stay) == stay_before
