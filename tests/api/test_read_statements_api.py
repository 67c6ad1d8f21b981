"""A single audited read runs three statements before its commit (issue 21): who (the user and the
organisations it acts for), access and data (the plan with its parties, version and the patient's
related organisations), and the audit row. A fourth statement means an N+1 or a lookup came back."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from pathways.clock import FixedClock
from tests import scenario as sc
from tests.api.conftest import Login

# Transaction control (the test's savepoints, SQLite's BEGIN IMMEDIATE) is not the read's own work.
_CONTROL = ("SAVEPOINT", "RELEASE", "ROLLBACK", "BEGIN")


@contextmanager
def statements(engine: sa.Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def note(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if not statement.lstrip().upper().startswith(_CONTROL):
            seen.append(statement)

    sa.event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", note)


def _read(client: FlaskClient, engine: sa.Engine, path: str) -> list[str]:
    assert client.get(path).status_code == 200  # the first call may fill caches
    with statements(engine) as seen:
        response = client.get(path)
    assert response.status_code == 200, response.text
    return seen


def test_each_audited_read_needs_who_access_and_data_and_audit(
    world: sc.Scenario, login: Login, session: Session, clock: FixedClock, connection: sa.Connection
) -> None:
    plan = sc.proposed_plan(session, clock, world)
    session.flush()
    nurse = login(world.nurse)
    case_worker = login(world.case_worker)
    engine = connection.engine
    for client, path in (
        (nurse, f"/api/v1/plans/{plan.id}"),
        (nurse, f"/api/v1/patients/{world.patient.id}/plans"),
        (nurse, f"/fhir/CarePlan/{plan.id}"),
        (nurse, f"/fhir/CarePlan?patient=Patient/{world.patient.id}"),
        (case_worker, f"/api/v1/plans?kommunekode={world.patient.kommunekode}"),
    ):
        seen = _read(client, engine, path)
        assert len(seen) == 3, (path, [s[:80] for s in seen])
        assert seen[-1].lstrip().upper().startswith("INSERT INTO AUDIT_ENTRIES"), path
