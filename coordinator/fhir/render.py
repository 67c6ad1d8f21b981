"""Rows as the FHIR JSON the facade answers with: the mappers' built JSON, validated when
FHIR_VALIDATE_OUTPUT says so (ADR 0007). Every read, search, include and history copy goes through here."""

from __future__ import annotations

from collections.abc import Iterable

from coordinator.contacts.models import ContactAssignment
from coordinator.fhir import records
from coordinator.fhir.core import JSON, validate_output
from coordinator.i18n import request_language
from coordinator.plans.models import Plan
from coordinator.plans.reads import PlanRow
from fhir_adapters.careplan import care_plan_json
from fhir_adapters.careteam import care_team_json
from fhir_adapters.records import CareTeamRecord


def plan_json(plan: Plan | PlanRow) -> JSON:
    return care_plan_json(
        records.plan_record(plan), validate=validate_output(), language=request_language()
    )


def team_json(record: CareTeamRecord) -> JSON:
    return care_team_json(record, validate=validate_output())


def plan_team_json(plan: Plan | PlanRow) -> JSON:
    """The plan's parties as CareTeam ``plan-<id>``."""
    return team_json(records.plan_team(plan, request_language()))


def contact_team_json(patient_id: int, rows: Iterable[ContactAssignment]) -> JSON:
    """The patient's fixed contact persons as CareTeam ``patient-<id>-contacts``."""
    return team_json(records.contact_team(patient_id, rows, request_language()))
