"""The administration use cases the web pages added: accounts (list, one-time passwords, role and unit,
deactivation), system clients listed per organisation, the audit log's export and new filters, and the
list of emergency accesses to review."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from coordinator.access.services import emergency_access_for_review, grant_emergency_access
from coordinator.accounts import services as accounts
from coordinator.audit import queries
from coordinator.audit.queries import AuditFilter, audit_csv_lines, export_audit, query_audit
from coordinator.clients.services import list_clients, register_client
from pathways.audit import AuditAction
from pathways.clock import FixedClock
from pathways.errors import AuthenticationFailed, Conflict, PermissionDenied, ValidationFailed
from pathways.people import Actor, Role
from tests import scenario as sc
from tests.integration.test_oauth_clients import ec_key, public_jwks


@pytest.fixture
def region_admin(session: Session, clock: FixedClock, world: sc.Scenario) -> Actor:
    return sc.staff_member(
        session, clock, organisation_id=world.region.id, role="org_admin", name="Region Admin"
    )


@pytest.fixture
def auditor(session: Session, clock: FixedClock, world: sc.Scenario) -> Actor:
    return sc.staff_member(
        session, clock, organisation_id=world.region.id, role="auditor", name="Revisor"
    )


def test_list_staff_and_units_cover_the_organisation_and_the_units_below_it(
    session: Session, world: sc.Scenario, region_admin: Actor
) -> None:
    names = {u.name for u in accounts.list_staff(session, region_admin, world.region.id)}
    assert {world.nurse.name, world.chief.name, region_admin.name} <= names
    assert world.case_worker.name not in names
    units = accounts.administered_organisations(session, region_admin, world.region.id)
    assert units[0].id == world.region.id
    assert {u.id for u in units} == {
        world.region.id,
        world.centre.id,
        world.ward.id,
        world.other_ward.id,
    }
    with pytest.raises(PermissionDenied):
        accounts.list_staff(session, region_admin, world.municipality.id)
    with pytest.raises(PermissionDenied):
        accounts.list_staff(session, world.nurse, world.ward.id)
    assert accounts.grantable_roles(region_admin) == tuple(
        r for r in Role if r not in (Role.SYSTEM_ADMIN, Role.AUDITOR)
    )


def test_a_new_account_with_a_login_gets_a_one_time_password(
    session: Session, clock: FixedClock, world: sc.Scenario, region_admin: Actor
) -> None:
    user, password = accounts.create_staff_member_with_one_time_password(
        session,
        region_admin,
        clock,
        organisation_id=world.ward.id,
        name="Ny Sygeplejerske",
        role="discharge_nurse",
        username="ny.sygeplejerske",
    )
    assert password is not None
    assert user.must_change_password is True
    assert accounts.verify_password(user, password)
    without, nothing = accounts.create_staff_member_with_one_time_password(
        session,
        region_admin,
        clock,
        organisation_id=world.ward.id,
        name="Uden Login",
        role="ward_staff",
    )
    assert nothing is None
    assert (without.password_hash, without.must_change_password) == (None, False)
    again = accounts.issue_one_time_password(session, region_admin, clock, user.id)
    assert again != password
    assert accounts.verify_password(user, again)


def test_change_role_and_unit_checks_the_sector_the_grant_and_the_organisation(
    session: Session, clock: FixedClock, world: sc.Scenario, region_admin: Actor
) -> None:
    nurse = world.nurse.id
    user = accounts.change_staff_member(
        session, region_admin, clock, nurse, role="ward_staff", organisation_id=world.other_ward.id
    )
    assert (user.role, user.organisation_id) == (Role.WARD_STAFF, world.other_ward.id)
    (entry,) = sc.audit_entries(
        session, resource_type="User", resource_id=str(nurse), action=AuditAction.UPDATE
    )
    assert entry.details == {
        "changes": {
            "role": ["discharge_nurse", "ward_staff"],
            "organisation_id": [world.ward.id, world.other_ward.id],
        }
    }
    with pytest.raises(ValidationFailed) as wrong_sector:
        accounts.change_staff_member(
            session, region_admin, clock, nurse, role="case_worker", organisation_id=world.ward.id
        )
    assert [e.field for e in wrong_sector.value.errors] == ["role"]
    with pytest.raises(PermissionDenied):
        accounts.change_staff_member(
            session, region_admin, clock, nurse, role="auditor", organisation_id=world.ward.id
        )
    with pytest.raises(PermissionDenied):  # out of the administrator's organisation
        accounts.change_staff_member(
            session,
            region_admin,
            clock,
            nurse,
            role="case_worker",
            organisation_id=world.municipality.id,
        )
    with pytest.raises(PermissionDenied):
        accounts.change_staff_member(
            session,
            region_admin,
            clock,
            world.case_worker.id,
            role="case_worker",
            organisation_id=world.municipality.id,
        )
    assert (user.role, user.organisation_id) == (Role.WARD_STAFF, world.other_ward.id)


def test_a_deactivated_account_cannot_log_in_and_nobody_deactivates_themselves(
    session: Session, clock: FixedClock, world: sc.Scenario, region_admin: Actor
) -> None:
    user, password = accounts.create_staff_member_with_one_time_password(
        session,
        region_admin,
        clock,
        organisation_id=world.ward.id,
        name="Snart Væk",
        role="ward_staff",
        username="snart.vaek",
    )
    assert password is not None
    accounts.set_staff_member_active(session, region_admin, clock, user.id, active=False)
    with pytest.raises(AuthenticationFailed):
        accounts.authenticate(session, clock, "snart.vaek", password, address="127.0.0.1")
    accounts.set_staff_member_active(session, region_admin, clock, user.id, active=True)
    assert accounts.authenticate(session, clock, "snart.vaek", password, address="127.0.0.1")
    with pytest.raises(Conflict):
        accounts.set_staff_member_active(
            session, region_admin, clock, region_admin.id or 0, active=False
        )
    changes = [
        e.details
        for e in sc.audit_entries(session, resource_type="User", resource_id=str(user.id))
        if e.details.get("field") == "is_active"
    ]
    assert changes == [
        {"field": "is_active", "is_active": False},
        {"field": "is_active", "is_active": True},
    ]


def test_an_org_admin_lists_the_clients_of_their_organisation_only(
    session: Session, clock: FixedClock, world: sc.Scenario, region_admin: Actor
) -> None:
    def register(org_id: int, name: str) -> None:
        register_client(
            session,
            Actor.system("test"),
            clock,
            organisation_id=org_id,
            name=name,
            scopes="system/CarePlan.read",
            jwks=public_jwks(ec_key(name)),
        )

    register(world.ward.id, "ward-ehr")
    register(world.municipality.id, "muni-system")
    assert [c.name for c in list_clients(session, region_admin)] == ["ward-ehr"]
    assert {c.name for c in list_clients(session, Actor.system("test"))} == {
        "ward-ehr",
        "muni-system",
    }
    with pytest.raises(PermissionDenied):
        list_clients(session, world.nurse)


def test_the_export_reads_every_filtered_entry_in_batches_and_is_logged(
    session: Session,
    clock: FixedClock,
    world: sc.Scenario,
    auditor: Actor,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(queries, "EXPORT_BATCH", 2)
    expected = [e.id for e in reversed(sc.audit_entries(session, resource_type="Organisation"))]
    assert len(expected) > 2
    entries = export_audit(session, auditor, clock, AuditFilter(resource_type="Organisation"))
    session.commit()  # as the door does before the download streams
    rows = list(audit_csv_lines(entries))
    assert rows[0].strip() == ",".join(queries.CSV_COLUMNS)
    assert [int(r.split(",", 1)[0]) for r in rows[1:]] == expected
    (logged,) = sc.audit_entries(session, actor_id=auditor.id, action=AuditAction.EXPORT)
    assert logged.details["count"] == len(expected)
    with pytest.raises(PermissionDenied):
        export_audit(session, world.nurse, clock, AuditFilter())


def test_a_cpr_filter_matches_the_patient_and_never_logs_the_number(
    session: Session, clock: FixedClock, world: sc.Scenario, auditor: Actor
) -> None:
    cpr = world.patient.cpr
    assert cpr
    found = query_audit(session, auditor, clock, AuditFilter(patient_cpr=cpr))
    assert found
    assert {e.patient_id for e in found} == {world.patient.id}
    unknown = query_audit(session, auditor, clock, AuditFilter(patient_cpr="0101901234"))
    assert unknown == []
    logged = sc.audit_entries(session, actor_id=auditor.id, resource_type="AuditLog")
    assert [e.details["filters"]["patient_cpr"] for e in logged] == [
        f"patient {world.patient.id}",
        "no patient",
    ]
    with pytest.raises(ValidationFailed) as bad:
        query_audit(session, auditor, clock, AuditFilter(patient_cpr="12"))
    assert [e.field for e in bad.value.errors] == ["patient_cpr"]


def test_emergency_accesses_to_review_are_for_auditors_and_the_reading_is_audited(
    session: Session, clock: FixedClock, world: sc.Scenario, auditor: Actor
) -> None:
    grant = grant_emergency_access(
        session,
        world.other_nurse,
        clock,
        patient_id=world.patient.id,
        reason="Akut indlagt om natten, journal nødvendig",
        duration=timedelta(hours=1),
    )
    (row,) = emergency_access_for_review(session, auditor, clock)
    assert (row.id, row.user_name, row.patient_id) == (
        grant.id,
        world.other_nurse.name,
        world.patient.id,
    )
    assert sc.audit_entries(session, actor_id=auditor.id, resource_type="EmergencyAccess")
    with pytest.raises(PermissionDenied):
        emergency_access_for_review(session, world.nurse, clock)
