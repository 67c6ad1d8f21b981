from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle

from fhir_adapters.medcom import (
    AckCode,
    AckIssue,
    MedComEvent,
    MessageContentInvalid,
    MessageStructureInvalid,
    build_acknowledgement,
    issues_from_error,
    parse_acknowledgement,
    parse_hospital_notification,
    read_envelope,
    salvage_envelope,
)
from tests.unit.medcom.support import (
    HOSPITAL_NOTIFICATIONS,
    KOBENHAVN,
    MSG,
    SOR_ENDPOINT,
    WARD_P3,
    load,
    resource,
)

NOW = datetime(2026, 3, 2, 9, 15, 30, tzinfo=UTC)
ACK_ID = "0d3e9a4c-8f5b-4f7a-9c1e-2b6d8a0f4e11"
US = KOBENHAVN  # a municipality acknowledging the hospital's notification
ERROR_CODES = "http://medcomfhir.dk/ig/terminology/CodeSystem/medcom-acknowledgement-error-codes"


def entries(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"]]


def test_an_ok_acknowledgement_of_a_hospital_notification() -> None:
    notice = parse_hospital_notification(load("admit-inpatient"))
    ack = build_acknowledgement(
        notice, code=AckCode.OK, outcome=None, sender=US, now=NOW, message_id=ACK_ID
    )
    Bundle.model_validate(ack)  # valid R4(B)
    assert ack["type"] == "message"
    assert ack["timestamp"] == "2026-03-02T09:15:30+00:00"
    header = ack["entry"][0]["resource"]
    assert header["resourceType"] == "MessageHeader"
    assert header["id"] == ACK_ID
    assert header["eventCoding"] == {
        "system": "http://medcomfhir.dk/ig/terminology/CodeSystem/medcom-messaging-eventCodes",
        "code": "acknowledgement-message",
    }
    assert header["response"] == {"identifier": MSG["A1"], "code": "ok"}
    assert header["source"] == {"endpoint": SOR_ENDPOINT + US.sor}
    # it goes back to the notification's source endpoint, addressed to its sender
    assert header["destination"][0]["endpoint"] == SOR_ENDPOINT + WARD_P3.sor
    assert header["destination"][0]["extension"][0]["valueCoding"]["code"] == "primary"
    types = [r["resourceType"] for r in entries(ack)]
    assert types == ["MessageHeader", "Organization", "Organization", "Provenance"]
    organisations = {
        r["identifier"][0]["value"]: r for r in entries(ack) if r["resourceType"] == "Organization"
    }
    assert set(organisations) == {US.sor, WARD_P3.sor}
    assert organisations[WARD_P3.sor]["identifier"][1] == {
        "use": "official",
        "system": "https://www.gs1.org/gln",
        "value": WARD_P3.gln,
    }
    provenance = resource(ack, "Provenance")
    assert provenance["activity"]["coding"][0]["code"] == "acknowledgement"
    assert provenance["target"] == [{"reference": f"urn:uuid:{ACK_ID}"}]  # inside the Bundle
    assert provenance["entity"] == [
        {"role": "revision", "what": {"reference": f"MessageHeader/{MSG['A1']}"}}
    ]


@pytest.mark.parametrize("name", HOSPITAL_NOTIFICATIONS)
def test_build_then_parse_round_trips(name: str) -> None:
    notice = parse_hospital_notification(load(name))
    ack = build_acknowledgement(
        notice, code="ok", outcome=None, sender=US, now=NOW, message_id=ACK_ID
    )
    receipt = parse_acknowledgement(ack)
    assert receipt.message_id == ACK_ID
    assert receipt.acknowledged_message_id == notice.message_id
    assert receipt.code is AckCode.OK
    assert receipt.delivered
    assert receipt.issues == ()
    assert receipt.sent_at == NOW
    assert receipt.sender is not None
    assert (receipt.sender.sor, receipt.sender.gln) == (US.sor, US.gln)


def test_a_fatal_error_for_a_message_we_could_not_accept() -> None:
    bundle = load("admit-inpatient")
    resource(bundle, "Patient")["identifier"][0]["value"] = "3102701234"
    with pytest.raises(MessageContentInvalid) as caught:
        parse_hospital_notification(bundle)
    envelope = salvage_envelope(bundle)
    assert envelope is not None
    issues = issues_from_error(caught.value)
    ack = build_acknowledgement(
        envelope, code=AckCode.FATAL_ERROR, outcome=issues, sender=US, now=NOW, message_id=ACK_ID
    )
    Bundle.model_validate(ack)
    header = ack["entry"][0]["resource"]
    outcome = resource(ack, "OperationOutcome")
    assert header["response"]["code"] == "fatal-error"
    assert header["response"]["details"] == {"reference": f"urn:uuid:{outcome['id']}"}
    assert outcome["issue"] == [
        {
            "severity": "error",
            "code": "value",
            "details": {"text": "CPR number 310270-XXXX does not start with a valid birth date"},
            "expression": ["Bundle.entry[1].resource.identifier[0].value"],
        }
    ]
    receipt = parse_acknowledgement(ack)
    assert receipt.code is AckCode.FATAL_ERROR
    assert not receipt.delivered
    assert list(receipt.issues) == issues


def test_issues_carry_medcom_codes_where_there_is_one() -> None:
    bundle = load("admit-inpatient")
    bundle["entry"][0]["resource"]["eventCoding"]["code"] = "care-communication-message"
    with pytest.raises(MessageStructureInvalid) as caught:
        parse_hospital_notification(bundle)
    [issue] = issues_from_error(caught.value)
    assert issue.code == "not-supported"
    assert issue.details_code == "MSG_RECEIVER_UNABLE_TO_RECEIVE_MSG_TYPE"
    ack = build_acknowledgement(
        read_envelope(bundle),
        code=AckCode.FATAL_ERROR,
        outcome=[issue],
        sender=US,
        now=NOW,
        message_id=ACK_ID,
    )
    coding = resource(ack, "OperationOutcome")["issue"][0]["details"]["coding"]
    assert coding == [{"system": ERROR_CODES, "code": "MSG_RECEIVER_UNABLE_TO_RECEIVE_MSG_TYPE"}]


def test_acknowledging_a_bare_message_id_when_nothing_could_be_read() -> None:
    ack = build_acknowledgement(
        "1b0e1f8e-7a43-4c55-9f0e-3c1b9f2d6a77",
        code=AckCode.FATAL_ERROR,
        outcome=[AckIssue(severity="error", code="structure", text="not JSON")],
        sender=US,
        now=NOW,
        message_id=ACK_ID,
    )
    Bundle.model_validate(ack)
    header = ack["entry"][0]["resource"]
    assert "destination" not in header  # we do not know whom to address
    assert header["response"]["identifier"] == "1b0e1f8e-7a43-4c55-9f0e-3c1b9f2d6a77"
    receipt = parse_acknowledgement(ack)
    assert receipt.acknowledged_message_id == "1b0e1f8e-7a43-4c55-9f0e-3c1b9f2d6a77"
    assert receipt.issues[0].text == "not JSON"


def test_a_known_receiver_can_be_given_for_a_bare_id() -> None:
    ack = build_acknowledgement(
        MSG["A1"],
        code=AckCode.TRANSIENT_ERROR,
        outcome=None,
        sender=US,
        now=NOW,
        message_id=ACK_ID,
        receiver=WARD_P3,
    )
    Bundle.model_validate(ack)
    header = ack["entry"][0]["resource"]
    assert header["destination"][0]["endpoint"] == SOR_ENDPOINT + WARD_P3.sor
    issue = resource(ack, "OperationOutcome")["issue"][0]
    assert issue["code"] == "transient"  # an error code always comes with an OperationOutcome


def test_salvage_finds_what_it_can_and_never_raises() -> None:
    assert salvage_envelope(None) is None
    assert salvage_envelope("garbage") is None
    assert salvage_envelope({"resourceType": "Bundle", "entry": "x"}) is None
    assert salvage_envelope({"entry": [{"resource": {"resourceType": "MessageHeader"}}]}) is None
    broken = load("discharge-emergency-home")
    broken["type"] = "collection"
    broken["entry"].insert(0, broken["entry"].pop(3))  # MessageHeader no longer first
    envelope = salvage_envelope(broken)
    assert envelope is not None
    assert envelope.message_id == MSG["B2"]
    assert envelope.sender is not None
    assert envelope.sender.sor == "990101000016007"
    assert envelope.sender.endpoint == SOR_ENDPOINT + "990101000016007"


def test_read_envelope_dispatches_every_fixture() -> None:
    assert read_envelope(load("admit-inpatient")).event == MedComEvent.HOSPITAL_NOTIFICATION
    assert read_envelope(load("acknowledgement-ok")).event == MedComEvent.ACKNOWLEDGEMENT
    envelope = read_envelope(load("care-communication-reply"))
    assert envelope.event == MedComEvent.CARE_COMMUNICATION
    assert envelope.message_id == MSG["CC2"]
    assert envelope.sent_at == datetime(2026, 3, 18, 12, 20, 1, tzinfo=UTC)
    assert envelope.receiver is not None
    assert envelope.receiver.sor == WARD_P3.sor
    with pytest.raises(MessageStructureInvalid) as caught:
        read_envelope({"resourceType": "Bundle", "type": "message", "entry": []})
    assert caught.value.fields == ("Bundle.entry[0].resource.resourceType",)


def test_the_published_style_acknowledgements_parse() -> None:
    ok = parse_acknowledgement(load("acknowledgement-ok"))
    assert (ok.message_id, ok.acknowledged_message_id, ok.code) == (
        MSG["K1"],
        MSG["CC1"],
        AckCode.OK,
    )
    assert ok.sender is not None
    assert ok.sender.sor == KOBENHAVN.sor
    failed = parse_acknowledgement(load("acknowledgement-fatal-error"))
    assert failed.code is AckCode.FATAL_ERROR
    assert failed.issues == (
        AckIssue(
            severity="error",
            code="code-invalid",
            text="Ukendt kategori",
            details_code="MSG_VALUESET_VALUE_UNKNOWN",
            details_system=ERROR_CODES,
            expression=("Bundle.entry[2].resource.category[0].coding[0].code",),
        ),
    )
    assert parse_acknowledgement(load("acknowledgement-ok")) == ok  # deterministic


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda h: h.pop("response"), "Bundle.entry[0].resource.response"),
        (lambda h: h["response"].update(code="maybe"), "Bundle.entry[0].resource.response.code"),
        (lambda h: h["eventCoding"].update(code="empty-message"), "Bundle.entry[0].resource.eventCoding.code"),
    ],
    ids=["no response", "unknown response code", "not an acknowledgement"],
)  # fmt: skip
def test_malformed_acknowledgements(mutate: Any, field: str) -> None:
    bundle = load("acknowledgement-ok")
    mutate(bundle["entry"][0]["resource"])
    with pytest.raises(MessageStructureInvalid) as caught:
        parse_acknowledgement(bundle)
    assert field in caught.value.fields


