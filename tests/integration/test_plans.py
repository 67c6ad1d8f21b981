"""Discharge agreements and coordination plans through the service layer (issue: Plans)."""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from coordinator import migrate
from coordinator.access.services import AccessDenied
from coordinator.audit.models import AuditEntry
from coordinator.care_pathways.services import admit_patient
from coordinator.db import Database
from coordinator.plans import answers as plan_answers
from coordinator.plans import queries as plan_queries
from coordinator.plans import requirement as plan_requirement
from coordinator.plans import services as plans
from coordinator.plans.models import Plan, PlanResponse, PlanVersion
from pathways.agreements import EndReason, ObligationStatus, RequirementLevel
from pathways.audit import AuditAction
from pathways.clock import FixedClock
from pathways.errors import (
    Conflict,
    IllegalTransition,
    NotFound,
    PermissionDenied,
    StaleVersion,
    ValidationFailed,
    VersionRequired,
)
from pathways.people import Role
from pathways.plans import (
    ParticipantRole,
    PatientParticipation,
    PlanKind,
    PlanStatus,
    ResponseStatus,
)
from pathways.stays import PathwayStatus
from tests import scenario as sc
from tests.conftest import fresh_database_url


# ---------------------------------------------------------------------------- requirement
def test_chief_physician_assesses_the_requirement(
    session: Session, clock: FixedClock, world: sc.Scenario
) -> None:
    requirement = sc.assess_requirement(session, clock, world, receives_sel_support=True)
    assert requirement.level is RequirementLevel.REQUIRED
    assert requirement.kind is PlanKind.DISCHARGE_AGREEMENT
    assert requirement.basis.reference == "Psykiatriloven § 13 a, stk. 1"
    assert world.pathway.requirement_assessed_by_id == world.chief.id
    with pytest.raises(PermissionDenied):  # a nurse does not make the §13a assessment
        sc.assess_requirement(session, clock, world, receives_sel_support=False, by=world.nurse)


def test_obligation_open_met_and_overdue(
    session: Session, clock: FixedClock, world: sc.Scenario
) -> None:
    assert (
        plan_requirement.pathway_obligation(session, clock, world.pathway).status
        is ObligationStatus.OPEN
    )  # not assessed
    sc.assess_requirement(session, clock, world, receives_sel_support=False)
    assert (
        plan_requirement.pathway_obligation(session, clock, world.pathway).status
        is ObligationStatus.NOT_APPLICABLE
    )
    sc.assess_requirement(
        session, clock, world, receives_sel_support=False, presumed_not_to_seek_treatment=True
    )
    obligation = plan_requirement.pathway_obligation(session, clock, world.pathway)
    assert (obligation.status, obligation.basis.key) == (
        ObligationStatus.OPEN,
        "discharge_agreement_not_seeking",
    )
    plan = sc.agreed_plan(session, clock, world)
    clock.advance(timedelta(hours=1))
    sc.discharge(session, clock, world, by=sc.SYSTEM)
    met = plan_requirement.pathway_obligation(session, clock, world.pathway)
    assert (met.status, met.plan_id) == (ObligationStatus.MET, plan.id)


def test_discharge_without_agreement_is_overdue(
    session: Session, clock: FixedClock, world: sc.Scenario
) -> None:
    sc.assess_requirement(session, clock, world, receives_sel_support=True)
    sc.complete_draft(session, clock, world)
    sc.discharge(session, clock, world, by=sc.SYSTEM)
    assert (
        plan_requirement.pathway_obligation(session, clock, world.pathway).status
        is ObligationStatus.OVERDUE
    )


