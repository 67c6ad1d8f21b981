"""Reading the audit log: the auditors' query and export, and the citizen's own access log (like MinLog)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from coordinator.access.services import require_patient_access
from coordinator.accounts.models import User
from coordinator.audit.models import AuditEntry
from coordinator.audit.services import record
from coordinator.organisations.lineage import descendants_and_self
from coordinator.organisations.models import Organisation
from fhir_adapters.audit_event import AuditRecord
from pathways.audit import AuditAction, AuditOutcome
from pathways.clock import COPENHAGEN, Clock
from pathways.errors import ErrorCollector, PermissionDenied
from pathways.labels import codes, label, label_or_code
from pathways.labels import language as labels_language
from pathways.people import Actor, ActorKind, Role
from pathways.permissions import Permission

MAX_PAGE = 500
_AUDIT_READERS = frozenset({Role.AUDITOR, Role.SYSTEM_ADMIN, Role.ORG_ADMIN})


@dataclass(frozen=True, slots=True)
class AuditFilter:
    patient_id: int | None = None
    actor_id: int | None = None
    organisation_id: int | None = None
    action: AuditAction | None = None
    outcome: AuditOutcome | None = None
    since: datetime | None = None
    until: datetime | None = None
    before_id: int | None = None  # keyset pagination: entries older than this id
    limit: int = 100


def query_audit(
    session: Session, actor: Actor, clock: Clock, filters: AuditFilter
) -> list[AuditEntry]:
    """Auditors see everything; administrators (of an organisation, or the system administrators of a
    region) see what their own organisation's staff did, units below it included: a region's
    administrator never sees municipal or GP access. Every read is itself logged. The REST API, its
    export and the FHIR AuditEvent search all read through here."""
    if actor.kind is not ActorKind.SYSTEM and actor.role not in _AUDIT_READERS:
        raise PermissionDenied("only auditors and administrators read the audit log")
    errors = ErrorCollector()
    if not 1 <= filters.limit <= MAX_PAGE:
        errors.add("limit", f"must be between 1 and {MAX_PAGE}")
    if filters.since and filters.until and filters.since > filters.until:
        errors.add("since", "must be before until")
    errors.raise_if_any()
    query = sa.select(AuditEntry).order_by(AuditEntry.id.desc()).limit(filters.limit)
    conditions = {
        AuditEntry.patient_id: filters.patient_id,
        AuditEntry.actor_id: filters.actor_id,
        AuditEntry.actor_organisation_id: filters.organisation_id,
        AuditEntry.action: filters.action,
        AuditEntry.outcome: filters.outcome,
    }
    for column, value in conditions.items():
        if value is not None:
            query = query.where(column == value)
    if filters.since:
        query = query.where(AuditEntry.occurred_at >= filters.since)
    if filters.until:
        query = query.where(AuditEntry.occurred_at < filters.until)
    if filters.before_id:
        query = query.where(AuditEntry.id < filters.before_id)
    if actor.kind is not ActorKind.SYSTEM and actor.role is not Role.AUDITOR:
        own = (
            descendants_and_self(session, actor.organisation_id)
            if actor.organisation_id is not None
            else set()
        )
        query = query.where(AuditEntry.actor_organisation_id.in_(own))
        scope = f"organisation {actor.organisation_id}"
    else:
        scope = "all"
    entries = list(session.scalars(query))
    used = {k: str(v) for k, v in asdict(filters).items() if v is not None and k != "limit"}
    record(
        session,
        actor=actor,
        at=clock.now(),
        action=AuditAction.SEARCH,
        resource_type="AuditLog",
        patient_id=filters.patient_id,
        purpose="audit review",
        details={"filters": used, "count": len(entries), "scope": scope},
    )
    return entries


CSV_COLUMNS = (
    "id",
    "occurred_at",
    "actor_kind",
    "actor_id",
    "actor_name",
    "actor_organisation_id",
    "patient_id",
    "resource_type",
    "resource_id",
    "action",
    "purpose",
    "outcome",
    "channel",
    "request_id",
)


def audit_csv(entries: Iterable[AuditEntry]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for e in entries:
        writer.writerow(
            [
                e.id,
                e.occurred_at.isoformat(),
                e.actor_kind.value,
                e.actor_id or "",
                e.actor_name,
                e.actor_organisation_id or "",
                e.patient_id or "",
                e.resource_type,
                e.resource_id,
                e.action.value,
                e.purpose,
                e.outcome.value,
                e.channel,
                e.request_id,
            ]
        )
    return out.getvalue()


# ---------------------------------------------------------------------------- the citizen's log
def _citizen_role(role: str, lang: str) -> str:
    """The role in the citizen's words; administrators and auditors are not named."""
    return label("citizen_role", role, lang) if role in codes("citizen_role") else ""


