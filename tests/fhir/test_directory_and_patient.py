"""Patient, Organization, Practitioner(Role), CodeSystem and the CapabilityStatement over HTTP."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from coordinator.fhir.resources.patient import REDACTED
from coordinator.fhir.table import RESOURCES
from coordinator.patients.models import Patient
from coordinator.plan_history.models import PlanResourceVersion
from coordinator.plans.models import PlanParticipant
from coordinator.reminders.models import Reminder
from pathways.audit import AuditAction, AuditOutcome
from pathways.clock import FixedClock
from pathways.identifiers import CPR_SYSTEM, MUNICIPALITY_SYSTEM, SOR_SYSTEM, YDERNUMMER_SYSTEM
from pathways.reminders import GapRule
from tests import scenario as sc
from tests.fhir.conftest import Login
from tests.fhir.support import (
    DK_ORGANISATION_SYSTEMS,
    Fhir,
    bearer_token,
    careplan_body,
    cpr_token,
    ok,
    outcome,
    resources,
    systems,
)


# ---------------------------------------------------------------------------- metadata
def test_capability_statement_lists_exactly_the_table(anonymous: Fhir) -> None:
    statement = ok(anonymous.get("metadata"))
    assert statement["resourceType"] == "CapabilityStatement"
    assert statement["fhirVersion"] == "4.0.1"
    assert statement["format"] == ["json", "application/fhir+json"]
    rest = statement["rest"][0]
    served = {r["type"]: r for r in rest["resource"]}
    assert list(served) == [r.name for r in RESOURCES]
    for declared in RESOURCES:
        entry = served[declared.name]
        assert [i["code"] for i in entry["interaction"]] == list(declared.interactions())
        assert [p["name"] for p in entry.get("searchParam", [])] == [
            p.name for p in declared.params
        ]
    careplan = served["CarePlan"]
    assert {i["code"] for i in careplan["interaction"]} == {
        "read",
        "vread",
        "history-instance",
        "search-type",
        "create",
        "update",
    }
    assert careplan["searchInclude"] == ["CarePlan:care-team", "CarePlan:patient"]
    assert careplan["conditionalCreate"] is True
    assert "410" in careplan["documentation"]
    assert served["Patient"]["operation"][0]["name"] == "everything"
    assert rest["interaction"] == [{"code": "transaction"}]
    assert rest["security"]["service"][0]["coding"][0]["code"] == "OAuth"
    token = rest["security"]["extension"][0]["extension"][0]
    assert token == {"url": "token", "valueUri": "http://localhost/oauth/token"}
    assert {o["name"] for o in rest.get("operation", [])} <= {"process-message"}


def test_code_systems_are_served_without_login(anonymous: Fhir) -> None:
    kinds = ok(anonymous.get("CodeSystem/plan-kind"))
    assert [c["code"] for c in kinds["concept"]] == ["discharge-agreement", "coordination-plan"]
    rules = ok(anonymous.get("CodeSystem/gap-rule"))
    assert {c["code"] for c in rules["concept"]} == {r.value for r in GapRule}
    outcome(anonymous.get("CodeSystem/nope"), 404, "not-found")


# ---------------------------------------------------------------------------- Patient
def test_patient_read_is_audited_and_carries_dk_identifiers(
    world: sc.Scenario, login: Login, session: Session
) -> None:
    nurse = login(world.nurse)
    patient = ok(nurse.get(f"Patient/{world.patient.id}"))
    assert patient["id"] == str(world.patient.id)
    assert systems(patient) == {CPR_SYSTEM}
    address = patient["address"][0]["extension"]
    assert address[0]["valueCodeableConcept"]["coding"][0] == {
        "system": MUNICIPALITY_SYSTEM,
        "code": "0101",
        "display": "København",
    }
    assert address[1]["valueReference"] == {"reference": f"Organization/{world.municipality.id}"}
    assert patient["generalPractitioner"] == [{"reference": f"Organization/{world.gp_clinic.id}"}]
    reads = sc.audit_entries(session, actor_id=world.nurse.id, action=AuditAction.READ)
    assert [(e.resource_type, e.patient_id, e.channel) for e in reads] == [
        ("Patient", world.patient.id, "fhir")
    ]
    assert reads[0].purpose.startswith("ward_stay")


def test_patient_read_without_relation_is_refused_and_audited(
    world: sc.Scenario, login: Login, session: Session
) -> None:
    other = login(world.other_case_worker)
    outcome(other.get(f"Patient/{world.patient.id}"), 403, "forbidden")
    # an unknown id gets the same answer (no existence oracle, ADR 0004)
    unknown = outcome(other.get("Patient/999999"), 403, "forbidden")
    assert "care relation" in unknown["issue"][0]["diagnostics"]
    denied = sc.audit_entries(
        session, actor_id=world.other_case_worker.id, outcome=AuditOutcome.DENIED
    )
    assert [(e.patient_id, e.channel) for e in denied] == [
        (world.patient.id, "fhir"),
        (999999, "fhir"),
    ]


def test_patient_search_by_cpr_never_logs_the_number(
    world: sc.Scenario, login: Login, session: Session
) -> None:
    nurse = login(world.nurse)
    cpr = world.patient.cpr
    assert cpr is not None
    bundle = ok(nurse.get(f"Patient?identifier={quote(cpr_token(cpr))}"))
    assert bundle["type"] == "searchset"
    assert bundle["total"] == 1
    assert [r["id"] for r in resources(bundle)] == [str(world.patient.id)]
    assert bundle["entry"][0]["search"] == {"mode": "match"}
    assert bundle["entry"][0]["fullUrl"] == f"http://localhost/fhir/Patient/{world.patient.id}"
    # a CPR without a relation finds nothing, like an unknown number
    other = login(world.other_case_worker)
    assert "entry" not in ok(other.get(f"Patient?identifier={quote(cpr_token(cpr))}"))
    assert ok(nurse.get(f"Patient?identifier={quote(cpr_token('0202020000'))}"))["total"] == 0
    # POST _search keeps the number out of the URL
    posted = nurse.post(
        "Patient/_search",
        f"identifier={quote(cpr_token(cpr))}",
        content_type="application/x-www-form-urlencoded",
    )
    assert [r["id"] for r in resources(ok(posted))] == [str(world.patient.id)]
    searches = sc.audit_entries(session, action=AuditAction.SEARCH, resource_type="Patient")
    assert len(searches) == 4
    assert all(cpr not in str(e.details) and cpr not in e.purpose for e in searches)
    assert [e.outcome for e in searches] == [
        AuditOutcome.ALLOWED,
        AuditOutcome.DENIED,
        AuditOutcome.ALLOWED,
        AuditOutcome.ALLOWED,
    ]


def _links(bundle: dict[str, Any]) -> dict[str, dict[str, list[str]]]:
    """{relation: the link's query} of a search Bundle, each link under the FHIR base."""
    found = {}
    for link in bundle["link"]:
        parts = urlsplit(link["url"])
        assert parts.path == "/fhir/Patient", link
        found[link["relation"]] = parse_qs(parts.query)
    return found


def test_patient_search_links_carry_the_patient_id_never_the_cpr(
    world: sc.Scenario, login: Login, session: Session
) -> None:
    nurse = login(world.nurse)
    cpr = world.patient.cpr
    assert cpr is not None
    pid = str(world.patient.id)
    by_get = ok(nurse.get(f"Patient?identifier={quote(cpr_token(cpr))}"))
    assert cpr not in json.dumps(by_get["link"])
    assert _links(by_get) == {"self": {"_id": [pid]}}
    posted = nurse.post(
        "Patient/_search",
        f"identifier={quote(cpr_token(cpr))}",
        content_type="application/x-www-form-urlencoded",
    )
    assert _links(ok(posted)) == {"self": {"_id": [pid]}}
    # the self link repeats the search: the same patient, by id
    again = ok(nurse.get(by_get["link"][0]["url"].removeprefix("http://localhost/fhir/")))
    assert [e["resource"] for e in again["entry"]] == [e["resource"] for e in by_get["entry"]]
    assert _links(again) == {"self": {"_id": [pid]}}
    # nothing found: an unknown number, one without a relation, another system, a CPR and an _id
    # that disagree. The link names no patient and no number, and repeats the empty answer.
    other = login(world.other_case_worker)
    for client, query in (
        (nurse, f"identifier={quote(cpr_token('0202020000'))}"),
        (other, f"identifier={quote(cpr_token(cpr))}"),
        (nurse, "identifier=urn:other|0101701235"),
        (nurse, f"identifier={quote(cpr_token(cpr))}&_id=999"),
    ):
        empty = ok(client.get(f"Patient?{query}"))
        assert empty["total"] == 0, query
        assert _links(empty) == {"self": {"_id": ["none"]}}, query
        assert ok(client.get("Patient?_id=none"))["total"] == 0
    # _id alone: the patients the caller has a relation to, audited like a search by CPR
    assert [r["id"] for r in resources(ok(nurse.get(f"Patient?_id={pid},999")))] == [pid]
    assert ok(other.get(f"Patient?_id={pid}"))["total"] == 0
    by_id = sc.audit_entries(session, action=AuditAction.SEARCH, purpose="search by id")
    assert [(e.actor_id, e.patient_id, e.outcome) for e in by_id][-3:] == [
        (world.nurse.id, world.patient.id, AuditOutcome.ALLOWED),
        (world.nurse.id, None, AuditOutcome.ALLOWED),
        (world.other_case_worker.id, world.patient.id, AuditOutcome.DENIED),
    ]


def test_conditional_registration_of_a_registered_patient_is_200_not_409(
    world: sc.Scenario, login: Login, session: Session, app: Flask, clock: FixedClock
) -> None:
    cpr = world.patient.cpr
    assert cpr is not None
    body: dict[str, Any] = {
        "resourceType": "Patient",
        "identifier": [{"system": CPR_SYSTEM, "value": cpr}],
        "name": [{"use": "official", "family": "Hansen", "given": ["Jens"]}],
        "address": [{"district": "København"}],
    }
    condition = {"If-None-Exist": f"identifier={quote(cpr_token(cpr))}"}
    # the other ward's nurse may register patients but has no care relation to this one
    other_nurse = login(world.other_nurse)
    assert other_nurse.post("Patient", body).status_code == 409  # unconditional: a duplicate
    answer = ok(other_nurse.post("Patient", body, **condition), 200)
    assert answer == {
        "resourceType": "Patient",
        "id": str(world.patient.id),
        "meta": {"security": [REDACTED]},
    }
    # a system client of that ward, likewise; the nurse with a relation gets the whole patient
    token = bearer_token(session, clock, world.other_ward.id, "system/Patient.write")
    ehr = Fhir(app.test_client(), {"Authorization": f"Bearer {token}"})
    assert ok(ehr.post("Patient", body, **condition), 200) == answer
    full = ok(login(world.nurse).post("Patient", body, **condition), 200)
    assert full["id"] == str(world.patient.id)
    assert full["name"][0]["family"] == world.patient.family_name
    # nothing was registered, nothing changed, and each lookup is audited without the number
    assert session.scalar(sa.select(sa.func.count(Patient.id))) == 1
    session.refresh(world.patient)
    assert world.patient.given_name != "Jens"
    lookups = sc.audit_entries(session, purpose="registration: is the CPR number registered")
    assert [(e.patient_id, e.outcome) for e in lookups] == 2 * [
        (world.patient.id, AuditOutcome.ALLOWED)
    ]
    assert all(cpr not in str(e.details) for e in lookups)
    # those who may not register are refused as before; an unknown number is created (201)
    outcome(login(world.other_gp).post("Patient", body, **condition), 403, "forbidden")
    unknown = {**body, "identifier": [{"system": CPR_SYSTEM, "value": "1502851234"}]}
    made = ok(
        other_nurse.post(
            "Patient", unknown, **{"If-None-Exist": f"identifier={quote(cpr_token('1502851234'))}"}
        ),
        201,
    )
    assert made["identifier"][0]["value"] == "1502851234"


def test_patient_search_errors(world: sc.Scenario, login: Login) -> None:
    nurse = login(world.nurse)
    outcome(nurse.get("Patient"), 400, "invalid")
    bad = outcome(nurse.get(f"Patient?identifier={quote(CPR_SYSTEM)}|3102701234"), 400, "invalid")
    assert "XXXX" in bad["issue"][0]["diagnostics"]  # the number is masked even in the answer
    assert "3102701234" not in bad["issue"][0]["diagnostics"]
    # other systems match nothing
    assert ok(nurse.get("Patient?identifier=urn:other|0101701235"))["total"] == 0


def test_unknown_search_parameters_lenient_or_strict(world: sc.Scenario, login: Login) -> None:
    nurse = login(world.nurse)
    url = f"Patient?identifier={quote(cpr_token('0101701235'))}&name=Mette&_sort=name"
    bundle = ok(nurse.get(url))
    self_link = bundle["link"][0]
    assert self_link["relation"] == "self"
    # the parameters used, the CPR as the patient it found (see test_patient_search_links_...)
    assert parse_qs(urlsplit(self_link["url"]).query) == {"_id": [str(world.patient.id)]}
    strict = outcome(nurse.get(url, Prefer="handling=strict"), 400, "not-supported")
    assert "name, _sort" in strict["issue"][0]["diagnostics"]


def test_everything(world: sc.Scenario, login: Login, session: Session) -> None:
    nurse = login(world.nurse)
    body = careplan_body(world.patient.id, world.ward.id, world.pathway.id)
    plan = ok(nurse.post("CarePlan", body), 201)
    bundle = ok(nurse.get(f"Patient/{world.patient.id}/$everything"))
    found = {(r["resourceType"], r["id"]) for r in resources(bundle)}
    reminders = session.scalars(
        sa.select(Reminder.id).where(Reminder.patient_id == world.patient.id)
    ).all()
    versions = session.scalars(
        sa.select(PlanResourceVersion.id).where(PlanResourceVersion.plan_id == int(plan["id"]))
    ).all()
    parties = session.scalars(
        sa.select(PlanParticipant.id).where(
            PlanParticipant.plan_id == int(plan["id"]), PlanParticipant.is_required
        )
    ).all()
    assert reminders
    assert versions
    assert parties
    assert found == {
        ("Patient", str(world.patient.id)),
        ("CarePlan", plan["id"]),
        ("CareTeam", f"plan-{plan['id']}"),
        ("Encounter", str(world.pathway.id)),
        ("EpisodeOfCare", str(world.pathway.id)),
        *(("Task", str(r)) for r in reminders),  # the new draft's gaps, in the nurse's inbox
        *(("Task", f"answer-{p}") for p in parties),  # each required party's answer to the plan
        *(("Provenance", str(v)) for v in versions),
    }
    assert bundle["total"] == 5 + len(reminders) + len(parties) + len(versions)
    audited = {
        (e.action, e.resource_type)
        for e in sc.audit_entries(session, actor_id=world.nurse.id, patient_id=world.patient.id)
    }
    assert {
        (AuditAction.READ, "Patient"),
        (AuditAction.SEARCH, "Plan"),
        (AuditAction.READ, "ContactAssignment"),
        (AuditAction.SEARCH, "Pathway"),
    } <= audited
    outcome(login(world.other_gp).get(f"Patient/{world.patient.id}/$everything"), 403, "forbidden")


# ---------------------------------------------------------------------------- Organization
def test_organization_read_and_search(world: sc.Scenario, login: Login) -> None:
    gp = login(world.gp)
    ward = ok(gp.get(f"Organization/{world.ward.id}"))
    assert systems(ward) == {SOR_SYSTEM}
    assert ward["partOf"] == {"reference": f"Organization/{world.centre.id}"}
    by_sor = ok(gp.get(f"Organization?identifier={SOR_SYSTEM}|90000000000002"))
    assert [r["id"] for r in resources(by_sor)] == [str(world.ward.id)]
    by_kommune = ok(gp.get(f"Organization?identifier={quote(MUNICIPALITY_SYSTEM)}|0101"))
    assert [r["id"] for r in resources(by_kommune)] == [str(world.municipality.id)]
    by_yder = ok(gp.get(f"Organization?identifier={YDERNUMMER_SYSTEM}|12345"))
    assert [r["id"] for r in resources(by_yder)] == [str(world.gp_clinic.id)]
    # commas OR; a value without a system is tried in every system it is valid in
    either = ok(gp.get(f"Organization?identifier={SOR_SYSTEM}|90000000000003,12345"))
    assert {r["id"] for r in resources(either)} == {
        str(world.other_ward.id),
        str(world.gp_clinic.id),
    }
    by_name = ok(gp.get("Organization?name=afsnit"))
    assert {r["id"] for r in resources(by_name)} == {str(world.ward.id), str(world.other_ward.id)}
    for org in resources(ok(gp.get("Organization?_count=100"))):
        assert systems(org) & DK_ORGANISATION_SYSTEMS, org
    outcome(gp.get(f"Organization?identifier={SOR_SYSTEM}|12"), 400, "invalid")
    outcome(gp.get("Organization/999999"), 404, "not-found")
    outcome(gp.get("Organization/abc"), 404, "not-found")


def test_organization_pages_follow_next_links(world: sc.Scenario, login: Login) -> None:
    gp = login(world.gp)
    seen: list[str] = []
    url = "Organization?_count=3"
    pages = 0
    while url:
        bundle = ok(gp.get(url))
        pages += 1
        seen += [r["id"] for r in resources(bundle)]
        nexts = [link["url"] for link in bundle["link"] if link["relation"] == "next"]
        url = nexts[0].removeprefix("http://localhost/fhir/") if nexts else ""
    assert pages == 3  # 8 organisations: 3 + 3 + 2
    assert seen == sorted(seen, key=int)
    assert len(seen) == len(set(seen)) == 8


# ---------------------------------------------------------------------------- Practitioner
def test_practitioner_and_role(world: sc.Scenario, login: Login) -> None:
    gp = login(world.gp)
    person = ok(gp.get(f"Practitioner/{world.nurse.id}"))
    assert person["name"][0]["text"] == "Nurse"
    role = ok(gp.get(f"PractitionerRole/{world.nurse.id}"))
    assert role["organization"] == {"reference": f"Organization/{world.ward.id}"}
    assert role["code"][0]["coding"][0]["code"] == "discharge-nurse"
    outcome(gp.get("Practitioner/999999"), 404, "not-found")
    outcome(gp.get("Practitioner?name=x"), 405, "not-supported")


def test_authentication_required(world: sc.Scenario, anonymous: Fhir) -> None:
    response = anonymous.get(f"Patient/{world.patient.id}")
    outcome(response, 401, "login")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    bearer = Fhir(anonymous.client, {"Authorization": "Bearer nonsense"})
    outcome(bearer.get("Organization"), 401, "login")


def test_an_administrator_updates_an_organization_with_if_match(
    world: sc.Scenario, login: Login, session: Session, clock: FixedClock
) -> None:
    from pathways.identifiers import GLN_SYSTEM

    admin = login(
        sc.staff_member(
            session, clock, organisation_id=world.region.id, role="system_admin", name="Admin"
        )
    )
    path = f"Organization/{world.municipality.id}"
    read = admin.get(path)
    current = ok(read)
    assert (read.headers["ETag"], current["meta"]["versionId"]) == ('W/"1"', "1")
    body = {
        **current,
        "name": "Københavns Kommune, Socialforvaltningen",
        "identifier": [
            *current["identifier"],
            {"system": SOR_SYSTEM, "value": "990300000016001"},
            {"system": GLN_SYSTEM, "value": "5790000000036"},
        ],
    }
    body.pop("meta")
    updated = admin.put(path, body, **{"If-Match": 'W/"1"'})
    changed = ok(updated)
    assert updated.headers["ETag"] == 'W/"2"'
    assert changed["name"] == "Københavns Kommune, Socialforvaltningen"
    session.refresh(world.municipality)
    assert (
        world.municipality.sor_code,
        world.municipality.gln,
        world.municipality.kommunekode,
    ) == (
        "990300000016001",
        "5790000000036",
        "101",
    )
    assert [
        a.details["changed"]["sor_code"]
        for a in sc.audit_entries(session, action=AuditAction.UPDATE)
    ] == [{"from": None, "to": "990300000016001"}]
    outcome(admin.put(path, body, **{"If-Match": 'W/"1"'}), 412, "conflict")
    outcome(admin.put(path, body), 428, "required")
    other_code = [
        {**i, "value": "0147"} if i["system"] == MUNICIPALITY_SYSTEM else i
        for i in body["identifier"]
    ]
    outcome(
        admin.put(path, {**body, "identifier": other_code}, **{"If-Match": 'W/"2"'}),
        422,
        "business-rule",
        "Organization.identifier",
    )
    outcome(login(world.case_worker).put(path, body, **{"If-Match": 'W/"2"'}), 403, "forbidden")
    session.refresh(world.municipality)
    assert world.municipality.version == 2
