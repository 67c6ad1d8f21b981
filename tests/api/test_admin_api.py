"""Users (administrators), emergency access, and the rule that every patient read leaves one audit entry."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from coordinator.accounts.models import LoginThrottle, User
from coordinator.audit.models import AuditEntry
from coordinator.plans import services as plans
from pathways.audit import AuditAction
from pathways.clock import FixedClock
from pathways.people import Actor
from tests import scenario as sc
from tests.api.conftest import Login
from tests.factories import LoginThrottleFactory


def _admin(
    session: Session, clock: FixedClock, organisation_id: int, role: str = "org_admin"
) -> Actor:
    return sc.staff_member(
        session, clock, organisation_id=organisation_id, role=role, name=f"{role} {organisation_id}"
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


def _lock(user: User, address: str, until: datetime | None) -> LoginThrottle:
    """Five failures and a lockout until `until`, or two failures and no lockout."""
    throttle: LoginThrottle = LoginThrottleFactory(
        user=user,
        address=address,
        failed_count=5 if until else 2,
        last_failed_at=until or user.created_at,
        locked_until=until,
    )
    return throttle


def _lock_entries(session: Session) -> list[AuditEntry]:
    entries = session.scalars(sa.select(AuditEntry).where(AuditEntry.action == AuditAction.UPDATE))
    return sorted(
        (e for e in entries if e.details.get("field") == "login_lock"), key=lambda e: e.id
    )


def test_admins_see_and_lift_the_login_locks_of_their_own_accounts(
    world: sc.Scenario, login: Login, session: Session, clock: FixedClock
) -> None:
    soon = clock.now() + timedelta(minutes=4)
    gp_lock = _lock(world.users["gp"], "10.1.1.1", soon)
    _lock(world.users["gp"], "10.1.1.2", clock.now() - timedelta(seconds=1))  # ran out
    _lock(world.users["gp"], "10.1.1.3", None)  # failures, no lockout
    nurse_lock = _lock(world.users["nurse"], "10.2.2.2", soon + timedelta(minutes=1))
    admin = login(_admin(session, clock, world.gp_clinic.id))

    listed = admin.get("/api/v1/users/login-locks")
    assert listed.status_code == 200, listed.json
    assert listed.json == [
        {
            "id": gp_lock.id,
            "user_id": world.gp.id,
            "username": None,
            "name": world.users["gp"].name,
            "organisation_id": world.gp_clinic.id,
            "address": "10.1.1.1",
            "failed_count": 5,
            "last_failed_at": soon.isoformat(),
            "locked_until": soon.isoformat(),
        }
    ]
    system_admin = login(_admin(session, clock, world.region.id, "system_admin"))
    everyone = system_admin.get("/api/v1/users/login-locks").json
    assert [lock["id"] for lock in everyone] == [nurse_lock.id, gp_lock.id]  # longest first

    assert admin.delete(f"/api/v1/users/login-locks/{nurse_lock.id}").status_code == 403
    assert admin.delete("/api/v1/users/login-locks/424242").status_code == 404
    assert login(world.gp).get("/api/v1/users/login-locks").status_code == 403
    lifted = admin.delete(f"/api/v1/users/login-locks/{gp_lock.id}")
    assert lifted.status_code == 204
    remaining = session.scalars(sa.select(LoginThrottle).order_by(LoginThrottle.id)).all()
    assert [t.address for t in remaining] == ["10.1.1.2", "10.1.1.3", "10.2.2.2"]
    [entry] = _lock_entries(session)
    assert (entry.action, entry.resource_type, entry.resource_id, entry.details) == (
        AuditAction.UPDATE,
        "User",
        str(world.gp.id),
        {"field": "login_lock", "lifted": ["10.1.1.1"], "failed_login_count": 5},
    )

    assert admin.post(f"/api/v1/users/{world.nurse.id}/unlock", json={}).status_code == 403
    assert admin.post(f"/api/v1/users/{world.gp.id}/unlock", json={}).status_code == 204
    remaining = session.scalars(sa.select(LoginThrottle)).all()
    assert [t.address for t in remaining] == ["10.2.2.2"]
    assert [(e.resource_id, e.details) for e in _lock_entries(session)][1:] == [
        (str(world.gp.id), {"field": "login_lock", "lifted": ["10.1.1.2", "10.1.1.3"]})
    ]


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
