"""Danish identifiers: CPR, X-eCPR, SOR, ydernummer, kommunekode, region code and GLN."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pathways.errors import FieldError, ValidationFailed
from pathways.geography import MUNICIPALITIES, Region
from pathways.identifiers import (
    GLN_LEGACY_SYSTEM,
    GLN_SYSTEM,
    SOR_SYSTEM,
    cpr_birth_date,
    cpr_century,
    gs1_check_digit,
    is_gln_system,
    municipality,
    redact_cpr,
    validate_cpr,
    validate_gln,
    validate_kommunekode,
    validate_region_code,
    validate_sor,
    validate_x_ecpr,
    validate_ydernummer,
)


def single_error(exc: pytest.ExceptionInfo[ValidationFailed]) -> FieldError:
    """The one FieldError a validator raised (validators always report exactly one)."""
    assert len(exc.value.errors) == 1
    return exc.value.errors[0]


# ---------------------------------------------------------------------------------------------- CPR
@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            '"GET /fhir/Patient?identifier=urn:oid:1.2.208.176.1.2%7C0101701235 HTTP/1.1" 200',
            '"GET /fhir/Patient?identifier=urn:oid:1.2.208.176.1.2%7C[CPR] HTTP/1.1" 200',
        ),
        ("cpr=010170-1235 and 0202701234", "cpr=[CPR] and [CPR]"),
        ("encoded 010170%2D1235", "encoded [CPR]"),
        ("X-eCPR 0101701AB2", "X-eCPR [CPR]"),
        # not CPR-shaped: longer digit runs (SOR codes, GLN), short numbers, OIDs
        ("SOR 90000000000002 GLN 5790000123452", "SOR 90000000000002 GLN 5790000123452"),
        (
            "Patient/12 urn:oid:1.2.208.176.1.2 0101701",
            "Patient/12 urn:oid:1.2.208.176.1.2 0101701",
        ),
    ],
)
def test_redact_cpr_replaces_everything_cpr_shaped(line: str, expected: str) -> None:
    assert redact_cpr(line) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("010170-1234", "0101701234"),
        ("0101701234", "0101701234"),
        ("  010170-1234  ", "0101701234"),
        ("311299-0000", "3112990000"),
        ("290296-1234", "2902961234"),  # 1996 is a leap year
        ("290200-4000", "2902004000"),  # serial 4, yy 00 -> 2000, a leap year
        ("290200-5000", "2902005000"),  # serial 5, yy 00 -> 2000
        ("010158-5000", "0101585000"),  # serial 5, yy 58 -> 1858
    ],
)
def test_validate_cpr_accepts_and_returns_ten_digits(raw: str, expected: str) -> None:
    assert validate_cpr(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "010170123",  # 9 digits
        "01017012345",  # 11 digits
        "010170-123",
        "010170-12345",
        "01017O1234",  # letter O
        "abcdefghij",
        "010170--1234",
        "0101-701234",  # hyphen in the wrong place
        "010170 1234",  # a space is not a hyphen
        "010170/1234",
        "\uff10\uff11\uff10\uff11\uff17\uff10\uff11\uff12\uff13\uff14",  # fullwidth digits
        "\u0660\u0661\u0660\u0661\u0667\u0660\u0661\u0662\u0663\u0664",  # Arabic-Indic digits
    ],
)
def test_validate_cpr_rejects_wrong_shape(raw: str) -> None:
    with pytest.raises(ValidationFailed) as exc:
        validate_cpr(raw)
    assert single_error(exc) == FieldError(
        "cpr", "CPR number must be 10 digits (DDMMYY-SSSS)", "invalid"
    )


@pytest.mark.parametrize(
    "raw",
    [
        "3102901234",  # 31 February
        "3002011234",  # 30 February
        "2902011234",  # 29 February 1901
        "2902001234",  # serial 1 -> 1900, not a leap year
        "2902000999",  # serial 0 -> 1900 again
        "0013701234",  # month 13
        "0100701234",  # month 0
        "0001701234",  # day 0
        "3204701234",  # 32 April
        "3104701234",  # 31 April
    ],
)
def test_validate_cpr_rejects_impossible_birth_dates(raw: str) -> None:
    with pytest.raises(ValidationFailed) as exc:
        validate_cpr(raw)
    error = single_error(exc)
    assert error.field == "cpr"
    assert error.code == "invalid"
    assert error.message == (f"CPR number {raw[:6]}-XXXX does not start with a valid birth date")
    assert raw[6:] not in error.message  # the serial never appears in a message


@pytest.mark.parametrize("raw", ["3102901234", "0101", "010170-12x4"])
def test_validate_cpr_names_the_callers_field(raw: str) -> None:
    with pytest.raises(ValidationFailed) as exc:
        validate_cpr(raw, "patient.cpr")
    assert exc.value.fields == ("patient.cpr",)


def _passes_modulus_11(cpr: str) -> bool:
    weights = (4, 3, 2, 7, 6, 5, 4, 3, 2, 1)
    return sum(int(d) * w for d, w in zip(cpr, weights, strict=True)) % 11 == 0


@pytest.mark.parametrize("cpr", ["0101701234", "0101701235", "1503891112"])
def test_validate_cpr_does_not_require_modulus_11(cpr: str) -> None:
    assert not _passes_modulus_11(cpr)
    assert validate_cpr(cpr) == cpr


@pytest.mark.parametrize(
    ("digit", "yy", "century"),
    [
        # 0-3: always the 1900s
        (0, 0, 1900),
        (0, 99, 1900),
        (1, 36, 1900),
        (2, 57, 1900),
        (3, 58, 1900),
        (3, 99, 1900),
        # 4 and 9: 2000s up to yy 36, else 1900s
        (4, 0, 2000),
        (4, 36, 2000),
        (4, 37, 1900),
        (4, 99, 1900),
        (9, 0, 2000),
        (9, 36, 2000),
        (9, 37, 1900),
        (9, 99, 1900),
        # 5-8: 2000s up to yy 57, else 1800s
        (5, 0, 2000),
        (5, 57, 2000),
        (5, 58, 1800),
        (6, 36, 2000),
        (6, 37, 2000),
        (7, 57, 2000),
        (7, 99, 1800),
        (8, 58, 1800),
        (8, 0, 2000),
    ],
)
def test_cpr_century(digit: int, yy: int, century: int) -> None:
    assert cpr_century(digit, yy) == century


@pytest.mark.parametrize(
    ("cpr", "born"),
    [
        ("0101701234", date(1970, 1, 1)),
        ("3112364000", date(2036, 12, 31)),
        ("0101374000", date(1937, 1, 1)),
        ("1507579999", date(1957, 7, 15)),
        ("1507575000", date(2057, 7, 15)),
        ("1507588000", date(1858, 7, 15)),
        ("2902004000", date(2000, 2, 29)),
    ],
)
def test_cpr_birth_date(cpr: str, born: date) -> None:
    assert cpr_birth_date(cpr) == born


def _serial_digits_for(year: int) -> list[int]:
    """First serial digits that encode ``year``'s century (the CPR office table, written out)."""
    yy = year % 100
    if 1858 <= year <= 1899:
        return [5, 6, 7, 8]
    if 1900 <= year <= 1999:
        return [0, 1, 2, 3] + ([4, 9] if yy >= 37 else [])
    if 2000 <= year <= 2057:
        return ([4, 9] if yy <= 36 else []) + [5, 6, 7, 8]
    raise AssertionError(f"{year} cannot be encoded in a CPR number")


