"""CarePlan over HTTP: create, read, vread/_history, update with If-Match, search, and every error."""

from __future__ import annotations

import copy
from datetime import date
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import sqlalchemy as sa
from sqlalchemy.orm import Session

from coordinator.audit.models import AuditEntry
from coordinator.plans.answers import respond
from coordinator.plans.models import Plan
from coordinator.plans.services import propose
from fhir_adapters.careplan import PARTICIPANT_EXTENSION, PLAN_STATUS_EXTENSION
from fhir_adapters.codesystems import PLAN_KIND, PLAN_STATUS
from pathways.audit import AuditAction, AuditOutcome
from pathways.clock import FixedClock
from pathways.plans import ParticipantRole
from tests import scenario as sc
from tests.fhir.conftest import Login
from tests.fhir.support import (
    Fhir,
    careplan_body,
    cpr_token,
    issues,
    ok,
    outcome,
    resources,
    section_extensions,
    sections_of,
)

HOUSING = {"housing": {"text": "Egen lejlighed"}}


def _body(world: sc.Scenario, sections: dict[str, Any] | None = None) -> dict[str, Any]:
    return careplan_body(world.patient.id, world.ward.id, world.pathway.id, sections)


def _create(client: Fhir, world: sc.Scenario, sections: dict[str, Any] | None = None) -> Any:
    response = client.post("CarePlan", _body(world, sections))
    return response, ok(response, 201)


# ---------------------------------------------------------------------------- create and read
def test_create_then_read_with_versions(world: sc.Scenario, login: Login) -> None:
    nurse = login(world.nurse)
    response, plan = _create(nurse, world, HOUSING)
    assert plan["meta"]["versionId"] == "2"  # the draft, then its content
    assert response.headers["ETag"] == 'W/"2"'
    assert response.headers["Location"] == f"http://localhost/fhir/CarePlan/{plan['id']}/_history/2"
    assert "Last-Modified" in response.headers
    assert plan["status"] == "draft"
    assert sections_of(plan) == HOUSING
    parties = [e for e in plan["extension"] if e["url"] == PARTICIPANT_EXTENSION]
    roles = [next(s["valueCode"] for s in p["extension"] if s["url"] == "role") for p in parties]
    assert roles == ["patient", "ward", "municipality", "gp"]
    assert plan["careTeam"] == [{"reference": f"CareTeam/plan-{plan['id']}"}]
    read = nurse.get(f"CarePlan/{plan['id']}")
    assert ok(read) == plan
    assert read.headers["ETag"] == 'W/"2"'
    assert ok(nurse.get(f"CarePlan/{plan['id']}/_history/2")) == plan


def test_create_without_content_and_as_coordination_plan(world: sc.Scenario, login: Login) -> None:
    nurse = login(world.nurse)
    body = careplan_body(
        world.patient.id, world.ward.id, world.pathway.id, kind="coordination-plan"
    )
    plan = ok(nurse.post("CarePlan", body), 201)
    assert plan["meta"]["versionId"] == "1"
    assert plan["category"][0]["coding"][0]["code"] == "coordination-plan"
    assert "patient" not in str([e for e in plan["extension"] if e["url"] == PARTICIPANT_EXTENSION])


def test_vread_of_older_versions_and_history(world: sc.Scenario, login: Login) -> None:
    nurse = login(world.nurse)
    _, plan = _create(nurse, world, HOUSING)
    gone = outcome(nurse.get(f"CarePlan/{plan['id']}/_history/1"), 410, "not-supported")
    assert "/api/v1/plans/" in gone["issue"][0]["diagnostics"]
    outcome(nurse.get(f"CarePlan/{plan['id']}/_history/3"), 404, "not-found")
    outcome(nurse.get(f"CarePlan/{plan['id']}/_history/x"), 404, "not-found")
    history = ok(nurse.get(f"CarePlan/{plan['id']}/_history"))
    assert history["type"] == "history"
    assert history["total"] == 1
    entry = history["entry"][0]
    assert entry["resource"] == plan
    assert entry["request"] == {"method": "PUT", "url": f"CarePlan/{plan['id']}"}
    assert entry["response"]["etag"] == 'W/"2"'


