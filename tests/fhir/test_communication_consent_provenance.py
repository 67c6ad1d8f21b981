"""Communication (MedCom messages sent), Consent (the patient's participation) and Provenance (committed
CarePlan versions): read, search, paging, access, audit, and the DK identifiers they carry."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from coordinator.fhir.table import BY_NAME
from coordinator.messaging.outbound import notify_municipality_of_discharge, share_plan
from coordinator.outbox.models import OutboxChannel, OutboxMessage, OutboxStatus
from coordinator.outbox.services import enqueue, record_delivery
from coordinator.plans import services as plans
from coordinator.plans.models import Plan
from fhir_adapters.codesystems import PLAN_KIND
from fhir_adapters.communication import URI_SYSTEM
from fhir_adapters.consent import ConsentRecord, consent_to_fhir
from fhir_adapters.medcom_care_communication import CATEGORY_SYSTEM
from fhir_adapters.records import OrganisationRecord
from pathways.audit import AuditAction, AuditOutcome
from pathways.clock import FixedClock
from pathways.identifiers import GLN_SYSTEM, SOR_SYSTEM
from pathways.organisations import Organisation, OrganisationKind
from pathways.plans import PatientParticipation, PlanKind, PlanStatus
from tests import scenario as sc
from tests.fhir.conftest import Login
from tests.fhir.support import (
    DK_ORGANISATION_SYSTEMS,
    Fhir,
    careplan_body,
    ids,
    ok,
    outcome,
    pages,
    parsed,
    resources,
    section_extensions,
)

GP_SOR, GP_GLN = "990200000016003", "5790000000029"
KK_SOR, KK_GLN = "990300000016001", "5790000000036"
PLAN_TEXT = "Egen lejlighed med bostøtte"  # content of the shared plan: never in a Communication
HOUSING = {"housing": {"text": PLAN_TEXT}}


# ---------------------------------------------------------------------------- helpers
def _identifier_systems(data: Any) -> Iterator[str]:
    """Every identifier system anywhere in a resource (its own and those of its references)."""
    if isinstance(data, dict):
        ident = data.get("identifier")
        for item in ident if isinstance(ident, list) else [ident] if ident else []:
            if isinstance(item, dict) and "system" in item:
                yield item["system"]
        for value in data.values():
            yield from _identifier_systems(value)
    elif isinstance(data, list):
        for value in data:
            yield from _identifier_systems(value)


def _dk(resource: dict[str, Any]) -> dict[str, Any]:
    """The resource, after checking that it parses and names organisations by DK-core identifiers."""
    parsed(resource)
    assert set(_identifier_systems(resource)) & DK_ORGANISATION_SYSTEMS, resource
    return resource


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _create_plan(client: Fhir, world: sc.Scenario, sections: Any = None) -> dict[str, Any]:
    body = careplan_body(world.patient.id, world.ward.id, world.pathway.id, sections)
    return ok(client.post("CarePlan", body), 201)


# ---------------------------------------------------------------------------- metadata
def test_metadata_lists_the_three_read_only(anonymous: Fhir) -> None:
    served = {r["type"]: r for r in ok(anonymous.get("metadata"))["rest"][0]["resource"]}
    expected = {
        "Communication": ["patient", "recipient", "status"],
        "Consent": ["patient"],
        "Provenance": ["target", "patient"],
    }
    for name, params in expected.items():
        assert [i["code"] for i in served[name]["interaction"]] == ["read", "search-type"]
        assert [p["name"] for p in served[name]["searchParam"]] == params
        assert "_count" in served[name]["documentation"]
        assert (BY_NAME[name].create, BY_NAME[name].update) == (None, None)
    assert {"Communication", "Consent", "Provenance"} <= set(served)


def test_writes_are_refused(world: sc.Scenario, login: Login) -> None:
    nurse = login(world.nurse)
    for name in ("Communication", "Consent", "Provenance"):
        refused = nurse.post(name, {"resourceType": name})
        outcome(refused, 405, "not-supported")
        assert refused.headers["Allow"] == "GET, HEAD"


# ---------------------------------------------------------------------------- Communication
def _messages(
    session: Session, app: Flask, world: sc.Scenario, clock: FixedClock, plan_id: int
) -> tuple[OutboxMessage, OutboxMessage]:
    """A plan shared with the GP, then the planned discharge date sent to the municipality."""
    world.gp_clinic.sor_code, world.gp_clinic.gln = GP_SOR, GP_GLN
    world.municipality.sor_code, world.municipality.gln = KK_SOR, KK_GLN
    session.flush()
    shared = share_plan(
        session,
        world.nurse,
        clock,
        plan_id=plan_id,
        organisation_id=world.gp_clinic.id,
        category="psychiatry-social-disability",
        config=app.config,
    )
    sc.plan_discharge(session, clock, world, in_days=7)
    notice = notify_municipality_of_discharge(
        session, world.nurse, clock, pathway_id=world.pathway.id, config=app.config
    )
    # a reminder mail about the same patient: never a Communication
    enqueue(
        session,
        channel=OutboxChannel.EMAIL,
        idempotency_key="reminder-mail",
        recipient="afsnit1@test.example",
        subject="Påmindelse",
        body="Se carepath",
        now=clock.now(),
        patient_id=world.patient.id,
    )
    session.flush()
    return shared, notice


def test_communications_of_a_patient(
    world: sc.Scenario, login: Login, session: Session, clock: FixedClock, app: Flask
) -> None:
    nurse = login(world.nurse)
    plan = _create_plan(nurse, world, HOUSING)
    shared, notice = _messages(session, app, world, clock, int(plan["id"]))
    mail = session.scalars(
        sa.select(OutboxMessage).where(
            OutboxMessage.channel == OutboxChannel.EMAIL,
            OutboxMessage.idempotency_key == "reminder-mail",
        )
    ).one()

    bundle = ok(nurse.get(f"Communication?patient=Patient/{world.patient.id}"))
    assert ids(bundle) == [str(notice.id), str(shared.id)]
    assert bundle["total"] == 2
    for resource in resources(bundle):
        _dk(resource)
        assert "payload" not in resource
    assert PLAN_TEXT not in json.dumps(bundle, ensure_ascii=False)
    assert "Forventet udskrivelse fra" not in json.dumps(bundle, ensure_ascii=False)

    first = ok(nurse.get(f"Communication/{shared.id}"))
    assert first["status"] == "in-progress"
    assert first["identifier"] == [{"system": URI_SYSTEM, "value": f"urn:uuid:{shared.message_id}"}]
    assert first["category"] == [
        {"coding": [{"system": CATEGORY_SYSTEM, "code": "psychiatry-social-disability"}]}
    ]
    assert first["subject"] == {"reference": f"Patient/{world.patient.id}"}
    assert first["about"] == [{"reference": f"CarePlan/{plan['id']}"}]
    assert first["encounter"] == {"reference": f"Encounter/{world.pathway.id}"}
    assert first["recipient"] == [
        {
            "reference": f"Organization/{world.gp_clinic.id}",
            "identifier": {"system": GLN_SYSTEM, "value": GP_GLN},
            "display": "Lægehuset",
        }
    ]
    assert first["sender"]["identifier"]["system"] == SOR_SYSTEM  # carepath's own SOR code
    assert {"sent", "received"}.isdisjoint(first)

    municipal = ok(nurse.get(f"Communication/{notice.id}"))
    assert municipal["category"][0]["coding"][0]["code"] == "discharge"
    assert municipal["recipient"][0]["reference"] == f"Organization/{world.municipality.id}"
    assert municipal["recipient"][0]["identifier"] == {"system": GLN_SYSTEM, "value": KK_GLN}
    assert municipal["topic"] == {"text": "Forventet udskrivelsesdato"}
    assert "about" not in municipal
    assert municipal["encounter"] == {"reference": f"Encounter/{world.pathway.id}"}

    # the gateway takes the share and the GP's Acknowledgement marks it delivered; the notice dies
    shared.status, shared.sent_at = OutboxStatus.SENT, clock.now()
    session.flush()
    record_delivery(session, message_id=shared.message_id, at=clock.now() + timedelta(minutes=5))
    notice.status = OutboxStatus.DEAD
    session.flush()
    delivered = ok(nurse.get(f"Communication/{shared.id}"))
    assert delivered["status"] == "completed"
    assert _instant(delivered["sent"]) == clock.now()
    assert _instant(delivered["received"]) == clock.now() + timedelta(minutes=5)
    dead = ok(nurse.get(f"Communication/{notice.id}"))
    assert dead["status"] == "stopped"
    assert "requeue" in dead["statusReason"]["text"]

    patient = f"patient={world.patient.id}"
    assert ids(ok(nurse.get(f"Communication?{patient}&status=completed"))) == [str(shared.id)]
    assert ids(ok(nurse.get(f"Communication?{patient}&status=stopped"))) == [str(notice.id)]
    assert ids(ok(nurse.get(f"Communication?{patient}&status=in-progress"))) == []
    assert ids(ok(nurse.get(f"Communication?{patient}&status=completed,stopped"))) == [
        str(notice.id),
        str(shared.id),
    ]
    gp = f"recipient=Organization/{world.gp_clinic.id}"
    assert ids(ok(nurse.get(f"Communication?{patient}&{gp}"))) == [str(shared.id)]
    other = f"recipient=Organization/{world.other_gp_clinic.id}"
    assert ids(ok(nurse.get(f"Communication?{patient}&{other}"))) == []

    # paging: one per page, newest first, by keyset
    assert pages(nurse, f"Communication?{patient}&_count=1") == [
        [str(notice.id)],
        [str(shared.id)],
        [],
    ]

    # not a Communication: the reminder mail, an unknown id, a search without patient
    outcome(nurse.get(f"Communication/{mail.id}"), 404, "not-found")
    outcome(nurse.get("Communication/999999"), 404, "not-found")
    outcome(nurse.get("Communication/abc"), 404, "not-found")
    outcome(nurse.get("Communication"), 400, "invalid")
    outcome(nurse.get(f"Communication?{patient}&recipient=Patient/1"), 400, "invalid")


def test_communications_need_a_care_relation_and_are_audited(
    world: sc.Scenario, login: Login, session: Session, clock: FixedClock, app: Flask
) -> None:
    nurse = login(world.nurse)
    plan = _create_plan(nurse, world)
    shared, _ = _messages(session, app, world, clock, int(plan["id"]))
    other_gp = login(world.other_gp)
    outcome(other_gp.get(f"Communication/{shared.id}"), 403, "forbidden")
    outcome(other_gp.get(f"Communication?patient={world.patient.id}"), 403, "forbidden")
    denied = sc.audit_entries(session, actor_id=world.other_gp.id, outcome=AuditOutcome.DENIED)
    assert [(e.patient_id, e.channel) for e in denied] == [(world.patient.id, "fhir")] * 2

    ok(nurse.get(f"Communication/{shared.id}"))
    ok(nurse.get(f"Communication/{shared.id}"))
    ok(nurse.get(f"Communication?patient={world.patient.id}"))
    reads = sc.audit_entries(session, actor_id=world.nurse.id, resource_type="Communication")
    assert [(e.action, e.resource_id, e.patient_id) for e in reads] == [
        (AuditAction.READ, str(shared.id), world.patient.id),
        (AuditAction.READ, str(shared.id), world.patient.id),
        (AuditAction.SEARCH, "", world.patient.id),
    ]
    assert all(e.channel == "fhir" and e.purpose for e in reads)
    # the GP, a party through the shared plan, reads it too
    ok(login(world.gp).get(f"Communication/{shared.id}"))


# ---------------------------------------------------------------------------- Consent
def _version(session: Session, plan_id: int) -> int:
    plan = session.get(Plan, plan_id)
    assert plan is not None
    return plan.version


def test_consent_from_refusal_and_participation(
    world: sc.Scenario, login: Login, session: Session, clock: FixedClock
) -> None:
    nurse = login(world.nurse)
    refused_plan = int(_create_plan(nurse, world)["id"])
    outcome(nurse.get(f"Consent/{refused_plan}"), 404, "not-found")  # nothing recorded yet
    assert ids(ok(nurse.get(f"Consent?patient={world.patient.id}"))) == []

    refused_on = clock.now().date() - timedelta(days=1)
    plan = plans.record_participation(
        session,
        world.nurse,
        clock,
        plan_id=refused_plan,
        expected_version=_version(session, refused_plan),
        participates=False,
        on=refused_on,
    )
    session.flush()
    deny = _dk(ok(nurse.get(f"Consent/{refused_plan}")))
    assert deny["status"] == "active"
    assert deny["scope"]["coding"][0]["code"] == "treatment"
    assert {"system": "http://loinc.org", "code": "59284-0"} in [
        c for concept in deny["category"] for c in concept["coding"]
    ]
    assert deny["category"][1]["coding"][0]["code"] == "coordination-plan"
    assert deny["category"][1]["coding"][0]["system"] == PLAN_KIND.url
    assert deny["patient"] == {"reference": f"Patient/{world.patient.id}"}
    assert deny["performer"] == [deny["patient"]]
    assert deny["dateTime"] == refused_on.isoformat()
    assert deny["provision"] == {
        "type": "deny",
        "data": [{"meaning": "related", "reference": {"reference": f"CarePlan/{refused_plan}"}}],
    }
    assert deny["organization"] == [
        {
            "reference": f"Organization/{world.ward.id}",
            "identifier": {"system": SOR_SYSTEM, "value": world.ward.sor_code},
            "display": world.ward.name,
        }
    ]
    assert "§ 13 a" in deny["policyRule"]["text"]

    plans.withdraw(
        session,
        world.nurse,
        clock,
        plan_id=refused_plan,
        expected_version=plan.version,
        reason="ny plan",
    )
    session.flush()
    assert ok(nurse.get(f"Consent/{refused_plan}"))["status"] == "inactive"

    agreement = plans.create_draft(
        session, world.nurse, clock, pathway_id=world.pathway.id, kind=PlanKind.DISCHARGE_AGREEMENT
    )
    session.flush()
    plans.record_participation(
        session,
        world.nurse,
        clock,
        plan_id=agreement.id,
        expected_version=agreement.version,
        participates=True,
    )
    session.flush()
    permit = _dk(ok(nurse.get(f"Consent/{agreement.id}")))
    assert (permit["status"], permit["provision"]["type"]) == ("active", "permit")
    assert "dateTime" not in permit
    assert permit["category"][1]["coding"][0]["code"] == "discharge-agreement"

    everything = ok(nurse.get(f"Consent?patient=Patient/{world.patient.id}"))
    assert ids(everything) == [str(agreement.id), str(refused_plan)]
    for resource in resources(everything):
        _dk(resource)
    assert pages(nurse, f"Consent?patient={world.patient.id}&_count=1") == [
        [str(agreement.id)],
        [str(refused_plan)],
        [],
    ]
    outcome(nurse.get("Consent"), 400, "invalid")
    outcome(nurse.get("Consent/999999"), 403, "forbidden")  # as someone else's plan: no oracle


def test_consent_needs_a_care_relation_and_is_audited(
    world: sc.Scenario, login: Login, session: Session, clock: FixedClock
) -> None:
    nurse = login(world.nurse)
    plan_id = int(_create_plan(nurse, world)["id"])
    plans.record_participation(
        session,
        world.nurse,
        clock,
        plan_id=plan_id,
        expected_version=_version(session, plan_id),
        participates=False,
    )
    session.flush()
    other_gp = login(world.other_gp)
    outcome(other_gp.get(f"Consent/{plan_id}"), 403, "forbidden")
    outcome(other_gp.get(f"Consent?patient={world.patient.id}"), 403, "forbidden")
    assert (
        len(sc.audit_entries(session, actor_id=world.other_gp.id, outcome=AuditOutcome.DENIED)) == 2
    )

    ok(nurse.get(f"Consent/{plan_id}"))
    ok(nurse.get(f"Consent?patient={world.patient.id}"))
    reads = sc.audit_entries(session, actor_id=world.nurse.id, purpose="read consent")
    assert [(e.action, e.resource_type, e.resource_id, e.channel) for e in reads] == [
        (AuditAction.READ, "Plan", str(plan_id), "fhir")
    ]
    searches = sc.audit_entries(
        session,
        actor_id=world.nurse.id,
        action=AuditAction.SEARCH,
        resource_type="Plan",
        channel="fhir",
    )
    assert len(searches) == 1
    assert searches[0].patient_id == world.patient.id


def test_a_refusal_overtaken_by_consent_is_inactive() -> None:
    ward = OrganisationRecord(
        organisation=Organisation(
            name="Afsnit 1", kind=OrganisationKind.WARD, sor_code="90000000000002"
        ),
        id=3,
    )
    record = ConsentRecord(
        plan_id=7,
        patient_id=1,
        kind=PlanKind.COORDINATION_PLAN,
        plan_status=PlanStatus.ACTIVE,
        participation=PatientParticipation.REFUSED,
        responsible=ward,
        refused_on=date(2026, 11, 20),
    )
    assert consent_to_fhir(record).status == "active"
    overtaken = ConsentRecord(**{**_fields(record), "superseded_by_consent": True})
    assert consent_to_fhir(overtaken).status == "inactive"
    unknown = ConsentRecord(**{**_fields(record), "participation": PatientParticipation.UNKNOWN})
    with pytest.raises(ValueError, match="no participation recorded"):
        consent_to_fhir(unknown)


def _fields(record: ConsentRecord) -> dict[str, Any]:
    return {name: getattr(record, name) for name in ConsentRecord.__slots__}


# ---------------------------------------------------------------------------- Provenance
def test_provenance_of_every_committed_version(
    world: sc.Scenario, login: Login, session: Session
) -> None:
    nurse = login(world.nurse)
    plan = _create_plan(nurse, world)  # no content: committed as version 1
    url = f"CarePlan/{plan['id']}"
    assert plan["meta"]["versionId"] == "1"
    changed = {**plan, "extension": [*plan.get("extension", []), *section_extensions(HOUSING)]}
    updated = ok(nurse.put(url, changed, **{"If-Match": 'W/"1"'}))
    assert updated["meta"]["versionId"] == "2"

    bundle = ok(nurse.get(f"Provenance?target={url}"))
    found = list(resources(bundle))
    assert [p["target"] for p in found] == [
        [{"reference": f"{url}/_history/2"}],
        [{"reference": f"{url}/_history/1"}],
    ]
    assert [p["activity"]["coding"][0]["code"] for p in found] == ["UPDATE", "CREATE"]
    for provenance in found:
        _dk(provenance)
        author, custodian = provenance["agent"]
        assert author["type"]["coding"][0]["code"] == "author"
        assert author["who"]["reference"] == f"Practitioner/{world.nurse.id}"
        assert author["onBehalfOf"]["reference"] == f"Organization/{world.ward.id}"
        assert author["onBehalfOf"]["identifier"] == {
            "system": SOR_SYSTEM,
            "value": world.ward.sor_code,
        }
        assert custodian["type"]["coding"][0]["code"] == "custodian"
        assert custodian["who"]["reference"] == f"Organization/{world.ward.id}"
        # the version it names is the one vread serves
        target = provenance["target"][0]["reference"]
        assert ok(nurse.get(target))["meta"]["versionId"] == target.rsplit("/", 1)[-1]
        assert ok(nurse.get(f"Provenance/{provenance['id']}")) == provenance
    newest = found[0]
    assert newest["recorded"] == updated["meta"]["lastUpdated"]

    by_patient = ok(nurse.get(f"Provenance?patient=Patient/{world.patient.id}"))
    assert ids(by_patient) == [p["id"] for p in found]
    assert pages(nurse, f"Provenance?target={url}&_count=1") == [
        [found[0]["id"]],
        [found[1]["id"]],
        [],
    ]
    # an unknown target is refused as someone else's plan is: no oracle for plan ids
    outcome(nurse.get("Provenance?target=CarePlan/999999"), 403, "forbidden")
    both = f"Provenance?target={url}&patient={world.patient.id}"
    assert ids(ok(nurse.get(both))) == [p["id"] for p in found]
    outcome(nurse.get("Provenance"), 400, "invalid")
    outcome(nurse.get("Provenance?target=Patient/1"), 400, "invalid")
    outcome(nurse.get("Provenance/999999"), 404, "not-found")


def test_provenance_needs_a_care_relation_and_is_audited(
    world: sc.Scenario, login: Login, session: Session
) -> None:
    nurse = login(world.nurse)
    plan = _create_plan(nurse, world)
    url = f"CarePlan/{plan['id']}"
    provenance = next(resources(ok(nurse.get(f"Provenance?target={url}"))))
    other_gp = login(world.other_gp)
    outcome(other_gp.get(f"Provenance/{provenance['id']}"), 403, "forbidden")
    outcome(other_gp.get(f"Provenance?target={url}"), 403, "forbidden")
    outcome(other_gp.get(f"Provenance?patient={world.patient.id}"), 403, "forbidden")
    assert (
        len(sc.audit_entries(session, actor_id=world.other_gp.id, outcome=AuditOutcome.DENIED)) == 3
    )

    ok(nurse.get(f"Provenance/{provenance['id']}"))
    reads = sc.audit_entries(session, actor_id=world.nurse.id, purpose="read plan provenance")
    assert [(e.action, e.resource_type, e.resource_id, e.channel) for e in reads] == [
        (AuditAction.READ, "Plan", plan["id"], "fhir")
    ]
    assert (
        len(sc.audit_entries(session, actor_id=world.nurse.id, purpose="search plan provenance"))
        == 1
    )
