"""The test scenario: a small, complete cross-sector world built through the real use cases (one ward,
one municipality, one GP clinic, their staff, and one admitted patient), and the steps tests take in it
again and again (assess the §13a requirement, draft, propose and agree a plan, discharge). Tests that need
more add it themselves. Everything goes through the services, so each step is checked and audited as in
production; tests/factories.py is for background rows that no use case needs to make."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from coordinator.accounts.models import User
from coordinator.accounts.services import actor_for, create_staff_member
from coordinator.audit.models import AuditEntry
from coordinator.care_pathways.models import Pathway, PathwayEvent
from coordinator.care_pathways.services import admit_patient, record_pathway_event
from coordinator.organisations.models import Organisation
from coordinator.organisations.services import create_organisation
from coordinator.patients.models import Patient
from coordinator.patients.services import register_patient
from coordinator.plans import answers as plan_answers
from coordinator.plans import requirement as plan_requirement
from coordinator.plans import services as plans
from coordinator.plans.models import Plan, PlanParticipant
from coordinator.reminders.models import Reminder
from coordinator.security import LAST_SEEN_KEY
from pathways.agreements import Requirement
from pathways.audit import AuditOutcome
from pathways.clock import FixedClock
from pathways.people import Actor
from pathways.plans import ParticipantRole
from pathways.stays import PathwayEventType

SYSTEM = Actor.system("test-setup")

COMPLETE_SECTIONS: dict[str, Any] = {
    "treatment": {"text": "Distriktspsykiatri hver 14. dag"},
    "medication": {"text": "Olanzapin 10 mg; egen læge fornyer"},
    "social_support": {"measures": ["SEL §85 bostøtte"], "provider": "Socialpsykiatrien"},
    "housing": {"text": "Egen lejlighed"},
    "crisis_plan": {
        "warning_signs": ["søvnløshed"],
        "call_day": "70 00 00 01",
        "call_night": "1813",
    },
    "if_treatment_stops": {"text": "Kommunen kontakter distriktspsykiatrien"},
    "first_follow_up": {"date": "2026-12-03", "who": "Distriktspsykiatrien"},
}


def actor(user: User) -> Actor:
    """The actor a logged-in user acts as (the same function the doors use)."""
    return actor_for(user)


def actor_named(session: Session, username: str) -> Actor:
    """The actor of the user with this login name (e.g. a demo login)."""
    return actor_for(session.scalars(sa.select(User).where(User.username == username)).one())


def staff_member(
    session: Session, clock: FixedClock, *, organisation_id: int, role: str, name: str
) -> Actor:
    """A further staff member, registered by the system through the use case, as the actor they
    act as (for roles and organisations the scenario does not have, e.g. an administrator)."""
    user = create_staff_member(
        session, SYSTEM, clock, organisation_id=organisation_id, name=name, role=role
    )
    return actor(user)


def log_in(client: FlaskClient, user_id: int, last_seen: datetime) -> FlaskClient:
    """The client, with the session cookie the login view makes (the user's id, and when the session
    was last used: an idle session ends after SESSION_IDLE_MINUTES)."""
    with client.session_transaction() as cookie:
        cookie["_user_id"] = str(user_id)
        cookie["_fresh"] = True
        cookie[LAST_SEEN_KEY] = last_seen.timestamp()
    return client


@dataclass
class Scenario:
    region: Organisation
    centre: Organisation
    ward: Organisation
    other_ward: Organisation
    municipality: Organisation
    other_municipality: Organisation
    gp_clinic: Organisation
    other_gp_clinic: Organisation
    nurse: Actor
    chief: Actor
    ward_staff: Actor
    other_nurse: Actor
    case_worker: Actor
    other_case_worker: Actor
    gp: Actor
    other_gp: Actor
    patient: Patient
    pathway: Pathway
    users: dict[str, User]


def build(session: Session, clock: FixedClock) -> Scenario:
    def org(**kw: Any) -> Organisation:
        return create_organisation(session, SYSTEM, clock, **kw)

    region = org(name="Region Hovedstaden", kind="region", region_code="DK-84")
    centre = org(
        name="PC Test", kind="psychiatric_centre", parent_id=region.id, sor_code="90000000000001"
    )
    ward = org(
        name="Afsnit 1",
        kind="ward",
        parent_id=centre.id,
        sor_code="90000000000002",
        email="afsnit1@test.example",
    )
    other_ward = org(name="Afsnit 2", kind="ward", parent_id=centre.id, sor_code="90000000000003")
    municipality = org(
        name="Københavns Kommune", kind="municipality", kommunekode="101", email="psyk@kk.example"
    )
    other_municipality = org(name="Aalborg Kommune", kind="municipality", kommunekode="851")
    gp_clinic = org(name="Lægehuset", kind="gp_clinic", ydernummer="12345")
    other_gp_clinic = org(name="Andet Lægehus", kind="gp_clinic", ydernummer="54321")

    users: dict[str, User] = {}

    def staff(key: str, organisation: Organisation, role: str) -> Actor:
        users[key] = create_staff_member(
            session,
            SYSTEM,
            clock,
            organisation_id=organisation.id,
            name=key.replace("_", " ").title(),
            role=role,
            email=f"{key}@test.example",
        )
        return actor(users[key])

    scenario_actors = {
        "nurse": staff("nurse", ward, "discharge_nurse"),
        "chief": staff("chief", ward, "chief_physician"),
        "ward_staff": staff("ward_staff", ward, "ward_staff"),
        "other_nurse": staff("other_nurse", other_ward, "discharge_nurse"),
        "case_worker": staff("case_worker", municipality, "case_worker"),
        "other_case_worker": staff("other_case_worker", other_municipality, "case_worker"),
        "gp": staff("gp", gp_clinic, "gp"),
        "other_gp": staff("other_gp", other_gp_clinic, "gp"),
    }
    patient = register_patient(
        session,
        SYSTEM,
        clock,
        given_name="Mette",
        family_name="Test",
        kommunekode="101",
        cpr="0101701235",
        gp_organisation_id=gp_clinic.id,
    )
    pathway = admit_patient(
        session,
        SYSTEM,
        clock,
        patient_id=patient.id,
        ward_id=ward.id,
        admitted_at=clock.now() - timedelta(days=5),
        idempotency_key="scenario-admit",
    )
    return Scenario(
        region=region,
        centre=centre,
        ward=ward,
        other_ward=other_ward,
        municipality=municipality,
        other_municipality=other_municipality,
        gp_clinic=gp_clinic,
        other_gp_clinic=other_gp_clinic,
        patient=patient,
        pathway=pathway,
        users=users,
        **scenario_actors,
    )


# ---------------------------------------------------------------------------- steps in the scenario
def assess_requirement(
    session: Session,
    clock: FixedClock,
    world: Scenario,
    *,
    receives_sel_support: bool,
    presumed_not_to_seek_treatment: bool = False,
    by: Actor | None = None,
) -> Requirement:
    """The §13a assessment of the scenario's stay, by the chief physician unless `by` is given: with
    SEL support, or when the patient is presumed not to seek treatment, an agreement is required."""
    return plan_requirement.assess_requirement(
        session,
        world.chief if by is None else by,
        clock,
        pathway_id=world.pathway.id,
        receives_sel_support=receives_sel_support,
        presumed_not_to_seek_treatment=presumed_not_to_seek_treatment,
    )


def record_event(
    session: Session,
    clock: FixedClock,
    world: Scenario,
    event_type: PathwayEventType,
    *,
    by: Actor,
    key: str,
    ago: timedelta = timedelta(0),
    **fields: Any,
) -> PathwayEvent:
    """An event on the scenario's stay, recorded by `by`, `ago` before the clock's now."""
    return record_pathway_event(
        session,
        by,
        clock,
        pathway_id=world.pathway.id,
        event_type=event_type,
        occurred_at=clock.now() - ago,
        idempotency_key=key,
        **fields,
    )


def discharge(
    session: Session,
    clock: FixedClock,
    world: Scenario,
    *,
    by: Actor,
    key: str = "discharge",
    ago: timedelta = timedelta(0),
) -> PathwayEvent:
    """Discharge the scenario's patient, recorded by `by`, `ago` before the clock's now."""
    return record_event(session, clock, world, PathwayEventType.DISCHARGED, by=by, key=key, ago=ago)


def plan_discharge(
    session: Session, clock: FixedClock, world: Scenario, *, in_days: int, key: str = "planned"
) -> PathwayEvent:
    """The nurse plans the scenario's discharge for `in_days` days after the clock's today."""
    planned_on = (clock.now() + timedelta(days=in_days)).date()
    return record_event(
        session,
        clock,
        world,
        PathwayEventType.DISCHARGE_PLANNED,
        by=world.nurse,
        key=key,
        planned_discharge_on=planned_on,
    )


def participant(plan: Plan, role: ParticipantRole) -> PlanParticipant:
    """The plan's participant with this role."""
    return next(p for p in plan.participants if p.role is role)


