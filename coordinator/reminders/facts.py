"""What the gap rules need to know about pathways, read in a handful of set-based queries per batch.

``load_facts`` turns up to a few thousand pathway ids into ``pathways.reminders.PathwayFacts`` with one
query per table (never one per pathway), so the scan over every open pathway streams in batches.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from coordinator.accounts.models import User
from coordinator.care_pathways.models import LeavePeriod, Pathway, PathwayEvent, PathwayFact
from coordinator.contacts.models import ContactAssignment
from coordinator.organisations.models import Organisation
from coordinator.patients.models import Patient
from coordinator.plans.models import Plan, PlanParticipant
from pathways import reminders as rules
from pathways.agreements import RequirementFacts, agreement_requirement
from pathways.organisations import OrganisationKind
from pathways.people import Role
from pathways.plans import ParticipantRole, PatientParticipation, PlanStatus, ResponseStatus
from pathways.stays import LeavePeriod as LeaveFact
from pathways.stays import PathwayEventType, PathwayFactType, PathwayStatus

DIRECTORY_KEY = "reminders.directory"
_AGREED_OR_LIVE = (PlanStatus.ACTIVE, PlanStatus.UNDER_REVISION)


@dataclass(frozen=True, slots=True)
class Directory:
    """The organisation facts every batch needs: municipality by kommunekode, region and chief physician
    of each ward. Read once per session (a scan, or one request)."""

    municipality_by_code: dict[str, int]
    region_by_org: dict[int, str | None]
    chief_by_ward: dict[int, int]

    @classmethod
    def load(cls, session: Session) -> Directory:
        cached: Directory | None = session.info.get(DIRECTORY_KEY)
        if cached is not None:
            return cached
        orgs = session.execute(
            sa.select(
                Organisation.id,
                Organisation.kind,
                Organisation.parent_id,
                Organisation.kommunekode,
                Organisation.region_code,
            )
        ).all()
        parent = {o.id: o.parent_id for o in orgs}
        region_of_org = {o.id: (o.region_code.value if o.region_code else None) for o in orgs}

        def region(org_id: int) -> str | None:
            seen: set[int] = set()
            current: int | None = org_id
            while current is not None and current not in seen:
                seen.add(current)
                if region_of_org.get(current):
                    return region_of_org[current]
                current = parent.get(current)
            return None

        chiefs: dict[int, int] = {}
        for user_id, org_id in session.execute(
            sa.select(User.id, User.organisation_id)
            .where(User.role == Role.CHIEF_PHYSICIAN, User.is_active.is_(True))
            .order_by(User.id)
        ):
            chiefs.setdefault(org_id, user_id)
        # A ward without a chief physician of its own answers to the centre's.
        chief_by_ward = {
            o.id: chiefs.get(o.id) or chiefs.get(parent.get(o.id) or -1)
            for o in orgs
            if o.kind is OrganisationKind.WARD
            and (chiefs.get(o.id) or chiefs.get(parent.get(o.id) or -1))
        }
        directory = cls(
            municipality_by_code={
                o.kommunekode: o.id
                for o in orgs
                if o.kind is OrganisationKind.MUNICIPALITY and o.kommunekode
            },
            region_by_org={o.id: region(o.id) for o in orgs},
            chief_by_ward={k: v for k, v in chief_by_ward.items() if v is not None},
        )
        session.info[DIRECTORY_KEY] = directory
        return directory


def _grouped(rows: Iterable[Any], key: str) -> dict[int, list[Any]]:
    grouped: dict[int, list[Any]] = defaultdict(list)
    for row in rows:
        grouped[getattr(row, key)].append(row)
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


def load_facts(session: Session, pathway_ids: Sequence[int]) -> list[rules.PathwayFacts]:
    if not pathway_ids:
        return []
    directory = Directory.load(session)
    ids = list(pathway_ids)
    stays = session.execute(
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
        )
        .join(Patient, Patient.id == Pathway.patient_id)
        .where(Pathway.id.in_(ids))
        .order_by(Pathway.id)
    ).all()
    patient_ids = {s.patient_id for s in stays}
    leaves = _grouped(
        session.execute(
            sa.select(LeavePeriod.pathway_id, LeavePeriod.started_at, LeavePeriod.ended_at)
            .where(LeavePeriod.pathway_id.in_(ids))
            .order_by(LeavePeriod.started_at)
        ),
        "pathway_id",
    )
    events = _grouped(
        session.execute(
            sa.select(
                PathwayEvent.pathway_id,
                PathwayEvent.type,
                PathwayEvent.occurred_at,
                PathwayEvent.recorded_at,
                PathwayEvent.payload,
            )
            .where(
                PathwayEvent.pathway_id.in_(ids),
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
    coordination = _grouped(
        session.execute(
            sa.select(
                PathwayFact.pathway_id,
                PathwayFact.type,
                PathwayFact.occurred_at,
                PathwayFact.plan_id,
                PathwayFact.organisation_id,
            )
            .where(PathwayFact.pathway_id.in_(ids))
            .order_by(PathwayFact.occurred_at, PathwayFact.id)
        ),
        "pathway_id",
    )
    plan_rows = session.execute(
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
        ).where(sa.or_(Plan.pathway_id.in_(ids), Plan.patient_id.in_(patient_ids)))
    ).all()
    plans_by_pathway = _grouped([p for p in plan_rows if p.pathway_id in set(ids)], "pathway_id")
    live_plan_patients = {
        (p.patient_id, p.pathway_id) for p in plan_rows if p.status in _AGREED_OR_LIVE
    }
    participants = _grouped(
        session.execute(
            sa.select(
                PlanParticipant.plan_id,
                PlanParticipant.role,
                PlanParticipant.organisation_id,
                PlanParticipant.is_required,
                PlanParticipant.response,
                PlanParticipant.responded_at,
            ).where(PlanParticipant.plan_id.in_([p.id for p in plan_rows]))
        ),
        "plan_id",
    )
    contacts = _grouped(
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
            .where(ContactAssignment.patient_id.in_(patient_ids))
        ),
        "patient_id",
    )

    out: list[rules.PathwayFacts] = []
    for stay in stays:
        pathway_plans = plans_by_pathway.get(stay.id, [])
        open_plan = next(
            (p for p in pathway_plans if p.status not in (PlanStatus.ENDED, PlanStatus.WITHDRAWN)),
            None,
        )
        participation = (
            open_plan.patient_participation if open_plan else PatientParticipation.UNKNOWN
        )
        requirement = agreement_requirement(
            RequirementFacts(
                receives_sel_support=stay.receives_sel_support,
                presumed_not_to_seek_treatment=stay.presumed_not_to_seek_treatment,
                patient_participation=participation,
            )
        )
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
        stay_events = events.get(stay.id, [])
        planned = [e for e in stay_events if e.type is PathwayEventType.DISCHARGE_PLANNED]
        booked = [e for e in stay_events if e.type is PathwayEventType.FOLLOW_UP_BOOKED]
        held = [e for e in stay_events if e.type is PathwayEventType.FOLLOW_UP_HELD]
        facts_here = coordination.get(stay.id, [])

        def first(kind: PathwayFactType, rows: list[Any] = facts_here) -> datetime | None:
            return next((f.occurred_at for f in rows if f.type is kind), None)

        def last(kind: PathwayFactType, rows: list[Any] = facts_here) -> datetime | None:
            found = [f.occurred_at for f in rows if f.type is kind]
            return found[-1] if found else None

        gp_step, gp_at = _gp_ladder(
            facts_here, pathway_plans, stay.gp_organisation_id, gp_accepted_at
        )
        readmitted_with_plan = stay.readmission_of_id is not None and any(
            patient == stay.patient_id and pathway != stay.id
            for patient, pathway in live_plan_patients
        )
        out.append(
            rules.PathwayFacts(
                pathway_id=stay.id,
                patient_id=stay.patient_id,
                status=stay.status,
                admitted_at=stay.admitted_at,
                ward_id=stay.ward_id,
                requirement=requirement,
                chief_physician_id=directory.chief_by_ward.get(stay.ward_id),
                municipality_id=directory.municipality_by_code.get(stay.kommunekode),
                gp_clinic_id=stay.gp_organisation_id,
                region_code=directory.region_by_org.get(stay.ward_id),
                kommunekode=stay.kommunekode,
                planned_discharge_on=stay.planned_discharge_on,
                discharge_date_known_at=planned[0].recorded_at if planned else None,
                discharged_at=stay.discharged_at
                if stay.status is not PathwayStatus.ADMITTED
                else None,
                leave_periods=tuple(
                    LeaveFact(started_at=lp.started_at, ended_at=lp.ended_at)
                    for lp in leaves.get(stay.id, [])
                ),
                plans=tuple(plan_facts),
                contacts=tuple(
                    rules.ContactFacts(
                        sector=c.sector,
                        person_id=c.person_id,
                        person_active=bool(c.person_active),
                        valid_from=c.valid_from,
                        valid_to=c.valid_to,
                        backup_person_id=c.backup_person_id,
                    )
                    for c in contacts.get(stay.patient_id, [])
                ),
                municipality_notified_at=first(PathwayFactType.MUNICIPALITY_NOTIFIED),
                gp_delivery=gp_step,
                gp_delivery_at=gp_at,
                follow_up_booked_for=_appointment(booked[-1]) if booked else None,
                follow_up_held_at=held[-1].occurred_at if held else None,
                network_meeting_requested_at=last(PathwayFactType.NETWORK_MEETING_REQUESTED),
                network_meeting_held_at=last(PathwayFactType.NETWORK_MEETING_HELD),
                readmitted_with_active_plan=readmitted_with_plan,
                readmitted_at=stay.admitted_at if readmitted_with_plan else None,
            )
        )
    return out


def _appointment(event: Any) -> datetime:
    """A booked follow-up: the appointment time from the payload (``appointment_at``), else the event time."""
    raw = (event.payload or {}).get("appointment_at")
    if isinstance(raw, str):
        try:
            parsed = datetime.fromisoformat(raw)
        except ValueError:
            return event.occurred_at  # type: ignore[no-any-return]
        if parsed.tzinfo is not None:
            return parsed
    return event.occurred_at  # type: ignore[no-any-return]
