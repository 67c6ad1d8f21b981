"""Danish identifiers (HL7 Denmark DK-core): systems and validation.

Every validator returns the canonical form of a valid value and raises ``ValidationFailed`` naming the field
otherwise, so callers can pass their own field name (``"gp.ydernummer"``) and get a message a person can act on.
"""

from __future__ import annotations

import re
from datetime import date

from pathways.errors import ValidationFailed
from pathways.geography import MUNICIPALITIES, Municipality, Region

# FHIR identifier systems (see shared/domain/README.md §3).
CPR_SYSTEM = "urn:oid:1.2.208.176.1.2"
X_ECPR_SYSTEM = "urn:oid:1.2.208.176.1.6.1.1"
SOR_SYSTEM = "urn:oid:1.2.208.176.1.1"
YDERNUMMER_SYSTEM = "urn:oid:1.2.208.176.1.4"
MUNICIPALITY_SYSTEM = "http://hl7.dk/fhir/core/CodeSystem/dk-core-municipality-codes"
REGION_SYSTEM = "http://hl7.dk/fhir/core/CodeSystem/dk-core-regional-subdivision-codes"
GLN_SYSTEM = "https://www.gs1.org/gln"
GLN_LEGACY_SYSTEM = "urn:oid:1.3.88"  # older MedCom messages: accepted on input, never emitted
LPR3_SYSTEMS = (
    "https://www.esundhed.dk/Registre/Landspatientregisteret",
    "https://www.esundhed.dk/Registre/Landspatientsregisteret",  # spelling seen in published examples
)

# re.ASCII: a bare \d also matches non-ASCII digits (fullwidth, Arabic-Indic): not canonical.
_DIGITS = re.compile(r"\d+", re.ASCII)
_CPR = re.compile(r"(\d{6})-?(\d{4})", re.ASCII)
_X_ECPR = re.compile(r"(\d{6})([17])([A-Z]{2})(\d)", re.ASCII)
# Anything shaped like a CPR number (DDMMYY-SSSS, the hyphen optional or percent-encoded as in a URL)
# or an X-eCPR, not part of a longer run of digits: what never goes into a log line.
CPR_SHAPED = re.compile(
    r"(?<![0-9])(?:[0-9]{6}(?:-|%2[dD])?[0-9]{4}|[0-9]{6}[17][A-Z]{2}[0-9])(?![0-9])", re.ASCII
)
CPR_REDACTED = "[CPR]"


def _fail(field: str, message: str) -> ValidationFailed:
    return ValidationFailed.single(field, message)


def _clean(value: object, field: str, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _fail(field, f"{what} is required")
    return value.strip()


def redact_cpr(text: str) -> str:
    """``text`` with everything CPR-shaped replaced by ``[CPR]`` (log lines, not data)."""
    return CPR_SHAPED.sub(CPR_REDACTED, text)


def cpr_century(serial_first_digit: int, yy: int) -> int:
    """The century of a CPR birth date, from the first serial digit (CPR office rules since 1968)."""
    if serial_first_digit <= 3:
        return 1900
    if serial_first_digit in (4, 9):
        return 2000 if yy <= 36 else 1900
    return 2000 if yy <= 57 else 1800  # 5-8


def cpr_birth_date(cpr: str) -> date:
    """Birth date encoded in a (canonical, 10-digit) CPR number. Raises ValueError if it is not a date."""
    dd, mm, yy = int(cpr[0:2]), int(cpr[2:4]), int(cpr[4:6])
    return date(cpr_century(int(cpr[6]), yy) + yy, mm, dd)


def validate_cpr(value: object, field: str = "cpr") -> str:
    """A CPR number: 10 digits (an optional hyphen after the date), whose first six are a real birth date.

    The modulus-11 check is deliberately not applied: CPR numbers without it have been issued since 2007.
    """
    text = _clean(value, field, "CPR number")
    match = _CPR.fullmatch(text)
    if match is None:
        raise _fail(field, "CPR number must be 10 digits (DDMMYY-SSSS)")
    cpr = match.group(1) + match.group(2)
    try:
        cpr_birth_date(cpr)
    except ValueError:
        raise _fail(
            field, f"CPR number {cpr[:6]}-XXXX does not start with a valid birth date"
        ) from None
    return cpr


def validate_x_ecpr(value: object, field: str = "replacement_cpr") -> str:
    """A national replacement CPR (X-eCPR): DDMMYY, then 1 or 7, two capital letters and a digit."""
    text = _clean(value, field, "Replacement CPR").upper()
    match = _X_ECPR.fullmatch(text)
    if match is None:
        raise _fail(
            field, "replacement CPR (X-eCPR) must look like DDMMYY + 1|7 + two letters + digit"
        )
    dd, mm = int(text[0:2]), int(text[2:4])
    # The X-eCPR invariant has no century, so 29 February is accepted for any year, as DK-core does.
    try:
        date(2000, mm, dd)
    except ValueError:
        raise _fail(field, "replacement CPR does not start with a valid day and month") from None
    return text


def validate_sor(value: object, field: str = "sor_code") -> str:
    """A SOR code: digits only, at least 11 of them (DK-core invariant min-digits-sor)."""
    text = _clean(value, field, "SOR code")
    if not _DIGITS.fullmatch(text) or len(text) < 11 or len(text) > 18:
        raise _fail(field, "SOR code must be 11 to 18 digits")
    return text


def validate_ydernummer(value: object, field: str = "ydernummer") -> str:
    """A GP's ydernummer (provider number): up to 6 digits, stored zero-padded to 6."""
    text = _clean(value, field, "Ydernummer")
    if not _DIGITS.fullmatch(text) or len(text) > 6 or int(text) == 0:
        raise _fail(field, "ydernummer must be 1 to 6 digits and not zero")
    return text.zfill(6)


def validate_kommunekode(value: object, field: str = "kommunekode") -> str:
    """A Danish municipality code: one of the 98 kommunekoder, given as 3 digits or DK-core's 4-digit form."""
    text = _clean(value, field, "Kommunekode")
    if not _DIGITS.fullmatch(text) or len(text) > 4:
        raise _fail(
            field, "kommunekode must be 3 digits (e.g. 101) or 4 with a leading zero (0101)"
        )
    code = str(int(text)).zfill(3)
    if code not in MUNICIPALITIES:
        raise _fail(field, f"{text} is not a Danish kommunekode")
    return code


def municipality(code: str) -> Municipality:
    return MUNICIPALITIES[validate_kommunekode(code)]


def validate_region_code(value: object, field: str = "region_code") -> Region:
    text = _clean(value, field, "Region code").upper()
    try:
        return Region(text)
    except ValueError:
        raise _fail(field, "region code must be one of DK-81, DK-82, DK-83, DK-84, DK-85") from None


def gs1_check_digit(body: str) -> int:
    """GS1 mod-10 check digit for the digits before it (weights 3,1,3,... from the right)."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10


def validate_gln(value: object, field: str = "gln") -> str:
    """A GLN (EAN location number): 13 digits whose last one is the GS1 mod-10 check digit."""
    text = _clean(value, field, "GLN")
    if not _DIGITS.fullmatch(text) or len(text) != 13:
        raise _fail(field, "GLN must be 13 digits")
    if gs1_check_digit(text[:12]) != int(text[12]):
        raise _fail(field, "GLN check digit is wrong (GS1 mod-10)")
    return text


def is_gln_system(system: str) -> bool:
    return system in (GLN_SYSTEM, GLN_LEGACY_SYSTEM)
