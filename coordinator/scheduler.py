"""The scheduler process: `flask --app coordinator scheduler run` (never inside the web workers).

Jobs: a frequent tick that evaluates the pathways whose next gap deadline has passed or that a change
queued, a nightly full scan of every open pathway (the safety net), process the MedCom inbox, send the
outbox, send digests at the configured local times and escalate unanswered reminders. Several scheduler
processes may run at once on PostgreSQL: the tick, the queue, the full scan (claimed ranges), the inbox
worker and the outbox sender claim rows with ``SKIP LOCKED`` and share the work; the digests and the
escalation each take an advisory lock and skip their round when another process holds it. On SQLite run a
single scheduler.
"""

from __future__ import annotations

import json
import os
import socket
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, time, timedelta
from typing import Any

import click
import sqlalchemy as sa
import structlog
from flask import Flask, current_app
from flask.cli import AppGroup

from coordinator.audit.services import AuditContext, audit_context
from coordinator.db import Database, get_database
from coordinator.outbox.sender import send_due
from coordinator.outbox.transports import transports_from_config
from coordinator.security import get_clock
from coordinator.subscriptions.services import hook_lookup
from pathways.clock import COPENHAGEN

log = structlog.get_logger("carepath.scheduler")
scheduler_cli = AppGroup("scheduler", help="The background process: gap scan, outbox, digests.")


@contextmanager
def job_lock(database: Database, name: str) -> Iterator[bool]:
    """A PostgreSQL session advisory lock named after the job; always granted on SQLite."""
    if database.engine.dialect.name != "postgresql":
        yield True
        return
    key = zlib.crc32(f"carepath.job.{name}".encode())
    with database.engine.connect() as connection:
        granted = bool(connection.scalar(sa.select(sa.func.pg_try_advisory_lock(key))))
        connection.commit()
        try:
            yield granted
        finally:
            if granted:
                connection.execute(sa.select(sa.func.pg_advisory_unlock(key)))
                connection.commit()


def _worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def send_outbox(app: Flask) -> dict[str, Any]:
    """Drain the outbox: batch after batch until nothing is due or OUTBOX_RUN_SECONDS are spent."""
    summary = send_due(
        get_database(app),
        get_clock(),
        transports_from_config(app.config, hooks=hook_lookup(get_database(app), get_clock())),
        worker=_worker_name(),
        run_for=timedelta(seconds=app.config["OUTBOX_RUN_SECONDS"]),
    )
    return summary.as_log()


def tick_gaps(app: Flask) -> dict[str, Any]:
    """The frequent tick (every SCHEDULER_TICK_SECONDS): the pathways queued by a change and those whose
    next due time has passed. No lock: rows are claimed with SKIP LOCKED, so schedulers share it."""
    from coordinator.reminders.scan import tick  # noqa: PLC0415 - jobs import their feature late

    return tick(get_database(app), get_clock(), app.config).as_log()


def scan_gaps(app: Flask) -> dict[str, Any]:
    """The nightly safety net (SCHEDULER_FULL_SCAN_AT): a tick first, so that what is due is done, then
    the full scan of every open pathway, shared by the scheduler processes that run it in the same minute
    (one run, claimed ranges). Whatever it still changes, the ticks missed: logged as a warning."""
    from coordinator.reminders.scan import scan_all, tick  # noqa: PLC0415

    database = get_database(app)
    clock = get_clock()
    ticked = tick(database, clock, app.config)
    run_key = f"nightly:{clock.now().astimezone(COPENHAGEN):%Y-%m-%dT%H:%M}"
    summary = scan_all(database, clock, app.config, run_key=run_key)
    missed = summary.changes + summary.rescheduled
    if missed:
        log.warning("scheduler.scan_found_missed", missed=missed, **summary.as_log())
    return {**summary.as_log(), "missed": missed, "run": run_key, "ticked": ticked.pathways}


def evaluate_queued(app: Flask) -> dict[str, Any]:
    """The deferred evaluations (MedCom messages queue theirs): no lock needed, rows are claimed with
    SKIP LOCKED, so several schedulers share the work."""
    from coordinator.reminders.scan import evaluate_queued as drain  # noqa: PLC0415

    return drain(get_database(app), get_clock(), app.config).as_log()


def process_inbox(app: Flask) -> dict[str, Any]:
    """The MedCom inbox (ADR 0013): no lock needed, rows are claimed with SKIP LOCKED, so several
    schedulers share the work (one patient's messages stay in order)."""
    from coordinator.messaging.inbox import process_inbox as drain  # noqa: PLC0415

    run_for = timedelta(seconds=app.config["INBOX_RUN_SECONDS"])
    return drain(get_database(app), get_clock(), app.config, run_for=run_for).as_log()


def escalate(app: Flask) -> dict[str, Any]:
    from coordinator.reminders.delivery import escalate_due  # noqa: PLC0415

    database = get_database(app)
    with job_lock(database, "escalate") as granted:
        if not granted:
            return {"skipped": "another scheduler holds the lock"}
        with database.transaction() as session:
            return escalate_due(session, get_clock(), app.config)


