"""The pages every user sees first, on Det Fælles Designsystem: login and the failure page pass axe-core."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from coordinator.demo import DemoLogin
from tests.e2e.conftest import assert_accessible, log_in


def test_login_page_is_accessible_and_styled_by_dkfds(live_server: str, page: Page) -> None:
    page.goto(live_server + "/login")
    expect(page.locator("link[href*='vendor/dkfds/css']")).to_have_count(1)
    # DKFDS' stylesheet arrived (no CDN: served by carepath itself) and styles the page's font.
    font = page.evaluate("getComputedStyle(document.body).fontFamily")
    assert "IBM Plex Sans" in font
    assert_accessible(page)


def test_an_unknown_page_is_a_danish_page_without_detail(
    live_server: str, page: Page, demo_logins: dict[str, DemoLogin]
) -> None:
    log_in(page, live_server, demo_logins["discharge_nurse"])
    response = page.goto(live_server + "/no-such-page")
    assert response is not None
    assert response.status == 404
    expect(page.get_by_test_id("failure")).to_contain_text("Siden blev ikke fundet")
    assert_accessible(page)
