"""Fixed contact persons (faste kontaktpersoner): one per sector per patient, each with a period."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from pathways.errors import ErrorCollector
from pathways.organisations import Sector


@dataclass(frozen=True, slots=True)
class ContactAssignment:
    sector: Sector
    valid_from: date
    valid_to: date | None = None  # inclusive last day; None: until further notice
    person_id: int | None = None
    backup_person_id: int | None = None
    team_inbox: str = ""  # fallback address when neither person can be reached

    def is_current(self, on: date) -> bool:
        return self.valid_from <= on and (self.valid_to is None or on <= self.valid_to)


def new_contact_assignment(
    *,
    sector: object,
    valid_from: date,
    valid_to: date | None = None,
    person_id: int | None = None,
    backup_person_id: int | None = None,
    team_inbox: object = "",
) -> ContactAssignment:
    errors = ErrorCollector()
    clean_sector = errors.choice("sector", Sector, sector)
    clean_inbox = errors.text("team_inbox", team_inbox, required=False, max_length=254)
    if person_id is None and not clean_inbox:
        errors.add("person_id", "name a contact person or at least a team inbox", "required")
    if person_id is not None and person_id == backup_person_id:
        errors.add("backup_person_id", "the backup must be another person than the contact person")
    if valid_to is not None and valid_to < valid_from:
        errors.add("valid_to", "the period cannot end before it starts")
    errors.raise_if_any()
    assert clean_sector is not None
    return ContactAssignment(
        sector=clean_sector,
        valid_from=valid_from,
        valid_to=valid_to,
        person_id=person_id,
        backup_person_id=backup_person_id,
        team_inbox=clean_inbox,
    )
