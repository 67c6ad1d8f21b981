"""The one home of labels: every labelled enum member has a Danish and an English name."""

from __future__ import annotations

import string
from enum import StrEnum

import pytest

from fhir_adapters.codesystems import CareTeamRole
from pathways.agreements import ObligationStatus, RequirementLevel
from pathways.audit import AuditAction, AuditOutcome
from pathways.labels import codes, kinds, label, label_or_code, language, reminder_message
from pathways.meetings import ActionStatus, MeetingStatus
from pathways.organisations import OrganisationKind, Sector
from pathways.people import Role
from pathways.plans import (
    ParticipantRole,
    PatientParticipation,
    PlanKind,
    PlanStatus,
    ResponseStatus,
    SectionKey,
)
from pathways.reminders import GapRule, GpDelivery, ReminderStatus, Severity
from pathways.stays import PathwayEventType, PathwayFactType, PathwayStatus
from pathways.worklists import FollowUp, Task, WorkState

LABELLED: dict[str, tuple[type[StrEnum], ...]] = {
    "plan_kind": (PlanKind,),
    "plan_status": (PlanStatus,),
    "plan_section": (SectionKey,),
    "participant_role": (ParticipantRole, CareTeamRole),
    "participant_response": (ResponseStatus,),
    "patient_participation": (PatientParticipation,),
    "sector": (Sector,),
    "organisation_kind": (OrganisationKind,),
    "staff_role": (Role,),
    "severity": (Severity,),
    "reminder_status": (ReminderStatus,),
    "gap_rule": (GapRule,),
    "reminder_message": (GapRule,),
    "audit_action": (AuditAction,),
    "pathway_status": (PathwayStatus,),
    "work_state": (WorkState,),
    "work_task": (Task,),
    "follow_up": (FollowUp,),
    "pathway_event": (PathwayEventType,),
    "pathway_fact": (PathwayFactType,),
    "requirement_level": (RequirementLevel,),
    "obligation_status": (ObligationStatus,),
    "audit_action_name": (AuditAction,),
    "audit_outcome": (AuditOutcome,),
    "meeting_status": (MeetingStatus,),
    "meeting_action_status": (ActionStatus,),
}


@pytest.mark.parametrize(("kind", "enum"), [(k, e) for k, es in LABELLED.items() for e in es])
def test_every_member_of_a_labelled_enum_has_both_languages(kind: str, enum: type[StrEnum]) -> None:
    for member in enum:
        danish, english = label(kind, member, "da"), label(kind, member, "en")
        assert danish.strip(), f"{kind}.{member.value} has no Danish name"
        assert english.strip(), f"{kind}.{member.value} has no English name"


def test_every_label_has_exactly_danish_and_english_and_no_stray_code() -> None:
    for kind in kinds():
        for code, names in codes(kind).items():
            assert set(names) == {"da", "en"}, f"{kind}.{code}"
    for kind, enums in LABELLED.items():
        known = {m.value for e in enums for m in e}
        assert set(codes(kind)) == known, kind
    assert set(codes("citizen_role")) < {r.value for r in Role}
    assert set(codes("audit_resource")) >= {"Plan", "Reminder", "AuditLog", "other"}
    steps = (GpDelivery.DELIVERED, GpDelivery.READ, GpDelivery.ACCEPTED)
    assert set(codes("gp_step")) == {s.key for s in steps}


def test_reminder_messages_use_the_same_placeholders_in_both_languages() -> None:
    for rule, names in codes("reminder_message").items():
        fields = [
            {f for _, f, _, _ in string.Formatter().parse(names[lang]) if f} for lang in names
        ]
        assert fields[0] == fields[1], rule


def test_danish_is_the_default_and_english_is_asked_for() -> None:
    assert label("severity", Severity.BREACH) == "frist overskredet"
    assert label("severity", "breach", "en-GB") == "deadline breached"
    assert label("plan_section", SectionKey.CRISIS_PLAN, "fr") == "Kriseplan"
    assert [language(x) for x in ("en", "EN", "en_US", "da", "", None, "de")] == [
        "en",
        "en",
        "en",
        "da",
        "da",
        "da",
        "da",
    ]


def test_an_unknown_kind_or_code_is_a_clear_error_and_stored_codes_show_as_they_are() -> None:
    with pytest.raises(KeyError, match="no labels of kind 'nope'"):
        label("nope", "x")
    with pytest.raises(KeyError, match=r"no label for severity\.fatal"):
        label("severity", "fatal")
    assert label_or_code("gap_rule", "retired_rule", "en") == "retired_rule"


def test_a_reminder_message_names_its_codes_in_the_reader_s_language() -> None:
    params = {"sector": "general_practice", "reason": "missing"}
    assert reminder_message("contact_person_missing", params) == (
        "Ingen aktuel fast kontaktperson i sektoren Almen praksis: ingen er udpeget"
    )
    assert reminder_message("contact_person_missing", params, "en") == (
        "No current fixed contact person in the sector General practice: none is assigned"
    )
    assert reminder_message(
        "gp_plan_step_missing", {"step": "read", "verb": "read", "working_days": "5"}
    ) == ("Egen læge har ikke læst den aftalte plan inden for 5 arbejdsdage")
    assert reminder_message("discharged_without_plan", {"discharged_on": "2026-03-09"}) == (
        "Udskrevet 09.03.2026 uden en aftalt plan"
    )


def test_a_reminder_message_with_missing_params_or_an_unknown_rule_falls_back_to_the_title() -> (
    None
):
    assert reminder_message("discharged_without_plan", {}) == label(
        "gap_rule", GapRule.DISCHARGED_WITHOUT_PLAN
    )
    assert reminder_message("retired_rule", {}, "en") == "retired_rule"