@st.composite
def cpr_with_birth_date(draw: st.DrawFn) -> tuple[str, date]:
    born = draw(st.dates(min_value=date(1858, 1, 1), max_value=date(2057, 12, 31)))
    first = draw(st.sampled_from(_serial_digits_for(born.year)))
    rest = draw(st.integers(min_value=0, max_value=999))
    hyphen = draw(st.sampled_from(["", "-"]))
    return f"{born:%d%m}{born.year % 100:02d}{hyphen}{first}{rest:03d}", born


@settings(deadline=None)
@given(cpr_with_birth_date())
def test_any_date_from_1858_to_2057_round_trips_through_a_cpr(case: tuple[str, date]) -> None:
    raw, born = case
    cpr = validate_cpr(raw)
    assert cpr == raw.replace("-", "")
    assert len(cpr) == 10
    assert cpr.isdigit()
    assert cpr_birth_date(cpr) == born


# ------------------------------------------------------------------------------------------- X-eCPR


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("0101701AB1", "0101701AB1"),
        ("0101707ZZ9", "0101707ZZ9"),
        ("0101701ab1", "0101701AB1"),
        ("  3112997xy0 ", "3112997XY0"),
        ("2902701AB1", "2902701AB1"),  # 29 February: no century, so always accepted
    ],
)
def test_validate_x_ecpr_accepts_and_upper_cases(raw: str, expected: str) -> None:
    assert validate_x_ecpr(raw) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("3102701AB1", "replacement CPR does not start with a valid day and month"),
        ("3104701AB1", "replacement CPR does not start with a valid day and month"),
        ("0113701AB1", "replacement CPR does not start with a valid day and month"),
        ("0100701AB1", "replacement CPR does not start with a valid day and month"),
        ("0001701AB1", "replacement CPR does not start with a valid day and month"),
        ("3201701AB1", "replacement CPR does not start with a valid day and month"),
    ]
    + [
        (raw, "replacement CPR (X-eCPR) must look like DDMMYY + 1|7 + two letters + digit")
        for raw in (
            "0101702AB1",  # 2 is neither 1 nor 7
            "0101700AB1",
            "0101701A11",  # one letter
            "0101701ABC",  # no final digit
            "0101701AB",
            "0101701AB12",
            "010170-1AB1",
            "0101701234",  # an ordinary CPR number
            "0101701\u00c6B1",  # Æ is not A-Z
            "\uff10101701AB1",  # fullwidth zero
        )
    ],
)
def test_validate_x_ecpr_rejects(raw: str, message: str) -> None:
    with pytest.raises(ValidationFailed) as exc:
        validate_x_ecpr(raw)
    assert single_error(exc) == FieldError("replacement_cpr", message, "invalid")


