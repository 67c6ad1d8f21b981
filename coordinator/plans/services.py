"""Use cases for the life of discharge agreements (§13a) and coordination plans (§13b): draft, edit,
propose, the patient's participation, activation at discharge, revision, end and withdrawal.

Each takes the acting party and a clock, checks the permission and the party's relation to the plan,
applies the rules of pathways.agreements / pathways.plan_content, writes an audit entry and flushes.
The caller commits once. Every content change creates a new immutable PlanVersion. The parties'
answers are in ``answers``, the parties in ``parties``, the §13a requirement in ``requirement`` and
the reads in ``queries``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from coordinator.care_pathways.models import Pathway
from coordinator.plans.answers import record_answer, unexplained_missing
from coordinator.plans.loading import (
    audit_plan,
    flush_plan,
    load_plan,
    mark_ended,
    new_version,
    pathway_at_own_ward,
    plan_query,
    reset_answers,
    today,
    transition,
)
from coordinator.plans.models import Plan, PlanParticipant
from coordinator.plans.parties import municipality_of, patient_party
from pathways.agreements import EndReason, OpenPlan, check_no_duplicate
from pathways.audit import AuditAction
from pathways.clock import Clock
from pathways.errors import Conflict, ErrorCollector, ValidationFailed
from pathways.people import Actor, ActorKind
from pathways.permissions import Permission
from pathways.plan_content import (
    clean_sections,
    diff_sections,
    kind_rules,
    merge_sections,
    missing_sections,
)
from pathways.plans import (
    ParticipantRole,
    PatientParticipation,
    PlanKind,
    PlanNotEditable,
    PlanStatus,
    ResponseStatus,
    check_plan_transition,
)
from pathways.stays import PathwayStatus

EDITABLE = frozenset({PlanStatus.DRAFT, PlanStatus.UNDER_REVISION})


def _open_plans(session: Session, pathway_id: int) -> list[OpenPlan]:
    rows = session.execute(
        sa.select(Plan.id, Plan.kind, Plan.status).where(
            Plan.pathway_id == pathway_id,
            Plan.status.not_in([PlanStatus.ENDED, PlanStatus.WITHDRAWN]),
        )
    )
    return [OpenPlan(id=r.id, kind=r.kind, status=r.status) for r in rows]


def _previous_sections(session: Session, patient_id: int) -> dict[str, Any]:
    """Content of the patient's most recent earlier plan: a readmission starts from what was agreed."""
    previous = session.scalar(
        plan_query()
        .where(Plan.patient_id == patient_id)
        .order_by(Plan.created_at.desc(), Plan.id.desc())
    )
    if previous is None:
        return {}
    return {k: dict(v) for k, v in previous.current_version.sections.items()}


def create_draft(
    session: Session,
    actor: Actor,
    clock: Clock,
    *,
    pathway_id: int,
    kind: PlanKind | None = None,
    supersedes_plan_id: int | None = None,
) -> Plan:
    """A draft prefilled with the parties (patient, ward, home municipality, GP) and the content of the
    patient's previous plan. One open plan per pathway, unless it supersedes a §13b plan."""
    pathway = pathway_at_own_ward(session, actor, clock, pathway_id, Permission.CREATE_PLAN)
    if pathway.status in (PathwayStatus.CLOSED, PathwayStatus.CANCELLED):
        raise ValidationFailed.single(
            "pathway_id", f"pathway {pathway_id} is {pathway.status.value}"
        )
    check_no_duplicate(_open_plans(session, pathway.id), supersedes_id=supersedes_plan_id)
    patient = pathway.patient
    plan_kind = kind or PlanKind.DISCHARGE_AGREEMENT
    now = clock.now()
    plan = Plan(
        kind=plan_kind,
        status=PlanStatus.DRAFT,
        patient=patient,
        pathway=pathway,
        responsible_organisation_id=pathway.ward_id,
        supersedes_plan_id=supersedes_plan_id,
        patient_participation=(
            PatientParticipation.REFUSED
            if plan_kind is PlanKind.COORDINATION_PLAN
            else PatientParticipation.UNKNOWN
        ),
        created_by_id=actor.user_id,
        created_at=now,
        updated_at=now,
    )
    roles = kind_rules(plan_kind).required_roles
    if ParticipantRole.PATIENT in roles:
        plan.participants.append(patient_party(patient))
    plan.participants.append(
        PlanParticipant(role=ParticipantRole.WARD, organisation_id=pathway.ward_id)
    )
    plan.participants.append(
        PlanParticipant(
            role=ParticipantRole.MUNICIPALITY, organisation=municipality_of(session, patient)
        )
    )
    if patient.gp_organisation_id is not None:
        plan.participants.append(
            PlanParticipant(role=ParticipantRole.GP, organisation_id=patient.gp_organisation_id)
        )
    elif patient.gp_absent_reason and ParticipantRole.GP in roles:
        plan.missing_party_reasons = {ParticipantRole.GP.value: patient.gp_absent_reason}
    new_version(plan, actor, now, _previous_sections(session, patient.id), "draft created")
    session.add(plan)
    session.flush()
    audit_plan(
        session, actor, now, plan, AuditAction.CREATE, purpose="create plan", kind=plan_kind.value
    )
    return plan


