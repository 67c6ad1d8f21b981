"""Who may write to a stay over REST: events (leave, discharge...) only staff acting for the stay's ward;
coordination facts only someone whose care relation lets them. An unknown pathway id gets the very refusal
someone else's stay gets, and every refusal is audited DENIED (issue 17)."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from coordinator.care_pathways.models import PathwayEvent, PathwayFact
from coordinator.care_pathways.services import STAY_WARD_ONLY, admit_patient
from coordinator.organisations.services import create_organisation
from coordinator.patients.services import register_patient
from coordinator.plans import services as plans
from pathways.clock import FixedClock
from pathways.stays import PathwayStatus
from tests import scenario as sc
from tests.api.conftest import Login
from tests.fhir.support import bearer_token

UNKNOWN = 987654


def _refusal(response: TestResponse) -> bytes:
    """The answer as the caller reads it, less ``instance`` (the request's own path)."""
    assert response.status_code == 403, response.json
    assert response.content_type == "application/problem+json"
    body = dict(response.json or {})
    body.pop("instance")
    return repr(sorted(body.items())).encode()


# ---------------------------------------------------------------------------- events
def test_another_wards_nurse_cannot_discharge_or_send_on_leave(
    session: Session, clock: FixedClock, world: sc.Scenario, login: Login
) -> None:
    url = f"/api/v1/pathways/{world.pathway.id}/events"
    stranger = login(world.other_nurse)
    answers = [
        stranger.post(
            url,
            json={
                "type": kind,
                "occurred_at": clock.now().isoformat(),
                "idempotency_key": f"{kind}-1",
            },
        )
        for kind in ("discharged", "leave_started")
    ]
    assert [a.status_code for a in answers] == [403, 403]
    assert answers[0].json["type"] == "/api/v1/problems/access-denied"
    assert answers[0].json["detail"] == STAY_WARD_ONLY
    session.expire_all()
    assert world.pathway.status is PathwayStatus.ADMITTED
    assert world.pathway.discharged_at is None
    assert world.pathway.leave_periods == []
    assert sc.count(session, PathwayEvent) == 1  # the admission only
    reason = f"does not act for the stay's ward {world.ward.id}"
    assert (
        sc.denials(session, world.other_nurse)
        == [("Pathway", str(world.pathway.id), world.patient.id, reason)] * 2
    )


def test_an_unknown_stay_gets_the_refusal_someone_elses_gets(
    session: Session, clock: FixedClock, world: sc.Scenario, login: Login
) -> None:
    body = {"type": "discharged", "occurred_at": clock.now().isoformat()}
    stranger = login(world.other_nurse)
    theirs = stranger.post(
        f"/api/v1/pathways/{world.pathway.id}/events", json={**body, "idempotency_key": "a"}
    )
    unknown = stranger.post(
        f"/api/v1/pathways/{UNKNOWN}/events", json={**body, "idempotency_key": "b"}
    )
    assert _refusal(theirs) == _refusal(unknown)
    assert sc.denials(session, world.other_nurse)[1] == (
        "Pathway",
        str(UNKNOWN),
        None,
        "no such pathway",
    )
    # A role refusal names the rule, for the stay and the unknown id alike.
    gp = login(world.gp)
    by_role = [
        gp.post(f"/api/v1/pathways/{pid}/events", json={**body, "idempotency_key": f"gp-{pid}"})
        for pid in (world.pathway.id, UNKNOWN)
    ]
    assert _refusal(by_role[0]) == _refusal(by_role[1])
    assert by_role[0].json["detail"].startswith("the role gp may not record pathway event")


def test_the_own_wards_nurse_records_a_discharge(
    session: Session, clock: FixedClock, world: sc.Scenario, login: Login
) -> None:
    body = {
        "type": "discharged",
        "occurred_at": clock.now().isoformat(),
        "idempotency_key": "discharge-1",
    }
    created = login(world.nurse).post(f"/api/v1/pathways/{world.pathway.id}/events", json=body)
    assert created.status_code == 201, created.json
    assert created.json["type"] == "discharged"
    session.expire_all()
    assert world.pathway.status is PathwayStatus.DISCHARGED
    # Someone else replaying the key learns nothing about the event.
    replay = login(world.other_nurse).post(f"/api/v1/pathways/{world.pathway.id}/events", json=body)
    assert replay.status_code == 403
    assert replay.json["detail"] == STAY_WARD_ONLY
    # The centre above the ward acts for it.
    centre_nurse = sc.staff_member(
        session, clock, organisation_id=world.centre.id, role="discharge_nurse", name="Centre Nurse"
    )
    follow_up = login(centre_nurse).post(
        f"/api/v1/pathways/{world.pathway.id}/events",
        json={**body, "type": "closed", "idempotency_key": "close-1"},
    )
    assert follow_up.status_code == 201, follow_up.json


# ---------------------------------------------------------------------------- facts
def _fact(world: sc.Scenario, key: str) -> dict[str, str]:
    return {
        "type": "network_meeting_held",
        "occurred_at": world.pathway.admitted_at.isoformat(),
        "idempotency_key": key,
    }


def test_a_case_worker_without_a_relation_cannot_record_a_fact(
    session: Session, world: sc.Scenario, login: Login
) -> None:
    stranger = login(world.other_case_worker)
    theirs = stranger.post(f"/api/v1/pathways/{world.pathway.id}/facts", json=_fact(world, "a"))
    unknown = stranger.post(f"/api/v1/pathways/{UNKNOWN}/facts", json=_fact(world, "b"))
    assert _refusal(theirs) == _refusal(unknown)
    assert theirs.json["detail"] == "you have no care relation to this patient"
    assert sc.count(session, PathwayFact) == 0
    assert sc.denials(session, world.other_case_worker) == [
        (
            "Pathway",
            str(world.pathway.id),
            world.patient.id,
            "no current care relation to the patient",
        ),
        ("Pathway", str(UNKNOWN), None, "no such pathway"),
    ]


def test_the_home_municipalitys_case_worker_records_a_fact(
    session: Session, world: sc.Scenario, login: Login
) -> None:
    body = _fact(world, "meeting-1")
    created = login(world.case_worker).post(f"/api/v1/pathways/{world.pathway.id}/facts", json=body)
    assert created.status_code == 201, created.json
    assert created.json["type"] == "network_meeting_held"
    assert sc.count(session, PathwayFact) == 1
    # The stranger replaying the key is refused, not handed the fact.
    replay = login(world.other_case_worker).post(
        f"/api/v1/pathways/{world.pathway.id}/facts", json=body
    )
    assert replay.status_code == 403
    assert replay.json["detail"] == "you have no care relation to this patient"


def test_a_fact_points_only_at_the_patients_own_plans(
    session: Session, clock: FixedClock, world: sc.Scenario, login: Login
) -> None:
    other = register_patient(
        session,
        sc.SYSTEM,
        clock,
        given_name="Anden",
        family_name="Test",
        kommunekode="101",
        cpr="0202701236",
    )
    stay = admit_patient(
        session,
        sc.SYSTEM,
        clock,
        patient_id=other.id,
        ward_id=world.ward.id,
        admitted_at=clock.now() - timedelta(days=1),
        idempotency_key="other-admit",
    )
    their_plan = plans.create_draft(session, world.nurse, clock, pathway_id=stay.id)
    case_worker = login(world.case_worker)
    url = f"/api/v1/pathways/{world.pathway.id}/facts"
    answers = [
        case_worker.post(url, json={**_fact(world, f"k{n}"), **extra})
        for n, extra in enumerate(
            [{"plan_id": their_plan.id}, {"plan_id": UNKNOWN, "organisation_id": UNKNOWN}]
        )
    ]
    assert [a.status_code for a in answers] == [422, 422]
    assert answers[0].json["errors"] == [
        {"field": "plan_id", "message": "is not one of this patient's plans", "code": "unknown"}
    ]
    assert answers[1].json["errors"] == [
        {"field": "plan_id", "message": "is not one of this patient's plans", "code": "unknown"},
        {
            "field": "organisation_id",
            "message": f"organisation {UNKNOWN} does not exist",
            "code": "unknown",
        },
    ]
    assert sc.count(session, PathwayFact) == 0
    own_plan = plans.create_draft(session, world.nurse, clock, pathway_id=world.pathway.id)
    shared = case_worker.post(
        url,
        json={
            **_fact(world, "shared"),
            "type": "plan_shared",
            "plan_id": own_plan.id,
            "organisation_id": world.municipality.id,
        },
    )
    assert shared.status_code == 201, shared.json


def test_a_system_client_records_events_only_for_its_own_regions_stays(
    app: Flask, session: Session, clock: FixedClock, world: sc.Scenario
) -> None:
    other_region = create_organisation(
        session, sc.SYSTEM, clock, name="Region Nordjylland", kind="region", region_code="DK-81"
    )
    client = app.test_client()
    url = f"/api/v1/pathways/{world.pathway.id}/events"
    body = {"type": "leave_started", "occurred_at": clock.now().isoformat()}
    foreign = bearer_token(session, clock, other_region.id, "system/Encounter.write", name="EHR N")
    refused = client.post(
        url,
        json={**body, "idempotency_key": "n-1"},
        headers={"Authorization": f"Bearer {foreign}"},
    )
    assert refused.status_code == 403
    assert refused.json["detail"] == STAY_WARD_ONLY
    session.expire_all()
    assert world.pathway.status is PathwayStatus.ADMITTED
    own = bearer_token(session, clock, world.region.id, "system/Encounter.write", name="EHR H")
    created = client.post(
        url, json={**body, "idempotency_key": "h-1"}, headers={"Authorization": f"Bearer {own}"}
    )
    assert created.status_code == 201, created.json
    session.expire_all()
    assert world.pathway.status is PathwayStatus.ON_LEAVE
