"""The reminders pages: the inbox (mine and my organisation's, most urgent first, paged) and one
reminder's page with acknowledge, snooze, dismiss and share; the page a reminder mail's link opens."""

from __future__ import annotations

import json
import re
from datetime import UTC, timedelta
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from flask import Flask, url_for
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from coordinator.outbox.models import OutboxChannel, OutboxMessage
from coordinator.reminders import delivery
from coordinator.reminders.models import Reminder
from coordinator.reminders.scan import evaluate_pathways
from coordinator.web import reminders as reminders_web
from pathways.audit import AuditAction
from pathways.clock import FixedClock, to_copenhagen
from pathways.reminders import ReminderStatus
from tests import scenario as sc
from tests.web.conftest import Login, csrf_token, form_post

ROW = re.compile(r'data-testid="reminder-row" data-reminder-id="(\d+)"')


def municipality_reminders(
    session: Session, clock: FixedClock, world: sc.Scenario
) -> list[Reminder]:
    """The case worker's organisation's reminders of a proposed plan before a planned discharge (four
    of them), oldest first."""
    sc.assess_requirement(session, clock, world, receives_sel_support=True)
    sc.plan_discharge(session, clock, world, in_days=1)
    sc.proposed_plan(session, clock, world)
    evaluate_pathways(session, clock, [world.pathway.id])
    found = list(
        session.scalars(
            sa.select(Reminder)
            .where(Reminder.owner_organisation_id == world.municipality.id)
            .order_by(Reminder.id)
        )
    )
    assert len(found) == 4
    return found


@pytest.fixture
def inbox(session: Session, clock: FixedClock, world: sc.Scenario) -> list[Reminder]:
    """The municipality's four reminders with known deadlines: the third overdue by a day, the first
    due in two days, the fourth in three, the second snoozed until tomorrow (so last)."""
    found = municipality_reminders(session, clock, world)
    now = clock.now()
    found[0].due_at = now + timedelta(days=2)
    found[1].due_at = now - timedelta(days=3)
    found[1].status = ReminderStatus.SNOOZED
    found[1].snoozed_until = now + timedelta(days=1)
    found[2].due_at = now - timedelta(days=1)
    found[3].due_at = now + timedelta(days=3)
    for reminder in found:
        reminder.owner_person_id = None
    found[3].owner_person_id = world.case_worker.id
    session.flush()
    return found


def _refreshed(session: Session, reminder: Reminder) -> Reminder:
    session.expire_all()
    return session.get_one(Reminder, reminder.id)


def test_the_inbox_lists_my_organisations_reminders_most_urgent_first_with_why(
    session: Session, world: sc.Scenario, login: Login, inbox: list[Reminder]
) -> None:
    client = login(world.case_worker)
    response = client.get("/reminders")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    ids = [int(i) for i in ROW.findall(html)]
    assert ids == [inbox[2].id, inbox[0].id, inbox[3].id, inbox[1].id]
    first_row = html[html.index(f'data-reminder-id="{inbox[2].id}"') :].split("</tr>", 1)[0]
    assert 'data-testid="overdue"' in first_row
    assert "Overskredet" in first_row
    second_row = html[html.index(f'data-reminder-id="{inbox[0].id}"') :].split("</tr>", 1)[0]
    assert 'data-testid="overdue"' not in second_row
    # why: the rule's title and message in Danish, the legal basis; whom: name and masked CPR only
    assert "Mette Test" in html
    assert "010170-****" in html
    assert "0101701235" not in html
    assert "§" in html
    assert f'href="/reminders/{inbox[2].id}"' in html
    # each patient shown is audited once for the list
    searched = sc.audit_entries(
        session, actor_id=world.case_worker.id, resource_type="Reminder", action=AuditAction.SEARCH
    )
    assert [(a.patient_id, sorted(a.details["reminders"]), a.channel) for a in searched] == [
        (world.patient.id, sorted(r.id for r in inbox), "web")
    ]


