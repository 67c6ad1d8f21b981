from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from pathways.clock import FixedClock
from pathways.people import Actor
from tests import scenario as sc
from tests.api.conftest import Login


def test_search_the_directory_by_kind_and_sor(world: sc.Scenario, login: Login) -> None:
    client = login(world.case_worker)
    wards = client.get("/api/v1/organisations?kind=ward")
    assert wards.status_code == 200
    assert {o["name"] for o in wards.json} == {"Afsnit 1", "Afsnit 2"}
    by_sor = client.get("/api/v1/organisations?sor_code=90000000000002").json
    assert [o["id"] for o in by_sor] == [world.ward.id]
    assert by_sor[0]["sector"] == "region"
    assert by_sor[0]["parent_id"] == world.centre.id
    by_name = client.get("/api/v1/organisations?name=kommune").json
    assert world.municipality.id in {o["id"] for o in by_name}


def test_pages_follow_the_link_header(world: sc.Scenario, login: Login) -> None:
    client = login(world.gp)
    seen: list[int] = []
    url: str | None = "/api/v1/organisations?limit=3"
    pages = 0
    while url:
        response = client.get(url)
        assert response.status_code == 200
        seen += [o["id"] for o in response.json]
        link = response.headers.get("Link")
        url = link[1 : link.index(">")] if link else None
        pages += 1
    assert seen == sorted(seen)
    assert len(seen) == len(set(seen)) >= 8
    assert pages >= 3


def test_one_organisation_and_a_missing_one(world: sc.Scenario, login: Login) -> None:
    client = login(world.nurse)
    assert client.get(f"/api/v1/organisations/{world.gp_clinic.id}").json["ydernummer"]
    missing = client.get("/api/v1/organisations/999999")
    assert missing.status_code == 404
    assert missing.content_type == "application/problem+json"


def test_only_administrators_register_organisations(world: sc.Scenario, login: Login) -> None:
    body = {"name": "Ny Kommune", "kind": "municipality", "kommunekode": "147"}
    refused = login(world.case_worker).post("/api/v1/organisations", json=body)
    assert refused.status_code == 403
    assert refused.content_type == "application/problem+json"


def test_the_directory_needs_a_login(world: sc.Scenario, client: FlaskClient) -> None:
    assert client.get("/api/v1/organisations").status_code == 401


def test_bad_filters_are_problem_details(world: sc.Scenario, login: Login) -> None:
    response = login(world.gp).get("/api/v1/organisations?kind=castle&limit=500")
    assert response.status_code == 422
    assert {e["field"] for e in response.json["errors"]} == {"kind", "limit"}


def test_a_system_administrator_registers_an_organisation(
    world: sc.Scenario, login: Login, session: Session, clock: FixedClock
) -> None:
    admin = _admin(world, session, clock)
    body = {"name": "Gladsaxe Kommune", "kind": "municipality", "kommunekode": "159"}
    created = login(admin).post("/api/v1/organisations", json=body)
    assert created.status_code == 201, created.json
    assert created.json["sector"] == "municipality"
    assert created.headers["Location"].endswith(f"/api/v1/organisations/{created.json['id']}")
    invalid = login(admin).post(
        "/api/v1/organisations", json={"name": "X", "kind": "municipality", "kommunekode": "999"}
    )
    assert invalid.status_code == 422


def _admin(world: sc.Scenario, session: Session, clock: FixedClock) -> Actor:
    return sc.staff_member(
        session, clock, organisation_id=world.region.id, role="system_admin", name="Admin"
    )


MUNI_SOR, MUNI_GLN = "990300000016001", "5790000000036"


def test_an_administrator_gives_a_municipality_its_messaging_address(
    world: sc.Scenario, login: Login, session: Session, clock: FixedClock
) -> None:
    import sqlalchemy as sa

    from coordinator.audit.models import AuditEntry

    client = login(_admin(world, session, clock))
    url = f"/api/v1/organisations/{world.municipality.id}"
    read = client.get(url)
    assert read.headers["ETag"] == '"1"'
    changed = client.patch(
        url,
        json={"sor_code": MUNI_SOR, "gln": MUNI_GLN, "name": "Københavns Kommune, Psykiatri"},
        headers={"If-Match": read.headers["ETag"]},
    )
    assert changed.status_code == 200, changed.json
    assert changed.headers["ETag"] == '"2"'
    assert (changed.json["sor_code"], changed.json["gln"], changed.json["name"]) == (
        MUNI_SOR,
        MUNI_GLN,
        "Københavns Kommune, Psykiatri",
    )
    assert changed.json["kommunekode"] == "101"
    session.refresh(world.municipality)
    assert (world.municipality.sor_code, world.municipality.gln) == (MUNI_SOR, MUNI_GLN)
    audit = session.scalars(
        sa.select(AuditEntry).where(
            AuditEntry.resource_type == "Organisation",
            AuditEntry.resource_id == str(world.municipality.id),
            AuditEntry.action == "update",
        )
    ).one()
    assert audit.details["changed"] == {
        "name": {"from": "Københavns Kommune", "to": "Københavns Kommune, Psykiatri"},
        "sor_code": {"from": None, "to": MUNI_SOR},
        "gln": {"from": None, "to": MUNI_GLN},
    }
    stale = client.patch(url, json={"name": "Old"}, headers={"If-Match": '"1"'})
    assert stale.status_code == 412
    assert client.patch(url, json={"name": "No If-Match"}).status_code == 428


def test_bad_identifiers_and_a_taken_sor_code_change_nothing(
    world: sc.Scenario, login: Login, session: Session, clock: FixedClock
) -> None:
    client = login(_admin(world, session, clock))
    url = f"/api/v1/organisations/{world.municipality.id}"
    bad = client.patch(
        url, json={"sor_code": "12", "gln": "5790000000037"}, headers={"If-Match": '"1"'}
    )
    assert bad.status_code == 422
    assert [(e["field"], e["message"]) for e in bad.json["errors"]] == [
        ("sor_code", "SOR code must be 11 to 18 digits"),
        ("gln", "GLN check digit is wrong (GS1 mod-10)"),
    ]
    taken = client.patch(url, json={"sor_code": "90000000000002"}, headers={"If-Match": '"1"'})
    assert taken.status_code == 409
    assert "already registered to 'Afsnit 1'" in taken.json["detail"]
    frozen = client.patch(url, json={"kommunekode": "147"}, headers={"If-Match": '"1"'})
    assert frozen.status_code == 422
    required = client.patch(
        f"/api/v1/organisations/{world.ward.id}",
        json={"sor_code": None},
        headers={"If-Match": '"1"'},
    )
    assert required.status_code == 422
    assert required.json["errors"][0]["field"] == "sor_code"
    session.refresh(world.municipality)
    assert (world.municipality.sor_code, world.municipality.gln, world.municipality.version) == (
        None,
        None,
        1,
    )


def test_only_administrators_edit_organisations(world: sc.Scenario, login: Login) -> None:
    refused = login(world.case_worker).patch(
        f"/api/v1/organisations/{world.municipality.id}",
        json={"sor_code": MUNI_SOR},
        headers={"If-Match": '"1"'},
    )
    assert refused.status_code == 403
    assert (
        login(world.case_worker)
        .get(f"/api/v1/organisations/{world.municipality.id}")
        .json["sor_code"]
        is None
    )
