"""Organisations of the three sectors: validation, hierarchy and sector."""

from __future__ import annotations

import pytest

from pathways.errors import FieldError, ValidationFailed
from pathways.geography import Region
from pathways.organisations import (
    REQUIRED_IDENTIFIER,
    Organisation,
    OrganisationKind,
    Sector,
    new_organisation,
)

K = OrganisationKind
SOR = "953741000016009"
GLN = "5790000000005"  # 579000000000 + GS1 check digit 5


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        (
            {"name": "Region Hovedstaden", "kind": "region", "region_code": "dk-84"},
            Organisation(name="Region Hovedstaden", kind=K.REGION, region_code=Region.HOVEDSTADEN),
        ),
        (
            {
                "name": "Psykiatrisk Center Amager",
                "kind": "psychiatric_centre",
                "sor_code": SOR,
                "parent_kind": K.REGION,
            },
            Organisation(
                name="Psykiatrisk Center Amager",
                kind=K.PSYCHIATRIC_CENTRE,
                sor_code=SOR,
                parent_kind=K.REGION,
            ),
        ),
        (
            {
                "name": "  Afsnit P1  ",
                "kind": K.WARD,
                "sor_code": f" {SOR} ",
                "gln": GLN,
                "parent_kind": K.PSYCHIATRIC_CENTRE,
            },
            Organisation(
                name="Afsnit P1",
                kind=K.WARD,
                sor_code=SOR,
                gln=GLN,
                parent_kind=K.PSYCHIATRIC_CENTRE,
            ),
        ),
        (
            {
                "name": "Ambulatorium Syd",
                "kind": "outpatient_clinic",
                "sor_code": "12345678901",
                "parent_kind": K.PSYCHIATRIC_CENTRE,
            },
            Organisation(
                name="Ambulatorium Syd",
                kind=K.OUTPATIENT_CLINIC,
                sor_code="12345678901",
                parent_kind=K.PSYCHIATRIC_CENTRE,
            ),
        ),
        (
            {"name": "Aalborg Kommune", "kind": "municipality", "kommunekode": "0851"},
            Organisation(name="Aalborg Kommune", kind=K.MUNICIPALITY, kommunekode="851"),
        ),
        (
            {"name": "Bostøtte Nord", "kind": "municipal_unit", "parent_kind": K.MUNICIPALITY},
            Organisation(name="Bostøtte Nord", kind=K.MUNICIPAL_UNIT, parent_kind=K.MUNICIPALITY),
        ),
        (
            {"name": "Lægerne i Byen", "kind": "gp_clinic", "ydernummer": "1234", "gln": GLN},
            Organisation(name="Lægerne i Byen", kind=K.GP_CLINIC, ydernummer="001234", gln=GLN),
        ),
    ],
)
def test_new_organisation_happy_paths(kwargs: dict[str, object], expected: Organisation) -> None:
    assert new_organisation(**kwargs) == expected


def test_all_field_errors_are_reported_at_once() -> None:
    with pytest.raises(ValidationFailed) as exc:
        new_organisation(
            name="",
            kind="ward",
            sor_code="1234",
            gln="5790000000006",
            parent_kind=K.REGION,
        )
    assert exc.value.fields == ("name", "sor_code", "gln", "parent")
    assert exc.value.errors == (
        FieldError("name", "name is required", "required"),
        FieldError("sor_code", "SOR code must be 11 to 18 digits", "invalid"),
        FieldError("gln", "GLN check digit is wrong (GS1 mod-10)", "invalid"),
        FieldError("parent", "a ward must belong to a psychiatric_centre", "invalid"),
    )


def test_every_bad_identifier_is_reported() -> None:
    with pytest.raises(ValidationFailed) as exc:
        new_organisation(
            name="X",
            kind="gp_clinic",
            sor_code="1",
            kommunekode="999",
            ydernummer="0",
            gln="1",
            region_code="DK-99",
        )
    assert set(exc.value.fields) == {"sor_code", "kommunekode", "ydernummer", "gln", "region_code"}
    assert len(exc.value.errors) == 5


@pytest.mark.parametrize(
    ("kind", "parent", "identifier"),
    [
        ("region", None, "region_code"),
        ("psychiatric_centre", K.REGION, "sor_code"),
        ("ward", K.PSYCHIATRIC_CENTRE, "sor_code"),
        ("outpatient_clinic", K.PSYCHIATRIC_CENTRE, "sor_code"),
        ("municipality", None, "kommunekode"),
        ("gp_clinic", None, "ydernummer"),
    ],
)
def test_missing_required_identifier(
    kind: str, parent: OrganisationKind | None, identifier: str
) -> None:
    with pytest.raises(ValidationFailed) as exc:
        new_organisation(name="Somewhere", kind=kind, parent_kind=parent)
    assert exc.value.errors == (
        FieldError(identifier, f"a {kind} needs a {identifier}", "required"),
    )