# ---------------------------------------------------------------------------- create
def test_draft_is_prefilled_with_the_parties(
    session: Session, clock: FixedClock, world: sc.Scenario
) -> None:
    plan = sc.draft(session, clock, world)
    parties = {(p.role, p.organisation_id) for p in plan.participants}
    assert parties == {
        (ParticipantRole.PATIENT, None),
        (ParticipantRole.WARD, world.ward.id),
        (ParticipantRole.MUNICIPALITY, world.municipality.id),
        (ParticipantRole.GP, world.gp_clinic.id),
    }
    assert (plan.status, plan.kind, plan.current_version_number) == (
        PlanStatus.DRAFT,
        PlanKind.DISCHARGE_AGREEMENT,
        1,
    )
    assert plan.responsible_organisation_id == world.ward.id
    audit = session.scalars(sa.select(AuditEntry).where(AuditEntry.resource_type == "Plan")).one()
    assert (audit.action, audit.patient_id, audit.actor_id) == (
        AuditAction.CREATE,
        world.patient.id,
        world.nurse.id,
    )


def test_second_open_plan_is_refused_and_points_to_the_first(
    session: Session, clock: FixedClock, world: sc.Scenario
) -> None:
    first = sc.draft(session, clock, world)
    with pytest.raises(Conflict, match=f"plan {first.id}, draft"):
        sc.draft(session, clock, world)
    assert sc.count(session, Plan) == 1


def test_who_may_create(session: Session, clock: FixedClock, world: sc.Scenario) -> None:
    with pytest.raises(PermissionDenied):
        plans.create_draft(session, world.gp, clock, pathway_id=world.pathway.id)  # role
    with pytest.raises(PermissionDenied):
        plans.create_draft(
            session, world.other_nurse, clock, pathway_id=world.pathway.id
        )  # other ward
    with pytest.raises(AccessDenied) as unknown:  # no oracle for pathway ids
        plans.create_draft(session, world.nurse, clock, pathway_id=987654)
    assert unknown.value.message == "you have no care relation to this patient"
    assert (unknown.value.resource_type, unknown.value.reason) == ("Pathway", "no such pathway")
    with pytest.raises(NotFound):  # jobs and commands see everything: told plainly
        plans.create_draft(session, sc.SYSTEM, clock, pathway_id=987654)
    assert sc.count(session, Plan) == 0


# ---------------------------------------------------------------------------- refusals reveal nothing
NO_ACCESS = "you have no care relation to this patient"


@pytest.mark.parametrize(
    ("step", "extra"),
    [
        (plans.edit_plan, {"sections": {"housing": {"text": "x"}}}),
        (plans.propose, {}),
        (plans.start_revision, {"reason": "review"}),
        (plans.end_plan, {"reason": "no_longer_needed"}),
        (plans.withdraw, {"reason": "mistake"}),
    ],
)
def test_access_is_checked_before_the_version(
    session: Session, clock: FixedClock, world: sc.Scenario, step: Any, extra: dict[str, Any]
) -> None:
    """A stranger with a stale version is refused for having no relation, never told the version."""
    plan = sc.complete_draft(session, clock, world)
    assert plan.version > 1
    with pytest.raises(AccessDenied) as refused:
        step(session, world.other_nurse, clock, plan_id=plan.id, expected_version=1, **extra)
    assert refused.value.message == NO_ACCESS
    assert "version" not in refused.value.message
    with pytest.raises(StaleVersion):  # the editor is told
        step(session, world.nurse, clock, plan_id=plan.id, expected_version=1, **extra)


@pytest.mark.parametrize(
    ("step", "extra"),
    [
        (plans.edit_plan, {"sections": {"housing": {"text": "x"}}}),
        (plans.propose, {}),
        (plans.start_revision, {"reason": "review"}),
        (plans.end_plan, {"reason": "no_longer_needed"}),
        (plans.withdraw, {"reason": "mistake"}),
        (plan_queries.get_plan_for_edit, {}),
    ],
)
def test_a_missing_version_is_told_after_access(
    session: Session, clock: FixedClock, world: sc.Scenario, step: Any, extra: dict[str, Any]
) -> None:
    """No version at all: a stranger is refused for having no relation, the editor is told to name one."""
    plan = sc.complete_draft(session, clock, world)
    version, status = plan.version, plan.status
    with pytest.raises(AccessDenied) as refused:
        step(session, world.other_nurse, clock, plan_id=plan.id, expected_version=None, **extra)
    assert refused.value.message == NO_ACCESS
    with pytest.raises(VersionRequired) as missing:
        step(session, world.nurse, clock, plan_id=plan.id, expected_version=None, **extra)
    assert missing.value.code == "if-match-required"
    assert missing.value.message == (
        "a change to the plan must name the version it edits: send If-Match with its ETag"
    )
    assert (plan.version, plan.status) == (version, status)


