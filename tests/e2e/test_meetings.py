"""Network meetings in the browser: the case worker sees the demo meeting with its overdue action; the
discharge nurse requests a meeting, records it as held with the citizen's own words and an agreed action,
and marks the action done. axe-core on the page in each state."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from playwright.sync_api import Page, expect

from coordinator.demo import DemoLogin
from pathways.clock import COPENHAGEN
from tests.e2e.conftest import assert_accessible, log_in


def _find_patient(page: Page, live_server: str, marker: str) -> int:
    """The first demo patient (by id) whose meetings page the logged-in person may open and that shows
    ``marker`` (a data-testid): the demo's ids are not promised, what the pages show is."""
    for patient_id in range(1, 41):
        response = page.request.get(f"{live_server}/patients/{patient_id}/meetings")
        if response.status == 200 and f'data-testid="{marker}"' in response.text():
            return patient_id
    raise AssertionError(f"no demo patient's meetings page shows {marker}")


def test_the_case_worker_sees_the_overdue_action(
    live_server: str, page: Page, demo_logins: dict[str, DemoLogin]
) -> None:
    log_in(page, live_server, demo_logins["case_worker"])
    patient_id = _find_patient(page, live_server, "citizen-words")
    page.goto(f"{live_server}/patients/{patient_id}/meetings")
    expect(page.locator("h1")).to_have_text("Netværksmøder")
    meeting = page.get_by_test_id("meeting").first
    expect(meeting.get_by_test_id("meeting-status")).to_have_text("Holdt")
    expect(meeting.get_by_test_id("citizen-words")).to_contain_text("min egen lejlighed")
    expect(meeting.get_by_test_id("action-status").first).to_have_text("Overskredet")
    assert_accessible(page)


def test_the_nurse_records_a_meeting_with_an_action_and_marks_it_done(
    live_server: str, page: Page, demo_logins: dict[str, DemoLogin]
) -> None:
    log_in(page, live_server, demo_logins["discharge_nurse"])
    patient_id = _find_patient(page, live_server, "no-meetings")
    page.goto(f"{live_server}/patients/{patient_id}/meetings")
    assert_accessible(page)
    page.get_by_label("Hvorfor er der brug for mødet?").fill("Udskrivelsen nærmer sig")
    page.get_by_role("button", name="Bed om møde").click()
    expect(page.get_by_text("Der er bedt om netværksmødet.")).to_be_visible()
    meeting = page.get_by_test_id("meeting").first
    expect(meeting.get_by_test_id("meeting-status")).to_have_text("Ønsket")

    # a bad record first: no participant named -> the error next to the field, nothing lost
    meeting.get_by_text("Registrér mødet som holdt").click()
    form = meeting.get_by_test_id("record-form")
    form.get_by_label("Borgerens egne ord").fill("Jeg vil gerne hjem.")
    form.get_by_role("button", name="Registrér mødet").click()
    meeting = page.get_by_test_id("meeting").first
    form = meeting.get_by_test_id("record-form")
    expect(form.locator(".form-error-message")).to_contain_text("Angiv mindst én deltager.")
    expect(form.get_by_label("Borgerens egne ord")).to_have_value("Jeg vil gerne hjem.")
    assert_accessible(page)

    form.get_by_label("Deltagere (én pr. linje)").fill("Borgeren\nBirgitte Holm, sygeplejerske")
    form.get_by_label("Borgeren deltog").check()
    form.get_by_role("button", name="Registrér mødet").click()
    expect(page.get_by_text("Mødet er registreret.")).to_be_visible()
    meeting = page.get_by_test_id("meeting").first
    expect(meeting.get_by_test_id("meeting-status")).to_have_text("Holdt")
    expect(meeting.get_by_test_id("citizen-words")).to_have_text("Jeg vil gerne hjem.")

    meeting.get_by_text("Tilføj en handling").click()
    action_form = meeting.get_by_test_id("action-form")
    action_form.get_by_label("Handling").fill("Søg bostøtte efter § 85")
    action_form.get_by_label("Ejer").select_option(label="Københavns Kommune")
    due = (datetime.now(COPENHAGEN) + timedelta(days=7)).date()
    action_form.get_by_label("Frist").fill(due.isoformat())
    action_form.get_by_role("button", name="Tilføj handling").click()
    expect(page.get_by_text("Handlingen er tilføjet.")).to_be_visible()
    row = page.get_by_test_id("meeting").first.get_by_test_id("action")
    expect(row).to_contain_text("Søg bostøtte efter § 85")
    expect(row.get_by_test_id("action-status")).to_have_text("Åben")
    assert_accessible(page)

    row.get_by_role("button", name=re.compile(r"^Udført")).click()
    expect(page.get_by_text("Handlingen er markeret som udført.")).to_be_visible()
    row = page.get_by_test_id("meeting").first.get_by_test_id("action")
    expect(row.get_by_test_id("action-status")).to_have_text("Udført")
