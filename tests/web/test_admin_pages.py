"""Administration pages: users and units, system clients, failed messages, the audit log and the review
of emergency access (coordinator/web/admin)."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric import ec
from flask import Flask
from joserfc.jwk import ECKey
from sqlalchemy.orm import Session

from coordinator.access.models import EmergencyAccess
from coordinator.access.services import grant_emergency_access
from coordinator.accounts.models import User
from coordinator.accounts.services import verify_password
from coordinator.audit.queries import CSV_COLUMNS
from coordinator.audit.services import record
from coordinator.clients.models import ApiClient
from coordinator.messaging.models import InboundMessage, InboxStatus
from coordinator.outbox.models import OutboxChannel, OutboxMessage, OutboxStatus
from coordinator.outbox.services import enqueue
from pathways.audit import AuditAction
from pathways.clock import FixedClock
from pathways.people import Actor
from tests import scenario as sc
from tests.web.conftest import Login, form_post

_PASSWORD = re.compile(r'data-testid="one-time-password">([^<]+)<')


@pytest.fixture
def region_admin(session: Session, clock: FixedClock, world: sc.Scenario) -> Actor:
    return sc.staff_member(
        session, clock, organisation_id=world.region.id, role="org_admin", name="Niels Admin"
    )


@pytest.fixture
def auditor(session: Session, clock: FixedClock, world: sc.Scenario) -> Actor:
    return sc.staff_member(
        session, clock, organisation_id=world.region.id, role="auditor", name="Eva Revisor"
    )


@pytest.fixture
def system_admin(session: Session, clock: FixedClock, world: sc.Scenario) -> Actor:
    return sc.staff_member(
        session, clock, organisation_id=world.region.id, role="system_admin", name="Kasper Sys"
    )


def _user(session: Session, **where: Any) -> User | None:
    session.expire_all()
    query = sa.select(User)
    for column, value in where.items():
        query = query.where(getattr(User, column) == value)
    return session.scalars(query).one_or_none()


# ---------------------------------------------------------------------------- users and units
def test_org_admin_sees_the_users_and_units_of_their_organisation_only(
    world: sc.Scenario, login: Login, region_admin: Actor
) -> None:
    page = login(region_admin).get("/admin")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert world.nurse.name in html  # a ward below the region
    assert world.case_worker.name not in html  # the municipality is not theirs
    units = html[html.index('data-testid="units"') :]
    assert "Afsnit 1" in units
    assert "PC Test" in units
    assert "Københavns Kommune" not in units


def test_org_admin_creates_a_user_and_sees_the_one_time_password_once(
    session: Session, world: sc.Scenario, login: Login, region_admin: Actor
) -> None:
    client = login(region_admin)
    answer = form_post(
        client,
        "/admin",
        "/admin/users",
        {
            "name": "Mette Nyansat",
            "username": "mette.nyansat",
            "role": "discharge_nurse",
            "organisation_id": world.ward.id,
            "title": "Sygeplejerske",
            "email": "mette@test.example",
            "phone": "",
        },
    )
    assert answer.status_code == 200
    assert answer.headers["Cache-Control"] == "no-store"
    password = _PASSWORD.search(answer.get_data(as_text=True))
    assert password is not None
    user = _user(session, username="mette.nyansat")
    assert user is not None
    assert user.organisation_id == world.ward.id
    assert user.must_change_password is True
    assert verify_password(user, password.group(1))
    created = sc.audit_entries(session, resource_type="User", resource_id=str(user.id))
    assert [e.action for e in created] == [AuditAction.CREATE]
    # Shown once: the list and the account page never show it again.
    for page in ("/admin", f"/admin/users/{user.id}"):
        assert password.group(1) not in client.get(page).get_data(as_text=True)


def test_bad_input_is_shown_next_to_the_field_and_nothing_is_created(
    session: Session, world: sc.Scenario, login: Login, region_admin: Actor
) -> None:
    before = sc.count(session, User)
    client = login(region_admin)
    answer = form_post(
        client,
        "/admin",
        "/admin/users",
        {
            "name": "Mette Nyansat",
            "username": "Mette Nyansat!",
            "role": "discharge_nurse",
            "organisation_id": world.ward.id,
        },
    )
    html = answer.get_data(as_text=True)
    assert answer.status_code == 422
    error = re.search(r'id="username-error">(.*?)</span>\s*(.*?)</span>', html, re.S)
    assert error is not None
    assert "Brug 3-64" in error.group(2) or "Use 3-64" in error.group(2)
    assert 'aria-describedby="username-hint username-error"' in html
    assert 'value="Mette Nyansat"' in html  # what was typed is kept
    assert sc.count(session, User) == before
    # A role that does not exist in the unit's sector, and a missing name.
    answer = form_post(
        client,
        "/admin",
        "/admin/users",
        {"name": "", "username": "", "role": "gp", "organisation_id": world.ward.id},
    )
    html = answer.get_data(as_text=True)
    assert answer.status_code == 422
    assert 'id="name-error"' in html
    assert sc.count(session, User) == before


def test_a_taken_username_is_shown_next_to_the_field(
    session: Session, world: sc.Scenario, login: Login, region_admin: Actor
) -> None:
    client = login(region_admin)
    data = {
        "name": "X Y",
        "username": "x.y",
        "role": "ward_staff",
        "organisation_id": world.ward.id,
    }
    assert form_post(client, "/admin", "/admin/users", data).status_code == 200
    before = sc.count(session, User)
    answer = form_post(client, "/admin", "/admin/users", {**data, "name": "X Z"})
    assert answer.status_code == 422
    assert 'id="username-error"' in answer.get_data(as_text=True)
    assert sc.count(session, User) == before


def test_org_admin_cannot_see_or_change_another_organisations_users(
    session: Session, world: sc.Scenario, login: Login, region_admin: Actor
) -> None:
    client = login(region_admin)
    case_worker = world.case_worker.id
    assert client.get(f"/admin?organisation_id={world.municipality.id}").status_code == 404
    assert client.get(f"/admin/users/{case_worker}").status_code == 404
    answer = form_post(
        client,
        "/admin",
        f"/admin/users/{case_worker}",
        {"role": "support_worker", "organisation_id": world.municipality.id},
    )
    assert answer.status_code == 404
    answer = form_post(client, "/admin", f"/admin/users/{case_worker}/deactivate", {})
    assert answer.status_code == 404
    answer = form_post(client, "/admin", f"/admin/users/{case_worker}/password", {})
    assert answer.status_code == 404
    user = _user(session, id=case_worker)
    assert user is not None
    assert (user.role.value, user.is_active) == ("case_worker", True)
    assert "Københavns Kommune" not in answer.get_data(as_text=True)


def test_org_admin_moves_a_user_to_another_unit_deactivates_and_resets_the_password(
    session: Session, world: sc.Scenario, login: Login, region_admin: Actor
) -> None:
    client = login(region_admin)
    nurse = world.nurse.id
    page = f"/admin/users/{nurse}"
    answer = form_post(
        client, page, page, {"role": "ward_staff", "organisation_id": world.other_ward.id}
    )
    assert answer.status_code == 303
    user = _user(session, id=nurse)
    assert user is not None
    assert (user.role.value, user.organisation_id) == ("ward_staff", world.other_ward.id)
    # The municipality's roles do not exist in a ward: refused next to the field, nothing changed.
    answer = form_post(
        client, page, page, {"role": "case_worker", "organisation_id": world.ward.id}
    )
    assert answer.status_code == 422
    assert 'id="role-error"' in answer.get_data(as_text=True)
    user = _user(session, id=nurse)
    assert user is not None
    assert (user.role.value, user.organisation_id) == ("ward_staff", world.other_ward.id)
    # Deactivate, reset the password (shown once), activate again.
    assert form_post(client, page, f"{page}/deactivate", {}).status_code == 303
    assert _user(session, id=nurse).is_active is False  # type: ignore[union-attr]
    answer = form_post(client, page, f"{page}/password", {})
    password = _PASSWORD.search(answer.get_data(as_text=True))
    assert password is not None
    user = _user(session, id=nurse)
    assert user is not None
    assert user.must_change_password is True
    assert verify_password(user, password.group(1))
    assert form_post(client, page, f"{page}/activate", {}).status_code == 303
    assert _user(session, id=nurse).is_active is True  # type: ignore[union-attr]
    changes = sc.audit_entries(
        session, resource_type="User", resource_id=str(nurse), action=AuditAction.UPDATE
    )
    assert [e.details.get("field") or "changes" for e in changes] == [
        "changes",
        "is_active",
        "password",
        "is_active",
    ]


def test_org_admin_cannot_make_an_auditor_or_deactivate_themselves(
    session: Session, world: sc.Scenario, login: Login, region_admin: Actor
) -> None:
    client = login(region_admin)
    html = client.get("/admin").get_data(as_text=True)
    assert 'value="auditor"' not in html
    assert 'value="system_admin"' not in html
    answer = form_post(
        client,
        "/admin",
        "/admin/users",
        {"name": "A B", "username": "", "role": "auditor", "organisation_id": world.region.id},
    )
    assert answer.status_code == 422  # not a choice the form offers
    own = f"/admin/users/{region_admin.id}"
    assert "/deactivate" not in client.get(own).get_data(as_text=True)
    answer = form_post(client, own, f"{own}/deactivate", {})
    assert answer.status_code == 409
    assert "deaktivere din egen konto" in answer.get_data(as_text=True)
    assert _user(session, id=region_admin.id).is_active is True  # type: ignore[union-attr]


def test_a_form_without_its_csrf_token_is_refused(
    session: Session, world: sc.Scenario, login: Login, region_admin: Actor
) -> None:
    before = sc.count(session, User)
    answer = login(region_admin).post(
        "/admin/users",
        data={"name": "A B", "role": "ward_staff", "organisation_id": world.ward.id},
    )
    assert answer.status_code == 400
    assert sc.count(session, User) == before


def test_a_nurse_is_refused_every_administration_page(world: sc.Scenario, login: Login) -> None:
    client = login(world.nurse)
    for page in (
        "/admin",
        f"/admin/users/{world.nurse.id}",
        "/admin/clients",
        "/admin/outbox",
        "/admin/audit-log",
        "/admin/audit-log.csv",
        "/admin/emergency-access",
    ):
        answer = client.get(page)
        assert answer.status_code == 404, page
        assert "Siden blev ikke fundet" in answer.get_data(as_text=True), page


def test_the_menu_shows_administration_to_administrators_only(
    world: sc.Scenario, login: Login, region_admin: Actor
) -> None:
    assert 'href="/admin"' in login(region_admin).get("/admin").get_data(as_text=True)
    assert 'href="/admin"' not in login(world.nurse).get("/").get_data(as_text=True)


# ---------------------------------------------------------------------------- system clients
def _public_jwks(kid: str) -> str:
    key = ECKey.import_key(ec.generate_private_key(ec.SECP384R1()), {"kid": kid})
    return json.dumps({"keys": [key.as_dict(private=False)]})


def test_org_admin_registers_and_revokes_a_client(
    session: Session, world: sc.Scenario, login: Login, region_admin: Actor
) -> None:
    client = login(region_admin)
    page = client.get("/admin/clients").get_data(as_text=True)
    assert 'value="system/CarePlan.read"' in page
    answer = form_post(
        client,
        "/admin/clients",
        "/admin/clients",
        {
            "organisation_id": world.ward.id,
            "name": "Sundhedsplatformen",
            "scopes": ["system/CarePlan.read", "system/Task.write"],
            "jwks": _public_jwks("sp-1"),
        },
    )
    assert answer.status_code == 303
    session.expire_all()
    registered = session.scalars(sa.select(ApiClient)).one()
    assert (registered.name, registered.organisation_id) == ("Sundhedsplatformen", world.ward.id)
    assert registered.scopes == "system/CarePlan.read system/Task.write"
    listed = client.get("/admin/clients").get_data(as_text=True)
    assert registered.client_id in listed
    answer = form_post(
        client, "/admin/clients", f"/admin/clients/{registered.client_id}/revoke", {}
    )
    assert answer.status_code == 303
    session.expire_all()
    assert session.get(ApiClient, registered.id).revoked_at is not None  # type: ignore[union-attr]


def test_a_private_key_or_no_scope_is_refused_next_to_the_field(
    session: Session, world: sc.Scenario, login: Login, region_admin: Actor
) -> None:
    private = ECKey.import_key(ec.generate_private_key(ec.SECP256R1()), {"kid": "oops"})
    answer = form_post(
        login(region_admin),
        "/admin/clients",
        "/admin/clients",
        {
            "organisation_id": world.ward.id,
            "name": "EHR",
            "scopes": [],
            "jwks": json.dumps({"keys": [private.as_dict(private=True)]}),
        },
    )
    html = answer.get_data(as_text=True)
    assert answer.status_code == 422
    assert 'id="jwks-error"' in html
    assert 'id="scopes-error"' in html
    assert private.as_dict(private=True)["d"] not in html.split("</textarea>")[-1]
    assert sc.count(session, ApiClient) == 0


def test_org_admin_cannot_register_a_client_for_another_organisation(
    session: Session, world: sc.Scenario, login: Login, region_admin: Actor
) -> None:
    answer = form_post(
        login(region_admin),
        "/admin/clients",
        "/admin/clients",
        {
            "organisation_id": world.municipality.id,
            "name": "KMD",
            "scopes": ["system/CarePlan.read"],
            "jwks": _public_jwks("kmd"),
        },
    )
    assert answer.status_code == 422  # not among the organisations offered
    assert sc.count(session, ApiClient) == 0


# ---------------------------------------------------------------------------- failed messages
def test_system_admin_requeues_a_dead_letter(
    session: Session, clock: FixedClock, world: sc.Scenario, login: Login, system_admin: Actor
) -> None:
    message = enqueue(
        session,
        channel=OutboxChannel.FHIR_MESSAGE,
        idempotency_key="dead-1",
        recipient="gateway",
        now=clock.now(),
        subject="Udskrivningsaftale for Hemmelig Patient",
        patient_id=world.patient.id,
    )
    message.status, message.attempts, message.last_error = OutboxStatus.DEAD, 8, "timeout"
    session.flush()
    client = login(system_admin)
    html = client.get("/admin/outbox").get_data(as_text=True)
    assert "timeout" in html
    assert "Hemmelig Patient" not in html  # the message's content stays out of the page
    answer = form_post(client, "/admin/outbox", f"/admin/outbox/{message.id}/requeue", {})
    assert answer.status_code == 303
    session.expire_all()
    again = session.get(OutboxMessage, message.id)
    assert again is not None
    assert (again.status, again.attempts) == (OutboxStatus.PENDING, 0)
    logged = sc.audit_entries(session, resource_type="OutboxMessage")
    assert [(e.action, e.actor_id) for e in logged] == [(AuditAction.UPDATE, system_admin.id)]


def test_system_admin_replays_a_dead_inbound_message(
    session: Session, clock: FixedClock, world: sc.Scenario, login: Login, system_admin: Actor
) -> None:
    entry = InboundMessage(
        message_id="msg-dead-1",
        event="hospital-notification",
        sender_sor="990111000016009",
        outcome="fatal-error",
        acknowledgement={},
        received_at=clock.now(),
        status=InboxStatus.DEAD,
        body={"resourceType": "Bundle", "note": "Hemmelig Patient 0101701234"},
        attempts=6,
        last_error="RuntimeError: boom",
        processed_at=clock.now(),
    )
    session.add(entry)
    session.flush()
    client = login(system_admin)
    html = client.get("/admin/outbox").get_data(as_text=True)
    assert "msg-dead-1" in html
    assert "RuntimeError: boom" in html
    assert "Hemmelig Patient" not in html  # the message itself stays out of the page
    answer = form_post(client, "/admin/outbox", f"/admin/outbox/inbound/{entry.id}/replay", {})
    assert answer.status_code == 303
    session.expire_all()
    again = session.get(InboundMessage, entry.id)
    assert again is not None
    assert (again.status, again.attempts) == (InboxStatus.PENDING, 0)
    logged = sc.audit_entries(session, resource_type="InboundMessage")
    assert [(e.action, e.actor_id) for e in logged] == [(AuditAction.UPDATE, system_admin.id)]
    html = client.get("/admin/outbox").get_data(as_text=True)
    assert "msg-dead-1" not in html  # pending with no failed attempt: nothing for an administrator
    assert 'data-testid="inbox-empty"' in html


def test_an_org_admin_does_not_see_failed_messages(
    world: sc.Scenario, login: Login, region_admin: Actor
) -> None:
    assert login(region_admin).get("/admin/outbox").status_code == 404


# ---------------------------------------------------------------------------- the audit log
def _csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_auditor_filters_the_audit_log_and_downloads_the_filtered_set_as_csv(
    session: Session, clock: FixedClock, world: sc.Scenario, login: Login, auditor: Actor
) -> None:
    sc.assess_requirement(
        session, clock, world, receives_sel_support=True
    )  # the chief physician writes audit rows
    chief_rows = sc.audit_entries(session, actor_id=world.chief.id)
    assert chief_rows
    client = login(auditor)
    query = f"actor={world.chief.id}&since=2026-11-26&until=2026-11-26"
    page = client.get(f"/admin/audit-log?{query}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    table = html[html.index('data-testid="audit-entries"') :]
    assert world.chief.name in table
    assert world.nurse.name not in table
    answer = client.get(f"/admin/audit-log.csv?{query}")
    assert answer.status_code == 200
    assert answer.mimetype == "text/csv"
    assert answer.is_streamed
    text = answer.get_data(as_text=True)
    assert text.splitlines()[0].split(",") == list(CSV_COLUMNS)
    rows = _csv_rows(text)
    assert sorted(int(r["id"]) for r in rows) == sorted(e.id for e in chief_rows)
    assert {r["actor_name"] for r in rows} == {world.chief.name}
    # Reading the log is logged: the page's search and the download.
    reads = sc.audit_entries(session, actor_id=auditor.id, resource_type="AuditLog")
    assert [e.action for e in reads] == [AuditAction.SEARCH, AuditAction.EXPORT]
    assert reads[1].details["count"] == len(chief_rows)
    # A day range that holds nothing.
    empty = client.get("/admin/audit-log.csv?since=2026-11-20&until=2026-11-21")
    assert _csv_rows(empty.get_data(as_text=True)) == []


def test_auditor_finds_a_patients_entries_by_cpr_without_logging_the_number(
    session: Session, world: sc.Scenario, login: Login, auditor: Actor
) -> None:
    cpr = world.patient.cpr
    assert cpr
    client = login(auditor)
    html = client.get(f"/admin/audit-log?patient={cpr[:6]}-{cpr[6:]}").get_data(as_text=True)
    table = html[html.index('data-testid="audit-entries"') :]
    assert f"<td>{world.patient.id}</td>" in table
    search = sc.audit_entries(session, actor_id=auditor.id, resource_type="AuditLog")[-1]
    assert search.patient_id == world.patient.id
    assert cpr not in json.dumps(search.details)
    by_id = client.get(f"/admin/audit-log?patient={world.patient.id}&action=create")
    assert by_id.status_code == 200


def test_bad_audit_filters_are_shown_next_to_the_field(
    world: sc.Scenario, login: Login, auditor: Actor
) -> None:
    client = login(auditor)
    answer = client.get("/admin/audit-log?patient=12345678901")
    assert answer.status_code == 422
    assert 'id="patient-error"' in answer.get_data(as_text=True)
    answer = client.get("/admin/audit-log?since=2026-11-26&until=2026-11-20")
    assert answer.status_code == 422
    assert 'id="until-error"' in answer.get_data(as_text=True)
    answer = client.get("/admin/audit-log?since=notadate")
    assert answer.status_code == 422
    assert 'id="since-error"' in answer.get_data(as_text=True)


def test_the_audit_log_pages_newest_first(
    session: Session, clock: FixedClock, world: sc.Scenario, login: Login, auditor: Actor
) -> None:
    for number in range(60):
        record(
            session,
            actor=world.nurse,
            at=clock.now(),
            action=AuditAction.READ,
            resource_type="Plan",
            resource_id=f"p{number}",
        )
    session.flush()
    client = login(auditor)
    html = client.get("/admin/audit-log?resource_type=Plan").get_data(as_text=True)
    assert "Plan p59" in html
    assert "Plan p9<" not in html
    older = re.search(r'href="([^"]+)" data-testid="older"', html)
    assert older is not None
    second = client.get(older.group(1).replace("&amp;", "&"))
    html = second.get_data(as_text=True)
    assert second.status_code == 200
    assert "Plan p9<" in html
    assert "Plan p59" not in html
    assert 'data-testid="older"' not in html


# ---------------------------------------------------------------------------- emergency access
def test_auditor_reviews_an_emergency_access_with_a_note(
    session: Session, clock: FixedClock, world: sc.Scenario, login: Login, auditor: Actor
) -> None:
    grant = grant_emergency_access(
        session,
        world.other_nurse,
        clock,
        patient_id=world.patient.id,
        reason="Patienten er indlagt akut hos os om natten",
        duration=timedelta(hours=2),
    )
    session.flush()
    client = login(auditor)
    page = client.get("/admin/emergency-access").get_data(as_text=True)
    assert "Patienten er indlagt akut" in page
    action = f"/admin/emergency-access/{grant.id}/review"
    answer = form_post(client, "/admin/emergency-access", action, {"note": ""})
    assert answer.status_code == 422
    assert f'id="note-{grant.id}-error"' in answer.get_data(as_text=True)
    answer = form_post(client, "/admin/emergency-access", action, {"note": "Berettiget"})
    assert answer.status_code == 303
    session.expire_all()
    reviewed = session.get(EmergencyAccess, grant.id)
    assert reviewed is not None
    assert (reviewed.review_note, reviewed.reviewed_by_id) == ("Berettiget", auditor.id)


def test_anonymous_visitors_are_sent_to_the_login_page(app: Flask) -> None:
    for page in ("/admin", "/admin/audit-log", "/admin/audit-log.csv"):
        answer = app.test_client().get(page)
        assert answer.status_code == 302
        assert "/login" in answer.headers["Location"]


def test_the_pages_speak_english_on_request(
    world: sc.Scenario, login: Login, region_admin: Actor, auditor: Actor
) -> None:
    html = login(region_admin).get("/admin?lang=en").get_data(as_text=True)
    assert "Users and units" in html
    assert "Discharge nurse" in html
    html = login(auditor).get("/admin/audit-log?lang=en").get_data(as_text=True)
    assert "Download as CSV" in html


def test_one_menu_item_is_current(world: sc.Scenario, login: Login, system_admin: Actor) -> None:
    client = login(system_admin)
    html = client.get("/admin/audit-log").get_data(as_text=True)
    menu = html[
        html.index('class="mainmenu site-menu"') : html.index("</nav>", html.index("mainmenu"))
    ]
    assert menu.count('aria-current="page"') == 1
    assert re.search(r'href="/admin/audit-log"[^>]*aria-current="page"', menu)
    html = client.get("/admin/clients").get_data(as_text=True)
    menu = html[
        html.index('class="mainmenu site-menu"') : html.index("</nav>", html.index("mainmenu"))
    ]
    assert re.search(r'href="/admin"[^>]*aria-current="page"', menu)
