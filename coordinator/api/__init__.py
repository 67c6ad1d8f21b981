"""JSON REST API under /api/v1 (flask-smorest, OpenAPI 3.1), one Blueprint per resource, one error shape."""

from __future__ import annotations

from flask import Flask

from coordinator.api.core import CarepathApi, IdConverter
from coordinator.api.errors import register_error_handlers
from coordinator.security import limit_callers


def init_app(app: Flask) -> None:
    from coordinator.api import (  # noqa: PLC0415
        audit,
        contacts,
        emergency,
        inbox,
        meetings,
        organisations,
        pathways,
        patients,
        plans,
        reminders,
        users,
    )

    app.config.setdefault("API_TITLE", "carepath API")
    app.config.setdefault("API_VERSION", "v1")
    app.config.setdefault("OPENAPI_VERSION", "3.1.0")
    app.config.setdefault("OPENAPI_URL_PREFIX", "/api/v1")
    app.config.setdefault("OPENAPI_JSON_PATH", "openapi.json")
    # Swagger UI at /api/v1/docs, served from vendored files (coordinator/static/vendor): no CDN.
    app.config.setdefault("OPENAPI_SWAGGER_UI_PATH", "docs")
    app.config.setdefault("OPENAPI_SWAGGER_UI_URL", "/static/vendor/swagger-ui/")
    app.config.setdefault(
        "API_SPEC_OPTIONS",
        {
            "info": {
                "description": "Discharge agreements (§13a), coordination plans (§13b), fixed contact "
                "persons and pathways shared across region, municipality and GP. Errors "
                "are RFC 9457 problem details; writes to plans need If-Match."
            },
            "components": {
                "securitySchemes": {
                    "session": {"type": "apiKey", "in": "cookie", "name": "session"},
                    "bearer": {"type": "http", "scheme": "bearer"},
                }
            },
            "security": [{"session": []}, {"bearer": []}],
        },
    )
    app.url_map.converters["id"] = IdConverter
    api = CarepathApi(app)  # one per app: the OpenAPI document belongs to the app
    api.register_converter(
        IdConverter, lambda _c: {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}
    )
    app.extensions["carepath.api"] = api
    blueprints = [
        plans.blp,
        patients.blp,
        contacts.blp,
        contacts.people_blp,
        pathways.blp,
        emergency.blp,
        users.blp,
        organisations.blp,
        reminders.blp,
        audit.blp,
        meetings.blp,
        inbox.blp,
    ]
    for blueprint in blueprints:
        api.register_blueprint(blueprint, url_prefix=f"/api/v1{blueprint.url_prefix or ''}")
    register_error_handlers(app)
    limit_callers(app, blueprints, scope="api")
    csrf = app.extensions.get("csrf")
    if (
        csrf is not None
    ):  # JSON only (coordinator.edge.guard_input): a cross-site form cannot post here
        for blueprint in blueprints:
            csrf.exempt(blueprint)
