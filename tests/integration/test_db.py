from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from coordinator.audit.models import AuditEntry
from coordinator.care_pathways.models import Pathway
from coordinator.db import (
    CLOCK_INFO,
    CONFIG_INFO,
    CommitHook,
    Database,
    UTCDateTime,
    _in_utc,
    session_clock,
    session_config,
)
from coordinator.organisations.models import Organisation
from coordinator.reminders.triggers import HOOK as REMINDERS_HOOK
from pathways.clock import FixedClock
from pathways.stays import PathwayStatus
from tests.factories import PatientFactory, WardFactory


def test_timestamps_come_back_aware_and_in_utc(session: Session) -> None:
    ward = WardFactory(created_at=datetime(2026, 6, 1, 14, 0, tzinfo=timezone(timedelta(hours=2))))
    session.expire_all()
    loaded = session.get(Organisation, ward.id)
    assert loaded is not None
    assert loaded.created_at == datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    assert loaded.created_at.tzinfo is UTC


def test_values_in_another_zone_are_converted_and_postgresql_sessions_run_in_utc(
    session: Session,
) -> None:
    column = UTCDateTime()
    copenhagen = datetime(2026, 6, 1, 14, 0, tzinfo=ZoneInfo("Europe/Copenhagen"))
    converted = column.process_result_value(copenhagen, session.get_bind().dialect)
    assert converted == copenhagen
    assert converted is not None
    assert converted.tzinfo is UTC
    if session.get_bind().dialect.name == "postgresql":
        assert session.scalar(sa.text("SHOW timezone")) == "UTC"


def test_postgresql_urls_keep_their_options_and_gain_utc() -> None:
    url = _in_utc(sa.make_url("postgresql+psycopg://u@h/db?options=-csearch_path%3Dother"))
    assert url.query["options"] == "-csearch_path=other -c timezone=UTC"
    assert _in_utc(sa.make_url("postgresql+psycopg://u@h/db")).query["options"] == "-c timezone=UTC"


def test_naive_timestamps_are_refused(session: Session) -> None:
    WardFactory.build()  # building touches no database
    with pytest.raises(sa.exc.StatementError, match="naive datetime"):
        WardFactory(created_at=datetime(2026, 6, 1, 12, 0))  # noqa: DTZ001 - the point of the test


def test_optimistic_version_detects_a_lost_update(
    session: Session, connection: sa.Connection
) -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    pathway = Pathway(
        patient=PatientFactory(),
        ward=WardFactory(),
        status=PathwayStatus.ADMITTED,
        admitted_at=t0,
        created_at=t0,
        updated_at=t0,
    )
    session.add(pathway)
    session.flush()
    assert pathway.version == 1
    # Somebody else changes the row behind this session's back...
    connection.execute(sa.update(Pathway).where(Pathway.id == pathway.id).values(version=2))
    pathway.status = PathwayStatus.DISCHARGED
    with pytest.raises(StaleDataError):
        session.flush()


def test_savepoint_rollback_keeps_the_outer_test_transaction(session: Session) -> None:
    ward = WardFactory()
    nested = session.begin_nested()
    session.add(
        AuditEntry(
            occurred_at=datetime(2026, 1, 1, tzinfo=UTC),
            actor_kind="system",
            actor_name="t",
            resource_type="X",
            action="read",
            outcome="allowed",
        )
    )
    session.flush()
    nested.rollback()
    assert session.scalar(sa.select(sa.func.count(AuditEntry.id))) == 0
    assert session.get(Organisation, ward.id) is not None


def test_the_audit_log_is_append_only(session: Session) -> None:
    entry = AuditEntry(
        occurred_at=datetime(2026, 1, 1, tzinfo=UTC),
        actor_kind="system",
        actor_name="t",
        resource_type="Patient",
        action="read",
        outcome="allowed",
    )
    session.add(entry)
    session.flush()
    for statement in (
        sa.update(AuditEntry).where(AuditEntry.id == entry.id).values(actor_name="someone else"),
        sa.delete(AuditEntry).where(AuditEntry.id == entry.id),
    ):
        with pytest.raises(sa.exc.DatabaseError, match="append-only"), session.begin_nested():
            session.execute(statement)
    session.expire_all()
    assert session.get(AuditEntry, entry.id).actor_name == "t"


def test_commit_hooks_run_in_their_databases_sessions_only_in_order_with_its_clock_and_config(
    database_url: str, connection: sa.Connection
) -> None:
    clock = FixedClock(datetime(2026, 12, 4, 9, 0, tzinfo=UTC))
    calls: list[tuple[str, str, datetime, object]] = []

    def hook(name: str) -> CommitHook:
        def note(session: Session, _context: object) -> None:
            session.info.setdefault(name, set()).add("noted")

        def act(session: Session) -> None:
            noted = ",".join(sorted(session.info.pop(name, set())))
            calls.append((name, noted, session_clock(session).now(), session_config(session)["X"]))

        return CommitHook(name, note=note, act=act, keys=(name,))

    database = Database(
        database_url,
        info={CLOCK_INFO: clock, CONFIG_INFO: {"X": 7}},
        hooks=(hook("first"), hook("second")),
    )
    try:
        with database.sessionmaker(
            bind=connection, join_transaction_mode="create_savepoint"
        ) as own:
            own.add(WardFactory.build())
            own.flush()  # use cases flush; the hooks act on what was flushed
            own.commit()
        with Session(bind=connection, join_transaction_mode="create_savepoint") as plain:
            plain.add(WardFactory.build())
            plain.flush()
            plain.commit()
    finally:
        database.dispose()
    assert calls == [("first", "noted", clock.now(), 7), ("second", "noted", clock.now(), 7)]
    # Importing coordinator listens on no session class: the app's hooks are its database's.
    assert not sa.event.contains(Session, "before_commit", REMINDERS_HOOK.act)
