"""Subscriptions (R4 rest-hook): made, refused, listed and ended over FHIR; a CarePlan change notifies a
real HTTP receiver through the outbox (retries, backoff, dead letter); Patient/$everything's new
resource types."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from coordinator.audit.models import AuditEntry
from coordinator.clients.models import ApiClient
from coordinator.db import get_database
from coordinator.messaging.outbound import share_plan
from coordinator.outbox.models import OutboxChannel, OutboxMessage, OutboxStatus
from coordinator.outbox.sender import RetryPolicy, SendSummary, send_due
from coordinator.outbox.transports import RestHookTransport, Router
from coordinator.plans import services as plans
from coordinator.plans.models import Plan
from coordinator.subscriptions.models import Subscription, SubscriptionStatus
from coordinator.subscriptions.services import hook_lookup
from pathways.audit import AuditAction, AuditOutcome
from pathways.clock import FixedClock
from pathways.people import ActorKind
from tests import scenario as sc
from tests.fhir.conftest import Login
from tests.fhir.support import (
    Fhir,
    bearer_token,
    careplan_body,
    ok,
    outcome,
    resources,
)

FHIR_JSON = "application/fhir+json"
SECRET = "Bearer receiver-secret-7f3a"
GP_SCOPES = (
    "system/Subscription.write system/Subscription.read system/CarePlan.read system/Task.read"
)


# ---------------------------------------------------------------------------- a real receiver
@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    port: int
    status: int = 200
    got: list[Received] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """An HTTP server in a thread on 127.0.0.1 (port 0: any free one) that records every POST and PUT."""
    state = Receiver(port=0)

    class Handler(BaseHTTPRequestHandler):
        def _record(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            state.got.append(Received(self.command, self.path, dict(self.headers.items()), body))
            self.send_response(state.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_POST = do_PUT = _record  # noqa: N815 - the names BaseHTTPRequestHandler calls

        def log_message(self, *_args: Any) -> None:  # keep the test output quiet
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def _send(app: Flask, clock: FixedClock, policy: RetryPolicy | None = None) -> SendSummary:
    """One run of the outbox sender, as the scheduler's job runs it, with the test's clock. Messages of
    other channels (a reminder's mail when a plan is made) are not this module's business: they are set
    aside as sent first, so the summary counts notifications only."""
    database = get_database(app)
    with database.transaction() as session:
        session.execute(
            sa.update(OutboxMessage)
            .where(
                OutboxMessage.channel != OutboxChannel.REST_HOOK,
                OutboxMessage.status == OutboxStatus.PENDING,
            )
            .values(status=OutboxStatus.SENT)
        )
    transport = Router({OutboxChannel.REST_HOOK: RestHookTransport(hook_lookup(database, clock))})
    return send_due(database, clock, transport, worker="test", policy=policy)


@pytest.fixture
def gp_system(world: sc.Scenario, session: Session, clock: FixedClock, app: Flask) -> Fhir:
    """The GP clinic's EHR: a system client with a bearer token (the GP has a care relation)."""
    token = bearer_token(session, clock, world.gp_clinic.id, GP_SCOPES, name="GP EHR")
    return Fhir(app.test_client(), {"Authorization": f"Bearer {token}"})


def _subscription(criteria: str, endpoint: str, **channel: Any) -> dict[str, Any]:
    return {
        "resourceType": "Subscription",
        "status": "requested",
        "reason": "Tell the GP system when the plan changes",
        "criteria": criteria,
        "channel": {"type": "rest-hook", "endpoint": endpoint, **channel},
    }


def _hooks(session: Session) -> list[OutboxMessage]:
    session.expire_all()  # the sender wrote in sessions of its own
    return list(
        session.scalars(
            sa.select(OutboxMessage)
            .where(OutboxMessage.channel == OutboxChannel.REST_HOOK)
            .order_by(OutboxMessage.id)
        )
    )


def _create_plan(nurse: Fhir, world: sc.Scenario) -> dict[str, Any]:
    body = careplan_body(world.patient.id, world.ward.id, world.pathway.id)
    return ok(nurse.post("CarePlan", body), 201)


# ---------------------------------------------------------------------------- metadata
def test_metadata_lists_subscription(anonymous: Fhir) -> None:
    served = {r["type"]: r for r in ok(anonymous.get("metadata"))["rest"][0]["resource"]}
    entry = served["Subscription"]
    assert [i["code"] for i in entry["interaction"]] == [
        "read",
        "update",
        "create",
        "search-type",
    ]
    assert [p["name"] for p in entry["searchParam"]] == ["status"]
    assert "status off" in entry["documentation"]


# ---------------------------------------------------------------------------- notify a receiver
def test_a_careplan_change_is_posted_to_the_receiver(
    world: sc.Scenario,
    login: Login,
    gp_system: Fhir,
    receiver: Receiver,
    session: Session,
    clock: FixedClock,
    app: Flask,
) -> None:
    patient = f"Patient/{world.patient.id}"
    made = ok(
        gp_system.post(
            "Subscription",
            _subscription(
                f"CarePlan?patient={patient}",
                receiver.url,
                payload=FHIR_JSON,
                header=[f"Authorization: {SECRET}"],
            ),
        ),
        201,
    )
    assert made["status"] == "active"
    assert made["channel"]["header"] == ["Authorization: ***"]  # a secret of the receiver's
    empty = ok(
        gp_system.post(
            "Subscription",
            _subscription(f"CarePlan?organization=Organization/{world.gp_clinic.id}", receiver.url),
        ),
        201,
    )

    plan = _create_plan(login(world.nurse), world)

    hooks = _hooks(session)
    assert [(h.payload["subscription_id"], h.subject) for h in hooks] == [
        (int(made["id"]), f"CarePlan/{plan['id']}"),
        (int(empty["id"]), f"CarePlan/{plan['id']}"),
    ]
    assert hooks[0].payload["resource"]["id"] == plan["id"]
    assert "resource" not in hooks[1].payload
    assert all(h.patient_id == world.patient.id for h in hooks)
    assert SECRET not in json.dumps([h.payload for h in hooks])  # headers stay in the subscription

    summary = _send(app, clock)
    assert (summary.sent, summary.retried, summary.dead) == (2, 0, 0)
    assert [h.status for h in _hooks(session)] == [OutboxStatus.SENT, OutboxStatus.SENT]
    with_payload, without = receiver.got
    # R4 rest-hook: with a payload the endpoint is a service base and the resource is PUT to it
    assert (with_payload.method, with_payload.path) == ("PUT", f"/hook/CarePlan/{plan['id']}")
    assert (without.method, without.path) == ("POST", "/hook")
    assert with_payload.headers["Authorization"] == SECRET
    assert with_payload.headers["Content-Type"] == FHIR_JSON
    body = json.loads(with_payload.body)
    assert (body["resourceType"], body["id"]) == ("CarePlan", plan["id"])
    assert body["subject"] == {"reference": patient}
    assert without.body == b""
    assert "Authorization" not in without.headers

    client_id = session.scalars(sa.select(ApiClient.id).where(ApiClient.name == "GP EHR")).one()
    notified = session.scalars(
        sa.select(AuditEntry).where(
            AuditEntry.resource_type == "CarePlan",
            AuditEntry.action == AuditAction.READ,
            AuditEntry.purpose.startswith("subscription notification"),
        )
    ).all()
    assert [(e.actor_kind, e.actor_id, e.patient_id) for e in notified] == [
        (ActorKind.CLIENT, client_id, world.patient.id)
    ] * 2


def test_a_failing_receiver_is_retried_with_backoff_then_dead_lettered(
    world: sc.Scenario,
    login: Login,
    gp_system: Fhir,
    receiver: Receiver,
    session: Session,
    clock: FixedClock,
    app: Flask,
) -> None:
    receiver.status = 500
    criteria = f"CarePlan?patient=Patient/{world.patient.id}"
    ok(gp_system.post("Subscription", _subscription(criteria, receiver.url)), 201)
    _create_plan(login(world.nurse), world)
    (hook,) = _hooks(session)
    policy = RetryPolicy(max_attempts=3)

    first = _send(app, clock, policy)
    assert (first.sent, first.retried, first.dead) == (0, 1, 0)
    session.refresh(hook)
    assert (hook.status, hook.attempts, hook.last_error) == (
        OutboxStatus.PENDING,
        1,
        "subscriber answered 500",
    )
    assert hook.next_attempt_at == clock.now() + timedelta(seconds=30)
    # not due before its backoff has passed
    assert _send(app, clock, policy).claimed == 0
    clock.advance(timedelta(seconds=30))
    assert _send(app, clock, policy).retried == 1
    session.refresh(hook)
    assert (hook.status, hook.attempts) == (OutboxStatus.PENDING, 2)
    assert hook.next_attempt_at == clock.now() + timedelta(seconds=60)  # doubled
    clock.advance(timedelta(seconds=60))
    last = _send(app, clock, policy)
    assert (last.sent, last.retried, last.dead) == (0, 0, 1)
    session.refresh(hook)
    assert (hook.status, hook.attempts) == (OutboxStatus.DEAD, 3)
    assert len(receiver.got) == 3


def test_an_ended_subscription_is_not_notified_and_its_queued_notices_die(
    world: sc.Scenario,
    login: Login,
    gp_system: Fhir,
    receiver: Receiver,
    session: Session,
    clock: FixedClock,
    app: Flask,
) -> None:
    criteria = f"CarePlan?patient=Patient/{world.patient.id}"
    made = ok(gp_system.post("Subscription", _subscription(criteria, receiver.url)), 201)
    kept = ok(gp_system.post("Subscription", _subscription(criteria, "https://kept.example")), 201)
    nurse = login(world.nurse)
    _create_plan(nurse, world)
    assert len(_hooks(session)) == 2

    made["status"] = "off"
    stale = gp_system.put(f"Subscription/{made['id']}", made, **{"If-Match": 'W/"7"'})
    outcome(stale, 412, "conflict")
    ended = ok(gp_system.put(f"Subscription/{made['id']}", made, **{"If-Match": 'W/"1"'}))
    assert (ended["status"], ended["meta"]["versionId"]) == ("off", "2")

    kept_hook = _hooks(session)[1]
    kept_hook.status = OutboxStatus.SENT  # not this test's business: only the ended one is sent
    session.commit()
    summary = _send(app, clock)  # the notice queued before the end: refused for good, not sent
    assert (summary.sent, summary.dead) == (0, 1)
    assert _hooks(session)[0].last_error == f"subscription {made['id']} has ended"
    assert receiver.got == []

    plan = session.scalars(sa.select(Plan)).one()
    plan.review_on = clock.now().date() + timedelta(days=30)
    plan.version += 1
    session.flush()  # as a use case does: the commit hooks see what was flushed
    session.commit()
    # the change notifies the subscription still active, not the ended one
    assert [(h.payload["subscription_id"], h.subject) for h in _hooks(session)[2:]] == [
        (int(kept["id"]), f"CarePlan/{plan.id}")
    ]


def test_an_owner_without_access_today_is_not_notified(
    world: sc.Scenario,
    login: Login,
    gp_system: Fhir,
    receiver: Receiver,
    session: Session,
    clock: FixedClock,
    app: Flask,
) -> None:
    criteria = f"CarePlan?patient=Patient/{world.patient.id}"
    ok(gp_system.post("Subscription", _subscription(criteria, receiver.url)), 201)
    scopes = "system/Subscription.write system/CarePlan.read"
    token = bearer_token(session, clock, world.ward.id, scopes, name="Ward EHR")
    ward = Fhir(app.test_client(), {"Authorization": f"Bearer {token}"})
    by_ward = ok(ward.post("Subscription", _subscription(criteria, "https://ward.example")), 201)
    client = session.scalars(sa.select(ApiClient).where(ApiClient.name == "GP EHR")).one()
    client.is_active = False  # the client was switched off after it subscribed
    session.flush()
    session.commit()
    plan = _create_plan(login(world.nurse), world)
    assert [(h.payload["subscription_id"], h.subject) for h in _hooks(session)] == [
        (int(by_ward["id"]), f"CarePlan/{plan['id']}")
    ]


def test_tasks_notify_only_whose_inbox_they_are_in_and_messages_notify_too(
    world: sc.Scenario,
    login: Login,
    gp_system: Fhir,
    session: Session,
    clock: FixedClock,
    app: Flask,
) -> None:
    # Communication reads (and patient filters) pass the care-relation gate: system/CarePlan.read
    scopes = (
        "system/Subscription.write system/Task.read system/Communication.read system/CarePlan.read"
    )
    token = bearer_token(session, clock, world.ward.id, scopes, name="Ward EHR")
    ward = Fhir(app.test_client(), {"Authorization": f"Bearer {token}"})
    patient = f"Patient/{world.patient.id}"
    by_ward = ok(
        ward.post(
            "Subscription",
            _subscription(f"Task?organization=Organization/{world.ward.id}", "https://w.example"),
        ),
        201,
    )
    messages = ok(
        ward.post(
            "Subscription", _subscription(f"Communication?patient={patient}", "https://w.ex")
        ),
        201,
    )
    ok(
        gp_system.post("Subscription", _subscription(f"Task?patient={patient}", "https://g.ex")),
        201,
    )

    plan = _create_plan(login(world.nurse), world)  # opens reminders in the ward's inbox
    tasks = [h for h in _hooks(session) if h.subject.startswith("Task/")]
    assert tasks
    assert {h.payload["subscription_id"] for h in tasks} == {int(by_ward["id"])}  # not the GP's

    world.gp_clinic.sor_code, world.gp_clinic.gln = "990200000016003", "5790000000029"
    session.flush()
    shared = share_plan(
        session,
        world.nurse,
        clock,
        plan_id=int(plan["id"]),
        organisation_id=world.gp_clinic.id,
        category="psychiatry-social-disability",
        config=app.config,
    )
    session.commit()
    notices = [h for h in _hooks(session) if h.subject.startswith("Communication/")]
    assert [(h.payload["subscription_id"], h.subject) for h in notices] == [
        (int(messages["id"]), f"Communication/{shared.id}")
    ]


def test_a_subscriber_who_lost_the_care_relation_is_not_notified(
    world: sc.Scenario,
    login: Login,
    gp_system: Fhir,
    session: Session,
    clock: FixedClock,
    app: Flask,
) -> None:
    criteria = f"CarePlan?patient=Patient/{world.patient.id}"
    ok(gp_system.post("Subscription", _subscription(criteria, "https://gp.example")), 201)
    scopes = "system/Subscription.write system/CarePlan.read"
    token = bearer_token(session, clock, world.ward.id, scopes, name="Ward EHR")
    ward = Fhir(app.test_client(), {"Authorization": f"Bearer {token}"})
    by_ward = ok(ward.post("Subscription", _subscription(criteria, "https://ward.example")), 201)
    world.patient.gp_organisation_id = world.other_gp_clinic.id  # the patient changed GP
    session.commit()

    plan = _create_plan(login(world.nurse), world)
    assert [(h.payload["subscription_id"], h.subject) for h in _hooks(session)] == [
        (int(by_ward["id"]), f"CarePlan/{plan['id']}")
    ]


# ---------------------------------------------------------------------------- refusals
def test_no_care_relation_is_refused_with_403(
    world: sc.Scenario, session: Session, clock: FixedClock, app: Flask, receiver: Receiver
) -> None:
    token = bearer_token(session, clock, world.other_gp_clinic.id, GP_SCOPES, name="Other EHR")
    other = Fhir(app.test_client(), {"Authorization": f"Bearer {token}"})
    criteria = f"CarePlan?patient=Patient/{world.patient.id}"
    refused = outcome(
        other.post("Subscription", _subscription(criteria, receiver.url)), 403, "forbidden"
    )
    assert "care relation" in refused["issue"][0]["diagnostics"]
    assert session.scalar(sa.select(sa.func.count()).select_from(Subscription)) == 0
    denied = session.scalars(
        sa.select(AuditEntry).where(
            AuditEntry.outcome == AuditOutcome.DENIED, AuditEntry.patient_id == world.patient.id
        )
    ).all()
    assert len(denied) == 1


def test_an_organisation_the_client_does_not_act_for_is_refused_with_403(
    world: sc.Scenario, gp_system: Fhir, session: Session, receiver: Receiver
) -> None:
    criteria = f"Task?organization=Organization/{world.ward.id}"
    refused = outcome(
        gp_system.post("Subscription", _subscription(criteria, receiver.url)), 403, "forbidden"
    )
    assert refused["issue"][0]["diagnostics"] == (
        f"you do not act for Organization/{world.ward.id}; subscribe to organisations you act for"
    )
    assert session.scalar(sa.select(sa.func.count()).select_from(Subscription)) == 0


def test_bad_subscriptions_are_refused_and_change_nothing(
    world: sc.Scenario, gp_system: Fhir, session: Session, app: Flask
) -> None:
    patient = f"Patient/{world.patient.id}"
    cases = {
        "Subscription.channel.endpoint": _subscription(
            f"CarePlan?patient={patient}", "http://receiver.example/hook"
        ),
        "Subscription.criteria": _subscription(f"Encounter?patient={patient}", "https://r.example"),
        "Subscription.channel.type": {
            **_subscription(f"CarePlan?patient={patient}", "https://r.example"),
            "channel": {"type": "email", "endpoint": "mailto:gp@example.org"},
        },
        "Subscription.channel.header[0]": _subscription(
            f"CarePlan?patient={patient}", "https://r.example", header=["Host: evil.example"]
        ),
        "Subscription.channel.payload": _subscription(
            f"CarePlan?patient={patient}", "https://r.example", payload="application/xml"
        ),
    }
    codes = {"Subscription.criteria": "not-supported", "Subscription.channel.type": "not-supported"}
    codes["Subscription.channel.payload"] = "not-supported"
    for expression, body in cases.items():
        code = codes.get(expression, "value")
        outcome(gp_system.post("Subscription", body), 422, code, expression)
    # plain http to this machine only where the site allows it
    app.config["SUBSCRIPTION_ALLOW_LOCAL_HTTP"] = False
    local = _subscription(f"CarePlan?patient={patient}", "http://127.0.0.1:9/hook")
    outcome(gp_system.post("Subscription", local), 422, "value", "Subscription.channel.endpoint")
    assert session.scalar(sa.select(sa.func.count()).select_from(Subscription)) == 0


def test_scopes_are_needed_for_the_subscription_and_what_it_notifies(
    world: sc.Scenario, session: Session, clock: FixedClock, app: Flask
) -> None:
    body = _subscription(f"Task?patient=Patient/{world.patient.id}", "https://r.example/hook")
    token = bearer_token(session, clock, world.gp_clinic.id, "system/CarePlan.read", name="A")
    no_write = Fhir(app.test_client(), {"Authorization": f"Bearer {token}"})
    outcome(no_write.post("Subscription", body), 403, "forbidden")
    token = bearer_token(session, clock, world.gp_clinic.id, "system/Subscription.write", name="B")
    no_task = Fhir(app.test_client(), {"Authorization": f"Bearer {token}"})
    refused = outcome(no_task.post("Subscription", body), 403, "forbidden")
    assert "system/Task.read" in refused["issue"][0]["diagnostics"]


# ---------------------------------------------------------------------------- read and search
def test_owners_read_and_list_only_their_own(
    world: sc.Scenario, gp_system: Fhir, session: Session, clock: FixedClock, app: Flask
) -> None:
    criteria = f"CarePlan?patient=Patient/{world.patient.id}"
    made = ok(gp_system.post("Subscription", _subscription(criteria, "https://r.example/h")), 201)
    assert ok(gp_system.get(f"Subscription/{made['id']}"))["criteria"] == criteria
    listed = ok(gp_system.get("Subscription?status=active"))
    assert [r["id"] for r in resources(listed)] == [made["id"]]
    assert ok(gp_system.get("Subscription?status=off"))["total"] == 0

    token = bearer_token(session, clock, world.gp_clinic.id, GP_SCOPES, name="Second EHR")
    second = Fhir(app.test_client(), {"Authorization": f"Bearer {token}"})
    outcome(second.get(f"Subscription/{made['id']}"), 404, "not-found")
    assert ok(second.get("Subscription"))["total"] == 0
    stored = session.get(Subscription, int(made["id"]))
    assert stored is not None
    assert stored.status is SubscriptionStatus.ACTIVE


# ---------------------------------------------------------------------------- $everything
def test_everything_has_tasks_communications_consents_and_provenance(
    world: sc.Scenario, login: Login, session: Session, clock: FixedClock, app: Flask
) -> None:
    nurse = login(world.nurse)
    plan = _create_plan(nurse, world)
    plan_id = int(plan["id"])
    plans.record_participation(
        session,
        world.nurse,
        clock,
        plan_id=plan_id,
        expected_version=session.get(Plan, plan_id).version,  # type: ignore[union-attr]
        participates=True,
    )
    world.gp_clinic.sor_code, world.gp_clinic.gln = "990200000016003", "5790000000029"
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
    session.commit()

    bundle = ok(nurse.get(f"Patient/{world.patient.id}/$everything"))
    kinds: dict[str, set[str]] = {}
    for resource in resources(bundle):
        kinds.setdefault(resource["resourceType"], set()).add(resource["id"])
    assert kinds["Communication"] == {str(shared.id)}
    assert kinds["Consent"] == {plan["id"]}
    assert kinds["Provenance"]  # one per stored CarePlan version
    assert kinds["Task"]  # the ward's reminders about the open plan, in the nurse's inbox
    assert bundle["total"] == sum(len(ids) for ids in kinds.values())

    # a GP system without Task and Communication scopes gets neither
    token = bearer_token(
        session, clock, world.gp_clinic.id, "system/Patient.read system/CarePlan.read", name="C"
    )
    gp = Fhir(app.test_client(), {"Authorization": f"Bearer {token}"})
    narrow = {
        r["resourceType"] for r in resources(ok(gp.get(f"Patient/{world.patient.id}/$everything")))
    }
    assert {"Task", "Communication"}.isdisjoint(narrow)
    assert {"Consent", "Provenance"} <= narrow