def test_read_is_audited_and_refusals_too(
    world: sc.Scenario, login: Login, session: Session
) -> None:
    _, plan = _create(login(world.nurse), world)
    ok(login(world.gp).get(f"CarePlan/{plan['id']}"))
    outcome(login(world.other_gp).get(f"CarePlan/{plan['id']}"), 403, "forbidden")
    entries = list(
        session.scalars(
            sa.select(AuditEntry).where(
                AuditEntry.resource_type.in_(["Plan", "Patient"]),
                AuditEntry.actor_id.in_([world.gp.id, world.other_gp.id]),
            )
        )
    )
    assert [(e.actor_id, e.action, e.outcome, e.channel) for e in entries] == [
        (world.gp.id, AuditAction.READ, AuditOutcome.ALLOWED, "fhir"),
        (world.other_gp.id, AuditAction.READ, AuditOutcome.DENIED, "fhir"),
    ]
    assert entries[0].purpose == "read plan"
    outcome(login(world.gp).get("CarePlan/999999"), 403, "forbidden")  # as someone else's plan


# ---------------------------------------------------------------------------- create errors
def test_create_errors(world: sc.Scenario, login: Login) -> None:
    nurse = login(world.nurse)
    outcome(nurse.post("CarePlan", "{not json"), 400, "structure")
    outcome(nurse.post("CarePlan", "[]"), 400, "structure")
    outcome(nurse.post("CarePlan", _body(world), content_type="text/plain"), 415, "not-supported")
    outcome(
        nurse.post("CarePlan", {"resourceType": "Patient"}), 422, "invalid", "CarePlan.resourceType"
    )
    group = _body(world)
    group["subject"] = {"reference": "Group/1"}
    group["intent"] = "order"
    found = issues(outcome(nurse.post("CarePlan", group), 422, "code-invalid"))
    assert found == {"CarePlan.subject.reference": "value", "CarePlan.intent": "code-invalid"}
    wrong = _body(world)
    wrong["status"] = "active"
    del wrong["encounter"]
    found = issues(outcome(nurse.post("CarePlan", wrong), 422, "business-rule"))
    assert found == {"CarePlan.status": "business-rule", "CarePlan.encounter": "required"}
    bad_section = _body(world, {"first_follow_up": {"date": "snart"}})
    outcome(nurse.post("CarePlan", bad_section), 422, "value")
    unknown_field = _body(world)
    unknown_field["extension"] = section_extensions({"housing": {"txt": "x"}})
    outcome(
        nurse.post("CarePlan", unknown_field),
        422,
        "code-invalid",
        "CarePlan.extension[0].extension[1].url",
    )
    structure = _body(world)
    structure["period"] = "2026"
    outcome(nurse.post("CarePlan", structure), 422, "structure", "CarePlan.period")
    started = _body(world)
    started["period"] = {"start": "2026-12-01"}
    outcome(nurse.post("CarePlan", started), 422, "business-rule", "CarePlan.period.start")
    other_patient = _body(world)
    other_patient["subject"] = {"reference": "Patient/999"}
    other_patient["author"] = {"reference": f"Organization/{world.other_ward.id}"}
    found = issues(outcome(nurse.post("CarePlan", other_patient), 422, "invariant"))
    assert found == {"CarePlan.subject": "invariant", "CarePlan.author": "invariant"}
    missing_stay = _body(world)
    missing_stay["encounter"] = {"reference": "Encounter/999999"}
    # an unknown stay is refused as another ward's stay is: no oracle for Encounter ids
    unknown_stay = outcome(nurse.post("CarePlan", missing_stay), 403, "forbidden")
    assert unknown_stay["issue"][0]["diagnostics"] == "you have no care relation to this patient"


def test_create_conflicts_and_refusals(world: sc.Scenario, login: Login, session: Session) -> None:
    nurse = login(world.nurse)
    _create(nurse, world)
    duplicate = outcome(nurse.post("CarePlan", _body(world)), 409, "conflict")
    assert "already has an open" in duplicate["issue"][0]["diagnostics"]
    outcome(login(world.gp).post("CarePlan", _body(world)), 403, "forbidden")
    denied = session.scalars(
        sa.select(AuditEntry).where(
            AuditEntry.actor_id == world.gp.id, AuditEntry.outcome == AuditOutcome.DENIED
        )
    ).one()
    assert (denied.patient_id, denied.channel) == (world.patient.id, "fhir")
    assert session.scalar(sa.select(sa.func.count(Plan.id))) == 1  # nothing of the refusal kept


