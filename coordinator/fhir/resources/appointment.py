"""Appointment: a patient's network meetings (read and search by patient), read through the meetings use
cases (the care relation gate and the audit are theirs)."""

from __future__ import annotations

from coordinator.fhir.core import JSON, Context, SearchQuery, SearchResult, bad_search, int_id
from coordinator.fhir.search import page_after, reference_ids
from coordinator.meetings.models import NetworkMeeting
from coordinator.meetings.services import get_meeting, list_patient_meetings
from fhir_adapters.appointment import AppointmentRecord, appointment_to_fhir
from fhir_adapters.common import to_json


def appointment_json(meeting: NetworkMeeting) -> JSON:
    return to_json(
        appointment_to_fhir(
            AppointmentRecord(
                id=meeting.id,
                patient_id=meeting.patient_id,
                status=meeting.status,
                reason=meeting.reason,
                requested_at=meeting.requested_at,
                pathway_id=meeting.pathway_id,
                scheduled_for=meeting.scheduled_for,
                held_on=meeting.held_on,
                participants=tuple(str(p) for p in meeting.participants),
                citizen_took_part=meeting.citizen_took_part,
                citizen_words=meeting.citizen_words,
                summary=meeting.summary,
                cancelled_reason=meeting.cancelled_reason,
                version=meeting.version,
                updated_at=meeting.updated_at,
            )
        )
    )


def read(ctx: Context, rid: str) -> JSON:
    meeting = get_meeting(ctx.session, ctx.actor, ctx.clock, meeting_id=int_id("Appointment", rid))
    return appointment_json(meeting)


def search(ctx: Context, query: SearchQuery) -> SearchResult:
    wanted = reference_ids(query, "patient", "Patient")
    if wanted is None:
        raise bad_search("searches for network meetings need patient")
    meetings = [
        meeting
        for patient_id in sorted(wanted)
        for meeting in list_patient_meetings(
            ctx.session, ctx.actor, ctx.clock, patient_id=patient_id
        ).meetings
    ]
    page, cursor = page_after(meetings, lambda meeting: str(meeting.id), query)
    return SearchResult([appointment_json(meeting) for meeting in page], next_cursor=cursor)
