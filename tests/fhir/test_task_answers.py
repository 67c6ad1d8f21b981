"""Task/answer-<party>: a party answers a plan over FHIR (received, accepted, rejected with a reason, a
comment as note) through the same use cases as REST; reminder Tasks are acknowledged and dismissed the
same way."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session, object_session

from coordinator.audit.models import AuditEntry
from coordinator.plans.models import Plan
from coordinator.reminders.models import Reminder
from coordinator.reminders.scan import evaluate_pathways
from fhir_adapters.task import TASK_CODE_SYSTEM
from pathways.audit import AuditAction
from pathways.clock import FixedClock
from pathways.plans import ParticipantRole, PlanStatus, ResponseStatus
from pathways.reminders import ReminderStatus
from tests import scenario as sc
from tests.fhir.conftest import Login
from tests.fhir.support import Fhir, bearer_token, ok, outcome, resources


def _etag(plan: Plan) -> dict[str, str]:
    """The plan's current ETag (the requests commit in sessions of their own)."""
    object_session(plan).expire_all()  # type: ignore[union-attr]
    return {"If-Match": f'W/"{plan.version}"'}


def _fresh(session: Session) -> Session:
    session.expire_all()
    return session


def _with(task: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**{k: v for k, v in task.items() if k != "meta"}, **changes}


def test_answer_tasks_per_required_party(
    world: sc.Scenario, login: Login, session: Session, clock: FixedClock
) -> None:
    plan = sc.proposed_plan(session, clock, world)
    gp = login(world.gp)
    bundle = ok(gp.get(f"Task?focus=CarePlan/{plan.id}"))
    by_role = {t["performerType"][0]["coding"][0]["code"]: t for t in resources(bundle)}
    assert set(by_role) == {"patient", "ward", "municipality", "gp"}
    task = by_role["gp"]
    gp_party = sc.participant(plan, ParticipantRole.GP)
    assert task["id"] == f"answer-{gp_party.id}"
    assert task["status"] == "requested"
    assert task["code"]["coding"] == [{"system": TASK_CODE_SYSTEM, "code": "approve"}]
    assert task["focus"] == {"reference": f"CarePlan/{plan.id}"}
    assert task["owner"] == {"reference": f"Organization/{world.gp_clinic.id}"}
    assert task["requester"] == {"reference": f"Organization/{world.ward.id}"}
    assert task["for"] == {"reference": f"Patient/{world.patient.id}"}
    assert task["meta"]["versionId"] == str(plan.version)
    assert by_role["ward"]["status"] == "accepted"  # the proposing ward's own answer
    assert by_role["patient"]["owner"] == {"reference": f"Patient/{world.patient.id}"}
    mine = ok(gp.get(f"Task?owner=Organization/{world.gp_clinic.id}&status=requested"))
    assert [t["id"] for t in resources(mine)] == [task["id"]]
    assert "entry" not in ok(gp.get(f"Task?focus=CarePlan/{plan.id}&status=rejected"))
    assert "entry" not in ok(gp.get(f"Task?focus=CarePlan/{plan.id}&code=plan_not_agreed"))
    patient = ok(gp.get(f"Task?patient=Patient/{world.patient.id}&code=approve"))
    assert len(patient["entry"]) == 4
    read = ok(gp.get(f"Task/{task['id']}"))
    assert read == task
    assert "entry" not in ok(login(world.other_gp).get("Task?code=approve"))
    outcome(login(world.other_gp).get(f"Task/{task['id']}"), 403, "forbidden")
    outcome(gp.get("Task/answer-x"), 404, "not-found")


