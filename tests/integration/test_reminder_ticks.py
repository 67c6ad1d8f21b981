"""The tick on a committed database: every evaluation stores the pathway's next due time; the tick
evaluates exactly the pathways whose time has passed (and those a change queued), so a reminder is made
within one tick of its deadline; the nightly full scan then finds nothing, is shared in claimed ranges,
and reports what the ticks missed."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
import pytest
import sqlalchemy as sa
import structlog
from flask import Flask

from bench.load import synthetic_cprs
from coordinator import create_app, migrate
from coordinator.db import Base, Database, get_database
from coordinator.reminders import scan as scan_module
from coordinator.reminders import services as inbox
from coordinator.reminders.facts import load_facts
from coordinator.reminders.models import NextDue, Reminder, ScanRange, ScanRun
from coordinator.reminders.scan import ScanSummary, scan_all, tick
from coordinator.scheduler import build_scheduler, run_job
from pathways import reminders as rules
from pathways.calendar_dk import default_calendar
from pathways.clock import FixedClock
from pathways.reminders import ReminderStatus, Severity
from pathways.stays import PathwayEventType, PathwayFactType
from tests import scenario as sc
from tests.conftest import fresh_database_url

START = datetime(2026, 11, 26, 6, 30, tzinfo=UTC)  # Thursday 26 November 2026, 07:30 in Copenhagen
SECOND = timedelta(seconds=1)
TICK = timedelta(seconds=60)  # SCHEDULER_TICK_SECONDS' default


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = fresh_database_url(
        os.environ.get("TEST_DATABASE_URL"), Path(tmp_path_factory.mktemp("ticks")), "ticks"
    )
    migrate.upgrade(url)
    return url


@pytest.fixture
def world(url: str) -> Iterator[tuple[Flask, FixedClock, sc.Scenario]]:
    clock = FixedClock(START)
    app = create_app({"TESTING": True, "DATABASE_URL": url, "SECRET_KEY": "test"})
    app.extensions["carepath.clock"] = clock
    database = get_database(app)
    with app.app_context():  # the commit hooks read the app's clock
        with database.transaction() as session:
            scenario = sc.build(session, clock)
        yield app, clock, scenario
    with database.engine.begin() as conn:  # empty every table for the next test
        for table in reversed(Base.metadata.sorted_tables):
            if table.name != "audit_entries":
                conn.execute(table.delete())
    database.dispose()


def _next_due(database: Database, pathway_id: int) -> datetime | None:
    with database.transaction() as session:
        return session.scalar(sa.select(NextDue.due_at).where(NextDue.pathway_id == pathway_id))


def _reminders(
    database: Database, pathway_id: int | None = None
) -> dict[str, tuple[ReminderStatus, Severity]]:
    mine = sa.true() if pathway_id is None else Reminder.pathway_id == pathway_id
    with database.transaction() as session:
        return {
            f"{r.rule}|{r.obligation_key}": (r.status, r.severity)
            for r in session.scalars(sa.select(Reminder).where(mine))
        }


def _tick_at(app: Flask, clock: FixedClock, at: datetime) -> ScanSummary:
    clock.set(at)
    return tick(get_database(app), clock, app.config)


def _recomputed(database: Database, pathway_id: int, now: datetime) -> datetime | None:
    """What the pure rules answer for the pathway's facts as stored (the stored time must be this)."""
    with database.transaction() as session:
        [facts] = load_facts(session, [pathway_id])
    return rules.assess(facts, now, calendar=default_calendar()).next_due_at