def participant_id(plan: Plan, role: ParticipantRole) -> int:
    """The id of the plan's participant with this role."""
    return participant(plan, role).id


def answerer(world: Scenario, role: ParticipantRole) -> Actor:
    """Who answers a plan for a participant role: the nurse records the patient's answer and answers
    for the ward, the case worker answers for the municipality, the GP for the clinic."""
    return {
        ParticipantRole.PATIENT: world.nurse,
        ParticipantRole.WARD: world.nurse,
        ParticipantRole.MUNICIPALITY: world.case_worker,
        ParticipantRole.GP: world.gp,
    }[role]


def draft(
    session: Session, clock: FixedClock, world: Scenario, pathway_id: int | None = None
) -> Plan:
    """An empty draft by the nurse, on the scenario's pathway unless another is named."""
    return plans.create_draft(
        session,
        world.nurse,
        clock,
        pathway_id=world.pathway.id if pathway_id is None else pathway_id,
    )


def complete_draft(
    session: Session, clock: FixedClock, world: Scenario, pathway_id: int | None = None
) -> Plan:
    """A draft by the nurse with every section filled in (COMPLETE_SECTIONS), on the scenario's
    pathway unless another is named."""
    plan = draft(session, clock, world, pathway_id)
    return plans.edit_plan(
        session,
        world.nurse,
        clock,
        plan_id=plan.id,
        expected_version=plan.version,
        sections=COMPLETE_SECTIONS,
    )


