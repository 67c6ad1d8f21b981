"""Reference data: the 5 regions and 98 municipalities of Denmark."""

from __future__ import annotations

from collections import Counter

import pytest

from pathways.geography import MUNICIPALITIES, REGION_NAMES, Municipality, Region


def test_there_are_98_municipalities_and_5_regions() -> None:
    assert len(MUNICIPALITIES) == 98
    assert len(Region) == 5
    assert {r.value for r in Region} == {"DK-81", "DK-82", "DK-83", "DK-84", "DK-85"}
    assert {m.region for m in MUNICIPALITIES.values()} == set(Region)


def test_municipalities_per_region() -> None:
    counts = Counter(m.region for m in MUNICIPALITIES.values())
    assert counts == {
        Region.HOVEDSTADEN: 29,
        Region.SJAELLAND: 17,
        Region.SYDDANMARK: 22,
        Region.MIDTJYLLAND: 19,
        Region.NORDJYLLAND: 11,
    }


@pytest.mark.parametrize(
    ("code", "name", "region"),
    [
        ("101", "København", "DK-84"),
        ("147", "Frederiksberg", "DK-84"),
        ("400", "Bornholm", "DK-84"),
        ("851", "Aalborg", "DK-81"),
        ("751", "Aarhus", "DK-82"),
        ("461", "Odense", "DK-83"),
        ("265", "Roskilde", "DK-85"),
        ("825", "Læsø", "DK-81"),
        ("492", "Ærø", "DK-83"),
    ],
)
def test_spot_checks(code: str, name: str, region: str) -> None:
    assert MUNICIPALITIES[code] == Municipality(code, name, Region(region))


def test_keys_are_the_three_digit_codes_and_names_are_unique() -> None:
    for key, m in MUNICIPALITIES.items():
        assert key == m.code
        assert len(m.code) == 3
        assert m.code.isascii()
        assert m.code.isdigit()
    assert len({m.name for m in MUNICIPALITIES.values()}) == 98


@pytest.mark.parametrize(("code", "display"), [("101", "0101"), ("851", "0851"), ("400", "0400")])
def test_display_code_is_four_digits(code: str, display: str) -> None:
    assert MUNICIPALITIES[code].display_code == display


def test_every_display_code_is_four_digits_with_a_leading_zero() -> None:
    for m in MUNICIPALITIES.values():
        assert len(m.display_code) == 4
        assert m.display_code == "0" + m.code


@pytest.mark.parametrize(
    ("region", "name"),
    [
        (Region.NORDJYLLAND, "Region Nordjylland"),
        (Region.MIDTJYLLAND, "Region Midtjylland"),
        (Region.SYDDANMARK, "Region Syddanmark"),
        (Region.HOVEDSTADEN, "Region Hovedstaden"),
        (Region.SJAELLAND, "Region Sjælland"),
    ],
)
def test_region_display_names(region: Region, name: str) -> None:
    assert region.display == name
    assert REGION_NAMES[region] == name
