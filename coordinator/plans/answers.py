"""The parties' answers to a proposed plan: who may answer for a party, receipt, acceptance or
rejection, and when the answers make the plan agreed.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from coordinator.organisations.lineage import acts_for
from coordinator.plans.loading import (
    audit_plan,
    deny,
    flush_plan,
    load_plan,
    mark_ended,
    today,
    touch,
    transition,
)
from coordinator.plans.models import Plan, PlanParticipant, PlanResponse
from pathways.agreements import EndReason, ParticipantAnswer, required_answers_missing
from pathways.audit import AuditAction
from pathways.clock import Clock
from pathways.errors import Conflict, ErrorCollector, NotFound
from pathways.people import Actor
from pathways.permissions import Permission
from pathways.plan_content import kind_rules
from pathways.plans import (
    NothingToAnswer,
    ParticipantRole,
    PlanStatus,
    ResponseStatus,
    unexplained_missing_parties,
)
from pathways.stays import PathwayStatus

ANSWERABLE = frozenset({PlanStatus.PROPOSED, PlanStatus.UNDER_REVISION})


def record_answer(
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
    plan, _ = load_plan(
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
    record_answer(plan, participant, actor, now, response=answer, note=clean_note)
    if answer is ResponseStatus.REJECTED and plan.status is PlanStatus.PROPOSED:
        transition(plan, PlanStatus.DRAFT, now)
    elif answer is ResponseStatus.ACCEPTED:
        agree_if_complete(session, actor, plan, now)
    touch(plan, now)
    flush_plan(session, plan, expected_version)
    audit_plan(
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
        raise deny(
            actor,
            clock,
            plan,
            Permission.RESPOND_TO_PLAN,
            f"may not answer for the {participant.role.value} party",
        )
    if plan.status not in ANSWERABLE:
        raise NothingToAnswer(f"plan {plan.id} is {plan.status.value}: there is nothing to answer")
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
    plan, _ = load_plan(
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
    touch(plan, now)
    flush_plan(session, plan, expected_version)
    audit_plan(
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


def unexplained_missing(plan: Plan) -> list[ParticipantRole]:
    present = {p.role for p in plan.participants if p.is_required}
    reasons = dict(plan.missing_party_reasons or {})
    return unexplained_missing_parties(kind_rules(plan.kind).required_roles, present, reasons)


def agree_if_complete(session: Session, actor: Actor, plan: Plan, now: datetime) -> None:
    if unexplained_missing(plan):
        return  # a required party is missing and nobody has said why: not agreed
    answers = [
        ParticipantAnswer(p.role, p.is_required, p.response, p.responded_version_number)
        for p in plan.participants
    ]
    if required_answers_missing(plan.kind, answers, plan.current_version_number):
        return
    was_active = plan.activated_at is not None
    transition(plan, PlanStatus.AGREED, now)
    # The first agreement is what counts for 'agreed before discharge'; re-agreeing a revision keeps it.
    plan.agreed_at = plan.agreed_at or now
    if was_active or (plan.pathway is not None and plan.pathway.status is PathwayStatus.DISCHARGED):
        transition(plan, PlanStatus.ACTIVE, now)
        plan.activated_at = plan.activated_at or now
        plan.valid_from = plan.valid_from or today(now)
    if plan.supersedes_plan_id is not None:
        old = session.get(Plan, plan.supersedes_plan_id)
        if old is not None and old.status.is_open:
            mark_ended(old, now, EndReason.SUPERSEDED, f"superseded by plan {plan.id}")
            audit_plan(
                session,
                actor,
                now,
                old,
                AuditAction.TRANSITION,
                purpose="end plan",
                reason="superseded",
            )
