"""What the gap rules need to know about pathways, read in a handful of set-based queries per batch.

``load_facts`` turns up to a few thousand pathway ids into ``pathways.reminders.PathwayFacts`` with one
query per table (never one per pathway), so the scan over every open pathway streams in batches.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session, aliased

from coordinator.accounts.models import User
from coordinator.care_pathways.models import LeavePeriod, Pathway, PathwayEvent, PathwayFact
from coordinator.contacts.models import ContactAssignment
from coordinator.meetings.models import MeetingAction, NetworkMeeting
from coordinator.organisations.models import Organisation
from coordinator.patients.models import Patient
from coordinator.plans.models import Plan, PlanParticipant
from pathways import reminders as rules
from pathways.agreements import Requirement, RequirementFacts, agreement_requirement
from pathways.meetings import MeetingStatus, held_at
from pathways.organisations import OrganisationKind
from pathways.people import Role
from pathways.plans import ParticipantRole, PatientParticipation, PlanStatus, ResponseStatus
from pathways.stays import LeavePeriod as LeaveFact
from pathways.stays import PathwayEventType, PathwayFactType, PathwayStatus

DIRECTORY_KEY = "reminders.directory"
_NARROW_WARDS = 3  # up to this many wards: read only their part of the directory
_AGREED_OR_LIVE = (PlanStatus.ACTIVE, PlanStatus.UNDER_REVISION)


@dataclass(frozen=True, slots=True)
class Directory:
    """The organisation facts every batch needs: municipality by kommunekode, region and chief physician
    of each ward. Read once per session (a scan, or one request); a ward's region and chief physician are
    worked out when asked for (a pathway names one of a dozen wards, the directory holds every
    organisation)."""

    municipality_by_code: dict[str, int]
    parent: dict[int, int | None]
    own_region: dict[int, str | None]  # the region code an organisation itself carries
    chiefs: dict[int, int]  # the first active chief physician of each organisation
    wards: frozenset[int]

    def region_of(self, org_id: int) -> str | None:
        """The first region code up the organisation's lineage (itself, its parent, ...)."""
        seen: set[int] = set()
        current: int | None = org_id
        while current is not None and current not in seen:
            seen.add(current)
            if self.own_region.get(current):
                return self.own_region[current]
            current = self.parent.get(current)
        return None

    def chief_of(self, ward_id: int) -> int | None:
        """The ward's chief physician; a ward without one of its own answers to the centre's."""
        if ward_id not in self.wards:
            return None
        return self.chiefs.get(ward_id) or self.chiefs.get(self.parent.get(ward_id) or -1)

    @classmethod
    def load(
        cls,
        session: Session,
        *,
        wards: Collection[int] | None = None,
        kommunekoder: Collection[str] | None = None,
    ) -> Directory:
        """The whole directory, once per session; or, given a few ``wards`` and ``kommunekoder`` (one
        pathway's evaluation, in the commit of every change), only theirs, in two small queries: a change
        to one pathway need not read every organisation of the region."""
        cached: Directory | None = session.info.get(DIRECTORY_KEY)
        if cached is not None:
            return cached
        if wards is not None and kommunekoder is not None and len(wards) <= _NARROW_WARDS:
            return cls._narrow(session, wards, kommunekoder)
        orgs = session.execute(
            sa.select(
                Organisation.id,
                Organisation.kind,
                Organisation.parent_id,
                Organisation.kommunekode,
                Organisation.region_code,
            )
        ).all()
        chiefs: dict[int, int] = {}
        for user_id, org_id in session.execute(
            sa.select(User.id, User.organisation_id)
            .where(User.role == Role.CHIEF_PHYSICIAN, User.is_active.is_(True))
            .order_by(User.id)
        ):
            chiefs.setdefault(org_id, user_id)
        directory = cls(
            municipality_by_code={
                o.kommunekode: o.id
                for o in orgs
                if o.kind is OrganisationKind.MUNICIPALITY and o.kommunekode
            },
            parent={o.id: o.parent_id for o in orgs},
            own_region={o.id: (o.region_code.value if o.region_code else None) for o in orgs},
            chiefs=chiefs,
            wards=frozenset(o.id for o in orgs if o.kind is OrganisationKind.WARD),
        )
        session.info[DIRECTORY_KEY] = directory
        return directory

    @classmethod
    def _narrow(
        cls, session: Session, wards: Collection[int], kommunekoder: Collection[str]
    ) -> Directory:
        """The wards' lineage (each organisation with its first active chief physician) and the
        municipalities with these codes: the same answers as the whole directory, for these only."""
        lineage, municipalities = _narrow_statements()
        orgs = session.execute(lineage, {"wards": list(wards)}).all() if wards else []
        found = (
            session.execute(municipalities, {"codes": list(kommunekoder)}).all()
            if kommunekoder
            else []
        )
        return cls(
            municipality_by_code={m.kommunekode: m.id for m in found if m.kommunekode},
            parent={o.id: o.parent_id for o in orgs},
            own_region={o.id: (o.region_code.value if o.region_code else None) for o in orgs},
            chiefs={o.id: o.chief for o in orgs if o.chief is not None},
            wards=frozenset(o.id for o in orgs if o.kind is OrganisationKind.WARD),
        )