def test_a_requested_meeting_is_reminded_of_within_one_tick_of_its_times(
    world: tuple[Flask, FixedClock, sc.Scenario],
) -> None:
    app, clock, scenario = world
    database = get_database(app)
    pathway = scenario.pathway.id
    with database.transaction() as session:
        inbox.record_pathway_fact(
            session,
            scenario.case_worker,
            clock,
            pathway_id=pathway,
            fact=PathwayFactType.NETWORK_MEETING_REQUESTED,
            occurred_at=START,
            idempotency_key="meeting",
        )
    # 5 working days from Thursday 26 November: Thursday 3 December 16:00 (15:00 UTC); shown from
    # Tuesday 1 December (2 working days ahead), i.e. from midnight in Copenhagen.
    shown_from = datetime(2026, 11, 30, 23, 0, tzinfo=UTC)
    deadline = datetime(2026, 12, 3, 15, 0, tzinfo=UTC)
    assert _next_due(database, pathway) == shown_from == _recomputed(database, pathway, START)
    assert "network_meeting_not_held|network_meeting" not in _reminders(database)

    before = _tick_at(app, clock, shown_from - SECOND)
    assert (before.pathways, before.created) == (0, 0), "nothing is due yet: nothing is evaluated"
    after = _tick_at(app, clock, shown_from + TICK)
    assert (after.pathways, after.created) == (1, 1)
    assert _reminders(database)["network_meeting_not_held|network_meeting"] == (
        ReminderStatus.OPEN,
        Severity.INFO,
    )
    assert _next_due(database, pathway) == deadline

    assert _tick_at(app, clock, deadline - SECOND).pathways == 0
    late = _tick_at(app, clock, deadline + SECOND)
    assert (late.pathways, late.updated) == (1, 1)
    assert _reminders(database)["network_meeting_not_held|network_meeting"][1] is Severity.WARNING
    assert _next_due(database, pathway) is None, "nothing more changes by time alone"


def test_a_booked_follow_up_not_registered_is_reminded_of_from_its_time(
    world: tuple[Flask, FixedClock, sc.Scenario],
) -> None:
    app, clock, scenario = world
    database = get_database(app)
    pathway = scenario.pathway.id
    booked = START + timedelta(days=1)  # Friday 27 November, 07:30
    with database.transaction() as session:
        sc.assess_requirement(session, clock, scenario, receives_sel_support=False)
        sc.discharge(session, clock, scenario, by=scenario.nurse)
        sc.record_event(
            session,
            clock,
            scenario,
            PathwayEventType.FOLLOW_UP_BOOKED,
            by=scenario.nurse,
            key="booked",
            payload={"appointment_at": booked.isoformat()},
        )
    assert _next_due(database, pathway) == booked
    assert _tick_at(app, clock, booked - SECOND).created == 0
    assert _tick_at(app, clock, booked + SECOND).created == 1
    assert _reminders(database)["follow_up_missed|follow_up:booked"][1] is Severity.WARNING
    # registered by 16:00 the next working day, Monday 30 November (15:00 UTC), or urgent
    urgent_from = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)
    assert _next_due(database, pathway) == urgent_from
    assert _tick_at(app, clock, urgent_from - SECOND).updated == 0
    assert _tick_at(app, clock, urgent_from + SECOND).updated == 1
    assert _reminders(database)["follow_up_missed|follow_up:booked"][1] is Severity.URGENT


def test_a_snoozed_reminder_is_reopened_by_the_tick_when_its_snooze_ends(
    world: tuple[Flask, FixedClock, sc.Scenario],
) -> None:
    app, clock, scenario = world
    database = get_database(app)
    with database.transaction() as session:
        reminder = session.scalars(sa.select(Reminder)).one()  # the §13a assessment, overdue
        until = START + timedelta(hours=3)
        inbox.snooze_reminder(session, scenario.nurse, clock, reminder_id=reminder.id, until=until)
    assert _next_due(database, scenario.pathway.id) == until
    assert _tick_at(app, clock, until - SECOND).reopened == 0
    assert _tick_at(app, clock, until + SECOND).reopened == 1
    assert _reminders(database)["requirement_not_assessed|assessment"][0] is ReminderStatus.OPEN


def test_a_change_is_evaluated_at_commit_and_a_closed_pathway_has_no_due_time(
    world: tuple[Flask, FixedClock, sc.Scenario],
) -> None:
    app, clock, scenario = world
    database = get_database(app)
    pathway = scenario.pathway.id
    with database.transaction() as session:
        sc.assess_requirement(session, clock, scenario, receives_sel_support=True)
        sc.plan_discharge(session, clock, scenario, in_days=7)
    assert _next_due(database, pathway) == _recomputed(database, pathway, START) is not None
    with database.transaction() as session:
        for event in (PathwayEventType.DISCHARGED, PathwayEventType.CLOSED):
            sc.record_event(session, clock, scenario, event, by=scenario.nurse, key=event.value)
    assert _next_due(database, pathway) is None


