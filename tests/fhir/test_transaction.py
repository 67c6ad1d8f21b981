"""Transaction Bundles: a CarePlan with its CareTeams in one unit of work, all or nothing."""

from __future__ import annotations

import copy
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from coordinator.audit.models import AuditEntry
from coordinator.contacts.models import ContactAssignment
from coordinator.plans.models import Plan
from fhir_adapters.careteam import CARE_TEAM_PLAN_EXTENSION
from fhir_adapters.codesystems import CARE_TEAM_ROLE, SECTOR
from pathways.audit import AuditAction, AuditOutcome
from tests import scenario as sc
from tests.fhir.conftest import Login
from tests.fhir.support import careplan_body, issues, ok, outcome, sections_of


def _party(role: str, sector: str | None, reference: str) -> dict[str, Any]:
    coding = [{"system": CARE_TEAM_ROLE.url, "code": role}]
    if sector:
        coding.append({"system": SECTOR.url, "code": sector})
    return {"role": [{"coding": coding}], "member": {"reference": reference}}


def _bundle(world: sc.Scenario) -> dict[str, Any]:
    plan = careplan_body(
        world.patient.id, world.ward.id, world.pathway.id, {"housing": {"text": "Bosted"}}
    )
    plan["careTeam"] = [{"reference": "urn:uuid:team"}]
    parties = {
        "resourceType": "CareTeam",
        "extension": [
            {"url": CARE_TEAM_PLAN_EXTENSION, "valueReference": {"reference": "urn:uuid:plan"}}
        ],
        "subject": {"reference": f"Patient/{world.patient.id}"},
        "participant": [
            _party("patient", None, f"Patient/{world.patient.id}"),
            _party("ward", "region", f"Organization/{world.ward.id}"),
            _party("municipality", "municipality", f"Organization/{world.municipality.id}"),
            _party("gp", "general-practice", f"Organization/{world.gp_clinic.id}"),
        ],
    }
    contacts = {
        "resourceType": "CareTeam",
        "subject": {"reference": f"Patient/{world.patient.id}"},
        "participant": [
            {
                "role": [
                    {
                        "coding": [
                            {"system": CARE_TEAM_ROLE.url, "code": "fixed-contact"},
                            {"system": SECTOR.url, "code": "region"},
                        ]
                    }
                ],
                "member": {"reference": f"Practitioner/{world.nurse.id}"},
                "onBehalfOf": {"reference": f"Organization/{world.ward.id}"},
                "period": {"start": "2026-11-26"},
            }
        ],
    }
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": "urn:uuid:team",
                "resource": parties,
                "request": {"method": "POST", "url": "CareTeam"},
            },
            {
                "fullUrl": "urn:uuid:plan",
                "resource": plan,
                "request": {"method": "POST", "url": "CarePlan"},
            },
            {
                "fullUrl": "urn:uuid:contacts",
                "resource": contacts,
                "request": {"method": "POST", "url": "CareTeam"},
            },
        ],
    }


def _counts(session: Session) -> tuple[int, int]:
    plans = session.scalar(sa.select(sa.func.count(Plan.id)))
    contacts = session.scalar(sa.select(sa.func.count(ContactAssignment.id)))
    return plans or 0, contacts or 0


def test_careplan_with_its_care_teams_in_one_transaction(
    world: sc.Scenario, login: Login, session: Session
) -> None:
    nurse = login(world.nurse)
    answer = ok(nurse.post("", _bundle(world)))
    assert answer["type"] == "transaction-response"
    team, plan, contacts = (e["resource"] for e in answer["entry"])
    assert [e["response"]["status"] for e in answer["entry"]] == ["201 Created"] * 3
    assert plan["resourceType"] == "CarePlan"
    assert sections_of(plan) == {"housing": {"text": "Bosted"}}
    assert team["id"] == f"plan-{plan['id']}"
    assert contacts["id"] == f"patient-{world.patient.id}-contacts"
    assert answer["entry"][1]["response"]["location"].endswith(f"CarePlan/{plan['id']}/_history/2")
    assert answer["entry"][1]["response"]["etag"] == 'W/"2"'
    assert _counts(session) == (1, 1)


