from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from coordinator.demo import DemoLogin
from tests.e2e.conftest import log_in


def test_anonymous_start_page_shows_only_a_way_to_log_in(live_server: str, page: Page) -> None:
    page.goto(live_server + "/")
    expect(page.locator("h1")).to_have_text("Tværsektorielle forløb i psykiatrien")
    expect(page.get_by_test_id("service-status")).to_have_count(0)
    expect(page.get_by_test_id("worklist")).to_have_count(0)
    expect(page.get_by_text("patienter")).to_have_count(0)
    page.get_by_test_id("login-prompt").get_by_role("link").click()
    expect(page).to_have_url(re.compile(r"/login$"))


def test_system_administrator_sees_the_service_is_up_in_danish_after_login(
    live_server: str, page: Page, demo_logins: dict[str, DemoLogin]
) -> None:
    log_in(page, live_server, demo_logins["system_admin"])
    expect(page.locator("h1")).to_have_text("Tværsektorielle forløb i psykiatrien")
    status = page.get_by_test_id("service-status")
    expect(status).to_contain_text("Tjenesten kører")
    expect(status).to_contain_text(re.compile(r"\d+ patienter"))
    expect(status).to_have_class(re.compile(r"\bok\b"))


def test_language_switch_to_english_is_remembered(
    live_server: str, page: Page, demo_logins: dict[str, DemoLogin]
) -> None:
    log_in(page, live_server, demo_logins["discharge_nurse"])
    expect(page.get_by_test_id("worklist-title")).to_contain_text("Aktuelle indlæggelser på")
    page.get_by_role("link", name="English").click()
    expect(page.get_by_test_id("worklist-title")).to_contain_text("Current stays at")
    page.goto(live_server + "/")  # the choice is kept in a cookie
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_label("Search by name or CPR number")).to_be_visible()