@cache
def _narrow_statements() -> tuple[sa.Select[Any], sa.Select[int, str | None]]:
    """Directory._narrow's two queries, built once: making a recursive CTE anew on every commit costs
    more than running it."""
    lineage = (
        sa.select(
            Organisation.id, Organisation.parent_id, Organisation.region_code, Organisation.kind
        )
        .where(Organisation.id.in_(sa.bindparam("wards", expanding=True)))
        .cte("lineage", recursive=True)
    )
    above = aliased(Organisation)
    lineage = lineage.union(
        sa.select(above.id, above.parent_id, above.region_code, above.kind).join(
            lineage, above.id == lineage.c.parent_id
        )
    )
    chief = (
        sa.select(User.id)
        .where(
            User.organisation_id == lineage.c.id,
            User.role == Role.CHIEF_PHYSICIAN,
            User.is_active.is_(True),
        )
        .order_by(User.id)
        .limit(1)
        .scalar_subquery()
    )
    municipalities = sa.select(Organisation.id, Organisation.kommunekode).where(
        Organisation.kind == OrganisationKind.MUNICIPALITY,
        Organisation.kommunekode.in_(sa.bindparam("codes", expanding=True)),
    )
    return sa.select(lineage, chief.label("chief")), municipalities


def among(session: Session, column: Any, ids: Collection[int]) -> sa.ColumnElement[bool]:
    """``column IN ids``; on PostgreSQL ``column = ANY(:ids)``, one array parameter.

    A scan batch names thousands of ids: as an IN list each is a placeholder that SQLAlchemy renders and
    psycopg parses in Python on every execution (a statement that long misses psycopg's parse cache), and
    the statement text changes with the number of ids. The array form is one short statement for any batch.
    """
    if session.get_bind().dialect.name == "postgresql":
        array = sa.bindparam(None, list(ids), type_=postgresql.ARRAY(sa.Integer))
        return column == sa.any_(array)
    return column.in_(ids)


def _grouped(rows: Iterable[Any], key: str) -> dict[int, list[Any]]:
    """Rows by their column ``key``, read by position (a look-up by name on every row costs more than the
    grouping itself)."""
    grouped: dict[int, list[Any]] = defaultdict(list)
    rows = iter(rows)
    first = next(rows, None)
    if first is None:
        return grouped
    at = first._fields.index(key)
    grouped[first[at]].append(first)
    for row in rows:
        grouped[row[at]].append(row)
    return grouped


