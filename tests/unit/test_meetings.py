"""Network meetings (pathways.meetings): the meeting's and the action's states, the validation of a request,
a schedule, a record and an action, and the gap rule for an overdue action (fires, does not fire, resolves)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from pathways.agreements import RequirementFacts, agreement_requirement
from pathways.clock import COPENHAGEN
from pathways.errors import IllegalTransition, ValidationFailed
from pathways.meetings import (
    ActionStatus,
    MeetingChange,
    MeetingStatus,
    action_due_at,
    held_at,
    is_overdue,
    next_action_status,
    next_meeting_status,
    validate_action,
    validate_record,
    validate_request,
    validate_schedule,
)
from pathways.organisations import Sector
from pathways.reminders import (
    ContactFacts,
    GapRule,
    MeetingActionFacts,
    Owner,
    PathwayFacts,
    ReminderStatus,
    Severity,
    StoredReminder,
    evaluate,
    reconcile,
    rule_title,
)
from pathways.stays import PathwayStatus


def cph(month: int, day: int, hour: int = 12) -> datetime:
    return datetime(2025, month, day, hour, tzinfo=COPENHAGEN).astimezone(UTC)


NOW = cph(3, 12, 9)  # Wednesday 12 March 2025
WARD, MUNI, GP, OTHER = 10, 30, 40, 99


# ------------------------------------------------------------------------------ states
@pytest.mark.parametrize(
    ("current", "change", "target"),
    [
        (MeetingStatus.REQUESTED, MeetingChange.SCHEDULE, MeetingStatus.SCHEDULED),
        (MeetingStatus.SCHEDULED, MeetingChange.SCHEDULE, MeetingStatus.SCHEDULED),
        (MeetingStatus.REQUESTED, MeetingChange.RECORD, MeetingStatus.HELD),
        (MeetingStatus.SCHEDULED, MeetingChange.RECORD, MeetingStatus.HELD),
        (MeetingStatus.REQUESTED, MeetingChange.CANCEL, MeetingStatus.CANCELLED),
        (MeetingStatus.SCHEDULED, MeetingChange.CANCEL, MeetingStatus.CANCELLED),
    ],
)
def test_a_meeting_moves_on(
    current: MeetingStatus, change: MeetingChange, target: MeetingStatus
) -> None:
    assert next_meeting_status(current, change) is target


@pytest.mark.parametrize("current", [MeetingStatus.HELD, MeetingStatus.CANCELLED])
@pytest.mark.parametrize("change", list(MeetingChange))
def test_a_held_or_cancelled_meeting_is_final(
    current: MeetingStatus, change: MeetingChange
) -> None:
    with pytest.raises(IllegalTransition):
        next_meeting_status(current, change)
    assert not current.is_open


def test_an_open_action_is_closed_once() -> None:
    assert next_action_status(ActionStatus.OPEN, ActionStatus.DONE) is ActionStatus.DONE
    assert next_action_status(ActionStatus.OPEN, ActionStatus.NOT_DONE) is ActionStatus.NOT_DONE
    for closed in (ActionStatus.DONE, ActionStatus.NOT_DONE):
        for target in ActionStatus:
            with pytest.raises(IllegalTransition):
                next_action_status(closed, target)
    with pytest.raises(IllegalTransition):
        next_action_status(ActionStatus.OPEN, ActionStatus.OPEN)


# ------------------------------------------------------------------------------ validation
def _fields(exc: pytest.ExceptionInfo[ValidationFailed]) -> set[str]:
    return set(exc.value.fields)


def test_a_request_needs_a_reason() -> None:
    assert validate_request(reason="  Udskrivelse nærmer sig ", now=NOW).reason == (
        "Udskrivelse nærmer sig"
    )
    with pytest.raises(ValidationFailed) as exc:
        validate_request(reason=" ", now=NOW)
    assert _fields(exc) == {"reason"}
    with pytest.raises(ValidationFailed):
        validate_request(reason="x" * 501, now=NOW)


def test_a_schedule_is_an_aware_time_not_in_the_past() -> None:
    ok = validate_schedule(
        scheduled_for=cph(3, 14, 10), place=" Mødelokale 2 ", requested_at=NOW, now=NOW
    )
    assert ok.scheduled_for == cph(3, 14, 10)
    assert ok.place == "Mødelokale 2"
    for bad in (None, "2025-03-14", datetime(2025, 3, 14, 10), cph(3, 11, 10)):  # noqa: DTZ001
        with pytest.raises(ValidationFailed) as exc:
            validate_schedule(scheduled_for=bad, place="", requested_at=NOW, now=NOW)
        assert _fields(exc) == {"scheduled_for"}


def _record(**kw: Any) -> Any:
    values: dict[str, Any] = {
        "held_on": date(2025, 3, 12),
        "participants": "Borgeren\nAnna (sagsbehandler)\n\nanna (sagsbehandler)\n",
        "citizen_took_part": True,
        "citizen_words": "Jeg vil gerne hjem til min egen lejlighed.",
        "summary": "",
        "requested_at": cph(3, 10),
        "now": NOW,
    }
    values.update(kw)
    return validate_record(**values)


def test_a_record_keeps_who_took_part_and_the_citizen_s_own_words() -> None:
    record = _record()
    assert record.participants == ("Borgeren", "Anna (sagsbehandler)")  # blank and repeat dropped
    assert record.citizen_words == "Jeg vil gerne hjem til min egen lejlighed."
    assert _record(participants=["Borgeren"], citizen_words="").citizen_words == ""


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"held_on": date(2025, 3, 13)}, "held_on"),  # tomorrow
        ({"held_on": date(2025, 3, 9)}, "held_on"),  # before the request
        ({"held_on": None}, "held_on"),
        ({"participants": " \n "}, "participants"),
        ({"participants": [1]}, "participants"),
        ({"participants": ["x" * 201]}, "participants"),
        ({"citizen_took_part": "yes"}, "citizen_took_part"),
        ({"citizen_words": "x" * 4001}, "citizen_words"),
    ],
)
def test_a_bad_record_names_the_field(change: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationFailed) as exc:
        _record(**change)
    assert _fields(exc) == {field}


def _action(**kw: Any) -> Any:
    values: dict[str, Any] = {
        "description": "Søg bostøtte efter § 85",
        "owner_organisation_id": MUNI,
        "due_on": date(2025, 3, 19),
        "meeting_status": MeetingStatus.HELD,
        "meeting_day": date(2025, 3, 12),
        "parties": {WARD, MUNI, GP},
    }
    values.update(kw)
    return validate_action(**values)


def test_an_action_has_an_owner_among_the_parties_and_a_due_date_not_before_the_meeting() -> None:
    action = _action()
    assert (action.owner_organisation_id, action.due_on) == (MUNI, date(2025, 3, 19))
    assert _action(due_on=date(2025, 3, 12)).due_on == date(2025, 3, 12)  # the same day is fine
    with pytest.raises(ValidationFailed) as exc:
        _action(owner_organisation_id=OTHER, due_on=date(2025, 3, 11), description="")
    assert _fields(exc) == {"owner_organisation_id", "due_on", "description"}
    with pytest.raises(ValidationFailed) as exc:
        _action(owner_organisation_id=None, due_on=None)
    assert _fields(exc) == {"owner_organisation_id", "due_on"}


@pytest.mark.parametrize(
    "status", [MeetingStatus.REQUESTED, MeetingStatus.SCHEDULED, MeetingStatus.CANCELLED]
)
def test_actions_are_agreed_at_a_held_meeting_only(status: MeetingStatus) -> None:
    with pytest.raises(IllegalTransition):
        _action(meeting_status=status)


def test_overdue_means_open_from_16_00_on_the_due_day() -> None:
    day = date(2025, 3, 12)
    assert action_due_at(day) == cph(3, 12, 16)
    assert is_overdue(ActionStatus.OPEN, day, cph(3, 12, 16))
    assert not is_overdue(ActionStatus.OPEN, day, cph(3, 12, 15))
    assert not is_overdue(ActionStatus.DONE, day, cph(3, 12, 16) + timedelta(days=30))


# ------------------------------------------------------------------------------ the gap rule
REQUIRED = agreement_requirement(RequirementFacts(True, False))
MUNI_CONTACT = 201
RULE = GapRule.NETWORK_MEETING_ACTION_OVERDUE


def action(status: ActionStatus = ActionStatus.OPEN, **kw: Any) -> MeetingActionFacts:
    values: dict[str, Any] = {
        "id": 7,
        "meeting_id": 3,
        "owner_organisation_id": MUNI,
        "owner_sector": Sector.MUNICIPALITY,
        "due_on": date(2025, 3, 12),
        "status": status,
        "held_on": date(2025, 3, 5),
    }
    values.update(kw)
    return MeetingActionFacts(**values)


def pathway(*actions: MeetingActionFacts, **kw: Any) -> PathwayFacts:
    values: dict[str, Any] = {
        "pathway_id": 1,
        "patient_id": 2,
        "status": PathwayStatus.DISCHARGED,
        "admitted_at": cph(2, 3),
        "discharged_at": cph(3, 4),
        "ward_id": WARD,
        "requirement": REQUIRED,
        "municipality_id": MUNI,
        "gp_clinic_id": GP,
        "follow_up_held_at": cph(3, 5),
        "contacts": (
            ContactFacts(Sector.REGION, 101),
            ContactFacts(Sector.MUNICIPALITY, MUNI_CONTACT),
            ContactFacts(Sector.GENERAL_PRACTICE, 301),
        ),
        "meeting_actions": actions,
    }
    values.update(kw)
    return PathwayFacts(**values)


def _rule_gaps(facts: PathwayFacts, now: datetime) -> list[Any]:
    return [g for g in evaluate(facts, now) if g.rule is RULE]


def test_an_open_action_past_its_due_time_is_a_gap_for_its_owner_organisation() -> None:
    # due 16:00 Copenhagen on the due day
    assert _rule_gaps(pathway(action()), cph(3, 12, 15)) == []
    [gap] = _rule_gaps(pathway(action()), cph(3, 12, 16))
    assert gap.obligation_key == "meeting:3:action:7"
    assert gap.due_at == cph(3, 12, 16)
    assert gap.severity is Severity.WARNING
    assert gap.owner == Owner(Sector.MUNICIPALITY, MUNI, MUNI_CONTACT)
    assert gap.basis == "network_meeting"
    assert gap.params == {"due_on": "2025-03-12", "held_on": "2025-03-05"}
    assert rule_title(RULE) == "En handling aftalt på et netværksmøde er ikke udført til tiden"


def test_an_action_of_another_organisation_goes_to_that_organisation_s_inbox() -> None:
    [gap] = _rule_gaps(
        pathway(action(owner_organisation_id=OTHER, owner_sector=Sector.MUNICIPALITY)),
        cph(3, 13),
    )
    assert gap.owner == Owner(Sector.MUNICIPALITY, OTHER, None)


@pytest.mark.parametrize("status", [ActionStatus.DONE, ActionStatus.NOT_DONE])
def test_a_closed_action_is_no_gap(status: ActionStatus) -> None:
    assert _rule_gaps(pathway(action(status)), cph(3, 20)) == []


def test_one_gap_per_open_overdue_action_and_none_on_a_closed_pathway() -> None:
    actions = (
        action(),
        action(id=8, due_on=date(2025, 3, 10)),
        action(id=9, due_on=date(2025, 4, 1)),
    )
    keys = [g.obligation_key for g in _rule_gaps(pathway(*actions), cph(3, 13))]
    assert keys == ["meeting:3:action:8", "meeting:3:action:7"]
    assert _rule_gaps(pathway(*actions, status=PathwayStatus.CLOSED), cph(3, 13)) == []


def test_the_reminder_resolves_when_the_action_is_done() -> None:
    now = cph(3, 13)
    [gap] = _rule_gaps(pathway(action()), now)
    created = reconcile([], [gap], now)
    assert [g.key for g in created.create] == [gap.key]
    stored = StoredReminder(
        id=1,
        pathway_id=1,
        rule=RULE.value,
        obligation_key=gap.obligation_key,
        status=ReminderStatus.OPEN,
        severity=Severity.URGENT,
        due_at=gap.due_at,
        owner_organisation_id=MUNI,
        owner_person_id=MUNI_CONTACT,
        legal_basis=gap.basis,
        message=gap.message,
        created_at=now,
    )
    later = cph(3, 14)
    done = [g for g in evaluate(pathway(action(ActionStatus.DONE)), later) if g.rule is RULE]
    assert reconcile([stored], done, later).resolve == [1]


def test_a_meeting_counts_as_held_at_noon_of_its_day_never_before_its_request() -> None:
    assert held_at(date(2025, 3, 12), cph(3, 10, 9)) == cph(3, 12, 12)
    assert held_at(date(2025, 3, 12), cph(3, 12, 14)) == cph(3, 12, 14)
