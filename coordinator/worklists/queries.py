"""The worklist of a role: the stays a ward, a municipality or a GP clinic works on, with where each one's
§13a/§13b obligation stands, what is missing and the next deadline; most urgent first, filtered, searched
and paged.

The stays are gated like the REST lists (``care_pathways.queries``: a ward's staff list their wards, a
municipality's staff its citizens, a clinic its listed patients and the plans waiting for its answer),
and each patient shown on the page gets an audit entry (§13c). Every stay in scope is ranked by urgency
from its stored rank (``reminders.models.StoredRank``: the obligation's state and deadline, written by the
reminder evaluation, ADR 0015) and the open reminders' deadlines; the full facts (the reminder rules'
batch loader, one query per table) are read only for the page shown, and for stays never evaluated or
waiting in the evaluation queue. So a page costs the same number of statements however long the list.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from coordinator.audit.services import record_per_patient
from coordinator.care_pathways.models import Pathway
from coordinator.care_pathways.queries import (
    CURRENT,
    current_at,
    of_citizens,
    require_municipality,
    ward_scope,
)
from coordinator.organisations.lineage import (
    ancestors_and_self,
    descendants_and_self,
    organisation_scope,
)
from coordinator.organisations.models import Organisation
from coordinator.patients.models import Patient
from coordinator.plans.models import Plan, PlanParticipant
from coordinator.reminders.facts import load_facts
from coordinator.reminders.scan import stored_ranks
from coordinator.reminders.services import OpenReminders, open_reminders_by_pathway
from pathways.audit import AuditAction
from pathways.clock import COPENHAGEN, Clock
from pathways.errors import PermissionDenied
from pathways.organisations import OrganisationKind, Sector
from pathways.people import Actor, Role
from pathways.permissions import Permission, require
from pathways.plans import ParticipantRole, PlanStatus, ResponseStatus
from pathways.reminders.facts import PathwayFacts
from pathways.stays import PathwayStatus
from pathways.worklists import (
    StayRank,
    StayWork,
    WorkState,
    deadline_and_overdue,
    stay_rank,
    stay_work,
    urgency_key,
)

PAGE_SIZES = (25, 50)
RECENT = timedelta(
    days=30
)  # discharged stays stay on the municipality's and the GP's list this long
MAX_SEARCH = 100
_CPR = re.compile(r"\d{10}")


class ListKind(StrEnum):
    WARD = "ward"
    MUNICIPALITY = "municipality"
    PRACTICE = "practice"

    @property
    def sector(self) -> Sector:
        return {
            ListKind.WARD: Sector.REGION,
            ListKind.MUNICIPALITY: Sector.MUNICIPALITY,
            ListKind.PRACTICE: Sector.GENERAL_PRACTICE,
        }[self]


LIST_OF_ROLE: dict[Role, ListKind] = {
    Role.DISCHARGE_NURSE: ListKind.WARD,
    Role.CHIEF_PHYSICIAN: ListKind.WARD,
    Role.WARD_STAFF: ListKind.WARD,
    Role.CASE_WORKER: ListKind.MUNICIPALITY,
    Role.SUPPORT_WORKER: ListKind.MUNICIPALITY,
    Role.GP: ListKind.PRACTICE,
    Role.PRACTICE_STAFF: ListKind.PRACTICE,
}


def list_kind(actor: Actor) -> ListKind | None:
    """The worklist of the actor's role; None for roles without one (administrators, auditors)."""
    return LIST_OF_ROLE.get(actor.role) if actor.role is not None else None


class StayFilter(StrEnum):
    ALL = "all"
    CURRENT = "current"
    DISCHARGED = "discharged"


@dataclass(frozen=True, slots=True)
class WorklistQuery:
    state: WorkState | None = None
    gaps_only: bool = False
    ward_id: int | None = None  # one of the caller's wards (ward lists)
    stay: StayFilter = StayFilter.ALL  # admitted or recently discharged (municipality and GP lists)
    search: str = ""  # a name, or a whole CPR number
    page: int = 1
    per_page: int = PAGE_SIZES[0]


@dataclass(frozen=True, slots=True)
class Unit:
    id: int
    name: str


@dataclass(frozen=True, slots=True)
class WorklistRow:
    pathway_id: int
    patient_id: int
    name: str
    cpr: str
    ward_name: str
    status: PathwayStatus
    admitted_at: datetime
    planned_discharge_on: date | None
    discharged_at: datetime | None
    open_reminders: int
    work: StayWork


@dataclass(frozen=True, slots=True)
class Worklist:
    kind: ListKind
    unit_name: str  # the ward, municipality or clinic the list is for
    rows: tuple[WorklistRow, ...]
    total: int
    page: int
    per_page: int
    wards: tuple[Unit, ...] = ()  # the caller's wards, to filter by when there are several

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


@dataclass(frozen=True, slots=True)
class _Scope:
    condition: sa.ColumnElement[bool]
    unit_name: str
    wards: tuple[Unit, ...] = ()


