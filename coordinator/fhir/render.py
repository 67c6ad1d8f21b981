"""Rows as the FHIR JSON the facade answers with: the mappers' built JSON, validated when
FHIR_VALIDATE_OUTPUT says so (ADR 0007). Every read, search, include and history copy goes through here."""

from __future__ import annotations

from coordinator.fhir import records
from coordinator.fhir.core import JSON, validate_output
from coordinator.plans.models import Plan
from fhir_adapters.careplan import care_plan_json
from fhir_adapters.careteam import care_team_json
from fhir_adapters.records import CareTeamRecord


def plan_json(plan: Plan) -> JSON:
    return care_plan_json(records.plan_record(plan), validate=validate_output())


def team_json(record: CareTeamRecord) -> JSON:
    return care_team_json(record, validate=validate_output())


def plan_team_json(plan: Plan) -> JSON:
    """The plan's parties as CareTeam ``plan-<id>``."""
    return team_json(records.plan_team(plan))