def test_conditional_create(world: sc.Scenario, login: Login) -> None:
    nurse = login(world.nurse)
    condition = f"encounter=Encounter/{world.pathway.id}&status=draft,active"
    first = nurse.post("CarePlan", _body(world, HOUSING), **{"If-None-Exist": condition})
    plan = ok(first, 201)
    again = nurse.post("CarePlan", _body(world), **{"If-None-Exist": condition})
    assert ok(again, 200) == plan  # the existing plan, nothing created
    outcome(
        nurse.post("CarePlan", _body(world), **{"If-None-Exist": "bogus=1"}), 400, "not-supported"
    )


# ---------------------------------------------------------------------------- update
def test_update_with_if_match(world: sc.Scenario, login: Login) -> None:
    nurse = login(world.nurse)
    _, plan = _create(nurse, world, HOUSING)
    url = f"CarePlan/{plan['id']}"
    changed = copy.deepcopy(plan)
    changed["extension"] = [
        e for e in plan["extension"] if e["url"] != section_extensions(HOUSING)[0]["url"]
    ] + section_extensions(sc.COMPLETE_SECTIONS)
    response = nurse.put(url, changed, **{"If-Match": 'W/"2"'})
    updated = ok(response)
    assert updated["meta"]["versionId"] == "3"
    assert response.headers["ETag"] == 'W/"3"'
    assert sections_of(updated) == sc.COMPLETE_SECTIONS
    # stale: another update against version 2 is refused and changes nothing
    stale = copy.deepcopy(plan)
    stale_answer = outcome(nurse.put(url, stale, **{"If-Match": 'W/"2"'}), 412, "conflict")
    assert "reload" in stale_answer["issue"][0]["diagnostics"]
    assert sections_of(ok(nurse.get(url))) == sc.COMPLETE_SECTIONS
    outcome(nurse.put(url, updated), 428, "required")
    outcome(nurse.put(url, updated, **{"If-Match": "*"}), 412, "conflict")
    # a strong ETag works too; removing a section makes a new version
    fewer = copy.deepcopy(updated)
    fewer["extension"] = [
        e
        for e in updated["extension"]
        if not any(s.get("valueCode") == "housing" for s in e.get("extension", []))
    ]
    smaller = ok(nurse.put(url, fewer, **{"If-Match": '"3"'}))
    assert "housing" not in sections_of(smaller)
    assert smaller["meta"]["versionId"] == "4"


def test_update_refuses_what_the_lifecycle_owns(world: sc.Scenario, login: Login) -> None:
    nurse = login(world.nurse)
    _, plan = _create(nurse, world, HOUSING)
    url = f"CarePlan/{plan['id']}"
    proposed = copy.deepcopy(plan)
    for ext in proposed["extension"]:
        if ext["url"] == PLAN_STATUS_EXTENSION:
            ext["valueCoding"] = {"system": PLAN_STATUS.url, "code": "proposed"}
    outcome(
        nurse.put(url, proposed, **{"If-Match": 'W/"2"'}), 422, "business-rule", "CarePlan.status"
    )
    moved = copy.deepcopy(plan)
    moved["subject"] = {"reference": f"Patient/{world.patient.id + 1}"}
    moved["category"] = [{"coding": [{"system": PLAN_KIND.url, "code": "coordination-plan"}]}]
    found = issues(outcome(nurse.put(url, moved, **{"If-Match": 'W/"2"'}), 422, "business-rule"))
    assert found == {"CarePlan.subject": "business-rule", "CarePlan.category": "business-rule"}
    fewer_parties = copy.deepcopy(plan)
    first = next(i for i, e in enumerate(plan["extension"]) if e["url"] == PARTICIPANT_EXTENSION)
    del fewer_parties["extension"][first + 3]  # the GP
    outcome(
        nurse.put(url, fewer_parties, **{"If-Match": 'W/"2"'}),
        422,
        "business-rule",
        f"CarePlan.extension[{first}]",
    )
    other_id = copy.deepcopy(plan)
    other_id["id"] = "1234"
    outcome(nurse.put(url, other_id, **{"If-Match": 'W/"2"'}), 400, "invalid", "CarePlan.id")
    outcome(
        nurse.put("CarePlan/999999", {**plan, "id": "999999"}, **{"If-Match": 'W/"1"'}),
        403,
        "forbidden",
    )
    # everything above left the plan as it was
    assert ok(nurse.get(url)) == plan