def _gp_ladder(
    facts: Sequence[Any],
    plans: Sequence[Any],
    gp_clinic_id: int | None,
    accepted_at: datetime | None,
) -> tuple[rules.GpDelivery, datetime | None]:
    if accepted_at is not None:
        return rules.GpDelivery.ACCEPTED, accepted_at
    steps = {
        PathwayFactType.PLAN_SHARED: rules.GpDelivery.SHARED,
        PathwayFactType.PLAN_DELIVERED: rules.GpDelivery.DELIVERED,
        PathwayFactType.PLAN_READ: rules.GpDelivery.READ,
    }
    plan_ids = {p.id for p in plans}
    best, at = rules.GpDelivery.NONE, None
    for fact in facts:
        step = steps.get(fact.type)
        if step is None or (fact.organisation_id not in (None, gp_clinic_id)):
            continue
        if fact.plan_id is not None and fact.plan_id not in plan_ids:
            continue
        if step > best:
            best, at = step, fact.occurred_at
    return best, at


@dataclass(frozen=True, slots=True)
class _Batch:
    """The rows of one batch that a pathway's facts are made of, grouped by pathway, plan or patient."""

    directory: Directory
    leaves: dict[int, list[Any]]
    events: dict[int, list[Any]]
    coordination: dict[int, list[Any]]
    plans_by_pathway: dict[int, list[Any]]
    live_plans: dict[
        int, set[int | None]
    ]  # patient -> the pathways (None: none) of their plans in force
    participants: dict[int, list[Any]]
    contacts: dict[int, list[Any]]
    meetings: dict[int, list[Any]]
    actions: dict[int, list[Any]]


def load_facts(session: Session, pathway_ids: Sequence[int]) -> list[rules.PathwayFacts]:
    """The facts of these pathways (in id order), one query per table."""
    if not pathway_ids:
        return []
    ids = list(pathway_ids)
    stays = _stays(session, ids)
    batch = _load_batch(session, ids, stays)
    return [_pathway_facts(stay, batch) for stay in stays]


def _load_batch(session: Session, ids: list[int], stays: Sequence[Any]) -> _Batch:
    """Everything else the batch's pathways need, in the same order of queries every time."""
    patient_ids = {s.patient_id for s in stays}
    directory = Directory.load(
        session,
        wards={s.ward_id for s in stays},
        kommunekoder={s.kommunekode for s in stays if s.kommunekode},
    )
    leaves = _leaves(session, ids)
    events = _events(session, ids)
    coordination = _coordination(session, ids)
    plan_rows = _plans(session, ids, patient_ids)
    wanted = set(ids)
    own_plans = [p for p in plan_rows if p.pathway_id in wanted]
    participants = _participants(session, own_plans)
    contacts = _contacts(session, patient_ids)
    meetings = _meetings(session, ids)
    actions = _actions(session, ids)
    return _Batch(
        directory=directory,
        leaves=leaves,
        events=events,
        coordination=coordination,
        plans_by_pathway=_grouped(own_plans, "pathway_id"),
        live_plans=_live_plans(plan_rows),
        participants=participants,
        contacts=contacts,
        meetings=meetings,
        actions=actions,
    )


def _stays(session: Session, ids: list[int]) -> Sequence[Any]:
    """The pathways with their patient's municipality and GP, in id order."""
    return session.execute(
        sa.select(
            Pathway.id,
            Pathway.patient_id,
            Pathway.status,
            Pathway.admitted_at,
            Pathway.ward_id,
            Pathway.planned_discharge_on,
            Pathway.discharged_at,
            Pathway.readmission_of_id,
            Pathway.receives_sel_support,
            Pathway.presumed_not_to_seek_treatment,
            Patient.kommunekode,
            Patient.gp_organisation_id,
            Patient.gp_absent_reason,
        )
        .join(Patient, Patient.id == Pathway.patient_id)
        .where(among(session, Pathway.id, ids))
        .order_by(Pathway.id)
    ).all()


def _leaves(session: Session, ids: list[int]) -> dict[int, list[Any]]:
    return _grouped(
        session.execute(
            sa.select(LeavePeriod.pathway_id, LeavePeriod.started_at, LeavePeriod.ended_at)
            .where(among(session, LeavePeriod.pathway_id, ids))
            .order_by(LeavePeriod.started_at)
        ),
        "pathway_id",
    )


