"""The CapabilityStatement (``GET /fhir/metadata``) from a declarative list the HTTP layer passes in.

The HTTP layer declares what it serves (``ResourceSupport`` per resource type); this module only renders
it: FHIR 4.0.1, JSON only, server mode, OAuth (SMART ``oauth-uris`` extension when a token URL is given).
Unknown interaction or search parameter type codes raise ValueError: they are bugs, not client errors.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from fhir.resources.R4B.capabilitystatement import CapabilityStatement

from fhir_adapters.common import JSON, build, compact

FHIR_VERSION = "4.0.1"
FORMATS = ("json", "application/fhir+json")
OAUTH_URIS_EXTENSION = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"
RESTFUL_SECURITY_SYSTEM = "http://terminology.hl7.org/CodeSystem/restful-security-service"

TYPE_INTERACTIONS = frozenset(
    {
        "read",
        "vread",
        "update",
        "patch",
        "delete",
        "history-instance",
        "history-type",
        "create",
        "search-type",
    }
)
SYSTEM_INTERACTIONS = frozenset({"transaction", "batch", "search-system", "history-system"})
SEARCH_PARAM_TYPES = frozenset(
    {"number", "date", "string", "token", "reference", "composite", "quantity", "uri", "special"}
)
VERSIONING = frozenset({"no-version", "versioned", "versioned-update"})


@dataclass(frozen=True, slots=True)
class SearchParam:
    name: str
    type: str  # number | date | string | token | reference | composite | quantity | uri | special
    documentation: str = ""
    definition: str = ""  # canonical URL of the SearchParameter, if a standard one


@dataclass(frozen=True, slots=True)
class Operation:
    name: str  # without the $
    definition: str  # canonical URL of the OperationDefinition
    documentation: str = ""


@dataclass(frozen=True, slots=True)
class ResourceSupport:
    type: str  # FHIR resource type, e.g. "CarePlan"
    interactions: tuple[
        str, ...
    ]  # read, vread, update, patch, delete, history-*, create, search-type
    search_params: tuple[SearchParam, ...] = ()
    profile: str = ""
    supported_profiles: tuple[str, ...] = ()
    documentation: str = ""
    versioning: str = "versioned-update"  # with If-Match on update
    read_history: bool = False
    update_create: bool = False
    search_includes: tuple[str, ...] = ()
    operations: tuple[Operation, ...] = ()


def _resource(support: ResourceSupport) -> JSON:
    unknown = set(support.interactions) - TYPE_INTERACTIONS
    if unknown:
        raise ValueError(f"{support.type}: unknown interactions {sorted(unknown)}")
    if support.versioning not in VERSIONING:
        raise ValueError(f"{support.type}: unknown versioning {support.versioning!r}")
    for param in support.search_params:
        if param.type not in SEARCH_PARAM_TYPES:
            raise ValueError(
                f"{support.type}: search parameter {param.name} has type {param.type!r}"
            )
    return compact(
        {
            "type": support.type,
            "profile": support.profile,
            "supportedProfile": list(support.supported_profiles),
            "documentation": support.documentation,
            "interaction": [{"code": code} for code in support.interactions],
            "versioning": support.versioning,
            "readHistory": support.read_history,
            "updateCreate": support.update_create,
            "searchInclude": list(support.search_includes),
            "searchParam": [
                compact(
                    {
                        "name": p.name,
                        "definition": p.definition,
                        "type": p.type,
                        "documentation": p.documentation,
                    }
                )
                for p in support.search_params
            ],
            "operation": [
                compact(
                    {"name": o.name, "definition": o.definition, "documentation": o.documentation}
                )
                for o in support.operations
            ],
        }
    )


def capability_statement(
    resources: Sequence[ResourceSupport],
    *,
    base_url: str,
    date: date | datetime,
    software_version: str,
    software_name: str = "carepath",
    publisher: str = "carepath",
    description: str = "Cross-sector care-pathway coordination for Danish psychiatry (FHIR R4 facade).",
    security_description: str = "",
    oauth_token_url: str | None = None,
    system_interactions: tuple[str, ...] = (),
    implementation_guides: tuple[str, ...] = (),
) -> CapabilityStatement:
    """Render the CapabilityStatement. ``date`` is the statement's date (pass the release date or now:
    this module never reads the clock)."""
    unknown = set(system_interactions) - SYSTEM_INTERACTIONS
    if unknown:
        raise ValueError(f"unknown system interactions {sorted(unknown)}")
    security: JSON = {
        "cors": True,
        "service": [{"coding": [{"system": RESTFUL_SECURITY_SYSTEM, "code": "OAuth"}]}],
        "description": security_description,
    }
    if oauth_token_url:
        security["extension"] = [
            {
                "url": OAUTH_URIS_EXTENSION,
                "extension": [{"url": "token", "valueUri": oauth_token_url}],
            }
        ]
    rest = compact(
        {
            "mode": "server",
            "security": compact(security),
            "resource": [_resource(r) for r in resources],
            "interaction": [{"code": code} for code in system_interactions],
        }
    )
    body = compact(
        {
            "resourceType": "CapabilityStatement",
            "status": "active",
            "date": date.isoformat(),
            "publisher": publisher,
            "description": description,
            "kind": "instance",
            "software": {"name": software_name, "version": software_version},
            "implementation": {"description": description, "url": base_url},
            "fhirVersion": FHIR_VERSION,
            "format": list(FORMATS),
            "implementationGuide": list(implementation_guides),
            "rest": [rest],
        }
    )
    return build(CapabilityStatement, body)