def test_update_conflicts_and_denials(
    world: sc.Scenario, login: Login, session: Session, clock: FixedClock
) -> None:
    nurse = login(world.nurse)
    _, plan = _create(nurse, world, sc.COMPLETE_SECTIONS)
    row = session.get(Plan, int(plan["id"]))
    assert row is not None
    propose(session, world.nurse, clock, plan_id=row.id, expected_version=row.version)
    proposed = ok(nurse.get(f"CarePlan/{plan['id']}"))
    version = proposed["meta"]["versionId"]
    edited = copy.deepcopy(proposed)
    edited["extension"] += section_extensions({"economy": {"text": "Gæld"}})
    conflict = outcome(
        nurse.put(f"CarePlan/{plan['id']}", edited, **{"If-Match": f'W/"{version}"'}),
        409,
        "conflict",
    )
    assert "start a revision" in conflict["issue"][0]["diagnostics"]
    # a party without the right to edit: refused and audited
    support = login(world.other_gp)
    outcome(
        support.put(f"CarePlan/{plan['id']}", edited, **{"If-Match": f'W/"{version}"'}),
        403,
        "forbidden",
    )
    assert (
        session.scalar(
            sa.select(sa.func.count(AuditEntry.id)).where(
                AuditEntry.actor_id == world.other_gp.id, AuditEntry.outcome == AuditOutcome.DENIED
            )
        )
        == 1
    )


# ---------------------------------------------------------------------------- search
def _agreed(session: Session, world: sc.Scenario, clock: FixedClock, plan_id: int) -> None:
    row = session.get(Plan, plan_id)
    assert row is not None
    propose(session, world.nurse, clock, plan_id=row.id, expected_version=row.version)
    parts = {p.role: p.id for p in row.participants}
    for actor, role in (
        (world.nurse, ParticipantRole.PATIENT),
        (world.case_worker, ParticipantRole.MUNICIPALITY),
        (world.gp, ParticipantRole.GP),
    ):
        respond(
            session,
            actor,
            clock,
            plan_id=row.id,
            expected_version=row.version,
            participant_id=parts[role],
            response="accepted",
        )


def test_search_by_patient_category_status_and_includes(
    world: sc.Scenario, login: Login, session: Session, clock: FixedClock
) -> None:
    nurse = login(world.nurse)
    _, plan = _create(nurse, world, sc.COMPLETE_SECTIONS)
    pid = world.patient.id
    bundle = ok(nurse.get(f"CarePlan?patient=Patient/{pid}"))
    assert [r["id"] for r in resources(bundle)] == [plan["id"]]
    assert ok(nurse.get(f"CarePlan?patient={pid}&status=draft"))["total"] == 1
    assert ok(nurse.get(f"CarePlan?patient={pid}&status=active"))["total"] == 0
    exact = f"{quote(PLAN_STATUS.url)}|draft"
    assert ok(nurse.get(f"CarePlan?patient={pid}&status={exact}"))["total"] == 1
    kind = f"{quote(PLAN_KIND.url)}|discharge-agreement"
    assert ok(nurse.get(f"CarePlan?patient={pid}&category={kind}"))["total"] == 1
    assert ok(nurse.get(f"CarePlan?patient={pid}&category=coordination-plan"))["total"] == 0
    chained = ok(nurse.get(f"CarePlan?patient.identifier={quote(cpr_token('0101701235'))}"))
    assert [r["id"] for r in resources(chained)] == [plan["id"]]
    with_includes = ok(
        nurse.get(f"CarePlan?patient={pid}&_include=CarePlan:care-team&_include=CarePlan:patient")
    )
    modes = [(e["resource"]["resourceType"], e["search"]["mode"]) for e in with_includes["entry"]]
    assert modes == [("CarePlan", "match"), ("CareTeam", "include"), ("Patient", "include")]
    # the caller's own party plans, without patient
    assert [r["id"] for r in resources(ok(login(world.gp).get("CarePlan")))] == [plan["id"]]
    assert "entry" not in ok(login(world.other_gp).get("CarePlan"))
    # patient without a relation: refused like a read
    outcome(login(world.other_gp).get(f"CarePlan?patient={pid}"), 403, "forbidden")
    searches = session.scalars(
        sa.select(AuditEntry).where(
            AuditEntry.action == AuditAction.SEARCH,
            AuditEntry.resource_type == "Plan",
            AuditEntry.actor_id == world.nurse.id,
        )
    ).all()
    assert len(searches) == 8
    assert all(e.patient_id == pid and e.channel == "fhir" for e in searches)


