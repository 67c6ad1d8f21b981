"""CareTeam, Encounter/EpisodeOfCare, AuditEvent, registering patients and organisations, and system
clients held to their SMART scopes."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from coordinator.accounts.models import User
from coordinator.audit.models import AuditEntry
from coordinator.care_pathways.services import admit_patient
from coordinator.clients.services import actor_for_token
from coordinator.contacts.models import ContactAssignment
from coordinator.contacts.services import assign_contact
from coordinator.patients.models import Patient
from coordinator.reminders.models import Reminder
from coordinator.reminders.scan import evaluate_pathways
from fhir_adapters.careteam import CARE_TEAM_PLAN_EXTENSION
from fhir_adapters.codesystems import CARE_TEAM_ROLE, ORGANISATION_KIND, SECTOR
from pathways.audit import AuditAction, AuditOutcome
from pathways.clock import FixedClock
from pathways.identifiers import CPR_SYSTEM, GLN_SYSTEM, LPR3_SYSTEMS, SOR_SYSTEM
from pathways.people import ActorKind
from tests import scenario as sc
from tests.fhir.conftest import Login
from tests.fhir.support import (
    Fhir,
    bearer_token,
    careplan_body,
    cpr_token,
    issues,
    ok,
    outcome,
    pages,
    resources,
    systems,
)


def _plan(client: Fhir, world: sc.Scenario) -> dict[str, Any]:
    return ok(
        client.post("CarePlan", careplan_body(world.patient.id, world.ward.id, world.pathway.id)),
        201,
    )


def _contact(world: sc.Scenario, organisation: int, sector: str, **member: Any) -> dict[str, Any]:
    participant: dict[str, Any] = {
        "role": [
            {
                "coding": [
                    {"system": CARE_TEAM_ROLE.url, "code": "fixed-contact"},
                    {"system": SECTOR.url, "code": sector},
                ]
            }
        ],
        "period": {"start": "2026-11-26"},
        **member,
    }
    participant.setdefault("member", {"reference": f"Organization/{organisation}"})
    return participant


def _contacts_team(world: sc.Scenario, *participants: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "CareTeam",
        "subject": {"reference": f"Patient/{world.patient.id}"},
        "participant": list(participants),
    }


# ---------------------------------------------------------------------------- CareTeam
def test_care_teams_read_and_search(
    world: sc.Scenario, login: Login, session: Session, clock: FixedClock
) -> None:
    nurse = login(world.nurse)
    plan = _plan(nurse, world)
    assign_contact(
        session,
        world.case_worker,
        clock,
        patient_id=world.patient.id,
        organisation_id=world.municipality.id,
        person_id=world.case_worker.id,
        valid_from=date(2026, 11, 20),
        backup_person_id=None,
    )
    contacts = ok(nurse.get(f"CareTeam/patient-{world.patient.id}-contacts"))
    member = contacts["participant"][0]
    assert member["member"] == {
        "reference": f"Practitioner/{world.case_worker.id}",
        "display": "Case Worker",
    }
    assert member["onBehalfOf"] == {
        "reference": f"Organization/{world.municipality.id}",
        "display": "Københavns Kommune",
    }
    assert contacts["name"] == "Faste kontaktpersoner"
    english = ok(nurse.get(f"CareTeam/plan-{plan['id']}", **{"Accept-Language": "en"}))
    assert english["name"] == f"Parties to plan {plan['id']}"
    parties = ok(nurse.get(f"CareTeam/plan-{plan['id']}"))
    assert parties["name"] == f"Parterne i plan {plan['id']}"
    assert len(parties["participant"]) == 4
    assert parties["extension"][0] == {
        "url": CARE_TEAM_PLAN_EXTENSION,
        "valueReference": {"reference": f"CarePlan/{plan['id']}"},
    }
    by_patient = ok(nurse.get(f"CareTeam?patient={world.patient.id}"))
    assert {r["id"] for r in resources(by_patient)} == {contacts["id"], parties["id"]}
    paged = pages(nurse, f"CareTeam?patient={world.patient.id}&_count=1")
    assert sorted(paged) == sorted([[contacts["id"]], [parties["id"]]])
    outcome(nurse.get(f"CareTeam?patient={world.patient.id}&_cursor=plan-0"), 400, "invalid")
    municipal = ok(
        nurse.get(
            f"CareTeam?patient={world.patient.id}&participant=Organization/{world.municipality.id}"
        )
    )
    assert {r["id"] for r in resources(municipal)} == {contacts["id"], parties["id"]}
    person = ok(
        login(world.case_worker).get(f"CareTeam?participant=Practitioner/{world.case_worker.id}")
    )
    assert [r["id"] for r in resources(person)] == [contacts["id"]]
    gp_teams = ok(login(world.gp).get(f"CareTeam?participant=Organization/{world.gp_clinic.id}"))
    assert [r["id"] for r in resources(gp_teams)] == [parties["id"]]
    assert "entry" not in ok(
        login(world.other_gp).get(f"CareTeam?participant=Practitioner/{world.case_worker.id}")
    )
    outcome(nurse.get("CareTeam"), 400, "invalid")
    outcome(nurse.get("CareTeam/nonsense"), 404, "not-found")
    outcome(login(world.other_gp).get(f"CareTeam/{contacts['id']}"), 403, "forbidden")
    reads = session.scalars(
        sa.select(AuditEntry).where(
            AuditEntry.resource_type == "ContactAssignment",
            AuditEntry.action == AuditAction.READ,
            AuditEntry.actor_id == world.nurse.id,
        )
    ).all()
    assert len(reads) == 5  # read, search, two pages, municipal search (a refused cursor: none)
    assert all(e.channel == "fhir" for e in reads)


def test_care_team_create_assigns_contacts(
    world: sc.Scenario, login: Login, session: Session
) -> None:
    case_worker = login(world.case_worker)
    team = _contacts_team(
        world,
        _contact(
            world,
            world.municipality.id,
            "municipality",
            member={"reference": f"Practitioner/{world.case_worker.id}"},
            onBehalfOf={"reference": f"Organization/{world.municipality.id}"},
        ),
    )
    response = case_worker.post("CareTeam", team)
    made = ok(response, 201)
    assert made["id"] == f"patient-{world.patient.id}-contacts"
    assert response.headers["Location"] == f"http://localhost/fhir/CareTeam/{made['id']}"
    row = session.scalars(sa.select(ContactAssignment)).one()
    assert (row.person_id, row.organisation_id, row.valid_from) == (
        world.case_worker.id,
        world.municipality.id,
        date(2026, 11, 26),
    )
    # posting the team back changes nothing; an overlapping new period is refused
    assert ok(case_worker.post("CareTeam", made), 201) == made
    again = outcome(case_worker.post("CareTeam", team), 422, "business-rule")
    assert again["issue"][0]["expression"] == ["CareTeam.participant[0].period.start"]
    wrong_sector = _contacts_team(
        world,
        _contact(
            world,
            world.municipality.id,
            "general-practice",
            member={"reference": f"Practitioner/{world.case_worker.id}"},
            onBehalfOf={"reference": f"Organization/{world.municipality.id}"},
        ),
    )
    outcome(
        case_worker.post("CareTeam", wrong_sector), 422, "invariant", "CareTeam.participant[0].role"
    )
    # the GP may name contacts, but not the municipality's
    outcome(login(world.gp).post("CareTeam", team), 403, "forbidden")
    empty = _contacts_team(world)
    outcome(case_worker.post("CareTeam", empty), 422, "required", "CareTeam.participant")


def test_care_team_create_confirms_plan_parties_only(world: sc.Scenario, login: Login) -> None:
    nurse = login(world.nurse)
    plan = _plan(nurse, world)
    parties = ok(nurse.get(f"CareTeam/plan-{plan['id']}"))
    posted = {k: v for k, v in parties.items() if k != "id"}
    assert ok(nurse.post("CareTeam", posted), 201) == parties
    fewer = {**posted, "participant": posted["participant"][:3]}
    outcome(nurse.post("CareTeam", fewer), 422, "business-rule", "CareTeam.participant")


# ---------------------------------------------------------------------------- Encounter
def test_encounters_and_episodes(
    world: sc.Scenario, login: Login, session: Session, clock: FixedClock
) -> None:
    episode = "urn:uuid:6b7c0a3e-2f4d-5b8a-9c1e-0d2f3a4b5c6d"
    second = admit_patient(
        session,
        sc.SYSTEM,
        clock,
        patient_id=world.patient.id,
        ward_id=world.other_ward.id,
        admitted_at=clock.now() - timedelta(days=40),
        idempotency_key="second-stay",
        episode_system=LPR3_SYSTEMS[0],
        episode_value=episode,
    )
    nurse = login(world.nurse)
    encounter = ok(nurse.get(f"Encounter/{world.pathway.id}"))
    assert encounter["status"] == "in-progress"
    assert encounter["serviceProvider"] == {"reference": f"Organization/{world.ward.id}"}
    stays = ok(nurse.get(f"Encounter?patient=Patient/{world.patient.id}"))
    assert [r["id"] for r in resources(stays)] == [str(world.pathway.id), str(second.id)]
    assert pages(nurse, f"Encounter?patient={world.patient.id}&_count=1") == [
        [str(world.pathway.id)],
        [str(second.id)],
    ]
    assert pages(nurse, f"EpisodeOfCare?patient={world.patient.id}&_count=2") == [
        [str(world.pathway.id), str(second.id)]
    ]
    episodes = ok(nurse.get(f"EpisodeOfCare?patient={world.patient.id}"))
    lpr3 = next(r for r in resources(episodes) if r["id"] == str(second.id))
    assert lpr3["identifier"] == [{"system": LPR3_SYSTEMS[0], "value": episode}]
    assert systems(lpr3) <= set(LPR3_SYSTEMS)
    ok(nurse.get(f"EpisodeOfCare/{second.id}"))
    outcome(login(world.other_case_worker).get(f"Encounter/{world.pathway.id}"), 403, "forbidden")
    # an unknown stay is refused as someone else's is: a refusal never tells which ids exist
    outcome(nurse.get("Encounter/999999"), 403, "forbidden")
    outcome(nurse.get("Encounter"), 400, "invalid")


# ---------------------------------------------------------------------------- AuditEvent
def test_audit_events_for_auditors(
    world: sc.Scenario, login: Login, session: Session, clock: FixedClock
) -> None:
    nurse = login(world.nurse)
    ok(nurse.get(f"Patient/{world.patient.id}"))
    outcome(login(world.other_gp).get(f"Patient/{world.patient.id}"), 403, "forbidden")
    auditor = sc.staff_member(
        session, clock, organisation_id=world.region.id, role="auditor", name="Revisor"
    )
    reader = login(auditor)
    everything = ok(reader.get(f"AuditEvent?patient=Patient/{world.patient.id}"))
    events = list(resources(everything))
    assert events
    assert all(
        e["entity"][0]["what"] == {"reference": f"Patient/{world.patient.id}"} for e in events
    )
    refused = ok(reader.get(f"AuditEvent?patient={world.patient.id}&outcome=4"))
    assert [e["agent"][0]["who"]["reference"] for e in resources(refused)] == [
        f"Practitioner/{world.other_gp.id}"
    ]
    by_agent = ok(reader.get(f"AuditEvent?agent=Practitioner/{world.nurse.id}&date=ge2026-11-26"))
    assert {e["source"]["observer"]["display"] for e in resources(by_agent)} == {"carepath (fhir)"}
    assert ok(reader.get("AuditEvent?date=lt2026-11-01"))["total"] == 0
    page = ok(reader.get("AuditEvent?_count=2"))
    assert len(page["entry"]) == 2
    assert any(link["relation"] == "next" for link in page["link"])
    outcome(reader.get("AuditEvent?outcome=9"), 400, "invalid")
    outcome(nurse.get("AuditEvent"), 403, "forbidden")
    outcome(reader.get(f"Patient/{world.patient.id}"), 403, "forbidden")  # no clinical content
    logged = session.scalars(
        sa.select(AuditEntry).where(
            AuditEntry.resource_type == "AuditLog", AuditEntry.actor_id == auditor.id
        )
    ).all()
    assert len(logged) == 5  # reading the log is logged too


# ---------------------------------------------------------------------------- registering
def test_register_patient_with_dk_identifiers(
    world: sc.Scenario, login: Login, session: Session
) -> None:
    nurse = login(world.nurse)
    body: dict[str, Any] = {
        "resourceType": "Patient",
        "identifier": [{"system": CPR_SYSTEM, "value": "1502851234"}],
        "name": [{"use": "official", "family": "Hansen", "given": ["Jens"]}],
        "address": [{"district": "København"}],
        "generalPractitioner": [{"reference": f"Organization/{world.gp_clinic.id}"}],
    }
    response = nurse.post("Patient", body)
    made = ok(response, 201)
    assert systems(made) == {CPR_SYSTEM}
    assert made["birthDate"] == "1985-02-15"
    row = session.get(Patient, int(made["id"]))
    assert row is not None
    assert (row.cpr, row.kommunekode, row.gp_organisation_id) == (
        "1502851234",
        "101",
        world.gp_clinic.id,
    )
    duplicate = outcome(nurse.post("Patient", body), 409, "conflict")
    assert "1502851234" not in str(duplicate)
    bad = {**body, "identifier": [{"system": CPR_SYSTEM, "value": "3102851234"}]}
    outcome(nurse.post("Patient", bad), 422, "invalid", "Patient.identifier[0].value")
    nowhere = {**body, "identifier": [{"system": CPR_SYSTEM, "value": "1602851234"}], "address": []}
    found = issues(outcome(nurse.post("Patient", nowhere), 422, "required"))
    assert "Patient.address" in found
    not_gp = {
        **body,
        "identifier": [{"system": CPR_SYSTEM, "value": "1602851234"}],
        "generalPractitioner": [{"reference": f"Organization/{world.ward.id}"}],
    }
    outcome(nurse.post("Patient", not_gp), 422, "not-found", "Patient.generalPractitioner[0]")
    # conditional create: the scenario patient exists (and the nurse has a relation)
    existing = nurse.post(
        "Patient",
        {**body, "identifier": [{"system": CPR_SYSTEM, "value": "0101701235"}]},
        **{"If-None-Exist": f"identifier={quote(cpr_token('0101701235'))}"},
    )
    assert ok(existing)["id"] == str(world.patient.id)
    assert "1502851234" not in str([e.details for e in session.scalars(sa.select(AuditEntry))])
    gp_registers = {**body, "identifier": [{"system": CPR_SYSTEM, "value": "1702851234"}]}
    outcome(login(world.gp).post("Patient", gp_registers), 403, "forbidden")


def test_register_organisation(
    world: sc.Scenario, login: Login, session: Session, clock: FixedClock
) -> None:
    admin = sc.staff_member(
        session, clock, organisation_id=world.region.id, role="system_admin", name="Admin"
    )
    client = login(admin)
    body: dict[str, Any] = {
        "resourceType": "Organization",
        "identifier": [
            {"system": SOR_SYSTEM, "value": "90000000000009"},
            {"system": GLN_SYSTEM, "value": "5790000123452"},
        ],
        "type": [{"coding": [{"system": ORGANISATION_KIND.url, "code": "ward"}]}],
        "name": "Afsnit 9",
        "partOf": {"reference": f"Organization/{world.centre.id}"},
    }
    made = ok(client.post("Organization", body), 201)
    assert systems(made) == {SOR_SYSTEM, GLN_SYSTEM}
    again = client.post(
        "Organization", body, **{"If-None-Exist": f"identifier={SOR_SYSTEM}|90000000000009"}
    )
    assert ok(again)["id"] == made["id"]
    bad = {
        **body,
        "identifier": [
            {"system": SOR_SYSTEM, "value": "123"},
            {"system": GLN_SYSTEM, "value": "5790000123453"},
        ],
    }
    found = issues(outcome(client.post("Organization", bad), 422, "invalid"))
    assert found == {
        "Organization.identifier[0].value": "invalid",
        "Organization.identifier[1].value": "invalid",
    }
    misplaced = {**body, "partOf": {"reference": f"Organization/{world.municipality.id}"}}
    outcome(client.post("Organization", misplaced), 422, "invalid", "Organization.partOf")
    outcome(
        client.post(
            "Organization",
            {**body, "identifier": [{"system": SOR_SYSTEM, "value": "90000000000002"}]},
        ),
        409,
        "conflict",
    )
    outcome(login(world.nurse).post("Organization", body), 403, "forbidden")


# ---------------------------------------------------------------------------- system clients
def test_system_clients_are_held_to_their_scopes(
    world: sc.Scenario, app: Flask, login: Login, session: Session, clock: FixedClock
) -> None:
    def client(scopes: str, name: str) -> Fhir:
        token = bearer_token(session, clock, world.ward.id, scopes, name)
        return Fhir(app.test_client(), {"Authorization": f"Bearer {token}"})

    plan = ok(
        login(world.nurse).post(
            "CarePlan",
            careplan_body(
                world.patient.id, world.ward.id, world.pathway.id, {"housing": {"text": "A"}}
            ),
        ),
        201,
    )
    directory = client("system/Organization.read", "Directory")
    ok(directory.get(f"Organization/{world.ward.id}"))
    denied = outcome(directory.get("CarePlan"), 403, "forbidden")
    assert "system/CarePlan.read" in denied["issue"][0]["diagnostics"]
    outcome(directory.get(f"CarePlan/{plan['id']}"), 403, "forbidden")
    ehr = client("system/CarePlan.read system/CarePlan.write", "EPJ")
    found = ok(ehr.get(f"CarePlan?patient={world.patient.id}"))
    assert [r["id"] for r in resources(found)] == [plan["id"]]
    outcome(
        ehr.get(f"CarePlan?patient={world.patient.id}&_include=CarePlan:care-team"),
        403,
        "forbidden",
    )
    outcome(ehr.get(f"Patient/{world.patient.id}"), 403, "forbidden")
    # A hospital EHR acts with the ward-staff role: drafts are made by named people (pathways/scopes.py).
    body = careplan_body(world.patient.id, world.ward.id, world.pathway.id)
    outcome(ehr.post("CarePlan", body), 403, "forbidden")
    # every refusal is in the audit log: the scopes the tokens lacked, and the role's refusal
    refused = session.scalars(
        sa.select(AuditEntry)
        .where(AuditEntry.outcome == AuditOutcome.DENIED)
        .order_by(AuditEntry.id)
    ).all()
    assert [(e.actor_kind, e.resource_type, e.purpose, e.channel) for e in refused] == [
        (ActorKind.CLIENT, "CarePlan", "system/CarePlan.read", "fhir"),
        (ActorKind.CLIENT, "CarePlan", "system/CarePlan.read", "fhir"),
        (ActorKind.CLIENT, "CareTeam", "system/CareTeam.read", "fhir"),
        (ActorKind.CLIENT, "Patient", "system/Patient.read", "fhir"),
        (ActorKind.CLIENT, "Pathway", "create_plan", "fhir"),
    ]
    assert refused[-1].patient_id == world.patient.id


def test_a_system_client_edits_plan_content(
    world: sc.Scenario, app: Flask, login: Login, session: Session, clock: FixedClock
) -> None:
    plan = ok(
        login(world.nurse).post(
            "CarePlan",
            careplan_body(
                world.patient.id, world.ward.id, world.pathway.id, {"housing": {"text": "A"}}
            ),
        ),
        201,
    )
    # a client whose id is no user's id, so that nothing of this passes by coincidence
    users = set(session.scalars(sa.select(User.id)))
    scopes = "system/CarePlan.read system/CarePlan.write"
    token = bearer_token(session, clock, world.ward.id, scopes)
    while (client := actor_for_token(session, clock, token)) is not None and client.id in users:
        token = bearer_token(session, clock, world.ward.id, scopes, f"EHR {client.id}")
    ehr = Fhir(app.test_client(), {"Authorization": f"Bearer {token}"})
    edited = ok(login(world.nurse).get(f"CarePlan/{plan['id']}"))
    edited["extension"] = [e for e in edited["extension"] if "plan-section" not in e["url"]]
    updated = ok(ehr.put(f"CarePlan/{plan['id']}", edited, **{"If-Match": 'W/"2"'}))
    assert updated["meta"]["versionId"] == "3"
    entry = session.scalars(
        sa.select(AuditEntry).where(
            AuditEntry.resource_type == "Plan",
            AuditEntry.action == AuditAction.UPDATE,
            AuditEntry.actor_kind == ActorKind.CLIENT,
        )
    ).one()
    assert (entry.channel, entry.resource_id) == ("fhir", plan["id"])


# ---------------------------------------------------------------------------- Task
def test_tasks_are_the_callers_reminders(
    world: sc.Scenario, login: Login, session: Session, clock: FixedClock
) -> None:
    later = FixedClock(clock.now() + timedelta(days=30))
    evaluate_pathways(session, later, [world.pathway.id])
    reminders = list(session.scalars(sa.select(Reminder).order_by(Reminder.id)))
    assert reminders
    nurse = login(world.nurse)
    mine = [r for r in reminders if r.owner_organisation_id == world.ward.id]
    bundle = ok(nurse.get(f"Task?patient=Patient/{world.patient.id}"))
    assert [t["id"] for t in resources(bundle)] == [str(r.id) for r in mine]
    task = ok(nurse.get(f"Task/{mine[0].id}"))
    assert task["for"] == {"reference": f"Patient/{world.patient.id}"}
    assert task["code"]["coding"][0]["code"] == mine[0].rule
    assert task["status"] == "requested"
    assert ok(nurse.get("Task?status=completed"))["total"] == 0
    owned = ok(nurse.get(f"Task?owner=Organization/{world.ward.id}&status=requested"))
    assert len(owned["entry"]) == len(mine)
    assert "entry" not in ok(nurse.get(f"Task?owner=Organization/{world.gp_clinic.id}"))
    outsider = login(world.other_gp)
    assert "entry" not in ok(outsider.get("Task"))
    outcome(outsider.get(f"Task/{mine[0].id}"), 404, "not-found")  # no oracle
    searched = session.scalars(
        sa.select(AuditEntry).where(
            AuditEntry.resource_type == "Reminder", AuditEntry.actor_id == world.nurse.id
        )
    ).all()
    assert {(e.action, e.patient_id, e.channel) for e in searched} == {
        (AuditAction.SEARCH, world.patient.id, "fhir"),
        (AuditAction.READ, world.patient.id, "fhir"),
    }


# ---------------------------------------------------------------------------- refusals reveal nothing
def test_care_plan_refusals_reveal_nothing(
    world: sc.Scenario, login: Login, session: Session
) -> None:
    """Someone else's plan, an unknown plan and a stale If-Match on someone else's plan: one answer."""
    plan = _plan(login(world.nurse), world)
    stranger = login(world.other_nurse)
    theirs = outcome(stranger.get(f"CarePlan/{plan['id']}"), 403, "forbidden")
    unknown = outcome(stranger.get("CarePlan/987654"), 403, "forbidden")
    stale = outcome(
        stranger.put(f"CarePlan/{plan['id']}", plan, **{"If-Match": 'W/"0"'}), 403, "forbidden"
    )
    assert theirs == unknown == stale
    assert theirs["issue"][0]["diagnostics"] == "you have no care relation to this patient"
    denied = session.scalars(
        sa.select(AuditEntry)
        .where(
            AuditEntry.outcome == AuditOutcome.DENIED, AuditEntry.actor_id == world.other_nurse.id
        )
        .order_by(AuditEntry.id)
    ).all()
    assert [(e.resource_type, e.resource_id, e.details["reason"], e.channel) for e in denied] == [
        ("Plan", plan["id"], "no current care relation to the patient", "fhir"),
        ("Plan", "987654", "no such plan", "fhir"),
        ("Plan", plan["id"], "no current care relation to the patient", "fhir"),
    ]
    # the editor is told the version
    outcome(
        login(world.nurse).put(f"CarePlan/{plan['id']}", plan, **{"If-Match": 'W/"0"'}),
        412,
        "conflict",
    )


def test_audit_events_for_a_region_administrator(
    world: sc.Scenario, login: Login, session: Session, clock: FixedClock
) -> None:
    """The region's system administrator sees what the region's staff did, not the GP's reads."""
    ok(login(world.nurse).get(f"Patient/{world.patient.id}"))
    ok(login(world.gp).get(f"Patient/{world.patient.id}"))
    admin = sc.staff_member(
        session, clock, organisation_id=world.region.id, role="system_admin", name="Driftsansvarlig"
    )
    events = list(resources(ok(login(admin).get(f"AuditEvent?patient={world.patient.id}"))))
    assert {e["agent"][0]["who"]["reference"] for e in events} == {f"Practitioner/{world.nurse.id}"}
    nothing = ok(login(admin).get("AuditEvent?patient=Patient/abc"))
    assert nothing["total"] == 0
    outcome(login(world.nurse).get("AuditEvent?patient=Patient/abc"), 403, "forbidden")
    logged = session.scalars(
        sa.select(AuditEntry)
        .where(AuditEntry.resource_type == "AuditLog", AuditEntry.actor_id == admin.id)
        .order_by(AuditEntry.id)
    ).all()
    assert [e.details["scope"] for e in logged] == [f"organisation {world.region.id}"] * 2