def test_the_mine_tab_shows_only_those_addressed_to_me(
    world: sc.Scenario, login: Login, inbox: list[Reminder]
) -> None:
    html = login(world.case_worker).get("/reminders?scope=mine").get_data(as_text=True)
    assert [int(i) for i in ROW.findall(html)] == [inbox[3].id]
    assert 'aria-current="page" class="current">Adresseret til mig' in html


def test_the_inbox_is_paged(
    monkeypatch: pytest.MonkeyPatch, world: sc.Scenario, login: Login, inbox: list[Reminder]
) -> None:
    monkeypatch.setattr(reminders_web, "PAGE_SIZE", 3)
    client = login(world.case_worker)
    first = client.get("/reminders").get_data(as_text=True)
    assert [int(i) for i in ROW.findall(first)] == [inbox[2].id, inbox[0].id, inbox[3].id]
    assert 'href="/reminders?scope=all&amp;page=2"' in first
    second = client.get("/reminders?scope=all&page=2").get_data(as_text=True)
    assert [int(i) for i in ROW.findall(second)] == [inbox[1].id]
    assert "Side 2 af 2" in second


def test_another_municipality_sees_none_of_them_and_their_page_is_the_404_page(
    session: Session, world: sc.Scenario, login: Login, inbox: list[Reminder]
) -> None:
    client = login(world.other_case_worker)
    html = client.get("/reminders").get_data(as_text=True)
    assert ROW.findall(html) == []
    assert 'data-testid="no-reminders"' in html
    response = client.get(f"/reminders/{inbox[0].id}")
    assert response.status_code == 404
    page = response.get_data(as_text=True)
    assert 'data-testid="failure"' in page
    assert "Mette" not in page
    assert client.get("/reminders/999999").get_data(as_text=True) == page
    # and no action reaches it
    before = inbox[0].version
    refused = form_post(
        client,
        "/reminders",
        f"/reminders/{inbox[0].id}/acknowledge",
        {"acknowledge-version": str(before)},
    )
    assert refused.status_code == 404
    assert _refreshed(session, inbox[0]).status is ReminderStatus.OPEN


