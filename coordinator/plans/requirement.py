"""The §13a requirement: the chief physician's assessment of a stay, and whether an agreed discharge
agreement or coordination plan is in place before discharge (the obligation).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from coordinator.audit.services import record
from coordinator.care_pathways.models import Pathway
from coordinator.plans.loading import pathway_at_own_ward
from coordinator.plans.models import Plan
from pathways.agreements import (
    Obligation,
    PlanSnapshot,
    Requirement,
    RequirementFacts,
    agreement_requirement,
    plan_obligation,
)
from pathways.audit import AuditAction
from pathways.clock import Clock
from pathways.people import Actor
from pathways.permissions import Permission
from pathways.plans import PatientParticipation, PlanStatus


def pathway_requirement(pathway: Pathway, participation: PatientParticipation) -> Requirement:
    return agreement_requirement(
        RequirementFacts(
            receives_sel_support=pathway.receives_sel_support,
            presumed_not_to_seek_treatment=pathway.presumed_not_to_seek_treatment,
            patient_participation=participation,
        )
    )


def assess_requirement(
    session: Session,
    actor: Actor,
    clock: Clock,
    *,
    pathway_id: int,
    receives_sel_support: bool,
    presumed_not_to_seek_treatment: bool,
) -> Requirement:
    """The chief physician's §13a assessment for a stay."""
    pathway = pathway_at_own_ward(session, actor, clock, pathway_id, Permission.ASSESS_REQUIREMENT)
    now = clock.now()
    pathway.receives_sel_support = receives_sel_support
    pathway.presumed_not_to_seek_treatment = presumed_not_to_seek_treatment
    pathway.requirement_assessed_at = now
    pathway.requirement_assessed_by_id = actor.user_id
    pathway.updated_at = now
    session.flush()
    record(
        session,
        actor=actor,
        at=now,
        action=AuditAction.UPDATE,
        resource_type="Pathway",
        resource_id=pathway.id,
        patient_id=pathway.patient_id,
        purpose="§13a assessment",
        details={
            "receives_sel_support": receives_sel_support,
            "presumed_not_to_seek_treatment": presumed_not_to_seek_treatment,
        },
    )
    return pathway_requirement(pathway, _participation_of_open_plan(session, pathway.id))


def _participation_of_open_plan(session: Session, pathway_id: int) -> PatientParticipation:
    refused = session.scalar(
        sa.select(Plan.id).where(
            Plan.pathway_id == pathway_id,
            Plan.patient_participation == PatientParticipation.REFUSED,
            Plan.status.not_in([PlanStatus.ENDED, PlanStatus.WITHDRAWN]),
        )
    )
    return PatientParticipation.REFUSED if refused else PatientParticipation.UNKNOWN


def pathway_obligation(session: Session, clock: Clock, pathway: Pathway) -> Obligation:
    """Is an agreed agreement/plan in place for this stay (before discharge)?"""
    plans = session.scalars(sa.select(Plan).where(Plan.pathway_id == pathway.id)).all()
    return plan_obligation(
        pathway_requirement(pathway, _participation_of_open_plan(session, pathway.id)),
        [PlanSnapshot(p.id, p.kind, p.status, p.agreed_at) for p in plans],
        now=clock.now(),
        discharged_at=pathway.discharged_at,
        planned_discharge_on=pathway.planned_discharge_on,
    )