def test_a_failing_entry_undoes_the_whole_transaction(
    world: sc.Scenario, login: Login, session: Session
) -> None:
    nurse = login(world.nurse)
    bundle = _bundle(world)
    contact = bundle["entry"][2]["resource"]["participant"][0]
    contact["role"][0]["coding"][1]["code"] = "municipality"  # the ward is not in that sector
    body = outcome(nurse.post("", bundle), 422, "invariant")
    assert issues(body) == {"Bundle.entry[2].resource.participant[0].role": "invariant"}
    assert _counts(session) == (0, 0)
    bad_plan = _bundle(world)
    bad_plan["entry"][1]["resource"]["status"] = "bogus"
    found = issues(outcome(nurse.post("", bad_plan), 422, "code-invalid"))
    assert found == {"Bundle.entry[1].resource.status": "code-invalid"}
    parties = _bundle(world)
    del parties["entry"][0]["resource"]["participant"][3]
    body = outcome(
        nurse.post("", parties), 422, "business-rule", "Bundle.entry[0].resource.participant"
    )
    assert _counts(session) == (0, 0)


def test_a_refused_entry_is_audited_and_nothing_else_is_kept(
    world: sc.Scenario, login: Login, session: Session
) -> None:
    bundle = _bundle(world)
    del bundle["entry"][2]  # a GP cannot create plans at all
    body = outcome(login(world.gp).post("", bundle), 403, "forbidden")
    assert body["issue"][0]["diagnostics"].startswith("Bundle.entry[1]: ")
    denied = session.scalars(
        sa.select(AuditEntry).where(AuditEntry.outcome == AuditOutcome.DENIED)
    ).one()
    assert (denied.actor_id, denied.channel) == (world.gp.id, "fhir")
    assert _counts(session) == (0, 0)


def test_updates_in_a_transaction(world: sc.Scenario, login: Login) -> None:
    nurse = login(world.nurse)
    plan = ok(
        nurse.post("CarePlan", careplan_body(world.patient.id, world.ward.id, world.pathway.id)),
        201,
    )
    edited = copy.deepcopy(plan)
    edited["extension"] += _bundle(world)["entry"][1]["resource"]["extension"]
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "resource": edited,
                "request": {"method": "PUT", "url": f"CarePlan/{plan['id']}", "ifMatch": 'W/"1"'},
            }
        ],
    }
    answer = ok(nurse.post("", bundle))
    assert answer["entry"][0]["response"]["status"] == "200 OK"
    assert answer["entry"][0]["resource"]["meta"]["versionId"] == "2"
    outcome(nurse.post("", bundle), 412, "conflict")
    del bundle["entry"][0]["request"]["ifMatch"]
    outcome(nurse.post("", bundle), 428, "required", "Bundle.entry[0].request.ifMatch")


def test_what_a_transaction_cannot_carry(world: sc.Scenario, login: Login) -> None:
    nurse = login(world.nurse)
    batch = {**_bundle(world), "type": "batch"}
    outcome(nurse.post("", batch), 422, "not-supported", "Bundle.type")
    outcome(nurse.post("", {"resourceType": "Patient"}), 422, "invalid", "Bundle.resourceType")
    outcome(nurse.post("", {"resourceType": "Bundle", "type": "transaction"}), 422, "required")
    deleting = _bundle(world)
    deleting["entry"][0]["request"] = {"method": "DELETE", "url": "CarePlan/1"}
    refused = outcome(nurse.post("", deleting), 400, "not-supported", "Bundle.entry[0].request")
    assert refused["issue"][0]["diagnostics"] == (
        "Bundle.entry[0]: DELETE CarePlan/1 is not supported in a transaction here (supported: "
        "GET of any read, vread, _history, search or GET operation the facade serves (see "
        "metadata), POST CarePlan, POST CareTeam, PUT CarePlan, PUT Task)"
    )
    mismatched = _bundle(world)
    mismatched["entry"][1]["request"]["url"] = "CareTeam"
    outcome(nurse.post("", mismatched), 422, "invariant", "Bundle.entry[1].resource.resourceType")
    outcome(nurse.post("", "{"), 400, "structure")


