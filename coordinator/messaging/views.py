"""`POST /fhir/$process-message`: MedCom messages in, an Acknowledgement message out."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Flask, Response, current_app, request

from coordinator.api.core import clock, current_actor
from coordinator.db import get_session
from coordinator.inputs import MESSAGE, body_nul_paths
from coordinator.messaging.services import process_message
from fhir_adapters.common import to_json
from fhir_adapters.operation_outcome import outcome, outcome_from_errors
from pathways.errors import AuthenticationFailed, NotFound, PermissionDenied, ValidationFailed

FHIR_JSON = "application/fhir+json; fhirVersion=4.0"
blp = Blueprint("messaging", __name__)


def _fhir(body: dict[str, Any], status: int) -> Response:
    return Response(json.dumps(body, ensure_ascii=False), status=status, content_type=FHIR_JSON)


@blp.post("/fhir/$process-message")
def process() -> Response:  # noqa: PLR0911 - one early answer per kind of failure
    """Synchronous processing: the answer is the Acknowledgement (ok | fatal-error) with HTTP 200; a body
    that is no message at all gets 400 with an OperationOutcome."""
    from werkzeug.exceptions import Unauthorized  # noqa: PLC0415

    session = get_session()
    if request.mimetype not in ("application/fhir+json", "application/json"):
        return _fhir(to_json(outcome("error", "not-supported", "send application/fhir+json")), 415)
    try:
        body = json.loads(request.get_data(as_text=True) or "null")
    except json.JSONDecodeError as exc:
        return _fhir(to_json(outcome("error", "structure", f"not JSON: {exc.msg}")), 400)
    refused = body_nul_paths()
    if refused:
        where = ", ".join(f"Bundle.{p}" for p in refused[:5])
        return _fhir(to_json(outcome("error", "value", f"{where}: {MESSAGE}")), 400)
    try:
        receipt = process_message(session, current_actor(), clock(), body, current_app.config)
    except (Unauthorized, AuthenticationFailed) as exc:
        session.rollback()
        return _fhir(to_json(outcome("error", "login", str(getattr(exc, "description", exc)))), 401)
    except PermissionDenied as exc:
        session.rollback()
        return _fhir(to_json(outcome("error", "forbidden", exc.message)), 403)
    except ValidationFailed as exc:
        session.rollback()
        return _fhir(to_json(outcome_from_errors(exc)), 400)
    except NotFound as exc:
        session.commit()  # the acknowledgement is remembered even so: a resend changes nothing
        return _fhir(to_json(outcome("error", "not-found", exc.message)), 404)
    session.commit()
    if (
        not receipt.acknowledgement
    ):  # an Acknowledgement of ours: recorded, not answered with another
        return _fhir(
            to_json(outcome("information", "informational", "acknowledgement recorded")), 200
        )
    return _fhir(receipt.acknowledgement, 200)


def init_app(app: Flask) -> None:
    app.register_blueprint(blp)
    csrf = app.extensions.get("csrf")
    if csrf is not None:
        csrf.exempt(blp)
