"""Patients, contacts, pathways and audit over HTTP."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import sqlalchemy as sa
from fhir.resources.R4B.bundle import Bundle
from sqlalchemy.orm import Session

from coordinator.audit.models import AuditEntry
from pathways.audit import AuditAction, AuditOutcome
from pathways.clock import FixedClock
from tests import scenario as sc
from tests.api.conftest import Login


def test_patient_search_by_cpr_reveals_no_one_else(
    world: sc.Scenario, login: Login, session: Session
) -> None:
    found = login(world.gp).post("/api/v1/patients/search", json={"cpr": "010170-1235"})
    assert [p["id"] for p in found.json] == [world.patient.id]
    hidden = login(world.other_gp).post("/api/v1/patients/search", json={"cpr": "0101701235"})
    nobody = login(world.other_gp).post("/api/v1/patients/search", json={"cpr": "0101701299"})
    assert hidden.status_code == nobody.status_code == 200
    assert hidden.json == nobody.json == []
    invalid = login(world.gp).post("/api/v1/patients/search", json={"cpr": "3102701235"})
    assert invalid.status_code == 422
    assert invalid.json["errors"][0]["field"] == "cpr"
    searches = session.scalars(
        sa.select(AuditEntry).where(AuditEntry.action == AuditAction.SEARCH)
    ).all()
    assert [(e.actor_id, e.outcome) for e in searches] == [
        (world.gp.id, AuditOutcome.ALLOWED),
        (world.other_gp.id, AuditOutcome.DENIED),
        (world.other_gp.id, AuditOutcome.ALLOWED),
    ]
    assert all("0101701235" not in str(e.details) for e in searches)  # CPR never in the log


def test_patient_read(world: sc.Scenario, login: Login) -> None:
    response = login(world.case_worker).get(f"/api/v1/patients/{world.patient.id}")
    assert response.status_code == 200
    assert response.json["kommunekode"] == "101"
    assert (
        login(world.other_case_worker).get(f"/api/v1/patients/{world.patient.id}").status_code
        == 403
    )


def test_contacts_over_http(world: sc.Scenario, login: Login) -> None:
    case_worker = login(world.case_worker)
    url = f"/api/v1/patients/{world.patient.id}/contacts"
    created = case_worker.post(
        url,
        json={
            "organisation_id": world.municipality.id,
            "person_id": world.case_worker.id,
            "valid_from": "2026-11-01",
        },
    )
    assert created.status_code == 201, created.json
    assert created.json["sector"] == "municipality"
    overlap = case_worker.post(
        url,
        json={
            "organisation_id": world.municipality.id,
            "person_id": world.case_worker.id,
            "valid_from": "2026-11-10",
        },
    )
    assert overlap.status_code == 422
    assert overlap.json["errors"] == [
        {"field": "valid_from", "code": "overlap", "message": overlap.json["errors"][0]["message"]}
    ]
    missing = case_worker.get(f"{url}/missing").json
    assert missing == {"sectors": ["region", "general_practice"]}
    ended = case_worker.post(
        f"/api/v1/contacts/{created.json['id']}/end",
        json={"last_day": "2026-11-30", "reason": "flytter"},
    )
    assert ended.json["valid_to"] == "2026-11-30"
    assert [c["id"] for c in case_worker.get(url).json] == [created.json["id"]]


def test_contacts_show_name_role_organisation_and_how_to_reach_them(
    world: sc.Scenario, login: Login
) -> None:
    case_worker = login(world.case_worker)
    url = f"/api/v1/patients/{world.patient.id}/contacts"
    created = case_worker.post(
        url,
        json={
            "organisation_id": world.municipality.id,
            "person_id": world.case_worker.id,
            "valid_from": "2026-11-01",
        },
    )
    assert created.status_code == 201, created.json
    person = {
        "id": world.case_worker.id,
        "name": "Case Worker",
        "role": "case_worker",
        "role_text": "Sagsbehandler",
        "title": "",
        "organisation_id": world.municipality.id,
        "organisation_name": "Københavns Kommune",
        "phone": "",
        "email": "case_worker@test.example",
        "is_active": True,
    }
    [shown] = login(world.nurse).get(url).json
    assert shown["person"] == person
    assert shown["backup_person"] is None
    assert shown["organisation"] == {
        "id": world.municipality.id,
        "name": "Københavns Kommune",
        "email": "psyk@kk.example",
    }
    assert shown["sector_text"] == "Kommune (socialpsykiatri)"
    [english] = case_worker.get(url, headers={"Accept-Language": "en-GB,en;q=0.8"}).json
    assert english["person"]["role_text"] == "Case worker (sagsbehandler)"
    assert english["sector_text"] == "Municipality (social psychiatry)"


def test_a_case_worker_looks_up_the_people_of_their_own_organisation_only(
    world: sc.Scenario, login: Login, session: Session
) -> None:
    case_worker = login(world.case_worker)
    found = case_worker.get("/api/v1/people")
    assert found.status_code == 200, found.json
    assert [(p["id"], p["name"], p["role_text"]) for p in found.json] == [
        (world.case_worker.id, "Case Worker", "Sagsbehandler")
    ]
    same = case_worker.get(f"/api/v1/people?organisation_id={world.municipality.id}")
    assert [p["id"] for p in same.json] == [world.case_worker.id]
    before = session.scalar(sa.select(sa.func.count(AuditEntry.id)))
    other = case_worker.get(f"/api/v1/people?organisation_id={world.other_municipality.id}")
    assert other.status_code == 403
    assert "not Case Worker's own organisation" in other.json["detail"]
    assert session.scalar(sa.select(sa.func.count(AuditEntry.id))) == before
    nurses = [p["name"] for p in login(world.nurse).get("/api/v1/people").json]
    assert nurses == ["Nurse", "Chief", "Ward Staff"]
    looked_up = session.scalars(
        sa.select(AuditEntry).where(AuditEntry.purpose == "look up colleagues")
    ).all()
    assert [(e.action, e.resource_type) for e in looked_up] == [(AuditAction.SEARCH, "User")] * 3


def test_pathway_events_and_assessment(world: sc.Scenario, login: Login, clock: FixedClock) -> None:
    nurse, chief = login(world.nurse), login(world.chief)
    url = f"/api/v1/pathways/{world.pathway.id}"
    assert nurse.get(url).json["obligation"]["status"] == "open"
    assessed = chief.put(
        f"{url}/assessment",
        json={"receives_sel_support": True, "presumed_not_to_seek_treatment": False},
    )
    assert assessed.json == {
        "level": "required",
        "kind": "discharge_agreement",
        "legal_basis": "Psykiatriloven § 13 a, stk. 1",
        "reason": "receives support under serviceloven afsnit V because of reduced mental functioning",
    }
    assert (
        nurse.put(
            f"{url}/assessment",
            json={"receives_sel_support": True, "presumed_not_to_seek_treatment": False},
        ).status_code
        == 403
    )
    event = {
        "type": "discharged",
        "occurred_at": clock.now().isoformat(),
        "idempotency_key": "hosp-42",
    }
    first = nurse.post(f"{url}/events", json=event)
    again = nurse.post(f"{url}/events", json=event)
    assert first.status_code == again.status_code == 201
    assert first.json["id"] == again.json["id"]
    pathway = nurse.get(url).json
    assert (pathway["status"], pathway["obligation"]["status"]) == ("discharged", "overdue")
    naive = nurse.post(
        f"{url}/events",
        json={**event, "occurred_at": "2026-11-26T10:00:00", "idempotency_key": "x"},
    )
    assert naive.status_code == 422


def test_audit_api_for_auditors(
    world: sc.Scenario, login: Login, session: Session, clock: FixedClock
) -> None:
    login(world.gp).get(f"/api/v1/patients/{world.patient.id}")
    auditor = sc.staff_member(
        session, clock, organisation_id=world.region.id, role="auditor", name="Revisor"
    )
    client = login(auditor)
    entries = client.get(f"/api/v1/audit?patient_id={world.patient.id}&action=read").json
    assert [(e["actor_id"], e["resource_type"]) for e in entries] == [(world.gp.id, "Patient")]
    exported = client.get(f"/api/v1/audit/export?patient_id={world.patient.id}")
    assert exported.content_type.startswith("text/csv")
    rows = list(csv.reader(io.StringIO(exported.get_data(as_text=True))))
    assert rows[0][0] == "id"
    fhir = client.get(f"/api/v1/audit/export?patient_id={world.patient.id}&format=fhir")
    assert fhir.content_type == "application/fhir+json"
    bundle = Bundle.model_validate_json(fhir.get_data(as_text=True))
    assert bundle.type == "collection"
    assert {e.resource.entity[0].what.reference for e in bundle.entry} == {
        f"Patient/{world.patient.id}"
    }
    assert login(world.nurse).get("/api/v1/audit").status_code == 403
    assert client.get("/api/v1/audit?limit=0").status_code == 422


def test_citizen_access_log_over_http(world: sc.Scenario, login: Login, clock: FixedClock) -> None:
    login(world.gp).get(f"/api/v1/patients/{world.patient.id}")
    clock.advance(timedelta(minutes=5))
    lines = login(world.nurse).get(f"/api/v1/patients/{world.patient.id}/access-log").json
    assert lines[0]["organisation"] == "Lægehuset"
    assert lines[0]["what"] == "så dine stamoplysninger"
    assert not any("Reminder" in line["what"] for line in lines)
    assert lines[0]["staff_name"] is None
