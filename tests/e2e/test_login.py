from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from coordinator.demo import DemoLogin


def test_discharge_nurse_logs_in_through_the_form_and_out_again(
    live_server: str, page: Page, demo_logins: dict[str, DemoLogin]
) -> None:
    nurse = demo_logins["discharge_nurse"]
    page.goto(live_server + "/")
    page.get_by_role("link", name="Log ind", exact=True).click()
    expect(page).to_have_url(re.compile(r"/login$"))
    page.get_by_label("Brugernavn").fill(nurse.username)
    page.get_by_label("Adgangskode").fill(nurse.password)
    page.get_by_role("button", name="Log ind").click()

    expect(page).to_have_url(live_server + "/")
    user = page.get_by_test_id("current-user")
    expect(user).to_contain_text("Birgitte Holm")
    expect(user).to_contain_text(nurse.organisation)

    page.get_by_role("button", name="Log ud").click()
    expect(page.get_by_text("Du er logget ud.")).to_be_visible()
    expect(page.get_by_role("heading", name="Log ind")).to_be_visible()
    page.goto(live_server + "/")
    expect(page.get_by_test_id("current-user")).to_have_count(0)
    expect(page.get_by_role("link", name="Log ind", exact=True)).to_be_visible()


def test_wrong_password_shows_the_danish_error_next_to_the_form(
    live_server: str, page: Page, demo_logins: dict[str, DemoLogin]
) -> None:
    page.goto(live_server + "/login")
    page.get_by_label("Brugernavn").fill(demo_logins["discharge_nurse"].username)
    page.get_by_label("Adgangskode").fill("not the password at all")
    page.get_by_role("button", name="Log ind").click()

    expect(page.get_by_test_id("login-error")).to_have_text("Forkert brugernavn eller adgangskode")
    expect(page.get_by_label("Adgangskode")).to_have_value("")  # never sent back to the browser
    expect(page.get_by_test_id("current-user")).to_have_count(0)
