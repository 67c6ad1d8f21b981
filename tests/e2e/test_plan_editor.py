"""The plan editor in chromium: the nurse drafts an agreement for a stay on her ward, fills the crisis
plan and proposes it; two browser contexts edit the same plan and the second one gets the merge page and
keeps both changes; axe-core on the new-plan, editor, merge, history and citizen copy pages.

The live server is shared: each test readmits a demo patient whose earlier stay is closed (a new stay,
no new patient), so nothing another test counts changes."""

from __future__ import annotations

import itertools
import re
from datetime import timedelta

import sqlalchemy as sa
from flask import Flask
from playwright.sync_api import Browser, Page, expect

from coordinator.accounts.models import User
from coordinator.care_pathways.models import Pathway
from coordinator.care_pathways.services import admit_patient
from coordinator.db import get_database
from coordinator.demo import DemoLogin
from pathways.clock import SystemClock
from pathways.people import Actor
from pathways.stays import PathwayStatus
from tests.e2e.conftest import assert_accessible, log_in

SYSTEM = Actor.system("e2e-plan-editor")
_readmissions = itertools.count()


def _readmit(app: Flask, nurse: DemoLogin) -> int:
    """A new stay on the nurse's ward for a demo patient whose stays are all closed (a former patient
    of the ward first): the patient's id."""
    clock = SystemClock()
    with get_database(app).transaction() as session:
        ward_id = session.scalar(
            sa.select(User.organisation_id).where(User.username == nurse.username)
        )
        open_patients = sa.select(Pathway.patient_id).where(
            Pathway.status.not_in([PathwayStatus.CLOSED, PathwayStatus.CANCELLED])
        )
        candidates = list(
            session.scalars(
                sa.select(Pathway.patient_id)
                .where(
                    Pathway.status == PathwayStatus.CLOSED,
                    Pathway.patient_id.not_in(open_patients),
                )
                .group_by(Pathway.patient_id)
                # the ward's own former patients first
                .order_by(
                    sa.func.max(sa.case((Pathway.ward_id == ward_id, 1), else_=0)).desc(),
                    Pathway.patient_id,
                )
            )
        )
        assert candidates, "the demo has closed stays of patients with no open stay"
        patient_id = candidates[0]
        admit_patient(
            session,
            SYSTEM,
            clock,
            patient_id=patient_id,
            ward_id=ward_id,
            admitted_at=clock.now() - timedelta(days=2),
            idempotency_key=f"e2e-plan-editor-{patient_id}-{next(_readmissions)}",
        )
    return patient_id


REQUIRED = {
    "Behandling": "Distriktspsykiatri hver 14. dag",
    "Medicin": "Olanzapin 10 mg",
    "Beskrivelse": "Bostøtte to gange om ugen",
    "Bolig": "Egen lejlighed",
    "Hvis behandlingen ophører": "Kommunen kontakter distriktspsykiatrien",
    "Hvem": "Distriktspsykiatrien",
}


def _new_draft(page: Page, live_server: str, patient_id: int) -> str:
    page.goto(f"{live_server}/patients/{patient_id}/plans/new")
    expect(page.locator("h1")).to_contain_text("Ny udskrivningsaftale")
    assert_accessible(page)
    page.get_by_label("Udskrivningsaftale (§13a)").check()
    page.get_by_role("button", name="Opret kladde").click()
    expect(page).to_have_url(re.compile(r"/plans/\d+$"))
    return page.url


def test_the_nurse_drafts_fills_the_crisis_plan_and_proposes(
    live_server: str, live_app: Flask, page: Page, demo_logins: dict[str, DemoLogin]
) -> None:
    nurse = demo_logins["discharge_nurse"]
    patient_id = _readmit(live_app, nurse)
    log_in(page, live_server, nurse)
    editor = _new_draft(page, live_server, patient_id)
    expect(page.get_by_test_id("plan-status")).to_have_text("Kladde")
    first_section = page.locator("fieldset.plan-section").first
    expect(first_section.locator("legend")).to_contain_text("Kriseplan")
    assert_accessible(page)

    crisis = page.locator("#section-crisis_plan")
    crisis.get_by_label("Tidlige advarselstegn").fill("Sover dårligt\nHører stemmer")
    crisis.get_by_label("Det hjælper mig").fill("Gåture\nAt tale med min søster")
    crisis.get_by_label("Ring om dagen til").fill("Afsnit 1: 70 00 00 01")
    crisis.get_by_label("Ring om natten til").fill("1813")
    for label, text in REQUIRED.items():
        page.get_by_label(label, exact=True).fill(text)
    page.get_by_label("Dato").fill("2027-01-15")
    page.get_by_role("button", name="Gem kladde").click()
    expect(page.get_by_text("Kladden er gemt.")).to_be_visible()
    expect(crisis.get_by_label("Ring om natten til")).to_have_value("1813")

    page.get_by_role("button", name="Send til parterne").click()
    expect(page.get_by_text("Planen er sendt til parterne.")).to_be_visible()
    expect(page.get_by_test_id("plan-status")).to_have_text(re.compile("Sendt|Foreslået|Afventer"))
    expect(page.get_by_test_id("plan-form")).to_have_count(0)  # a proposal is answered, not edited
    assert_accessible(page)

    page.get_by_role("link", name="Versioner").click()
    expect(page.get_by_test_id("diff")).to_contain_text("Ring om natten til")
    assert_accessible(page)

    page.goto(editor + "/citizen-copy")
    copy = page.get_by_test_id("citizen-copy")
    expect(copy).to_contain_text("Gåture")
    expect(copy).not_to_contain_text("Kommunen kontakter distriktspsykiatrien")
    assert_accessible(page)


def test_two_people_edit_the_same_plan_and_the_second_merges(
    live_server: str, live_app: Flask, browser: Browser, demo_logins: dict[str, DemoLogin]
) -> None:
    nurse = demo_logins["discharge_nurse"]
    patient_id = _readmit(live_app, nurse)
    first_context = browser.new_context(locale="da-DK")
    second_context = browser.new_context(locale="da-DK")
    try:
        first, second = first_context.new_page(), second_context.new_page()
        log_in(first, live_server, nurse)
        log_in(second, live_server, nurse)
        editor = _new_draft(first, live_server, patient_id)
        second.goto(editor)  # both now have the same version open

        first.get_by_label("Bolig", exact=True).fill("Bor hos sin mor")
        first.get_by_role("button", name="Gem kladde").click()
        expect(first.get_by_text("Kladden er gemt.")).to_be_visible()

        second.locator("#section-crisis_plan").get_by_label("Ring om natten til").fill("1813")
        second.get_by_role("button", name="Gem kladde").click()
        expect(second.get_by_test_id("merge-notice")).to_be_visible()
        housing = second.locator('[data-field="housing__text"]')
        expect(housing.get_by_test_id("saved")).to_have_text("Bor hos sin mor")
        night = second.locator('[data-field="crisis_plan__call_night"]')
        expect(night.get_by_test_id("mine")).to_have_text("1813")
        assert_accessible(second)

        second.get_by_role("button", name="Gem den samlede plan").click()
        expect(second.get_by_text("Kladden er gemt.")).to_be_visible()
        expect(second.get_by_label("Bolig", exact=True)).to_have_value("Bor hos sin mor")
        expect(
            second.locator("#section-crisis_plan").get_by_label("Ring om natten til")
        ).to_have_value("1813")
    finally:
        first_context.close()
        second_context.close()
