"""The administration pages in chromium, as the demo's organisation administrator, system administrator
and auditor (coordinator/demo: orgadmin, sysadmin, revisor); axe-core on every page."""

from __future__ import annotations

import re
import uuid

from playwright.sync_api import Page, expect

from coordinator.demo import DemoLogin
from tests.e2e.conftest import assert_accessible, log_in


def test_org_admin_creates_a_user_and_sees_the_one_time_password_once(
    live_server: str, page: Page, demo_logins: dict[str, DemoLogin]
) -> None:
    log_in(page, live_server, demo_logins["org_admin"])
    page.get_by_role("navigation", name="Hovedmenu").get_by_role(
        "link", name="Administration"
    ).click()
    expect(page.locator("h1")).to_contain_text("Brugere og enheder")
    expect(page.get_by_test_id("users")).to_contain_text("Niels Krogh")
    assert_accessible(page)

    username = f"e2e.{uuid.uuid4().hex[:8]}"
    form = page.get_by_test_id("create-user")
    form.get_by_label("Navn", exact=True).fill("Ny Medarbejder")
    form.get_by_label("Brugernavn").fill("Ny Medarbejder!")
    form.get_by_label("Rolle").select_option(label="Udskrivningssygeplejerske")
    form.get_by_role("button", name="Opret bruger").click()
    # The error is next to the field, and what was typed is kept.
    expect(form.locator("#username-error")).to_contain_text("små bogstaver")
    expect(form.get_by_label("Navn", exact=True)).to_have_value("Ny Medarbejder")
    assert_accessible(page)

    units = form.get_by_label("Enhed")
    ward = units.locator("option", has_text="Afsnit").first.get_attribute("value")
    assert ward is not None
    units.select_option(ward)
    form.get_by_label("Brugernavn").fill(username)
    form.get_by_role("button", name="Opret bruger").click()
    expect(page.locator("h1")).to_have_text("Ny Medarbejder er oprettet")
    password = page.get_by_test_id("one-time-password").inner_text()
    assert len(password) >= 12
    assert_accessible(page)

    page.get_by_role("link", name="Gå til kontoen").click()
    expect(page.get_by_test_id("user-facts")).to_contain_text(username)
    expect(page.get_by_text(password)).to_have_count(0)
    assert_accessible(page)


def test_org_admin_opens_the_system_clients(
    live_server: str, page: Page, demo_logins: dict[str, DemoLogin]
) -> None:
    log_in(page, live_server, demo_logins["org_admin"])
    page.goto(live_server + "/admin/clients")
    expect(page.locator("h1")).to_have_text("Systemklienter")
    page.get_by_test_id("register-client").get_by_role("button", name="Registrér klient").click()
    expect(page.locator("#jwks-error")).to_be_visible()
    assert_accessible(page)


def test_system_admin_sees_failed_messages(
    live_server: str, page: Page, demo_logins: dict[str, DemoLogin]
) -> None:
    log_in(page, live_server, demo_logins["system_admin"])
    page.goto(live_server + "/admin/outbox")
    expect(page.locator("h1")).to_have_text("Fejlede beskeder")
    assert_accessible(page)


def test_auditor_filters_the_audit_log_and_reviews_emergency_access(
    live_server: str, page: Page, demo_logins: dict[str, DemoLogin]
) -> None:
    log_in(page, live_server, demo_logins["auditor"])
    page.get_by_role("navigation", name="Hovedmenu").get_by_role("link", name="Adgangslog").click()
    expect(page.locator("h1")).to_have_text("Adgangslog")
    assert_accessible(page)
    filters = page.get_by_test_id("audit-filters")
    filters.get_by_label("Handling").select_option(label="Login")
    filters.get_by_role("button", name="Filtrér").click()
    expect(page).to_have_url(re.compile(r"action=login"))
    expect(page.get_by_test_id("audit-entries")).to_contain_text("Login")
    assert_accessible(page)
    with page.expect_download() as download:
        page.get_by_test_id("csv-link").click()
    text = download.value.path().read_text(encoding="utf-8")
    assert text.splitlines()[0].startswith("id,occurred_at,actor_kind")
    assert ",login," in text

    page.goto(live_server + "/admin/emergency-access")
    expect(page.locator("h1")).to_have_text("Nødadgang til gennemgang")
    assert_accessible(page)


def test_a_nurse_is_refused_the_administration(
    live_server: str, page: Page, demo_logins: dict[str, DemoLogin]
) -> None:
    log_in(page, live_server, demo_logins["discharge_nurse"])
    expect(page.get_by_role("link", name="Administration")).to_have_count(0)
    answer = page.goto(live_server + "/admin")
    assert answer is not None
    assert answer.status == 404
    assert_accessible(page)
