"""GET /api/v1/plans: only your organisation's plans, filters, cursor pages, and no N+1 queries."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session

from coordinator.audit.models import AuditEntry
from coordinator.care_pathways.services import admit_patient
from coordinator.patients.models import Patient
from coordinator.patients.services import register_patient
from coordinator.plans import services as plans
from pathways.audit import AuditAction
from pathways.clock import FixedClock
from tests import scenario as sc
from tests.api.conftest import Login


def _more_plans(
    session: Session,
    clock: FixedClock,
    w: sc.Scenario,
    count: int,
    kommunekode: str = "101",
    ward_id: int | None = None,
) -> list[int]:
    ids = []
    start = session.scalar(sa.select(sa.func.count()).select_from(Patient)) or 0
    for n in range(start, start + count):
        patient = register_patient(
            session,
            sc.SYSTEM,
            clock,
            given_name="P",
            family_name=f"L{n}",
            kommunekode=kommunekode,
            cpr=f"0303803{n:03d}",
            gp_organisation_id=w.gp_clinic.id,
        )
        pathway = admit_patient(
            session,
            sc.SYSTEM,
            clock,
            patient_id=patient.id,
            ward_id=ward_id or w.ward.id,
            admitted_at=clock.now() - timedelta(days=2),
            idempotency_key=f"list-{kommunekode}-{n}",
        )
        ids.append(plans.create_draft(session, sc.SYSTEM, clock, pathway_id=pathway.id).id)
    return ids


@contextmanager
def count_statements(connection: sa.Connection) -> Iterator[list[str]]:
    seen: list[str] = []

    def before(conn: object, cursor: object, statement: str, *args: object) -> None:
        seen.append(statement)

    event.listen(connection, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(connection, "before_cursor_execute", before)


def test_only_plans_of_your_organisation(
    world: sc.Scenario, login: Login, session: Session, clock: FixedClock
) -> None:
    ours = _more_plans(session, clock, world, 3)
    theirs = _more_plans(session, clock, world, 2, kommunekode="851", ward_id=world.other_ward.id)
    listed = {p["id"] for p in login(world.case_worker).get("/api/v1/plans?limit=100").json}
    assert listed == set(ours)  # Aalborg's plans never show up in København
    other = {p["id"] for p in login(world.other_case_worker).get("/api/v1/plans?limit=100").json}
    assert other == set(theirs)
    assert (
        login(world.other_gp).get("/api/v1/plans").json == []
    )  # the other clinic is no party anywhere
    searches = session.scalars(
        sa.select(AuditEntry).where(AuditEntry.action == AuditAction.SEARCH)
    ).all()
    mine = [e for e in searches if e.actor_id == world.case_worker.id]
    assert len(mine) == 3  # one per patient, written in one batch
    assert sorted(plan for e in mine for plan in e.details["plans"]) == sorted(ours)
    assert {(e.resource_type, e.channel, e.purpose) for e in mine} == {
        ("Plan", "rest", "plan party: plan list")
    }
    assert all(e.request_id and e.patient_id for e in mine)


def test_filters_and_cursor_pages(
    world: sc.Scenario, login: Login, session: Session, clock: FixedClock
) -> None:
    ids = _more_plans(session, clock, world, 5)
    client = login(world.nurse)
    first = client.get("/api/v1/plans?status=draft&kommunekode=0101&limit=2")
    assert [p["id"] for p in first.json] == sorted(ids, reverse=True)[:2]
    next_url = first.headers["Link"].split(";")[0].strip("<>")
    second = client.get(next_url)
    assert [p["id"] for p in second.json] == sorted(ids, reverse=True)[2:4]
    assert client.get("/api/v1/plans?status=agreed").json == []
    bad = client.get("/api/v1/plans?status=bogus&limit=1000")
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json["errors"]} == {"status.0", "limit"}
    assert client.get("/api/v1/plans?kommunekode=999").json["errors"][0]["field"] == "kommunekode"


def test_no_n_plus_one(
    world: sc.Scenario, login: Login, session: Session, clock: FixedClock, connection: sa.Connection
) -> None:
    client = login(world.case_worker)
    _more_plans(session, clock, world, 2)
    client.get("/api/v1/plans?limit=100")  # warm-up: the login user is loaded etc.
    with count_statements(connection) as small:
        assert len(client.get("/api/v1/plans?limit=100").json) == 2
    _more_plans(session, clock, world, 10, kommunekode="101")
    with count_statements(connection) as large:
        assert len(client.get("/api/v1/plans?limit=100").json) == 12
    small_selects = [s for s in small if s.lstrip().upper().startswith("SELECT")]
    large_selects = [s for s in large if s.lstrip().upper().startswith("SELECT")]
    assert small_selects, "the counter must see the request's queries"
    assert len(large_selects) == len(small_selects), (
        large_selects
    )  # as many queries for 12 plans as for 2


def test_dates_and_times_are_rfc_3339_only(world: sc.Scenario, login: Login) -> None:
    client = login(world.nurse)
    assert client.get("/api/v1/plans?review_before=2026-11-26").status_code == 200
    for loose in ("20261126", "2026-W48-4", "2026-11-26T00:00"):
        refused = client.get(f"/api/v1/plans?review_before={loose}")
        assert refused.status_code == 422, loose
        assert [e["field"] for e in refused.json["errors"]] == ["review_before"]
    reminders = "/api/v1/reminders?due_before="
    assert client.get(reminders + "2026-11-26T10:00:00%2B01:00").status_code == 200
    assert client.get(reminders + "2026-11-26T10:00:00Z").status_code == 200
    for loose in ("2026-11-26T10:00:00%2B0100", "20261126T100000Z", "2026-11-26 10:00:00Z"):
        assert client.get(reminders + loose).status_code == 422, loose


def test_a_time_with_no_utc_equivalent_is_refused(world: sc.Scenario, login: Login) -> None:
    """0001-01-01T00:00:00+01:00 is a valid RFC 3339 time that UTC cannot hold (it was a 500)."""
    refused = login(world.nurse).get("/api/v1/reminders?due_before=0001-01-01T00:00:00%2B01:00")
    assert refused.status_code == 422
    assert [e["field"] for e in refused.json["errors"]] == ["due_before"]