def _events(session: Session, ids: list[int]) -> dict[int, list[Any]]:
    """The events the rules read: planned discharge, booked and held follow-up (not annulled)."""
    return _grouped(
        session.execute(
            sa.select(
                PathwayEvent.pathway_id,
                PathwayEvent.type,
                PathwayEvent.occurred_at,
                PathwayEvent.recorded_at,
                PathwayEvent.payload,
            )
            .where(
                among(session, PathwayEvent.pathway_id, ids),
                PathwayEvent.is_annulled.is_(False),
                PathwayEvent.type.in_(
                    [
                        PathwayEventType.DISCHARGE_PLANNED,
                        PathwayEventType.FOLLOW_UP_BOOKED,
                        PathwayEventType.FOLLOW_UP_HELD,
                    ]
                ),
            )
            .order_by(PathwayEvent.recorded_at, PathwayEvent.id)
        ),
        "pathway_id",
    )


def _coordination(session: Session, ids: list[int]) -> dict[int, list[Any]]:
    """The coordination facts (notices, GP delivery steps, network meetings) in the order they happened."""
    return _grouped(
        session.execute(
            sa.select(
                PathwayFact.pathway_id,
                PathwayFact.type,
                PathwayFact.occurred_at,
                PathwayFact.plan_id,
                PathwayFact.organisation_id,
            )
            .where(among(session, PathwayFact.pathway_id, ids))
            .order_by(PathwayFact.occurred_at, PathwayFact.id)
        ),
        "pathway_id",
    )


def _plans(session: Session, ids: list[int], patient_ids: set[int]) -> Sequence[Any]:
    """The pathways' own plans, and the patients' other plans in force."""
    return session.execute(
        sa.select(
            Plan.id,
            Plan.pathway_id,
            Plan.patient_id,
            Plan.kind,
            Plan.status,
            Plan.agreed_at,
            Plan.updated_at,
            Plan.review_on,
            Plan.patient_participation,
        )
        .where(
            sa.or_(
                among(session, Plan.pathway_id, ids),
                # of the patients' other plans only those in force matter (a readmission's notice)
                sa.and_(
                    among(session, Plan.patient_id, patient_ids),
                    Plan.status.in_(_AGREED_OR_LIVE),
                ),
            )
        )
        .order_by(Plan.id)  # the oldest open plan decides the patient's participation, always
    ).all()


def _live_plans(plan_rows: Iterable[Any]) -> dict[int, set[int | None]]:
    """Patient -> the pathways (None: none) of their plans in force."""
    live_plans: dict[int, set[int | None]] = defaultdict(set)
    for p in plan_rows:
        if p.status in _AGREED_OR_LIVE:
            live_plans[p.patient_id].add(p.pathway_id)
    return live_plans


def _participants(session: Session, own_plans: Sequence[Any]) -> dict[int, list[Any]]:
    """The participants of the pathways' own plans, by plan (no query when there are none)."""
    return (
        _grouped(
            session.execute(
                sa.select(
                    PlanParticipant.plan_id,
                    PlanParticipant.role,
                    PlanParticipant.organisation_id,
                    PlanParticipant.is_required,
                    PlanParticipant.response,
                    PlanParticipant.responded_at,
                ).where(among(session, PlanParticipant.plan_id, [p.id for p in own_plans]))
            ),
            "plan_id",
        )
        if own_plans
        else {}
    )


def _contacts(session: Session, patient_ids: set[int]) -> dict[int, list[Any]]:
    """Every fixed-contact period of the patients, with whether the person is still active."""
    return _grouped(
        session.execute(
            sa.select(
                ContactAssignment.patient_id,
                ContactAssignment.sector,
                ContactAssignment.person_id,
                ContactAssignment.backup_person_id,
                ContactAssignment.valid_from,
                ContactAssignment.valid_to,
                sa.func.coalesce(User.is_active, True).label("person_active"),
            )
            .outerjoin(User, User.id == ContactAssignment.person_id)
            .where(among(session, ContactAssignment.patient_id, patient_ids))
        ),
        "patient_id",
    )