def edit_plan(
    session: Session,
    actor: Actor,
    clock: Clock,
    *,
    plan_id: int,
    expected_version: int | None,
    sections: Mapping[str, Any] | None = None,
    review_on: date | None = None,
    valid_to: date | None = None,
    change_note: str = "",
) -> Plan:
    """Change sections (a section given replaces the old one; null removes it) and dates. Creates a new
    version; a stale ``expected_version`` is a conflict, never a lost update."""
    plan, _ = load_plan(
        session,
        actor,
        clock,
        plan_id,
        Permission.EDIT_PLAN,
        expected_version=expected_version,
        version_required=True,
    )
    if plan.status not in EDITABLE:
        raise PlanNotEditable(
            f"plan {plan.id} is {plan.status.value}; only drafts and plans under revision can "
            "be edited (start a revision first)"
        )
    errors = ErrorCollector()
    note = errors.text("change_note", change_note, required=False, max_length=500)
    changes = clean_sections(sections or {})
    if review_on is not None and review_on < today(clock.now()):
        errors.add("review_on", "the review date cannot be in the past")
    errors.raise_if_any()
    new_sections = merge_sections(plan.current_version.sections, changes)
    changed = diff_sections(plan.current_version.sections, new_sections)
    if not changed and review_on in (None, plan.review_on) and valid_to in (None, plan.valid_to):
        return plan  # nothing to do: no empty versions
    now = clock.now()
    if review_on is not None:
        plan.review_on = review_on
    if valid_to is not None:
        plan.valid_to = valid_to
    new_version(plan, actor, now, new_sections, note)
    if plan.status is PlanStatus.UNDER_REVISION:
        reset_answers(plan)  # parties agree to content: new content needs new answers
    flush_plan(session, plan, expected_version)
    audit_plan(
        session,
        actor,
        now,
        plan,
        AuditAction.UPDATE,
        purpose="edit plan",
        version=plan.current_version_number,
        sections=sorted({c.section for c in changed}),
    )
    return plan


def propose(
    session: Session, actor: Actor, clock: Clock, *, plan_id: int, expected_version: int | None
) -> Plan:
    """Send a complete draft to the parties. The proposing party's own answer counts as an acceptance."""
    plan, _ = load_plan(
        session,
        actor,
        clock,
        plan_id,
        Permission.EDIT_PLAN,
        party="ward",
        expected_version=expected_version,
        version_required=True,
    )
    check_plan_transition(plan.status, PlanStatus.PROPOSED)
    missing = missing_sections(plan.kind, plan.current_version.sections)
    errors = ErrorCollector()
    for section in missing:
        errors.add(
            f"sections.{section.value}", "required before the plan can be proposed", "required"
        )
    for role in unexplained_missing(plan):
        errors.add(
            "participants",
            f"a {role.value} party is required, or a recorded reason why it is missing",
            "required",
        )
    errors.raise_if_any()
    now = clock.now()
    transition(plan, PlanStatus.PROPOSED, now)
    reset_answers(plan)
    for participant in plan.participants:
        if participant.role is ParticipantRole.WARD:
            record_answer(
                plan,
                participant,
                actor,
                now,
                response=ResponseStatus.ACCEPTED,
                note="proposed by the ward",
            )
    flush_plan(session, plan, expected_version)
    audit_plan(
        session,
        actor,
        now,
        plan,
        AuditAction.TRANSITION,
        purpose="propose plan",
        status=plan.status.value,
    )
    return plan