def test_a_missing_if_match_is_told_only_after_access(
    world: sc.Scenario, login: Login, session: Session
) -> None:
    """A stranger's update without If-Match gets the refusal one with If-Match gets (not 428); the
    editor is told If-Match is required (OperationOutcome "required"), alone and in a transaction."""
    plan = _plan(login(world.nurse), world)
    url = f"CarePlan/{plan['id']}"
    stranger = login(world.other_nurse)
    tagged = outcome(stranger.put(url, plan, **{"If-Match": 'W/"1"'}), 403, "forbidden")
    bare = outcome(stranger.put(url, plan), 403, "forbidden")
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [{"resource": plan, "request": {"method": "PUT", "url": url}}],
    }
    in_bundle = outcome(stranger.post("", bundle), 403, "forbidden")
    assert tagged == bare
    assert in_bundle["issue"][0]["diagnostics"] == (
        "Bundle.entry[0]: you have no care relation to this patient"
    )
    denied = session.scalars(
        sa.select(AuditEntry.details).where(
            AuditEntry.outcome == AuditOutcome.DENIED, AuditEntry.actor_id == world.other_nurse.id
        )
    ).all()
    assert [d["reason"] for d in denied] == ["no current care relation to the patient"] * 3
    nurse = login(world.nurse)
    required = outcome(nurse.put(url, plan), 428, "required")
    assert required["issue"][0]["diagnostics"] == (
        "a change to the plan must name the version it edits: send If-Match with its ETag"
    )
    outcome(nurse.post("", bundle), 428, "required", "Bundle.entry[0].request.ifMatch")
    assert ok(nurse.get(url))["meta"]["versionId"] == "1"
