"""Each demo role logs in and lands on its worklist; search and paging swap only the results (htmx) and
push the address, so the back button works; every page passes axe-core."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect

from coordinator.accounts.services import create_staff_member
from coordinator.care_pathways.services import admit_patient
from coordinator.db import get_database
from coordinator.demo import DemoLogin, DemoResult
from coordinator.organisations.models import Organisation
from coordinator.organisations.services import create_organisation
from coordinator.patients.services import register_patient
from pathways.clock import SystemClock
from pathways.organisations import OrganisationKind
from tests.e2e.conftest import LIVE_APP, assert_accessible, log_in
from tests.scenario import SYSTEM

PASSWORD = "Rabarber-Lanterne-Kvist-4711"

TITLES = {
    "discharge_nurse": "Aktuelle indlæggelser på",
    "chief_physician": "Aktuelle indlæggelser på",
    "ward_staff": "Aktuelle indlæggelser på",
    "case_worker": "Borgere i Københavns Kommune",
    "support_worker": "Borgere i Københavns Kommune",
    "gp": "Patienter hos",
    "practice_staff": "Patienter hos",
}


@pytest.mark.parametrize("role", list(TITLES))
def test_each_role_sees_its_worklist(
    live_server: str, page: Page, demo_logins: dict[str, DemoLogin], role: str
) -> None:
    log_in(page, live_server, demo_logins[role])
    expect(page.get_by_test_id("worklist-title")).to_contain_text(TITLES[role])
    rows = page.get_by_test_id("worklist-row")
    expect(rows.first).to_be_visible()
    # CPR numbers are masked in the list
    expect(page.get_by_test_id("worklist")).to_contain_text(re.compile(r"\d{6}-\*{4}"))
    assert_accessible(page)


@pytest.mark.parametrize("role", ["org_admin", "auditor"])
def test_roles_without_a_worklist_get_their_screens(
    live_server: str, page: Page, demo_logins: dict[str, DemoLogin], role: str
) -> None:
    log_in(page, live_server, demo_logins[role])
    expect(page.get_by_test_id("start-links")).to_be_visible()
    expect(page.get_by_test_id("worklist")).to_have_count(0)
    assert_accessible(page)


def test_search_by_cpr_and_filters_swap_only_the_results(
    live_server: str,
    page: Page,
    demo_logins: dict[str, DemoLogin],
    live_site: tuple[str, DemoResult],
) -> None:
    log_in(page, live_server, demo_logins["case_worker"])
    rows = page.get_by_test_id("worklist-row")
    expect(rows.first).to_be_visible()
    total = rows.count()
    assert total > 1
    first = rows.first.locator("th").inner_text()
    name = first.splitlines()[0].strip()
    # Mark the page: a full reload would lose the mark, an htmx swap keeps it.
    page.evaluate("document.body.dataset.kept = 'yes'")
    page.get_by_label("Søg på navn eller CPR-nummer").fill(name)
    page.get_by_role("button", name="Vis").click()
    expect(page).to_have_url(re.compile(r"[?&]q="))
    expect(rows.first).to_contain_text(name)
    assert page.evaluate("document.body.dataset.kept") == "yes"
    assert_accessible(page)

    page.get_by_label("Aftale eller plan").select_option("agreed")
    expect(page).to_have_url(re.compile(r"state=agreed"))
    page.go_back()
    expect(page).to_have_url(re.compile(r"[?&]q="))


@pytest.fixture(scope="module")
def crowded(live_site: tuple[str, DemoResult]) -> DemoLogin:
    """A municipality of its own with 30 citizens in hospital (more than a page) and its case worker's
    login: the shared demo data stays as it is for the other tests."""
    app = LIVE_APP["app"]
    clock = SystemClock()
    with get_database(app).transaction() as session:
        centre = session.scalars(
            sa.select(Organisation).where(Organisation.kind == OrganisationKind.PSYCHIATRIC_CENTRE)
        ).first()
        assert centre is not None
        org = create_organisation(
            session, SYSTEM, clock, name="Hjørring Kommune", kind="municipality", kommunekode="860"
        )
        ward = create_organisation(
            session,
            SYSTEM,
            clock,
            name="Afsnit E2E",
            kind="ward",
            parent_id=centre.id,
            sor_code="90000000099901",
        )
        create_staff_member(
            session,
            SYSTEM,
            clock,
            organisation_id=org.id,
            name="Hanne Hjort",
            role="case_worker",
            username="e2e-hjoerring",
            password=PASSWORD,
        )
        for number in range(30):
            patient = register_patient(
                session,
                SYSTEM,
                clock,
                given_name="Borger",
                family_name=f"Hjørring{number:02d}",
                kommunekode="860",
                cpr=f"0303{50 + number % 40:02d}{7000 + number:04d}",
            )
            admit_patient(
                session,
                SYSTEM,
                clock,
                patient_id=patient.id,
                ward_id=ward.id,
                admitted_at=clock.now() - timedelta(days=1 + number),
                idempotency_key=f"e2e-hjoerring-{number}",
            )
    return DemoLogin("e2e-hjoerring", PASSWORD, "case_worker", "Hjørring Kommune")


def test_paging_via_htmx_and_back_button(live_server: str, page: Page, crowded: DemoLogin) -> None:
    log_in(page, live_server, crowded)
    rows = page.get_by_test_id("worklist-row")
    expect(rows).to_have_count(25)
    expect(page.get_by_test_id("worklist-count")).to_contain_text("30 indlæggelser")
    first_page = rows.first.locator("th a").inner_text()
    page.evaluate("document.body.dataset.kept = 'yes'")
    pages = page.get_by_test_id("worklist-pages")
    pages.get_by_role("link", name="Næste side").click()
    expect(page).to_have_url(re.compile(r"page=2"))
    expect(rows).to_have_count(5)
    assert page.evaluate("document.body.dataset.kept") == "yes"  # swapped, not reloaded
    expect(pages.locator("[aria-current=page]")).to_have_text(re.compile(r"2"))
    assert_accessible(page)

    page.go_back()
    expect(rows).to_have_count(25)
    expect(rows.first.locator("th a")).to_have_text(first_page)

    page.get_by_label("Rækker pr. side").select_option("50")
    expect(page).to_have_url(re.compile(r"per_page=50"))
    expect(rows).to_have_count(30)
    expect(page.get_by_test_id("worklist-pages")).to_have_count(0)

    # The same address without htmx is the whole page (a bookmark, or no JavaScript).
    page.goto(live_server + "/?page=2")
    expect(rows).to_have_count(5)
    expect(page.locator("h1")).to_contain_text("Hjørring Kommune")
    page.get_by_label("Søg på navn eller CPR-nummer").fill("030350-7000")
    page.get_by_role("button", name="Vis").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("030350-****")
    expect(rows.first).not_to_contain_text("030350-7000")
