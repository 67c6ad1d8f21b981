"""Use cases for organisations: register a region, centre, ward, municipality or GP clinic; correct its
names and messaging identifiers."""

from __future__ import annotations

from collections.abc import Mapping

import sqlalchemy as sa
from sqlalchemy.orm import Session

from coordinator.audit.services import record
from coordinator.organisations.lineage import SCOPE_CACHE
from coordinator.organisations.models import Organisation
from pathways import organisations as domain
from pathways.audit import AuditAction
from pathways.clock import Clock
from pathways.errors import (
    Conflict,
    ErrorCollector,
    FieldError,
    NotFound,
    StaleVersion,
    ValidationFailed,
    VersionRequired,
)
from pathways.geography import Region
from pathways.people import Actor
from pathways.permissions import Permission, require


def create_organisation(
    session: Session,
    actor: Actor,
    clock: Clock,
    *,
    name: object,
    kind: object,
    parent_id: int | None = None,
    sor_code: str | None = None,
    kommunekode: str | None = None,
    ydernummer: str | None = None,
    gln: str | None = None,
    region_code: str | None = None,
    email: str = "",
) -> Organisation:
    require(actor, Permission.MANAGE_ORGANISATIONS)
    parent = session.get(Organisation, parent_id) if parent_id is not None else None
    if parent_id is not None and parent is None:
        raise ValidationFailed.single(
            "parent", f"organisation {parent_id} does not exist", "unknown"
        )
    org = domain.new_organisation(
        name=name,
        kind=kind,
        sor_code=sor_code,
        kommunekode=kommunekode,
        ydernummer=ydernummer,
        gln=gln,
        region_code=region_code,
        parent_kind=parent.kind if parent else None,
    )
    for field in ("sor_code", "ydernummer"):
        value = getattr(org, field)
        if value is None:
            continue
        existing = session.scalar(
            sa.select(Organisation).where(getattr(Organisation, field) == value)
        )
        if existing is not None:
            raise Conflict(
                f"{field} {value} is already registered to '{existing.name}' (id {existing.id})"
            )
    now = clock.now()
    row = Organisation(
        name=org.name,
        kind=org.kind,
        sector=org.sector,
        parent=parent,
        sor_code=org.sor_code,
        kommunekode=org.kommunekode,
        ydernummer=org.ydernummer,
        gln=org.gln,
        region_code=org.region_code,
        email=email,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    session.flush()
    session.info.pop(SCOPE_CACHE, None)  # the hierarchy changed
    record(
        session,
        actor=actor,
        at=now,
        action=AuditAction.CREATE,
        resource_type="Organisation",
        resource_id=row.id,
    )
    return row


# What an administrator may change on a registered organisation. Its kind, place in the hierarchy,
# kommunekode, ydernummer and region identify it (access and routing hang on them): register anew instead.
EDITABLE = ("name", "sor_code", "gln", "email")


def _already_registered(
    session: Session, field: str, value: str, *, other_than: int | None = None
) -> None:
    query = sa.select(Organisation).where(getattr(Organisation, field) == value)
    if other_than is not None:
        query = query.where(Organisation.id != other_than)
    existing = session.scalar(query)
    if existing is not None:
        raise Conflict(
            f"{field} {value} is already registered to '{existing.name}' (id {existing.id})"
        )


def update_organisation(
    session: Session,
    actor: Actor,
    clock: Clock,
    *,
    organisation_id: int,
    expected_version: int | None,
    changes: Mapping[str, object],
) -> Organisation:
    """Correct an organisation's name, SOR code, GLN or e-mail (system administrators). ``changes``
    names only what changes (None clears an identifier the organisation's kind does not require);
    everything is checked as at registration, the SOR code is unique, and the audit row names the
    changed fields and their old and new values (directory data, no patient data)."""
    require(actor, Permission.MANAGE_ORGANISATIONS)
    row = get_organisation(session, organisation_id)
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise ValidationFailed(
            [
                FieldError(
                    name, f"cannot be changed; editable are {', '.join(EDITABLE)}", "unknown"
                )
                for name in unknown
            ]
        )
    if expected_version is None:  # told only after the permission check
        raise VersionRequired("organisation")
    if expected_version != row.version:
        raise StaleVersion("organisation", expected_version, row.version)
    email = changes.get("email", row.email)
    errors = ErrorCollector()
    clean_email = errors.text("email", email, max_length=254, required=False) if email else ""
    merged = {f: changes.get(f, getattr(row, f)) for f in ("name", "sor_code", "gln")}
    identifiers: dict[str, str | None] = {
        f: None if merged[f] is None else str(merged[f]) for f in ("sor_code", "gln")
    }
    for field in ("sor_code", "gln"):  # text, not a number whose leading zeros are lost
        if merged[field] is not None and not isinstance(merged[field], str):
            errors.add(field, "must be text", "invalid")
    try:
        org = domain.new_organisation(
            name=merged["name"],
            kind=row.kind.value,
            sor_code=identifiers["sor_code"],
            kommunekode=row.kommunekode,
            ydernummer=row.ydernummer,
            gln=identifiers["gln"],
            region_code=row.region_code.value if row.region_code else None,
            parent_kind=row.parent.kind if row.parent else None,
        )
    except ValidationFailed as exc:
        named = {e.field for e in errors.errors}
        errors.errors.extend(e for e in exc.errors if e.field not in named)
        errors.raise_if_any()
        raise
    errors.raise_if_any()
    if org.sor_code is not None:
        _already_registered(session, "sor_code", org.sor_code, other_than=row.id)
    before = {f: getattr(row, f) for f in EDITABLE}
    after = {"name": org.name, "sor_code": org.sor_code, "gln": org.gln, "email": clean_email}
    changed = {f: {"from": before[f], "to": after[f]} for f in EDITABLE if before[f] != after[f]}
    if not changed:
        return row
    now = clock.now()
    for field, value in after.items():
        setattr(row, field, value)
    row.updated_at = now
    session.flush()
    record(
        session,
        actor=actor,
        at=now,
        action=AuditAction.UPDATE,
        resource_type="Organisation",
        resource_id=row.id,
        details={"changed": changed},
    )
    return row


def get_organisation(session: Session, organisation_id: int) -> Organisation:
    """The directory is shared knowledge (names, SOR, GLN): any signed-in party may read it."""
    org = session.get(Organisation, organisation_id)
    if org is None:
        raise NotFound("organisation", organisation_id)
    return org


def search_organisations(
    session: Session,
    *,
    kind: domain.OrganisationKind | None = None,
    sector: domain.Sector | None = None,
    kommunekode: str | None = None,
    sor_code: str | None = None,
    gln: str | None = None,
    parent_id: int | None = None,
    name: str | None = None,
    ydernummer: str | None = None,
    region_code: Region | None = None,
    include_inactive: bool = False,
    after_id: int | None = None,
    limit: int = 50,
) -> list[Organisation]:
    """The organisation directory, filtered, by id (keyset pagination: ``after_id`` is the cursor)."""
    query = sa.select(Organisation).order_by(Organisation.id).limit(limit)
    filters = {
        Organisation.kind: kind,
        Organisation.sector: sector,
        Organisation.kommunekode: kommunekode,
        Organisation.sor_code: sor_code,
        Organisation.gln: gln,
        Organisation.parent_id: parent_id,
        Organisation.ydernummer: ydernummer,
        Organisation.region_code: region_code,
    }
    for column, value in filters.items():
        if value is not None:
            query = query.where(column == value)
    if name:
        escaped = name.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(Organisation.name.ilike(f"%{escaped}%", escape="\\"))
    if not include_inactive:
        query = query.where(Organisation.is_active.is_(True))
    if after_id is not None:
        query = query.where(Organisation.id > after_id)
    return list(session.scalars(query))
