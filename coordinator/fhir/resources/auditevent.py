"""AuditEvent: the audit log for auditors and administrators (read-only search, newest first)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from coordinator.audit.queries import AuditFilter, audit_record, query_audit
from coordinator.fhir.core import Context, SearchQuery, SearchResult, bad_search
from coordinator.fhir.search import (
    cursor_id,
    dates,
    int_reference,
    next_cursor,
    references,
    tokens,
)
from fhir_adapters.audit_event import audit_event
from fhir_adapters.common import to_json
from pathways.audit import AuditOutcome
from pathways.clock import COPENHAGEN

# AuditEvent.outcome codes (0 success, 4 minor failure, 8 serious failure) as our outcomes.
OUTCOMES = {"0": AuditOutcome.ALLOWED, "4": AuditOutcome.DENIED, "8": AuditOutcome.FAILED}
OUTCOME_SYSTEM = "http://terminology.hl7.org/CodeSystem/audit-event-outcome"


def _midnight(day: date) -> datetime:
    """Days are Copenhagen calendar days (as the auditors read them)."""
    return datetime.combine(day, datetime.min.time(), tzinfo=COPENHAGEN)


def _single_reference(query: SearchQuery, name: str, kinds: tuple[str, ...]) -> int | bool | None:
    """The one id a reference parameter names; False when it names something we cannot have."""
    found = references(query, name, kinds)
    if not found:
        return None
    if len(found) > 1 or len(found[0]) > 1:
        raise bad_search(f"search parameter {name}: one value only")
    number = int_reference(found[0][0][1])
    return False if number is None else number


def _id(reference: int | bool | None) -> int | None:
    """The id to filter on: None for no filter; 0 (no row's id) for a reference that names nothing."""
    if reference is None:
        return None
    return 0 if reference is False else int(reference)


def search(ctx: Context, query: SearchQuery) -> SearchResult:
    patient = _single_reference(query, "patient", ("Patient",))
    agent = _single_reference(query, "agent", ("Practitioner",))
    outcome = None
    outcome_tokens = tokens(query, "outcome")
    if outcome_tokens:
        if len(outcome_tokens) > 1 or len(outcome_tokens[0]) > 1:
            raise bad_search("search parameter outcome: one value only")
        token = outcome_tokens[0][0]
        if token.system not in (None, OUTCOME_SYSTEM) or token.code not in OUTCOMES:
            raise bad_search("search parameter outcome: use 0, 4 or 8")
        outcome = OUTCOMES[token.code]
    since = until = None
    for bound in dates(query, "date"):
        if bound.prefix in ("ge", "eq"):
            since = max(filter(None, (since, _midnight(bound.first))))
        if bound.prefix == "gt":
            since = max(filter(None, (since, _midnight(bound.last + timedelta(days=1)))))
        if bound.prefix in ("le", "eq"):
            until = min(filter(None, (until, _midnight(bound.last + timedelta(days=1)))))
        if bound.prefix == "lt":
            until = min(filter(None, (until, _midnight(bound.first))))
    # A reference that names nothing we can have (Patient/abc) matches no row, but the search still goes
    # through the gate and is logged like every read of the log: id 0 is never given to a row.
    entries = query_audit(
        ctx.session,
        ctx.actor,
        ctx.clock,
        AuditFilter(
            patient_id=_id(patient),
            actor_id=_id(agent),
            outcome=outcome,
            since=since,
            until=until,
            before_id=cursor_id(query),
            limit=query.count,
        ),
    )
    return SearchResult(
        [to_json(audit_event(audit_record(e))) for e in entries],
        next_cursor=next_cursor([e.id for e in entries], query.count),
    )
