"""Issue 18.1: the GP the law names as a party can be set, its absence is a gap, and a plan reaches agreed
without a required party only with a recorded reason (services, facts and reminders)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from coordinator.access.services import AccessDenied
from coordinator.audit.models import AuditEntry
from coordinator.care_pathways.models import Pathway
from coordinator.care_pathways.services import admit_patient
from coordinator.patients import services as patients
from coordinator.patients.models import Patient
from coordinator.patients.services import register_patient
from coordinator.plans import answers as plan_answers
from coordinator.plans import parties as plan_parties
from coordinator.plans import services as plans
from coordinator.plans.models import Plan
from coordinator.reminders.facts import load_facts
from coordinator.reminders.scan import evaluate_pathways
from pathways.audit import AuditAction
from pathways.clock import FixedClock
from pathways.errors import Conflict, FieldError, StaleVersion, ValidationFailed
from pathways.plans import ParticipantRole, PlanStatus, ResponseStatus
from pathways.reminders import ReminderStatus
from tests import scenario as sc

NO_GP = "patienten har ingen egen læge"


def _admitted_without_gp(session: Session, clock: FixedClock, w: sc.Scenario) -> Pathway:
    """A patient as MedCom admits them: no GP clinic."""
    patient = register_patient(
        session,
        sc.SYSTEM,
        clock,
        given_name="Ole",
        family_name="Uden Læge",
        kommunekode="101",
        cpr="0202701236",
    )
    return admit_patient(
        session,
        sc.SYSTEM,
        clock,
        patient_id=patient.id,
        ward_id=w.ward.id,
        admitted_at=clock.now() - timedelta(days=5),
        idempotency_key="admit-without-gp",
    )


def _roles(plan: Plan) -> list[tuple[ParticipantRole, int | None, bool]]:
    return [(p.role, p.organisation_id, p.is_required) for p in plan.participants]


def _accept_all(session: Session, clock: FixedClock, w: sc.Scenario, plan: Plan) -> Plan:
    answerers = {
        ParticipantRole.PATIENT: w.nurse,
        ParticipantRole.MUNICIPALITY: w.case_worker,
        ParticipantRole.GP: w.gp,
    }
    for participant in list(plan.participants):
        who = answerers.get(participant.role)
        if (
            who is None
            or not participant.is_required
            or participant.response is ResponseStatus.ACCEPTED
        ):
            continue
        plan = plan_answers.respond(
            session,
            who,
            clock,
            plan_id=plan.id,
            expected_version=plan.version,
            participant_id=participant.id,
            response="accepted",
        )
    return plan


# ---------------------------------------------------------------------------- setting the GP
def test_the_gp_is_set_audited_and_joins_the_open_plan(
    session: Session, clock: FixedClock, world: sc.Scenario
) -> None:
    pathway = _admitted_without_gp(session, clock, world)
    draft = plans.create_draft(session, world.nurse, clock, pathway_id=pathway.id)
    assert [r for r, _, _ in _roles(draft)] == ["patient", "ward", "municipality"]
    patient = patients.set_general_practitioner(
        session,
        world.nurse,
        clock,
        patient_id=pathway.patient_id,
        gp_organisation_id=world.gp_clinic.id,
        expected_version=1,
    )
    assert (patient.gp_organisation_id, patient.gp_absent_reason, patient.version) == (
        world.gp_clinic.id,
        "",
        2,
    )
    session.refresh(draft)
    assert _roles(draft)[-1] == (ParticipantRole.GP, world.gp_clinic.id, True)
    entry = session.scalars(
        sa.select(AuditEntry)
        .where(AuditEntry.resource_type == "Patient", AuditEntry.action == AuditAction.UPDATE)
        .order_by(AuditEntry.id.desc())
    ).first()
    assert entry is not None
    assert entry.details == {
        "field": "general_practitioner",
        "from": None,
        "to": world.gp_clinic.id,
        "has_reason": False,
        "plans": [draft.id],
    }
    assert entry.actor_id == world.nurse.id


def test_bad_input_names_the_field_and_changes_nothing(
    session: Session, clock: FixedClock, world: sc.Scenario
) -> None:
    pathway = _admitted_without_gp(session, clock, world)
    cases: list[tuple[int | None, str, FieldError]] = [
        (
            world.municipality.id,
            "",
            FieldError(
                "gp_organisation_id",
                f"organisation {world.municipality.id} is not a known GP clinic",
                "unknown",
            ),
        ),
        (
            999_999,
            "",
            FieldError(
                "gp_organisation_id", "organisation 999999 is not a known GP clinic", "unknown"
            ),
        ),
        (
            None,
            "  ",
            FieldError(
                "reason",
                "say why the patient has no GP (e.g. the patient has no GP of their own)",
                "required",
            ),
        ),
        (
            world.gp_clinic.id,
            NO_GP,
            FieldError("reason", "a reason is given only when the patient has no GP", "invalid"),
        ),
    ]
    for gp_id, reason, error in cases:
        with pytest.raises(ValidationFailed) as caught:
            patients.set_general_practitioner(
                session,
                world.nurse,
                clock,
                patient_id=pathway.patient_id,
                gp_organisation_id=gp_id,
                reason=reason,
            )
        assert list(caught.value.errors) == [error]
    patient = session.get(Patient, pathway.patient_id)
    assert patient is not None
    assert (patient.gp_organisation_id, patient.gp_absent_reason, patient.version) == (None, "", 1)


def test_access_gate_and_version_are_checked(
    session: Session, clock: FixedClock, world: sc.Scenario
) -> None:
    with pytest.raises(AccessDenied):  # another ward's nurse has no relation to the patient
        patients.set_general_practitioner(
            session,
            world.other_nurse,
            clock,
            patient_id=world.patient.id,
            gp_organisation_id=world.other_gp_clinic.id,
        )
    with pytest.raises(AccessDenied):  # the GP's role does not keep the registration
        patients.set_general_practitioner(
            session,
            world.gp,
            clock,
            patient_id=world.patient.id,
            gp_organisation_id=world.other_gp_clinic.id,
        )
    with pytest.raises(StaleVersion):
        patients.set_general_practitioner(
            session,
            world.nurse,
            clock,
            patient_id=world.patient.id,
            gp_organisation_id=world.other_gp_clinic.id,
            expected_version=7,
        )
    session.refresh(world.patient)
    assert world.patient.gp_organisation_id == world.gp_clinic.id


def test_a_new_gp_answers_anew_and_clearing_records_the_reason(
    session: Session, clock: FixedClock, world: sc.Scenario
) -> None:
    plan = sc.complete_draft(session, clock, world, world.pathway.id)
    plan = plans.propose(
        session, world.nurse, clock, plan_id=plan.id, expected_version=plan.version
    )
    gp_party = next(p for p in plan.participants if p.role is ParticipantRole.GP)
    plan_answers.respond(
        session,
        world.gp,
        clock,
        plan_id=plan.id,
        expected_version=plan.version,
        participant_id=gp_party.id,
        response="accepted",
    )
    patients.set_general_practitioner(
        session,
        world.nurse,
        clock,
        patient_id=world.patient.id,
        gp_organisation_id=world.other_gp_clinic.id,
    )
    session.refresh(plan)
    assert (gp_party.organisation_id, gp_party.response) == (
        world.other_gp_clinic.id,
        ResponseStatus.PENDING,
    )
    assert plan.status is PlanStatus.PROPOSED
    # The patient turns out to have no GP: the party that answered stays on record, not required.
    patients.set_general_practitioner(
        session,
        world.nurse,
        clock,
        patient_id=world.patient.id,
        gp_organisation_id=None,
        reason=NO_GP,
    )
    session.refresh(plan)
    assert (gp_party.is_required, plan.missing_party_reasons) == (False, {"gp": NO_GP})
    assert plan.status is PlanStatus.PROPOSED  # the patient and the municipality have not answered
    plan = _accept_all(session, clock, world, plan)
    assert plan.status is PlanStatus.AGREED


# ---------------------------------------------------------------------------- agreed with a reason only
def test_a_plan_without_the_gp_is_refused_without_a_reason(
    session: Session, clock: FixedClock, world: sc.Scenario
) -> None:
    pathway = _admitted_without_gp(session, clock, world)
    plan = sc.complete_draft(session, clock, world, pathway.id)
    with pytest.raises(ValidationFailed) as caught:
        plans.propose(session, world.nurse, clock, plan_id=plan.id, expected_version=plan.version)
    assert list(caught.value.errors) == [
        FieldError(
            "participants",
            "a gp party is required, or a recorded reason why it is missing",
            "required",
        )
    ]
    session.refresh(plan)
    assert (plan.status, plan.missing_party_reasons) == (PlanStatus.DRAFT, {})


def test_a_recorded_reason_lets_the_plan_be_agreed_without_the_gp(
    session: Session, clock: FixedClock, world: sc.Scenario
) -> None:
    pathway = _admitted_without_gp(session, clock, world)
    plan = sc.complete_draft(session, clock, world, pathway.id)
    plan = plan_parties.record_missing_party(
        session,
        world.nurse,
        clock,
        plan_id=plan.id,
        expected_version=plan.version,
        role="gp",
        reason=f"  {NO_GP} ",
    )
    assert plan.missing_party_reasons == {"gp": NO_GP}
    plan = plans.propose(
        session, world.nurse, clock, plan_id=plan.id, expected_version=plan.version
    )
    plan = _accept_all(session, clock, world, plan)
    assert plan.status is PlanStatus.AGREED
    assert plan.missing_party_reasons == {"gp": NO_GP}


def test_a_reason_for_a_missing_party_is_checked(
    session: Session, clock: FixedClock, world: sc.Scenario
) -> None:
    plan = plans.create_draft(session, world.nurse, clock, pathway_id=world.pathway.id)
    version = plan.version
    for role, reason, error in (
        ("gp", NO_GP, FieldError("role", "the plan has a gp party", "business-rule")),
        (
            "relative",
            NO_GP,
            FieldError(
                "role", "a discharge_agreement does not require a relative party", "invalid"
            ),
        ),
        ("gp", "x" * 201, FieldError("reason", "must be at most 200 characters", "too-long")),
    ):
        with pytest.raises(ValidationFailed) as caught:
            plan_parties.record_missing_party(
                session,
                world.nurse,
                clock,
                plan_id=plan.id,
                expected_version=version,
                role=role,
                reason=reason,
            )
        assert error in caught.value.errors
    with pytest.raises(AccessDenied):  # only the responsible ward records it
        plan_parties.record_missing_party(
            session,
            world.case_worker,
            clock,
            plan_id=plan.id,
            expected_version=version,
            role="municipality",
            reason="ukendt",
        )
    session.refresh(plan)
    assert (plan.version, plan.missing_party_reasons) == (version, {})


def test_a_cleared_gp_is_carried_into_new_drafts_and_an_agreed_plan_is_left_alone(
    session: Session, clock: FixedClock, world: sc.Scenario
) -> None:
    pathway = _admitted_without_gp(session, clock, world)
    patients.set_general_practitioner(
        session,
        world.nurse,
        clock,
        patient_id=pathway.patient_id,
        gp_organisation_id=None,
        reason=NO_GP,
    )
    plan = sc.complete_draft(session, clock, world, pathway.id)
    assert plan.missing_party_reasons == {"gp": NO_GP}
    plan = plans.propose(
        session, world.nurse, clock, plan_id=plan.id, expected_version=plan.version
    )
    plan = _accept_all(session, clock, world, plan)
    assert plan.status is PlanStatus.AGREED
    patients.set_general_practitioner(
        session,
        world.nurse,
        clock,
        patient_id=pathway.patient_id,
        gp_organisation_id=world.gp_clinic.id,
    )
    session.refresh(plan)
    # An agreed plan changes through a revision, not behind the parties' backs.
    assert ParticipantRole.GP not in {p.role for p in plan.participants}
    assert plan.missing_party_reasons == {"gp": NO_GP}
    with pytest.raises(Conflict):
        plan_parties.record_missing_party(
            session,
            world.nurse,
            clock,
            plan_id=plan.id,
            expected_version=plan.version,
            role="gp",
            reason="",
        )


# ---------------------------------------------------------------------------- the gap rule
def test_an_unknown_gp_is_a_gap_until_set_or_explained(
    session: Session, clock: FixedClock, world: sc.Scenario
) -> None:
    pathway = _admitted_without_gp(session, clock, world)
    (facts,) = load_facts(session, [pathway.id])
    assert (facts.gp_clinic_id, facts.gp_absent_reason) == (None, "")
    evaluate_pathways(session, clock, [pathway.id])
    reminder = sc.reminders_by_key(session)["gp_unknown|gp"]
    assert (reminder.status, reminder.owner_organisation_id) == (ReminderStatus.OPEN, world.ward.id)
    patients.set_general_practitioner(
        session,
        world.nurse,
        clock,
        patient_id=pathway.patient_id,
        gp_organisation_id=None,
        reason=NO_GP,
    )
    (facts,) = load_facts(session, [pathway.id])
    assert facts.gp_absent_reason == NO_GP
    evaluate_pathways(session, clock, [pathway.id])
    assert sc.reminders_by_key(session)["gp_unknown|gp"].status is ReminderStatus.RESOLVED
    # the scenario's patient has a GP: no such gap
    evaluate_pathways(session, clock, [world.pathway.id])
    assert not [
        r
        for r in sc.reminders_by_key(session).values()
        if r.pathway_id == world.pathway.id and r.rule == "gp_unknown"
    ]
