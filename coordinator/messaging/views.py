"""`POST /fhir/$process-message`: MedCom messages in, an Acknowledgement message out.

The door is thin: the caller, the input guards, the unit of work and what a failure means come from
coordinator.edge; this module answers in MedCom's terms. A message that was read is answered with an
Acknowledgement (ok, or fatal-error naming the problem) and HTTP 200; a request that is no message at all,
or that may not be sent, gets an OperationOutcome with the HTTP status; an outage of ours gets a
transient-error Acknowledgement (send it again) with 503 and Retry-After.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Flask, Response, current_app, request

from coordinator import edge
from coordinator.db import get_session
from coordinator.inputs import MESSAGE
from coordinator.messaging.services import process_message, transient_error
from fhir_adapters import medcom
from fhir_adapters.common import to_json
from fhir_adapters.operation_outcome import issue_type_for_status, outcome, outcome_from_errors

FHIR_JSON = "application/fhir+json; fhirVersion=4.0"
BODY_TYPES = frozenset({"application/fhir+json", "application/json"})
blp = Blueprint("messaging", __name__)


def _fhir(body: dict[str, Any], status: int, headers: dict[str, str] | None = None) -> Response:
    response = Response(json.dumps(body, ensure_ascii=False), status=status, content_type=FHIR_JSON)
    response.headers.update(headers or {})
    return response


def _outcome(status: int, code: str, diagnostics: str) -> Response:
    return _fhir(to_json(outcome("error", code, diagnostics)), status)


@blp.post("/fhir/$process-message")
def process() -> Response:  # noqa: PLR0911 - one early answer per kind of failure
    """Synchronous processing: the answer is the Acknowledgement (ok | fatal-error) with HTTP 200."""
    body: object = None
    try:
        actor = edge.current_actor()  # who sends, before anything about the body is said
        if request.mimetype not in BODY_TYPES:
            return _outcome(415, "not-supported", "send application/fhir+json")
        found = edge.guard_input()
        try:
            body = json.loads(request.get_data(as_text=True) or "null")
        except json.JSONDecodeError as exc:
            return _outcome(400, "structure", f"not JSON: {exc.msg}")
        if found.body:
            where = ", ".join(f"Bundle.{p}" for p in found.body[:5])
            return _outcome(400, "value", f"{where}: {MESSAGE}")
        edge.require_scope(actor, _scope_of(body), "write")
        receipt = edge.unit_of_work(
            lambda: process_message(get_session(), actor, edge.clock(), body, current_app.config)
        )
    except Exception as exc:
        return _failure(edge.failure_for(exc), body)
    if receipt.unknown_message_id is not None:
        detail = f"message {receipt.unknown_message_id} was not sent by carepath"
        return _outcome(404, "not-found", detail)
    if (
        not receipt.acknowledgement
    ):  # an Acknowledgement of ours: recorded, never answered with another
        return _fhir(
            to_json(outcome("information", "informational", "acknowledgement recorded")), 200
        )
    return _fhir(receipt.acknowledgement, 200)


def _scope_of(body: object) -> str:
    """What a message writes, as the scope a system client needs: an Acknowledgement settles one of our
    Communications; a HospitalNotification moves a stay (Encounter)."""
    envelope = medcom.salvage_envelope(body)
    acknowledges = envelope is not None and envelope.event == medcom.MedComEvent.ACKNOWLEDGEMENT
    return "Communication" if acknowledges else "Encounter"


def _failure(failure: edge.Failure, body: object) -> Response:
    if failure.kind == "unavailable":
        ack = transient_error(body or _message(), edge.clock(), current_app.config, failure.message)
        if ack is not None:
            return _fhir(ack, failure.status, failure.headers)
    if failure.errors:  # the message could not even be read as one (no MessageHeader id)
        return _fhir(to_json(outcome_from_errors(list(failure.errors))), 400)
    code = "exception" if failure.kind == "internal" else issue_type_for_status(failure.status)
    answer = to_json(outcome("error", code, failure.message))
    return _fhir(answer, failure.status, failure.headers)


def _message() -> object:
    """The body as JSON when it can be read safely (within the edge's limits), else None."""
    try:
        edge.guard_input()
        return json.loads(request.get_data(as_text=True) or "null")
    except Exception:  # only a best effort to name the message in the answer
        return None


def init_app(app: Flask) -> None:
    app.register_blueprint(blp)
    csrf = app.extensions.get("csrf")
    if csrf is not None:
        csrf.exempt(blp)
