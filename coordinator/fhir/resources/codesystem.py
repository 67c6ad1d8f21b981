"""CodeSystem: our own code systems (plan kinds and statuses, care team roles, gap rules, ...)."""

from __future__ import annotations

from functools import cache

from coordinator.fhir.core import JSON, Context, not_found
from fhir_adapters.codesystems import code_systems
from fhir_adapters.common import to_json
from pathways.reminders import GapRule, rule_title


@cache
def _served() -> dict[str, JSON]:
    return {
        key: to_json(resource)
        for key, resource in code_systems(
            {rule.value: rule_title(rule, "en") for rule in GapRule}
        ).items()
    }


def read(ctx: Context, rid: str) -> JSON:
    found = _served().get(rid)
    if found is None:
        raise not_found(f"CodeSystem/{rid} is not one of ours ({', '.join(sorted(_served()))})")
    return dict(found)