def test_required_identifier_table_is_what_the_tests_expect() -> None:
    assert REQUIRED_IDENTIFIER == {
        K.REGION: "region_code",
        K.PSYCHIATRIC_CENTRE: "sor_code",
        K.WARD: "sor_code",
        K.OUTPATIENT_CLINIC: "sor_code",
        K.MUNICIPALITY: "kommunekode",
        K.GP_CLINIC: "ydernummer",
    }


def test_a_municipal_unit_needs_no_identifier() -> None:
    unit = new_organisation(name="Jobcenter", kind="municipal_unit", parent_kind=K.MUNICIPALITY)
    assert (unit.sor_code, unit.kommunekode, unit.ydernummer, unit.gln, unit.region_code) == (
        None,
        None,
        None,
        None,
        None,
    )


def test_a_blank_required_identifier_is_reported_once() -> None:
    with pytest.raises(ValidationFailed) as exc:
        new_organisation(
            name="Afsnit", kind="ward", sor_code="   ", parent_kind=K.PSYCHIATRIC_CENTRE
        )
    assert exc.value.errors == (FieldError("sor_code", "SOR code is required", "invalid"),)


def test_another_identifier_does_not_stand_in_for_the_required_one() -> None:
    with pytest.raises(ValidationFailed) as exc:
        new_organisation(
            name="Afsnit", kind="ward", ydernummer="1234", parent_kind=K.PSYCHIATRIC_CENTRE
        )
    assert exc.value.fields == ("sor_code",)


@pytest.mark.parametrize(
    ("kind", "parent", "allowed"),
    [
        ("region", K.REGION, False),
        ("region", None, True),
        ("psychiatric_centre", None, False),
        ("psychiatric_centre", K.REGION, True),
        ("psychiatric_centre", K.PSYCHIATRIC_CENTRE, False),
        ("ward", K.REGION, False),
        ("ward", K.WARD, False),
        ("ward", None, False),
        ("ward", K.PSYCHIATRIC_CENTRE, True),
        ("outpatient_clinic", K.REGION, False),
        ("outpatient_clinic", K.PSYCHIATRIC_CENTRE, True),
        ("municipality", K.REGION, False),
        ("municipality", None, True),
        ("municipal_unit", None, False),
        ("municipal_unit", K.REGION, False),
        ("municipal_unit", K.MUNICIPALITY, True),
        ("gp_clinic", K.MUNICIPALITY, False),
        ("gp_clinic", None, True),
    ],
)
def test_parent_kind_rules(kind: str, parent: OrganisationKind | None, allowed: bool) -> None:
    identifiers = {
        "region": {"region_code": "DK-81"},
        "psychiatric_centre": {"sor_code": SOR},
        "ward": {"sor_code": SOR},
        "outpatient_clinic": {"sor_code": SOR},
        "municipality": {"kommunekode": "851"},
        "municipal_unit": {},
        "gp_clinic": {"ydernummer": "1"},
    }[kind]
    if allowed:
        org = new_organisation(name="Org", kind=kind, parent_kind=parent, **identifiers)
        assert org.parent_kind == parent
    else:
        with pytest.raises(ValidationFailed) as exc:
            new_organisation(name="Org", kind=kind, parent_kind=parent, **identifiers)
        assert exc.value.fields == ("parent",)


@pytest.mark.parametrize("kind", ["hospital", "Ward", "", None, 3])
def test_unknown_kind(kind: object) -> None:
    with pytest.raises(ValidationFailed) as exc:
        new_organisation(name="Somewhere", kind=kind, sor_code=SOR)
    assert exc.value.fields == ("kind",)
    assert exc.value.errors[0].code == "invalid-choice"
    assert exc.value.errors[0].message == (
        "must be one of: region, psychiatric_centre, ward, outpatient_clinic, municipality, "
        "municipal_unit, gp_clinic"
    )


@pytest.mark.parametrize(
    ("name", "code", "message"),
    [
        ("", "required", "name is required"),
        ("   ", "required", "name is required"),
        (None, "required", "name is required"),
        (42, "invalid", "must be text"),
        ("x" * 201, "too-long", "must be at most 200 characters"),
    ],
)
def test_bad_names(name: object, code: str, message: str) -> None:
    with pytest.raises(ValidationFailed) as exc:
        new_organisation(name=name, kind="municipality", kommunekode="101")
    assert exc.value.errors == (FieldError("name", message, code),)


def test_a_name_of_200_characters_is_fine() -> None:
    assert (
        new_organisation(name="x" * 200, kind="municipality", kommunekode="101").name == "x" * 200
    )


@pytest.mark.parametrize(
    ("kind", "sector"),
    [
        (K.REGION, Sector.REGION),
        (K.PSYCHIATRIC_CENTRE, Sector.REGION),
        (K.WARD, Sector.REGION),
        (K.OUTPATIENT_CLINIC, Sector.REGION),
        (K.MUNICIPALITY, Sector.MUNICIPALITY),
        (K.MUNICIPAL_UNIT, Sector.MUNICIPALITY),
        (K.GP_CLINIC, Sector.GENERAL_PRACTICE),
    ],
)
def test_sector_is_derived_from_kind(kind: OrganisationKind, sector: Sector) -> None:
    assert kind.sector is sector
    assert Organisation(name="Org", kind=kind).sector is sector
