"""Appointment from a network meeting (AppointmentRecord), read-only.

``status``: requested -> ``proposed``, scheduled -> ``booked``, held -> ``fulfilled``, cancelled ->
``cancelled`` (with ``cancelationReason.text``); ``description`` why it was asked for; ``created`` when;
``start`` the scheduled time, for a meeting held without one noon of the day it was held (Copenhagen), and
``end`` one hour later (carepath records no duration; FHIR wants both on a booked or fulfilled
appointment); ``participant``: the patient (accepted when the citizen took part, declined when not,
needs-action before the meeting) and each person named as taking part (``actor.display``: carepath keeps
names as written, not links to staff); ``comment`` the summary; the citizen's own words in the extension
``citizen-words`` (valueString); ``supportingInformation`` the stay (Encounter). The actions agreed are
not part of the Appointment: an overdue one is a Task (rule network_meeting_action_overdue).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from fhir.resources.R4B.appointment import Appointment as FhirAppointment
from pathways.clock import COPENHAGEN
from pathways.meetings import MeetingStatus

from fhir_adapters.common import (
    JSON,
    build,
    compact,
    extension_url,
    fhir_datetime,
    meta,
    reference,
)

CITIZEN_WORDS_EXTENSION = extension_url("citizen-words")
DEFAULT_LENGTH = timedelta(hours=1)
APPOINTMENT_STATUS: dict[MeetingStatus, str] = {
    MeetingStatus.REQUESTED: "proposed",
    MeetingStatus.SCHEDULED: "booked",
    MeetingStatus.HELD: "fulfilled",
    MeetingStatus.CANCELLED: "cancelled",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class AppointmentRecord:
    id: int
    patient_id: int
    status: MeetingStatus
    reason: str
    requested_at: datetime
    pathway_id: int | None = None
    scheduled_for: datetime | None = None
    held_on: date | None = None
    participants: tuple[str, ...] = ()
    citizen_took_part: bool | None = None
    citizen_words: str = ""
    summary: str = ""
    cancelled_reason: str = ""
    version: int | None = None
    updated_at: datetime | None = None


def _start(record: AppointmentRecord) -> datetime | None:
    if record.held_on is not None and (
        record.scheduled_for is None
        or record.scheduled_for.astimezone(COPENHAGEN).date() != record.held_on
    ):
        return datetime.combine(record.held_on, time(12), tzinfo=COPENHAGEN)
    return record.scheduled_for


def _patient_status(record: AppointmentRecord) -> str:
    if record.status is MeetingStatus.HELD:
        return "accepted" if record.citizen_took_part else "declined"
    return "needs-action"


def appointment_to_fhir(record: AppointmentRecord) -> FhirAppointment:
    start = _start(record)
    participants: list[JSON] = [
        {"actor": reference("Patient", record.patient_id), "status": _patient_status(record)}
    ]
    participants += [
        {"actor": {"display": name}, "status": "accepted"} for name in record.participants
    ]
    body = compact(
        {
            "resourceType": "Appointment",
            "id": str(record.id),
            "meta": meta(record.version, record.updated_at),
            "extension": [{"url": CITIZEN_WORDS_EXTENSION, "valueString": record.citizen_words}]
            if record.citizen_words
            else None,
            "status": APPOINTMENT_STATUS[record.status],
            "cancelationReason": {"text": record.cancelled_reason}
            if record.cancelled_reason
            else None,
            "description": record.reason,
            "supportingInformation": [reference("Encounter", record.pathway_id)]
            if record.pathway_id is not None
            else None,
            "start": fhir_datetime(start) if start is not None else None,
            "end": fhir_datetime(start + DEFAULT_LENGTH) if start is not None else None,
            "created": fhir_datetime(record.requested_at),
            "comment": record.summary,
            "participant": participants,
        }
    )
    return build(FhirAppointment, body)