def test_building_is_deterministic_and_checks_its_input() -> None:
    notice = parse_hospital_notification(load("admit-emergency"))
    local = timezone(timedelta(hours=2))
    args: dict[str, Any] = {"outcome": None, "sender": US, "message_id": ACK_ID}
    first = build_acknowledgement(notice, code="ok", now=NOW.astimezone(local), **args)
    assert build_acknowledgement(notice, code="ok", now=NOW.astimezone(local), **args) == first
    assert first["timestamp"] == "2026-03-02T11:15:30+02:00"
    other = build_acknowledgement(
        notice, code="ok", now=NOW, outcome=None, sender=US, message_id=MSG["K1"]
    )
    assert other["id"] != first["id"]
    with pytest.raises(ValueError, match="timezone-aware"):
        build_acknowledgement(notice, code="ok", now=datetime(2026, 3, 2, 10, 0), **args)  # noqa: DTZ001
    with pytest.raises(ValueError, match="no OperationOutcome"):
        build_acknowledgement(
            notice,
            code="ok",
            outcome=[AckIssue("warning", "informational")],
            sender=US,
            now=NOW,
            message_id=ACK_ID,
        )
    with pytest.raises(ValueError, match="fatal"):
        build_acknowledgement(notice, code="fatal", now=NOW, **args)


def test_no_destination_when_the_sender_cannot_be_addressed() -> None:
    bundle = load("admit-inpatient")
    sender = resource(bundle, "Organization", 1)
    sender["identifier"] = []
    del bundle["entry"][0]["resource"]["source"]
    envelope = salvage_envelope(bundle)
    assert envelope is not None
    assert envelope.sender is not None
    assert envelope.sender.sor == ""
    ack = build_acknowledgement(
        envelope,
        code=AckCode.FATAL_ERROR,
        outcome=None,
        sender=US,
        now=NOW,
        message_id=ACK_ID,
    )
    Bundle.model_validate(ack)
    assert "destination" not in ack["entry"][0]["resource"]
    assert [r["resourceType"] for r in entries(ack)] == [
        "MessageHeader",
        "Organization",
        "Provenance",
        "OperationOutcome",
    ]
