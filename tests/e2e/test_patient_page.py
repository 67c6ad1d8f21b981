"""The patient page in Chromium: a discharge nurse opens a demo patient from its address, reveals the CPR
number, names a colleague as the region's contact person; axe-core on the page and on the page a patient
without a care relation gives (the 404 page with break-the-glass)."""

from __future__ import annotations

import re
from datetime import datetime

from playwright.sync_api import Page, expect

from coordinator.demo import DemoLogin
from pathways.clock import COPENHAGEN
from tests.e2e.conftest import assert_accessible, log_in

DEMO_PATIENTS = range(1, 80)  # the demo's patient ids (40 patients, with room to spare)


def _find(page: Page, live_server: str) -> tuple[int, int]:
    """A patient of the nurse's ward (whose region contact person the nurse may name or hand over),
    and one without a care relation."""
    mine = other = None
    for patient_id in DEMO_PATIENTS:
        response = page.request.get(f"{live_server}/patients/{patient_id}")
        html = response.text()
        own_sector = 'data-testid="assign-form"' in html or 'data-testid="handover-form"' in html
        if mine is None and response.status == 200 and own_sector:
            mine = patient_id
        if other is None and response.status == 404 and 'data-testid="emergency-access"' in html:
            other = patient_id
        if mine is not None and other is not None:
            return mine, other
    raise AssertionError("the demo has no patient to try the page on")


def test_the_nurse_opens_a_patient_reveals_the_cpr_number_and_names_a_contact_person(
    live_server: str, page: Page, demo_logins: dict[str, DemoLogin]
) -> None:
    log_in(page, live_server, demo_logins["discharge_nurse"])
    patient_id, _ = _find(page, live_server)

    page.goto(f"{live_server}/patients/{patient_id}")
    expect(page.get_by_test_id("cpr-masked")).to_have_text(re.compile(r"^\d{6}-\*{4}$"))
    expect(page.locator("ol.timeline li").first).to_be_visible()
    assert_accessible(page)

    page.get_by_test_id("reveal-cpr").click()  # htmx swaps the whole number in
    expect(page.get_by_test_id("cpr-full")).to_have_text(re.compile(r"^\d{6}-\d{4}$"))

    region = page.get_by_test_id("contact-region")
    today = datetime.now(COPENHAGEN).date().isoformat()
    if region.get_by_test_id("contact-missing").count():  # name the first contact person
        choice = region.get_by_label("Kontaktperson", exact=True)
        button, done = "Udpeg kontaktperson", "Kontaktpersonen er udpeget"
    else:  # the demo names one: hand over to a colleague
        region.get_by_text("Overdrag").first.click()
        choice = region.get_by_label("Ny kontaktperson")
        button, done = "Overdrag", "Kontaktpersonen er overdraget"
    current = region.get_by_test_id("contact-person").all_inner_texts()
    colleague = next(
        option
        for option in choice.locator("option").all()[1:]
        if option.inner_text().split(" (")[0] not in current
    )
    name = colleague.inner_text().split(" (")[0]
    choice.select_option(colleague.get_attribute("value"))
    region.get_by_label("Fra").fill(today)
    region.get_by_role("button", name=button).click()

    expect(page.get_by_text(done)).to_be_visible()
    expect(page.get_by_test_id("contact-region").get_by_test_id("contact-person")).to_have_text(
        name
    )
    assert_accessible(page)


def test_a_patient_without_a_care_relation_gives_the_404_page_with_break_the_glass(
    live_server: str, page: Page, demo_logins: dict[str, DemoLogin]
) -> None:
    log_in(page, live_server, demo_logins["discharge_nurse"])
    _, other = _find(page, live_server)

    page.goto(f"{live_server}/patients/{other}")

    expect(page.get_by_test_id("failure")).to_have_attribute("data-status", "404")
    expect(page.get_by_test_id("emergency-access")).to_be_visible()
    page.get_by_role("button", name="Tag nødadgang").click()
    expect(page.locator("#reason-error")).to_be_visible()
    assert_accessible(page)
