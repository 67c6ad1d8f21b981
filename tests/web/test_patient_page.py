"""The patient page (/patients/<id>): header, timeline, contacts, §13a, plans, reminders; the audited CPR
reveal; no care relation -> the 404 page, audited, with break-the-glass for roles that may."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from coordinator.access.models import EmergencyAccess
from coordinator.contacts import services as contacts
from coordinator.contacts.models import ContactAssignment
from pathways.audit import AuditAction, AuditOutcome
from pathways.clock import FixedClock
from pathways.organisations import Sector
from pathways.stays import PathwayEventType
from tests import scenario as sc
from tests.web.conftest import Login, count_statements, form_post

TODAY = date(2026, 11, 26)  # the test clock's day (Copenhagen)


def page_of(world: sc.Scenario) -> str:
    return f"/patients/{world.patient.id}"


def test_the_nurse_sees_the_patient_with_masked_cpr_age_municipality_gp_and_pathway(
    session: Session, clock: FixedClock, world: sc.Scenario, login: Login
) -> None:
    sc.proposed_plan(session, clock, world)
    client = login(world.nurse)

    response = client.get(page_of(world))

    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Mette Test" in html
    assert "010170-****" in html
    assert "0101701235" not in html
    assert "010170-1235" not in html
    assert "56 år" in html  # born 1 January 1970, today 26 November 2026
    assert "Københavns Kommune" in html
    assert "Lægehuset" in html
    assert '<ol class="timeline">' in html
    assert "Indlagt" in html
    assert html.count('data-testid="contact-missing"') == 3
    assert "Udskrivningsaftale" in html
    assert "Sendt til parterne" in html
    reads = sc.audit_entries(
        session,
        actor_id=world.nurse.id,
        resource_type="Patient",
        action=AuditAction.READ,
        patient_id=world.patient.id,
    )
    assert [e.purpose for e in reads] == [f"ward_stay: pathway {world.pathway.id}"]
    listed = {
        e.resource_type
        for e in sc.audit_entries(session, actor_id=world.nurse.id, patient_id=world.patient.id)
    }
    assert {"Patient", "Pathway", "ContactAssignment", "Plan"} <= listed


def test_revealing_the_cpr_number_shows_it_and_is_audited(
    session: Session, world: sc.Scenario, login: Login
) -> None:
    client = login(world.nurse)

    response = form_post(client, page_of(world), f"{page_of(world)}/cpr", {})
    fragment = form_post(
        client, page_of(world), f"{page_of(world)}/cpr", {}, headers={"HX-Request": "true"}
    )

    assert response.status_code == 200
    assert "010170-1235" in response.get_data(as_text=True)
    assert fragment.get_data(as_text=True).strip() == (
        '<span id="cpr" data-testid="cpr-full">010170-1235</span>'
    )
    reveals = sc.audit_entries(session, actor_id=world.nurse.id, purpose="reveal CPR")
    assert len(reveals) == 2
    assert {(e.patient_id, e.action, e.outcome) for e in reveals} == {
        (world.patient.id, AuditAction.READ, AuditOutcome.ALLOWED)
    }


def test_another_municipalitys_case_worker_gets_the_404_page_and_the_denial_is_audited(
    session: Session, world: sc.Scenario, login: Login
) -> None:
    client = login(world.other_case_worker)

    response = client.get(page_of(world))
    reveal = client.post(f"{page_of(world)}/cpr", data={})

    html = response.get_data(as_text=True)
    assert response.status_code == 404
    assert "Mette" not in html
    assert "010170" not in html
    assert "Københavns" not in html
    assert 'data-testid="emergency-access"' in html  # a case worker may break the glass
    assert reveal.status_code == 400  # no CSRF token: nothing happens
    denied = sc.denials(session, world.other_case_worker)
    assert denied == [("Patient", str(world.patient.id), world.patient.id, denied[0][3])]
    assert "no current care relation" in denied[0][3]


def test_an_unknown_patient_looks_like_someone_elses(world: sc.Scenario, login: Login) -> None:
    client = login(world.other_case_worker)

    def seen(patient_id: int | str) -> str:
        html = client.get(f"/patients/{patient_id}").get_data(as_text=True)
        html = html.replace(f"/patients/{patient_id}/", "/patients/X/")
        return re.sub(r'value="[^"]+"', "", html)  # the CSRF token is signed with the second

    assert seen(999999) == seen(world.patient.id)


def test_a_missing_csrf_token_is_refused(
    session: Session, world: sc.Scenario, login: Login
) -> None:
    client = login(world.nurse)

    response = client.post(
        f"{page_of(world)}/contacts",
        data={"assign-person_id": world.nurse.id, "assign-valid_from": TODAY.isoformat()},
    )

    assert response.status_code == 400
    assert sc.count(session, ContactAssignment) == 0


def test_the_nurse_names_a_colleague_as_the_regions_contact_person(
    session: Session, world: sc.Scenario, login: Login
) -> None:
    client = login(world.nurse)
    html = client.get(page_of(world)).get_data(as_text=True)
    assert 'data-testid="assign-form"' in html
    assert f'<option value="{world.ward_staff.id}">Ward Staff (Afsnit 1)</option>' in html

    response = form_post(
        client,
        page_of(world),
        f"{page_of(world)}/contacts",
        {"assign-person_id": world.ward_staff.id, "assign-valid_from": TODAY.isoformat()},
    )

    assert response.status_code == 302
    (row,) = session.query(ContactAssignment).all()
    assert (row.sector, row.person_id, row.organisation_id) == (
        Sector.REGION,
        world.ward_staff.id,
        world.ward.id,
    )
    region = client.get(page_of(world)).get_data(as_text=True)
    assert region.count('data-testid="contact-missing"') == 2
    assert 'data-testid="contact-person">Ward Staff<' in region


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"assign-valid_from": TODAY.isoformat()}, "assign-person_id", "Vælg en kollega"),
        (
            {"assign-person_id": "OTHER", "assign-valid_from": TODAY.isoformat()},
            "assign-person_id",
            "arbejder ikke i organisationen",
        ),
        ({"assign-person_id": "STAFF", "assign-valid_from": "26-11"}, "assign-valid_from", ""),
    ],
)
def test_a_bad_contact_is_shown_next_to_its_field_and_nothing_is_saved(
    session: Session,
    world: sc.Scenario,
    login: Login,
    data: dict[str, str],
    field: str,
    message: str,
) -> None:
    ids = {"OTHER": str(world.other_nurse.id), "STAFF": str(world.ward_staff.id)}
    data = {k: ids.get(v, v) for k, v in data.items()}
    client = login(world.nurse)

    response = form_post(client, page_of(world), f"{page_of(world)}/contacts", data)

    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert f'id="{field}-error"' in html
    assert (
        f'aria-describedby="{field}-error' in html
        or f'aria-describedby="{field}-hint {field}-error"' in html
    )
    assert message in html
    assert sc.count(session, ContactAssignment) == 0
    if "assign-valid_from" in data and data["assign-valid_from"] == "26-11":
        assert 'value="26-11"' in html  # what was typed is kept


def test_the_contact_person_is_handed_over_to_a_colleague(
    session: Session, clock: FixedClock, world: sc.Scenario, login: Login
) -> None:
    first = contacts.assign_contact(
        session,
        world.nurse,
        clock,
        patient_id=world.patient.id,
        organisation_id=world.ward.id,
        person_id=world.nurse.id,
        valid_from=TODAY - timedelta(days=3),
    )
    client = login(world.nurse)
    handover = f"{page_of(world)}/contacts/{first.id}/hand-over"

    bad = form_post(client, page_of(world), handover, {"handover-person_id": world.ward_staff.id})
    assert bad.status_code == 422
    assert 'id="handover-on-error"' in bad.get_data(as_text=True)
    assert sc.count(session, ContactAssignment) == 1

    response = form_post(
        client,
        page_of(world),
        handover,
        {"handover-person_id": world.ward_staff.id, "handover-on": TODAY.isoformat()},
    )

    assert response.status_code == 302
    session.expire_all()
    rows = session.query(ContactAssignment).order_by(ContactAssignment.id).all()
    assert [(r.person_id, r.valid_from, r.valid_to) for r in rows] == [
        (world.nurse.id, TODAY - timedelta(days=3), TODAY - timedelta(days=1)),
        (world.ward_staff.id, TODAY, None),
    ]
    assert 'data-testid="contact-person">Ward Staff<' in client.get(page_of(world)).get_data(
        as_text=True
    )


def test_the_chief_physician_assesses_the_requirement_from_the_page(
    session: Session, world: sc.Scenario, login: Login
) -> None:
    nurse_page = login(world.nurse).get(page_of(world)).get_data(as_text=True)
    assert 'data-testid="assessment-form"' not in nurse_page  # §13a is the chief physician's
    assert "Afsnittets overlæge vurderer" in nurse_page
    client = login(world.chief)
    action = f"{page_of(world)}/stays/{world.pathway.id}/assessment"

    bad = form_post(client, page_of(world), action, {"receives_sel_support": "yes"})
    assert bad.status_code == 422
    assert 'id="presumed_not_to_seek_treatment-error"' in bad.get_data(as_text=True)
    session.expire_all()
    assert world.pathway.requirement_assessed_at is None

    response = form_post(
        client,
        page_of(world),
        action,
        {"receives_sel_support": "yes", "presumed_not_to_seek_treatment": "no"},
    )

    assert response.status_code == 302
    session.expire_all()
    assert world.pathway.receives_sel_support is True
    assert world.pathway.presumed_not_to_seek_treatment is False
    html = client.get(page_of(world)).get_data(as_text=True)
    assert "Åben" in html
    assert "Ikke vurderet" not in html


def test_break_the_glass_needs_a_reason_and_then_opens_the_page(
    session: Session, world: sc.Scenario, login: Login
) -> None:
    client = login(world.other_case_worker)
    action = f"{page_of(world)}/emergency-access"

    without = form_post(client, page_of(world), action, {"reason": "  "})
    short = form_post(client, page_of(world), action, {"reason": "akut"})

    for response in (without, short):
        html = response.get_data(as_text=True)
        assert response.status_code == 422
        assert 'id="reason-error"' in html
        assert "Mette" not in html
    assert sc.count(session, EmergencyAccess) == 0

    granted = form_post(
        client,
        page_of(world),
        action,
        {"reason": "Borgeren er fundet forvirret på gaden, politiet beder om kontaktoplysninger"},
    )

    assert granted.status_code == 302
    assert granted.headers["Location"].endswith(page_of(world))
    (grant,) = session.query(EmergencyAccess).all()
    assert grant.user_id == world.other_case_worker.id
    assert grant.reviewed_at is None
    page = client.get(page_of(world))
    assert page.status_code == 200
    assert "Mette Test" in page.get_data(as_text=True)
    (read,) = sc.audit_entries(
        session,
        actor_id=world.other_case_worker.id,
        resource_type="Patient",
        action=AuditAction.READ,
        outcome=AuditOutcome.ALLOWED,
    )
    assert read.purpose.startswith("emergency:")


def test_a_role_that_may_not_break_the_glass_gets_no_form(
    session: Session, clock: FixedClock, world: sc.Scenario, login: Login
) -> None:
    auditor = sc.staff_member(
        session, clock, organisation_id=world.region.id, role="auditor", name="Revisor"
    )

    response = login(auditor).get(page_of(world))

    assert response.status_code == 404
    assert 'data-testid="emergency-access"' not in response.get_data(as_text=True)


def test_the_page_speaks_english_when_asked(world: sc.Scenario, login: Login) -> None:
    html = login(world.nurse).get(f"{page_of(world)}?lang=en").get_data(as_text=True)

    assert "Fixed contact persons" in html
    assert "Missing" in html
    assert "Admitted" in html
    assert "Show CPR number" in html


def test_the_page_reads_in_a_fixed_number_of_statements(
    session: Session,
    clock: FixedClock,
    world: sc.Scenario,
    login: Login,
    connection: sa.Connection,
) -> None:
    """No N+1: more events, plans' parties and contacts do not add statements."""
    sc.proposed_plan(session, clock, world)
    client = login(world.nurse)
    client.get(page_of(world))  # the first request warms caches of the app
    before = count_statements(connection, client, page_of(world))

    for n, event in enumerate(
        (PathwayEventType.LEAVE_STARTED, PathwayEventType.LEAVE_ENDED) * 3, start=1
    ):
        sc.record_event(
            session, clock, world, event, by=world.nurse, key=f"e{n}", ago=timedelta(hours=10 - n)
        )
    for actor, organisation in ((world.nurse, world.ward), (world.case_worker, world.municipality)):
        contacts.assign_contact(
            session,
            actor,
            clock,
            patient_id=world.patient.id,
            organisation_id=organisation.id,
            person_id=actor.id,
            valid_from=TODAY,
        )

    assert count_statements(connection, client, page_of(world)) == before


def test_htmx_swaps_the_contacts_panel_with_the_result_or_the_errors(
    session: Session, world: sc.Scenario, login: Login
) -> None:
    client = login(world.nurse)
    htmx = {"HX-Request": "true"}
    action = f"{page_of(world)}/contacts"

    bad = form_post(client, page_of(world), action, {"assign-valid_from": "x"}, headers=htmx)
    good = form_post(
        client,
        page_of(world),
        action,
        {"assign-person_id": world.ward_staff.id, "assign-valid_from": TODAY.isoformat()},
        headers=htmx,
    )

    wrong = bad.get_data(as_text=True)
    assert bad.status_code == 422
    assert wrong.lstrip().startswith('<section id="contacts"')
    assert 'id="assign-valid_from-error"' in wrong
    assert 'value="x"' in wrong
    panel = good.get_data(as_text=True)
    assert good.status_code == 200
    assert panel.lstrip().startswith('<section id="contacts"')
    assert "Kontaktpersonen er udpeget" in panel
    assert 'data-testid="contact-person">Ward Staff<' in panel
    assert sc.count(session, ContactAssignment) == 1
