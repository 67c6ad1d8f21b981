"""Fixed contact persons (faste kontaktpersoner): one per sector per patient, each with a period."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, timedelta

from pathways.errors import ErrorCollector, ValidationFailed
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


def overlaps(a: ContactAssignment, b: ContactAssignment) -> bool:
    """Inclusive periods of the same sector that share at least one day."""
    if a.sector is not b.sector:
        return False
    a_end = a.valid_to or date.max
    b_end = b.valid_to or date.max
    return a.valid_from <= b_end and b.valid_from <= a_end


def check_no_overlap(existing: Iterable[ContactAssignment], new: ContactAssignment) -> None:
    """Exactly one contact per sector at a time: a new period may not share a day with another."""
    for other in existing:
        if overlaps(other, new):
            until = other.valid_to.isoformat() if other.valid_to else "further notice"
            raise ValidationFailed.single(
                "valid_from",
                f"the {new.sector.value} sector already has a contact person from "
                f"{other.valid_from.isoformat()} until {until}; hand over instead",
                "overlap",
            )


def hand_over(
    current: ContactAssignment, successor: ContactAssignment
) -> tuple[ContactAssignment, ContactAssignment]:
    """Close ``current`` the day before ``successor`` starts: no gap, no overlap."""
    if successor.sector is not current.sector:
        raise ValidationFailed.single("sector", "a handover stays within one sector")
    if successor.valid_from <= current.valid_from:
        raise ValidationFailed.single(
            "valid_from", "the handover must start after the current contact period started"
        )
    if current.valid_to is not None and successor.valid_from > current.valid_to + timedelta(days=1):
        raise ValidationFailed.single(
            "valid_from", "the current contact period ended before that day"
        )
    closed = replace(current, valid_to=successor.valid_from - timedelta(days=1))
    return closed, successor


def sectors_lacking_contact(
    assignments: Iterable[ContactAssignment],
    on: date,
    *,
    inactive_person_ids: frozenset[int] = frozenset(),
) -> list[Sector]:
    """Sectors without a fixed contact PERSON on ``on``. A period that has ended, or a person who has been
    deactivated (a stale contact), leaves the sector uncovered: a backup or a team inbox is a fallback for
    delivering messages, not a fixed contact person."""
    covered = {
        a.sector
        for a in assignments
        if a.is_current(on) and a.person_id is not None and a.person_id not in inactive_person_ids
    }
    return [s for s in Sector if s not in covered]
