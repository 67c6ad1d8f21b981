"""Lists of stays for worklists: a ward's current stays, a municipality's citizens, a patient's stays;
each gated like a read of patient data and audited per patient shown."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from coordinator.audit.models import AuditEntry
from coordinator.care_pathways.services import admit_patient
from coordinator.patients.services import register_patient
from pathways.audit import AuditAction, AuditOutcome
from pathways.clock import FixedClock
from pathways.people import Actor
from tests import scenario as sc
from tests.api.conftest import Login


def _searches(session: Session, actor: Actor) -> list[tuple[int | None, dict[str, object]]]:
    return [
        (e.patient_id, e.details)
        for e in session.scalars(
            sa.select(AuditEntry)
            .where(
                AuditEntry.actor_id == actor.id,
                AuditEntry.action == AuditAction.SEARCH,
                AuditEntry.resource_type == "Pathway",
            )
            .order_by(AuditEntry.id)
        )
    ]


def test_a_ward_sees_its_current_stays_and_no_one_elses(
    world: sc.Scenario, login: Login, session: Session
) -> None:
    listed = login(world.nurse).get(f"/api/v1/pathways?ward_id={world.ward.id}")
    assert listed.status_code == 200, listed.json
    assert [s["id"] for s in listed.json] == [world.pathway.id]
    [stay] = listed.json
    assert stay["patient_name"] == "Mette Test"
    assert stay["status"] == "admitted"
    assert "0101701235" not in listed.get_data(as_text=True)
    assert _searches(session, world.nurse) == [(world.patient.id, {"pathways": [world.pathway.id]})]
    centre = login(world.chief).get(f"/api/v1/pathways?ward_id={world.centre.id}")
    assert centre.status_code == 200
    refused = login(world.other_nurse).get(f"/api/v1/pathways?ward_id={world.ward.id}")
    assert refused.status_code == 403
    assert refused.mimetype == "application/problem+json"
    assert (
        login(world.other_nurse).get(f"/api/v1/pathways?ward_id={world.other_ward.id}").json == []
    )


def test_a_ward_nurse_asking_for_the_centre_sees_only_her_own_ward(
    world: sc.Scenario, login: Login, session: Session, clock: FixedClock
) -> None:
    other = register_patient(
        session,
        sc.SYSTEM,
        clock,
        given_name="Ole",
        family_name="Anden",
        kommunekode="101",
        cpr="0201701235",
    )
    admit_patient(
        session,
        sc.SYSTEM,
        clock,
        patient_id=other.id,
        ward_id=world.other_ward.id,
        admitted_at=clock.now() - timedelta(days=1),
        idempotency_key="other-ward",
    )
    mine = login(world.nurse).get(f"/api/v1/pathways?ward_id={world.centre.id}")
    assert [s["id"] for s in mine.json] == [world.pathway.id]


def test_a_municipality_sees_its_admitted_and_recently_discharged_citizens(
    world: sc.Scenario, login: Login, session: Session, clock: FixedClock
) -> None:
    case_worker = login(world.case_worker)
    current = case_worker.get("/api/v1/pathways?kommunekode=101")
    assert [s["id"] for s in current.json] == [world.pathway.id]
    sc.discharge(session, clock, world, by=sc.SYSTEM, key="list-discharge", ago=timedelta(hours=1))
    assert case_worker.get("/api/v1/pathways?kommunekode=101").json == []
    since = (clock.now() - timedelta(days=7)).date().isoformat()
    recent = case_worker.get(f"/api/v1/pathways?kommunekode=101&discharged_since={since}")
    assert [(s["id"], s["status"]) for s in recent.json] == [(world.pathway.id, "discharged")]
    refused = login(world.other_case_worker).get("/api/v1/pathways?kommunekode=101")
    assert refused.status_code == 403
    assert login(world.nurse).get("/api/v1/pathways?kommunekode=101").status_code == 403


def test_a_list_needs_exactly_one_of_ward_and_municipality(
    world: sc.Scenario, login: Login
) -> None:
    client = login(world.nurse)
    assert client.get("/api/v1/pathways").status_code == 422
    both = client.get(f"/api/v1/pathways?ward_id={world.ward.id}&kommunekode=101")
    assert both.status_code == 422
    assert both.json["errors"][0]["field"] == "ward_id"
    loose = client.get(f"/api/v1/pathways?ward_id={world.ward.id}&discharged_since=2026-11-01")
    assert loose.json["errors"][0]["field"] == "discharged_since"


def test_a_patients_stays_need_a_care_relation(
    world: sc.Scenario, login: Login, session: Session
) -> None:
    url = f"/api/v1/patients/{world.patient.id}/pathways"
    listed = login(world.case_worker).get(url)
    assert listed.status_code == 200
    assert [s["id"] for s in listed.json] == [world.pathway.id]
    refused = login(world.other_case_worker).get(url)
    assert refused.status_code == 403
    denied = session.scalars(
        sa.select(AuditEntry.patient_id).where(
            AuditEntry.outcome == AuditOutcome.DENIED,
            AuditEntry.actor_id == world.other_case_worker.id,
        )
    ).all()
    assert denied == [world.patient.id]


def test_pages_follow_the_link_header(
    world: sc.Scenario, login: Login, session: Session, clock: FixedClock
) -> None:
    for n in range(2):
        patient = register_patient(
            session,
            sc.SYSTEM,
            clock,
            given_name=f"P{n}",
            family_name="Side",
            kommunekode="101",
            cpr=f"0{n + 3}01701235",
        )
        admit_patient(
            session,
            sc.SYSTEM,
            clock,
            patient_id=patient.id,
            ward_id=world.ward.id,
            admitted_at=clock.now() - timedelta(days=2),
            idempotency_key=f"page-{n}",
        )
    client = login(world.nurse)
    first = client.get(f"/api/v1/pathways?ward_id={world.ward.id}&limit=2")
    assert len(first.json) == 2
    link = first.headers["Link"]
    assert 'rel="next"' in link
    second = client.get(link[link.index("/api/") : link.index(">")])
    ids = [s["id"] for s in first.json + second.json]
    assert len(ids) == len(set(ids)) == 3
    assert "Link" not in second.headers
