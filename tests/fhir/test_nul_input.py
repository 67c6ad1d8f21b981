"""The FHIR facade refuses text with NUL characters: 400 for a parameter, 422 with the FHIRPath for a
resource; nothing is created."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from coordinator.patients.models import Patient
from tests import scenario as sc
from tests.fhir.conftest import Login
from tests.fhir.support import outcome


def test_nul_in_a_search_parameter_or_a_resource(
    world: sc.Scenario, login: Login, session: Session
) -> None:
    client = login(world.nurse)
    refused = outcome(client.get("Organization?name=K%00benhavn"), 400, "invalid")
    assert "name" in refused["issue"][0]["diagnostics"]
    before = session.scalar(sa.select(sa.func.count(Patient.id)))
    patient = {
        "resourceType": "Patient",
        "name": [{"family": "Test\u0000esen", "given": ["Anne"]}],
    }
    body = outcome(client.post("Patient", patient), 422, "value")
    assert body["issue"][0]["expression"] == ["Patient.name[0].family"]
    assert session.scalar(sa.select(sa.func.count(Patient.id))) == before
