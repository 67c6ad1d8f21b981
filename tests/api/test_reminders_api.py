from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from coordinator.care_pathways.services import record_pathway_event
from coordinator.plans import requirement as plan_requirement
from coordinator.reminders.scan import evaluate_pathways
from pathways.clock import FixedClock
from pathways.people import Actor
from pathways.stays import PathwayEventType
from tests import scenario as sc

Login = Callable[[Actor], FlaskClient]


def _open(world: sc.Scenario, session: Session, clock: FixedClock) -> None:
    evaluate_pathways(session, clock, [world.pathway.id])


def test_the_inbox_lists_reminders_with_their_legal_basis(
    world: sc.Scenario, login: Login, session: Session, clock: FixedClock
) -> None:
    _open(world, session, clock)
    response = login(world.nurse).get("/api/v1/reminders")
    assert response.status_code == 200
    [reminder] = response.json
    assert reminder["rule"] == "requirement_not_assessed"
    assert reminder["reference"] == f"R-{reminder['id']}"
    assert reminder["legal_text"].startswith("Psykiatriloven § 13 a")
    assert reminder["due_at"].endswith("+00:00")
    one = login(world.nurse).get(f"/api/v1/reminders/{reminder['id']}")
    assert one.headers["ETag"] == f'"{reminder["version"]}"'
    assert login(world.other_nurse).get(f"/api/v1/reminders/{reminder['id']}").status_code == 404
    assert login(world.other_case_worker).get("/api/v1/reminders").json == []


def test_reminder_texts_are_danish_unless_english_is_asked_for(
    world: sc.Scenario, login: Login, session: Session, clock: FixedClock
) -> None:
    plan_requirement.assess_requirement(
        session,
        world.chief,
        clock,
        pathway_id=world.pathway.id,
        receives_sel_support=True,
        presumed_not_to_seek_treatment=False,
    )
    record_pathway_event(
        session,
        world.nurse,
        clock,
        pathway_id=world.pathway.id,
        event_type=PathwayEventType.DISCHARGED,
        occurred_at=clock.now() - timedelta(hours=1),
        idempotency_key="discharge-texts",
    )
    _open(world, session, clock)
    client = login(world.gp)

    def gp_gap(headers: dict[str, str]) -> dict[str, str]:
        found = client.get("/api/v1/reminders", headers=headers).json
        return next(
            r
            for r in found
            if (r["rule"], r["obligation_key"])
            == ("contact_person_missing", "sector:general_practice")
        )

    danish = gp_gap({})
    assert danish["message"] == (
        "Ingen aktuel fast kontaktperson i sektoren Almen praksis: ingen er udpeget"
    )
    assert danish["title"] == "Der mangler en fast kontaktperson"
    assert danish["severity_text"] == "haster"
    assert danish["params"] == {"sector": "general_practice", "reason": "missing"}
    english = gp_gap({"Accept-Language": "en"})
    assert english["message"] == (
        "No current fixed contact person in the sector General practice: none is assigned"
    )
    assert english["title"] == "A fixed contact person is missing"
    assert english["severity_text"] == "urgent"
    assert english["legal_text"] != danish["legal_text"]
    assert gp_gap({"Accept-Language": "da, en;q=0.5"})["message"] == danish["message"]


def test_acknowledge_snooze_dismiss_over_http(
    world: sc.Scenario, login: Login, session: Session, clock: FixedClock
) -> None:
    _open(world, session, clock)
    client = login(world.nurse)
    [reminder] = client.get("/api/v1/reminders").json
    url = f"/api/v1/reminders/{reminder['id']}"
    stale = client.post(f"{url}/acknowledge", json={}, headers={"If-Match": '"99"'})
    assert stale.status_code == 412
    assert stale.content_type == "application/problem+json"
    acked = client.post(
        f"{url}/acknowledge", json={}, headers={"If-Match": f'"{reminder["version"]}"'}
    )
    assert acked.status_code == 200
    assert acked.json["status"] == "acknowledged"
    past = client.post(f"{url}/snooze", json={"until": "2020-01-01T00:00:00+00:00"})
    assert past.status_code == 422
    assert past.json["errors"][0]["field"] == "snoozed_until"
    until = (clock.now() + timedelta(days=2)).isoformat()
    assert client.post(f"{url}/snooze", json={"until": until}).json["status"] == "snoozed"
    assert client.post(f"{url}/dismiss", json={}).status_code == 422
    dismissed = client.post(f"{url}/dismiss", json={"reason": "assessed on paper"})
    assert dismissed.json["status"] == "dismissed"
    again = client.post(f"{url}/acknowledge", json={})
    assert again.status_code == 409
    assert client.get("/api/v1/reminders?status=dismissed").json[0]["dismissed_reason"] == (
        "assessed on paper"
    )


def test_recording_a_fact_raises_a_reminder_at_once(
    world: sc.Scenario, login: Login, clock: FixedClock
) -> None:
    client = login(world.case_worker)
    body = {
        "type": "network_meeting_requested",
        "occurred_at": world.pathway.admitted_at.isoformat(),
        "idempotency_key": "meeting-1",
    }
    created = client.post(f"/api/v1/pathways/{world.pathway.id}/facts", json=body)
    assert created.status_code == 201, created.json
    replay = client.post(f"/api/v1/pathways/{world.pathway.id}/facts", json=body)
    assert replay.json["id"] == created.json["id"]
    ward_inbox = login(world.nurse).get("/api/v1/reminders").json
    rules = {r["rule"] for r in ward_inbox}
    assert "network_meeting_not_held" in rules
    bad = client.post(
        f"/api/v1/pathways/{world.pathway.id}/facts",
        json={**body, "type": "tea_served", "idempotency_key": "x"},
    )
    assert bad.status_code == 422
    denied = login(world.other_case_worker).post(
        f"/api/v1/pathways/{world.pathway.id}/facts", json={**body, "idempotency_key": "y"}
    )
    assert denied.status_code == 403


def test_the_inbox_needs_a_login_and_bounded_pages(
    world: sc.Scenario, login: Login, client: FlaskClient
) -> None:
    assert client.get("/api/v1/reminders").status_code == 401
    assert login(world.nurse).get("/api/v1/reminders?limit=1000").status_code == 422
