"""The organisation directory: regions, psychiatric centres, wards, municipalities and GP clinics."""

from __future__ import annotations

from typing import Any

from flask import url_for
from flask.views import MethodView
from flask_smorest import Blueprint

from coordinator.api.core import (
    ETAG_HEADER,
    LINK_HEADER,
    if_match_doc,
    keyset_page,
    operation,
    optional_version,
    with_etag,
)
from coordinator.api.schemas.organisations import (
    OrganisationCreateSchema,
    OrganisationQuerySchema,
    OrganisationSchema,
    OrganisationUpdateSchema,
)
from coordinator.db import get_session
from coordinator.edge import clock, current_actor
from coordinator.organisations import services
from coordinator.organisations.models import Organisation

blp = Blueprint(
    "organisations",
    __name__,
    url_prefix="/organisations",
    description="The directory of organisations (SOR, kommunekode, ydernummer, GLN).",
)


@blp.route("")
class Organisations(MethodView):
    @operation("Organization", "read")
    @blp.arguments(OrganisationQuerySchema, location="query")
    @blp.response(200, OrganisationSchema(many=True), headers=LINK_HEADER)
    def get(self, query: dict[str, Any]) -> Any:
        """Search the directory (any signed-in party: it holds no patient data)."""
        current_actor()
        limit = query.pop("limit")
        found = services.search_organisations(
            get_session(), after_id=query.pop("after"), limit=limit, **query
        )
        return keyset_page(found, limit)

    @operation("Organization", "write")
    @blp.arguments(OrganisationCreateSchema)
    @blp.response(201, OrganisationSchema)
    def post(self, data: dict[str, Any]) -> tuple[Organisation, int, dict[str, str]]:
        """Register an organisation (system administrators)."""
        data["email"] = data["email"] or ""
        org = services.create_organisation(get_session(), current_actor(), clock(), **data)
        return (
            org,
            201,
            {"Location": url_for("organisations.OrganisationById", organisation_id=org.id)},
        )


@blp.route("/<id:organisation_id>")
class OrganisationById(MethodView):
    @operation("Organization", "read")
    @blp.response(200, OrganisationSchema, headers=ETAG_HEADER)
    def get(self, organisation_id: int) -> tuple[Organisation, int, dict[str, str]]:
        """One organisation."""
        current_actor()
        org = services.get_organisation(get_session(), organisation_id)
        return with_etag(org, org.version)

    @operation("Organization", "write")
    @blp.arguments(OrganisationUpdateSchema)
    @blp.response(200, OrganisationSchema, headers=ETAG_HEADER)
    @blp.doc(
        **if_match_doc(
            "organisation", {"409": "the SOR code is registered to another organisation"}
        )
    )
    def patch(
        self, data: dict[str, Any], organisation_id: int
    ) -> tuple[Organisation, int, dict[str, str]]:
        """Correct the name, SOR code, GLN or e-mail (system administrators; audited). Kind, parent,
        kommunekode, ydernummer and region identify the organisation and cannot be changed."""
        org = services.update_organisation(
            get_session(),
            current_actor(),
            clock(),
            organisation_id=organisation_id,
            expected_version=optional_version("organisation"),
            changes=data,
        )
        return with_etag(org, org.version)
