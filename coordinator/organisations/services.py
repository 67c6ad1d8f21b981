"""Use cases for organisations: register a region, centre, ward, municipality or GP clinic."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from coordinator.audit.services import record
from coordinator.organisations.lineage import SCOPE_CACHE
from coordinator.organisations.models import Organisation
from pathways import organisations as domain
from pathways.audit import AuditAction
from pathways.clock import Clock
from pathways.errors import Conflict, NotFound, ValidationFailed
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
