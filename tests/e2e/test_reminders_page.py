"""The reminders screen in the browser: a case worker opens the reminders from the menu, opens one and
acknowledges it (htmx swaps the card); both pages pass axe-core (WCAG 2.1 AA)."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, Page, expect

from coordinator.demo import DemoLogin
from tests.e2e.conftest import assert_accessible, log_in


def test_a_case_worker_acknowledges_a_reminder_from_the_menu(
    live_server: str, page: Page, demo_logins: dict[str, DemoLogin]
) -> None:
    log_in(page, live_server, demo_logins["case_worker"])
    page.get_by_role("navigation", name="Hovedmenu").get_by_role("link", name="Påmindelser").click()
    expect(page).to_have_url(live_server + "/reminders")
    expect(page.locator("h1")).to_have_text("Påmindelser")
    rows = page.get_by_test_id("reminder-row")
    expect(rows.first).to_be_visible()
    # most urgent first: the first row is overdue (the demo's municipality has overdue reminders)
    expect(rows.first.get_by_test_id("overdue")).to_have_text("Overskredet")
    expect(page.get_by_test_id("reminders")).to_contain_text("-****")
    assert_accessible(page)

    # another test may have acknowledged some: take one still open
    row = page.locator('[data-testid="reminder-row"][data-status="open"]').first
    reminder_id = row.get_attribute("data-reminder-id")
    row.get_by_role("link", name=re.compile(r".+")).first.click()
    expect(page).to_have_url(f"{live_server}/reminders/{reminder_id}")
    card = page.get_by_test_id("reminder-card")
    expect(card).to_have_attribute("data-status", "open")
    assert_accessible(page)

    card.get_by_role("button", name="Kvittér").click()
    card = page.get_by_test_id("reminder-card")
    expect(card).to_have_attribute("data-status", "acknowledged")
    expect(card.get_by_test_id("reminder-done")).to_have_text("Påmindelsen er kvitteret")
    expect(card.get_by_test_id("reminder-status")).to_contain_text("Kvitteret", ignore_case=True)
    expect(page).to_have_url(f"{live_server}/reminders/{reminder_id}")  # swapped, not reloaded
    assert_accessible(page)


def test_a_dismissal_needs_a_reason_next_to_the_field(
    live_server: str, page: Page, demo_logins: dict[str, DemoLogin]
) -> None:
    log_in(page, live_server, demo_logins["case_worker"])
    page.goto(live_server + "/reminders")
    row = page.locator('[data-testid="reminder-row"][data-status="open"]').last
    reminder_id = row.get_attribute("data-reminder-id")
    page.goto(f"{live_server}/reminders/{reminder_id}")
    page.get_by_role("button", name="Afvis").click()
    reason = page.get_by_label("Hvorfor gælder påmindelsen ikke?")
    expect(reason).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_test_id("dismiss-form")).to_contain_text("Giv en begrundelse")
    expect(page.get_by_test_id("reminder-card")).to_have_attribute("data-status", "open")
    assert_accessible(page)


def test_acknowledge_works_without_javascript(
    live_server: str, browser: Browser, demo_logins: dict[str, DemoLogin]
) -> None:
    context = browser.new_context(locale="da-DK", java_script_enabled=False)
    try:
        page = context.new_page()
        log_in(page, live_server, demo_logins["discharge_nurse"])
        page.goto(live_server + "/reminders")
        row = page.locator('[data-testid="reminder-row"][data-status="open"]').first
        reminder_id = row.get_attribute("data-reminder-id")
        page.goto(f"{live_server}/reminders/{reminder_id}")
        page.get_by_role("button", name="Kvittér").click()
        expect(page).to_have_url(f"{live_server}/reminders/{reminder_id}")  # POST-redirect-GET
        expect(page.get_by_role("status")).to_contain_text("Påmindelsen er kvitteret")
        expect(page.get_by_test_id("reminder-card")).to_have_attribute(
            "data-status", "acknowledged"
        )
    finally:
        context.close()
