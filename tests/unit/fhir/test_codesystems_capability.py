from __future__ import annotations

from datetime import date

import pytest
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.codesystem import CodeSystem

from fhir_adapters.capability import (
    Operation,
    ResourceSupport,
    SearchParam,
    capability_statement,
)
from fhir_adapters.codesystems import (
    ENUM_CODESYSTEMS,
    GAP_RULE_ID,
    PLAN_KIND,
    PLAN_STATUS,
    code_systems,
    gap_rule_code_system,
)
from fhir_adapters.common import codesystem_url
from pathways.plans import PlanStatus
from pathways.reminders import GapRule
from tests.unit.fhir.helpers import reparse

RULES = {
    "plan_not_started": "No plan started",
    "discharged_without_plan": "Discharged without plan",
}


def test_every_code_system_validates_and_matches_its_enum() -> None:
    served = code_systems(RULES)
    assert set(served) == {c.id for c in ENUM_CODESYSTEMS} | {GAP_RULE_ID}
    assert {"plan-kind", "care-team-role", "gap-rule", "plan-status"} <= set(served)
    for codesystem_id, resource in served.items():
        data = reparse(resource)
        assert isinstance(resource, CodeSystem)
        assert data["id"] == codesystem_id
        assert data["url"] == codesystem_url(codesystem_id)
        assert (data["status"], data["content"]) == ("active", "complete")
        assert data["count"] == len(data["concept"])
    kinds = [c["code"] for c in reparse(served["plan-kind"])["concept"]]
    assert kinds == ["discharge-agreement", "coordination-plan"]
    statuses = [c["code"] for c in reparse(served["plan-status"])["concept"]]
    assert statuses == [PLAN_STATUS.code(s) for s in PlanStatus]
    assert "under-revision" in statuses
    roles = [c["code"] for c in reparse(served["care-team-role"])["concept"]]
    assert roles[0] == "fixed-contact"
    assert PLAN_KIND.member("coordination-plan") is not None


def test_displays_are_english_from_the_labels_with_a_danish_designation() -> None:
    served = {key: reparse(cs) for key, cs in code_systems(RULES).items()}
    sections = served["sector"]["concept"]
    assert sections[2] == {
        "code": "general-practice",
        "display": "General practice",
        "designation": [{"language": "da", "value": "Almen praksis"}],
    }
    for key, system in served.items():
        for concept in system["concept"]:
            if key != "gap-rule" or concept["code"] in {r.value for r in GapRule}:
                assert concept["designation"][0]["language"] == "da", (key, concept["code"])


def test_gap_rules_come_from_the_caller() -> None:
    data = reparse(gap_rule_code_system(["b_rule", "a_rule"]))
    assert [c["code"] for c in data["concept"]] == ["a_rule", "b_rule"]
    data = reparse(gap_rule_code_system(RULES))
    assert data["concept"][0] == {
        "code": "discharged_without_plan",
        "display": "Discharged without plan",
        "designation": [
            {
                "language": "da",
                "value": "Udskrevet uden en aftalt udskrivningsaftale eller koordinationsplan",
            }
        ],
    }
    with pytest.raises(ValueError, match="at least one"):
        gap_rule_code_system([])


RESOURCES = (
    ResourceSupport(
        type="CarePlan",
        interactions=("read", "vread", "update", "search-type", "history-instance"),
        search_params=(
            SearchParam("patient", "reference", "The patient"),
            SearchParam("status", "token"),
            SearchParam("_lastUpdated", "date"),
        ),
        read_history=True,
        search_includes=("CarePlan:care-team",),
        operations=(Operation("share", "https://carepath.example/fhir/OperationDefinition/share"),),
    ),
    ResourceSupport(type="Patient", interactions=("read", "search-type")),
    ResourceSupport(type="CodeSystem", interactions=("read",), versioning="no-version"),
)


def test_capability_statement() -> None:
    statement = capability_statement(
        RESOURCES,
        base_url="https://carepath.example/fhir",
        date=date(2026, 11, 26),
        software_version="0.1.0",
        oauth_token_url="https://carepath.example/oauth/token",
        system_interactions=("search-system",),
    )
    assert isinstance(statement, CapabilityStatement)
    data = reparse(statement)
    assert data["fhirVersion"] == "4.0.1"
    assert "json" in data["format"]
    assert (data["kind"], data["status"], data["date"]) == ("instance", "active", "2026-11-26")
    rest = data["rest"][0]
    assert rest["mode"] == "server"
    assert [r["type"] for r in rest["resource"]] == ["CarePlan", "Patient", "CodeSystem"]
    careplan = rest["resource"][0]
    assert [i["code"] for i in careplan["interaction"]] == list(RESOURCES[0].interactions)
    assert careplan["searchParam"][0] == {
        "name": "patient",
        "type": "reference",
        "documentation": "The patient",
    }
    assert careplan["versioning"] == "versioned-update"
    assert rest["security"]["extension"][0]["extension"][0]["valueUri"].endswith("/oauth/token")
    assert rest["interaction"] == [{"code": "search-system"}]


@pytest.mark.parametrize(
    "support",
    [
        ResourceSupport(type="Patient", interactions=("read", "fetch")),
        ResourceSupport(
            type="Patient", interactions=("read",), search_params=(SearchParam("x", "text"),)
        ),
        ResourceSupport(type="Patient", interactions=("read",), versioning="sometimes"),
    ],
)
def test_unknown_codes_are_bugs(support: ResourceSupport) -> None:
    with pytest.raises(ValueError, match="Patient"):
        capability_statement(
            [support],
            base_url="https://x.example/fhir",
            date=date(2026, 1, 1),
            software_version="1",
        )
