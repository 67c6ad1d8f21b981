"""The citizen (patient) as carepath knows them: identity, home municipality, GP, protection."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from pathways.errors import ErrorCollector
from pathways.identifiers import cpr_birth_date, validate_cpr, validate_kommunekode, validate_x_ecpr


@dataclass(frozen=True, slots=True)
class Patient:
    given_name: str
    family_name: str
    kommunekode: str
    cpr: str | None = None
    replacement_cpr: str | None = None
    # Name and address protection (navne- og adressebeskyttelse): FHIR meta.security R; show less, log more.
    is_protected: bool = False

    @property
    def birth_date(self) -> date | None:
        return cpr_birth_date(self.cpr) if self.cpr else None

    @property
    def display_name(self) -> str:
        return f"{self.given_name} {self.family_name}"


def new_patient(
    *,
    given_name: object,
    family_name: object,
    kommunekode: object,
    cpr: object = None,
    replacement_cpr: object = None,
    is_protected: bool = False,
) -> Patient:
    """A patient needs a CPR number or, until one is known, a national replacement CPR (X-eCPR)."""
    errors = ErrorCollector()
    clean_given = errors.text("given_name", given_name, max_length=100)
    clean_family = errors.text("family_name", family_name, max_length=100)
    clean_cpr = errors.check("cpr", validate_cpr, cpr)
    clean_ecpr = errors.check("replacement_cpr", validate_x_ecpr, replacement_cpr)
    clean_kommune = errors.check("kommunekode", validate_kommunekode, kommunekode)
    if kommunekode in (None, ""):
        errors.add("kommunekode", "the home municipality (kommunekode) is required", "required")
    if cpr in (None, "") and replacement_cpr in (None, ""):
        errors.add("cpr", "a CPR number or a replacement CPR is required", "required")
    errors.raise_if_any()
    assert clean_kommune is not None
    return Patient(
        given_name=clean_given,
        family_name=clean_family,
        kommunekode=clean_kommune,
        cpr=clean_cpr,
        replacement_cpr=clean_ecpr,
        is_protected=is_protected,
    )