def test_validate_x_ecpr_names_the_callers_field() -> None:
    with pytest.raises(ValidationFailed) as exc:
        validate_x_ecpr("0101702AB1", "patient.x_ecpr")
    assert exc.value.fields == ("patient.x_ecpr",)


# ---------------------------------------------------------------------------------------------- SOR


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("12345678901", "12345678901"),  # 11 digits
        ("123456789012345678", "123456789012345678"),  # 18 digits
        ("953741000016009", "953741000016009"),
        (" 12345678901 ", "12345678901"),
    ],
)
def test_validate_sor_accepts(raw: str, expected: str) -> None:
    assert validate_sor(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "1234567890",  # 10 digits
        "1234567890123456789",  # 19 digits
        "1234567890A",
        "12345 678901",
        "-12345678901",
        "1234567890.1",
        "\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669\u0660\u0661",  # Arabic-Indic
    ],
)
def test_validate_sor_rejects(raw: str) -> None:
    with pytest.raises(ValidationFailed) as exc:
        validate_sor(raw)
    assert single_error(exc) == FieldError(
        "sor_code", "SOR code must be 11 to 18 digits", "invalid"
    )


def test_validate_sor_names_the_callers_field() -> None:
    with pytest.raises(ValidationFailed) as exc:
        validate_sor("1234567890", "ward.sor")
    assert exc.value.fields == ("ward.sor",)


# --------------------------------------------------------------------------------------- Ydernummer


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1", "000001"),
        ("42", "000042"),
        ("12345", "012345"),
        ("123456", "123456"),
        ("012345", "012345"),
        (" 77 ", "000077"),
    ],
)
def test_validate_ydernummer_zero_pads_to_six(raw: str, expected: str) -> None:
    assert validate_ydernummer(raw) == expected


@pytest.mark.parametrize(
    "raw", ["0", "000000", "1234567", "0123456", "12a", "-1", "1.5", "12 34", "\uff11\uff12"]
)
def test_validate_ydernummer_rejects(raw: str) -> None:
    with pytest.raises(ValidationFailed) as exc:
        validate_ydernummer(raw)
    assert single_error(exc) == FieldError(
        "ydernummer", "ydernummer must be 1 to 6 digits and not zero", "invalid"
    )