def send_digests(app: Flask) -> dict[str, Any]:
    from coordinator.reminders.delivery import queue_digests  # noqa: PLC0415

    database = get_database(app)
    with job_lock(database, "send_digests") as granted:
        if not granted:
            return {"skipped": "another scheduler holds the lock"}
        with database.transaction() as session:
            return queue_digests(session, get_clock(), app.config)


JOBS: dict[str, Callable[[Flask], dict[str, Any]]] = {
    "tick_gaps": tick_gaps,
    "scan_gaps": scan_gaps,
    "evaluate_queued": evaluate_queued,
    "send_outbox": send_outbox,
    "process_inbox": process_inbox,
    "escalate": escalate,
    "send_digests": send_digests,
}


def run_job(app: Flask, name: str) -> dict[str, Any]:
    """Run one job in an app context with the audit channel ``scheduler``; log a structured summary."""
    with app.app_context():
        token = audit_context.set(AuditContext(channel="scheduler", request_id=name))
        try:
            summary = JOBS[name](app)
        except Exception:
            log.exception("scheduler.job_failed", job=name)
            raise
        finally:
            audit_context.reset(token)
    log.info("scheduler.job_done", job=name, **summary)
    return summary


def _digest_times(value: str, setting: str = "DIGEST_TIMES") -> list[time]:
    try:
        return [time.fromisoformat(part.strip()) for part in value.split(",") if part.strip()]
    except ValueError as exc:
        raise click.BadParameter(f"{setting} must be HH:MM[,HH:MM...]: {value!r}") from exc


def build_scheduler(app: Flask) -> Any:
    from apscheduler.schedulers.blocking import BlockingScheduler  # noqa: PLC0415

    scheduler = BlockingScheduler(timezone=COPENHAGEN)
    cfg = app.config

    def add(name: str, **trigger: Any) -> None:
        # Interval jobs run once at start, then every interval (a restart never waits a whole interval).
        scheduler.add_job(
            run_job,
            args=(app, name),
            id=name,
            max_instances=1,
            coalesce=True,
            replace_existing=True,
            next_run_time=datetime.now(COPENHAGEN),
            **trigger,
        )

    add("tick_gaps", trigger="interval", seconds=cfg["SCHEDULER_TICK_SECONDS"])
    # Once at start, too: pathways evaluated before the due times were stored (a new deployment) or
    # anything changed past the triggers while no scheduler ran get their due time now, not at night.
    scheduler.add_job(
        run_job,
        args=(app, "scan_gaps"),
        id="scan_gaps@start",
        trigger="date",
        run_date=datetime.now(COPENHAGEN),
        replace_existing=True,
    )
    full_scan = _digest_times(cfg["SCHEDULER_FULL_SCAN_AT"], "SCHEDULER_FULL_SCAN_AT")
    for at in full_scan:
        scheduler.add_job(
            run_job,
            args=(app, "scan_gaps"),
            id=f"scan_gaps@{at.isoformat('minutes')}",
            trigger="cron",
            hour=at.hour,
            minute=at.minute,
            max_instances=1,
            coalesce=True,
            replace_existing=True,
        )
    add("evaluate_queued", trigger="interval", seconds=cfg["SCHEDULER_QUEUE_SECONDS"])
    add("send_outbox", trigger="interval", seconds=cfg["SCHEDULER_OUTBOX_SECONDS"])
    add("process_inbox", trigger="interval", seconds=cfg["SCHEDULER_INBOX_SECONDS"])
    add("escalate", trigger="interval", minutes=cfg["SCHEDULER_ESCALATION_MINUTES"])
    for at in _digest_times(cfg["DIGEST_TIMES"]):
        scheduler.add_job(
            run_job,
            args=(app, "send_digests"),
            id=f"send_digests@{at.isoformat('minutes')}",
            trigger="cron",
            day_of_week="mon-fri",
            hour=at.hour,
            minute=at.minute,
            max_instances=1,
            coalesce=True,
            replace_existing=True,
        )
    return scheduler


@scheduler_cli.command("run")
def run_command() -> None:
    """Run the scheduler until stopped (Ctrl-C or SIGTERM)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    scheduler = build_scheduler(app)
    log.info("scheduler.started", jobs=[job.id for job in scheduler.get_jobs()])
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        log.info("scheduler.stopped")


@scheduler_cli.command("run-once")
@click.argument("job", type=click.Choice(sorted(JOBS)))
def run_once_command(job: str) -> None:
    """Run one job now and print its summary as JSON."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    click.echo(json.dumps(run_job(app, job), default=str))


def init_app(app: Flask) -> None:
    run_seconds = app.config["OUTBOX_RUN_SECONDS"]
    if isinstance(run_seconds, bool) or not isinstance(run_seconds, int) or run_seconds < 1:
        # An outbox run with no time would never send anything: stop the start, naming the setting.
        raise ValueError(
            f"OUTBOX_RUN_SECONDS must be whole seconds, 1 or more; got {run_seconds!r}"
        )
    overrides = app.config.get("REMINDER_RULES_OVERRIDES")
    if overrides is not None:
        from pathways.reminders import parse_reminder_rules  # noqa: PLC0415

        # A wrong local deadline stops the start, with the field named.
        parse_reminder_rules(overrides)
    app.cli.add_command(scheduler_cli)