def test_the_page_shows_the_reminder_and_audits_the_read(
    session: Session, world: sc.Scenario, login: Login, inbox: list[Reminder]
) -> None:
    reminder = inbox[2]
    response = login(world.case_worker).get(f"/reminders/{reminder.id}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert f"R-{reminder.id}" in html
    assert 'data-testid="overdue"' in html
    assert "010170-****" in html
    assert "0101701235" not in html
    for form in ("acknowledge-form", "snooze-form", "dismiss-form"):
        assert f'data-testid="{form}"' in html
    read = sc.audit_entries(
        session, actor_id=world.case_worker.id, resource_type="Reminder", action=AuditAction.READ
    )
    assert [(a.patient_id, a.details["reminders"]) for a in read] == [
        (world.patient.id, [reminder.id])
    ]


def test_acknowledge_without_javascript_redirects_to_the_page(
    session: Session, world: sc.Scenario, login: Login, inbox: list[Reminder]
) -> None:
    reminder = inbox[0]
    page = f"/reminders/{reminder.id}"
    client = login(world.case_worker)
    response = form_post(
        client, page, f"{page}/acknowledge", {"acknowledge-version": str(reminder.version)}
    )
    assert response.status_code == 302
    assert response.headers["Location"] == page
    changed = _refreshed(session, reminder)
    assert changed.status is ReminderStatus.ACKNOWLEDGED
    assert changed.acknowledged_by_id == world.case_worker.id
    [entry] = sc.audit_entries(session, resource_id=str(reminder.id), action=AuditAction.TRANSITION)
    assert (entry.purpose, entry.actor_id, entry.channel) == (
        "acknowledge",
        world.case_worker.id,
        "web",
    )
    assert "Påmindelsen er kvitteret" in client.get(page).get_data(as_text=True)


def test_acknowledge_with_htmx_swaps_the_card(
    session: Session, world: sc.Scenario, login: Login, inbox: list[Reminder]
) -> None:
    reminder = inbox[0]
    page = f"/reminders/{reminder.id}"
    client = login(world.case_worker)
    response = client.post(
        f"{page}/acknowledge",
        data={"acknowledge-version": str(reminder.version)},
        headers={"HX-Request": "true", "X-CSRFToken": csrf_token(client, page)},
    )
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith('<section class="reminder-card" id="reminder-card"')
    assert 'data-status="acknowledged"' in html
    assert 'data-testid="reminder-done"' in html
    assert 'data-testid="acknowledge-form"' not in html  # already acknowledged
    assert _refreshed(session, reminder).status is ReminderStatus.ACKNOWLEDGED


def test_snooze_until_a_copenhagen_time(
    session: Session, clock: FixedClock, world: sc.Scenario, login: Login, inbox: list[Reminder]
) -> None:
    reminder = inbox[0]
    page = f"/reminders/{reminder.id}"
    until = (to_copenhagen(clock.now()) + timedelta(days=2)).replace(
        hour=8, minute=0, second=0, microsecond=0
    )
    response = form_post(
        login(world.case_worker),
        page,
        f"{page}/snooze",
        {
            "snooze-version": str(reminder.version),
            "snooze-snoozed_until": f"{until:%Y-%m-%dT%H:%M}",
        },
    )
    assert response.status_code == 302
    changed = _refreshed(session, reminder)
    assert changed.status is ReminderStatus.SNOOZED
    assert changed.snoozed_until == until
    [entry] = sc.audit_entries(session, resource_id=str(reminder.id), purpose="snooze")
    assert entry.details == {"until": until.astimezone(UTC).isoformat()}


@pytest.mark.parametrize(
    ("offset", "message"),
    [
        (timedelta(hours=-1), "Vælg et tidspunkt i fremtiden"),
        (timedelta(days=31), "Vælg et tidspunkt højst 30 dage frem"),
    ],
)
def test_snooze_in_the_past_or_too_far_is_refused_next_to_the_field(
    session: Session,
    clock: FixedClock,
    world: sc.Scenario,
    login: Login,
    inbox: list[Reminder],
    offset: timedelta,
    message: str,
) -> None:
    reminder = inbox[0]
    page = f"/reminders/{reminder.id}"
    typed = f"{to_copenhagen(clock.now()) + offset:%Y-%m-%dT%H:%M}"
    response = form_post(
        login(world.case_worker),
        page,
        f"{page}/snooze",
        {"snooze-version": str(reminder.version), "snooze-snoozed_until": typed},
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    error = html.split('id="snooze-snoozed_until-error">', 1)[1].split("</span>\n", 1)[0]
    assert message in error
    assert f'value="{typed}"' in html  # what was typed is kept
    assert 'aria-describedby="snooze-snoozed_until-hint snooze-snoozed_until-error"' in html
    assert _refreshed(session, reminder).status is ReminderStatus.OPEN
    assert sc.audit_entries(session, resource_id=str(reminder.id), purpose="snooze") == []


@pytest.mark.parametrize("reason", ["", "   "])
def test_dismiss_without_a_reason_is_refused_next_to_the_field_and_changes_nothing(
    session: Session, world: sc.Scenario, login: Login, inbox: list[Reminder], reason: str
) -> None:
    reminder = inbox[0]
    page = f"/reminders/{reminder.id}"
    response = form_post(
        login(world.case_worker),
        page,
        f"{page}/dismiss",
        {"dismiss-version": str(reminder.version), "dismiss-reason": reason},
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    group = html[: html.index('name="dismiss-reason"')].rsplit('<div class="form-group', 1)[1]
    assert group.startswith(" form-error")
    assert "Giv en begrundelse" in group
    assert _refreshed(session, reminder).status is ReminderStatus.OPEN
    assert sc.audit_entries(session, resource_id=str(reminder.id), purpose="dismiss") == []


def test_dismiss_with_a_reason(
    session: Session, world: sc.Scenario, login: Login, inbox: list[Reminder]
) -> None:
    reminder = inbox[0]
    page = f"/reminders/{reminder.id}"
    client = login(world.case_worker)
    response = form_post(
        client,
        page,
        f"{page}/dismiss",
        {"dismiss-version": str(reminder.version), "dismiss-reason": "Aftalt på netværksmødet"},
    )
    assert response.status_code == 302
    changed = _refreshed(session, reminder)
    assert (changed.status, changed.dismissed_reason, changed.dismissed_by_id) == (
        ReminderStatus.DISMISSED,
        "Aftalt på netværksmødet",
        world.case_worker.id,
    )
    [entry] = sc.audit_entries(session, resource_id=str(reminder.id), purpose="dismiss")
    assert entry.details == {"reason": "Aftalt på netværksmødet"}
    html = client.get(page).get_data(as_text=True)
    assert 'data-testid="reminder-closed"' in html
    # a dismissed reminder leaves the inbox
    assert str(reminder.id) not in ROW.findall(client.get("/reminders").get_data(as_text=True))


def test_a_stale_version_is_refused_and_nothing_is_lost(
    session: Session, world: sc.Scenario, login: Login, inbox: list[Reminder]
) -> None:
    reminder = inbox[0]
    page = f"/reminders/{reminder.id}"
    response = form_post(
        login(world.case_worker),
        page,
        f"{page}/dismiss",
        {"dismiss-version": str(reminder.version - 1 or 99), "dismiss-reason": "gammel"},
    )
    assert response.status_code == 412
    assert "En anden har ændret dette i mellemtiden" in response.get_data(as_text=True)
    assert _refreshed(session, reminder).status is ReminderStatus.OPEN


def test_share_with_the_gp_by_medcom(
    session: Session, world: sc.Scenario, login: Login, inbox: list[Reminder]
) -> None:
    world.gp_clinic.sor_code = "90000000000010"
    world.gp_clinic.gln = "5790000000029"
    session.flush()
    reminder = inbox[0]
    page = f"/reminders/{reminder.id}"
    client = login(world.case_worker)
    html = client.get(page).get_data(as_text=True)
    assert f'<option value="{world.gp_clinic.id}">Lægehuset</option>' in html
    assert "Andet Lægehus" not in html  # not in the patient's care
    assert '<option selected value="carecoordination">Koordinering af forløb</option>' in html
    response = form_post(
        client,
        page,
        f"{page}/share",
        {
            "share-version": str(reminder.version),
            "share-organisation_id": str(world.gp_clinic.id),
            "share-category": "discharge",
        },
    )
    assert response.status_code == 302
    session.expire_all()
    [sent] = session.scalars(
        sa.select(OutboxMessage).where(OutboxMessage.channel == OutboxChannel.FHIR_MESSAGE)
    ).all()
    assert sent.reminder_id == reminder.id
    assert '"code": "discharge"' in json.dumps(sent.payload)  # the category chosen
    [export] = sc.audit_entries(session, resource_id=str(reminder.id), action=AuditAction.EXPORT)
    assert export.details["organisation_id"] == world.gp_clinic.id


@pytest.mark.parametrize(
    ("party", "category", "message"),
    [
        ("0", "carecoordination", "Vælg, hvem påmindelsen skal deles med"),
        ("gp", "bogus", "Vælg en kategori"),
    ],
)
def test_share_needs_a_party_and_a_category(
    session: Session,
    world: sc.Scenario,
    login: Login,
    inbox: list[Reminder],
    party: str,
    category: str,
    message: str,
) -> None:
    world.gp_clinic.sor_code = "90000000000010"
    world.gp_clinic.gln = "5790000000029"
    session.flush()
    reminder = inbox[0]
    page = f"/reminders/{reminder.id}"
    response = form_post(
        login(world.case_worker),
        page,
        f"{page}/share",
        {
            "share-version": str(reminder.version),
            "share-organisation_id": str(world.gp_clinic.id) if party == "gp" else party,
            "share-category": category,
        },
    )
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert (
        session.scalar(
            sa.select(sa.func.count(OutboxMessage.id)).where(
                OutboxMessage.channel == OutboxChannel.FHIR_MESSAGE
            )
        )
        == 0
    )


def test_an_action_without_the_csrf_token_is_refused(
    session: Session, world: sc.Scenario, login: Login, inbox: list[Reminder]
) -> None:
    reminder = inbox[0]
    response = login(world.case_worker).post(
        f"/reminders/{reminder.id}/acknowledge",
        data={"acknowledge-version": str(reminder.version)},
    )
    assert response.status_code == 400
    assert _refreshed(session, reminder).status is ReminderStatus.OPEN


def test_the_link_in_a_reminder_mail_opens_the_reminders_page(
    app: Flask, world: sc.Scenario, login: Login, inbox: list[Reminder]
) -> None:
    reminder = inbox[2]
    subject, body = delivery._reminder_mail(reminder, app.config, escalated=False)
    [link] = {line.split(": ", 1)[1] for line in body.splitlines() if line.startswith("Open: ")}
    url = urlsplit(link)
    assert f"{url.scheme}://{url.netloc}" == app.config["PUBLIC_BASE_URL"]
    endpoint, values = app.url_map.bind("localhost").match(url.path)
    assert (endpoint, values) == ("reminders_web.show", {"reminder_id": reminder.id})
    with app.test_request_context():
        assert url.path == url_for("reminders_web.show", reminder_id=reminder.id)
    assert login(world.case_worker).get(url.path).status_code == 200
    assert "0101701235" not in body + subject
    assert "Mette" not in body + subject


def test_the_link_in_a_digest_opens_the_inbox(
    app: Flask, session: Session, clock: FixedClock, world: sc.Scenario, inbox: list[Reminder]
) -> None:
    delivery.queue_digests(session, clock, app.config)
    digest = session.scalars(
        sa.select(OutboxMessage).where(OutboxMessage.idempotency_key.like("digest:%"))
    ).first()
    assert digest is not None
    [link] = set(re.findall(r"Open: (\S+)", digest.body))
    path = urlsplit(link).path
    assert app.url_map.bind("localhost").match(path) == ("reminders_web.index", {})


def test_logged_out_visitors_are_sent_to_the_login_page(app: Flask) -> None:
    client: FlaskClient = app.test_client()
    response = client.get("/reminders/1")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_only_roles_with_an_inbox_see_it_in_the_menu(
    session: Session, clock: FixedClock, world: sc.Scenario, login: Login
) -> None:
    admin = sc.staff_member(
        session, clock, organisation_id=world.municipality.id, role="org_admin", name="Admin"
    )
    assert 'href="/reminders"' in login(world.gp).get("/").get_data(as_text=True)
    assert 'href="/reminders"' not in login(admin).get("/").get_data(as_text=True)
    assert {
        "discharge_nurse",
        "chief_physician",
        "ward_staff",
        "case_worker",
        "support_worker",
        "gp",
        "practice_staff",
    } == reminders_web.INBOX_ROLES


def test_the_pages_speak_english_when_asked(
    world: sc.Scenario, login: Login, inbox: list[Reminder]
) -> None:
    client = login(world.case_worker)
    listing = client.get("/reminders?lang=en").get_data(as_text=True)
    assert "4 open reminders" in listing
    assert "Overdue" in listing
    page = client.get(f"/reminders/{inbox[2].id}").get_data(as_text=True)  # the choice is kept
    assert "What will you do?" in page
    assert "Acknowledge" in page