def test_validate_ydernummer_names_the_callers_field() -> None:
    with pytest.raises(ValidationFailed) as exc:
        validate_ydernummer("0", "gp.ydernummer")
    assert exc.value.fields == ("gp.ydernummer",)


# -------------------------------------------------------------------------------------- Kommunekode


@pytest.mark.parametrize("code", sorted(MUNICIPALITIES))
def test_every_kommunekode_is_accepted_in_three_and_four_digit_form(code: str) -> None:
    assert validate_kommunekode(code) == code
    assert validate_kommunekode("0" + code) == code
    assert len(validate_kommunekode("0" + code)) == 3


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("101", "101"), ("0101", "101"), ("851", "851"), ("0851", "851"), (" 0461 ", "461")],
)
def test_validate_kommunekode_examples(raw: str, expected: str) -> None:
    assert validate_kommunekode(raw) == expected


@settings(deadline=None)
@given(
    st.integers(min_value=0, max_value=9999).filter(lambda n: str(n).zfill(3) not in MUNICIPALITIES)
)
def test_any_number_that_is_not_a_kommunekode_is_rejected(number: int) -> None:
    for raw in {str(number), str(number).zfill(3), str(number).zfill(4)}:
        with pytest.raises(ValidationFailed) as exc:
            validate_kommunekode(raw)
        assert single_error(exc) == FieldError(
            "kommunekode", f"{raw} is not a Danish kommunekode", "invalid"
        )


@pytest.mark.parametrize(
    "raw", ["00101", "abc", "10 1", "-101", "+101", "1_01", "\uff11\uff10\uff11"]
)
def test_validate_kommunekode_rejects_malformed(raw: str) -> None:
    with pytest.raises(ValidationFailed) as exc:
        validate_kommunekode(raw, "address.kommunekode")
    assert single_error(exc) == FieldError(
        "address.kommunekode",
        "kommunekode must be 3 digits (e.g. 101) or 4 with a leading zero (0101)",
        "invalid",
    )


def test_municipality_lookup() -> None:
    assert municipality("0851") == MUNICIPALITIES["851"]
    assert municipality("851").name == "Aalborg"
    with pytest.raises(ValidationFailed):
        municipality("999")


# ----------------------------------------------------------------------------------------- Regions


@pytest.mark.parametrize(
    ("raw", "region"),
    [
        ("DK-81", Region.NORDJYLLAND),
        ("DK-82", Region.MIDTJYLLAND),
        ("DK-83", Region.SYDDANMARK),
        ("DK-84", Region.HOVEDSTADEN),
        ("DK-85", Region.SJAELLAND),
        ("dk-84", Region.HOVEDSTADEN),
        ("Dk-85", Region.SJAELLAND),
        (" dK-81 ", Region.NORDJYLLAND),
    ],
)
def test_validate_region_code_accepts(raw: str, region: Region) -> None:
    assert validate_region_code(raw) is region


@pytest.mark.parametrize("raw", ["DK-86", "DK-80", "DK-8", "81", "DK81", "DK 81", "Hovedstaden"])
def test_validate_region_code_rejects(raw: str) -> None:
    with pytest.raises(ValidationFailed) as exc:
        validate_region_code(raw)
    assert single_error(exc) == FieldError(
        "region_code", "region code must be one of DK-81, DK-82, DK-83, DK-84, DK-85", "invalid"
    )


# --------------------------------------------------------------------------------------------- GLN


