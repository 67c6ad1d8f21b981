"""The whole cross-sector story in chromium, each sector in its own browser as its own demo user.

A MedCom admission arrives at ``$process-message`` from the hospital's system; the discharge nurse sees the
patient on the ward worklist as not assessed; the chief physician assesses §13a as required; the nurse
drafts the discharge agreement, fills the crisis plan and proposes it; the case worker sees it on the
municipality worklist and among the reminders, names a contact person and accepts; the GP accepts; the
MedCom discharge arrives and the agreement is active; no worklist shows a gap for the stay any more; a
case worker of another municipality can open neither the patient nor the plan.

The patient is new to carepath: the admission message registers her, in the case worker's municipality,
and her GP clinic is the demo GP's. The scheduler is not running here: where it would evaluate the
queued pathways, the test runs that job itself."""

from __future__ import annotations

import json
import re
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect

from coordinator.accounts.models import User
from coordinator.accounts.services import create_staff_member
from coordinator.care_pathways.models import Pathway
from coordinator.db import get_database
from coordinator.demo import DemoLogin
from coordinator.organisations.models import Organisation
from coordinator.patients.models import Patient
from coordinator.patients.services import set_general_practitioner
from coordinator.plans.models import Plan
from coordinator.scheduler import run_job
from pathways.clock import COPENHAGEN, SystemClock
from pathways.organisations import OrganisationKind
from pathways.plans import PlanStatus
from pathways.stays import PathwayStatus
from tests.e2e.conftest import assert_accessible, log_in
from tests.fhir.support import bearer_token
from tests.scenario import SYSTEM

FIXTURES = Path(__file__).parents[1] / "fixtures" / "medcom"
# The fixtures' discharge moment: each message of the story is moved in time so that it is now (the
# admission then lies 18 days back, and the discharge comes after the agreement).
FIXTURE_DISCHARGE = datetime.fromisoformat("2026-03-20T11:00:32+01:00")
# A person new to carepath: the admission message registers her. A valid birth date that fails the
# modulus-11 check, like the demo's CPR numbers, so that it cannot belong to anyone.
STORY_CPR = "1503709931"
PARTY_NOT_ANSWERED = "En part har ikke svaret på planforslaget"  # the gap rule's Danish label
OTHER_CASE_WORKER = DemoLogin(
    "e2e-anden-kommune", "Rabarber-Lanterne-Kvist-4712", "case_worker", "another municipality"
)
_INSTANT = re.compile(r"20\d\d-\d\d-\d\dT\d\d:\d\d:\d\d\+01:00")


@pytest.fixture
def story(live_app: Flask, demo_logins: dict[str, DemoLogin]) -> dict[str, Any]:
    """The nurse's ward, the case worker's municipality, the GP's clinic, a system client of the ward's
    psychiatric centre, and a case worker of another municipality."""
    clock = SystemClock()
    with get_database(live_app).transaction() as session:

        def org_of(role: str) -> Organisation:
            user = session.scalars(
                sa.select(User).where(User.username == demo_logins[role].username)
            ).one()
            return user.organisation

        ward, municipality, clinic = org_of("discharge_nurse"), org_of("case_worker"), org_of("gp")
        elsewhere = session.scalars(
            sa.select(Organisation)
            .where(
                Organisation.kind == OrganisationKind.MUNICIPALITY,
                Organisation.id != municipality.id,
            )
            .order_by(Organisation.id)
            .limit(1)
        ).one()
        create_staff_member(
            session,
            SYSTEM,
            clock,
            organisation_id=elsewhere.id,
            name="Ole Andersen",
            role="case_worker",
            username=OTHER_CASE_WORKER.username,
            password=OTHER_CASE_WORKER.password,
        )
        token = bearer_token(
            session, clock, ward.parent_id, "system/Encounter.write", name="EPJ (story)"
        )
        return {
            "cpr": STORY_CPR,
            "name": ("Karen", "Holmgaard"),
            "kommunekode": municipality.kommunekode,
            "gp_clinic_id": clinic.id,
            "ward_sor": ward.sor_code,
            "municipality_sor": municipality.sor_code,
            "token": token,
            "episode": f"urn:uuid:{uuid.uuid4()}",
        }


