"""The network meetings API over HTTP: request, schedule, record, actions; problem details on bad input,
412/428 on versions, the refusal for another municipality, and the overdue action's reminder under
/reminders with the rule's title."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from coordinator.reminders.scan import evaluate_pathways
from pathways.clock import COPENHAGEN, FixedClock
from tests import scenario as sc
from tests.api.conftest import Login

PROBLEM = "application/problem+json"


def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.content_type == PROBLEM
    body = response.json
    assert body["status"] == status
    return body


def _request(client: FlaskClient, world: sc.Scenario) -> tuple[dict[str, Any], str]:
    response = client.post(
        f"/api/v1/patients/{world.patient.id}/meetings", json={"reason": "Udskrivelse"}
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.json, response.headers["ETag"]


def _record(
    client: FlaskClient, meeting: dict[str, Any], tag: str, clock: FixedClock
) -> tuple[dict[str, Any], str]:
    response = client.post(
        f"/api/v1/meetings/{meeting['id']}/record",
        json={
            "held_on": clock.now().astimezone(COPENHAGEN).date().isoformat(),
            "participants": ["Mette Test", "Nurse"],
            "citizen_took_part": True,
            "citizen_words": "Jeg vil hjem.",
        },
        headers={"If-Match": tag},
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.json, response.headers["ETag"]


def test_request_schedule_record_with_etags(
    world: sc.Scenario, login: Login, clock: FixedClock
) -> None:
    nurse = login(world.nurse)
    meeting, tag = _request(nurse, world)
    assert (meeting["status"], meeting["status_text"]) == ("requested", "Ønsket")
    url = f"/api/v1/meetings/{meeting['id']}/schedule"
    when = (clock.now() + timedelta(days=2)).isoformat()
    _problem(nurse.post(url, json={"scheduled_for": when}), 428)
    _problem(nurse.post(url, json={"scheduled_for": when}, headers={"If-Match": '"9"'}), 412)
    scheduled = nurse.post(
        url, json={"scheduled_for": when, "place": "Mødelokale 2"}, headers={"If-Match": tag}
    )
    assert scheduled.status_code == 200, scheduled.json
    assert scheduled.json["status"] == "scheduled"
    held, _ = _record(nurse, scheduled.json, scheduled.headers["ETag"], clock)
    assert held["participants"] == ["Mette Test", "Nurse"]
    assert held["citizen_words"] == "Jeg vil hjem."
    listed = login(world.case_worker).get(f"/api/v1/patients/{world.patient.id}/meetings")
    assert [m["id"] for m in listed.json] == [meeting["id"]]


def test_bad_input_is_a_problem_with_the_field(
    world: sc.Scenario, login: Login, clock: FixedClock
) -> None:
    nurse = login(world.nurse)
    body = _problem(nurse.post(f"/api/v1/patients/{world.patient.id}/meetings", json={}), 422)
    assert "reason" in str(body)
    meeting, tag = _request(nurse, world)
    tomorrow = (clock.now() + timedelta(days=1)).astimezone(COPENHAGEN).date().isoformat()
    body = _problem(
        nurse.post(
            f"/api/v1/meetings/{meeting['id']}/record",
            json={"held_on": tomorrow, "participants": ["x"], "citizen_took_part": False},
            headers={"If-Match": tag},
        ),
        422,
    )
    assert "held_on" in str(body)
    held, _ = _record(nurse, meeting, tag, clock)
    body = _problem(
        nurse.post(
            f"/api/v1/meetings/{held['id']}/actions",
            json={
                "description": "Søg bostøtte",
                "owner_organisation_id": world.other_municipality.id,
                "due_on": "2026-12-01",
            },
        ),
        422,
    )
    assert "owner_organisation_id" in str(body)
    _problem(
        nurse.post(
            f"/api/v1/meetings/{held['id']}/cancel",
            json={"reason": "x"},
            headers={"If-Match": f'"{held["version"]}"'},
        ),
        409,
    )


def test_another_municipality_is_refused(world: sc.Scenario, login: Login) -> None:
    meeting, _ = _request(login(world.nurse), world)
    stranger = login(world.other_case_worker)
    _problem(stranger.get(f"/api/v1/patients/{world.patient.id}/meetings"), 403)
    _problem(stranger.get(f"/api/v1/meetings/{meeting['id']}"), 403)


def test_an_overdue_action_is_a_reminder_with_the_rule_s_title_until_it_is_done(
    world: sc.Scenario, login: Login, clock: FixedClock, session: Session
) -> None:
    nurse = login(world.nurse)
    meeting, tag = _request(nurse, world)
    held, _ = _record(nurse, meeting, tag, clock)
    due = datetime.now(COPENHAGEN).date() + timedelta(days=60)  # past both clocks only later
    added = nurse.post(
        f"/api/v1/meetings/{held['id']}/actions",
        json={
            "description": "Søg bostøtte",
            "owner_organisation_id": world.municipality.id,
            "due_on": due.isoformat(),
        },
    )
    assert added.status_code == 201, added.json
    action, action_tag = added.json, added.headers["ETag"]
    clock.set(datetime.combine(due + timedelta(days=1), time(9), tzinfo=COPENHAGEN))
    session.commit()  # the commit hook evaluates with the wall clock: let it run before ours does
    evaluate_pathways(session, clock, [world.pathway.id])
    session.commit()
    case_worker = login(world.case_worker)
    inbox = case_worker.get(f"/api/v1/reminders?patient_id={world.patient.id}").json
    [reminder] = [r for r in inbox if r["rule"] == "network_meeting_action_overdue"]
    assert reminder["title"] == "En handling aftalt på et netværksmøde er ikke udført til tiden"
    assert reminder["owner_organisation_id"] == world.municipality.id
    url = f"/api/v1/meeting-actions/{action['id']}/status"
    _problem(case_worker.post(url, json={"status": "done"}), 428)
    _problem(case_worker.post(url, json={"status": "maybe"}, headers={"If-Match": action_tag}), 422)
    done = case_worker.post(url, json={"status": "done"}, headers={"If-Match": action_tag})
    assert done.status_code == 200, done.json
    assert done.json["status"] == "done"
    _problem(case_worker.post(url, json={"status": "done"}, headers={"If-Match": action_tag}), 412)
    inbox = case_worker.get(f"/api/v1/reminders?patient_id={world.patient.id}").json
    assert [r for r in inbox if r["rule"] == "network_meeting_action_overdue"] == []
    assert date.fromisoformat(done.json["due_on"]) == due