def _switch_kind(
    plan: Plan,
    actor: Actor,
    now: datetime,
    *,
    kind: PlanKind,
    participation: PatientParticipation,
    note: str,
) -> None:
    """Turn an unagreed plan into the other kind: back to draft if proposed, content kept, and a new
    version that says why."""
    plan.kind = kind
    plan.patient_participation = participation
    plan.participation_recorded_by_id = actor.user_id
    if plan.status is PlanStatus.PROPOSED:
        transition(plan, PlanStatus.DRAFT, now)
    new_version(plan, actor, now, dict(plan.current_version.sections), note)


def record_participation(
    session: Session,
    actor: Actor,
    clock: Clock,
    *,
    plan_id: int,
    expected_version: int | None,
    participates: bool,
    on: date | None = None,
) -> Plan:
    """Record the patient's choice. A refusal turns an unagreed discharge agreement into a §13b
    coordination plan; consent on a coordination plan opens a discharge agreement that supersedes it
    (returned), and the old plan ends once the new one is agreed."""
    plan, _ = load_plan(
        session,
        actor,
        clock,
        plan_id,
        Permission.RECORD_PARTICIPATION,
        party="ward",
        expected_version=expected_version,
        version_required=True,
    )
    now = clock.now()
    day = on or today(now)
    if day > today(now):
        raise ValidationFailed.single("on", "the date cannot be in the future")
    if not participates:
        if plan.kind is PlanKind.COORDINATION_PLAN:
            raise Conflict(f"plan {plan.id} is already a coordination plan")
        if plan.status not in (PlanStatus.DRAFT, PlanStatus.PROPOSED):
            raise Conflict(
                f"plan {plan.id} is {plan.status.value}; end it or start a revision first"
            )
        plan.patient_refused_on = day
        plan.participants = [p for p in plan.participants if p.role is not ParticipantRole.PATIENT]
        _switch_kind(
            plan,
            actor,
            now,
            kind=PlanKind.COORDINATION_PLAN,
            participation=PatientParticipation.REFUSED,
            note=f"patient refused to take part on {day.isoformat()}: coordination plan (§13b)",
        )
        flush_plan(session, plan, expected_version)
        audit_plan(
            session,
            actor,
            now,
            plan,
            AuditAction.UPDATE,
            purpose="patient refused participation",
            refused_on=day.isoformat(),
        )
        return plan
    if plan.kind is PlanKind.DISCHARGE_AGREEMENT:
        plan.patient_participation = PatientParticipation.PARTICIPATES
        plan.participation_recorded_by_id = actor.user_id
        plan.updated_at = now
        flush_plan(session, plan, expected_version)
        audit_plan(session, actor, now, plan, AuditAction.UPDATE, purpose="patient takes part")
        return plan
    if plan.status in (PlanStatus.DRAFT, PlanStatus.PROPOSED):
        # Not agreed yet: the plan simply becomes a discharge agreement again, with the patient as a party.
        plan.participants.insert(0, patient_party(plan.patient))
        _switch_kind(
            plan,
            actor,
            now,
            kind=PlanKind.DISCHARGE_AGREEMENT,
            participation=PatientParticipation.PARTICIPATES,
            note=f"patient consented on {day.isoformat()}: discharge agreement (§13a)",
        )
        flush_plan(session, plan, expected_version)
        audit_plan(
            session, actor, now, plan, AuditAction.UPDATE, purpose="patient consents to take part"
        )
        return plan
    if plan.pathway_id is None:
        raise Conflict(f"plan {plan.id} belongs to no pathway")
    # An agreed coordination plan stays in force until the new agreement is agreed, then it ends.
    successor = create_draft(
        session,
        actor,
        clock,
        pathway_id=plan.pathway_id,
        kind=PlanKind.DISCHARGE_AGREEMENT,
        supersedes_plan_id=plan.id,
    )
    successor.patient_participation = PatientParticipation.PARTICIPATES
    successor.participation_recorded_by_id = actor.user_id
    session.flush()
    audit_plan(
        session,
        actor,
        now,
        plan,
        AuditAction.UPDATE,
        purpose="patient consents: agreement supersedes plan",
        successor=successor.id,
    )
    return successor


