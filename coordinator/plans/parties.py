"""Who the plan's parties are: the patient's home municipality and the patient as a party, the GP party
following the patient's GP, and the reasons recorded for a required party that is missing.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from coordinator.organisations.models import Organisation
from coordinator.patients.models import Patient
from coordinator.plans.answers import agree_if_complete
from coordinator.plans.loading import audit_plan, flush_plan, load_plan, plan_query
from coordinator.plans.models import Plan, PlanParticipant
from pathways.audit import AuditAction
from pathways.clock import Clock
from pathways.errors import Conflict, ErrorCollector, ValidationFailed
from pathways.organisations import OrganisationKind
from pathways.people import Actor
from pathways.permissions import Permission
from pathways.plan_content import kind_rules
from pathways.plans import MAX_MISSING_PARTY_REASON, ParticipantRole, PlanStatus, ResponseStatus


def municipality_of(session: Session, patient: Patient) -> Organisation:
    """The patient's home municipality (by kommunekode); ValidationFailed when it is not registered."""
    municipality = session.scalar(
        sa.select(Organisation).where(
            Organisation.kind == OrganisationKind.MUNICIPALITY,
            Organisation.kommunekode == patient.kommunekode,
        )
    )
    if municipality is None:
        raise ValidationFailed.single(
            "patient.kommunekode",
            f"the patient's municipality ({patient.kommunekode.zfill(4)}) is not registered in carepath",
            "unknown",
        )
    return municipality


def patient_party(patient: Patient) -> PlanParticipant:
    return PlanParticipant(
        role=ParticipantRole.PATIENT, person_name=f"{patient.given_name} {patient.family_name}"
    )


UNAGREED = frozenset({PlanStatus.DRAFT, PlanStatus.PROPOSED})


def _without_reason(plan: Plan, role: ParticipantRole) -> None:
    reasons = dict(plan.missing_party_reasons or {})
    if reasons.pop(role.value, None) is not None:
        plan.missing_party_reasons = reasons  # a new dict: the JSON column sees the change


def _has_answered(plan: Plan, participant: PlanParticipant) -> bool:
    return any(r.participant is participant for r in plan.responses)


def follow_general_practitioner(
    session: Session, actor: Actor, now: datetime, patient: Patient
) -> list[Plan]:
    """The patient's GP changed (set, replaced or cleared with a reason): the patient's plans that are
    not agreed yet (draft, proposed) follow when their kind requires a GP party. A new GP becomes the
    plan's GP party (a replaced one answers anew) and the reason for a missing GP goes; a cleared GP
    leaves the plan (kept as a party that is not required when it has answered before, so its answers
    stay on record) and the patient's reason is recorded on the plan. A proposal whose other required
    parties have all accepted is then agreed. Called by the patient use case, which checked the access
    and writes its own audit entry; each changed plan gets one too. Returns the changed plans."""
    plans = session.scalars(
        plan_query()
        .options(selectinload(Plan.responses))
        .where(Plan.patient_id == patient.id, Plan.status.in_(UNAGREED))
        .order_by(Plan.id)
    ).all()
    changed: list[Plan] = []
    gp_id = patient.gp_organisation_id
    for plan in plans:
        if ParticipantRole.GP not in kind_rules(plan.kind).required_roles:
            continue
        before = (
            [(p.role, p.organisation_id, p.is_required) for p in plan.participants],
            dict(plan.missing_party_reasons or {}),
        )
        current = [p for p in plan.participants if p.role is ParticipantRole.GP]
        if gp_id is not None:
            _without_reason(plan, ParticipantRole.GP)
            party = next((p for p in current if p.is_required), current[0] if current else None)
            if party is None:
                plan.participants.append(
                    PlanParticipant(role=ParticipantRole.GP, organisation_id=gp_id)
                )
            elif party.organisation_id != gp_id or not party.is_required:
                party.organisation_id = gp_id
                party.is_required = True
                party.response = ResponseStatus.PENDING
                party.response_note = ""
                party.responded_version_number = None
                party.responded_at = None
                party.responded_by_id = None
        else:
            for party in current:
                if _has_answered(plan, party):
                    party.is_required = False
                else:
                    plan.participants.remove(party)
            reasons = dict(plan.missing_party_reasons or {})
            reasons[ParticipantRole.GP.value] = patient.gp_absent_reason
            plan.missing_party_reasons = reasons
        after = (
            [(p.role, p.organisation_id, p.is_required) for p in plan.participants],
            dict(plan.missing_party_reasons or {}),
        )
        if after == before:
            continue
        plan.updated_at = now
        if plan.status is PlanStatus.PROPOSED:
            agree_if_complete(session, actor, plan, now)
        flush_plan(session, plan, None)
        audit_plan(
            session,
            actor,
            now,
            plan,
            AuditAction.UPDATE,
            purpose="follow the patient's GP",
            gp_organisation_id=gp_id,
            status=plan.status.value,
        )
        changed.append(plan)
    return changed


def record_missing_party(
    session: Session,
    actor: Actor,
    clock: Clock,
    *,
    plan_id: int,
    expected_version: int | None,
    role: ParticipantRole | str,
    reason: object,
) -> Plan:
    """The responsible ward records why a party the rules require is not on the plan (an empty reason
    takes it back). Only for a plan not agreed yet and a required party that is missing: with the
    reason the plan can be proposed and agreed without it, and the reason is shown on the plan."""
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
    errors = ErrorCollector()
    clean_role = errors.choice("role", ParticipantRole, role)
    text = errors.text("reason", reason, required=False, max_length=MAX_MISSING_PARTY_REASON)
    if clean_role is not None and clean_role not in kind_rules(plan.kind).required_roles:
        errors.add("role", f"a {plan.kind.value} does not require a {clean_role.value} party")
    elif clean_role is not None and any(
        p.role is clean_role and p.is_required for p in plan.participants
    ):
        errors.add("role", f"the plan has a {clean_role.value} party", "business-rule")
    errors.raise_if_any()
    assert clean_role is not None
    if plan.status not in UNAGREED:
        raise Conflict(
            f"plan {plan.id} is {plan.status.value}: reasons for missing parties are recorded "
            "before it is agreed"
        )
    reasons = dict(plan.missing_party_reasons or {})
    if reasons.get(clean_role.value, "") == text:
        return plan
    if text:
        reasons[clean_role.value] = text
    else:
        reasons.pop(clean_role.value, None)
    now = clock.now()
    plan.missing_party_reasons = reasons
    plan.updated_at = now
    if plan.status is PlanStatus.PROPOSED:
        agree_if_complete(session, actor, plan, now)
    flush_plan(session, plan, expected_version)
    audit_plan(
        session,
        actor,
        now,
        plan,
        AuditAction.UPDATE,
        purpose="record why a party is missing",
        role=clean_role.value,
        has_reason=bool(text),
        status=plan.status.value,
    )
    return plan