def test_the_gp_receives_then_accepts_and_the_plan_is_agreed(
    world: sc.Scenario, login: Login, session: Session, clock: FixedClock
) -> None:
    plan = sc.proposed_plan(session, clock, world)
    gp_party = sc.participant(plan, ParticipantRole.GP)
    path = f"Task/answer-{gp_party.id}"
    gp = login(world.gp)
    task = ok(gp.get(path))
    received = ok(gp.put(path, _with(task, status="received"), **_etag(plan)))
    assert received["status"] == "received"
    _fresh(session)
    assert received["meta"]["versionId"] == str(plan.version)
    assert gp_party.received_version_number == plan.current_version_number
    # the same status again changes nothing
    assert ok(gp.put(path, _with(received, status="received"), **_etag(plan))) == received
    # a stale ETag is refused and changes nothing
    stale = {"If-Match": 'W/"1"'}
    outcome(gp.put(path, _with(received, status="accepted"), **stale), 412, "conflict")
    _fresh(session)
    assert gp_party.response is ResponseStatus.PENDING
    accepted = ok(
        gp.put(
            path,
            _with(received, status="accepted", note=[{"text": "Vi ser patienten i uge 3"}]),
            **_etag(plan),
        )
    )
    assert accepted["status"] == "accepted"
    assert accepted["note"][0]["text"] == "Vi ser patienten i uge 3"
    assert (gp_party.response, gp_party.response_note) == (
        ResponseStatus.ACCEPTED,
        "Vi ser patienten i uge 3",
    )
    _fresh(session)
    assert plan.status is PlanStatus.PROPOSED  # the municipality and the patient have not answered
    ok(
        login(world.case_worker).put(
            f"Task/answer-{sc.participant(plan, ParticipantRole.MUNICIPALITY).id}",
            {"resourceType": "Task", "status": "accepted", "intent": "order"},
            **_etag(plan),
        )
    )
    ok(
        login(world.nurse).put(
            f"Task/answer-{sc.participant(plan, ParticipantRole.PATIENT).id}",
            {"resourceType": "Task", "status": "accepted", "intent": "order"},
            **_etag(plan),
        )
    )
    _fresh(session)
    assert plan.status is PlanStatus.AGREED
    careplan = ok(gp.get(f"CarePlan/{plan.id}"))
    assert careplan["meta"]["versionId"] == str(plan.version)
    audited = session.scalars(
        sa.select(AuditEntry.purpose).where(
            AuditEntry.resource_type == "Plan",
            AuditEntry.action == AuditAction.UPDATE,
            AuditEntry.actor_id == world.gp.id,
        )
    ).all()
    assert audited == ["plan received", "answer plan"]


def test_reject_with_reason_and_comment_as_note(
    world: sc.Scenario, login: Login, session: Session, clock: FixedClock
) -> None:
    plan = sc.proposed_plan(session, clock, world)
    path = f"Task/answer-{sc.participant(plan, ParticipantRole.GP).id}"
    gp = login(world.gp)
    task = ok(gp.get(path))
    commented = ok(
        gp.put(
            path, _with(task, status="received", note=[{"text": "Medicinlisten?"}]), **_etag(plan)
        )
    )
    assert commented["status"] == "received"
    assert commented["note"][0]["text"] == "Medicinlisten?"
    _fresh(session)
    assert sc.participant(plan, ParticipantRole.GP).response is ResponseStatus.COMMENTED
    no_reason = outcome(
        gp.put(path, _with(commented, status="rejected", note=[]), **_etag(plan)),
        422,
        "required",
        "Task.statusReason.text",
    )
    assert no_reason["issue"][0]["details"]["text"] == "a rejection needs a reason"
    rejected = ok(
        gp.put(
            path,
            _with(commented, status="rejected", statusReason={"text": "Mangler medicin"}),
            **_etag(plan),
        )
    )
    assert rejected["status"] == "rejected"
    assert rejected["statusReason"] == {"text": "Mangler medicin"}
    _fresh(session)
    assert plan.status is PlanStatus.DRAFT  # a rejection sends the proposal back