def _citizen_what(action: str, resource_type: str, lang: str) -> str:
    """What was done, for the citizen (pathways/data/labels.toml): "så din adgangslog"."""
    known = codes("audit_resource")
    resource = resource_type if resource_type in known else "other"
    return (
        f"{label_or_code('audit_action', action, lang)} {label('audit_resource', resource, lang)}"
    )


@dataclass(frozen=True, slots=True)
class CitizenLogLine:
    at: datetime  # Europe/Copenhagen
    organisation: str
    role: str
    staff_name: str | None
    what: str


def citizen_access_log(
    session: Session,
    actor: Actor,
    clock: Clock,
    *,
    patient_id: int,
    language: str = "da",
    show_staff_names: bool = False,
) -> list[CitizenLogLine]:
    """Which organisations and roles looked at or changed the citizen's data, in plain language."""
    require_patient_access(session, actor, clock, patient_id, Permission.READ_PLAN)
    lang = labels_language(language)
    rows = session.execute(
        sa.select(AuditEntry, Organisation.name)
        .outerjoin(Organisation, Organisation.id == AuditEntry.actor_organisation_id)
        .where(
            AuditEntry.patient_id == patient_id,
            AuditEntry.outcome == AuditOutcome.ALLOWED,
            AuditEntry.resource_type != "AuditLog",
        )
        .order_by(AuditEntry.occurred_at.desc(), AuditEntry.id.desc())
    ).all()
    roles = _user_roles(session, {e.actor_id for e, _ in rows if e.actor_id is not None})
    lines = [
        CitizenLogLine(
            at=entry.occurred_at.astimezone(COPENHAGEN),
            organisation=org_name or label("text", "system_actor", lang),
            role=_citizen_role(roles.get(entry.actor_id or -1, ""), lang)
            if entry.actor_kind is ActorKind.USER
            else "",
            staff_name=entry.actor_name
            if show_staff_names and entry.actor_kind is ActorKind.USER
            else None,
            what=_citizen_what(entry.action.value, entry.resource_type, lang),
        )
        for entry, org_name in rows
    ]
    record(
        session,
        actor=actor,
        at=clock.now(),
        action=AuditAction.READ,
        resource_type="AuditLog",
        patient_id=patient_id,
        purpose="citizen access log",
    )
    return lines


def _user_roles(session: Session, user_ids: set[int]) -> dict[int, str]:
    if not user_ids:
        return {}
    return {
        uid: role.value
        for uid, role in session.execute(sa.select(User.id, User.role).where(User.id.in_(user_ids)))
    }


def citizen_log_csv(lines: Sequence[CitizenLogLine], language: str = "da") -> str:
    header = (
        ("Tidspunkt", "Organisation", "Rolle", "Medarbejder", "Hvad")
        if language != "en"
        else ("Time", "Organisation", "Role", "Staff", "What")
    )
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for line in lines:
        writer.writerow(
            [
                line.at.strftime("%Y-%m-%d %H:%M"),
                line.organisation,
                line.role,
                line.staff_name or "",
                line.what,
            ]
        )
    return out.getvalue()


def audit_record(entry: AuditEntry) -> AuditRecord:
    """An audit row as the plain record fhir_adapters turns into a FHIR AuditEvent."""
    return AuditRecord(
        id=entry.id,
        occurred_at=entry.occurred_at,
        actor_kind=entry.actor_kind.value,
        actor_id=entry.actor_id,
        actor_name=entry.actor_name,
        actor_organisation_id=entry.actor_organisation_id,
        patient_id=entry.patient_id,
        resource_type=entry.resource_type,
        resource_id=entry.resource_id,
        action=entry.action.value,
        purpose=entry.purpose,
        outcome=entry.outcome.value,
        channel=entry.channel,
        request_id=entry.request_id,
    )
