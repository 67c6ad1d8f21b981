"""The care pathway (forløb) of one hospital stay or episode, and the events that move it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from pathways.errors import IllegalTransition


class PathwayStatus(StrEnum):
    ADMITTED = "admitted"
    ON_LEAVE = "on_leave"
    DISCHARGED = "discharged"
    CLOSED = "closed"  # follow-up done or the episode ended; kept for history and indicators
    CANCELLED = "cancelled"  # entered in error (a cancelled admission)

    @property
    def is_open(self) -> bool:
        return self in (PathwayStatus.ADMITTED, PathwayStatus.ON_LEAVE, PathwayStatus.DISCHARGED)


class EncounterClass(StrEnum):
    """The kind of stay, as HL7 v3 ActCode (Encounter.class): inpatient or acute ambulant (emergency)."""

    INPATIENT = "IMP"
    EMERGENCY = "EMER"

    @property
    def display(self) -> str:
        return "inpatient encounter" if self is EncounterClass.INPATIENT else "emergency"


class PathwayEventType(StrEnum):
    ADMITTED = "admitted"
    LEAVE_STARTED = "leave_started"
    LEAVE_ENDED = "leave_ended"
    DISCHARGE_PLANNED = "discharge_planned"
    DISCHARGED = "discharged"
    FOLLOW_UP_BOOKED = "follow_up_booked"
    FOLLOW_UP_HELD = "follow_up_held"
    READMITTED = "readmitted"
    CLOSED = "closed"
    CANCELLED = "cancelled"


class EventSource(StrEnum):
    USER = "user"  # entered in the web UI
    REST = "rest"
    FHIR = "fhir"
    MEDCOM = "medcom"  # HospitalNotification (sygehusadvis)
    SYSTEM = "system"
    DEMO = "demo"


# Which event may happen in which status, and where it leaves the pathway. Events that only add facts
# (a planned discharge date, a booked follow-up) keep the status.
_S, _E = PathwayStatus, PathwayEventType
PATHWAY_TRANSITIONS: dict[tuple[PathwayStatus, PathwayEventType], PathwayStatus] = {
    (_S.ADMITTED, _E.LEAVE_STARTED): _S.ON_LEAVE,
    (_S.ON_LEAVE, _E.LEAVE_ENDED): _S.ADMITTED,
    (_S.ADMITTED, _E.DISCHARGE_PLANNED): _S.ADMITTED,
    (_S.ON_LEAVE, _E.DISCHARGE_PLANNED): _S.ON_LEAVE,
    (_S.ADMITTED, _E.DISCHARGED): _S.DISCHARGED,
    (_S.ON_LEAVE, _E.DISCHARGED): _S.DISCHARGED,  # discharged directly from leave
    (_S.ADMITTED, _E.FOLLOW_UP_BOOKED): _S.ADMITTED,
    (_S.ON_LEAVE, _E.FOLLOW_UP_BOOKED): _S.ON_LEAVE,
    (_S.DISCHARGED, _E.FOLLOW_UP_BOOKED): _S.DISCHARGED,
    (_S.DISCHARGED, _E.FOLLOW_UP_HELD): _S.DISCHARGED,
    (_S.DISCHARGED, _E.READMITTED): _S.CLOSED,  # the readmission opens a new pathway of its own
    (_S.DISCHARGED, _E.CLOSED): _S.CLOSED,
    (_S.ADMITTED, _E.CANCELLED): _S.CANCELLED,
}


class PathwayFactType(StrEnum):
    """Coordination facts recorded on a pathway. They never move its status; the reminder rules read them.

    Kept apart from PathwayEventType so that enum (and its pinned transition table) stays as it is; the values
    of the two enums never collide, so one text column can hold either (see ``parse_event_type``)."""

    MUNICIPALITY_NOTIFIED = "municipality_notified"  # the municipality was told the discharge date
    NETWORK_MEETING_REQUESTED = "network_meeting_requested"
    NETWORK_MEETING_HELD = "network_meeting_held"
    PLAN_SHARED = "plan_shared"  # an agreed plan was sent to a party
    PLAN_DELIVERED = "plan_delivered"  # MedCom acknowledgement "ok": technically received, not read
    PLAN_READ = "plan_read"


_OPEN_STATUSES = (_S.ADMITTED, _S.ON_LEAVE, _S.DISCHARGED)
# Every fact may be recorded while the pathway is open (a plan can be shared, read or a meeting held before
# or after discharge) and keeps the status; a closed or cancelled pathway takes no more facts.
FACT_TRANSITIONS: dict[tuple[PathwayStatus, PathwayFactType], PathwayStatus] = {
    (status, fact): status for status in _OPEN_STATUSES for fact in PathwayFactType
}


def next_status(current: PathwayStatus, event: PathwayEventType | PathwayFactType) -> PathwayStatus:
    found = (
        FACT_TRANSITIONS.get((current, event))
        if isinstance(event, PathwayFactType)
        else PATHWAY_TRANSITIONS.get((current, event))
    )
    if found is None:
        raise IllegalTransition("pathway", current.value, event.value)
    return found


def parse_event_type(value: str) -> PathwayEventType | PathwayFactType:
    """The event or fact type stored as ``value``; ValueError for anything else."""
    for enum in (PathwayEventType, PathwayFactType):
        try:
            return enum(value)
        except ValueError:
            continue
    raise ValueError(f"'{value}' is neither a pathway event nor a pathway fact type")


@dataclass(frozen=True, slots=True)
class LeavePeriod:
    started_at: datetime
    ended_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Pathway:
    status: PathwayStatus
    admitted_at: datetime
    planned_discharge_on: date | None = None
    discharged_at: datetime | None = None
    leave_periods: tuple[LeavePeriod, ...] = ()
    episode_of_care_id: str | None = None  # LPR3 episode of care, "urn:uuid:..."
    is_readmission: bool = False

    def is_on_leave_at(self, when: datetime) -> bool:
        return any(
            p.started_at <= when and (p.ended_at is None or when < p.ended_at)
            for p in self.leave_periods
        )