def test_the_nightly_scan_finds_nothing_the_ticks_did_not_and_reports_what_they_missed(
    world: tuple[Flask, FixedClock, sc.Scenario],
) -> None:
    app, clock, scenario = world
    database = get_database(app)
    with database.transaction() as session:
        inbox.record_pathway_fact(
            session,
            scenario.case_worker,
            clock,
            pathway_id=scenario.pathway.id,
            fact=PathwayFactType.NETWORK_MEETING_REQUESTED,
            occurred_at=START,
            idempotency_key="meeting",
        )
    clock.set(START + timedelta(days=9))  # the meeting's deadline has passed meanwhile
    night = run_job(app, "scan_gaps")
    assert night["ticked"] == 1, "the due pathway was the tick's, before the scan"
    assert night["pathways"] == 1
    assert night["missed"] == 0
    # An evaluation lost (say a change written past the triggers): only the scan sees it.
    with database.transaction() as session:
        session.execute(
            sa.update(Reminder)
            .where(Reminder.rule == "network_meeting_not_held")
            .values(status=ReminderStatus.RESOLVED, resolved_at=clock.now())
        )
    clock.set(clock.now() + timedelta(hours=1))
    with structlog.testing.capture_logs() as captured:
        missed = run_job(app, "scan_gaps")
    assert missed["ticked"] == 0
    assert missed["missed"] == missed["reopened"] == 1
    assert any(e["event"] == "scheduler.scan_found_missed" for e in captured)
    with database.transaction() as session:
        runs = session.scalars(sa.select(ScanRun.key)).all()
    assert len(runs) == 2, "one run per night (and minute): the processes of that run share it"


def test_two_processes_share_one_full_scan_in_claimed_ranges(
    world: tuple[Flask, FixedClock, sc.Scenario],
) -> None:
    app, clock, scenario = world
    database = get_database(app)
    if database.engine.dialect.name != "postgresql":
        pytest.skip("SKIP LOCKED is PostgreSQL's; on SQLite one scheduler runs (documented)")
    with database.transaction() as session:  # 11 more open pathways: 12 in ranges of 2
        for i, cpr in enumerate(synthetic_cprs(11)):
            patient = sc.register_patient(
                session,
                sc.SYSTEM,
                clock,
                given_name="Ib",
                family_name="Test",
                kommunekode="101",
                cpr=cpr,
                gp_organisation_id=scenario.gp_clinic.id,
            )
            sc.admit_patient(
                session,
                sc.SYSTEM,
                clock,
                patient_id=patient.id,
                ward_id=scenario.ward.id,
                admitted_at=clock.now() - timedelta(days=1),
                idempotency_key=f"admit-{i}",
            )
    other = create_app(
        {"TESTING": True, "DATABASE_URL": app.config["DATABASE_URL"], "SECRET_KEY": "t"}
    )
    results: list[ScanSummary] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def scan(application: Flask) -> None:
        try:
            barrier.wait()
            with application.app_context():
                results.append(
                    scan_all(
                        get_database(application),
                        clock,
                        application.config,
                        batch_size=2,
                        run_key="r",
                    )
                )
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=scan, args=(a,)) for a in (app, other)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    get_database(other).dispose()
    assert not errors
    assert sum(r.pathways for r in results) == 12, "every pathway scanned once, by one of the two"
    with database.transaction() as session:
        ranges = session.execute(sa.select(ScanRange.first_id, ScanRange.done_at)).all()
    assert len(ranges) == 7  # 6 of 2 pathways, and the open end
    assert all(done is not None for _first, done in ranges)
    again = scan_all(database, clock, app.config, batch_size=2, run_key="r")
    assert again.pathways == 0, "a run done is not done again"


def test_a_due_pathway_another_scheduler_holds_is_skipped(
    world: tuple[Flask, FixedClock, sc.Scenario],
) -> None:
    app, clock, scenario = world
    database = get_database(app)
    if database.engine.dialect.name != "postgresql":
        pytest.skip("SKIP LOCKED is PostgreSQL's; on SQLite one scheduler runs (documented)")
    with database.transaction() as session:
        reminder = session.scalars(sa.select(Reminder)).one()
        until = START + timedelta(hours=1)
        inbox.snooze_reminder(session, scenario.nurse, clock, reminder_id=reminder.id, until=until)
    clock.set(until + SECOND)
    with database.transaction() as holder:  # another scheduler's tick, still running
        held = holder.scalars(sa.select(NextDue.pathway_id).with_for_update()).all()
        assert held == [scenario.pathway.id]
        assert tick(database, clock, app.config).pathways == 0
    assert tick(database, clock, app.config).reopened == 1