def test_an_unknown_plan_is_refused_as_someone_elses(
    session: Session, clock: FixedClock, world: sc.Scenario
) -> None:
    plan = sc.draft(session, clock, world)
    refusals = []
    for plan_id in (plan.id, 987654):
        with pytest.raises(AccessDenied) as refused:
            plan_queries.get_plan(session, world.other_case_worker, clock, plan_id=plan_id)
        refusals.append(refused.value)
    assert [r.message for r in refusals] == [NO_ACCESS, NO_ACCESS]
    assert [(r.resource_type, r.resource_id, r.patient_id, r.reason) for r in refusals] == [
        ("Plan", plan.id, world.patient.id, "no current care relation to the patient"),
        ("Plan", 987654, None, "no such plan"),
    ]
    with pytest.raises(AccessDenied) as stale:  # and a version for a plan that is not there
        plans.edit_plan(session, world.nurse, clock, plan_id=987654, expected_version=3)
    assert stale.value.message == NO_ACCESS
    with pytest.raises(NotFound):  # jobs and commands see everything: told plainly
        plan_queries.get_plan(session, sc.SYSTEM, clock, plan_id=987654)


def test_a_role_refusal_names_the_rule_not_the_relation(
    session: Session, clock: FixedClock, world: sc.Scenario
) -> None:
    """The nurse has a care relation; what stops her is that the §13a assessment is the chief's. The
    rule is the same for every patient, so it is named for an unknown stay too."""
    rule = "the role discharge_nurse may not assess requirement: only chief_physician may"
    for pathway_id in (world.pathway.id, 987654):
        with pytest.raises(AccessDenied) as refused:
            plan_requirement.assess_requirement(
                session,
                world.nurse,
                clock,
                pathway_id=pathway_id,
                receives_sel_support=True,
                presumed_not_to_seek_treatment=False,
            )
        assert refused.value.message == rule
        assert refused.value.reason == "role discharge_nurse may not assess requirement"
    assert world.pathway.requirement_assessed_at is None
    with pytest.raises(AccessDenied) as stranger:  # a chief without a relation: no relation
        sc.assess_requirement(
            session,
            clock,
            world,
            receives_sel_support=True,
            by=replace(world.chief, organisation_id=world.other_ward.id),
        )
    assert stranger.value.message == NO_ACCESS
    with pytest.raises(AccessDenied) as admin:
        plan_queries.get_plan(
            session,
            replace(world.nurse, role=Role.ORG_ADMIN),
            clock,
            plan_id=987654,
        )
    assert admin.value.message == "the role org_admin gives no access to patients' clinical data"


def test_readmission_draft_starts_from_the_previous_plan(
    session: Session, clock: FixedClock, world: sc.Scenario
) -> None:
    sc.agreed_plan(session, clock, world)
    sc.discharge(session, clock, world, by=sc.SYSTEM)
    clock.advance(timedelta(days=10))
    again = admit_patient(
        session,
        sc.SYSTEM,
        clock,
        patient_id=world.patient.id,
        ward_id=world.ward.id,
        admitted_at=clock.now(),
        idempotency_key="readmit",
        readmission_of_id=world.pathway.id,
    )
    draft = plans.create_draft(session, world.nurse, clock, pathway_id=again.id)
    assert draft.current_version.sections["crisis_plan"]["call_night"] == "1813"