def test_answer_update_errors(
    world: sc.Scenario, login: Login, session: Session, clock: FixedClock, app: Flask
) -> None:
    plan = sc.proposed_plan(session, clock, world)
    gp_party = sc.participant(plan, ParticipantRole.GP)
    path = f"Task/answer-{gp_party.id}"
    gp = login(world.gp)
    task = ok(gp.get(path))
    body = _with(task, status="completed")
    bad = outcome(gp.put(path, body, **_etag(plan)), 422, "code-invalid", "Task.status")
    assert bad["issue"][0]["details"]["text"] == (
        "an answer Task cannot be set to 'completed' here (supported: received, accepted, rejected)"
    )
    outcome(gp.put(path, _with(task, id="answer-1"), **_etag(plan)), 422, "invariant", "Task.id")
    outcome(gp.put(path, _with(task, status="accepted")), 428, "required")
    # the municipality may not answer for the GP
    denied = outcome(
        login(world.case_worker).put(path, _with(task, status="accepted"), **_etag(plan)),
        403,
        "forbidden",
    )
    assert "may not answer for the gp party" in denied["issue"][0]["diagnostics"]
    # a system client needs system/Task.write
    reader = bearer_token(
        session, clock, world.gp_clinic.id, "system/Task.read system/CarePlan.read"
    )
    client = Fhir(app.test_client(), {"Authorization": f"Bearer {reader}"})
    refused = outcome(
        client.put(path, _with(task, status="accepted"), **_etag(plan)), 403, "forbidden"
    )
    tasks_only = bearer_token(session, clock, world.gp_clinic.id, "system/Task.read", "Tasks only")
    blind = Fhir(app.test_client(), {"Authorization": f"Bearer {tasks_only}"})
    assert "entry" not in ok(blind.get("Task?code=approve"))  # answers are the plan's data
    outcome(blind.get(path), 403, "forbidden")
    assert refused["issue"][0]["diagnostics"] == "the token has no scope for system/Task.write"
    _fresh(session)
    assert gp_party.response is ResponseStatus.PENDING
    writer = bearer_token(
        session,
        clock,
        world.gp_clinic.id,
        "system/Task.read system/Task.write system/CarePlan.read",
        "GP system",
    )
    # the answer is a change to the plan, as on REST: the token needs system/CarePlan.write too
    gp_system = Fhir(app.test_client(), {"Authorization": f"Bearer {writer}"})
    no_plan_write = outcome(
        gp_system.put(path, _with(task, status="accepted"), **_etag(plan)), 403, "forbidden"
    )
    assert no_plan_write["issue"][0]["diagnostics"] == (
        "the token has no scope for system/CarePlan.write"
    )
    writer = bearer_token(
        session,
        clock,
        world.gp_clinic.id,
        "system/Task.read system/Task.write system/CarePlan.read system/CarePlan.write",
        "GP system 2",
    )
    gp_system = Fhir(app.test_client(), {"Authorization": f"Bearer {writer}"})
    answered = ok(gp_system.put(path, _with(task, status="accepted"), **_etag(plan)))
    assert answered["status"] == "accepted"
    _fresh(session)
    assert gp_party.responded_by_id is None  # a client is no user: its act is in the audit log
    # received after the answer contradicts it
    late = outcome(gp.put(path, _with(answered, status="received"), **_etag(plan)), 409, "conflict")
    assert late["issue"][0]["diagnostics"] == "the gp party has answered version 2 already"


def test_reminder_tasks_are_acknowledged_and_dismissed(
    world: sc.Scenario, login: Login, session: Session, clock: FixedClock
) -> None:
    evaluate_pathways(session, FixedClock(clock.now() + timedelta(days=30)), [world.pathway.id])
    reminder = session.scalars(
        sa.select(Reminder)
        .where(Reminder.owner_organisation_id == world.ward.id)
        .order_by(Reminder.id)
    ).first()
    assert reminder is not None
    nurse = login(world.nurse)
    path = f"Task/{reminder.id}"
    task = ok(nurse.get(path))
    etag = {"If-Match": f'W/"{reminder.version}"'}
    accepted = ok(nurse.put(path, _with(task, status="accepted"), **etag))
    assert accepted["status"] == "accepted"
    _fresh(session)
    assert reminder.status is ReminderStatus.ACKNOWLEDGED
    etag = {"If-Match": f'W/"{reminder.version}"'}
    outcome(
        nurse.put(path, _with(accepted, status="completed"), **etag),
        422,
        "required",
        "Task.statusReason.text",
    )
    on_hold = outcome(
        nurse.put(path, _with(accepted, status="on-hold"), **etag), 422, "code-invalid"
    )
    assert "supported: accepted, completed, cancelled" in on_hold["issue"][0]["details"]["text"]
    done = ok(
        nurse.put(
            path,
            _with(accepted, status="completed", statusReason={"text": "aftalt i telefonen"}),
            **etag,
        )
    )
    assert done["status"] == "cancelled"  # dismissed until the gap closes, then completed
    _fresh(session)
    assert reminder.status is ReminderStatus.DISMISSED


def test_an_answer_and_a_read_in_one_transaction(
    world: sc.Scenario, login: Login, session: Session, clock: FixedClock
) -> None:
    plan = sc.proposed_plan(session, clock, world)
    path = f"Task/answer-{sc.participant(plan, ParticipantRole.GP).id}"
    gp = login(world.gp)
    task = ok(gp.get(path))
    before = plan.version
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"request": {"method": "GET", "url": f"Task?focus=CarePlan/{plan.id}&status=accepted"}},
            {
                "resource": _with(task, status="accepted"),
                "request": {"method": "PUT", "url": path, "ifMatch": f'W/"{before}"'},
            },
        ],
    }
    answer = ok(gp.post("", bundle))
    found = answer["entry"][0]["resource"]
    # the read runs after the answer, so it sees the GP's acceptance beside the ward's
    assert sorted(e["resource"]["id"] for e in found["entry"]) == sorted(
        [f"answer-{sc.participant(plan, ParticipantRole.WARD).id}", task["id"]]
    )
    assert answer["entry"][1]["resource"]["status"] == "accepted"
    assert answer["entry"][1]["response"]["etag"] == f'W/"{before + 1}"'