def test_a_pathway_whose_evaluation_fails_holds_up_no_other(
    world: tuple[Flask, FixedClock, sc.Scenario], monkeypatch: pytest.MonkeyPatch
) -> None:
    app, clock, scenario = world
    database = get_database(app)
    with database.transaction() as session:
        [cpr] = synthetic_cprs(1)
        patient = sc.register_patient(
            session,
            sc.SYSTEM,
            clock,
            given_name="Ib",
            family_name="Test",
            kommunekode="101",
            cpr=cpr,
            gp_organisation_id=scenario.gp_clinic.id,
        )
        other = sc.admit_patient(
            session,
            sc.SYSTEM,
            clock,
            patient_id=patient.id,
            ward_id=scenario.ward.id,
            admitted_at=START - timedelta(days=1),
            idempotency_key="admit-other",
        ).id
        reminder = session.scalars(
            sa.select(Reminder).where(Reminder.pathway_id == scenario.pathway.id)
        ).one()
        inbox.snooze_reminder(
            session, scenario.nurse, clock, reminder_id=reminder.id, until=START + SECOND
        )
    # the other's §13a assessment: 2 working days from Wednesday 25 November, Friday 27 at 16:00
    deadline = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)
    assert _next_due(database, other) == deadline
    broken = scenario.pathway.id
    real = scan_module.load_facts

    def failing(session: object, pathway_ids: list[int]) -> object:
        if broken in pathway_ids:
            raise RuntimeError("a pathway the rules cannot read")
        return real(session, pathway_ids)  # type: ignore[arg-type]

    monkeypatch.setattr(scan_module, "load_facts", failing)
    done = _tick_at(app, clock, deadline + SECOND)
    assert (done.failed, done.updated, done.reopened) == (1, 1, 0)
    assert _reminders(database, broken)["requirement_not_assessed|assessment"] == (
        ReminderStatus.SNOOZED,
        Severity.URGENT,
    ), "the broken pathway's reminder is untouched"
    assert _reminders(database, other)["requirement_not_assessed|assessment"] == (
        ReminderStatus.OPEN,
        Severity.WARNING,
    ), "the other pathway's reminder is raised at its deadline"
    assert _next_due(database, broken) == deadline + SECOND + timedelta(hours=1)
    assert _tick_at(app, clock, deadline + timedelta(minutes=30)).pathways == 0
    monkeypatch.setattr(scan_module, "load_facts", real)
    retried = _tick_at(app, clock, deadline + timedelta(hours=1, seconds=2))
    assert (retried.failed, retried.reopened) == (0, 1)


def test_the_scheduler_ticks_often_scans_at_night_and_once_at_start(url: str) -> None:
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": url,
            "SECRET_KEY": "t",
            "SCHEDULER_TICK_SECONDS": 30,
            "SCHEDULER_FULL_SCAN_AT": "02:30, 23:45",
        }
    )
    jobs = {job.id: job for job in build_scheduler(app).get_jobs()}
    assert {"tick_gaps", "scan_gaps@start", "scan_gaps@02:30", "scan_gaps@23:45"} <= set(jobs)
    assert "scan_gaps" not in jobs, "no full scan on an interval any more"
    assert jobs["tick_gaps"].trigger.interval == timedelta(seconds=30)
    get_database(app).dispose()


def test_a_bad_full_scan_time_stops_the_scheduler_naming_the_setting(url: str) -> None:
    app = create_app(
        {"TESTING": True, "DATABASE_URL": url, "SECRET_KEY": "t", "SCHEDULER_FULL_SCAN_AT": "2.30"}
    )
    with pytest.raises(click.BadParameter, match=r"^SCHEDULER_FULL_SCAN_AT must be HH:MM"):
        build_scheduler(app)
    get_database(app).dispose()