def worklist(session: Session, actor: Actor, clock: Clock, query: WorklistQuery) -> Worklist:
    """One page of the actor's worklist, most urgent first: overdue first, then by the next deadline.

    PermissionDenied for a role without a worklist or a ward the actor does not work at. Each patient on
    the page is audited (one entry per patient)."""
    kind = list_kind(actor)
    if kind is None:
        raise PermissionDenied(f"the role {actor.role} has no worklist")
    require(actor, Permission.READ_PLAN)
    if actor.organisation_id is None:
        raise PermissionDenied(f"{actor.name} belongs to no organisation")
    now = clock.now()
    scope = {
        ListKind.WARD: _ward_scope,
        ListKind.MUNICIPALITY: _municipality_scope,
        ListKind.PRACTICE: _practice_scope,
    }[kind](session, actor, clock, query)
    statement = (
        sa.select(
            Pathway.id,
            Pathway.patient_id,
            Pathway.status,
            Pathway.admitted_at,
            Pathway.planned_discharge_on,
            Pathway.discharged_at,
            Patient.given_name,
            Patient.family_name,
            sa.func.coalesce(Patient.cpr, Patient.replacement_cpr).label("cpr"),
            Organisation.name.label("ward_name"),
        )
        .join(Patient, Patient.id == Pathway.patient_id)
        .join(Organisation, Organisation.id == Pathway.ward_id)
        .where(scope.condition)
    )
    if kind is not ListKind.WARD and query.stay is StayFilter.CURRENT:
        statement = statement.where(Pathway.status.in_(CURRENT))
    elif kind is not ListKind.WARD and query.stay is StayFilter.DISCHARGED:
        statement = statement.where(Pathway.status == PathwayStatus.DISCHARGED)
    searched = _search(query.search)
    if searched is not None:
        statement = statement.where(searched)
    stays = session.execute(statement).all()
    reminders = open_reminders_by_pathway(session, actor, {s.patient_id for s in stays})

    def deadlines(pathway_id: int) -> list[datetime]:
        found: OpenReminders | None = reminders.get(pathway_id)
        return [found.earliest_due_at] if found is not None else []

    ranks, facts = _ranks(session, [s.id for s in stays], now)
    organisations = organisation_scope(session, actor)

    def work_of(pathway_id: int) -> StayWork:
        return stay_work(
            facts[pathway_id],
            now,
            sector=kind.sector,
            organisations=organisations,
            reminder_deadlines=deadlines(pathway_id),
        )

    ranked: list[tuple[tuple[int, datetime, datetime], int]] = []
    unsure: list[int] = []  # gaps only: stays whose only gap could be a missing contact person
    for stay in stays:
        rank = ranks[stay.id]
        if query.state is not None and rank.state is not query.state:
            continue
        found = deadlines(stay.id)
        deadline, overdue = deadline_and_overdue(rank, found, now)
        if query.gaps_only and not (rank.state.is_gap or overdue or found):
            unsure.append(stay.id)
        ranked.append((urgency_key(overdue, deadline, stay.admitted_at), stay.id))
    if unsure:  # whether a contact person is missing needs the stay's facts (dates, active people)
        _load_missing(session, facts, unsure)
        without_gaps = {i for i in unsure if not work_of(i).has_gaps}
        ranked = [r for r in ranked if r[1] not in without_gaps]
    ranked.sort()
    per_page = query.per_page if query.per_page in PAGE_SIZES else PAGE_SIZES[0]
    pages = max(1, -(-len(ranked) // per_page))
    page = min(max(1, query.page), pages)
    on_page = [pathway_id for _, pathway_id in ranked[(page - 1) * per_page : page * per_page]]
    _load_missing(session, facts, on_page)
    by_id = {s.id: s for s in stays}
    shown = tuple(
        _row(by_id[i], work_of(i), reminders[i].count if i in reminders else 0) for i in on_page
    )
    record_per_patient(
        session,
        actor=actor,
        at=now,
        action=AuditAction.SEARCH,
        resource_type="Pathway",
        purpose=f"worklist: {kind.value} ({scope.unit_name})",
        shown=[(r.patient_id, r.pathway_id) for r in shown],
        key="pathways",
    )
    return Worklist(kind, scope.unit_name, shown, len(ranked), page, per_page, scope.wards)


def _ranks(
    session: Session, pathway_ids: list[int], now: datetime
) -> tuple[dict[int, StayRank], dict[int, PathwayFacts]]:
    """Every stay's rank: the stored one (ADR 0015), or, for a stay never evaluated or waiting in the
    evaluation queue (its stored rank may be older than its facts), worked out from its facts. Answers
    the ranks and the facts read on the way."""
    stored = stored_ranks(session, pathway_ids, evaluated_only=True)
    facts: dict[int, PathwayFacts] = {}
    _load_missing(session, facts, [i for i in pathway_ids if i not in stored])
    return stored | {i: stay_rank(f, now) for i, f in facts.items()}, facts


def _load_missing(session: Session, facts: dict[int, PathwayFacts], pathway_ids: list[int]) -> None:
    """Add the facts of those of these stays not read yet (one batch)."""
    missing = [i for i in pathway_ids if i not in facts]
    facts.update((f.pathway_id, f) for f in load_facts(session, missing))


def _row(stay: Any, work: StayWork, open_reminders: int) -> WorklistRow:
    return WorklistRow(
        pathway_id=stay.id,
        patient_id=stay.patient_id,
        name=f"{stay.given_name} {stay.family_name}",
        cpr=stay.cpr or "",
        ward_name=stay.ward_name,
        status=stay.status,
        admitted_at=stay.admitted_at,
        planned_discharge_on=stay.planned_discharge_on,
        discharged_at=stay.discharged_at,
        open_reminders=open_reminders,
        work=work,
    )


def _search(search: str) -> sa.ColumnElement[bool] | None:
    """A whole CPR number (with or without the dash) finds that person; other text searches names."""
    text = search.strip()[:MAX_SEARCH]
    if not text:
        return None
    digits = re.sub(r"[\s-]", "", text)
    if _CPR.fullmatch(digits):
        return sa.or_(Patient.cpr == digits, Patient.replacement_cpr == digits)
    pattern = "%" + re.sub(r"([\\%_])", r"\\\1", text.lower()) + "%"
    full_name = sa.func.lower(Patient.given_name + " " + Patient.family_name)
    return full_name.like(pattern, escape="\\")


def _name(session: Session, organisation_id: int) -> str:
    return (
        session.scalar(sa.select(Organisation.name).where(Organisation.id == organisation_id)) or ""
    )


def _ward_scope(session: Session, actor: Actor, clock: Clock, query: WorklistQuery) -> _Scope:
    """The current stays at the wards the actor works at (all of a centre's for its staff)."""
    assert actor.organisation_id is not None
    mine = ward_scope(session, actor, actor.organisation_id)
    wards = tuple(
        Unit(row.id, row.name)
        for row in session.execute(
            sa.select(Organisation.id, Organisation.name)
            .where(Organisation.id.in_(mine), Organisation.kind == OrganisationKind.WARD)
            .order_by(Organisation.name, Organisation.id)
        )
    )
    if query.ward_id is not None:
        if query.ward_id not in {w.id for w in wards}:
            raise PermissionDenied(f"{actor.name} does not work at ward {query.ward_id}")
        mine = ward_scope(session, actor, query.ward_id)
    return _Scope(current_at(mine), _name(session, actor.organisation_id), wards)


def _municipality_scope(
    session: Session, actor: Actor, clock: Clock, query: WorklistQuery
) -> _Scope:
    """The citizens of the actor's municipality who are admitted or were discharged lately."""
    assert actor.organisation_id is not None
    municipality = session.execute(
        sa.select(Organisation.name, Organisation.kommunekode).where(
            Organisation.id.in_(ancestors_and_self(session, actor.organisation_id)),
            Organisation.kind == OrganisationKind.MUNICIPALITY,
            Organisation.kommunekode.is_not(None),
        )
    ).first()
    if municipality is None:  # a unit outside any municipality: no citizens of its own
        return _Scope(sa.false(), _name(session, actor.organisation_id))
    require_municipality(session, actor, municipality.kommunekode)
    since = (clock.now() - RECENT).astimezone(COPENHAGEN).date()
    return _Scope(of_citizens(clock, municipality.kommunekode, since), municipality.name)


def _practice_scope(session: Session, actor: Actor, clock: Clock, query: WorklistQuery) -> _Scope:
    """The clinic's listed patients who are admitted or were discharged lately (the GP relation), and
    the stays whose plan waits for the clinic's answer (the plan-party relation)."""
    assert actor.organisation_id is not None
    clinics = descendants_and_self(session, actor.organisation_id)
    since = clock.now() - RECENT
    listed = sa.and_(
        Patient.gp_organisation_id.in_(clinics),
        sa.or_(
            Pathway.status.in_(CURRENT),
            sa.and_(Pathway.status == PathwayStatus.DISCHARGED, Pathway.discharged_at >= since),
        ),
    )
    awaiting = (
        sa.select(Plan.pathway_id)
        .join(PlanParticipant, PlanParticipant.plan_id == Plan.id)
        .where(
            Plan.pathway_id.is_not(None),
            Plan.status.in_([PlanStatus.PROPOSED, PlanStatus.UNDER_REVISION]),
            PlanParticipant.role == ParticipantRole.GP,
            PlanParticipant.organisation_id.in_(clinics),
            PlanParticipant.response == ResponseStatus.PENDING,
        )
    )
    return _Scope(sa.or_(listed, Pathway.id.in_(awaiting)), _name(session, actor.organisation_id))