def _meetings(session: Session, ids: list[int]) -> dict[int, list[Any]]:
    """The network meetings of the pathways that were not cancelled (a request, a held meeting)."""
    return _grouped(
        session.execute(
            sa.select(
                NetworkMeeting.pathway_id,
                NetworkMeeting.status,
                NetworkMeeting.requested_at,
                NetworkMeeting.held_on,
            )
            .where(
                among(session, NetworkMeeting.pathway_id, ids),
                NetworkMeeting.status != MeetingStatus.CANCELLED,
            )
            .order_by(NetworkMeeting.requested_at, NetworkMeeting.id)
        ),
        "pathway_id",
    )


def _actions(session: Session, ids: list[int]) -> dict[int, list[Any]]:
    """The actions agreed at the pathways' network meetings, with the owner's sector and the meeting day."""
    return _grouped(
        session.execute(
            sa.select(
                MeetingAction.pathway_id,
                MeetingAction.id,
                MeetingAction.meeting_id,
                MeetingAction.owner_organisation_id,
                Organisation.sector,
                MeetingAction.due_on,
                MeetingAction.status,
                NetworkMeeting.held_on,
            )
            .join(Organisation, Organisation.id == MeetingAction.owner_organisation_id)
            .join(NetworkMeeting, NetworkMeeting.id == MeetingAction.meeting_id)
            .where(among(session, MeetingAction.pathway_id, ids))
            .order_by(MeetingAction.id)
        ),
        "pathway_id",
    )


def _meeting_times(
    rows: Sequence[Any], requested: datetime | None, held: datetime | None
) -> tuple[datetime | None, datetime | None]:
    """The latest request and holding of a network meeting: the recorded facts and the meetings together."""
    for m in rows:
        if m.status is not MeetingStatus.HELD:
            requested = m.requested_at if requested is None else max(requested, m.requested_at)
        elif m.held_on is not None:
            at = held_at(m.held_on, m.requested_at)
            held = at if held is None else max(held, at)
    return requested, held


def _requirement(stay: Any, pathway_plans: Sequence[Any]) -> Requirement:
    """The §13a assessment; the oldest open plan gives the patient's participation."""
    open_plan = next(
        (p for p in pathway_plans if p.status not in (PlanStatus.ENDED, PlanStatus.WITHDRAWN)),
        None,
    )
    participation = open_plan.patient_participation if open_plan else PatientParticipation.UNKNOWN
    return agreement_requirement(
        RequirementFacts(
            receives_sel_support=stay.receives_sel_support,
            presumed_not_to_seek_treatment=stay.presumed_not_to_seek_treatment,
            patient_participation=participation,
        )
    )


def _plan_facts(
    pathway_plans: Sequence[Any], participants: dict[int, list[Any]]
) -> tuple[list[rules.PlanFacts], datetime | None]:
    """The pathway's plans as the rules see them, and when the GP accepted an agreed plan (None: not)."""
    plan_facts = []
    gp_accepted_at: datetime | None = None
    for p in pathway_plans:
        parties = participants.get(p.id, [])
        pending = tuple(
            rules.PendingParty(role=q.role, organisation_id=q.organisation_id)
            for q in parties
            if q.is_required
            and q.response is ResponseStatus.PENDING
            and q.role is not ParticipantRole.PATIENT
        )
        for q in parties:
            if (
                q.role is ParticipantRole.GP
                and q.response is ResponseStatus.ACCEPTED
                and p.status in (PlanStatus.AGREED, *_AGREED_OR_LIVE)
            ):
                gp_accepted_at = q.responded_at
        plan_facts.append(
            rules.PlanFacts(
                id=p.id,
                kind=p.kind,
                status=p.status,
                agreed_at=p.agreed_at,
                proposed_at=p.updated_at if p.status is PlanStatus.PROPOSED else None,
                review_on=p.review_on,
                pending_parties=pending if p.status is PlanStatus.PROPOSED else (),
            )
        )
    return plan_facts, gp_accepted_at


def _contact_facts(rows: Iterable[Any]) -> tuple[rules.ContactFacts, ...]:
    return tuple(
        rules.ContactFacts(
            sector=c.sector,
            person_id=c.person_id,
            person_active=bool(c.person_active),
            valid_from=c.valid_from,
            valid_to=c.valid_to,
            backup_person_id=c.backup_person_id,
        )
        for c in rows
    )