# ---------------------------------------------------------------------------- edit
def test_edit_creates_versions_and_a_diff(
    session: Session, clock: FixedClock, world: sc.Scenario
) -> None:
    plan = sc.complete_draft(session, clock, world)
    plan = plans.edit_plan(
        session,
        world.case_worker,
        clock,
        plan_id=plan.id,
        expected_version=plan.version,
        sections={"housing": {"text": "Botilbud §107"}, "economy": {"text": "Kontanthjælp"}},
        change_note="kommunens bidrag",
    )
    assert plan.current_version_number == 3
    assert [v.number for v in plan.versions] == [1, 2, 3]
    comparison = plan_queries.compare_versions(
        session, world.gp, clock, plan_id=plan.id, from_number=2, to_number=3
    )
    assert [(c.section, c.field, c.before, c.after) for c in comparison.changes] == [
        ("housing", "text", "Egen lejlighed", "Botilbud §107"),
        ("economy", "text", None, "Kontanthjælp"),
    ]
    assert plan.version_number_of(2).sections["housing"] == {
        "text": "Egen lejlighed"
    }  # immutable history


def test_stale_edit_is_a_conflict_and_writes_nothing(
    session: Session, clock: FixedClock, world: sc.Scenario
) -> None:
    plan = sc.complete_draft(session, clock, world)
    stale = plan.version - 1
    before = sc.count(session, PlanVersion)
    with pytest.raises(StaleVersion, match="you edited version"):
        plans.edit_plan(
            session,
            world.nurse,
            clock,
            plan_id=plan.id,
            expected_version=stale,
            sections={"housing": {"text": "x"}},
        )
    assert sc.count(session, PlanVersion) == before


def test_invalid_sections_name_each_field(
    session: Session, clock: FixedClock, world: sc.Scenario
) -> None:
    plan = sc.draft(session, clock, world)
    with pytest.raises(ValidationFailed) as caught:
        plans.edit_plan(
            session,
            world.nurse,
            clock,
            plan_id=plan.id,
            expected_version=plan.version,
            sections={"housing": {"txt": "x"}, "first_follow_up": {"date": "soon"}, "bogus": {}},
        )
    assert set(caught.value.fields) == {
        "sections.housing.txt",
        "sections.first_follow_up.date",
        "sections.bogus",
    }
    assert plan.current_version_number == 1


def test_only_parties_edit_and_only_editable_states(
    session: Session, clock: FixedClock, world: sc.Scenario
) -> None:
    plan = sc.complete_draft(session, clock, world)
    with pytest.raises(PermissionDenied):
        plans.edit_plan(
            session,
            world.other_gp,
            clock,
            plan_id=plan.id,
            expected_version=plan.version,
            sections={"housing": {"text": "x"}},
        )
    plan = plans.propose(
        session, world.nurse, clock, plan_id=plan.id, expected_version=plan.version
    )
    with pytest.raises(Conflict, match="only drafts and plans under revision"):
        plans.edit_plan(
            session,
            world.nurse,
            clock,
            plan_id=plan.id,
            expected_version=plan.version,
            sections={"housing": {"text": "x"}},
        )


# ---------------------------------------------------------------------------- propose and answer
def test_propose_needs_the_required_sections(
    session: Session, clock: FixedClock, world: sc.Scenario
) -> None:
    plan = sc.draft(session, clock, world)
    plan = plans.edit_plan(
        session,
        world.nurse,
        clock,
        plan_id=plan.id,
        expected_version=plan.version,
        sections={"treatment": {"text": "x"}},
    )
    with pytest.raises(ValidationFailed) as caught:
        plans.propose(session, world.nurse, clock, plan_id=plan.id, expected_version=plan.version)
    assert caught.value.fields == (
        "sections.medication",
        "sections.social_support",
        "sections.housing",
        "sections.crisis_plan",
        "sections.if_treatment_stops",
        "sections.first_follow_up",
    )
    assert plan.status is PlanStatus.DRAFT


