"""Users (administrators), emergency access, and the rule that every patient read leaves one audit entry."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from coordinator.accounts.models import User
from coordinator.accounts.services import create_staff_member
from coordinator.audit.models import AuditEntry
from coordinator.plans import services as plans
from pathways.clock import FixedClock
from pathways.people import Actor
from tests import scenario as sc

Login = Callable[[Actor], FlaskClient]


def _admin(
    session: Session, clock: FixedClock, organisation_id: int, role: str = "org_admin"
) -> Actor:
    return sc.actor(
        create_staff_member(
            session,
            sc.SYSTEM,
            clock,
            organisation_id=organisation_id,
            name=f"{role} {organisation_id}",
            role=role,
        )
    )


def test_org_admin_manages_own_accounts(
    world: sc.Scenario, login: Login, session: Session, clock: FixedClock
) -> None:
    admin = login(_admin(session, clock, world.gp_clinic.id))
    listed = admin.get("/api/v1/users").json
    assert {u["organisation_id"] for u in listed} == {world.gp_clinic.id}
    created = admin.post(
        "/api/v1/users",
        json={
            "organisation_id": world.gp_clinic.id,
            "name": "Ny Læge",
            "role": "gp",
            "username": "nylaege",
            "password": "a long temporary password",
        },
    )
    assert created.status_code == 201, created.json
    assert created.json["must_change_password"] is True
    assert "password" not in created.json
    elsewhere = admin.post(
        "/api/v1/users",
        json={"organisation_id": world.ward.id, "name": "X", "role": "discharge_nurse"},
    )
    assert elsewhere.status_code == 403
    reset = admin.post(
        f"/api/v1/users/{world.gp.id}/password-reset", json={"new_password": "short"}
    )
    assert reset.status_code == 422
    assert reset.json["errors"][0]["field"] == "new_password"
    assert (
        admin.post(
            f"/api/v1/users/{world.nurse.id}/password-reset",
            json={"new_password": "another long password"},
        ).status_code
        == 403
    )
    assert login(world.nurse).get("/api/v1/users").status_code == 403


def test_guessable_passwords_are_refused_over_http(
    world: sc.Scenario, login: Login, session: Session, clock: FixedClock
) -> None:
    admin = login(_admin(session, clock, world.gp_clinic.id))
    created = admin.post(
        "/api/v1/users",
        json={
            "organisation_id": world.gp_clinic.id,
            "name": "Ny Læge",
            "role": "gp",
            "username": "nylaege",
            "password": "carepath2026!",
        },
    )
    assert created.status_code == 422
    [error] = created.json["errors"]
    assert (error["field"], error["code"]) == ("password", "weak-personal")
    assert session.scalar(sa.select(sa.func.count()).where(User.username == "nylaege")) == 0
    reset = admin.post(
        f"/api/v1/users/{world.gp.id}/password-reset", json={"new_password": "aaaaaaaaaaaa"}
    )
    assert reset.status_code == 422
    assert [(e["field"], e["code"]) for e in reset.json["errors"]] == [
        ("new_password", "weak-repeat")
    ]
    assert reset.json["errors"][0]["message"].startswith("password is too easy to guess: ")


def test_break_the_glass_over_http(
    world: sc.Scenario, login: Login, session: Session, clock: FixedClock
) -> None:
    stranger = login(world.other_gp)
    url = f"/api/v1/patients/{world.patient.id}"
    assert stranger.get(url).status_code == 403
    short = stranger.post(f"{url}/emergency-access", json={"reason": "akut"})
    assert short.status_code == 422
    granted = stranger.post(
        f"{url}/emergency-access", json={"reason": "akut psykose i venteværelset", "hours": 2}
    )
    assert granted.status_code == 201, granted.json
    assert stranger.get(url).status_code == 200
    auditor = login(_admin(session, clock, world.region.id, role="auditor"))
    pending = auditor.get("/api/v1/emergency-access/unreviewed").json
    assert [g["id"] for g in pending] == [granted.json["id"]]
    reviewed = auditor.post(
        f"/api/v1/emergency-access/{granted.json['id']}/review", json={"note": "begrundet"}
    )
    assert reviewed.json["reviewed_at"] is not None
    assert auditor.get("/api/v1/emergency-access/unreviewed").json == []
    assert stranger.get("/api/v1/emergency-access/unreviewed").status_code == 403


READS = [
    "/api/v1/patients/{patient}",
    "/api/v1/patients/{patient}/plans",
    "/api/v1/patients/{patient}/contacts",
    "/api/v1/patients/{patient}/access-log",
    "/api/v1/pathways/{pathway}",
    "/api/v1/plans/{plan}",
    "/api/v1/plans/{plan}/versions",
    "/api/v1/plans/{plan}/diff?from=1&to=1",
    "/api/v1/plans?patient_id={patient}",
]


@pytest.mark.parametrize("template", READS)
def test_every_patient_read_leaves_exactly_one_audit_entry(
    world: sc.Scenario, login: Login, session: Session, clock: FixedClock, template: str
) -> None:
    plan = plans.create_draft(session, world.nurse, clock, pathway_id=world.pathway.id)
    url = template.format(patient=world.patient.id, pathway=world.pathway.id, plan=plan.id)
    count = sa.select(sa.func.count(AuditEntry.id)).where(AuditEntry.patient_id == world.patient.id)
    before = session.scalar(count)
    response = login(world.gp).get(url)
    assert response.status_code == 200, response.json
    assert session.scalar(count) == before + 1
    entry = session.scalars(sa.select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1)).one()
    assert (entry.actor_id, entry.patient_id, entry.channel) == (
        world.gp.id,
        world.patient.id,
        "rest",
    )
    assert entry.request_id  # ties the entry to the request's X-Request-ID