def _medcom(name: str, story: dict[str, Any]) -> dict[str, Any]:
    """A MedCom fixture for the story's patient, ward, municipality and episode, with a message id of its
    own and its instants moved so that the fixture's discharge moment is now."""
    # MedCom's instants are whole seconds: the next whole second, once it has come, is after everything
    # done before (an agreement made in this second would otherwise come after a discharge "at" it).
    moment = datetime.now(COPENHAGEN).replace(microsecond=0) + timedelta(seconds=1)
    time.sleep(max(0.0, (moment - datetime.now(COPENHAGEN)).total_seconds()))
    shift = moment - FIXTURE_DISCHARGE
    text = (FIXTURES / f"{name}.json").read_text()
    header_id = json.loads(text)["entry"][0]["resource"]["id"]
    body = json.loads(
        _INSTANT.sub(lambda m: (datetime.fromisoformat(m.group()) + shift).isoformat(), text)
        .replace("990111000016009", story["ward_sor"])
        .replace("990211000016003", story["municipality_sor"])
        .replace("0101701234", story["cpr"])
        .replace(header_id, str(uuid.uuid4()))
    )
    for entry in body["entry"]:
        resource = entry["resource"]
        if resource["resourceType"] == "Patient":
            given, family = story["name"]
            resource["name"] = [{"use": "official", "family": family, "given": [given]}]
            code = resource["address"][0]["extension"][0]["valueCodeableConcept"]["coding"][0]
            code["code"] = story["kommunekode"].zfill(4)
        if resource["resourceType"] == "Encounter":
            resource["episodeOfCare"][0]["identifier"]["value"] = story["episode"]
            if "end" in resource["period"]:  # discharged as it is sent: after the agreement
                resource["period"]["end"] = (FIXTURE_DISCHARGE + shift).isoformat()
    return body


def _send(browser: Browser, live_server: str, story: dict[str, Any], name: str) -> None:
    """Post a MedCom message as the hospital's system does; it must be acknowledged as ok."""
    system = browser.new_context()
    try:
        answer = system.request.post(
            f"{live_server}/fhir/$process-message",
            data=json.dumps(_medcom(name, story)),
            headers={
                "Authorization": f"Bearer {story['token']}",
                "Content-Type": "application/fhir+json",
            },
        )
        assert answer.status == 200, answer.text()
        header = answer.json()["entry"][0]["resource"]
        assert header["response"]["code"] == "ok", answer.text()
    finally:
        system.close()


