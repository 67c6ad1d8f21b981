"""`POST /fhir/$process-message`: MedCom messages in, an Acknowledgement message out.

The door is thin: the caller, the input guards, the unit of work and what a failure means come from
coordinator.edge; this module answers in MedCom's terms. A message that was read is answered with an
Acknowledgement (ok, or fatal-error naming the problem) and HTTP 200; a request that is no message at all,
or that may not be sent, gets an OperationOutcome with the HTTP status; an outage of ours gets a
transient-error Acknowledgement (send it again) with 503 and Retry-After.

Every message is first stored in the inbox, in a transaction of its own (ADR 0013). By default it is then
processed at once and answered with its Acknowledgement, as before. With ``async=true`` (the operation's
own R4 parameter, as a query parameter) the answer is ``202 Accepted`` at once, with no return Bundle (R4:
"for asynchronous messaging, there is no return value") but an informational OperationOutcome and a
Content-Location to poll; the inbox worker processes the message and sends its Acknowledgement to the
sender through the outbox. A resend of a message already processed is answered with its Acknowledgement in
either mode, and so is another message reusing a used id (fatal-error), for both are known at receipt.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Flask, Response, current_app, request, url_for

from coordinator import edge
from coordinator.db import get_database, get_session
from coordinator.inputs import MESSAGE
from coordinator.messaging.inbox import note_failure_apart
from coordinator.messaging.models import InboundMessage, InboxStatus
from coordinator.messaging.services import Receipt, process_received, receive, transient_error
from fhir_adapters import medcom
from fhir_adapters.common import to_json
from fhir_adapters.operation_outcome import issue_type_for_status, outcome, outcome_from_errors
from pathways.people import Actor

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
    """Store the message, then process it (synchronous: Acknowledgement with HTTP 200) or leave it to the
    inbox worker (``async=true``: 202 Accepted)."""
    body: object = None
    try:
        actor = edge.current_actor()  # who sends, before anything about the body is said
        asynchronous = _async_parameter()
        if asynchronous is None:
            return _outcome(400, "value", "the parameter async is true or false")
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
        config = current_app.config

        received = edge.unit_of_work(
            lambda: receive(
                get_session(), actor, edge.clock(), body, config, asynchronous=asynchronous
            )
        )
        receipt = received.receipt
        if receipt is None and asynchronous:
            return _accepted(received.message_id)
        if receipt is None:
            assert received.entry_id is not None
            receipt = _process_stored(actor, received.entry_id)
    except Exception as exc:
        return _failure(edge.failure_for(exc), body)
    return _answer(receipt)


def _process_stored(actor: Actor, entry_id: int) -> Receipt:
    """The second transaction of synchronous mode. A failure of ours is counted on the stored message
    (in a transaction of its own) and re-raised: the sender is told as before, and may send it again; if
    it does not, the inbox worker retries it after the grace time."""
    try:
        return edge.unit_of_work(
            lambda: process_received(
                get_session(), actor, edge.clock(), entry_id, current_app.config
            )
        )
    except Exception as exc:
        edge.rollback()
        note_failure_apart(get_database(), edge.clock(), entry_id, exc, current_app.config)
        raise


def _answer(receipt: Receipt) -> Response:
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


def _async_parameter() -> bool | None:
    """The operation's ``async`` parameter (R4 boolean): absent is false; None when it is no boolean."""
    values = request.args.getlist("async")
    if not values:
        return False
    if len(values) > 1 or values[0] not in ("true", "false"):
        return None
    return values[0] == "true"


def _accepted(message_id: str) -> Response:
    where = url_for("messaging.status", message_id=message_id, _external=True)
    answer = outcome(
        "information",
        "informational",
        f"message {message_id} is accepted for processing; its Acknowledgement is sent to the sender "
        "as a message",
    )
    return _fhir(to_json(answer), 202, {"Content-Location": where})


@blp.get("/fhir/$process-message/status/<path:message_id>")
def status(message_id: str) -> Response:
    """Where an accepted message stands, for the client that sent it (or any client that may send
    messages): 202 while pending, 200 with its Acknowledgement when processed, 500-class never; a dead
    letter answers 200 with its negative Acknowledgement. Nothing about the message's content is shown."""
    try:
        actor = edge.current_actor()
        edge.require_scope(actor, "Encounter", "write")
        row = (
            get_session()
            .execute(
                sa.select(
                    InboundMessage.status, InboundMessage.acknowledgement, InboundMessage.actor
                ).where(InboundMessage.message_id == message_id)
            )
            .first()
        )
        if row is None or not _same_sender(row.actor, actor):
            return _outcome(404, "not-found", f"no message {message_id} was received from you")
        if row.status is InboxStatus.PENDING:
            return _fhir(
                to_json(outcome("information", "informational", "the message is waiting")), 202
            )
        if not row.acknowledgement:
            return _fhir(
                to_json(outcome("information", "informational", "acknowledgement recorded")), 200
            )
        return _fhir(row.acknowledgement, 200)
    except Exception as exc:
        return _failure(edge.failure_for(exc), None)


def _same_sender(recorded: dict[str, Any] | None, actor: Actor) -> bool:
    if recorded is None:
        return False
    return recorded.get("kind") == actor.kind.value and recorded.get("id") == actor.id


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
