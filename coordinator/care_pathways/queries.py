"""Lists of stays that worklists and other systems need: the current stays of a ward, and a
municipality's citizens who are admitted or were discharged recently (a patient's own stays:
``services.list_patient_pathways``).

Every list is gated like a read of patient data (§13c) and audited with one row per patient shown. A ward's
list is for those who act for the ward; a municipality's list for those who act for that municipality (its
citizens are its cases: the care relation ``municipal_case``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time

import sqlalchemy as sa
from sqlalchemy.orm import Session, joinedload

from coordinator.audit.services import record_per_patient
from coordinator.care_pathways.models import Pathway
from coordinator.organisations.lineage import acts_for, descendants_and_self, organisation_scope
from coordinator.organisations.models import Organisation
from coordinator.patients.models import Patient
from pathways.audit import AuditAction
from pathways.clock import COPENHAGEN, Clock
from pathways.errors import PermissionDenied, ValidationFailed
from pathways.organisations import OrganisationKind
from pathways.people import Actor
from pathways.permissions import Permission, require
from pathways.stays import PathwayStatus

CURRENT = (PathwayStatus.ADMITTED, PathwayStatus.ON_LEAVE)
MAX_PAGE = 100


@dataclass(frozen=True, slots=True)
class Page:
    """Keyset paging: the last id of the previous page, and the page size."""

    after_id: int | None = None
    limit: int = 50


def _stays() -> sa.Select[Pathway]:
    return sa.select(Pathway).options(joinedload(Pathway.patient))


def _page(statement: sa.Select[Pathway], page: Page) -> sa.Select[Pathway]:
    if not 1 <= page.limit <= MAX_PAGE:
        raise ValidationFailed.single("limit", f"must be between 1 and {MAX_PAGE}")
    if page.after_id is not None:
        statement = statement.where(Pathway.id < page.after_id)
    return statement.order_by(Pathway.id.desc()).limit(page.limit)


def _audit_list(
    session: Session, actor: Actor, clock: Clock, stays: list[Pathway], purpose: str
) -> None:
    record_per_patient(
        session,
        actor=actor,
        at=clock.now(),
        action=AuditAction.SEARCH,
        resource_type="Pathway",
        purpose=purpose,
        shown=[(s.patient_id, s.id) for s in stays],
        key="pathways",
    )


def ward_scope(session: Session, actor: Actor, ward_id: int) -> set[int]:
    """The wards whose current stays the caller may list when asking for ``ward_id``: a ward's staff see
    their own ward, a centre's staff its wards; PermissionDenied for a unit the caller does not act for."""
    require(actor, Permission.READ_PLAN)
    if not acts_for(session, actor, ward_id):
        raise PermissionDenied(f"{actor.name} does not work at organisation {ward_id}")
    wards = descendants_and_self(session, ward_id)
    if actor.organisation_id is not None and ward_id not in descendants_and_self(
        session, actor.organisation_id
    ):  # the caller works below the unit asked for: only their own part of it
        wards &= descendants_and_self(session, actor.organisation_id)
    return wards


def current_at(wards: set[int]) -> sa.ColumnElement[bool]:
    """The stays that are current (admitted or on leave) at these wards."""
    return sa.and_(Pathway.ward_id.in_(wards), Pathway.status.in_(CURRENT))


def ward_stays(
    session: Session, actor: Actor, clock: Clock, *, ward_id: int, page: Page = Page()
) -> list[Pathway]:
    """The current stays (admitted or on leave) at a ward, or at every ward of a centre, that the caller
    acts for: a ward's staff see their own ward, a centre's staff its wards."""
    wards = ward_scope(session, actor, ward_id)
    statement = _stays().where(current_at(wards))
    stays = list(session.scalars(_page(statement, page)).unique())
    _audit_list(session, actor, clock, stays, f"ward stays: organisation {ward_id}")
    return stays


def require_municipality(session: Session, actor: Actor, kommunekode: str) -> None:
    """PermissionDenied unless the caller acts for the municipality (its citizens are its cases)."""
    require(actor, Permission.READ_PLAN)
    own = session.scalars(
        sa.select(Organisation.id).where(
            Organisation.kind == OrganisationKind.MUNICIPALITY,
            Organisation.kommunekode == kommunekode,
        )
    ).all()
    if not any(org in organisation_scope(session, actor) for org in own):
        raise PermissionDenied(f"{actor.name} does not act for municipality {kommunekode}")


def of_citizens(
    clock: Clock, kommunekode: str, discharged_since: date | None
) -> sa.ColumnElement[bool]:
    """The stays of a municipality's citizens that are current, and, with ``discharged_since``, those
    discharged on or after that day (Copenhagen)."""
    wanted: sa.ColumnElement[bool] = Pathway.status.in_(CURRENT)
    if discharged_since is not None:
        since = datetime.combine(discharged_since, time.min, COPENHAGEN)
        if since > clock.now():
            raise ValidationFailed.single("discharged_since", "must not be in the future")
        wanted = sa.or_(
            wanted,
            sa.and_(Pathway.status == PathwayStatus.DISCHARGED, Pathway.discharged_at >= since),
        )
    citizens = sa.select(Patient.id).where(Patient.kommunekode == kommunekode)
    return sa.and_(Pathway.patient_id.in_(citizens), wanted)


def municipality_stays(
    session: Session,
    actor: Actor,
    clock: Clock,
    *,
    kommunekode: str,
    discharged_since: date | None = None,
    page: Page = Page(),
) -> list[Pathway]:
    """The stays of a municipality's citizens that are current, and, with ``discharged_since``, those
    discharged on or after that day (Copenhagen): for those who act for that municipality."""
    require_municipality(session, actor, kommunekode)
    statement = _stays().where(of_citizens(clock, kommunekode, discharged_since))
    stays = list(session.scalars(_page(statement, page)).unique())
    _audit_list(session, actor, clock, stays, f"municipal cases: kommunekode {kommunekode}")
    return stays