def test_parties_agree(session: Session, clock: FixedClock, world: sc.Scenario) -> None:
    plan = sc.agreed_plan(session, clock, world)
    assert plan.status is PlanStatus.AGREED
    assert plan.agreed_at == clock.now()
    assert {p.response for p in plan.participants} == {ResponseStatus.ACCEPTED}
    assert [r.response for r in plan.responses] == [ResponseStatus.ACCEPTED] * 4
    sc.discharge(
        session, clock, world, by=sc.SYSTEM
    )  # agreed + discharged -> active, from the discharge date
    assert plan.status is PlanStatus.ACTIVE
    assert plan.valid_from == date(2026, 11, 26)


def test_nobody_answers_for_another_organisation(
    session: Session, clock: FixedClock, world: sc.Scenario
) -> None:
    plan = sc.proposed_plan(session, clock, world)
    municipality = sc.participant_id(plan, ParticipantRole.MUNICIPALITY)
    for intruder in (world.other_case_worker, world.gp):
        with pytest.raises(PermissionDenied):
            plan_answers.respond(
                session,
                intruder,
                clock,
                plan_id=plan.id,
                expected_version=plan.version,
                participant_id=municipality,
                response="accepted",
            )
    assert sc.count(session, PlanResponse) == 1  # only the ward's own acceptance


def test_rejection_needs_a_reason_and_sends_the_plan_back(
    session: Session, clock: FixedClock, world: sc.Scenario
) -> None:
    plan = sc.proposed_plan(session, clock, world)
    gp = sc.participant_id(plan, ParticipantRole.GP)
    with pytest.raises(ValidationFailed) as caught:
        plan_answers.respond(
            session,
            world.gp,
            clock,
            plan_id=plan.id,
            expected_version=plan.version,
            participant_id=gp,
            response="rejected",
        )
    assert caught.value.fields == ("note",)
    plan = plan_answers.respond(
        session,
        world.gp,
        clock,
        plan_id=plan.id,
        expected_version=plan.version,
        participant_id=gp,
        response="commented",
        note="Hvem tager blodprøver?",
    )
    assert plan.status is PlanStatus.PROPOSED
    plan = plan_answers.respond(
        session,
        world.gp,
        clock,
        plan_id=plan.id,
        expected_version=plan.version,
        participant_id=gp,
        response="rejected",
        note="Medicinen er forkert",
    )
    assert plan.status is PlanStatus.DRAFT
    assert [(r.response, r.note) for r in plan.responses][-2:] == [
        (ResponseStatus.COMMENTED, "Hvem tager blodprøver?"),
        (ResponseStatus.REJECTED, "Medicinen er forkert"),
    ]


def test_unknown_participant_and_bad_response(
    session: Session, clock: FixedClock, world: sc.Scenario
) -> None:
    plan = sc.proposed_plan(session, clock, world)
    with pytest.raises(NotFound):
        plan_answers.respond(
            session,
            world.gp,
            clock,
            plan_id=plan.id,
            expected_version=plan.version,
            participant_id=999999,
            response="accepted",
        )
    with pytest.raises(ValidationFailed) as caught:
        plan_answers.respond(
            session,
            world.gp,
            clock,
            plan_id=plan.id,
            expected_version=plan.version,
            participant_id=sc.participant_id(plan, ParticipantRole.GP),
            response="maybe",
        )
    assert caught.value.fields == ("response",)


