"""Organization: the shared directory (no patient data); read, search by DK identifier and name; system
administrators register organisations and correct their name, SOR code, GLN and e-mail (update)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from coordinator.fhir import records
from coordinator.fhir.core import (
    JSON,
    Context,
    FhirError,
    SearchQuery,
    SearchResult,
    bad_search,
    int_id,
)
from coordinator.fhir.search import Token, cursor_id, next_cursor, tokens
from coordinator.organisations.models import Organisation
from coordinator.organisations.services import (
    create_organisation,
    get_organisation,
    search_organisations,
    update_organisation,
)
from fhir_adapters.common import to_json
from fhir_adapters.organization import FIELD_PATHS, organization_from_fhir, organization_to_fhir
from pathways.errors import ErrorCollector, FieldError, NotFound, ValidationFailed
from pathways.identifiers import (
    GLN_LEGACY_SYSTEM,
    GLN_SYSTEM,
    MUNICIPALITY_SYSTEM,
    REGION_SYSTEM,
    SOR_SYSTEM,
    YDERNUMMER_SYSTEM,
    validate_gln,
    validate_kommunekode,
    validate_region_code,
    validate_sor,
    validate_ydernummer,
)
from pathways.organisations import OrganisationKind

# identifier system -> (search filter, validator giving the stored form)
IDENTIFIER_SYSTEMS: dict[str, tuple[str, Callable[[object, str], Any]]] = {
    SOR_SYSTEM: ("sor_code", validate_sor),
    MUNICIPALITY_SYSTEM: ("kommunekode", validate_kommunekode),
    YDERNUMMER_SYSTEM: ("ydernummer", validate_ydernummer),
    GLN_SYSTEM: ("gln", validate_gln),
    GLN_LEGACY_SYSTEM: ("gln", validate_gln),
    REGION_SYSTEM: ("region_code", validate_region_code),
}


def organisation_json(organisation: Organisation) -> JSON:
    return to_json(organization_to_fhir(records.organisation_record(organisation)))


def read(ctx: Context, rid: str) -> JSON:
    ctx.actor  # noqa: B018 - the directory is for signed-in parties only
    return organisation_json(get_organisation(ctx.session, int_id("Organization", rid)))


def _filters(token: Token) -> list[dict[str, Any]]:
    """The directory filters one identifier token stands for (a token without a system tries every
    system its value is valid in)."""
    if token.system is None:
        found = []
        for field, validate in IDENTIFIER_SYSTEMS.values():
            try:
                found.append({field: validate(token.code, field)})
            except ValidationFailed:
                continue
        return found
    if token.system not in IDENTIFIER_SYSTEMS:
        return []  # an identifier system we do not keep: nothing matches
    field, validate = IDENTIFIER_SYSTEMS[token.system]
    try:
        return [{field: validate(token.code, field)}]
    except ValidationFailed as exc:
        raise bad_search(f"search parameter identifier: {exc.errors[0].message}") from None


def _matches_identifier(organisation: Organisation, occurrence: list[Token]) -> bool:
    return any(
        all(getattr(organisation, field) == value for field, value in f.items())
        for token in occurrence
        for f in _filters(token)
    )


def search(ctx: Context, query: SearchQuery) -> SearchResult:
    ctx.actor  # noqa: B018 - the directory is for signed-in parties only
    identifiers = tokens(query, "identifier")
    names = [n.strip() for n in query.values("name") if n.strip()]
    after = cursor_id(query)
    branches: list[dict[str, Any]] = [{}]
    if identifiers:
        branches = [f for token in identifiers[0] for f in _filters(token)]
    found: dict[int, Organisation] = {}
    for branch in branches:
        for organisation in search_organisations(
            ctx.session,
            name=names[0] if names else None,
            after_id=after,
            limit=query.count,
            **branch,
        ):
            found[organisation.id] = organisation
    page = [found[i] for i in sorted(found)][: query.count]
    cursor = next_cursor([o.id for o in page], query.count)
    # Further occurrences AND with the first: checked on the page (the cursor still moves on by id).
    page = [
        o
        for o in page
        if all(_matches_identifier(o, occurrence) for occurrence in identifiers[1:])
        and all(n.casefold() in o.name.casefold() for n in names[1:])
    ]
    return SearchResult([organisation_json(o) for o in page], next_cursor=cursor)


def create(ctx: Context, body: JSON) -> JSON:
    """Register an organisation (system administrators): its DK identifiers are checked by the mapper,
    the hierarchy against the parent named in partOf."""

    def parent_kind(parent_id: int) -> OrganisationKind | None:
        try:
            return get_organisation(ctx.session, parent_id).kind
        except NotFound:
            return None

    record = organization_from_fhir(body, parent_kind_of=parent_kind)
    o = record.organisation
    row = create_organisation(
        ctx.session,
        ctx.actor,
        ctx.clock,
        name=o.name,
        kind=o.kind.value,
        parent_id=record.parent_id,
        sor_code=o.sor_code,
        kommunekode=o.kommunekode,
        ydernummer=o.ydernummer,
        gln=o.gln,
        region_code=o.region_code.value if o.region_code else None,
        email=record.email,
    )
    return organisation_json(row)


def update(ctx: Context, rid: str, body: JSON, expected: int | None) -> JSON:
    """Correct a registered organisation (system administrators, If-Match): the name, SOR code, GLN and
    e-mail change; type, partOf, kommunekode, ydernummer and region identify it and must stay as they
    are (422 naming the FHIRPath)."""
    organisation_id = int_id("Organization", rid)
    if body.get("id") != rid:
        raise FhirError(
            400,
            "invalid",
            f"the resource's id must be the id in the URL ({rid})",
            expression="Organization.id",
        )
    current = get_organisation(ctx.session, organisation_id)

    def parent_kind(parent_id: int) -> OrganisationKind | None:
        try:
            return get_organisation(ctx.session, parent_id).kind
        except NotFound:
            return None

    record = organization_from_fhir(body, parent_kind_of=parent_kind)
    o = record.organisation
    errors = ErrorCollector()
    fixed = (
        ("Organization.type", o.kind, current.kind),
        ("Organization.partOf", record.parent_id, current.parent_id),
        ("Organization.identifier", o.kommunekode, current.kommunekode),
        ("Organization.identifier", o.ydernummer, current.ydernummer),
        ("Organization.identifier", o.region_code, current.region_code),
    )
    for where, given, now in fixed:
        if given != now and where not in {e.field for e in errors.errors}:
            errors.add(where, "cannot be changed: register a new organisation", "business-rule")
    errors.raise_if_any()
    try:
        row = update_organisation(
            ctx.session,
            ctx.actor,
            ctx.clock,
            organisation_id=organisation_id,
            expected_version=expected,
            changes={"name": o.name, "sor_code": o.sor_code, "gln": o.gln, "email": record.email},
        )
    except ValidationFailed as exc:
        raise ValidationFailed(
            [FieldError(FIELD_PATHS.get(e.field, e.field), e.message, e.code) for e in exc.errors]
        ) from None
    return organisation_json(row)
