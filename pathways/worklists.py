"""What a worklist row says about a stay: where the §13a/§13b obligation stands, what the reader's party
must do, the follow-up after discharge, and how urgent it is.

Pure functions over the facts the reminder rules read (``pathways.reminders.facts``) and the obligation
(``pathways.agreements.plan_obligation``): the worklist names no rule of its own.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time
from enum import StrEnum

from pathways.agreements import (
    Obligation,
    ObligationStatus,
    PlanSnapshot,
    RequirementLevel,
    plan_obligation,
)
from pathways.clock import COPENHAGEN
from pathways.contacts import ContactAssignment, sectors_lacking_contact
from pathways.organisations import Sector
from pathways.plans import ParticipantRole, PlanStatus
from pathways.reminders.facts import PathwayFacts, PlanFacts


class WorkState(StrEnum):
    """Where the obligation of one stay stands, in the order it moves."""

    NOT_ASSESSED = "not_assessed"  # the chief physician has not assessed §13a yet
    NOT_REQUIRED = "not_required"
    NOT_STARTED = "not_started"  # required, and no plan yet
    DRAFT = "draft"
    PROPOSED = "proposed"  # waiting for the parties' answers
    AGREED = "agreed"
    OVERDUE = "overdue"  # discharged without an agreed plan

    @property
    def is_gap(self) -> bool:
        return self not in (WorkState.AGREED, WorkState.NOT_REQUIRED)


class Task(StrEnum):
    """What the reader's own party must do for a stay."""

    ANSWER_PLAN = "answer_plan"
    NAME_CONTACT = "name_contact"
    ATTEND_MEETING = "attend_meeting"


class FollowUp(StrEnum):
    NONE = "none"
    BOOKED = "booked"
    HELD = "held"


_SETTLED = {
    ObligationStatus.MET: WorkState.AGREED,
    ObligationStatus.NOT_APPLICABLE: WorkState.NOT_REQUIRED,
    ObligationStatus.OVERDUE: WorkState.OVERDUE,
}
_ANSWERING = (PlanStatus.PROPOSED, PlanStatus.UNDER_REVISION)
_PARTY_ROLE = {
    Sector.MUNICIPALITY: ParticipantRole.MUNICIPALITY,
    Sector.GENERAL_PRACTICE: ParticipantRole.GP,
}


@dataclass(frozen=True, slots=True)
class StayWork:
    """One stay as a worklist shows it."""

    state: WorkState
    obligation: Obligation
    plan_id: int | None  # the open (or agreed) plan to open from the row
    waiting_for: tuple[ParticipantRole, ...]
    lacking_contacts: tuple[Sector, ...]
    tasks: tuple[Task, ...]
    follow_up: FollowUp
    next_deadline: datetime | None
    is_overdue: bool

    @property
    def has_gaps(self) -> bool:
        return self.state.is_gap or bool(self.lacking_contacts) or self.is_overdue


@dataclass(frozen=True, slots=True)
class StayRank:
    """What ranks a stay on a worklist, whoever reads it: where its obligation stands and the obligation's
    own deadline (the start of the planned discharge day, while the plan is still open). It changes only
    when the stay's facts change, never by time alone, so the reminder engine stores it at every
    evaluation and a worklist ranks every stay in scope from the stored rows, reading full facts only for
    the page it shows."""

    state: WorkState
    due_at: datetime | None


def _obligation(facts: PathwayFacts, now: datetime) -> Obligation:
    return plan_obligation(
        facts.requirement,
        [PlanSnapshot(p.id, p.kind, p.status, p.agreed_at) for p in facts.plans],
        now=now,
        discharged_at=facts.discharged_at,
        planned_discharge_on=facts.planned_discharge_on,
    )


def _open_plan(facts: PathwayFacts) -> PlanFacts | None:
    open_plans = [p for p in facts.plans if p.status.is_open]
    return open_plans[-1] if open_plans else None


def _rank(facts: PathwayFacts, obligation: Obligation) -> StayRank:
    plan = _open_plan(facts)
    state = _state(facts.requirement.level, obligation, plan.status if plan else None)
    due_at = (
        datetime.combine(obligation.due_on, time.min, COPENHAGEN)
        if obligation.status is ObligationStatus.OPEN and obligation.due_on is not None
        else None
    )
    return StayRank(state, due_at)