def test_search_by_chained_cpr_links_to_the_patients_never_the_numbers(
    world: sc.Scenario, login: Login, session: Session, clock: FixedClock
) -> None:
    from coordinator.care_pathways.services import admit_patient
    from coordinator.patients.services import register_patient

    nurse = login(world.nurse)
    _, first = _create(nurse, world)
    second_patient = register_patient(
        session,
        sc.SYSTEM,
        clock,
        given_name="Anden",
        family_name="Test",
        kommunekode="101",
        cpr="0404801235",
    )
    stay = admit_patient(
        session,
        sc.SYSTEM,
        clock,
        patient_id=second_patient.id,
        ward_id=world.ward.id,
        admitted_at=clock.now(),
        idempotency_key="chained-links",
    )
    second = ok(
        nurse.post("CarePlan", careplan_body(second_patient.id, world.ward.id, stay.id)), 201
    )
    cprs = f"{cpr_token('0101701235')},0404801235"
    patients = f"Patient/{world.patient.id},Patient/{second_patient.id}"
    url = f"CarePlan?patient.identifier={quote(cprs)}&status=draft&_count=1"
    seen, links = [], []
    while url:
        bundle = ok(nurse.get(url))
        seen += [r["id"] for r in resources(bundle)]
        links += [link["url"] for link in bundle["link"]]
        nexts = [link["url"] for link in bundle["link"] if link["relation"] == "next"]
        url = nexts[0].removeprefix("http://localhost/fhir/") if nexts else ""
    assert seen == [second["id"], first["id"]]
    assert not [link for link in links if "0101701235" in link or "0404801235" in link]
    first_page = parse_qs(urlsplit(links[0]).query)
    assert first_page == {"status": ["draft"], "patient": [patients], "_count": ["1"]}
    assert parse_qs(urlsplit(links[1]).query) == {**first_page, "_cursor": [second["id"]]}
    # with patient as well: the links carry what both allow
    both = ok(nurse.get(f"CarePlan?patient={world.patient.id}&patient.identifier={quote(cprs)}"))
    assert [r["id"] for r in resources(both)] == [first["id"]]
    assert parse_qs(urlsplit(both["link"][0]["url"]).query) == {
        "patient": [f"Patient/{world.patient.id}"]
    }
    # nothing found (an unknown number, or one without a relation): no patient, no number
    for client, cpr in ((nurse, "0202020000"), (login(world.other_gp), "0101701235")):
        empty = ok(client.get(f"CarePlan?patient.identifier={cpr}&status=draft"))
        assert empty["total"] == 0
        assert [link["url"] for link in empty["link"]] == [
            "http://localhost/fhir/CarePlan?status=draft&patient=Patient%2Fnone"
        ]
    assert ok(nurse.get("CarePlan?status=draft&patient=Patient%2Fnone"))["total"] == 0


def test_search_by_date(
    world: sc.Scenario, login: Login, session: Session, clock: FixedClock
) -> None:
    nurse = login(world.nurse)
    _, plan = _create(nurse, world, sc.COMPLETE_SECTIONS)
    pid = world.patient.id
    assert ok(nurse.get(f"CarePlan?patient={pid}&date=ge2026-01-01"))["total"] == 0  # a draft
    _agreed(session, world, clock, int(plan["id"]))
    row = session.get(Plan, int(plan["id"]))
    assert row is not None
    row.valid_from, row.valid_to = date(2026, 12, 1), date(2027, 5, 31)
    session.flush()
    for query, expected in (
        ("date=ge2026-11-01", 1),
        ("date=ge2027-06-01", 0),
        ("date=gt2027-05-30", 1),
        ("date=gt2027-05-31", 0),
        ("date=le2026-12-01", 1),
        ("date=lt2026-12-01", 0),
        ("date=2027", 0),
        ("date=ge2026-12&date=le2027-01-15", 1),
        ("date=eq2026-12-01", 0),
        ("date=eq2026", 0),
        ("date=ge2026-11-30T10:00:00Z", 1),
    ):
        assert ok(nurse.get(f"CarePlan?patient={pid}&{query}"))["total"] == expected, query
    row.valid_to = date(2026, 12, 20)
    session.flush()
    assert ok(nurse.get(f"CarePlan?patient={pid}&date=eq2026-12"))["total"] == 1
    outcome(nurse.get(f"CarePlan?patient={pid}&date=sa2026-01-01"), 400, "invalid")
    outcome(nurse.get(f"CarePlan?patient={pid}&date=tomorrow"), 400, "invalid")
    outcome(nurse.get(f"CarePlan?patient={pid}&date=2026-02-30"), 400, "invalid")


