"""A small, complete cross-sector world built through the real use cases: one ward, one municipality,
one GP clinic, their staff, and one admitted patient. Tests that need more add it themselves."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from coordinator.accounts.models import User
from coordinator.accounts.services import create_staff_member
from coordinator.care_pathways.models import Pathway
from coordinator.care_pathways.services import admit_patient
from coordinator.organisations.models import Organisation
from coordinator.organisations.services import create_organisation
from coordinator.patients.models import Patient
from coordinator.patients.services import register_patient
from pathways.clock import FixedClock
from pathways.people import Actor, ActorKind

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
    return Actor(
        kind=ActorKind.USER,
        name=user.name,
        id=user.id,
        organisation_id=user.organisation_id,
        role=user.role,
    )


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