def stay_rank(facts: PathwayFacts, now: datetime) -> StayRank:
    """The stay's rank at ``now`` (the same state and deadline ``stay_work`` answers)."""
    return _rank(facts, _obligation(facts, now))


def stay_work(
    facts: PathwayFacts,
    now: datetime,
    *,
    sector: Sector | None,
    organisations: frozenset[int] = frozenset(),
    reminder_deadlines: Iterable[datetime] = (),
) -> StayWork:
    """The worklist's view of one stay at ``now``, for a reader of ``sector`` acting for
    ``organisations`` (whose answers and contact persons are the reader's tasks)."""
    obligation = _obligation(facts, now)
    rank = _rank(facts, obligation)
    plan = _open_plan(facts)
    state = rank.state
    waiting = tuple(dict.fromkeys(p.role for p in plan.pending_parties) if plan is not None else ())
    today = now.astimezone(COPENHAGEN).date()
    lacking = tuple(
        sectors_lacking_contact(
            [
                ContactAssignment(
                    sector=c.sector,
                    valid_from=c.valid_from or date.min,
                    valid_to=c.valid_to,
                    person_id=c.person_id,
                    backup_person_id=c.backup_person_id,
                )
                for c in facts.contacts
            ],
            today,
            inactive_person_ids=frozenset(
                c.person_id for c in facts.contacts if c.person_id and not c.person_active
            ),
        )
    )
    tasks: list[Task] = []
    role = _PARTY_ROLE.get(sector) if sector is not None else None
    if (
        plan is not None
        and plan.status in _ANSWERING
        and any(
            p.role is role and (p.organisation_id is None or p.organisation_id in organisations)
            for p in plan.pending_parties
        )
    ):
        tasks.append(Task.ANSWER_PLAN)
    if sector is not None and sector in lacking and sector is not Sector.REGION:
        tasks.append(Task.NAME_CONTACT)
    requested, held = facts.network_meeting_requested_at, facts.network_meeting_held_at
    if requested is not None and (held is None or held < requested):
        tasks.append(Task.ATTEND_MEETING)
    follow_up = (
        FollowUp.HELD
        if facts.follow_up_held_at is not None
        else FollowUp.BOOKED
        if facts.follow_up_booked_for is not None
        else FollowUp.NONE
    )
    deadline, overdue = deadline_and_overdue(rank, reminder_deadlines, now)
    return StayWork(
        state=state,
        obligation=obligation,
        plan_id=plan.id if plan is not None else obligation.plan_id,
        waiting_for=waiting,
        lacking_contacts=lacking,
        tasks=tuple(tasks),
        follow_up=follow_up,
        next_deadline=deadline,
        is_overdue=overdue,
    )


def _state(
    level: RequirementLevel, obligation: Obligation, plan_status: PlanStatus | None
) -> WorkState:
    settled = _SETTLED.get(obligation.status)
    if settled is not None:
        return settled
    if level is RequirementLevel.NOT_ASSESSED:
        return WorkState.NOT_ASSESSED
    if plan_status in _ANSWERING:
        return WorkState.PROPOSED
    if plan_status is PlanStatus.DRAFT:
        return WorkState.DRAFT
    return WorkState.NOT_STARTED


def deadline_and_overdue(
    rank: StayRank, reminder_deadlines: Iterable[datetime], now: datetime
) -> tuple[datetime | None, bool]:
    """The stay's next deadline, the earliest of its open reminders' deadlines and, while the obligation
    is open, the start of the planned discharge day (the plan must be agreed before the patient leaves);
    and whether it is overdue (discharged without an agreed plan, or that deadline passed)."""
    candidates = list(reminder_deadlines)
    if rank.due_at is not None:
        candidates.append(rank.due_at)
    deadline = min(candidates) if candidates else None
    overdue = rank.state is WorkState.OVERDUE or (deadline is not None and deadline <= now)
    return deadline, overdue


_FAR = datetime.max.replace(tzinfo=COPENHAGEN)


def urgency_key(
    is_overdue: bool, deadline: datetime | None, admitted_at: datetime
) -> tuple[int, datetime, datetime]:
    """Sort key: overdue first, then the nearest deadline, then stays without one (longest admitted
    first)."""
    return (0 if is_overdue else 1, deadline or _FAR, admitted_at)


def urgency(work: StayWork, admitted_at: datetime) -> tuple[int, datetime, datetime]:
    """``urgency_key`` of a stay's worklist view."""
    return urgency_key(work.is_overdue, work.next_deadline, admitted_at)
