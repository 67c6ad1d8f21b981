"""Use cases for discharge agreements (§13a) and coordination plans (§13b).

Each takes the acting party and a clock, checks the permission and the party's relation to the plan,
applies the rules of pathways.agreements / pathways.plan_content, writes an audit entry and flushes.
The caller commits once. Every content change creates a new immutable PlanVersion.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, joinedload, selectinload
from sqlalchemy.orm.attributes import flag_modified
from sqlalchemy.orm.exc import StaleDataError

from coordinator.access.services import (
    DEFAULT_GRACE,
    AccessDenied,
    refuse_unknown,
    require_patient_access,
)
from coordinator.audit.services import record, record_per_patient
from coordinator.care_pathways.models import Pathway
from coordinator.organisations.lineage import acts_for, organisation_scope
from coordinator.organisations.models import Organisation
from coordinator.patients.models import Patient
from coordinator.plans.models import Plan, PlanParticipant, PlanResponse, PlanVersion
from pathways.access import NO_CLINICAL_CONTENT, AccessDecision
from pathways.agreements import (
    EndReason,
    Obligation,
    OpenPlan,
    ParticipantAnswer,
    PlanSnapshot,
    Requirement,
    RequirementFacts,
    agreement_requirement,
    check_no_duplicate,
    plan_obligation,
    required_answers_missing,
)
from pathways.audit import AuditAction
from pathways.clock import COPENHAGEN, Clock
from pathways.errors import (
    Conflict,
    ErrorCollector,
    NotFound,
    PermissionDenied,
    StaleVersion,
    ValidationFailed,
    VersionRequired,
)
from pathways.identifiers import validate_kommunekode
from pathways.organisations import OrganisationKind
from pathways.people import Actor, ActorKind
from pathways.permissions import Permission, require
from pathways.plan_content import (
    FieldChange,
    clean_sections,
    diff_sections,
    kind_rules,
    merge_sections,
    missing_sections,
)
from pathways.plans import (
    MAX_MISSING_PARTY_REASON,
    ParticipantRole,
    PatientParticipation,
    PlanKind,
    PlanStatus,
    ResponseStatus,
    check_plan_transition,
    unexplained_missing_parties,
)
from pathways.stays import PathwayStatus

EDITABLE = frozenset({PlanStatus.DRAFT, PlanStatus.UNDER_REVISION})
ANSWERABLE = frozenset({PlanStatus.PROPOSED, PlanStatus.UNDER_REVISION})


# ---------------------------------------------------------------------------- loading and guards
def _plan_query() -> sa.Select[Plan]:
    return sa.select(Plan).options(
        selectinload(Plan.versions), selectinload(Plan.participants), selectinload(Plan.pathway)
    )


@functools.cache
def _one_plan_query() -> sa.Select[Plan]:
    """One plan with its parties and current version, in one statement (built once, see _load)."""
    return (
        sa.select(Plan)
        .options(joinedload(Plan.participants), joinedload(Plan.current_version_row))
        .where(Plan.id == sa.bindparam("plan_id", type_=sa.Integer))
    )


def _load(
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
        plan = session.scalar(_plan_query().where(Plan.id == plan_id))
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


def _flush(session: Session, plan: Plan, expected_version: int | None) -> None:
    """Flush; a concurrent writer that committed first makes this one a conflict, not a lost update."""
    try:
        session.flush()
    except StaleDataError:
        # The session is unusable now; the caller (view, command, job) rolls back its unit of work.
        raise StaleVersion("plan", expected_version or 0, (expected_version or 0) + 1) from None


def _touch(plan: Plan, now: datetime) -> None:
    """A change to the plan's parties is a new version of the plan (its ETag, the answer Tasks'
    versionId), even when the clock shows the same time as the last change."""
    plan.updated_at = now
    flag_modified(plan, "updated_at")


def _party_organisations(plan: Plan) -> list[int]:
    return [p.organisation_id for p in plan.participants if p.organisation_id is not None]


def _deny(
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
        raise _deny(actor, clock, plan, permission, "only the responsible ward may do this")
    if party == "any" and not any(acts_for(session, actor, o) for o in _party_organisations(plan)):
        raise _deny(actor, clock, plan, permission, "not a party to this plan")
    return decision


def _audit(
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


def _transition(plan: Plan, target: PlanStatus, now: datetime) -> None:
    check_plan_transition(plan.status, target)
    plan.status = target
    plan.updated_at = now


def _today(now: datetime) -> date:
    return now.astimezone(COPENHAGEN).date()


def _new_version(
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


def _reset_answers(plan: Plan) -> None:
    for participant in plan.participants:
        participant.response = ResponseStatus.PENDING
        participant.responded_version_number = None
        participant.responded_at = None
        participant.responded_by_id = None
        participant.received_version_number = None
        participant.received_at = None


# ---------------------------------------------------------------------------- requirement
def _pathway_at_own_ward(
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
    pathway = _pathway_at_own_ward(session, actor, clock, pathway_id, Permission.ASSESS_REQUIREMENT)
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


# ---------------------------------------------------------------------------- create
def _open_plans(session: Session, pathway_id: int) -> list[OpenPlan]:
    rows = session.execute(
        sa.select(Plan.id, Plan.kind, Plan.status).where(
            Plan.pathway_id == pathway_id,
            Plan.status.not_in([PlanStatus.ENDED, PlanStatus.WITHDRAWN]),
        )
    )
    return [OpenPlan(id=r.id, kind=r.kind, status=r.status) for r in rows]


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


def _previous_sections(session: Session, patient_id: int) -> dict[str, Any]:
    """Content of the patient's most recent earlier plan: a readmission starts from what was agreed."""
    previous = session.scalar(
        _plan_query()
        .where(Plan.patient_id == patient_id)
        .order_by(Plan.created_at.desc(), Plan.id.desc())
    )
    if previous is None:
        return {}
    return {k: dict(v) for k, v in previous.current_version.sections.items()}


