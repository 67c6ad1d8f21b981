"""The MedCom inbox (ADR 0013): stored before processing, async=true, the worker, failures and replay."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from coordinator.audit.models import AuditEntry
from coordinator.care_pathways.models import Pathway, PathwayEvent
from coordinator.db import get_database
from coordinator.messaging import services as messaging_services
from coordinator.messaging.inbox import InboxPolicy, process_inbox
from coordinator.messaging.models import InboundMessage, InboxStatus
from coordinator.outbox.models import OutboxChannel, OutboxMessage
from fhir_adapters.medcom import AckCode, parse_acknowledgement
from pathways.clock import FixedClock
from pathways.stays import PathwayEventType, PathwayStatus
from tests import scenario as sc
from tests.integration.test_medcom_inbound import (  # noqa: F401 - the wards fixture
    SYSTEM,
    live_events,
    message,
    pathway_of,
    wards,
)

pytestmark = pytest.mark.db
URL = "/fhir/$process-message"
STAY = [
    "admit-inpatient",
    "start-leave-inpatient",
    "end-leave-inpatient",
    "discharge-inpatient-home",
    "revise-discharge-inpatient-home",
]


@pytest.fixture
def sender(app: Flask, session: Session, clock: FixedClock, wards: dict[str, int]) -> FlaskClient:  # noqa: F811
    """A discharge nurse of the inpatient ward, logged in (the messages' sender ward)."""
    from coordinator.accounts.services import create_staff_member

    app.extensions["carepath.clock"] = clock
    nurse = create_staff_member(
        session,
        SYSTEM,
        clock,
        organisation_id=wards["inpatient"],
        name="Nurse",
        role="discharge_nurse",
    )
    return sc.log_in(app.test_client(), nurse.id, clock.now())


def entry(session: Session, name: str) -> InboundMessage:
    session.expire_all()
    message_id = message(name)["entry"][0]["resource"]["id"]
    return session.scalars(
        sa.select(InboundMessage).where(InboundMessage.message_id == message_id)
    ).one()


def acks(session: Session) -> list[dict[str, Any]]:
    session.expire_all()
    return [
        m.payload
        for m in session.scalars(
            sa.select(OutboxMessage)
            .where(OutboxMessage.channel == OutboxChannel.FHIR_MESSAGE)
            .order_by(OutboxMessage.id)
        )
    ]


def run_worker(app: Flask, clock: FixedClock, **policy: Any) -> dict[str, int]:
    with app.app_context():
        return process_inbox(
            get_database(app),
            clock,
            app.config,
            run_for=timedelta(seconds=30),
            policy=InboxPolicy(**policy) if policy else None,
        ).as_log()


def explode(*_args: Any, **_kwargs: Any) -> None:
    raise RuntimeError("the database hiccupped")


# ---------------------------------------------------------------------------------------- synchronous
def test_a_synchronous_message_is_stored_then_processed_and_its_body_cleared(
    sender: FlaskClient, session: Session
) -> None:
    answer = sender.post(URL, json=message("admit-inpatient"))
    assert answer.status_code == 200
    assert parse_acknowledgement(answer.json).code is AckCode.OK
    stored = entry(session, "admit-inpatient")
    assert stored.status is InboxStatus.DONE
    assert stored.body is None  # health data at rest only while needed
    assert stored.processed_at is not None
    assert stored.acknowledgement == answer.json
    assert stored.order_key
    assert "0101701234" not in stored.order_key
    assert session.scalar(sa.select(sa.func.count()).where(InboundMessage.body.is_not(None))) == 0
    again = sender.post(URL, json=message("admit-inpatient"))
    assert again.json == answer.json
    assert acks(session) == []  # answered over HTTP, never through the outbox


def test_a_failure_of_ours_keeps_the_message_and_the_resend_processes_it(
    sender: FlaskClient, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as patch:
        patch.setattr(messaging_services, "_apply", explode)
        failed = sender.post(URL, json=message("admit-inpatient"))
    assert failed.status_code == 500
    stored = entry(session, "admit-inpatient")
    assert stored.status is InboxStatus.PENDING
    assert stored.attempts == 1
    assert "RuntimeError" in stored.last_error
    assert stored.body is not None  # kept: it was never processed
    assert session.scalar(sa.select(sa.func.count(Pathway.id))) == 0
    ok = sender.post(URL, json=message("admit-inpatient"))
    assert ok.status_code == 200
    assert parse_acknowledgement(ok.json).code is AckCode.OK
    assert entry(session, "admit-inpatient").status is InboxStatus.DONE


def test_a_synchronous_failure_nobody_resends_is_processed_by_the_worker(
    app: Flask,
    sender: FlaskClient,
    session: Session,
    clock: FixedClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with monkeypatch.context() as patch:
        patch.setattr(messaging_services, "_apply", explode)
        assert sender.post(URL, json=message("admit-inpatient")).status_code == 500
    assert run_worker(app, clock)["processed"] == 0  # backing off
    clock.advance(timedelta(minutes=5))
    assert run_worker(app, clock)["processed"] == 1
    assert entry(session, "admit-inpatient").status is InboxStatus.DONE
    [ack] = acks(session)  # the request is gone: the answer goes as a message
    assert parse_acknowledgement(ack).code is AckCode.OK


# --------------------------------------------------------------------------------------------- async
@pytest.mark.parametrize("value", ["yes", "1", ""])
def test_async_must_be_a_boolean(sender: FlaskClient, session: Session, value: str) -> None:
    answer = sender.post(f"{URL}?async={value}", json=message("admit-inpatient"))
    assert answer.status_code == 400
    assert answer.json["resourceType"] == "OperationOutcome"
    assert session.scalar(sa.select(sa.func.count(InboundMessage.id))) == 0


def test_async_answers_202_and_the_worker_processes_and_acknowledges(
    app: Flask, sender: FlaskClient, session: Session, clock: FixedClock
) -> None:
    answer = sender.post(f"{URL}?async=true", json=message("admit-inpatient"))
    assert answer.status_code == 202
    assert answer.json["resourceType"] == "OperationOutcome"
    where = answer.headers["Content-Location"]
    assert sender.get(where).status_code == 202  # still waiting
    stored = entry(session, "admit-inpatient")
    assert stored.status is InboxStatus.PENDING
    assert stored.body is not None
    assert session.scalar(sa.select(sa.func.count(Pathway.id))) == 0
    # A resend while it waits is recognised: stored once, answered 202 again.
    assert sender.post(f"{URL}?async=true", json=message("admit-inpatient")).status_code == 202
    assert session.scalar(sa.select(sa.func.count(InboundMessage.id))) == 1
    assert run_worker(app, clock)["processed"] == 1
    done = entry(session, "admit-inpatient")
    assert done.status is InboxStatus.DONE
    assert done.body is None
    [ack] = acks(session)
    assert parse_acknowledgement(ack).code is AckCode.OK
    assert ack == done.acknowledgement
    polled = sender.get(where)
    assert polled.status_code == 200
    assert polled.json == ack
    # Processed: a resend is answered with the Acknowledgement in either mode, and nothing changes.
    assert sender.post(f"{URL}?async=true", json=message("admit-inpatient")).json == ack
    assert run_worker(app, clock)["processed"] == 0
    assert len(acks(session)) == 1
    # The message came from the nurse: the worker acted as her (the audit entry names her).
    audit = session.scalars(
        sa.select(AuditEntry).where(AuditEntry.resource_id == done.message_id)
    ).one()
    assert audit.actor_name == "Nurse"


def test_the_status_of_a_message_is_shown_to_its_sender_only(
    app: Flask, sender: FlaskClient, session: Session, clock: FixedClock
) -> None:
    answer = sender.post(f"{URL}?async=true", json=message("admit-inpatient"))
    other = sc.log_in(app.test_client(), _someone_else(session, clock), clock.now())
    assert other.get(answer.headers["Content-Location"]).status_code == 404
    assert sender.get(f"{URL}/status/no-such-message").status_code == 404


def _someone_else(session: Session, clock: FixedClock) -> int:
    from coordinator.accounts.services import create_staff_member
    from coordinator.organisations.models import Organisation

    # A nurse of the same ward: allowed to send messages, but she did not send this one.
    org = session.scalars(sa.select(Organisation).where(Organisation.kind == "ward")).first()
    assert org is not None
    return create_staff_member(
        session, SYSTEM, clock, organisation_id=org.id, name="Other", role="discharge_nurse"
    ).id


def test_the_worker_keeps_a_patients_messages_in_order(
    app: Flask, sender: FlaskClient, session: Session, clock: FixedClock
) -> None:
    for name in STAY:
        assert sender.post(f"{URL}?async=true", json=message(name)).status_code == 202
    summary = run_worker(app, clock, batch=2)  # several batches, several messages per transaction
    assert summary["processed"] == len(STAY)
    assert summary["batches"] == 3
    stay = pathway_of(session, "0101701234")
    assert stay.status is PathwayStatus.DISCHARGED
    assert stay.discharged_at.isoformat() == "2026-03-20T12:30:00+00:00"  # revised after discharge
    assert live_events(session, stay) == [
        PathwayEventType.ADMITTED,
        PathwayEventType.LEAVE_STARTED,
        PathwayEventType.LEAVE_ENDED,
        PathwayEventType.DISCHARGED,
    ]
    codes = [parse_acknowledgement(a).code for a in acks(session)]
    assert codes == [AckCode.OK] * len(STAY)


def test_a_failing_message_holds_back_its_patients_later_messages(
    app: Flask,
    sender: FlaskClient,
    session: Session,
    clock: FixedClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in STAY[:3]:
        sender.post(f"{URL}?async=true", json=message(name))
    real = messaging_services.record_pathway_event
    with monkeypatch.context() as patch:
        patch.setattr(messaging_services, "record_pathway_event", explode)
        summary = run_worker(app, clock)
    assert summary == {"batches": 1, "processed": 1, "retried": 1, "dead": 0, "purged": 0}
    assert entry(session, "start-leave-inpatient").status is InboxStatus.PENDING
    assert entry(session, "end-leave-inpatient").attempts == 0  # waited, was not tried
    assert pathway_of(session, "0101701234").status is PathwayStatus.ADMITTED
    assert messaging_services.record_pathway_event is real
    clock.advance(timedelta(minutes=1))
    assert run_worker(app, clock)["processed"] == 2
    assert live_events(session, pathway_of(session, "0101701234")) == [
        PathwayEventType.ADMITTED,
        PathwayEventType.LEAVE_STARTED,
        PathwayEventType.LEAVE_ENDED,
    ]


# ------------------------------------------------------------------------- dead letters and replay
def _dead_letter(
    app: Flask, sender: FlaskClient, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    sender.post(f"{URL}?async=true", json=message("admit-inpatient"))
    with monkeypatch.context() as patch:
        patch.setattr(messaging_services, "_apply", explode)
        assert run_worker(app, clock, max_attempts=2)["retried"] == 1
        clock.advance(timedelta(minutes=1))
        assert run_worker(app, clock, max_attempts=2)["dead"] == 1


def test_a_message_failing_every_attempt_is_dead_lettered_with_a_negative_acknowledgement(
    app: Flask,
    sender: FlaskClient,
    session: Session,
    clock: FixedClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _dead_letter(app, sender, clock, monkeypatch)
    dead = entry(session, "admit-inpatient")
    assert dead.status is InboxStatus.DEAD
    assert dead.attempts == 2
    assert "the database hiccupped" in dead.last_error
    assert dead.body is not None  # kept for replay
    [ack] = acks(session)
    notice = parse_acknowledgement(ack)
    assert notice.code is AckCode.FATAL_ERROR
    assert "hiccupped" not in str(ack)  # internals are for administrators only
    assert run_worker(app, clock)["processed"] == 0  # dead letters wait for an administrator
    polled = sender.get(f"{URL}/status/{dead.message_id}")
    assert polled.status_code == 200
    assert parse_acknowledgement(polled.json).code is AckCode.FATAL_ERROR


def test_a_dead_letter_is_replayed_from_the_command_line_and_audited(
    app: Flask,
    sender: FlaskClient,
    session: Session,
    clock: FixedClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _dead_letter(app, sender, clock, monkeypatch)
    dead = entry(session, "admit-inpatient")
    runner = app.test_cli_runner()
    listed = runner.invoke(args=["messages", "list"])
    assert dead.message_id in listed.output
    result = runner.invoke(args=["messages", "replay", str(dead.id)])
    assert result.exit_code == 0, result.output
    assert "done (ok)" in result.output
    replayed = entry(session, "admit-inpatient")
    assert replayed.status is InboxStatus.DONE
    assert replayed.body is None
    assert pathway_of(session, "0101701234").status is PathwayStatus.ADMITTED
    codes = [parse_acknowledgement(a).code for a in acks(session)]
    assert codes == [AckCode.FATAL_ERROR, AckCode.OK]
    audit = session.scalars(
        sa.select(AuditEntry).where(AuditEntry.resource_type == "InboundMessage")
    ).one()
    assert audit.resource_id == str(dead.id)
    assert audit.channel == "cli" or audit.actor_name == "cli"
    again = runner.invoke(args=["messages", "replay", str(dead.id)])
    assert again.exit_code != 0
    assert "only dead letters" in again.output
    missing = runner.invoke(args=["messages", "replay", "999999"])
    assert missing.exit_code != 0


def test_a_dead_letters_body_is_cleared_after_the_retention_time(
    app: Flask,
    sender: FlaskClient,
    session: Session,
    clock: FixedClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _dead_letter(app, sender, clock, monkeypatch)
    clock.advance(timedelta(days=29))
    assert run_worker(app, clock)["purged"] == 0
    clock.advance(timedelta(days=2))
    assert run_worker(app, clock)["purged"] == 1
    dead = entry(session, "admit-inpatient")
    assert dead.body is None
    assert dead.status is InboxStatus.DEAD
    result = app.test_cli_runner().invoke(args=["messages", "replay", str(dead.id)])
    assert result.exit_code != 0
    assert "retention" in result.output


def test_no_pathway_event_is_doubled_when_a_batch_is_retried(
    app: Flask, sender: FlaskClient, session: Session, clock: FixedClock
) -> None:
    for name in STAY[:2]:
        sender.post(f"{URL}?async=true", json=message(name))
    run_worker(app, clock)
    run_worker(app, clock)
    assert session.scalar(sa.select(sa.func.count(PathwayEvent.id))) == 2
    assert len(acks(session)) == 2


def test_administrators_see_and_replay_dead_letters_over_the_api(
    app: Flask,
    sender: FlaskClient,
    session: Session,
    clock: FixedClock,
    monkeypatch: pytest.MonkeyPatch,
    wards: dict[str, int],  # noqa: F811
) -> None:
    _dead_letter(app, sender, clock, monkeypatch)
    admin = sc.log_in(
        app.test_client(),
        sc.staff_member(
            session, clock, organisation_id=wards["inpatient"], role="system_admin", name="Admin"
        ).id,
        clock.now(),
    )
    assert sender.get("/api/v1/inbox/failed").status_code == 403  # a nurse is no administrator
    [failed] = admin.get("/api/v1/inbox/failed").json
    assert failed["status"] == "dead"
    assert failed["attempts"] == 2
    assert "hiccupped" in failed["last_error"]
    assert failed["replayable"] is True
    assert "body" not in failed
    assert "0101701234" not in str(failed)
    assert admin.post("/api/v1/inbox/999999/replay", json={}).status_code == 404
    replayed = admin.post(f"/api/v1/inbox/{failed['id']}/replay", json={})
    assert replayed.status_code == 200, replayed.json
    assert replayed.json["status"] == "pending"
    assert admin.post(f"/api/v1/inbox/{failed['id']}/replay", json={}).status_code == 409
    assert run_worker(app, clock)["processed"] == 1
    assert admin.get("/api/v1/inbox/failed").json == []
    assert entry(session, "admit-inpatient").status is InboxStatus.DONE


def test_an_acknowledgement_sent_async_is_recorded_and_never_acknowledged_back(
    app: Flask, sender: FlaskClient, session: Session, clock: FixedClock
) -> None:
    assert sender.post(f"{URL}?async=true", json=message("acknowledgement-ok")).status_code == 202
    stored = entry(session, "acknowledgement-ok")
    assert stored.order_key == ""  # follows no other message
    assert run_worker(app, clock)["processed"] == 1
    done = entry(session, "acknowledgement-ok")
    assert done.status is InboxStatus.DONE
    assert done.body is None
    assert acks(session) == []


def test_the_scheduler_runs_the_inbox_job(
    app: Flask, sender: FlaskClient, session: Session, clock: FixedClock
) -> None:
    sender.post(f"{URL}?async=true", json=message("admit-inpatient"))
    result = app.test_cli_runner().invoke(args=["scheduler", "run-once", "process_inbox"])
    assert result.exit_code == 0, result.output
    assert '"processed": 1' in result.output
    assert entry(session, "admit-inpatient").status is InboxStatus.DONE


def test_a_failing_message_holds_back_only_its_own_patient(
    app: Flask,
    sender: FlaskClient,
    session: Session,
    clock: FixedClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("admit-inpatient", "start-leave-inpatient", "admit-emergency"):
        sender.post(f"{URL}?async=true", json=message(name))
    with monkeypatch.context() as patch:
        patch.setattr(messaging_services, "record_pathway_event", explode)
        summary = run_worker(app, clock)
    # The batch failed at the leave; taken again one by one: both admissions were answered.
    assert summary["processed"] == 2
    assert summary["retried"] == 1
    assert entry(session, "admit-emergency").status is InboxStatus.DONE
    assert entry(session, "start-leave-inpatient").status is InboxStatus.PENDING
    assert len(acks(session)) == 2
