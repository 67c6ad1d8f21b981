"""The audit log for auditors (and administrators, of their own organisation's staff): filters, pages of
50 newest first, and the whole filtered set as a streamed CSV. Reading it is audited
(coordinator.audit.queries)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from http import HTTPStatus
from typing import Any

from flask import Response, flash, redirect, render_template, request, stream_with_context, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from coordinator import edge
from coordinator.access import services as access_services
from coordinator.audit.models import AuditEntry
from coordinator.audit.queries import AuditFilter, audit_csv_lines, export_audit, query_audit
from coordinator.db import get_session
from coordinator.web.admin import bp
from coordinator.web.admin.common import FIELD_MESSAGES, labelled
from coordinator.web.admin.forms import AuditFilterForm, ReviewForm
from coordinator.web.kit import actor, perform, show_field_errors
from pathways.audit import AuditAction, AuditOutcome
from pathways.clock import COPENHAGEN
from pathways.errors import ValidationFailed

PAGE = 50
CHANNELS = ("web", "rest", "fhir", "oauth", "scheduler", "cli")


def _form() -> AuditFilterForm:
    form = AuditFilterForm(request.args)
    everything = _("All")
    form.action.choices = labelled("audit_action_name", AuditAction, blank=everything)
    form.outcome.choices = labelled("audit_outcome", AuditOutcome, blank=everything)
    form.channel.choices = labelled("audit_channel", CHANNELS, blank=everything)
    return form


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=COPENHAGEN)


def _filters(form: AuditFilterForm, *, before_id: int | None = None) -> AuditFilter:
    """The form's filters as the query takes them: days in Copenhagen time (the end day included), an
    actor by id or by name, a patient by id or by CPR number."""
    actor_text = (form.actor.data or "").strip()
    patient_text = (form.patient.data or "").replace(" ", "")
    return AuditFilter(
        since=_start_of(form.since.data) if form.since.data else None,
        until=_start_of(form.until.data + timedelta(days=1)) if form.until.data else None,
        actor_id=int(actor_text) if actor_text.isdigit() else None,
        actor_name=actor_text if actor_text and not actor_text.isdigit() else None,
        patient_id=int(patient_text) if patient_text.isdigit() and len(patient_text) < 10 else None,
        patient_cpr=patient_text
        if patient_text and not (patient_text.isdigit() and len(patient_text) < 10)
        else None,
        action=AuditAction(form.action.data) if form.action.data else None,
        outcome=AuditOutcome(form.outcome.data) if form.outcome.data else None,
        channel=form.channel.data or None,
        resource_type=(form.resource_type.data or "").strip() or None,
        before_id=before_id,
        limit=PAGE + 1,
    )


# The query's field names as the form's (patient_cpr is the patient field, since the from date).
_RENAMED = {"patient_cpr": "patient", "since": "until", "limit": "form"}


@bp.get("/audit-log")
def audit_log() -> ResponseReturnValue:
    form = _form()
    entries: list[AuditEntry] = []
    more = False
    status = HTTPStatus.OK
    if form.validate():
        before_id = request.args.get("before_id", type=int)
        try:
            found = perform(
                lambda: query_audit(
                    get_session(), actor(), edge.clock(), _filters(form, before_id=before_id)
                )
            )
        except ValidationFailed as error:
            show_field_errors(form, error, FIELD_MESSAGES, renamed=_RENAMED)
            status = HTTPStatus.UNPROCESSABLE_ENTITY
        else:
            entries, more = found[:PAGE], len(found) > PAGE
    else:
        status = HTTPStatus.UNPROCESSABLE_ENTITY
    query: dict[str, Any] = {k: v for k, v in request.args.items() if k != "before_id" and v}
    return render_template(
        "admin/audit_log.html",
        form=form,
        entries=entries,
        older_url=url_for(".audit_log", **query, before_id=entries[-1].id) if more else None,
        newest_url=url_for(".audit_log", **query) if request.args.get("before_id") else None,
        csv_url=url_for(".audit_log_csv", **query),
    ), status


def _back_to_page() -> str:
    query: dict[str, Any] = request.args.to_dict()
    return url_for(".audit_log", **query)


@bp.get("/audit-log.csv")
def audit_log_csv() -> ResponseReturnValue:
    form = _form()
    if not form.validate():
        return redirect(_back_to_page(), code=HTTPStatus.SEE_OTHER)
    try:
        entries = perform(
            lambda: export_audit(get_session(), actor(), edge.clock(), _filters(form))
        )
    except ValidationFailed:
        return redirect(_back_to_page(), code=HTTPStatus.SEE_OTHER)
    stamp = edge.clock().now().astimezone(COPENHAGEN).strftime("%Y%m%d-%H%M")
    return Response(
        stream_with_context(audit_csv_lines(entries)),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="audit-{stamp}.csv"',
            "Cache-Control": "no-store",
        },
    )


# ---------------------------------------------------------------------------- emergency access review
@bp.get("/emergency-access")
def emergency_access() -> ResponseReturnValue:
    return _emergency_page(ReviewForm())


def _emergency_page(
    form: ReviewForm, failed_id: int | None = None, status: int = HTTPStatus.OK
) -> ResponseReturnValue:
    grants = perform(
        lambda: access_services.emergency_access_for_review(get_session(), actor(), edge.clock())
    )
    body = render_template(
        "admin/emergency_access.html", grants=grants, form=form, failed_id=failed_id
    )
    return body, status


@bp.post("/emergency-access/<int:grant_id>/review")
def review_emergency_access(grant_id: int) -> ResponseReturnValue:
    form = ReviewForm()
    if not form.validate_on_submit():
        return _emergency_page(form, grant_id, HTTPStatus.UNPROCESSABLE_ENTITY)
    try:
        perform(
            lambda: access_services.review_emergency_access(
                get_session(), actor(), edge.clock(), grant_id=grant_id, note=form.note.data or ""
            )
        )
    except ValidationFailed as error:
        show_field_errors(form, error, FIELD_MESSAGES)
        return _emergency_page(form, grant_id, HTTPStatus.UNPROCESSABLE_ENTITY)
    flash(_("The review was recorded."), "success")
    return redirect(url_for(".emergency_access"), code=HTTPStatus.SEE_OTHER)
