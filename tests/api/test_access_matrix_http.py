"""The same authorisation matrix through HTTP: 200/201 when allowed, 403 problem details when not, and
every refusal in the audit log."""

from __future__ import annotations

from collections.abc import Callable
from itertools import product

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from coordinator.audit.models import AuditEntry
from pathways.access import RelationState
from pathways.audit import AuditOutcome
from pathways.clock import FixedClock
from pathways.people import Actor, Role
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
    login: Callable[[Actor], FlaskClient],
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
