"""Staff, their roles, and the actor that performs a use case (a user, a system client or a job)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from pathways.errors import ErrorCollector
from pathways.organisations import Sector


class Role(StrEnum):
    DISCHARGE_NURSE = "discharge_nurse"
    CHIEF_PHYSICIAN = "chief_physician"  # overlæge: responsible for §13a/§13b
    WARD_STAFF = "ward_staff"
    CASE_WORKER = "case_worker"  # sagsbehandler
    SUPPORT_WORKER = "support_worker"  # bostøtte, støtte-kontaktperson
    GP = "gp"
    PRACTICE_STAFF = "practice_staff"
    ORG_ADMIN = "org_admin"
    SYSTEM_ADMIN = "system_admin"
    AUDITOR = "auditor"

    @property
    def sectors(self) -> frozenset[Sector]:
        return ROLE_SECTORS[self]


_ALL = frozenset(Sector)
ROLE_SECTORS: dict[Role, frozenset[Sector]] = {
    Role.DISCHARGE_NURSE: frozenset({Sector.REGION}),
    Role.CHIEF_PHYSICIAN: frozenset({Sector.REGION}),
    Role.WARD_STAFF: frozenset({Sector.REGION}),
    Role.CASE_WORKER: frozenset({Sector.MUNICIPALITY}),
    Role.SUPPORT_WORKER: frozenset({Sector.MUNICIPALITY}),
    Role.GP: frozenset({Sector.GENERAL_PRACTICE}),
    Role.PRACTICE_STAFF: frozenset({Sector.GENERAL_PRACTICE}),
    Role.ORG_ADMIN: _ALL,
    Role.SYSTEM_ADMIN: _ALL,
    Role.AUDITOR: _ALL,
}

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_PHONE = re.compile(r"\+?(?:\d ?){8,15}", re.ASCII)
_USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{2,63}", re.ASCII)


@dataclass(frozen=True, slots=True)
class StaffMember:
    """A person working in one organisation; may or may not log in (GPs often act through their EHR)."""

    name: str
    role: Role
    sector: Sector
    title: str = ""
    phone: str = ""
    email: str = ""
    username: str | None = None


def new_staff_member(
    *,
    name: object,
    role: object,
    sector: Sector,
    title: object = "",
    phone: object = "",
    email: object = "",
    username: object = None,
) -> StaffMember:
    errors = ErrorCollector()
    clean_name = errors.text("name", name)
    clean_role = errors.choice("role", Role, role)
    clean_title = errors.text("title", title, required=False)
    clean_phone = errors.text("phone", phone, required=False, max_length=20)
    clean_email = errors.text("email", email, required=False, max_length=254).lower()
    clean_username: str | None = None
    if username is not None and username != "":  # "" from a form means: no login
        clean_username = errors.text("username", username, max_length=64).lower()
        if clean_username and not _USERNAME.fullmatch(clean_username):
            errors.add("username", "use 3-64 lower-case letters, digits, '.', '_' or '-'")
    if clean_phone and not _PHONE.fullmatch(clean_phone):
        errors.add("phone", "phone number must be 8 to 15 digits, optionally with +")
    if clean_email and not _EMAIL.fullmatch(clean_email):
        errors.add("email", "email address is not valid")
    if clean_role is not None and sector not in clean_role.sectors:
        errors.add("role", f"role {clean_role.value} does not exist in the {sector.value} sector")
    errors.raise_if_any()
    assert clean_role is not None
    return StaffMember(
        name=clean_name,
        role=clean_role,
        sector=sector,
        title=clean_title,
        phone=clean_phone,
        email=clean_email,
        username=clean_username,
    )


class ActorKind(StrEnum):
    USER = "user"
    CLIENT = "client"  # another system over FHIR/REST
    SYSTEM = "system"  # scheduler jobs, CLI commands, message ingestion


@dataclass(frozen=True, slots=True)
class Actor:
    """Who performs a use case. Services receive it explicitly; they never look up a 'current user'."""

    kind: ActorKind
    name: str
    id: int | None = None
    organisation_id: int | None = None
    role: Role | None = None
    scopes: frozenset[str] = frozenset()  # a system client's token scopes (pathways.scopes)

    @classmethod
    def system(cls, name: str) -> Actor:
        return cls(kind=ActorKind.SYSTEM, name=name, role=Role.SYSTEM_ADMIN)

    @property
    def user_id(self) -> int | None:
        """The staff member's id, for "done by" columns; None for system clients and jobs (their ids are
        not user ids: a client's act is attributed in the audit log instead)."""
        return self.id if self.kind is ActorKind.USER else None
