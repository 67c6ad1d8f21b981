"""Practitioner and PractitionerRole: the staff of organisations (directory data, no patient data).

A person works in one organisation with one role, so both resources share the staff member's id.
"""

from __future__ import annotations

from coordinator.accounts.services import get_staff_member
from coordinator.fhir import records
from coordinator.fhir.core import JSON, Context, int_id
from fhir_adapters.common import to_json
from fhir_adapters.practitioner import practitioner_role_to_fhir, practitioner_to_fhir


def read_practitioner(ctx: Context, rid: str) -> JSON:
    ctx.actor  # noqa: B018 - the directory is for signed-in parties only
    user = get_staff_member(ctx.session, int_id("Practitioner", rid))
    return to_json(practitioner_to_fhir(records.practitioner_record(user)))


def read_role(ctx: Context, rid: str) -> JSON:
    ctx.actor  # noqa: B018 - the directory is for signed-in parties only
    user = get_staff_member(ctx.session, int_id("PractitionerRole", rid))
    return to_json(practitioner_role_to_fhir(records.practitioner_record(user)))
