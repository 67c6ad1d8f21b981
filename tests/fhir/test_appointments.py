"""Network meetings as FHIR Appointments: read and search by patient through the meetings use cases
(refused for another municipality, audited), every status, the citizen's own words and the participants."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from coordinator.meetings import services as meetings
from fhir_adapters.appointment import CITIZEN_WORDS_EXTENSION
from pathways.clock import COPENHAGEN, FixedClock
from tests import scenario as sc
from tests.fhir.conftest import Login
from tests.fhir.support import ok, outcome


def test_meetings_are_appointments(
    world: sc.Scenario, login: Login, session: Session, clock: FixedClock
) -> None:
    requested = meetings.request_meeting(
        session, world.nurse, clock, patient_id=world.patient.id, reason="Bolig"
    )
    scheduled = meetings.request_meeting(
        session, world.nurse, clock, patient_id=world.patient.id, reason="Bostøtte"
    )
    meetings.schedule_meeting(
        session,
        world.nurse,
        clock,
        meeting_id=scheduled.id,
        scheduled_for=clock.now() + timedelta(days=2),
    )
    held = meetings.request_meeting(
        session, world.nurse, clock, patient_id=world.patient.id, reason="Udskrivelse"
    )
    meetings.record_meeting(
        session,
        world.nurse,
        clock,
        meeting_id=held.id,
        held_on=clock.now().astimezone(COPENHAGEN).date(),
        participants=["Mette Test", "Nurse"],
        citizen_took_part=True,
        citizen_words="Jeg vil hjem.",
        summary="Bostøtte aftalt.",
    )
    meetings.cancel_meeting(
        session, world.nurse, clock, meeting_id=requested.id, reason="Ikke længere nødvendigt"
    )
    session.commit()
    case_worker = login(world.case_worker)
    appointment = ok(case_worker.get(f"Appointment/{held.id}"))
    assert appointment["status"] == "fulfilled"
    assert appointment["description"] == "Udskrivelse"
    assert appointment["extension"] == [
        {"url": CITIZEN_WORDS_EXTENSION, "valueString": "Jeg vil hjem."}
    ]
    assert appointment["participant"] == [
        {"actor": {"reference": f"Patient/{world.patient.id}"}, "status": "accepted"},
        {"actor": {"display": "Mette Test"}, "status": "accepted"},
        {"actor": {"display": "Nurse"}, "status": "accepted"},
    ]
    assert appointment["supportingInformation"] == [{"reference": f"Encounter/{world.pathway.id}"}]
    assert appointment["start"] < appointment["end"]
    bundle = ok(case_worker.get(f"Appointment?patient=Patient/{world.patient.id}"))
    statuses = {e["resource"]["id"]: e["resource"]["status"] for e in bundle["entry"]}
    assert statuses == {
        str(requested.id): "cancelled",
        str(scheduled.id): "booked",
        str(held.id): "fulfilled",
    }
    assert sc.audit_entries(session, actor_id=world.case_worker.id, resource_type="NetworkMeeting")


def test_another_municipality_gets_the_refusal_an_unknown_id_gets(
    world: sc.Scenario, login: Login, session: Session, clock: FixedClock
) -> None:
    meeting = meetings.request_meeting(
        session, world.nurse, clock, patient_id=world.patient.id, reason="Bolig"
    )
    session.commit()
    stranger = login(world.other_case_worker)
    theirs = outcome(stranger.get(f"Appointment/{meeting.id}"), 403, "forbidden")
    unknown = outcome(stranger.get(f"Appointment/{meeting.id + 100}"), 403, "forbidden")
    assert theirs["issue"][0]["diagnostics"] == unknown["issue"][0]["diagnostics"]
    outcome(stranger.get("Appointment"), 400, "invalid")
