"""The FHIR R4 REST facade at /fhir: plain Flask, JSON only, thin over the use cases.

``coordinator.fhir.table`` declares what is served (it drives the router, the search parameter checks and
the CapabilityStatement); ``resources/`` holds one module of handlers per resource type; the mappers in
``fhir_adapters`` turn rows into resources and resources into records. Access rules and the audit log are
the use cases' own, exactly as for the REST API.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from coordinator.fhir.routes import bp  # noqa: PLC0415 - the routes import the whole app
    from coordinator.security import limit_callers  # noqa: PLC0415

    app.register_blueprint(bp)
    limit_callers(app, [bp], scope="fhir")  # MedCom messages ($process-message) are not limited
    csrf = app.extensions.get("csrf")
    if (
        csrf is not None
    ):  # token-authenticated; bodies must be JSON, which a cross-site form cannot send
        csrf.exempt(bp)
