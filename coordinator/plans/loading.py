"""What every plan use case shares: loading a plan once the actor may act on it, and the small steps
of a change (flush, audit entry, status transition, new version, ending).

The order of the checks is the point (see ``load_plan``): a refusal never tells which plans exist.
"""

from __future__ import annotations

import functools
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, joinedload, selectinload
from sqlalchemy.orm.attributes import flag_modified
from sqlalchemy.orm.exc import StaleDataError

from coordinator.access.services import AccessDenied, refuse_unknown, require_patient_access
from coordinator.audit.services import record
from coordinator.care_pathways.models import Pathway
from coordinator.organisations.lineage import acts_for
from coordinator.plans.models import Plan, PlanVersion
from pathways.access import AccessDecision
from pathways.agreements import EndReason
from pathways.audit import AuditAction
from pathways.clock import COPENHAGEN, Clock
from pathways.errors import StaleVersion, VersionRequired
from pathways.people import Actor
from pathways.permissions import Permission
from pathways.plans import PlanStatus, ResponseStatus, check_plan_transition


def plan_query() -> sa.Select[Plan]:
    return sa.select(Plan).options(
        selectinload(Plan.versions), selectinload(Plan.participants), selectinload(Plan.pathway)
    )


@functools.cache
def _one_plan_query() -> sa.Select[Plan]:
    """One plan with its parties and current version, in one statement (built once, see load_plan)."""
    return (
        sa.select(Plan)
        .options(joinedload(Plan.participants), joinedload(Plan.current_version_row))
        .where(Plan.id == sa.bindparam("plan_id", type_=sa.Integer))
    )


def load_plan(
    session: Session,
    actor: Actor,
    clock: Clock,
    plan_id: int,
    permission: Permission,
    *,
    party: str | None = "any",
    expected_version: int | None = None,
    version_required: bool = False,
    full: bool = True,
) -> tuple[Plan, AccessDecision]:
    """The plan, once the actor may do ``permission`` to it (see _authorise); ``full`` loads the whole
    version history (for changes), otherwise the current version.

    The order is the point: an unknown id gets the refusal someone else's plan gets (a refusal never
    tells which plans exist), and the version is looked at only after access is settled: a missing
    (``version_required``) or stale If-Match is told to an editor, a stranger gets the refusal."""
    if full:
        plan = session.scalar(plan_query().where(Plan.id == plan_id))
    else:
        plan = session.scalars(_one_plan_query(), {"plan_id": plan_id}).unique().one_or_none()
    if plan is None:
        raise refuse_unknown(
            session, actor, clock, permission, entity="plan", resource_type="Plan", key=plan_id
        )
    decision = _authorise(session, actor, clock, plan, permission, party=party)
    if expected_version is None:
        if version_required:
            raise VersionRequired("plan")
    elif plan.version != expected_version:
        raise StaleVersion("plan", expected_version, plan.version)
    return plan, decision


def flush_plan(session: Session, plan: Plan, expected_version: int | None) -> None:
    """Flush; a concurrent writer that committed first makes this one a conflict, not a lost update."""
    try:
        session.flush()
    except StaleDataError:
        # The session is unusable now; the caller (view, command, job) rolls back its unit of work.
        raise StaleVersion("plan", expected_version or 0, (expected_version or 0) + 1) from None


def touch(plan: Plan, now: datetime) -> None:
    """A change to the plan's parties is a new version of the plan (its ETag, the answer Tasks'
    versionId), even when the clock shows the same time as the last change."""
    plan.updated_at = now
    flag_modified(plan, "updated_at")


def _party_organisations(plan: Plan) -> list[int]:
    return [p.organisation_id for p in plan.participants if p.organisation_id is not None]


def deny(
    actor: Actor, clock: Clock, plan: Plan, permission: Permission, reason: str
) -> AccessDenied:
    return AccessDenied(
        f"{reason} (plan {plan.id})",
        actor=actor,
        patient_id=plan.patient_id,
        permission=permission,
        reason=reason,
        at=clock.now(),
        resource_type="Plan",
        resource_id=plan.id,
    )


def _authorise(
    session: Session,
    actor: Actor,
    clock: Clock,
    plan: Plan,
    permission: Permission,
    *,
    party: str | None = "any",
) -> AccessDecision:
    """Role and a current care relation to the patient (§13c), then, for changes, being a party:
    ``party="any"`` any party to the plan, ``"ward"`` the responsible ward, None no party needed."""
    decision = require_patient_access(
        session, actor, clock, plan.patient_id, permission, resource=("Plan", plan.id)
    )
    if party == "ward" and not acts_for(session, actor, plan.responsible_organisation_id):
        raise deny(actor, clock, plan, permission, "only the responsible ward may do this")
    if party == "any" and not any(acts_for(session, actor, o) for o in _party_organisations(plan)):
        raise deny(actor, clock, plan, permission, "not a party to this plan")
    return decision


def audit_plan(
    session: Session,
    actor: Actor,
    clock_now: datetime,
    plan: Plan,
    action: AuditAction,
    *,
    purpose: str,
    **details: Any,
) -> None:
    record(
        session,
        actor=actor,
        at=clock_now,
        action=action,
        resource_type="Plan",
        resource_id=plan.id,
        patient_id=plan.patient_id,
        purpose=purpose,
        details=details,
    )


def transition(plan: Plan, target: PlanStatus, now: datetime) -> None:
    check_plan_transition(plan.status, target)
    plan.status = target
    plan.updated_at = now


def today(now: datetime) -> date:
    return now.astimezone(COPENHAGEN).date()


def new_version(
    plan: Plan, actor: Actor, now: datetime, sections: dict[str, Any], note: str
) -> PlanVersion:
    number = plan.current_version_number + 1 if plan.versions else 1
    version = PlanVersion(
        number=number,
        sections=sections,
        review_on=plan.review_on,
        change_note=note,
        created_by_id=actor.user_id,
        created_at=now,
    )
    plan.versions.append(version)
    plan.current_version_number = number
    plan.updated_at = now
    return version


def reset_answers(plan: Plan) -> None:
    for participant in plan.participants:
        participant.response = ResponseStatus.PENDING
        participant.responded_version_number = None
        participant.responded_at = None
        participant.responded_by_id = None
        participant.received_version_number = None
        participant.received_at = None


def mark_ended(plan: Plan, now: datetime, reason: EndReason, note: str) -> None:
    transition(plan, PlanStatus.ENDED, now)
    plan.ended_at = now
    plan.valid_to = today(now)
    plan.ended_reason = f"{reason.value}: {note}" if note else reason.value


def pathway_at_own_ward(
    session: Session, actor: Actor, clock: Clock, pathway_id: int, permission: Permission
) -> Pathway:
    pathway = session.get(Pathway, pathway_id)
    if pathway is None:
        raise refuse_unknown(
            session,
            actor,
            clock,
            permission,
            entity="pathway",
            resource_type="Pathway",
            key=pathway_id,
        )
    require_patient_access(
        session, actor, clock, pathway.patient_id, permission, resource=("Pathway", pathway_id)
    )
    if not acts_for(session, actor, pathway.ward_id):
        raise AccessDenied(
            f"only staff of the ward may do this (pathway {pathway_id})",
            actor=actor,
            patient_id=pathway.patient_id,
            permission=permission,
            reason="not at the ward of the pathway",
            at=clock.now(),
            resource_type="Pathway",
            resource_id=pathway_id,
        )
    return pathway