# ---------------------------------------------------------------------------- §13b
def test_refusal_turns_the_agreement_into_a_coordination_plan(
    session: Session, clock: FixedClock, world: sc.Scenario
) -> None:
    plan = sc.complete_draft(session, clock, world)
    plan = plans.record_participation(
        session,
        world.nurse,
        clock,
        plan_id=plan.id,
        expected_version=plan.version,
        participates=False,
    )
    assert plan.kind is PlanKind.COORDINATION_PLAN
    assert (plan.patient_participation, plan.patient_refused_on) == (
        PatientParticipation.REFUSED,
        date(2026, 11, 26),
    )
    assert plan.participation_recorded_by_id == world.nurse.id
    assert ParticipantRole.PATIENT not in {p.role for p in plan.participants}
    plan = sc.propose(session, clock, world, plan)
    plan = sc.accept(session, clock, world, plan, ParticipantRole.MUNICIPALITY, ParticipantRole.GP)
    assert plan.status is PlanStatus.AGREED  # without the patient's agreement (§13b)


def _agreed_coordination_plan(session: Session, clock: FixedClock, w: sc.Scenario) -> Plan:
    """A complete plan the patient declined to take part in (§13b), agreed by the other parties."""
    plan = sc.complete_draft(session, clock, w)
    plan = plans.record_participation(
        session, w.nurse, clock, plan_id=plan.id, expected_version=plan.version, participates=False
    )
    plan = sc.propose(session, clock, w, plan)
    return sc.accept(session, clock, w, plan, ParticipantRole.MUNICIPALITY, ParticipantRole.GP)


def test_consent_before_agreement_turns_the_plan_back(
    session: Session, clock: FixedClock, world: sc.Scenario
) -> None:
    plan = sc.complete_draft(session, clock, world)
    plan = plans.record_participation(
        session,
        world.nurse,
        clock,
        plan_id=plan.id,
        expected_version=plan.version,
        participates=False,
    )
    same = plans.record_participation(
        session,
        world.nurse,
        clock,
        plan_id=plan.id,
        expected_version=plan.version,
        participates=True,
    )
    assert same.id == plan.id
    assert (same.kind, same.patient_participation) == (
        PlanKind.DISCHARGE_AGREEMENT,
        PatientParticipation.PARTICIPATES,
    )
    assert ParticipantRole.PATIENT in {p.role for p in same.participants}
    assert same.current_version.change_note.startswith("patient consented")


def test_later_consent_supersedes_the_coordination_plan(
    session: Session, clock: FixedClock, world: sc.Scenario
) -> None:
    coordination = _agreed_coordination_plan(session, clock, world)
    sc.discharge(session, clock, world, by=sc.SYSTEM)
    assert coordination.status is PlanStatus.ACTIVE
    clock.advance(timedelta(days=3))
    agreement = plans.record_participation(
        session,
        world.nurse,
        clock,
        plan_id=coordination.id,
        expected_version=coordination.version,
        participates=True,
    )
    assert agreement.id != coordination.id
    assert (agreement.kind, agreement.supersedes_plan_id) == (
        PlanKind.DISCHARGE_AGREEMENT,
        coordination.id,
    )
    assert agreement.current_version.sections == coordination.current_version.sections
    assert coordination.status is PlanStatus.ACTIVE  # stays in force until the agreement is agreed
    agreement = sc.agree(session, clock, world, agreement)
    assert agreement.status is PlanStatus.ACTIVE  # the patient is already discharged
    assert coordination.status is PlanStatus.ENDED
    assert coordination.ended_reason == f"superseded: superseded by plan {agreement.id}"


# ---------------------------------------------------------------------------- revise, end, withdraw
def test_revision_of_an_active_plan(
    session: Session, clock: FixedClock, world: sc.Scenario
) -> None:
    plan = sc.agreed_plan(session, clock, world)
    sc.discharge(session, clock, world, by=sc.SYSTEM)
    first_agreed = plan.agreed_at
    clock.advance(timedelta(days=2))
    plan = plans.start_revision(
        session,
        world.case_worker,
        clock,
        plan_id=plan.id,
        expected_version=plan.version,
        reason="flytter i botilbud",
    )
    plan = plans.edit_plan(
        session,
        world.case_worker,
        clock,
        plan_id=plan.id,
        expected_version=plan.version,
        sections={"housing": {"text": "Botilbud §107"}},
    )
    assert {p.response for p in plan.participants} == {ResponseStatus.PENDING}
    plan = sc.accept(
        session,
        clock,
        world,
        plan,
        ParticipantRole.PATIENT,
        ParticipantRole.WARD,
        ParticipantRole.MUNICIPALITY,
        ParticipantRole.GP,
    )
    assert plan.status is PlanStatus.ACTIVE  # it was in force before the revision
    assert plan.agreed_at == first_agreed  # still agreed before discharge
    assert (
        plan_requirement.pathway_obligation(session, clock, world.pathway).status
        is not ObligationStatus.OVERDUE
    )