def propose(session: Session, clock: FixedClock, world: Scenario, plan: Plan) -> Plan:
    """The nurse proposes the plan to its participants."""
    return plans.propose(
        session, world.nurse, clock, plan_id=plan.id, expected_version=plan.version
    )


def proposed_plan(
    session: Session, clock: FixedClock, world: Scenario, pathway_id: int | None = None
) -> Plan:
    """A complete draft, proposed (see complete_draft)."""
    return propose(session, clock, world, complete_draft(session, clock, world, pathway_id))


def accept(
    session: Session, clock: FixedClock, world: Scenario, plan: Plan, *roles: ParticipantRole
) -> Plan:
    """Each named participant accepts the proposed plan, in the order given (see answerer)."""
    for role in roles:
        plan = plan_answers.respond(
            session,
            answerer(world, role),
            clock,
            plan_id=plan.id,
            expected_version=plan.version,
            participant_id=participant_id(plan, role),
            response="accepted",
        )
    return plan


ALL_PARTIES = (ParticipantRole.PATIENT, ParticipantRole.MUNICIPALITY, ParticipantRole.GP)


def agree(session: Session, clock: FixedClock, world: Scenario, plan: Plan) -> Plan:
    """Propose the plan and have the patient, the municipality and the GP accept it: agreed (active
    once the patient is discharged)."""
    return accept(session, clock, world, propose(session, clock, world, plan), *ALL_PARTIES)


def agreed_plan(session: Session, clock: FixedClock, world: Scenario) -> Plan:
    """A complete discharge agreement on the scenario's pathway that every party has accepted."""
    return agree(session, clock, world, complete_draft(session, clock, world))


# ---------------------------------------------------------------------------- reading back
def count(session: Session, model: type[Any]) -> int:
    """How many rows the model's table has (in the test's transaction)."""
    return session.scalar(sa.select(sa.func.count()).select_from(model)) or 0


def audit_entries(session: Session, **where: Any) -> list[AuditEntry]:
    """The audit rows whose columns equal the given values, oldest first."""
    query = sa.select(AuditEntry).order_by(AuditEntry.id)
    for column, value in where.items():
        query = query.where(getattr(AuditEntry, column) == value)
    return list(session.scalars(query))


def denials(session: Session, actor: Actor) -> list[tuple[str, str, int | None, str]]:
    """The refusals audited for the actor, oldest first: (resource type, resource id, patient id,
    reason)."""
    return [
        (e.resource_type, e.resource_id, e.patient_id, e.details["reason"])
        for e in audit_entries(session, outcome=AuditOutcome.DENIED, actor_id=actor.id)
    ]


def reminders_by_key(session: Session) -> dict[str, Reminder]:
    """Every reminder, oldest first, keyed "<rule>|<obligation key>"."""
    rows = session.scalars(sa.select(Reminder).order_by(Reminder.id))
    return {f"{r.rule}|{r.obligation_key}": r for r in rows}
