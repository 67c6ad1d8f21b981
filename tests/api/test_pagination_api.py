"""Every list that can grow pages with a Link header (RFC 8288) and a bounded page size."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from pathways.clock import FixedClock
from pathways.people import Actor
from tests import scenario as sc
from tests.api.conftest import Login


def _walk(client: FlaskClient, url: str) -> tuple[list[int], int]:
    seen: list[int] = []
    pages = 0
    next_url: str | None = url
    while next_url:
        response = client.get(next_url)
        assert response.status_code == 200, response.json
        seen += [item["id"] for item in response.json]
        link = response.headers.get("Link")
        next_url = link[1 : link.index(">")] if link else None
        pages += 1
    return seen, pages


def _staff(session: Session, clock: FixedClock, org_id: int, role: str) -> Actor:
    return sc.staff_member(session, clock, organisation_id=org_id, role=role, name=f"{role} x")


def test_users_page_by_id(
    world: sc.Scenario, login: Login, session: Session, clock: FixedClock
) -> None:
    admin = _staff(session, clock, world.centre.id, "org_admin")
    ids, pages = _walk(login(admin), "/api/v1/users?limit=2")
    assert ids == sorted(ids)
    assert len(ids) == len(set(ids)) >= 4  # the centre's wards' staff and the admin
    assert pages >= 2
    assert login(admin).get("/api/v1/users?limit=501").status_code == 422


def test_the_audit_log_pages_newest_first(
    world: sc.Scenario, login: Login, session: Session, clock: FixedClock
) -> None:
    auditor = _staff(session, clock, world.region.id, "auditor")
    ids, pages = _walk(login(auditor), "/api/v1/audit?limit=5")
    assert ids == sorted(ids, reverse=True)
    assert len(ids) == len(set(ids)) > 5
    assert pages >= 2
