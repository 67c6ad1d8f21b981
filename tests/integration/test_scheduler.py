"""The scheduler's jobs on a committed database, with a real SMTP server: scan, digest, send, escalate."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from coordinator import create_app, migrate
from coordinator.care_pathways.models import Pathway
from coordinator.db import Base, Database, get_database
from coordinator.outbox.models import OutboxChannel, OutboxMessage, OutboxStatus
from coordinator.outbox.services import enqueue
from coordinator.reminders.models import QueuedEvaluation, Reminder
from coordinator.reminders.triggers import defer_evaluation
from coordinator.scheduler import job_lock, run_job
from pathways.clock import FixedClock
from pathways.reminders import ReminderStatus
from tests import scenario as sc
from tests.conftest import fresh_database_url
from tests.smtp import Inbox, smtp_server

START = datetime(2026, 11, 26, 6, 30, tzinfo=UTC)  # 07:30 in Copenhagen, a Thursday


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = fresh_database_url(
        os.environ.get("TEST_DATABASE_URL"), Path(tmp_path_factory.mktemp("sched")), "scheduler"
    )
    migrate.upgrade(url)
    return url


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    with smtp_server() as server:
        yield server


@pytest.fixture
def world(url: str, smtp: tuple[Inbox, int]) -> Iterator[tuple[Flask, FixedClock, sc.Scenario]]:
    clock = FixedClock(START)
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": url,
            "SECRET_KEY": "test",
            "SMTP_PORT": smtp[1],
            "PUBLIC_BASE_URL": "https://carepath.test",
        }
    )
    app.extensions["carepath.clock"] = clock
    database = get_database(app)
    with database.transaction() as session:
        scenario = sc.build(session, clock)
    yield app, clock, scenario
    with database.engine.begin() as conn:  # empty every table for the next test
        for table in reversed(Base.metadata.sorted_tables):
            if table.name == "audit_entries":
                continue  # append-only by trigger; ids keep counting, rows do not matter here
            conn.execute(table.delete())
    database.dispose()


def _count(database: Database, model: type, *where: sa.ColumnElement[bool]) -> int:
    with database.transaction() as session:
        return int(session.scalar(sa.select(sa.func.count()).select_from(model).where(*where)))


def test_scan_digest_and_send_reach_the_mailbox_without_personal_data(
    world: tuple[Flask, FixedClock, sc.Scenario], smtp: tuple[Inbox, int]
) -> None:
    app, clock, _scenario = world
    inbox, _port = smtp
    clock.advance(timedelta(days=3))  # past the two working days for the §13a assessment
    # Registering the scenario committed, and the commit already evaluated the new pathway.
    database = get_database(app)
    assert _count(database, Reminder) == 1
    scan = run_job(app, "scan_gaps")
    assert scan["pathways"] == 1
    assert scan["gaps"] >= 1
    again = run_job(app, "scan_gaps")
    assert (again["created"], again["updated"]) == (0, 0), "a second scan changes nothing"
    assert _count(database, Reminder) == scan["gaps"]
    digest = run_job(app, "send_digests")
    assert digest == {"recipients": 1, "queued": 1}
    assert run_job(app, "send_digests")["queued"] == 0, "one digest per recipient per hour"
    sent = run_job(app, "send_outbox")
    assert sent["sent"] == 1
    [mail] = inbox.to("afsnit1@test.example")
    text = mail.get_content()
    assert "https://carepath.test/reminders" in text
    assert "0101701235" not in text
    assert "Mette" not in text
    assert run_job(app, "send_outbox")["claimed"] == 0


def test_escalation_tells_the_chief_physician_once_per_level(
    world: tuple[Flask, FixedClock, sc.Scenario], smtp: tuple[Inbox, int]
) -> None:
    app, clock, _scenario = world
    inbox, _port = smtp
    clock.advance(timedelta(days=3))
    run_job(app, "scan_gaps")
    clock.advance(timedelta(days=7))  # unanswered for many working days
    first = run_job(app, "escalate")
    assert first["escalated"] >= 1
    assert run_job(app, "escalate") == {"escalated": 0, "notified": 0}
    run_job(app, "send_outbox")
    chief_mail = inbox.to("chief@test.example")
    assert chief_mail, "the escalation goes to the chief physician"
    assert "eskaleret" in chief_mail[0].get_content()


def test_closing_the_gap_resolves_the_reminder_in_the_next_scan(
    world: tuple[Flask, FixedClock, sc.Scenario],
) -> None:
    app, clock, scenario = world
    clock.advance(timedelta(days=3))
    run_job(app, "scan_gaps")
    database = get_database(app)
    with database.transaction() as session:
        sc.assess_requirement(session, clock, scenario, receives_sel_support=False)
    # The commit itself re-evaluated the pathway: the assessment reminder is resolved already.
    assert (
        _count(
            database,
            Reminder,
            Reminder.rule == "requirement_not_assessed",
            Reminder.status == ReminderStatus.RESOLVED,
        )
        == 1
    )


def test_two_schedulers_scanning_at_once_make_no_duplicates(
    world: tuple[Flask, FixedClock, sc.Scenario],
) -> None:
    app, clock, _scenario = world
    clock.advance(timedelta(days=3))
    other = create_app(
        {"TESTING": True, "DATABASE_URL": app.config["DATABASE_URL"], "SECRET_KEY": "t"}
    )
    other.extensions["carepath.clock"] = clock
    barrier = threading.Barrier(2)
    results: list[dict[str, object]] = []
    errors: list[BaseException] = []

    def scan(application: Flask) -> None:
        try:
            barrier.wait()
            results.append(run_job(application, "scan_gaps"))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=scan, args=(a,)) for a in (app, other)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    get_database(other).dispose()
    assert not errors
    database = get_database(app)
    with database.transaction() as session:
        keys = session.execute(sa.select(Reminder.rule, Reminder.obligation_key)).all()
    assert len(keys) == len(set(keys)) >= 1


def test_the_job_lock_lets_one_process_in(world: tuple[Flask, FixedClock, sc.Scenario]) -> None:
    app, _clock, _scenario = world
    database = get_database(app)
    if database.engine.dialect.name != "postgresql":
        pytest.skip("advisory locks are PostgreSQL's; on SQLite one scheduler runs (documented)")
    with job_lock(database, "escalate") as first:
        assert first
        assert run_job(app, "escalate") == {"skipped": "another scheduler holds the lock"}
    assert "skipped" not in run_job(app, "escalate")


def test_run_once_from_the_command_line(world: tuple[Flask, FixedClock, sc.Scenario]) -> None:
    app, _clock, _scenario = world
    result = app.test_cli_runner().invoke(args=["scheduler", "run-once", "send_outbox"])
    assert result.exit_code == 0, result.output
    assert '"claimed": 0' in result.output
    assert _count(get_database(app), OutboxMessage, OutboxMessage.status == OutboxStatus.DEAD) == 0


def test_the_outbox_job_drains_the_queue_in_one_run(
    world: tuple[Flask, FixedClock, sc.Scenario], smtp: tuple[Inbox, int]
) -> None:
    app, clock, _scenario = world
    inbox, _port = smtp
    database = get_database(app)
    with database.transaction() as session:
        for i in range(120):
            enqueue(
                session,
                channel=OutboxChannel.EMAIL,
                idempotency_key=f"drain:{i}",
                recipient=f"person{i}@kommune.test",
                subject="Reminder",
                body="https://carepath.test/reminders",
                now=clock.now(),
            )
    summary = run_job(app, "send_outbox")
    assert (summary["claimed"], summary["sent"], summary["released"]) == (120, 120, 0)
    assert len(set(inbox.message_ids())) == 120
    # (the scenario's own overdue reminder mail is queued too; only the drained ones count here)
    drained = OutboxMessage.idempotency_key.like("drain:%")
    assert _count(database, OutboxMessage, drained, OutboxMessage.status != OutboxStatus.SENT) == 0


@pytest.mark.parametrize("value", [0, -5, "25", True])
def test_an_outbox_run_without_time_stops_the_start(url: str, value: object) -> None:
    with pytest.raises(ValueError, match=r"^OUTBOX_RUN_SECONDS must be whole seconds, 1 or more; "):
        create_app(
            {"TESTING": True, "DATABASE_URL": url, "SECRET_KEY": "t", "OUTBOX_RUN_SECONDS": value}
        )


def test_a_deferred_change_is_queued_and_the_job_evaluates_it_once(
    world: tuple[Flask, FixedClock, sc.Scenario],
) -> None:
    app, clock, scenario = world
    clock.advance(timedelta(days=3))
    run_job(app, "scan_gaps")
    database = get_database(app)
    assessment_resolved = (
        Reminder.rule == "requirement_not_assessed",
        Reminder.status == ReminderStatus.RESOLVED,
    )
    for step in range(2):  # two deferred commits on the same pathway: one row in the queue
        with database.transaction() as session:
            defer_evaluation(session)
            if step == 0:
                sc.assess_requirement(session, clock, scenario, receives_sel_support=False)
            else:
                session.get(Pathway, scenario.pathway.id).planned_discharge_on = date(2026, 12, 4)
    assert _count(database, QueuedEvaluation) == 1
    assert _count(database, Reminder, *assessment_resolved) == 0, "deferred: not evaluated yet"
    drained = run_job(app, "evaluate_queued")
    assert drained["pathways"] == 1
    assert drained["resolved"] >= 1
    assert _count(database, QueuedEvaluation) == 0
    assert _count(database, Reminder, *assessment_resolved) == 1
    again = run_job(app, "evaluate_queued")
    assert again["pathways"] == 0


def test_a_queued_pathway_another_scheduler_holds_is_skipped(
    world: tuple[Flask, FixedClock, sc.Scenario],
) -> None:
    app, clock, scenario = world
    database = get_database(app)
    if database.engine.dialect.name != "postgresql":
        pytest.skip("SKIP LOCKED is PostgreSQL's; on SQLite one scheduler runs (documented)")
    with database.transaction() as session:
        defer_evaluation(session)
        sc.assess_requirement(session, clock, scenario, receives_sel_support=False)
    with database.transaction() as holder:  # another scheduler's batch, still running
        held = holder.scalars(sa.select(QueuedEvaluation.pathway_id).with_for_update()).all()
        assert held == [scenario.pathway.id]
        assert run_job(app, "evaluate_queued")["pathways"] == 0
    assert run_job(app, "evaluate_queued")["pathways"] == 1
