"""MedCom HospitalNotification in: every activity, revise and cancel, each message processed twice."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from coordinator.care_pathways.models import Pathway, PathwayEvent
from coordinator.messaging.models import InboundMessage
from coordinator.messaging.services import process_message
from coordinator.organisations.services import create_organisation
from coordinator.patients.models import Patient
from coordinator.reminders.models import QueuedEvaluation
from fhir_adapters.medcom import AckCode, parse_acknowledgement
from pathways.clock import FixedClock
from pathways.people import Actor
from pathways.stays import PathwayEventType, PathwayStatus

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
    from coordinator.security import LAST_SEEN_KEY

    app.extensions["carepath.clock"] = clock
    nurse = create_staff_member(
        session,
        SYSTEM,
        clock,
        organisation_id=wards["inpatient"],
        name="Nurse",
        role="discharge_nurse",
    )
    client = app.test_client()
    with client.session_transaction() as cookie:
        cookie["_user_id"] = str(nurse.id)
        cookie["_fresh"] = True
        cookie[LAST_SEEN_KEY] = clock.now().timestamp()
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
