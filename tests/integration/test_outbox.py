"""The outbox against a real SMTP server (aiosmtpd) and a committed database: no loss, no second mail."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from coordinator import migrate
from coordinator.db import Database
from coordinator.outbox.models import OutboxChannel, OutboxMessage, OutboxStatus
from coordinator.outbox.sender import RetryPolicy, claim, send_due
from coordinator.outbox.services import enqueue, record_delivery
from coordinator.outbox.transports import (
    DeliveryError,
    Router,
    SmtpSettings,
    SmtpTransport,
)
from pathways.clock import FixedClock
from tests.conftest import fresh_database_url
from tests.smtp import Inbox, free_port, smtp_server

NOW = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def committed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    """A database whose transactions really commit: the sender works across several of them."""
    url = fresh_database_url(
        os.environ.get("TEST_DATABASE_URL"), Path(tmp_path_factory.mktemp("outbox")), "outbox"
    )
    migrate.upgrade(url)
    database = Database(url)
    yield database
    database.dispose()


@pytest.fixture
def db(committed: Database) -> Iterator[Database]:
    yield committed
    with committed.transaction() as session:
        session.execute(sa.delete(OutboxMessage))


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    with smtp_server() as server:
        yield server


def _transport(port: int) -> Router:
    settings = SmtpSettings(port=port, sender="carepath <noreply@carepath.test>")
    return Router({OutboxChannel.EMAIL: SmtpTransport(settings)})


def _queue(db: Database, n: int = 1, *, at: datetime = NOW) -> list[int]:
    ids = []
    with db.transaction() as session:
        for i in range(n):
            message = enqueue(
                session,
                channel=OutboxChannel.EMAIL,
                idempotency_key=f"test:{i}",
                recipient=f"person{i}@kommune.test",
                subject=f"Reminder {i}",
                body="You have a reminder in carepath: https://carepath.test/inbox",
                now=at,
            )
            ids.append(message.id)
    return ids


def _statuses(db: Database) -> dict[int, OutboxStatus]:
    with db.transaction() as session:
        return {
            row.id: row.status
            for row in session.execute(sa.select(OutboxMessage.id, OutboxMessage.status))
        }


def test_enqueue_is_idempotent_by_key(db: Database) -> None:
    first = _queue(db)
    again = _queue(db)
    assert first == again
    assert len(_statuses(db)) == 1


def test_a_queued_mail_reaches_the_smtp_server_once(db: Database, smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    [message_id] = _queue(db)
    clock = FixedClock(NOW)
    summary = send_due(db, clock, _transport(port), worker="w1")
    assert summary.as_log() == {"claimed": 1, "sent": 1, "retried": 0, "dead": 0}
    assert len(inbox.messages) == 1
    mail = inbox.messages[0]
    assert mail["To"] == "person0@kommune.test"
    assert mail["Subject"] == "Reminder 0"
    assert mail["Message-ID"].endswith("@carepath.local>")
    assert _statuses(db) == {message_id: OutboxStatus.SENT}
    # A second round finds nothing to do.
    assert send_due(db, clock, _transport(port), worker="w1").claimed == 0
    assert len(inbox.messages) == 1


def test_an_unreachable_server_means_backoff_then_a_dead_letter(db: Database) -> None:
    [message_id] = _queue(db)
    clock = FixedClock(NOW)
    policy = RetryPolicy(max_attempts=3, first_delay=timedelta(seconds=30))
    transport = _transport(free_port())  # nobody listens there
    first = send_due(db, clock, transport, worker="w1", policy=policy)
    assert first.retried == 1
    with db.transaction() as session:
        row = session.get(OutboxMessage, message_id)
        assert row is not None
        assert row.status is OutboxStatus.PENDING
        assert row.next_attempt_at == NOW + timedelta(seconds=30)
        assert "ConnectionRefused" in row.last_error
    # Not yet due: nothing is tried.
    clock.advance(timedelta(seconds=29))
    assert send_due(db, clock, transport, worker="w1", policy=policy).claimed == 0
    clock.advance(timedelta(seconds=1))
    assert send_due(db, clock, transport, worker="w1", policy=policy).retried == 1
    clock.advance(timedelta(minutes=1))  # the second delay doubles
    assert send_due(db, clock, transport, worker="w1", policy=policy).dead == 1
    assert _statuses(db) == {message_id: OutboxStatus.DEAD}


def test_a_permanent_refusal_goes_straight_to_the_dead_letters(db: Database) -> None:
    class Refusing:
        def send(self, message: OutboxMessage) -> None:
            raise DeliveryError("recipient refused", permanent=True)

    [message_id] = _queue(db)
    summary = send_due(db, FixedClock(NOW), Router({OutboxChannel.EMAIL: Refusing()}), worker="w1")
    assert summary.dead == 1
    assert _statuses(db) == {message_id: OutboxStatus.DEAD}


class Killed(BaseException):
    """Stands in for the process being killed (SIGKILL): nothing after it runs."""


def test_killed_between_send_and_mark_loses_nothing_and_sends_no_other_mail(
    db: Database, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    [message_id] = _queue(db)
    clock = FixedClock(NOW)
    policy = RetryPolicy(lease=timedelta(minutes=5))

    def kill(_message: OutboxMessage) -> None:
        raise Killed

    with pytest.raises(Killed):
        send_due(db, clock, _transport(port), worker="dies", policy=policy, after_send=kill)
    assert _statuses(db) == {message_id: OutboxStatus.SENDING}
    # Another sender leaves it alone while the lease runs...
    assert send_due(db, clock, _transport(port), worker="w2", policy=policy).claimed == 0
    # ...and takes it over when the lease has passed: same Message-ID, then it is marked sent.
    clock.advance(timedelta(minutes=5, seconds=1))
    assert send_due(db, clock, _transport(port), worker="w2", policy=policy).sent == 1
    assert _statuses(db) == {message_id: OutboxStatus.SENT}
    ids = inbox.message_ids()
    assert len(ids) == 2
    assert len(set(ids)) == 1, "a resend after a crash must be the same message (same Message-ID)"
    assert send_due(db, clock, _transport(port), worker="w2", policy=policy).claimed == 0


def test_killed_after_claiming_before_sending_delivers_once_later(
    db: Database, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    [message_id] = _queue(db)
    clock = FixedClock(NOW)
    policy = RetryPolicy(lease=timedelta(minutes=5))
    claim(db, clock.now(), worker="dies", batch=10, policy=policy)  # then the process died
    clock.advance(timedelta(minutes=6))
    assert send_due(db, clock, _transport(port), worker="w2", policy=policy).sent == 1
    assert len(inbox.messages) == 1
    assert _statuses(db) == {message_id: OutboxStatus.SENT}


def test_a_late_sender_whose_lease_passed_does_not_overwrite_the_new_claim(db: Database) -> None:
    [message_id] = _queue(db)
    policy = RetryPolicy(lease=timedelta(minutes=5))
    claim(db, NOW, worker="slow", batch=1, policy=policy)
    [taken] = claim(db, NOW + timedelta(minutes=6), worker="fresh", batch=1, policy=policy)
    assert taken.id == message_id
    assert taken.attempts == 2
    with db.transaction() as session:
        row = session.get(OutboxMessage, message_id)
        assert row is not None
        assert row.claimed_by == "fresh"


def test_two_senders_at_once_never_send_a_message_twice(
    db: Database, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    ids = _queue(db, 40)
    clock = FixedClock(NOW)
    barrier = threading.Barrier(2)
    results: list[int] = []
    errors: list[BaseException] = []

    def run(worker: str) -> None:
        try:
            barrier.wait()
            for _ in range(10):
                results.append(send_due(db, clock, _transport(port), worker=worker, batch=5).sent)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(f"w{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sum(results) == 40
    assert len(inbox.messages) == 40
    assert len(set(inbox.message_ids())) == 40
    assert set(_statuses(db).values()) == {OutboxStatus.SENT}
    assert set(_statuses(db)) == set(ids)


def test_an_acknowledgement_marks_a_message_delivered(db: Database) -> None:
    with db.transaction() as session:
        message = enqueue(
            session,
            channel=OutboxChannel.FHIR_MESSAGE,
            idempotency_key="carecommunication:1",
            recipient="5790001382445",
            payload={"resourceType": "Bundle"},
            message_id="9b9e2f3c-0000-4000-8000-000000000001",
            now=NOW,
        )
        message.status = OutboxStatus.SENT
    with db.transaction() as session:
        found = record_delivery(session, message_id="9b9e2f3c-0000-4000-8000-000000000001", at=NOW)
        assert found is not None
        assert found.status is OutboxStatus.DELIVERED
        assert record_delivery(session, message_id="unknown", at=NOW) is None
