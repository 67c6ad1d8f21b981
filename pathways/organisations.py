"""Organisations of the three sectors and their hierarchy (ward -> psychiatric centre -> region)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from pathways.errors import ErrorCollector
from pathways.geography import Region
from pathways.identifiers import (
    validate_gln,
    validate_kommunekode,
    validate_region_code,
    validate_sor,
    validate_ydernummer,
)


class Sector(StrEnum):
    REGION = "region"
    MUNICIPALITY = "municipality"
    GENERAL_PRACTICE = "general_practice"


class OrganisationKind(StrEnum):
    REGION = "region"
    PSYCHIATRIC_CENTRE = "psychiatric_centre"
    WARD = "ward"
    OUTPATIENT_CLINIC = "outpatient_clinic"
    MUNICIPALITY = "municipality"
    MUNICIPAL_UNIT = "municipal_unit"  # social psychiatry, home support, job centre, housing
    GP_CLINIC = "gp_clinic"

    @property
    def sector(self) -> Sector:
        return KIND_SECTOR[self]


KIND_SECTOR: dict[OrganisationKind, Sector] = {
    OrganisationKind.REGION: Sector.REGION,
    OrganisationKind.PSYCHIATRIC_CENTRE: Sector.REGION,
    OrganisationKind.WARD: Sector.REGION,
    OrganisationKind.OUTPATIENT_CLINIC: Sector.REGION,
    OrganisationKind.MUNICIPALITY: Sector.MUNICIPALITY,
    OrganisationKind.MUNICIPAL_UNIT: Sector.MUNICIPALITY,
    OrganisationKind.GP_CLINIC: Sector.GENERAL_PRACTICE,
}

# Which kind of parent each kind of organisation hangs under (None: a top-level organisation).
ALLOWED_PARENTS: dict[OrganisationKind, frozenset[OrganisationKind | None]] = {
    OrganisationKind.REGION: frozenset({None}),
    OrganisationKind.PSYCHIATRIC_CENTRE: frozenset({OrganisationKind.REGION}),
    OrganisationKind.WARD: frozenset({OrganisationKind.PSYCHIATRIC_CENTRE}),
    OrganisationKind.OUTPATIENT_CLINIC: frozenset({OrganisationKind.PSYCHIATRIC_CENTRE}),
    OrganisationKind.MUNICIPALITY: frozenset({None}),
    OrganisationKind.MUNICIPAL_UNIT: frozenset({OrganisationKind.MUNICIPALITY}),
    OrganisationKind.GP_CLINIC: frozenset({None}),
}

# The identifier each kind must carry to be addressable across sectors.
REQUIRED_IDENTIFIER: dict[OrganisationKind, str] = {
    OrganisationKind.REGION: "region_code",
    OrganisationKind.PSYCHIATRIC_CENTRE: "sor_code",
    OrganisationKind.WARD: "sor_code",
    OrganisationKind.OUTPATIENT_CLINIC: "sor_code",
    OrganisationKind.MUNICIPALITY: "kommunekode",
    OrganisationKind.GP_CLINIC: "ydernummer",
}


@dataclass(frozen=True, slots=True)
class Organisation:
    name: str
    kind: OrganisationKind
    sor_code: str | None = None
    kommunekode: str | None = None
    ydernummer: str | None = None
    gln: str | None = None
    region_code: Region | None = None
    parent_kind: OrganisationKind | None = None

    @property
    def sector(self) -> Sector:
        return self.kind.sector


def new_organisation(
    *,
    name: object,
    kind: object,
    sor_code: str | None = None,
    kommunekode: str | None = None,
    ydernummer: str | None = None,
    gln: str | None = None,
    region_code: str | None = None,
    parent_kind: OrganisationKind | None = None,
) -> Organisation:
    """Validate everything at once and report every bad field, so a form can mark each one."""
    errors = ErrorCollector()
    clean_name = errors.text("name", name)
    clean_kind = errors.choice("kind", OrganisationKind, kind)
    values = {
        "sor_code": errors.check("sor_code", validate_sor, sor_code),
        "kommunekode": errors.check("kommunekode", validate_kommunekode, kommunekode),
        "ydernummer": errors.check("ydernummer", validate_ydernummer, ydernummer),
        "gln": errors.check("gln", validate_gln, gln),
    }
    clean_region = errors.check("region_code", validate_region_code, region_code)
    if clean_kind is not None:
        required = REQUIRED_IDENTIFIER.get(clean_kind)
        given = {
            "sor_code": sor_code,
            "kommunekode": kommunekode,
            "ydernummer": ydernummer,
            "region_code": region_code,
        }
        if required and not given[required]:
            errors.add(required, f"a {clean_kind.value} needs a {required}", "required")
        if parent_kind not in ALLOWED_PARENTS[clean_kind]:
            wanted = sorted(p.value for p in ALLOWED_PARENTS[clean_kind] if p is not None)
            if wanted:
                errors.add("parent", f"a {clean_kind.value} must belong to a {' or '.join(wanted)}")
            else:
                errors.add("parent", f"a {clean_kind.value} is a top-level organisation: no parent")
    errors.raise_if_any()
    assert clean_kind is not None  # raise_if_any() raised otherwise
    return Organisation(
        name=clean_name,
        kind=clean_kind,
        region_code=clean_region,
        parent_kind=parent_kind,
        **values,
    )