def activate_on_discharge(
    session: Session,
    actor: Actor,
    clock: Clock,
    *,
    plan_id: int,
    expected_version: int | None = None,
) -> Plan:
    """An agreed plan takes effect when the patient is discharged. People name the version they activate;
    the discharge itself (a system actor) activates whatever version was agreed."""
    plan, _ = load_plan(
        session,
        actor,
        clock,
        plan_id,
        Permission.ACTIVATE_PLAN,
        party="ward",
        expected_version=expected_version,
        version_required=actor.kind is not ActorKind.SYSTEM,
    )
    if plan.pathway is None or plan.pathway.status is not PathwayStatus.DISCHARGED:
        raise ValidationFailed.single(
            "pathway", "the plan becomes active when the patient is discharged"
        )
    now = clock.now()
    transition(plan, PlanStatus.ACTIVE, now)
    plan.activated_at = now
    discharged = plan.pathway.discharged_at
    plan.valid_from = today(discharged) if discharged else today(now)
    flush_plan(session, plan, expected_version)
    audit_plan(
        session, actor, now, plan, AuditAction.TRANSITION, purpose="activate plan on discharge"
    )
    return plan


def activate_agreed_plans(
    session: Session, actor: Actor, clock: Clock, pathway: Pathway
) -> list[Plan]:
    """Called by the discharge use case: every agreed plan of the stay becomes active."""
    plans = session.scalars(
        sa.select(Plan.id).where(Plan.pathway_id == pathway.id, Plan.status == PlanStatus.AGREED)
    ).all()
    return [activate_on_discharge(session, actor, clock, plan_id=plan_id) for plan_id in plans]


def start_revision(
    session: Session,
    actor: Actor,
    clock: Clock,
    *,
    plan_id: int,
    expected_version: int | None,
    reason: str,
) -> Plan:
    plan, _ = load_plan(
        session,
        actor,
        clock,
        plan_id,
        Permission.EDIT_PLAN,
        expected_version=expected_version,
        version_required=True,
    )
    clean_reason = ErrorCollector()
    text = clean_reason.text("reason", reason, max_length=500)
    clean_reason.raise_if_any()
    now = clock.now()
    transition(plan, PlanStatus.UNDER_REVISION, now)
    reset_answers(plan)
    flush_plan(session, plan, expected_version)
    audit_plan(
        session, actor, now, plan, AuditAction.TRANSITION, purpose="start revision", reason=text
    )
    return plan


def end_plan(
    session: Session,
    actor: Actor,
    clock: Clock,
    *,
    plan_id: int,
    expected_version: int | None,
    reason: EndReason | str,
    note: str = "",
) -> Plan:
    plan, _ = load_plan(
        session,
        actor,
        clock,
        plan_id,
        Permission.END_PLAN,
        expected_version=expected_version,
        version_required=True,
    )
    errors = ErrorCollector()
    why = errors.choice("reason", EndReason, reason)
    text = errors.text("note", note, required=False, max_length=150)
    errors.raise_if_any()
    assert why is not None
    now = clock.now()
    mark_ended(plan, now, why, text)
    flush_plan(session, plan, expected_version)
    audit_plan(
        session, actor, now, plan, AuditAction.TRANSITION, purpose="end plan", reason=why.value
    )
    return plan


def withdraw(
    session: Session,
    actor: Actor,
    clock: Clock,
    *,
    plan_id: int,
    expected_version: int | None,
    reason: str,
) -> Plan:
    plan, _ = load_plan(
        session,
        actor,
        clock,
        plan_id,
        Permission.CREATE_PLAN,
        party="ward",
        expected_version=expected_version,
        version_required=True,
    )
    errors = ErrorCollector()
    text = errors.text("reason", reason, max_length=150)
    errors.raise_if_any()
    now = clock.now()
    transition(plan, PlanStatus.WITHDRAWN, now)
    plan.ended_at = now
    plan.ended_reason = f"withdrawn: {text}"
    flush_plan(session, plan, expected_version)
    audit_plan(
        session, actor, now, plan, AuditAction.TRANSITION, purpose="withdraw plan", reason=text
    )
    return plan
