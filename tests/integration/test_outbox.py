"""The outbox against a real SMTP server (aiosmtpd) and a committed database: no loss, no second mail."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
import structlog.testing

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
    assert summary.as_log() == {
        "claimed": 1,
        "sent": 1,
        "retried": 0,
        "dead": 0,
        "released": 0,
        "lost": 0,
    }
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


# ---------------------------------------------------------------- one run drains; claims come free soon
class Slow:
    """A transport whose every send takes ``takes`` on the test clock; ``during`` runs inside send
    number ``at`` (1-based), while this sender holds its claims."""

    def __init__(
        self,
        inner: Router,
        clock: FixedClock,
        takes: timedelta,
        *,
        at: int = 0,
        during: Callable[[], None] | None = None,
    ) -> None:
        self.inner, self.clock, self.takes, self.at, self.during = inner, clock, takes, at, during
        self.calls = 0

    def send(self, message: OutboxMessage) -> None:
        self.calls += 1
        self.inner.send(message)
        self.clock.advance(self.takes)
        if self.calls == self.at and self.during is not None:
            self.during()


def _rows(db: Database) -> dict[int, OutboxMessage]:
    with db.transaction() as session:
        return {row.id: row for row in session.scalars(sa.select(OutboxMessage))}


def test_one_run_drains_every_due_message(db: Database, smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    ids = _queue(db, 120)
    clock = FixedClock(NOW)
    summary = send_due(db, clock, _transport(port), worker="w1")
    assert summary.as_log() == {
        "claimed": 120,
        "sent": 120,
        "retried": 0,
        "dead": 0,
        "released": 0,
        "lost": 0,
    }
    assert len(set(inbox.message_ids())) == 120
    assert _statuses(db) == dict.fromkeys(ids, OutboxStatus.SENT)


def test_the_time_budget_ends_a_run_and_gives_back_what_it_did_not_send(
    db: Database, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    ids = _queue(db, 10)
    clock = FixedClock(NOW)
    slow = Slow(_transport(port), clock, timedelta(seconds=10))
    summary = send_due(db, clock, slow, worker="w1", run_for=timedelta(seconds=30))
    assert (summary.claimed, summary.sent, summary.released) == (10, 3, 7)
    assert len(inbox.messages) == 3
    rows = _rows(db)
    left = [rows[i] for i in ids[3:]]
    assert {(r.status, r.attempts, r.lease_until, r.claimed_by) for r in left} == {
        (OutboxStatus.PENDING, 0, None, "")
    }, "a message given back was not attempted: no attempt counted, due at once"
    # The next run (any sender) takes them at once, not after a lease.
    again = send_due(db, clock, _transport(port), worker="w2")
    assert (again.claimed, again.sent) == (7, 7)
    assert _statuses(db) == dict.fromkeys(ids, OutboxStatus.SENT)
    assert len(set(inbox.message_ids())) == 10


def test_a_dead_senders_claims_come_free_after_the_short_lease(
    db: Database, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    ids = _queue(db, 3)
    clock = FixedClock(NOW)

    def kill(_message: OutboxMessage) -> None:
        raise Killed

    with pytest.raises(Killed):  # killed after the first mail, before marking it sent
        send_due(db, clock, _transport(port), worker="dies", after_send=kill)
    assert _statuses(db) == dict.fromkeys(ids, OutboxStatus.SENDING)
    clock.advance(timedelta(seconds=59))
    assert send_due(db, clock, _transport(port), worker="w2").claimed == 0
    clock.advance(timedelta(seconds=2))  # a minute and a second: not five minutes
    summary = send_due(db, clock, _transport(port), worker="w2")
    assert (summary.claimed, summary.sent) == (3, 3)
    assert _statuses(db) == dict.fromkeys(ids, OutboxStatus.SENT)
    assert len(inbox.messages) == 4, "the one mail sent before the kill is sent again..."
    assert len(set(inbox.message_ids())) == 3, "...with the same Message-ID"


def test_a_live_sender_renews_its_lease_and_keeps_its_claims(
    db: Database, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    ids = _queue(db, 3)
    clock = FixedClock(NOW)
    policy = RetryPolicy(lease=timedelta(seconds=60), heartbeat=timedelta(seconds=15))
    seen: dict[str, object] = {}

    def rival() -> None:
        # Past the first lease: the first sender is sending its second mail.
        seen["at"] = clock.now()
        seen["rival"] = send_due(db, clock, _transport(port), worker="rival", policy=policy).claimed
        seen["leases"] = {r.id: (r.claimed_by, r.lease_until) for r in _rows(db).values()}

    slow = Slow(_transport(port), clock, timedelta(seconds=40), at=2, during=rival)
    summary = send_due(db, clock, slow, worker="live", policy=policy, run_for=timedelta(hours=1))
    assert seen["at"] == NOW + timedelta(seconds=80)
    assert seen["rival"] == 0
    # Renewed before the second send (at +40 s), for a minute from then.
    assert seen["leases"] == {
        ids[0]: ("live", None),
        ids[1]: ("live", NOW + timedelta(seconds=100)),
        ids[2]: ("live", NOW + timedelta(seconds=100)),
    }
    assert (summary.sent, summary.lost, summary.errors) == (3, 0, [])
    assert _statuses(db) == dict.fromkeys(ids, OutboxStatus.SENT)
    assert len(inbox.messages) == 3
    assert len(set(inbox.message_ids())) == 3


def test_a_sender_that_stalled_past_its_lease_leaves_the_rest_to_the_sender_that_took_over(
    db: Database, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    ids = _queue(db, 2)
    clock = FixedClock(NOW)
    policy = RetryPolicy(lease=timedelta(seconds=60), heartbeat=timedelta(seconds=15))
    seen: dict[str, object] = {}

    def other() -> None:
        # The first sender stalled for two minutes in its first send; another sender took over.
        taken = send_due(db, clock, _transport(port), worker="other", policy=policy)
        seen["other"] = (taken.claimed, taken.sent)

    slow = Slow(_transport(port), clock, timedelta(minutes=2), at=1, during=other)
    summary = send_due(db, clock, slow, worker="stalled", policy=policy, run_for=timedelta(hours=1))
    assert seen["other"] == (2, 2)
    # The mail in flight during the stall went twice, with one Message-ID (as after a kill); the
    # second was not sent by the stalled sender: the heartbeat showed it was no longer its own.
    assert (summary.claimed, summary.sent, summary.lost, summary.errors) == (2, 1, 1, [])
    assert _statuses(db) == dict.fromkeys(ids, OutboxStatus.SENT)
    assert len(inbox.messages) == 3
    assert sorted(str(m["To"]) for m in inbox.messages) == [
        "person0@kommune.test",
        "person0@kommune.test",
        "person1@kommune.test",
    ]
    assert len(set(inbox.message_ids())) == 2
    assert {r.claimed_by for r in _rows(db).values()} == {"other"}


# ---------------------------------------------------------------- any failure is an attempt
class Crashing:
    """Delivers through ``inner`` but raises an unexpected error for one recipient."""

    def __init__(self, inner: Router, recipient: str) -> None:
        self.inner, self.recipient = inner, recipient

    def send(self, message: OutboxMessage) -> None:
        if message.recipient == self.recipient:
            raise RuntimeError(f"cannot render for 0101701235 <{message.recipient}>")
        self.inner.send(message)


def test_a_transport_that_raises_counts_an_attempt_and_blocks_no_other_message(
    db: Database, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    ids = _queue(db, 3)
    clock = FixedClock(NOW)
    policy = RetryPolicy(max_attempts=3, first_delay=timedelta(seconds=30))
    crashing = Crashing(_transport(port), "person1@kommune.test")
    with structlog.testing.capture_logs() as logs:
        first = send_due(db, clock, crashing, worker="w1", policy=policy)
    assert (first.sent, first.retried, first.dead) == (2, 1, 0)
    assert sorted(str(m["To"]) for m in inbox.messages) == [
        "person0@kommune.test",
        "person2@kommune.test",
    ]
    row = _rows(db)[ids[1]]
    assert (row.status, row.attempts, row.next_attempt_at, row.lease_until, row.last_error) == (
        OutboxStatus.PENDING,
        1,
        NOW + timedelta(seconds=30),
        None,
        "unexpected RuntimeError",
    )
    [failed] = [e for e in logs if e["event"] == "outbox.delivery_failed"]
    assert failed["error_type"] == "RuntimeError"
    assert failed["log_level"] == "error"
    assert "0101701235" not in repr(logs), (
        "an exception's text may hold personal data: never logged"
    )
    assert "kommune.test" not in repr(logs)
    clock.advance(timedelta(seconds=30))
    assert send_due(db, clock, crashing, worker="w1", policy=policy).retried == 1
    clock.advance(timedelta(minutes=1))
    assert send_due(db, clock, crashing, worker="w1", policy=policy).dead == 1
    assert _statuses(db) == {
        ids[0]: OutboxStatus.SENT,
        ids[1]: OutboxStatus.DEAD,
        ids[2]: OutboxStatus.SENT,
    }
    assert _rows(db)[ids[1]].attempts == 3
    assert len(inbox.messages) == 2
