"""Network meetings (netværksmøder): a meeting of the citizen, relatives and the professionals of the
sectors, and the actions agreed at it, each with an owner organisation, a due date and done / not done.

A meeting is requested, then scheduled (a time is found), then held (recorded: when, who took part, the
citizen's own words), or cancelled before it is held. An action is open until it is marked done or not done.
An open action past its due date is a gap (``pathways.reminders``, rule ``network_meeting_action_overdue``)
whose reminder goes to the owner organisation.

Everything here is pure: the caller loads what is needed and passes it in.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from enum import StrEnum

from pathways.calendar_dk import DEFAULT_DEADLINE_TIME
from pathways.clock import COPENHAGEN, ensure_utc, to_copenhagen
from pathways.errors import ErrorCollector, IllegalTransition

MAX_PARTICIPANTS = 30
MAX_PARTICIPANT = (
    200  # characters of one participant ("Anna Hansen (sagsbehandler, Aarhus Kommune)")
)
MAX_REASON = 500
MAX_CITIZEN_WORDS = 4000
MAX_SUMMARY = 4000
MAX_ACTION = 500
MAX_PLACE = 200


class MeetingStatus(StrEnum):
    """Stored values (meetings.status) and label keys (labels.toml ``meeting_status``): never rename one."""

    REQUESTED = "requested"
    SCHEDULED = "scheduled"
    HELD = "held"
    CANCELLED = "cancelled"

    @property
    def is_open(self) -> bool:
        """Still to be held."""
        return self in (MeetingStatus.REQUESTED, MeetingStatus.SCHEDULED)


class MeetingChange(StrEnum):
    SCHEDULE = "schedule"  # also a new time for a scheduled meeting
    RECORD = "record"  # the meeting was held
    CANCEL = "cancel"


_M, _C = MeetingStatus, MeetingChange
MEETING_TRANSITIONS: dict[tuple[MeetingStatus, MeetingChange], MeetingStatus] = {
    (_M.REQUESTED, _C.SCHEDULE): _M.SCHEDULED,
    (_M.SCHEDULED, _C.SCHEDULE): _M.SCHEDULED,
    (_M.REQUESTED, _C.RECORD): _M.HELD,  # held at once, e.g. at the bedside
    (_M.SCHEDULED, _C.RECORD): _M.HELD,
    (_M.REQUESTED, _C.CANCEL): _M.CANCELLED,
    (_M.SCHEDULED, _C.CANCEL): _M.CANCELLED,
}


def next_meeting_status(current: MeetingStatus, change: MeetingChange) -> MeetingStatus:
    try:
        return MEETING_TRANSITIONS[(current, change)]
    except KeyError:
        raise IllegalTransition("network meeting", current.value, change.value) from None


class ActionStatus(StrEnum):
    """Stored values (meeting_actions.status) and label keys (labels.toml ``meeting_action_status``)."""

    OPEN = "open"
    DONE = "done"
    NOT_DONE = "not_done"


ACTION_TRANSITIONS: dict[ActionStatus, frozenset[ActionStatus]] = {
    ActionStatus.OPEN: frozenset({ActionStatus.DONE, ActionStatus.NOT_DONE}),
    ActionStatus.DONE: frozenset(),
    ActionStatus.NOT_DONE: frozenset(),
}


def next_action_status(current: ActionStatus, target: ActionStatus) -> ActionStatus:
    """An open action is closed as done or not done; a closed one stays closed."""
    if target not in ACTION_TRANSITIONS[current]:
        raise IllegalTransition("meeting action", current.value, target.value)
    return target


# ------------------------------------------------------------------------------------ validation
@dataclass(frozen=True, slots=True)
class MeetingRequest:
    reason: str
    requested_at: datetime


def validate_request(*, reason: object, now: datetime) -> MeetingRequest:
    """Why the meeting is asked for (required, at most 500 characters)."""
    errors = ErrorCollector()
    clean = errors.text("reason", reason, max_length=MAX_REASON)
    errors.raise_if_any()
    return MeetingRequest(reason=clean, requested_at=ensure_utc(now))


@dataclass(frozen=True, slots=True)
class MeetingSchedule:
    scheduled_for: datetime
    place: str


def validate_schedule(
    *, scheduled_for: object, place: object, requested_at: datetime, now: datetime
) -> MeetingSchedule:
    """A time (aware, not in the past) and where (optional text: a room, an address, a video link)."""
    errors = ErrorCollector()
    clean_place = errors.text("place", place, required=False, max_length=MAX_PLACE)
    at: datetime | None = None
    if not isinstance(scheduled_for, datetime):
        errors.add("scheduled_for", "a date and time is required", "required")
    elif scheduled_for.tzinfo is None:
        errors.add("scheduled_for", "must include a time zone", "invalid")
    else:
        at = ensure_utc(scheduled_for)
        if at < ensure_utc(now) or at < ensure_utc(requested_at):
            errors.add("scheduled_for", "must not lie in the past", "in-past")
    errors.raise_if_any()
    assert at is not None
    return MeetingSchedule(scheduled_for=at, place=clean_place)


def clean_participants(
    value: object, errors: ErrorCollector, field: str = "participants"
) -> list[str]:
    """The people who took part, one per entry, trimmed, empty entries dropped, no duplicates."""
    if isinstance(value, str):
        value = value.splitlines()
    if not isinstance(value, Iterable) or isinstance(value, (bytes, dict)):
        errors.add(field, "must be a list of names", "invalid")
        return []
    found: list[str] = []
    for item in value:
        if not isinstance(item, str):
            errors.add(field, "every participant must be text", "invalid")
            return []
        text = item.strip()
        if not text:
            continue
        if len(text) > MAX_PARTICIPANT:
            errors.add(field, f"a participant is at most {MAX_PARTICIPANT} characters", "too-long")
            return []
        if text.casefold() not in {f.casefold() for f in found}:
            found.append(text)
    if not found:
        errors.add(field, "name at least one participant", "required")
    elif len(found) > MAX_PARTICIPANTS:
        errors.add(field, f"at most {MAX_PARTICIPANTS} participants", "too-many")
    return found


@dataclass(frozen=True, slots=True)
class MeetingRecord:
    held_on: date
    participants: tuple[str, ...]
    citizen_took_part: bool
    citizen_words: str
    summary: str


def validate_record(
    *,
    held_on: object,
    participants: object,
    citizen_took_part: object,
    citizen_words: object,
    summary: object,
    requested_at: datetime,
    now: datetime,
) -> MeetingRecord:
    """The meeting as held: the day (not in the future, not before it was requested), who took part, the
    citizen's own words (what the citizen said, in their words: optional, the citizen may not have come)
    and a short summary."""
    errors = ErrorCollector()
    today = to_copenhagen(ensure_utc(now)).date()
    day: date | None = None
    if not isinstance(held_on, date) or isinstance(held_on, datetime):
        errors.add("held_on", "a date is required", "required")
    elif held_on > today:
        errors.add("held_on", "the meeting cannot be held in the future", "in-future")
    elif held_on < to_copenhagen(ensure_utc(requested_at)).date():
        errors.add("held_on", "the meeting cannot be held before it was requested", "too-early")
    else:
        day = held_on
    people = clean_participants(participants, errors)
    if not isinstance(citizen_took_part, bool):
        errors.add("citizen_took_part", "must be true or false", "invalid")
    words = errors.text(
        "citizen_words", citizen_words, required=False, max_length=MAX_CITIZEN_WORDS
    )
    text = errors.text("summary", summary, required=False, max_length=MAX_SUMMARY)
    errors.raise_if_any()
    assert day is not None
    return MeetingRecord(
        held_on=day,
        participants=tuple(people),
        citizen_took_part=bool(citizen_took_part),
        citizen_words=words,
        summary=text,
    )


@dataclass(frozen=True, slots=True)
class NewAction:
    description: str
    owner_organisation_id: int
    due_on: date


def validate_action(
    *,
    description: object,
    owner_organisation_id: object,
    due_on: object,
    meeting_status: MeetingStatus,
    meeting_day: date | None,
    parties: Collection[int],
) -> NewAction:
    """An action agreed at a held meeting: what (1 to 500 characters), who (an organisation with a part in
    the patient's care: ``parties``), by when (not before the meeting)."""
    if meeting_status is not MeetingStatus.HELD:
        raise IllegalTransition("network meeting", meeting_status.value, "add action")
    errors = ErrorCollector()
    text = errors.text("description", description, max_length=MAX_ACTION)
    owner: int | None = None
    if isinstance(owner_organisation_id, bool) or not isinstance(owner_organisation_id, int):
        errors.add(
            "owner_organisation_id", "choose the organisation that owns the action", "required"
        )
    elif owner_organisation_id not in parties:
        errors.add(
            "owner_organisation_id",
            "the owner must be an organisation with a part in the patient's care",
            "not-a-party",
        )
    else:
        owner = owner_organisation_id
    due: date | None = None
    if not isinstance(due_on, date) or isinstance(due_on, datetime):
        errors.add("due_on", "a due date is required", "required")
    elif meeting_day is not None and due_on < meeting_day:
        errors.add("due_on", "the due date cannot be before the meeting", "too-early")
    else:
        due = due_on
    errors.raise_if_any()
    assert owner is not None
    assert due is not None
    return NewAction(description=text, owner_organisation_id=owner, due_on=due)


def action_due_at(due_on: date) -> datetime:
    """When an action due on ``due_on`` is overdue: 16:00 Copenhagen that day, like every deadline."""
    return datetime.combine(due_on, DEFAULT_DEADLINE_TIME, tzinfo=COPENHAGEN).astimezone(UTC)


def is_overdue(status: ActionStatus, due_on: date, now: datetime) -> bool:
    """An open action past its due time: what the gap rule network_meeting_action_overdue reminds of."""
    return status is ActionStatus.OPEN and ensure_utc(now) >= action_due_at(due_on)


def held_at(held_on: date, requested_at: datetime) -> datetime:
    """When a meeting held on ``held_on`` counts as held for the gap rules: noon that day in Copenhagen,
    never before its request (a meeting held the day it was asked for closes the request)."""
    noon = datetime.combine(held_on, time(12), tzinfo=COPENHAGEN)
    return max(ensure_utc(noon), ensure_utc(requested_at))