def _patient_party(patient: Patient) -> PlanParticipant:
    return PlanParticipant(
        role=ParticipantRole.PATIENT, person_name=f"{patient.given_name} {patient.family_name}"
    )


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
    pathway = _pathway_at_own_ward(session, actor, clock, pathway_id, Permission.CREATE_PLAN)
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
        plan.participants.append(_patient_party(patient))
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
    _new_version(plan, actor, now, _previous_sections(session, patient.id), "draft created")
    session.add(plan)
    session.flush()
    _audit(
        session, actor, now, plan, AuditAction.CREATE, purpose="create plan", kind=plan_kind.value
    )
    return plan


# ---------------------------------------------------------------------------- edit
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
    plan, _ = _load(
        session,
        actor,
        clock,
        plan_id,
        Permission.EDIT_PLAN,
        expected_version=expected_version,
        version_required=True,
    )
    if plan.status not in EDITABLE:
        raise Conflict(
            f"plan {plan.id} is {plan.status.value}; only drafts and plans under revision can "
            "be edited (start a revision first)"
        )
    errors = ErrorCollector()
    note = errors.text("change_note", change_note, required=False, max_length=500)
    changes = clean_sections(sections or {})
    if review_on is not None and review_on < _today(clock.now()):
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
    _new_version(plan, actor, now, new_sections, note)
    if plan.status is PlanStatus.UNDER_REVISION:
        _reset_answers(plan)  # parties agree to content: new content needs new answers
    _flush(session, plan, expected_version)
    _audit(
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


# ---------------------------------------------------------------------------- propose and answer
def propose(
    session: Session, actor: Actor, clock: Clock, *, plan_id: int, expected_version: int | None
) -> Plan:
    """Send a complete draft to the parties. The proposing party's own answer counts as an acceptance."""
    plan, _ = _load(
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
    for role in _unexplained_missing(plan):
        errors.add(
            "participants",
            f"a {role.value} party is required, or a recorded reason why it is missing",
            "required",
        )
    errors.raise_if_any()
    now = clock.now()
    _transition(plan, PlanStatus.PROPOSED, now)
    _reset_answers(plan)
    for participant in plan.participants:
        if participant.role is ParticipantRole.WARD:
            _answer(
                plan,
                participant,
                actor,
                now,
                response=ResponseStatus.ACCEPTED,
                note="proposed by the ward",
            )
    _flush(session, plan, expected_version)
    _audit(
        session,
        actor,
        now,
        plan,
        AuditAction.TRANSITION,
        purpose="propose plan",
        status=plan.status.value,
    )
    return plan


def _answer(
    plan: Plan,
    participant: PlanParticipant,
    actor: Actor,
    now: datetime,
    *,
    response: ResponseStatus,
    note: str,
) -> None:
    participant.response = response
    participant.response_note = note
    participant.responded_version_number = plan.current_version_number
    participant.responded_at = now
    participant.responded_by_id = actor.user_id
    plan.responses.append(
        PlanResponse(
            participant=participant,
            version_number=plan.current_version_number,
            response=response,
            note=note,
            responded_by_id=actor.user_id,
            responded_at=now,
        )
    )


def respond(
    session: Session,
    actor: Actor,
    clock: Clock,
    *,
    plan_id: int,
    expected_version: int | None,
    participant_id: int,
    response: ResponseStatus | str,
    note: str = "",
) -> Plan:
    """A party accepts, rejects (with a reason) or comments on the current version.

    Only staff acting for the party's organisation answer for it; the ward records the patient's answer.
    When every required party has accepted, the plan is agreed (and active again if it was revised after
    discharge). A rejection sends a proposal back to draft.
    """
    plan, _ = _load(
        session,
        actor,
        clock,
        plan_id,
        Permission.RESPOND_TO_PLAN,
        expected_version=expected_version,
        version_required=True,
    )
    errors = ErrorCollector()
    answer = errors.choice("response", ResponseStatus, response)
    clean_note = errors.text("note", note, required=False, max_length=2000)
    if answer is ResponseStatus.PENDING:
        errors.add("response", "answer accepted, rejected or commented")
    if answer in (ResponseStatus.REJECTED, ResponseStatus.COMMENTED) and not clean_note:
        errors.add("note", "a rejection or a comment needs a text", "required")
    errors.raise_if_any()
    assert answer is not None
    participant = _answering_party(session, actor, clock, plan, participant_id)
    now = clock.now()
    _answer(plan, participant, actor, now, response=answer, note=clean_note)
    if answer is ResponseStatus.REJECTED and plan.status is PlanStatus.PROPOSED:
        _transition(plan, PlanStatus.DRAFT, now)
    elif answer is ResponseStatus.ACCEPTED:
        _agree_if_complete(session, actor, plan, now)
    _touch(plan, now)
    _flush(session, plan, expected_version)
    _audit(
        session,
        actor,
        now,
        plan,
        AuditAction.UPDATE,
        purpose="answer plan",
        participant=participant.role.value,
        response=answer.value,
        version=plan.current_version_number,
    )
    return plan


def _answering_party(
    session: Session, actor: Actor, clock: Clock, plan: Plan, participant_id: int
) -> PlanParticipant:
    """The party ``actor`` answers for: staff acting for its organisation (the ward for the patient),
    while the plan waits for answers."""
    participant = next((p for p in plan.participants if p.id == participant_id), None)
    if participant is None:
        raise NotFound("participant", participant_id)
    answering_for = (
        plan.responsible_organisation_id
        if participant.role is ParticipantRole.PATIENT
        else participant.organisation_id
    )
    if not acts_for(session, actor, answering_for):
        raise _deny(
            actor,
            clock,
            plan,
            Permission.RESPOND_TO_PLAN,
            f"may not answer for the {participant.role.value} party",
        )
    if plan.status not in ANSWERABLE:
        raise Conflict(f"plan {plan.id} is {plan.status.value}: there is nothing to answer")
    return participant


def mark_received(
    session: Session,
    actor: Actor,
    clock: Clock,
    *,
    plan_id: int,
    expected_version: int,
    participant_id: int,
) -> Plan:
    """A party's system says it has the current proposal (FHIR Task status received), before it
    answers. Saying so again for the same version changes nothing; a new proposal asks again."""
    plan, _ = _load(
        session,
        actor,
        clock,
        plan_id,
        Permission.RESPOND_TO_PLAN,
        expected_version=expected_version,
    )
    participant = _answering_party(session, actor, clock, plan, participant_id)
    if participant.received_version_number == plan.current_version_number:
        return plan
    if participant.responded_version_number == plan.current_version_number:
        raise Conflict(
            f"the {participant.role.value} party has answered version "
            f"{plan.current_version_number} already"
        )
    now = clock.now()
    participant.received_version_number = plan.current_version_number
    participant.received_at = now
    _touch(plan, now)
    _flush(session, plan, expected_version)
    _audit(
        session,
        actor,
        now,
        plan,
        AuditAction.UPDATE,
        purpose="plan received",
        participant=participant.role.value,
        version=plan.current_version_number,
    )
    return plan


def _unexplained_missing(plan: Plan) -> list[ParticipantRole]:
    present = {p.role for p in plan.participants if p.is_required}
    reasons = dict(plan.missing_party_reasons or {})
    return unexplained_missing_parties(kind_rules(plan.kind).required_roles, present, reasons)


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


def _agree_if_complete(session: Session, actor: Actor, plan: Plan, now: datetime) -> None:
    if _unexplained_missing(plan):
        return  # a required party is missing and nobody has said why: not agreed
    answers = [
        ParticipantAnswer(p.role, p.is_required, p.response, p.responded_version_number)
        for p in plan.participants
    ]
    if required_answers_missing(plan.kind, answers, plan.current_version_number):
        return
    was_active = plan.activated_at is not None
    _transition(plan, PlanStatus.AGREED, now)
    # The first agreement is what counts for 'agreed before discharge'; re-agreeing a revision keeps it.
    plan.agreed_at = plan.agreed_at or now
    if was_active or (plan.pathway is not None and plan.pathway.status is PathwayStatus.DISCHARGED):
        _transition(plan, PlanStatus.ACTIVE, now)
        plan.activated_at = plan.activated_at or now
        plan.valid_from = plan.valid_from or _today(now)
    if plan.supersedes_plan_id is not None:
        old = session.get(Plan, plan.supersedes_plan_id)
        if old is not None and old.status.is_open:
            _end(old, now, EndReason.SUPERSEDED, f"superseded by plan {plan.id}")
            _audit(
                session,
                actor,
                now,
                old,
                AuditAction.TRANSITION,
                purpose="end plan",
                reason="superseded",
            )


# ---------------------------------------------------------------------------- missing parties
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
        _plan_query()
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
            _agree_if_complete(session, actor, plan, now)
        _flush(session, plan, None)
        _audit(
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
    plan, _ = _load(
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
        _agree_if_complete(session, actor, plan, now)
    _flush(session, plan, expected_version)
    _audit(
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


# ---------------------------------------------------------------------------- participation (§13b)
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
        _transition(plan, PlanStatus.DRAFT, now)
    _new_version(plan, actor, now, dict(plan.current_version.sections), note)


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
    plan, _ = _load(
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
    day = on or _today(now)
    if day > _today(now):
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
        _flush(session, plan, expected_version)
        _audit(
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
        _flush(session, plan, expected_version)
        _audit(session, actor, now, plan, AuditAction.UPDATE, purpose="patient takes part")
        return plan
    if plan.status in (PlanStatus.DRAFT, PlanStatus.PROPOSED):
        # Not agreed yet: the plan simply becomes a discharge agreement again, with the patient as a party.
        plan.participants.insert(0, _patient_party(plan.patient))
        _switch_kind(
            plan,
            actor,
            now,
            kind=PlanKind.DISCHARGE_AGREEMENT,
            participation=PatientParticipation.PARTICIPATES,
            note=f"patient consented on {day.isoformat()}: discharge agreement (§13a)",
        )
        _flush(session, plan, expected_version)
        _audit(
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
    _audit(
        session,
        actor,
        now,
        plan,
        AuditAction.UPDATE,
        purpose="patient consents: agreement supersedes plan",
        successor=successor.id,
    )
    return successor


# ---------------------------------------------------------------------------- activate, revise, end
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
    plan, _ = _load(
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
    _transition(plan, PlanStatus.ACTIVE, now)
    plan.activated_at = now
    discharged = plan.pathway.discharged_at
    plan.valid_from = _today(discharged) if discharged else _today(now)
    _flush(session, plan, expected_version)
    _audit(session, actor, now, plan, AuditAction.TRANSITION, purpose="activate plan on discharge")
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
    plan, _ = _load(
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
    _transition(plan, PlanStatus.UNDER_REVISION, now)
    _reset_answers(plan)
    _flush(session, plan, expected_version)
    _audit(session, actor, now, plan, AuditAction.TRANSITION, purpose="start revision", reason=text)
    return plan


def _end(plan: Plan, now: datetime, reason: EndReason, note: str) -> None:
    _transition(plan, PlanStatus.ENDED, now)
    plan.ended_at = now
    plan.valid_to = _today(now)
    plan.ended_reason = f"{reason.value}: {note}" if note else reason.value


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
    plan, _ = _load(
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
    _end(plan, now, why, text)
    _flush(session, plan, expected_version)
    _audit(session, actor, now, plan, AuditAction.TRANSITION, purpose="end plan", reason=why.value)
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
    plan, _ = _load(
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
    _transition(plan, PlanStatus.WITHDRAWN, now)
    plan.ended_at = now
    plan.ended_reason = f"withdrawn: {text}"
    _flush(session, plan, expected_version)
    _audit(session, actor, now, plan, AuditAction.TRANSITION, purpose="withdraw plan", reason=text)
    return plan


# ---------------------------------------------------------------------------- read
def get_plan(
    session: Session,
    actor: Actor,
    clock: Clock,
    *,
    plan_id: int,
    purpose: str = "read plan",
    with_history: bool = False,
) -> Plan:
    plan, decision = _load(
        session, actor, clock, plan_id, Permission.READ_PLAN, party=None, full=with_history
    )
    _audit(
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
    plan, decision = _load(
        session,
        actor,
        clock,
        plan_id,
        Permission.EDIT_PLAN,
        expected_version=expected_version,
        version_required=True,
    )
    _audit(
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


# ---------------------------------------------------------------------------- search
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


def _check_query(query: PlanQuery) -> str | None:
    """The query's kommunekode in canonical form; ValidationFailed for a bad page size or kommunekode."""
    errors = ErrorCollector()
    if not 1 <= query.limit <= MAX_PAGE_SIZE:
        errors.add("limit", f"must be between 1 and {MAX_PAGE_SIZE}")
    kommunekode = errors.check("kommunekode", validate_kommunekode, query.kommunekode)
    errors.raise_if_any()
    return kommunekode


def _filtered(
    statement: sa.Select[Plan], query: PlanQuery, kommunekode: str | None
) -> sa.Select[Plan]:
    """The query's filters and keyset page (newest first) on a plan statement."""
    statement = statement.order_by(Plan.id.desc()).limit(query.limit)
    if query.statuses:
        statement = statement.where(Plan.status.in_(query.statuses))
    if query.kind is not None:
        statement = statement.where(Plan.kind == query.kind)
    if query.patient_id is not None:
        statement = statement.where(Plan.patient_id == query.patient_id)
    if query.pathway_id is not None:
        statement = statement.where(Plan.pathway_id == query.pathway_id)
    if kommunekode is not None:
        statement = statement.join(Patient, Patient.id == Plan.patient_id).where(
            Patient.kommunekode == kommunekode
        )
    if query.review_before is not None:
        statement = statement.where(Plan.review_on < query.review_before)
    for period in query.periods:
        statement = statement.where(_period_condition(period))
    if query.after_id is not None:
        statement = statement.where(Plan.id < query.after_id)
    return statement


def search_plans(session: Session, actor: Actor, clock: Clock, query: PlanQuery) -> list[Plan]:
    """Plans the actor's organisation is a party to (never anyone else's), newest first, one page.

    A party's access ends a grace period after the plan ended (§13c). Each patient on the page gets an
    audit entry.
    """
    require(actor, Permission.READ_PLAN)
    kommunekode = _check_query(query)
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
    kommunekode = _check_query(query)
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
