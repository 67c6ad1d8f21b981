"""The plan editor pages through Flask's test client: the form follows plan_rules.toml, save, propose,
answer, a concurrent edit merged without losing either change, history, the citizen's copy."""

from __future__ import annotations

import re
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from coordinator.plans import services as plan_services
from coordinator.plans.models import Plan
from pathways import plan_content
from pathways.clock import FixedClock
from pathways.plans import ParticipantRole, PlanStatus, ResponseStatus
from tests import scenario as sc
from tests.web.conftest import Login, count_statements, csrf_token, form_post


def _plan(session: Session, plan_id: int) -> Plan:
    session.expire_all()
    plan = session.get(Plan, plan_id)
    assert plan is not None
    return plan


def _draft(session: Session, clock: FixedClock, world: sc.Scenario) -> Plan:
    return sc.draft(session, clock, world)


def _hidden(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" type="hidden" value="([^"]*)"', html) or re.search(
        rf'type="hidden" name="{name}" value="([^"]*)"', html
    )
    assert found, name
    return found.group(1)


def _editor_fields(plan: Plan) -> dict[str, str]:
    return {"version": str(plan.version), "base": str(plan.current_version_number)}


def test_the_form_has_every_field_of_the_rules_with_the_crisis_plan_first(
    world: sc.Scenario, session: Session, clock: FixedClock, login: Login
) -> None:
    plan = _draft(session, clock, world)
    page = login(world.nurse).get(f"/plans/{plan.id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    names = re.findall(r'name="([a-z_]+__[a-z_]+)"', html)
    expected = [f"{s.key.value}__{f.name}" for s in plan_content.section_specs() for f in s.fields]
    assert names == expected
    assert names[0].startswith("crisis_plan__")
    assert "Kriseplan" in html
    assert "Ring om natten til" in html
    assert 'type="date"' in html  # first_follow_up.date
    reads = sc.audit_entries(session, resource_type="Plan", resource_id=str(plan.id))
    assert any(
        e.details.get("purpose") == "read plan in editor" or e.purpose == "read plan in editor"
        for e in reads
    )


def test_a_field_added_to_the_rules_appears_in_the_form(
    world: sc.Scenario,
    session: Session,
    clock: FixedClock,
    login: Login,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rules = plan_content._rules()
    changed: dict[str, Any] = {
        **rules,
        "sections": {
            **rules["sections"],
            "crisis_plan": {
                **rules["sections"]["crisis_plan"],
                "fields": {**rules["sections"]["crisis_plan"]["fields"], "pets": "text"},
            },
        },
    }
    plan = _draft(session, clock, world)
    monkeypatch.setattr(plan_content, "_rules", lambda: changed)
    plan_content.section_fields.cache_clear()
    plan_content.section_specs.cache_clear()
    try:
        client = login(world.nurse)
        html = client.get(f"/plans/{plan.id}").get_data(as_text=True)
        assert 'name="crisis_plan__pets"' in html
        saved = form_post(
            client,
            f"/plans/{plan.id}",
            f"/plans/{plan.id}",
            {**_editor_fields(plan), "crisis_plan__pets": "Katten Mis skal passes"},
        )
        assert saved.status_code == 302
        assert _plan(session, plan.id).current_version.sections["crisis_plan"] == {
            "pets": "Katten Mis skal passes"
        }
    finally:
        plan_content.section_fields.cache_clear()
        plan_content.section_specs.cache_clear()


def test_save_keeps_lists_and_texts_and_makes_a_version(
    world: sc.Scenario, session: Session, clock: FixedClock, login: Login
) -> None:
    plan = _draft(session, clock, world)
    client = login(world.nurse)
    saved = form_post(
        client,
        f"/plans/{plan.id}",
        f"/plans/{plan.id}",
        {
            **_editor_fields(plan),
            "crisis_plan__warning_signs": "søvnløshed\n\n  stemmer  \n",
            "crisis_plan__call_day": "70 00 00 01",
            "first_follow_up__date": "2026-12-20",
        },
    )
    assert saved.status_code == 302
    assert saved.headers["Location"].endswith(f"/plans/{plan.id}")
    after = _plan(session, plan.id)
    assert after.current_version_number == 2
    assert after.current_version.sections == {
        "crisis_plan": {"warning_signs": ["søvnløshed", "stemmer"], "call_day": "70 00 00 01"},
        "first_follow_up": {"date": "2026-12-20"},
    }
    page = client.get(f"/plans/{plan.id}").get_data(as_text=True)
    assert "søvnløshed\nstemmer</textarea>" in page


def test_a_bad_date_is_shown_next_to_the_field_and_nothing_changes(
    world: sc.Scenario, session: Session, clock: FixedClock, login: Login
) -> None:
    plan = _draft(session, clock, world)
    client = login(world.nurse)
    refused = form_post(
        client,
        f"/plans/{plan.id}",
        f"/plans/{plan.id}",
        {
            **_editor_fields(plan),
            "first_follow_up__date": "i morgen",
            "housing__text": "Egen bolig",
        },
    )
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert 'id="first_follow_up__date-error"' in html
    assert "Angiv en dato." in html
    assert "Egen bolig</textarea>" in html  # what was typed is kept
    assert _plan(session, plan.id).current_version_number == 1


def test_csrf_is_required(
    world: sc.Scenario, session: Session, clock: FixedClock, login: Login
) -> None:
    plan = _draft(session, clock, world)
    refused = login(world.nurse).post(f"/plans/{plan.id}", data=_editor_fields(plan))
    assert refused.status_code == 400
    assert _plan(session, plan.id).current_version_number == 1


def test_proposing_an_incomplete_plan_marks_the_missing_sections(
    world: sc.Scenario, session: Session, clock: FixedClock, login: Login
) -> None:
    plan = _draft(session, clock, world)
    client = login(world.nurse)
    refused = form_post(
        client, f"/plans/{plan.id}", f"/plans/{plan.id}/propose", {"version": plan.version}
    )
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert 'id="section-crisis_plan-error"' in html
    assert "Udfyld dette afsnit, før planen sendes til parterne." in html
    assert _plan(session, plan.id).status is PlanStatus.DRAFT


def test_propose_then_answer_per_party(
    world: sc.Scenario, session: Session, clock: FixedClock, login: Login
) -> None:
    plan = sc.complete_draft(session, clock, world)
    nurse = login(world.nurse)
    proposed = form_post(
        nurse, f"/plans/{plan.id}", f"/plans/{plan.id}/propose", {"version": plan.version}
    )
    assert proposed.status_code == 302
    plan = _plan(session, plan.id)
    assert plan.status is PlanStatus.PROPOSED

    case_worker = login(world.case_worker)
    page = case_worker.get(f"/plans/{plan.id}").get_data(as_text=True)
    municipality = sc.participant_id(plan, ParticipantRole.MUNICIPALITY)
    gp = sc.participant_id(plan, ParticipantRole.GP)
    assert f"/parties/{municipality}/answer" in page
    assert f"/parties/{gp}/answer" not in page  # only the parties she answers for
    assert 'data-testid="plan-form"' not in page  # a proposed plan is not edited
    assert "/propose" not in page
    assert "3. dec. 2026" in page  # the date field shown as a Danish date

    action = f"/plans/{plan.id}/parties/{municipality}/answer"
    prefix = f"party{municipality}-"
    refused = form_post(
        case_worker,
        f"/plans/{plan.id}",
        action,
        {f"{prefix}version": plan.version, f"{prefix}response": "rejected", f"{prefix}note": ""},
    )
    assert refused.status_code == 422
    assert f'id="{prefix}note-error"' in refused.get_data(as_text=True)
    assert _plan(session, plan.id).status is PlanStatus.PROPOSED

    accepted = form_post(
        case_worker,
        f"/plans/{plan.id}",
        action,
        {f"{prefix}version": plan.version, f"{prefix}response": "accepted"},
    )
    assert accepted.status_code == 302
    plan = _plan(session, plan.id)
    assert sc.participant(plan, ParticipantRole.MUNICIPALITY).response is ResponseStatus.ACCEPTED
    page = case_worker.get(f"/plans/{plan.id}").get_data(as_text=True)
    assert "Accepteret" in page


def test_answering_a_plan_that_waits_for_no_answer_is_a_danish_refusal(
    world: sc.Scenario, session: Session, clock: FixedClock, login: Login
) -> None:
    plan = sc.agreed_plan(session, clock, world)
    municipality = sc.participant_id(plan, ParticipantRole.MUNICIPALITY)
    client = login(world.case_worker)
    prefix = f"party{municipality}-"
    refused = form_post(
        client,
        f"/plans/{plan.id}",
        f"/plans/{plan.id}/parties/{municipality}/answer",
        {f"{prefix}version": plan.version, f"{prefix}response": "accepted"},
    )
    assert refused.status_code == 409
    assert "venter ikke på svar" in refused.get_data(as_text=True)


def test_a_stale_save_shows_both_texts_and_the_merge_keeps_both_changes(
    world: sc.Scenario, session: Session, clock: FixedClock, login: Login
) -> None:
    plan = _draft(session, clock, world)
    first, second = login(world.nurse), login(world.ward_staff)
    page = first.get(f"/plans/{plan.id}").get_data(as_text=True)
    token = csrf_token(second, f"/plans/{plan.id}")
    loaded = {"version": _hidden(page, "version"), "base": _hidden(page, "base")}

    saved = form_post(
        first,
        f"/plans/{plan.id}",
        f"/plans/{plan.id}",
        {**loaded, "crisis_plan__call_day": "Afsnit 1: 70 00 00 01"},
    )
    assert saved.status_code == 302

    stale = second.post(
        f"/plans/{plan.id}",
        data={**loaded, "csrf_token": token, "housing__text": "Egen lejlighed"},
    )
    assert stale.status_code == 409
    html = stale.get_data(as_text=True)
    assert 'data-testid="merge-form"' in html
    assert 'data-field="crisis_plan__call_day"' in html
    assert 'data-field="housing__text"' in html
    assert "Afsnit 1: 70 00 00 01" in html
    assert "Egen lejlighed" in html
    after_first = _plan(session, plan.id)
    assert _hidden(html, "version") == str(after_first.version)

    form = {
        "csrf_token": token,
        "version": _hidden(html, "version"),
        "base": _hidden(html, "base"),
    }
    for name in re.findall(r'name="pick__([a-z_]+)" value="[a-z]+" checked', html):
        form[f"pick__{name}"] = re.search(
            rf'name="pick__{name}" value="([a-z]+)" checked', html
        ).group(1)  # type: ignore[union-attr]
        form[f"mine__{name}"] = _hidden(html, f"mine__{name}")
        form[f"saved__{name}"] = _hidden(html, f"saved__{name}")
    assert form["pick__housing__text"] == "mine"
    assert form["pick__crisis_plan__call_day"] == "saved"
    merged = second.post(f"/plans/{plan.id}", data=form)
    assert merged.status_code == 302
    final = _plan(session, plan.id)
    assert final.current_version.sections == {
        "crisis_plan": {"call_day": "Afsnit 1: 70 00 00 01"},
        "housing": {"text": "Egen lejlighed"},
    }


def test_history_shows_versions_and_a_word_diff(
    world: sc.Scenario, session: Session, clock: FixedClock, login: Login
) -> None:
    plan = _draft(session, clock, world)
    plan = plan_services.edit_plan(
        session,
        world.nurse,
        clock,
        plan_id=plan.id,
        expected_version=plan.version,
        sections={"housing": {"text": "Egen lejlighed på Nørrebro"}},
    )
    plan = plan_services.edit_plan(
        session,
        world.nurse,
        clock,
        plan_id=plan.id,
        expected_version=plan.version,
        sections={"housing": {"text": "Egen lejlighed på Amager"}},
        change_note="flyttet",
    )
    page = login(world.case_worker).get(f"/plans/{plan.id}/history")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "flyttet" in html
    assert "<del>Nørrebro</del>" in html
    assert "<ins>Amager</ins>" in html
    older = login(world.case_worker).get(f"/plans/{plan.id}/history?from=1&to=3")
    assert "<ins>Egen lejlighed på Amager</ins>" in older.get_data(as_text=True)


def test_the_citizen_copy_leaves_out_internal_sections(
    world: sc.Scenario, session: Session, clock: FixedClock, login: Login
) -> None:
    plan = sc.complete_draft(session, clock, world)
    client = login(world.nurse)
    page = client.get(f"/plans/{plan.id}/citizen-copy")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    internal = [s for s in plan_content.section_specs() if not s.for_citizen]
    assert internal, "plan_rules.toml marks at least one section internal"
    assert "Kommunen kontakter distriktspsykiatrien" not in html  # if_treatment_stops
    assert "Hvis behandlingen ophører" not in html
    assert "søvnløshed" in html
    assert "Kriseplan" in html
    assert "3. dec. 2026" in html  # the first follow-up's date, in Danish
    assert "2026-12-03" not in html
    assert 'media="print"' in html
    reads = sc.audit_entries(session, resource_type="Plan", resource_id=str(plan.id))
    assert "citizen copy" in [e.purpose for e in reads]


def test_the_citizen_copy_as_pdf(
    world: sc.Scenario, session: Session, clock: FixedClock, login: Login
) -> None:
    plan = sc.complete_draft(session, clock, world)
    pdf = login(world.nurse).get(f"/plans/{plan.id}/citizen-copy.pdf")
    assert pdf.status_code == 200
    assert pdf.headers["Content-Type"] == "application/pdf"
    assert pdf.data.startswith(b"%PDF")
    reads = sc.audit_entries(session, resource_type="Plan", resource_id=str(plan.id))
    assert "citizen copy (pdf)" in [e.purpose for e in reads]


@pytest.mark.parametrize(
    "path",
    [
        "/plans/{id}",
        "/plans/{id}/history",
        "/plans/{id}/citizen-copy",
        "/plans/{id}/citizen-copy.pdf",
    ],
)
def test_another_municipality_gets_not_found(
    world: sc.Scenario, session: Session, clock: FixedClock, login: Login, path: str
) -> None:
    plan = sc.complete_draft(session, clock, world)
    refused = login(world.other_case_worker).get(path.format(id=plan.id))
    assert refused.status_code == 404
    assert "Mette" not in refused.get_data(as_text=True)
    assert sc.denials(session, world.other_case_worker)


def test_new_draft_from_the_patient(
    world: sc.Scenario, session: Session, clock: FixedClock, login: Login, app: Flask
) -> None:
    client = login(world.nurse)
    page = client.get(f"/patients/{world.patient.id}/plans/new")
    assert page.status_code == 200
    created = form_post(
        client,
        f"/patients/{world.patient.id}/plans/new",
        f"/patients/{world.patient.id}/plans/new",
        {"pathway_id": world.pathway.id, "kind": "discharge_agreement"},
    )
    assert created.status_code == 302
    plan_id = int(created.headers["Location"].rsplit("/", 1)[1])
    assert _plan(session, plan_id).status is PlanStatus.DRAFT
    again = form_post(
        client,
        f"/patients/{world.patient.id}/plans/new",
        f"/patients/{world.patient.id}/plans/new",
        {"pathway_id": world.pathway.id, "kind": "discharge_agreement"},
    )
    assert again.status_code == 409
    assert "allerede" in again.get_data(as_text=True)
    assert (
        login(world.other_case_worker).get(f"/patients/{world.patient.id}/plans/new").status_code
        == 404
    )


def test_a_reader_who_may_not_change_the_plan_gets_no_buttons(
    world: sc.Scenario, session: Session, clock: FixedClock, login: Login
) -> None:
    plan = sc.proposed_plan(session, clock, world)
    support = sc.staff_member(
        session, clock, organisation_id=world.municipality.id, role="support_worker", name="Støtte"
    )
    page = login(support).get(f"/plans/{plan.id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Kriseplan" in html
    assert "<form" not in html.split('id="main-content"', 1)[1]  # no save, propose or answer


def test_the_editor_in_english(
    world: sc.Scenario, session: Session, clock: FixedClock, login: Login
) -> None:
    plan = _draft(session, clock, world)
    html = login(world.nurse).get(f"/plans/{plan.id}?lang=en").get_data(as_text=True)
    assert "Crisis plan" in html
    assert "Call at night" in html
    assert "Save draft" in html


def test_the_editor_reads_in_a_fixed_number_of_statements(
    world: sc.Scenario,
    session: Session,
    clock: FixedClock,
    login: Login,
    connection: sa.Connection,
) -> None:
    """No N+1: more versions and more filled sections do not add statements to the editor or history."""
    plan = _draft(session, clock, world)
    client = login(world.nurse)
    editor, history = f"/plans/{plan.id}", f"/plans/{plan.id}/history"
    client.get(editor)  # the first request warms caches of the app
    before = (
        count_statements(connection, client, editor),
        count_statements(connection, client, history),
    )

    for n, place in enumerate(("Nørrebro", "Amager", "Valby", "Vesterbro"), start=1):
        plan = plan_services.edit_plan(
            session,
            world.nurse,
            clock,
            plan_id=plan.id,
            expected_version=plan.version,
            sections={
                "housing": {"text": f"Egen lejlighed på {place}"},
                "medication": {"text": f"Dosis {n}"},
            },
        )

    after = (
        count_statements(connection, client, editor),
        count_statements(connection, client, history),
    )
    assert after == before