def test_end_and_withdraw(session: Session, clock: FixedClock, world: sc.Scenario) -> None:
    plan = sc.draft(session, clock, world)
    with pytest.raises(IllegalTransition, match="from 'draft' to 'ended'"):
        plans.end_plan(
            session,
            world.nurse,
            clock,
            plan_id=plan.id,
            expected_version=plan.version,
            reason="death",
        )
    with pytest.raises(ValidationFailed) as caught:
        plans.withdraw(
            session, world.nurse, clock, plan_id=plan.id, expected_version=plan.version, reason=""
        )
    assert caught.value.fields == ("reason",)
    plan = plans.withdraw(
        session,
        world.nurse,
        clock,
        plan_id=plan.id,
        expected_version=plan.version,
        reason="overflyttet",
    )
    assert plan.status is PlanStatus.WITHDRAWN
    second = sc.agreed_plan(session, clock, world)  # a withdrawn plan no longer blocks a new one
    with pytest.raises(ValidationFailed) as caught:
        plans.end_plan(
            session,
            world.nurse,
            clock,
            plan_id=second.id,
            expected_version=second.version,
            reason="bored",
        )
    assert caught.value.fields == ("reason",)
    ended = plans.end_plan(
        session,
        world.case_worker,
        clock,
        plan_id=second.id,
        expected_version=second.version,
        reason=EndReason.MOVED_MUNICIPALITY,
    )
    assert (ended.status, ended.valid_to, ended.ended_reason) == (
        PlanStatus.ENDED,
        date(2026, 11, 26),
        "moved_municipality",
    )
    with pytest.raises(IllegalTransition):
        plans.withdraw(
            session,
            world.nurse,
            clock,
            plan_id=ended.id,
            expected_version=ended.version,
            reason="x",
        )


def test_activation_requires_discharge(
    session: Session, clock: FixedClock, world: sc.Scenario
) -> None:
    plan = sc.agreed_plan(session, clock, world)
    with pytest.raises(ValidationFailed) as caught:
        plans.activate_on_discharge(
            session, world.nurse, clock, plan_id=plan.id, expected_version=plan.version
        )
    assert caught.value.fields == ("pathway",)
    with pytest.raises(VersionRequired):  # people name the version they activate; the discharge not
        plans.activate_on_discharge(session, world.nurse, clock, plan_id=plan.id)
    assert world.pathway.status is PathwayStatus.ADMITTED