def test_gs1_check_digit_known_values() -> None:
    # '579000000000': GS1 weights the digits 1,3,1,3,... from the left for a 13-digit number
    # (equivalently 3,1,3,... from the right of the 12-digit body):
    #   5*1 + 7*3 + 9*1 + 0*3 + ... + 0*3 = 5 + 21 + 9 = 35;  check = (10 - 35 % 10) % 10 = 5
    assert gs1_check_digit("579000000000") == 5
    # GS1's own worked example, GTIN 629104150021-3:
    #   6*1 + 2*3 + 9*1 + 1*3 + 0*1 + 4*3 + 1*1 + 5*3 + 0*1 + 0*3 + 2*1 + 1*3
    #   = 6 + 6 + 9 + 3 + 0 + 12 + 1 + 15 + 0 + 0 + 2 + 3 = 57;  check = 10 - 7 = 3
    assert gs1_check_digit("629104150021") == 3
    # A sum that is already a multiple of ten gives 0, not 10.
    assert gs1_check_digit("000000000000") == 0


@pytest.mark.parametrize("gln", ["5790000000005", "6291041500213", "0000000000000"])
def test_validate_gln_accepts_known_values(gln: str) -> None:
    assert validate_gln(gln) == gln
    assert validate_gln(f" {gln} ") == gln


@pytest.mark.parametrize("gln", ["5790000000006", "5790000000000", "6291041500214"])
def test_validate_gln_rejects_a_wrong_check_digit(gln: str) -> None:
    with pytest.raises(ValidationFailed) as exc:
        validate_gln(gln)
    assert single_error(exc) == FieldError(
        "gln", "GLN check digit is wrong (GS1 mod-10)", "invalid"
    )


@pytest.mark.parametrize(
    "raw",
    ["579000000000", "57900000000050", "579000000000X", "5790 00000005", "\uff15790000000005"],
)
def test_validate_gln_rejects_wrong_shape(raw: str) -> None:
    with pytest.raises(ValidationFailed) as exc:
        validate_gln(raw, "sender.gln")
    assert single_error(exc) == FieldError("sender.gln", "GLN must be 13 digits", "invalid")


@settings(deadline=None)
@given(
    body=st.text(alphabet="0123456789", min_size=12, max_size=12),
    wrong=st.integers(min_value=1, max_value=9),
)
def test_gln_with_its_check_digit_is_accepted_and_any_other_last_digit_rejected(
    body: str, wrong: int
) -> None:
    check = gs1_check_digit(body)
    assert 0 <= check <= 9
    assert validate_gln(body + str(check)) == body + str(check)
    other = (check + wrong) % 10  # every digit but the check digit, as `wrong` runs over 1..9
    with pytest.raises(ValidationFailed) as exc:
        validate_gln(body + str(other))
    assert exc.value.fields == ("gln",)


def test_gln_systems() -> None:
    assert is_gln_system(GLN_SYSTEM)
    assert is_gln_system(GLN_LEGACY_SYSTEM)
    assert not is_gln_system(SOR_SYSTEM)


# ---------------------------------------------------------------------- absent or non-text input

VALIDATORS: list[tuple[Callable[..., object], str, str]] = [
    (validate_cpr, "cpr", "CPR number is required"),
    (validate_x_ecpr, "replacement_cpr", "Replacement CPR is required"),
    (validate_sor, "sor_code", "SOR code is required"),
    (validate_ydernummer, "ydernummer", "Ydernummer is required"),
    (validate_kommunekode, "kommunekode", "Kommunekode is required"),
    (validate_region_code, "region_code", "Region code is required"),
    (validate_gln, "gln", "GLN is required"),
]


@pytest.mark.parametrize(("validator", "field", "message"), VALIDATORS)
@pytest.mark.parametrize(
    "value", [None, "", "   ", "\t\n", 101, 5790000000005, 1.5, b"0101701234", ["101"]]
)
def test_absent_or_non_text_input_is_required(
    validator: Callable[..., object], field: str, message: str, value: object
) -> None:
    with pytest.raises(ValidationFailed) as exc:
        validator(value)
    assert exc.value.errors == (FieldError(field, message, "invalid"),)
    assert exc.value.fields == (field,)


@pytest.mark.parametrize(("validator", "field", "message"), VALIDATORS)
def test_absent_input_uses_the_callers_field(
    validator: Callable[..., object], field: str, message: str
) -> None:
    with pytest.raises(ValidationFailed) as exc:
        validator(None, f"x.{field}")
    assert exc.value.errors == (FieldError(f"x.{field}", message, "invalid"),)
