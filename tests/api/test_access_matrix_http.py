"""The same authorisation matrix through HTTP: 200/201 when allowed, 403 problem details when not, and
every refusal in the audit log."""

from __future__ import annotations

from itertools import product

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from coordinator.audit.models import AuditEntry
from coordinator.plans import services as plans
from pathways.access import RelationState
from pathways.audit import AuditOutcome
from pathways.clock import FixedClock
from pathways.people import Role
from tests import scenario as sc
from tests.api.conftest import Login
from tests.integration.test_access_matrix import (
    HOME_FOR,
    READ_CONTACTS,
    READ_PLANS,
    STATES,
    WRITE_CONTACTS,
    _sector_org,
    expected,
    setup_case,
)


@pytest.mark.parametrize(("role", "state"), list(product(Role, STATES)))
def test_authorisation_matrix_over_http(
    session: Session,
    clock: FixedClock,
    app: Flask,
    login: Login,
    role: Role,
    state: RelationState,
) -> None:
    app.extensions["carepath.clock"] = clock
    w, actor, patient = setup_case(session, clock, role, state)
    client = login(actor)
    calls = {
        READ_PLANS: lambda: client.get(f"/api/v1/patients/{patient.id}/plans"),
        READ_CONTACTS: lambda: client.get(f"/api/v1/patients/{patient.id}/contacts"),
        WRITE_CONTACTS: lambda: client.post(
            f"/api/v1/patients/{patient.id}/contacts",
            json={
                "organisation_id": _sector_org(w, HOME_FOR[role]).id,
                "valid_from": "2026-11-26",
                "team_inbox": "team@example.org",
            },
        ),
    }
    outcomes = {}
    for name, call in calls.items():
        response = call()
        assert response.status_code in (200, 201, 403), response.json
        outcomes[name] = response.status_code != 403
        if response.status_code == 403:
            assert response.content_type == "application/problem+json"
    assert outcomes == {
        op: expected(role, state, op) for op in (READ_PLANS, READ_CONTACTS, WRITE_CONTACTS)
    }
    denials = session.scalar(
        sa.select(sa.func.count(AuditEntry.id)).where(
            AuditEntry.outcome == AuditOutcome.DENIED, AuditEntry.actor_id == actor.id
        )
    )
    assert denials == sum(not allowed for allowed in outcomes.values())


# ---------------------------------------------------------------------------- refusals reveal nothing
def _without_instance(response: TestResponse) -> dict[str, object]:
    assert response.content_type == "application/problem+json"
    body = dict(response.json or {})
    body.pop("instance")
    return body


def test_unknown_and_someone_elses_plan_get_one_refusal(
    session: Session, clock: FixedClock, world: sc.Scenario, login: Login
) -> None:
    plan = plans.create_draft(session, world.nurse, clock, pathway_id=world.pathway.id)
    stranger = login(world.other_nurse)
    theirs = stranger.get(f"/api/v1/plans/{plan.id}")
    unknown = stranger.get("/api/v1/plans/987654")
    assert (theirs.status_code, unknown.status_code) == (403, 403)
    assert _without_instance(theirs) == _without_instance(unknown)
    assert theirs.json["detail"] == "you have no care relation to this patient"
    assert sc.denials(session, world.other_nurse) == [
        ("Plan", str(plan.id), world.patient.id, "no current care relation to the patient"),
        ("Plan", "987654", None, "no such plan"),
    ]


def test_a_stale_if_match_never_tells_a_stranger_the_version(
    session: Session, clock: FixedClock, world: sc.Scenario, login: Login
) -> None:
    plan = plans.create_draft(session, world.nurse, clock, pathway_id=world.pathway.id)
    plan = plans.edit_plan(
        session,
        world.nurse,
        clock,
        plan_id=plan.id,
        expected_version=plan.version,
        sections={"housing": {"text": "Egen lejlighed"}},
    )
    stranger = login(world.other_nurse)
    read = stranger.get(f"/api/v1/plans/{plan.id}")
    stale = stranger.patch(
        f"/api/v1/plans/{plan.id}", json={"review_on": None}, headers={"If-Match": '"1"'}
    )
    step = stranger.post(f"/api/v1/plans/{plan.id}/propose", json={}, headers={"If-Match": '"1"'})
    assert [r.status_code for r in (read, stale, step)] == [403, 403, 403]
    assert _without_instance(stale) == _without_instance(read) == _without_instance(step)
    assert "version" not in stale.json["detail"]
    editor = login(world.nurse).patch(
        f"/api/v1/plans/{plan.id}", json={"review_on": None}, headers={"If-Match": '"1"'}
    )
    assert editor.status_code == 412  # the editor is told


def test_a_role_refusal_names_the_rule(
    session: Session, clock: FixedClock, world: sc.Scenario, login: Login
) -> None:
    body = {"receives_sel_support": True, "presumed_not_to_seek_treatment": False}
    nurse = login(world.nurse)
    own = nurse.put(f"/api/v1/pathways/{world.pathway.id}/assessment", json=body)
    unknown = nurse.put("/api/v1/pathways/987654/assessment", json=body)
    assert (own.status_code, unknown.status_code) == (403, 403)
    assert own.json["detail"] == (
        "the role discharge_nurse may not assess requirement: only chief_physician may"
    )
    assert _without_instance(own) == _without_instance(unknown)
    assert [d[3] for d in sc.denials(session, world.nurse)] == [
        "role discharge_nurse may not assess requirement"
    ] * 2
    chief = login(world.chief).put(f"/api/v1/pathways/{world.pathway.id}/assessment", json=body)
    assert chief.status_code == 200, chief.json


def test_a_missing_if_match_is_told_only_after_access(
    session: Session, clock: FixedClock, world: sc.Scenario, login: Login
) -> None:
    """Access first: a stranger is refused alike with and without If-Match; the editor hears 428."""
    plan = plans.create_draft(session, world.nurse, clock, pathway_id=world.pathway.id)
    url = f"/api/v1/plans/{plan.id}"
    stranger = login(world.other_nurse)
    tagged = stranger.patch(url, json={"review_on": None}, headers={"If-Match": '"1"'})
    bare = stranger.patch(url, json={"review_on": None})
    step = stranger.post(f"{url}/withdrawal", json={"reason": "not needed"})
    unknown = stranger.patch("/api/v1/plans/987654", json={"review_on": None})
    assert [r.status_code for r in (tagged, bare, step, unknown)] == [403] * 4
    assert (
        _without_instance(tagged)
        == _without_instance(bare)
        == _without_instance(step)
        == _without_instance(unknown)
    )
    assert [d[3] for d in sc.denials(session, world.other_nurse)] == [
        "no current care relation to the patient"
    ] * 3 + ["no such plan"]
    nurse = login(world.nurse)
    for refused in (
        nurse.patch(url, json={"review_on": None}),
        nurse.post(f"{url}/withdrawal", json={"reason": "not needed"}),
    ):
        assert refused.status_code == 428
        assert refused.content_type == "application/problem+json"
        assert refused.json["type"] == "/api/v1/problems/if-match-required"
        assert refused.json["title"] == "Precondition required"
        assert refused.json["detail"] == (
            "a change to the plan must name the version it edits: send If-Match with its ETag"
        )
    session.expire_all()
    assert (plan.version, plan.status.value) == (1, "draft")
