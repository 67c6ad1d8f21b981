from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from coordinator.audit.models import AuditEntry
from coordinator.care_pathways.models import Pathway
from coordinator.db import UTCDateTime, _in_utc
from coordinator.organisations.models import Organisation
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
