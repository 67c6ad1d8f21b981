"""The read side of plans: one plan, a party and its plan, a patient's plans, version comparison and
the plan searches. Every read checks the care relation (§13c) and is audited.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from coordinator.access.services import DEFAULT_GRACE, refuse_unknown, require_patient_access
from coordinator.audit.services import record, record_per_patient
from coordinator.organisations.lineage import acts_for, organisation_scope
from coordinator.patients.models import Patient
from coordinator.plans.answers import ANSWERABLE
from coordinator.plans.loading import audit_plan, load_plan
from coordinator.plans.models import Plan, PlanParticipant
from coordinator.plans.services import EDITABLE
from pathways.access import NO_CLINICAL_CONTENT
from pathways.audit import AuditAction
from pathways.clock import Clock
from pathways.errors import ErrorCollector, PermissionDenied, ValidationFailed
from pathways.identifiers import validate_kommunekode
from pathways.people import Actor
from pathways.permissions import Permission, has_permission, require
from pathways.plan_content import FieldChange, Sections, citizen_sections, diff_sections
from pathways.plans import PLAN_TRANSITIONS, ParticipantRole, PlanKind, PlanStatus


def get_plan(
    session: Session,
    actor: Actor,
    clock: Clock,
    *,
    plan_id: int,
    purpose: str = "read plan",
    with_history: bool = False,
) -> Plan:
    plan, decision = load_plan(
        session, actor, clock, plan_id, Permission.READ_PLAN, party=None, full=with_history
    )
    audit_plan(
        session,
        actor,
        clock.now(),
        plan,
        AuditAction.READ,
        purpose=purpose,
        relation=decision.purpose,
    )
    return plan


def get_plan_for_edit(
    session: Session, actor: Actor, clock: Clock, *, plan_id: int, expected_version: int | None
) -> Plan:
    """The plan as an editor reads it before changing it (a FHIR update compares the whole resource):
    access to edit first, then the version, so a stale version is only ever told to an editor. The read
    is audited."""
    plan, decision = load_plan(
        session,
        actor,
        clock,
        plan_id,
        Permission.EDIT_PLAN,
        expected_version=expected_version,
        version_required=True,
    )
    audit_plan(
        session,
        actor,
        clock.now(),
        plan,
        AuditAction.READ,
        purpose="read plan for update",
        relation=decision.purpose,
    )
    return plan


def list_patient_plans(
    session: Session, actor: Actor, clock: Clock, *, patient_id: int
) -> list[Plan]:
    """The patient's plans, newest first, each with its parties and current version (the history is at
    ``get_plan(with_history=True)``): for anyone with a care relation (§13c)."""
    decision = require_patient_access(session, actor, clock, patient_id, Permission.READ_PLAN)
    plans = session.scalars(
        _list_query()
        .where(Plan.patient_id == patient_id)
        .order_by(Plan.created_at.desc(), Plan.id.desc())
    ).all()
    record(
        session,
        actor=actor,
        at=clock.now(),
        action=AuditAction.SEARCH,
        resource_type="Plan",
        patient_id=patient_id,
        purpose=decision.purpose,
        details={"plans": [p.id for p in plans]},
    )
    return list(plans)


@dataclass(frozen=True, slots=True)
class VersionComparison:
    plan_id: int
    from_number: int
    to_number: int
    changes: Sequence[FieldChange]


def compare_versions(
    session: Session, actor: Actor, clock: Clock, *, plan_id: int, from_number: int, to_number: int
) -> VersionComparison:
    plan = get_plan(
        session, actor, clock, plan_id=plan_id, purpose="compare plan versions", with_history=True
    )
    return _compare(plan, from_number, to_number)


def plan_history(
    session: Session,
    actor: Actor,
    clock: Clock,
    *,
    plan_id: int,
    from_number: int | None = None,
    to_number: int | None = None,
) -> tuple[Plan, VersionComparison | None]:
    """The plan with every version, and the comparison of two of them (by default the one before the
    current and the current; None while the plan has one version): one audited read."""
    plan = get_plan(
        session, actor, clock, plan_id=plan_id, purpose="read plan history", with_history=True
    )
    newest = plan.current_version_number
    to_number = newest if to_number is None else to_number
    from_number = max(to_number - 1, 1) if from_number is None else from_number
    if len(plan.versions) == 1:  # nothing to compare yet
        return plan, None
    return plan, _compare(plan, from_number, to_number)


def _compare(plan: Plan, from_number: int, to_number: int) -> VersionComparison:
    plan_id = plan.id
    old, new = plan.version_number_of(from_number), plan.version_number_of(to_number)
    errors = ErrorCollector()
    if old is None:
        errors.add("from", f"plan {plan_id} has no version {from_number}", "unknown")
    if new is None:
        errors.add("to", f"plan {plan_id} has no version {to_number}", "unknown")
    errors.raise_if_any()
    assert old is not None
    assert new is not None
    return VersionComparison(
        plan_id, from_number, to_number, diff_sections(old.sections, new.sections)
    )


def get_participant_plan(
    session: Session, actor: Actor, clock: Clock, *, participant_id: int, purpose: str
) -> tuple[Plan, PlanParticipant]:
    """A party and its plan, read like the plan (care relation, audited); an unknown party gets the
    refusal an unknown plan gets."""
    plan_id = session.scalar(
        sa.select(PlanParticipant.plan_id).where(PlanParticipant.id == participant_id)
    )
    if plan_id is None:
        raise refuse_unknown(
            session,
            actor,
            clock,
            Permission.READ_PLAN,
            entity="party",
            resource_type="PlanParticipant",
            key=participant_id,
        )
    plan = get_plan(session, actor, clock, plan_id=plan_id, purpose=purpose)
    participant = next(p for p in plan.participants if p.id == participant_id)
    return plan, participant


@dataclass(frozen=True, slots=True)
class PlanForEditor:
    """A plan as its editor page shows it, with what the reader may do to it now."""

    plan: Plan
    may_edit: bool
    may_propose: bool
    answerable: frozenset[int]  # the parties (participant ids) the reader answers for, now


def plan_for_editor(session: Session, actor: Actor, clock: Clock, *, plan_id: int) -> PlanForEditor:
    """The plan (an audited read) and what the reader may do to it: the same checks the use cases make
    (role, being a party, the responsible ward, the plan's state), so a page offers only what works."""
    plan = get_plan(session, actor, clock, plan_id=plan_id, purpose="read plan in editor")
    acting = {
        organisation_id
        for organisation_id in {
            plan.responsible_organisation_id,
            *(p.organisation_id for p in plan.participants if p.organisation_id is not None),
        }
        if acts_for(session, actor, organisation_id)
    }
    party_organisations = {p.organisation_id for p in plan.participants}
    is_party = bool(acting & party_organisations)
    may_edit = has_permission(actor, Permission.EDIT_PLAN) and is_party and plan.status in EDITABLE
    may_propose = (
        has_permission(actor, Permission.EDIT_PLAN)
        and plan.responsible_organisation_id in acting
        and (plan.status, PlanStatus.PROPOSED) in PLAN_TRANSITIONS
    )
    answerable: frozenset[int] = frozenset()
    if has_permission(actor, Permission.RESPOND_TO_PLAN) and plan.status in ANSWERABLE:
        answerable = frozenset(
            p.id
            for p in plan.participants
            if (
                plan.responsible_organisation_id
                if p.role is ParticipantRole.PATIENT
                else p.organisation_id
            )
            in acting
        )
    return PlanForEditor(plan, may_edit, may_propose, answerable)


@dataclass(frozen=True, slots=True)
class CitizenCopy:
    plan: Plan
    sections: Sections  # only the sections the rules let the citizen's copy show


def citizen_copy(
    session: Session, actor: Actor, clock: Clock, *, plan_id: int, as_pdf: bool = False
) -> CitizenCopy:
    """The citizen's copy of the current version: audited like any read (a PDF as an export)."""
    plan = get_plan(
        session,
        actor,
        clock,
        plan_id=plan_id,
        purpose="citizen copy (pdf)" if as_pdf else "citizen copy",
    )
    return CitizenCopy(plan, citizen_sections(plan.current_version.sections))


MAX_PAGE_SIZE = 100


@dataclass(frozen=True, slots=True)
class PeriodFilter:
    """Plans whose period (valid_from..valid_to, an open end unbounded) overlaps ``start..end`` (None: open),
    or, with ``within``, lies inside it. A plan without any period date never matches."""

    start: date | None = None
    end: date | None = None
    within: bool = False


@dataclass(frozen=True, slots=True)
class PlanQuery:
    statuses: frozenset[PlanStatus] = frozenset()
    kind: PlanKind | None = None
    kommunekode: str | None = None
    patient_id: int | None = None
    pathway_id: int | None = None
    review_before: date | None = None
    periods: tuple[PeriodFilter, ...] = ()  # all must hold (FHIR date=ge...&date=le...)
    after_id: int | None = None  # keyset pagination: plans with a smaller id (newest first)
    limit: int = 50


def _period_condition(period: PeriodFilter) -> sa.ColumnElement[bool]:
    conditions: list[sa.ColumnElement[bool]] = [
        sa.or_(Plan.valid_from.is_not(None), Plan.valid_to.is_not(None))
    ]
    if period.within:
        conditions += [Plan.valid_from.is_not(None), Plan.valid_to.is_not(None)]
        if period.start is not None:
            conditions.append(Plan.valid_from >= period.start)
        if period.end is not None:
            conditions.append(Plan.valid_to <= period.end)
        return sa.and_(*conditions)
    if period.start is not None:
        conditions.append(sa.or_(Plan.valid_to.is_(None), Plan.valid_to >= period.start))
    if period.end is not None:
        conditions.append(sa.or_(Plan.valid_from.is_(None), Plan.valid_from <= period.end))
    return sa.and_(*conditions)


def check_query(query: PlanQuery) -> str | None:
    """The query's kommunekode in canonical form; ValidationFailed for a bad page size or kommunekode."""
    errors = ErrorCollector()
    if not 1 <= query.limit <= MAX_PAGE_SIZE:
        errors.add("limit", f"must be between 1 and {MAX_PAGE_SIZE}")
    kommunekode = errors.check("kommunekode", validate_kommunekode, query.kommunekode)
    errors.raise_if_any()
    return kommunekode


def plan_conditions(query: PlanQuery) -> list[sa.ColumnElement[bool]]:
    """The query's filters on plans and its keyset position (all but the municipality, which needs the
    patient: see ``_filtered``)."""
    conditions: list[sa.ColumnElement[bool]] = []
    if query.statuses:
        conditions.append(Plan.status.in_(query.statuses))
    if query.kind is not None:
        conditions.append(Plan.kind == query.kind)
    if query.patient_id is not None:
        conditions.append(Plan.patient_id == query.patient_id)
    if query.pathway_id is not None:
        conditions.append(Plan.pathway_id == query.pathway_id)
    if query.review_before is not None:
        conditions.append(Plan.review_on < query.review_before)
    conditions += [_period_condition(period) for period in query.periods]
    if query.after_id is not None:
        conditions.append(Plan.id < query.after_id)
    return conditions


def _filtered(
    statement: sa.Select[Any], query: PlanQuery, kommunekode: str | None
) -> sa.Select[Any]:
    """The query's filters and keyset page (newest first) on a plan statement."""
    statement = statement.where(*plan_conditions(query)).order_by(Plan.id.desc()).limit(query.limit)
    if kommunekode is not None:
        statement = statement.join(Patient, Patient.id == Plan.patient_id).where(
            Patient.kommunekode == kommunekode
        )
    return statement


def search_plans(session: Session, actor: Actor, clock: Clock, query: PlanQuery) -> list[Plan]:
    """Plans the actor's organisation is a party to (never anyone else's), newest first, one page.

    A party's access ends a grace period after the plan ended (§13c). Each patient on the page gets an
    audit entry.
    """
    require(actor, Permission.READ_PLAN)
    kommunekode = check_query(query)
    if actor.role in NO_CLINICAL_CONTENT:
        raise PermissionDenied(f"role {actor.role} does not read clinical content")
    now = clock.now()
    grace = session.info.get("access_grace", DEFAULT_GRACE)
    party = sa.select(PlanParticipant.plan_id).where(
        PlanParticipant.organisation_id.in_(organisation_scope(session, actor))
    )
    statement = _list_query().where(Plan.id.in_(party))
    if not query.statuses or not all(s.is_open for s in query.statuses):
        # Ended and withdrawn plans stay visible to their parties for the grace period; an open plan
        # has no end (ENDED and WITHDRAWN are final), and leaving the condition out when only open
        # plans are asked for keeps the planner on the index (it misjudges the OR).
        statement = statement.where(sa.or_(Plan.ended_at.is_(None), Plan.ended_at >= now - grace))
    plans = list(session.scalars(_filtered(statement, query, kommunekode)))
    record_per_patient(
        session,
        actor=actor,
        at=now,
        action=AuditAction.SEARCH,
        resource_type="Plan",
        purpose="plan party: plan list",
        shown=[(p.patient_id, p.id) for p in plans],
        key="plans",
    )
    return plans


def search_patient_plans(
    session: Session, actor: Actor, clock: Clock, query: PlanQuery
) -> list[Plan]:
    """One patient's plans (``query.patient_id``), filtered, newest first, one page: for anyone with a
    care relation to the patient (§13c), as ``list_patient_plans``. The search is audited."""
    if query.patient_id is None:
        raise ValidationFailed.single("patient_id", "the patient is required", "required")
    kommunekode = check_query(query)
    decision = require_patient_access(session, actor, clock, query.patient_id, Permission.READ_PLAN)
    plans = list(session.scalars(_filtered(_list_query(), query, kommunekode)))
    record(
        session,
        actor=actor,
        at=clock.now(),
        action=AuditAction.SEARCH,
        resource_type="Plan",
        patient_id=query.patient_id,
        purpose=decision.purpose,
        details={"plans": [p.id for p in plans]},
    )
    return plans


def _list_query() -> sa.Select[Plan]:
    return sa.select(Plan).options(
        selectinload(Plan.participants), selectinload(Plan.current_version_row)
    )