def _as(browser: Browser, live_server: str, login: DemoLogin) -> tuple[BrowserContext, Page]:
    context = browser.new_context(locale="da-DK", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    log_in(page, live_server, login)
    return context, page


def _row(page: Page, story: dict[str, Any]) -> Locator:
    """The story's stay on the worklist the page shows, found with the worklist's search by CPR."""
    search = page.get_by_label("Søg på navn eller CPR-nummer")
    search.fill(story["cpr"])
    search.press("Enter")
    expect(page).to_have_url(re.compile(r"[?&]q="))
    return page.locator(f'[data-testid="worklist-row"][data-pathway="{story["pathway_id"]}"]')


def _admitted(app: Flask, story: dict[str, Any]) -> None:
    """The patient and stay the admission message made; the patient's GP clinic is set as the national
    health insurance register would tell it (a MedCom admission does not name the GP)."""
    with get_database(app).transaction() as session:
        patient_id = session.scalars(sa.select(Patient.id).where(Patient.cpr == story["cpr"])).one()
        story["patient_id"] = patient_id
        story["pathway_id"] = session.scalars(
            sa.select(Pathway.id).where(
                Pathway.patient_id == patient_id, Pathway.status == PathwayStatus.ADMITTED
            )
        ).one()
        set_general_practitioner(
            session,
            SYSTEM,
            SystemClock(),
            patient_id=patient_id,
            gp_organisation_id=story["gp_clinic_id"],
        )


def _name_contact(page: Page, live_server: str, story: dict[str, Any], sector: str) -> None:
    """On the patient page, name the first person offered as the sector's fixed contact person."""
    page.goto(f"{live_server}/patients/{story['patient_id']}")
    card = page.get_by_test_id(f"contact-{sector}")
    expect(card.get_by_test_id("contact-missing")).to_be_visible()
    choice = card.get_by_label("Kontaktperson", exact=True)
    first = choice.locator("option").filter(has_not_text="Vælg").first.get_attribute("value")
    assert first, "someone can be named"
    choice.select_option(first)
    card.get_by_role("button", name="Udpeg kontaktperson").click()
    expect(page.get_by_test_id("contacts-notice")).to_be_visible()
    expect(
        page.get_by_test_id(f"contact-{sector}").get_by_test_id("contact-person")
    ).to_be_visible()


def _accept(page: Page, editor: str, role: str) -> None:
    page.goto(editor)
    answer = page.get_by_test_id(f"answer-{role}")
    answer.locator('input[type="radio"][value="accepted"]').check()
    answer.get_by_role("button", name="Send svar").click()
    expect(page.get_by_test_id(f"party-{role}")).to_contain_text("Accepteret")


def _plan_status(app: Flask, plan_id: int) -> PlanStatus:
    with get_database(app).transaction() as session:
        plan = session.get(Plan, plan_id)
        assert plan is not None
        return plan.status


def test_the_whole_story_from_admission_to_an_active_agreement(
    live_server: str,
    live_app: Flask,
    browser: Browser,
    demo_logins: dict[str, DemoLogin],
    story: dict[str, Any],
) -> None:
    contexts: list[BrowserContext] = []
    try:
        # The hospital's system tells carepath about the admission.
        _send(browser, live_server, story, "admit-inpatient")
        _admitted(live_app, story)
        run_job(live_app, "evaluate_queued")

        # The nurse sees the new stay on her ward's worklist, not assessed yet.
        context, nurse = _as(browser, live_server, demo_logins["discharge_nurse"])
        contexts.append(context)
        row = _row(nurse, story)
        expect(row).to_have_count(1)
        expect(row.get_by_test_id("worklist-state")).to_contain_text("Ikke vurderet")
        assert_accessible(nurse)

        # The chief physician assesses §13a: the patient is presumed not to seek treatment.
        context, chief = _as(browser, live_server, demo_logins["chief_physician"])
        contexts.append(context)
        chief.goto(f"{live_server}/patients/{story['patient_id']}")
        chief.get_by_text("Vurder § 13 a-kravet").click()
        form = chief.get_by_test_id("assessment-form")
        form.locator('input[name="receives_sel_support"][value="no"]').check()
        form.locator('input[name="presumed_not_to_seek_treatment"][value="yes"]').check()
        form.get_by_role("button", name="Gem vurdering").click()
        expect(chief.get_by_text("Vurderingen efter § 13 a er gemt")).to_be_visible()
        assert_accessible(chief)

        # The nurse drafts the agreement, fills the crisis plan and the rest, and proposes it.
        nurse.goto(f"{live_server}/patients/{story['patient_id']}")
        nurse.get_by_role("link", name="Ny plan").click()
        nurse.get_by_label("Udskrivningsaftale (§13a)").check()
        nurse.get_by_role("button", name="Opret kladde").click()
        expect(nurse).to_have_url(re.compile(r"/plans/\d+$"))
        editor = nurse.url
        plan_id = int(editor.rsplit("/", 1)[1])
        crisis = nurse.locator("#section-crisis_plan")
        crisis.get_by_label("Tidlige advarselstegn").fill("Sover dårligt\nTrækker sig fra familien")
        crisis.get_by_label("Det hjælper mig").fill("Ro og en gåtur\nAt tale med min bror")
        crisis.get_by_label("Ring om dagen til").fill("Afsnittet: 70 00 00 01")
        crisis.get_by_label("Ring om natten til").fill("1813")
        for label, text in {
            "Behandling": "Ambulant opfølgning i distriktspsykiatrien hver 14. dag",
            "Medicin": "Aripiprazol 10 mg dagligt",
            "Beskrivelse": "Bostøtte to gange om ugen",
            "Bolig": "Egen lejlighed",
            "Hvis behandlingen ophører": "Kommunen kontakter distriktspsykiatrien samme dag",
            "Hvem": "Distriktspsykiatrien",
        }.items():
            nurse.get_by_label(label, exact=True).fill(text)
        follow_up = (datetime.now(COPENHAGEN) + timedelta(days=14)).date().isoformat()
        nurse.get_by_label("Dato").fill(follow_up)
        nurse.get_by_role("button", name="Gem kladde").click()
        expect(nurse.get_by_text("Kladden er gemt.")).to_be_visible()
        nurse.get_by_role("button", name="Send til parterne").click()
        expect(nurse.get_by_text("Planen er sendt til parterne.")).to_be_visible()
        # The ward answers for itself and records the patient's answer.
        _accept(nurse, editor, "ward")
        _accept(nurse, editor, "patient")
        _name_contact(nurse, live_server, story, "region")
        run_job(live_app, "evaluate_queued")

        # The case worker finds the citizen waiting for the municipality's answer, and a reminder.
        context, case_worker = _as(browser, live_server, demo_logins["case_worker"])
        contexts.append(context)
        row = _row(case_worker, story)
        expect(row).to_have_count(1)
        expect(row.get_by_test_id("worklist-state")).to_contain_text("Bopælskommune")
        expect(row.get_by_test_id("worklist-tasks")).to_contain_text("kontaktperson")
        expect(row.locator("td").nth(-2)).not_to_have_text("0")  # open reminders
        case_worker.goto(f"{live_server}/patients/{story['patient_id']}")
        reminders = case_worker.get_by_test_id("reminders")
        expect(reminders).to_contain_text(PARTY_NOT_ANSWERED)
        reminders.get_by_role("link", name=PARTY_NOT_ANSWERED).first.click()
        expect(case_worker.locator("main")).to_contain_text(story["name"][1])
        assert_accessible(case_worker)
        _name_contact(case_worker, live_server, story, "municipality")
        _accept(case_worker, editor, "municipality")
        assert_accessible(case_worker)

        # The GP accepts; the agreement is agreed by every party.
        context, gp = _as(browser, live_server, demo_logins["gp"])
        contexts.append(context)
        row = _row(gp, story)
        expect(row.get_by_test_id("worklist-state")).to_contain_text("Egen læge")
        _accept(gp, editor, "gp")
        _name_contact(gp, live_server, story, "general_practice")
        expect(gp.get_by_test_id(f"plan-{plan_id}")).to_contain_text("Aftalt")
        assert _plan_status(live_app, plan_id) is PlanStatus.AGREED

        # The discharge message arrives: the agreement takes effect, and no gap is left.
        _send(browser, live_server, story, "discharge-inpatient-home")
        run_job(live_app, "evaluate_queued")
        assert _plan_status(live_app, plan_id) is PlanStatus.ACTIVE
        for page in (nurse, case_worker, gp):
            page.goto(f"{live_server}/patients/{story['patient_id']}")
            expect(page.get_by_test_id(f"plan-{plan_id}")).to_contain_text("Aktiv")
            expect(page.get_by_test_id("contacts").get_by_test_id("contact-missing")).to_have_count(
                0
            )
        for page in (case_worker, gp):
            page.goto(f"{live_server}/")
            row = _row(page, story)
            expect(row.get_by_test_id("worklist-state")).to_contain_text("Aftalt")
            expect(row.locator("td").nth(-2)).to_have_text("0")
            expect(row).not_to_have_class(re.compile("worklist-overdue"))
        nurse.goto(f"{live_server}/")
        expect(_row(nurse, story)).to_have_count(0)  # discharged: no longer a current stay

        # A case worker of another municipality has no care relation: "no such page", nothing shown.
        context, stranger = _as(browser, live_server, OTHER_CASE_WORKER)
        contexts.append(context)
        answer = stranger.goto(f"{live_server}/patients/{story['patient_id']}")
        assert answer is not None
        assert answer.status == 404
        expect(stranger.locator("h1")).to_have_text("Siden blev ikke fundet")
        expect(stranger.locator("main")).not_to_contain_text(story["name"][1])
        stranger.goto(f"{live_server}/plans/{plan_id}")
        expect(stranger.locator("h1")).to_have_text("Siden blev ikke fundet")
        assert_accessible(stranger)
    finally:
        for context in contexts:
            context.close()