# ---------------------------------------------------------------------------- GET entries
def _get_bundle(*urls: str) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [{"request": {"method": "GET", "url": url}} for url in urls],
    }


def test_get_entries_run_after_the_writes_through_the_same_handlers(
    world: sc.Scenario, login: Login, session: Session
) -> None:
    nurse = login(world.nurse)
    plan = ok(
        nurse.post("CarePlan", careplan_body(world.patient.id, world.ward.id, world.pathway.id)),
        201,
    )
    pid = world.patient.id
    bundle = _get_bundle(
        f"CarePlan/{plan['id']}",
        f"CarePlan?patient=Patient/{pid}",
        f"CarePlan/{plan['id']}/_history/1",
        f"CarePlan/{plan['id']}/_history",
        f"Patient/{pid}/$everything",
        "CodeSystem/plan-kind",
    )
    edited = copy.deepcopy(plan)
    edited["extension"] += _bundle(world)["entry"][1]["resource"]["extension"]
    bundle["entry"].append(
        {
            "resource": edited,
            "request": {"method": "PUT", "url": f"CarePlan/{plan['id']}", "ifMatch": 'W/"1"'},
        }
    )
    answer = ok(nurse.post("", bundle))
    entries = answer["entry"]
    assert [e["response"]["status"] for e in entries] == ["200 OK"] * 7
    read = entries[0]["resource"]
    assert (read["id"], read["meta"]["versionId"]) == (plan["id"], "2")  # after the update
    assert entries[0]["response"]["etag"] == 'W/"2"'
    assert entries[0]["fullUrl"] == f"http://localhost/fhir/CarePlan/{plan['id']}"
    found = entries[1]["resource"]
    assert (found["type"], found["total"]) == ("searchset", 1)
    assert found["entry"][0]["resource"]["id"] == plan["id"]
    assert entries[2]["resource"]["meta"]["versionId"] == "1"
    assert entries[3]["resource"]["type"] == "history"
    assert entries[4]["resource"]["type"] == "searchset"
    assert entries[5]["resource"]["resourceType"] == "CodeSystem"
    reads = session.scalars(
        sa.select(AuditEntry.action).where(
            AuditEntry.resource_type == "Plan",
            AuditEntry.resource_id == str(plan["id"]),
            AuditEntry.actor_id == world.nurse.id,
            AuditEntry.channel == "fhir",
        )
    ).all()
    assert reads.count(AuditAction.READ) >= 2  # the update's own read and the GET entry
    assert (
        AuditAction.SEARCH
        in session.scalars(sa.select(AuditEntry.action).where(AuditEntry.patient_id == pid)).all()
    )


def test_get_entries_the_facade_does_not_serve_are_named(
    world: sc.Scenario, login: Login, session: Session
) -> None:
    nurse = login(world.nurse)
    for url, index in (
        ("Basic/1", 1),
        ("AuditEvent/1", 1),  # AuditEvent is searched, never read
        ("CarePlan/1/$everything", 1),
        ("CarePlan/1?_format=json", 1),
    ):
        body = outcome(
            nurse.post("", _get_bundle("Organization", url)),
            400,
            "not-supported",
            f"Bundle.entry[{index}].request",
        )
        assert body["issue"][0]["diagnostics"].startswith(
            f"Bundle.entry[{index}]: GET {url} is not supported in a transaction here (supported: "
            "GET of any read"
        )
    unknown = outcome(nurse.post("", _get_bundle("CarePlan?colour=red")), 400, "not-supported")
    assert unknown["issue"][0]["diagnostics"].startswith(
        "Bundle.entry[0]: CarePlan does not support the search parameter(s) colour"
    )


def test_a_refused_get_entry_undoes_the_transaction(
    world: sc.Scenario, login: Login, session: Session
) -> None:
    stranger = login(world.other_gp)
    bundle = _bundle(world)
    bundle["entry"].append({"request": {"method": "GET", "url": "CarePlan/987654"}})
    outcome(login(world.nurse).post("", bundle), 403, "forbidden", "Bundle.entry[3]")
    assert _counts(session) == (0, 0)
    outcome(stranger.post("", _get_bundle(f"Patient/{world.patient.id}")), 403, "forbidden")