def test_search_pages_with_cursor(
    world: sc.Scenario, login: Login, session: Session, clock: FixedClock
) -> None:
    from coordinator.care_pathways.services import admit_patient
    from coordinator.patients.services import register_patient

    nurse = login(world.nurse)
    ids = []
    for n in range(5):
        patient = register_patient(
            session,
            sc.SYSTEM,
            clock,
            given_name=f"P{n}",
            family_name="Test",
            kommunekode="101",
            cpr=f"0202{70 + n}1235",
        )
        pathway = admit_patient(
            session,
            sc.SYSTEM,
            clock,
            patient_id=patient.id,
            ward_id=world.ward.id,
            admitted_at=clock.now(),
            idempotency_key=f"page-{n}",
        )
        plan = ok(nurse.post("CarePlan", careplan_body(patient.id, world.ward.id, pathway.id)), 201)
        ids.append(plan["id"])
    seen: list[str] = []
    url = "CarePlan?_count=2&status=draft&unknown=1"
    while url:
        bundle = ok(nurse.get(url))
        assert "unknown" not in bundle["link"][0]["url"]
        seen += [r["id"] for r in resources(bundle)]
        nexts = [link["url"] for link in bundle["link"] if link["relation"] == "next"]
        url = nexts[0].removeprefix("http://localhost/fhir/") if nexts else ""
        if url:
            assert "_count=2" in url
            assert "status=draft" in url
            assert "_cursor=" in url
    assert seen == sorted(ids, key=int, reverse=True)
    outcome(nurse.get("CarePlan?_cursor=abc"), 400, "invalid")
    outcome(nurse.get("CarePlan?_count=0"), 400, "invalid")
    outcome(nurse.get("CarePlan?_count=many"), 400, "invalid")
    outcome(nurse.get("CarePlan?patient=Group/1"), 400, "invalid")
    outcome(
        nurse.get("CarePlan?_include=CarePlan:goal", Prefer="handling=strict"), 400, "not-supported"
    )


def test_methods_not_allowed(world: sc.Scenario, login: Login) -> None:
    nurse = login(world.nurse)
    _, plan = _create(nurse, world)
    response = nurse.request("DELETE", f"CarePlan/{plan['id']}")
    outcome(response, 405, "not-supported")
    assert response.headers["Allow"] == "GET, PUT, HEAD"
    response = nurse.request("PATCH", f"CarePlan/{plan['id']}", json={})
    outcome(response, 405, "not-supported")
    response = nurse.request("PUT", "CarePlan", json={})
    assert response.headers["Allow"] == "GET, POST, HEAD"
    outcome(response, 405, "not-supported")
    outcome(nurse.request("GET", "metadata/x"), 404, "not-supported")
    outcome(nurse.request("GET", f"CarePlan/{plan['id']}/$nothing"), 404, "not-supported")
    outcome(nurse.request("DELETE", "metadata"), 405, "not-supported")
    outcome(nurse.request("GET", ""), 405, "not-supported")
    outcome(nurse.get("CarePlan", Accept="application/fhir+xml"), 406, "not-supported")
    outcome(nurse.get("CarePlan?_format=xml"), 406, "not-supported")
    assert nurse.get("CarePlan?_format=json").status_code == 200
    assert nurse.get("CarePlan?_format=application/fhir+json").status_code == 200
    head = nurse.request("HEAD", f"CarePlan/{plan['id']}")
    assert (head.status_code, head.get_data()) == (200, b"")


def test_every_committed_version_can_be_read_again(world: sc.Scenario, login: Login) -> None:
    nurse = login(world.nurse)
    _, plan = _create(nurse, world, HOUSING)
    url = f"CarePlan/{plan['id']}"
    changed = {**plan}
    changed["extension"] = [
        e
        if not (e["url"].endswith("plan-section") and "housing" in str(e))
        else {
            **e,
            "extension": [
                x if x["url"] != "text" else {**x, "valueString": "Bostøtte i eget hjem"}
                for x in e["extension"]
            ],
        }
        for e in plan["extension"]
    ]
    updated = ok(nurse.put(url, changed, **{"If-Match": 'W/"2"'}))
    assert updated["meta"]["versionId"] == "3"
    assert ok(nurse.get(f"{url}/_history/2")) == plan
    assert ok(nurse.get(f"{url}/_history/3")) == updated
    history = ok(nurse.get(f"{url}/_history"))
    assert [e["resource"]["meta"]["versionId"] for e in history["entry"]] == ["3", "2"]
