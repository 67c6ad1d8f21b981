"""System clients beside the CLI (`flask clients`): list, register with public keys and scopes, revoke."""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from flask import flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from coordinator import edge
from coordinator.accounts import services as accounts
from coordinator.clients import services as client_services
from coordinator.clients.oauth import token_url
from coordinator.db import get_session
from coordinator.web.admin import bp
from coordinator.web.admin.common import FIELD_MESSAGES
from coordinator.web.admin.forms import RegisterClientForm
from coordinator.web.kit import actor, perform, show_field_errors
from pathways.errors import ValidationFailed
from pathways.scopes import SCOPE_MODES, SCOPE_RESOURCES, WILDCARD, Scope


def grantable_scopes() -> list[tuple[str, str]]:
    """Every scope a client can be registered with: each resource read and write, and the wildcards."""
    resources = [WILDCARD, *sorted(SCOPE_RESOURCES)]
    return [(str(Scope(r, m)), str(Scope(r, m))) for r in resources for m in SCOPE_MODES]


def _form_choices(form: RegisterClientForm) -> None:
    form.organisation_id.choices = [
        (org.id, org.name) for org in accounts.organisations_to_administer(get_session(), actor())
    ]
    form.scopes.choices = grantable_scopes()


def _page(form: RegisterClientForm, status: int = HTTPStatus.OK) -> ResponseReturnValue:
    found = client_services.list_clients(get_session(), actor())
    body = render_template("admin/clients.html", form=form, clients=found, token_url=token_url())
    return body, status


@bp.get("/clients")
def clients() -> ResponseReturnValue:
    form = RegisterClientForm(organisation_id=actor().organisation_id)
    _form_choices(form)
    return _page(form)


def _jwks(text: str) -> Any:
    """The pasted keys as JSON; one JWK is wrapped into a set, as the CLI does."""
    document = json.loads(text)
    if isinstance(document, dict) and "kty" in document:
        return {"keys": [document]}
    return document


@bp.post("/clients")
def register_client() -> ResponseReturnValue:
    form = RegisterClientForm()
    _form_choices(form)
    if not form.validate_on_submit():
        return _page(form, HTTPStatus.UNPROCESSABLE_ENTITY)
    try:
        jwks = _jwks(form.jwks.data or "")
    except ValueError:
        form.jwks.errors = [*form.jwks.errors, _("The keys are not valid JSON")]
        return _page(form, HTTPStatus.UNPROCESSABLE_ENTITY)
    try:
        client = perform(
            lambda: client_services.register_client(
                get_session(),
                actor(),
                edge.clock(),
                organisation_id=form.organisation_id.data,
                name=form.name.data,
                scopes=" ".join(form.scopes.data or []),
                jwks=jwks,
            )
        )
    except ValidationFailed as error:
        show_field_errors(form, error, FIELD_MESSAGES)
        return _page(form, HTTPStatus.UNPROCESSABLE_ENTITY)
    flash(
        _(
            "%(name)s was registered with client_id %(client_id)s.",
            name=client.name,
            client_id=client.client_id,
        ),
        "success",
    )
    return redirect(url_for(".clients"), code=HTTPStatus.SEE_OTHER)


@bp.post("/clients/<client_id>/revoke")
def revoke_client(client_id: str) -> ResponseReturnValue:
    client = perform(
        lambda: client_services.revoke_client(get_session(), actor(), edge.clock(), client_id)
    )
    flash(_("%(name)s was revoked: its tokens no longer work.", name=client.name), "success")
    return redirect(url_for(".clients"), code=HTTPStatus.SEE_OTHER)