def _pathway_facts(stay: Any, batch: _Batch) -> rules.PathwayFacts:
    """One pathway's facts from the batch's rows."""
    directory = batch.directory
    pathway_plans = batch.plans_by_pathway.get(stay.id, [])
    requirement = _requirement(stay, pathway_plans)
    plan_facts, gp_accepted_at = _plan_facts(pathway_plans, batch.participants)
    stay_events = batch.events.get(stay.id, [])
    planned = [e for e in stay_events if e.type is PathwayEventType.DISCHARGE_PLANNED]
    booked = [e for e in stay_events if e.type is PathwayEventType.FOLLOW_UP_BOOKED]
    held = [e for e in stay_events if e.type is PathwayEventType.FOLLOW_UP_HELD]
    facts_here = batch.coordination.get(stay.id, [])

    def last(kind: PathwayFactType, rows: list[Any] = facts_here) -> datetime | None:
        found = [f.occurred_at for f in rows if f.type is kind]
        return found[-1] if found else None

    gp_step, gp_at = _gp_ladder(facts_here, pathway_plans, stay.gp_organisation_id, gp_accepted_at)
    meeting_requested, meeting_held = _meeting_times(
        batch.meetings.get(stay.id, []),
        last(PathwayFactType.NETWORK_MEETING_REQUESTED),
        last(PathwayFactType.NETWORK_MEETING_HELD),
    )
    readmitted_with_plan = stay.readmission_of_id is not None and any(
        pathway != stay.id for pathway in batch.live_plans.get(stay.patient_id, ())
    )
    return rules.PathwayFacts(
        pathway_id=stay.id,
        patient_id=stay.patient_id,
        status=stay.status,
        admitted_at=stay.admitted_at,
        ward_id=stay.ward_id,
        requirement=requirement,
        chief_physician_id=directory.chief_of(stay.ward_id),
        municipality_id=directory.municipality_by_code.get(stay.kommunekode),
        gp_clinic_id=stay.gp_organisation_id,
        region_code=directory.region_of(stay.ward_id),
        kommunekode=stay.kommunekode,
        planned_discharge_on=stay.planned_discharge_on,
        discharge_date_known_at=planned[-1].recorded_at if planned else None,
        discharged_at=stay.discharged_at if stay.status is not PathwayStatus.ADMITTED else None,
        leave_periods=tuple(
            LeaveFact(started_at=lp.started_at, ended_at=lp.ended_at)
            for lp in batch.leaves.get(stay.id, [])
        ),
        plans=tuple(plan_facts),
        contacts=_contact_facts(batch.contacts.get(stay.patient_id, [])),
        municipality_notified_at=last(PathwayFactType.MUNICIPALITY_NOTIFIED),
        gp_delivery=gp_step,
        gp_delivery_at=gp_at,
        follow_up_booked_for=_appointment(booked[-1]) if booked else None,
        follow_up_held_at=held[-1].occurred_at if held else None,
        network_meeting_requested_at=meeting_requested,
        network_meeting_held_at=meeting_held,
        readmitted_with_active_plan=readmitted_with_plan,
        readmitted_at=stay.admitted_at if readmitted_with_plan else None,
        gp_absent_reason=stay.gp_absent_reason or "",
        meeting_actions=tuple(
            rules.MeetingActionFacts(
                id=a.id,
                meeting_id=a.meeting_id,
                owner_organisation_id=a.owner_organisation_id,
                owner_sector=a.sector,
                due_on=a.due_on,
                status=a.status,
                held_on=a.held_on,
            )
            for a in batch.actions.get(stay.id, [])
        ),
    )


def _appointment(event: Any) -> datetime:
    """A booked follow-up: the appointment time from the payload (``appointment_at``), else the event time."""
    raw = (event.payload or {}).get("appointment_at")
    if isinstance(raw, str):
        try:
            parsed = datetime.fromisoformat(raw)
        except ValueError:
            return event.occurred_at
        if parsed.tzinfo is not None:
            return parsed
    return event.occurred_at