# ---------------------------------------------------------------------------- read
def test_reading_needs_a_care_relation_and_is_audited(
    session: Session, clock: FixedClock, world: sc.Scenario
) -> None:
    plan = sc.complete_draft(session, clock, world)
    assert [
        p.id
        for p in plan_queries.list_patient_plans(
            session, world.gp, clock, patient_id=world.patient.id
        )
    ] == [plan.id]
    with pytest.raises(AccessDenied) as caught:  # Aalborg has no relation to a citizen of København
        plan_queries.list_patient_plans(
            session, world.other_case_worker, clock, patient_id=world.patient.id
        )
    assert (caught.value.patient_id, caught.value.reason) == (
        world.patient.id,
        "no current care relation to the patient",
    )
    with pytest.raises(AccessDenied):
        plan_queries.get_plan(session, world.other_case_worker, clock, plan_id=plan.id)
    with pytest.raises(AccessDenied) as unknown:  # same answer for a patient that does not exist
        plan_queries.list_patient_plans(session, world.other_case_worker, clock, patient_id=999999)
    assert str(unknown.value) == str(caught.value)
    plan_queries.get_plan(session, world.case_worker, clock, plan_id=plan.id)
    reads = session.scalars(
        sa.select(AuditEntry).where(AuditEntry.action.in_([AuditAction.READ, AuditAction.SEARCH]))
    ).all()
    assert [(e.actor_id, e.patient_id, e.purpose) for e in reads] == [
        (world.gp.id, world.patient.id, "general_practice: patient's GP"),
        (world.case_worker.id, world.patient.id, "read plan"),
    ]
    assert reads[1].details == {"relation": "municipal_case: kommunekode 101"}
    with pytest.raises(ValidationFailed) as invalid:
        plan_queries.compare_versions(
            session, world.nurse, clock, plan_id=plan.id, from_number=1, to_number=9
        )
    assert invalid.value.fields == ("to",)


# ---------------------------------------------------------------------------- real concurrency
@pytest.fixture
def committed(tmp_path: Path):
    url = fresh_database_url(os.environ.get("TEST_DATABASE_URL"), tmp_path, "concurrency")
    migrate.upgrade(url)
    db = Database(url)
    clock = FixedClock(datetime(2026, 11, 26, 9, 30, tzinfo=UTC))
    with db.transaction() as setup:
        world = sc.build(setup, clock)
        plan_id = sc.complete_draft(setup, clock, world).id
    yield db, world, plan_id, clock
    db.dispose()


def _final_housing(db: Database, plan_id: int) -> tuple[object, int]:
    with db.sessionmaker() as check:
        final = check.get(Plan, plan_id)
        assert final is not None
        return final.current_version.sections["housing"], final.current_version_number


def test_edit_with_an_outdated_etag_is_refused(committed) -> None:
    """Two users open version N; the first saves; the second saves with If-Match N and is refused."""
    db, world, plan_id, clock = committed
    with db.sessionmaker() as read:
        found = read.get(Plan, plan_id)
        assert found is not None
        seen = found.version
    for who, text in ((world.nurse, "from the ward"), (world.case_worker, "from the municipality")):
        with db.sessionmaker() as request:
            try:
                plans.edit_plan(
                    request,
                    who,
                    clock,
                    plan_id=plan_id,
                    expected_version=seen,
                    sections={"housing": {"text": text}},
                )
                request.commit()
            except StaleVersion:
                request.rollback()
                assert who is world.case_worker
    assert _final_housing(db, plan_id) == ({"text": "from the ward"}, 3)


def test_overlapping_transactions_exactly_one_wins(committed) -> None:
    """Both transactions pass the version check before either writes: the database decides."""
    db, world, plan_id, clock = committed
    if db.engine.dialect.name == "sqlite":
        pytest.skip("SQLite transactions begin IMMEDIATE: writers queue, they never overlap")
    with db.sessionmaker() as first, db.sessionmaker() as second:
        seen = [session.get(Plan, plan_id) for session in (first, second)]
        version = seen[0].version if seen[0] is not None else 0
        assert [p.version if p is not None else None for p in seen] == [version, version]
        plans.edit_plan(
            first,
            world.nurse,
            clock,
            plan_id=plan_id,
            expected_version=version,
            sections={"housing": {"text": "from the ward"}},
        )
        first.commit()
        # The UPDATE ... WHERE version = N matches no row: the second edit is lost loudly, never silently.
        with pytest.raises(StaleVersion):
            plans.edit_plan(
                second,
                world.case_worker,
                clock,
                plan_id=plan_id,
                expected_version=version,
                sections={"housing": {"text": "from the municipality"}},
            )
        second.rollback()
    assert _final_housing(db, plan_id) == ({"text": "from the ward"}, 3)
