from __future__ import annotations

import re

from playwright.sync_api import Page, expect


def test_start_page_shows_the_service_is_up_in_danish(live_server: str, page: Page) -> None:
    page.goto(live_server + "/")
    expect(page.locator("h1")).to_have_text("Tværsektorielle forløb i psykiatrien")
    status = page.get_by_test_id("service-status")
    expect(status).to_contain_text("Tjenesten kører")
    expect(status).to_contain_text("40 patienter")
    expect(status).to_have_class(re.compile(r"\bok\b"))


def test_language_switch_to_english_is_remembered(live_server: str, page: Page) -> None:
    page.goto(live_server + "/")
    page.get_by_role("link", name="English").click()
    expect(page.locator("h1")).to_have_text("Cross-sector care pathways in psychiatry")
    page.goto(live_server + "/")  # the choice is kept in a cookie
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_test_id("service-status")).to_contain_text("40 patients")
