"""Reading the audit log: the auditors' query and export, and the citizen's own access log (like MinLog)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from coordinator.access.services import require_patient_access
from coordinator.accounts.models import User
from coordinator.audit.models import AuditEntry
from coordinator.audit.services import record
from coordinator.organisations.lineage import descendants_and_self
from coordinator.organisations.models import Organisation
from coordinator.patients.models import Patient
from fhir_adapters.audit_event import AuditRecord
from pathways.audit import AuditAction, AuditOutcome
from pathways.clock import COPENHAGEN, Clock
from pathways.errors import ErrorCollector, PermissionDenied
from pathways.identifiers import validate_cpr
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
    channel: str | None = None  # web, rest, fhir, oauth, scheduler, cli
    resource_type: str | None = None
    actor_name: str | None = None  # part of the actor's name, any case
    # The patient's CPR number (or replacement CPR): looked up and filtered by the patient's id; the
    # number itself is never written into the log of the search.
    patient_cpr: str | None = None


def _audit_reader(actor: Actor) -> None:
    if actor.kind is not ActorKind.SYSTEM and actor.role not in _AUDIT_READERS:
        raise PermissionDenied("only auditors and administrators read the audit log")


def _audit_statement(
    session: Session, actor: Actor, filters: AuditFilter
) -> tuple[sa.Select[AuditEntry], str, dict[str, str]]:
    """The filtered query (newest first, no limit), the scope the actor reads, and the filters used as
    they are logged."""
    errors = ErrorCollector()
    if not 1 <= filters.limit <= MAX_PAGE:
        errors.add("limit", f"must be between 1 and {MAX_PAGE}")
    if filters.since and filters.until and filters.since > filters.until:
        errors.add("since", "must be before until")
    cpr = errors.check("patient_cpr", validate_cpr, filters.patient_cpr)
    errors.raise_if_any()
    query = sa.select(AuditEntry).order_by(AuditEntry.id.desc())
    conditions = {
        AuditEntry.patient_id: filters.patient_id,
        AuditEntry.actor_id: filters.actor_id,
        AuditEntry.actor_organisation_id: filters.organisation_id,
        AuditEntry.action: filters.action,
        AuditEntry.outcome: filters.outcome,
        AuditEntry.channel: filters.channel or None,
        AuditEntry.resource_type: filters.resource_type or None,
    }
    for column, value in conditions.items():
        if value is not None:
            query = query.where(column == value)
    used = {
        k: str(v)
        for k, v in asdict(filters).items()
        if v not in (None, "") and k not in ("limit", "patient_cpr")
    }
    if cpr:
        patient_id = session.scalar(
            sa.select(Patient.id).where(sa.or_(Patient.cpr == cpr, Patient.replacement_cpr == cpr))
        )
        # An unknown number matches nothing (-1 is no id); the log says a CPR was searched for, and
        # whose it was, never the number.
        query = query.where(AuditEntry.patient_id == (patient_id if patient_id else -1))
        used["patient_cpr"] = f"patient {patient_id}" if patient_id else "no patient"
    if filters.actor_name and filters.actor_name.strip():
        query = query.where(
            sa.func.lower(AuditEntry.actor_name).contains(
                filters.actor_name.strip().lower(), autoescape=True
            )
        )
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
    return query, scope, used


def _logged_patient(session: Session, filters: AuditFilter) -> int | None:
    if filters.patient_id is not None or not filters.patient_cpr:
        return filters.patient_id
    cpr = validate_cpr(filters.patient_cpr, "patient_cpr")
    return session.scalar(
        sa.select(Patient.id).where(sa.or_(Patient.cpr == cpr, Patient.replacement_cpr == cpr))
    )


def query_audit(
    session: Session, actor: Actor, clock: Clock, filters: AuditFilter
) -> list[AuditEntry]:
    """Auditors see everything; administrators (of an organisation, or the system administrators of a
    region) see what their own organisation's staff did, units below it included: a region's
    administrator never sees municipal or GP access. Every read is itself logged. The REST API, its
    export, the FHIR AuditEvent search and the web page all read through here."""
    _audit_reader(actor)
    query, scope, used = _audit_statement(session, actor, filters)
    entries = list(session.scalars(query.limit(filters.limit)))
    record(
        session,
        actor=actor,
        at=clock.now(),
        action=AuditAction.SEARCH,
        resource_type="AuditLog",
        patient_id=_logged_patient(session, filters),
        purpose="audit review",
        details={"filters": used, "count": len(entries), "scope": scope},
    )
    return entries


EXPORT_BATCH = 500


def export_audit(
    session: Session, actor: Actor, clock: Clock, filters: AuditFilter
) -> Iterator[AuditEntry]:
    """Every entry the filters select (``limit`` and ``before_id`` aside), newest first, for a download
    that streams: the reader is checked and the export logged (with its size) now; the entries are read
    in batches as the returned iterator is consumed, after the caller has committed the log entry (each
    batch ends the session's transaction: consume it only after that commit)."""
    _audit_reader(actor)
    whole = replace(filters, before_id=None, limit=MAX_PAGE)
    query, scope, used = _audit_statement(session, actor, whole)
    count = session.scalar(sa.select(sa.func.count()).select_from(query.subquery())) or 0
    record(
        session,
        actor=actor,
        at=clock.now(),
        action=AuditAction.EXPORT,
        resource_type="AuditLog",
        patient_id=_logged_patient(session, filters),
        purpose="audit review",
        details={"filters": used, "count": count, "scope": scope, "format": "csv"},
    )

    def batches() -> Iterator[AuditEntry]:
        # Each batch is read in a short transaction of its own, ended before its rows are handed on:
        # a slow download never holds the database (SQLite's transactions take the write lock).
        before: int | None = None
        while True:
            batch_query = query if before is None else query.where(AuditEntry.id < before)
            batch = list(session.scalars(batch_query.limit(EXPORT_BATCH)))
            for entry in batch:
                session.expunge(entry)
            session.rollback()
            yield from batch
            if len(batch) < EXPORT_BATCH:
                return
            before = batch[-1].id

    return batches()


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


def _csv_row(e: AuditEntry) -> list[object]:
    return [
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


def audit_csv(entries: Iterable[AuditEntry]) -> str:
    return "".join(audit_csv_lines(entries))


def audit_csv_lines(entries: Iterable[AuditEntry]) -> Iterator[str]:
    """The CSV text line by line, the header (CSV_COLUMNS) first: for a streamed download."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    yield out.getvalue()
    for entry in entries:
        out.seek(0)
        out.truncate()
        writer.writerow(_csv_row(entry))
        yield out.getvalue()


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
