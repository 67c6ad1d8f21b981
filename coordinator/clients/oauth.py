"""The OAuth2 token endpoint for system clients (RFC 6749 client credentials, SMART Backend Services).

A client authenticates with a JWT it signs with one of its registered keys (RFC 7523 ``private_key_jwt``):
``iss`` = ``sub`` = its client_id, ``aud`` = this endpoint's URL, a fresh ``jti``, and an ``exp`` at most five
minutes ahead. It gets a short-lived bearer token for a subset of its registered scopes.

Time: assertions are checked against the app's clock (``app.extensions["carepath.clock"]``), the same clock
that dates the tokens, so that tests with a FixedClock and production agree with themselves.

Configuration: ``OAUTH2_TOKEN_EXPIRES_IN`` (seconds, default 300), ``OAUTH2_TOKEN_URL`` (the audience clients
sign for; set it in production, otherwise the URL of the current request is used) and
``OAUTH2_TOKEN_RATE_LIMIT`` (default "60 per minute" per address).
"""

from __future__ import annotations

import json
import re
import secrets
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2 import OAuth2Error, OAuth2Request
from authlib.oauth2.rfc6749 import (
    InvalidClientError,
    InvalidRequestError,
    InvalidScopeError,
)
from authlib.oauth2.rfc6749.grants import ClientCredentialsGrant
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from flask import Blueprint, Flask, Response, current_app, request, url_for
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from coordinator.clients import cli
from coordinator.clients.models import ApiClient
from coordinator.clients.services import (
    active_client,
    actor_for_token,
    record_refused_token_request,
    save_issued_token,
    use_assertion,
)
from coordinator.db import get_session
from coordinator.security import CLOCK_KEY, csrf, get_limiter
from pathways.clock import Clock, SystemClock
from pathways.errors import ValidationFailed
from pathways.scopes import (
    SCOPE_MODES,
    SCOPE_RESOURCES,
    SIGNING_ALGORITHMS,
    WILDCARD,
    format_scopes,
    parse_scope,
    parse_scopes,
    scopes_cover,
)

SERVER_KEY = "carepath.oauth"
PRIVATE_KEY_JWT = "private_key_jwt"
GRANT_TYPE = "client_credentials"
DEFAULT_TOKEN_EXPIRES_IN = 300
MAX_ASSERTION_LIFETIME = 300  # SMART Backend Services: exp no more than five minutes in the future
ASSERTION_LEEWAY = 30  # clock skew between the client and us, in seconds
MAX_JTI_LENGTH = 255
FORM = "application/x-www-form-urlencoded"
# RFC 6749 §5.2: error_description is limited to these characters (authlib raises on anything else).
_NOT_ALLOWED_IN_DESCRIPTION = re.compile(r"[^\x20\x21\x23-\x5b\x5d-\x7e]")

bp = Blueprint("oauth", __name__)


def current_clock() -> Clock:
    clock: Clock | None = current_app.extensions.get(CLOCK_KEY)
    return clock if clock is not None else SystemClock()


def token_url() -> str:
    """The audience a client assertion must name: the configured URL, else the one being called."""
    configured = current_app.config.get("OAUTH2_TOKEN_URL")
    return str(configured) if configured else url_for("oauth.token", _external=True)


def _safe(text: str) -> str:
    """Text from a JOSE error may quote the attacker's input (a kid): keep it printable and short."""
    return _NOT_ALLOWED_IN_DESCRIPTION.sub("?", text)[:200]


class OAuthClient:
    """authlib's view of an ApiClient (its ClientMixin): the model itself stays free of authlib."""

    def __init__(self, model: ApiClient) -> None:
        self.model = model

    def get_client_id(self) -> str:
        return self.model.client_id

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == PRIVATE_KEY_JWT and endpoint == "token"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == GRANT_TYPE

    def get_allowed_scope(self, scope: str) -> str:
        return scope  # already narrowed by the grant's validate_requested_scope


class PrivateKeyJWTAssertion(JWTBearerClientAssertion):
    """RFC 7523 client authentication, checked against our clock, our algorithms and our jti store."""

    CLIENT_AUTH_METHOD = PRIVATE_KEY_JWT

    def __init__(self) -> None:
        super().__init__(validate_jti=True, leeway=ASSERTION_LEEWAY)

    def get_audiences(self) -> list[str]:
        return [token_url()]

    def resolve_client_public_key(self, client: OAuthClient) -> KeySet:
        return KeySet.import_key_set(client.model.jwks)  # type: ignore[arg-type]  # a JWKS dict

    def process_assertion_claims(self, assertion: str, resolve_key: Any) -> dict[str, Any]:
        # An explicit list: no "none", no HMAC (a public key must never serve as a shared secret).
        try:
            token = jwt.decode(assertion, resolve_key, algorithms=SIGNING_ALGORITHMS)
        except JoseError as exc:
            raise InvalidClientError(description=_safe(exc.description or exc.error)) from exc
        self.verify_claims(token.claims)
        claims: dict[str, Any] = token.claims
        return claims

    def verify_claims(self, claims: dict[str, Any]) -> None:
        now = int(current_clock().now().timestamp())
        registry = jwt.JWTClaimsRegistry(
            now=now,
            leeway=self.leeway,
            iss={"essential": True},
            sub={"essential": True},
            aud={"essential": True, "values": self.get_audiences()},
            exp={"essential": True},
            jti={"essential": True},
        )
        try:
            registry.validate(claims)
        except JoseError as exc:
            raise InvalidClientError(description=_safe(exc.description or exc.error)) from exc
        if claims["sub"] != claims["iss"]:
            raise InvalidClientError(description="iss and sub must both be the client_id")
        if claims["exp"] > now + MAX_ASSERTION_LIFETIME + self.leeway:
            raise InvalidClientError(
                description=f"exp must be at most {MAX_ASSERTION_LIFETIME} seconds in the future"
            )
        jti = claims["jti"]
        if len(jti) > MAX_JTI_LENGTH:
            raise InvalidClientError(description=f"jti is longer than {MAX_JTI_LENGTH} characters")
        if not self.validate_jti(claims, jti):
            raise InvalidClientError(description="this assertion (jti) was used before")

    def validate_jti(self, claims: dict[str, Any], jti: str) -> bool:
        session = get_session()
        client = active_client(session, claims["sub"])
        if client is None:  # pragma: no cover - found moments ago, in this same transaction
            return False
        # Kept until no clock (ours or the client's, within the leeway) would accept it again.
        expires_at = datetime.fromtimestamp(claims["exp"] + self.leeway, UTC)
        return use_assertion(session, current_clock(), client, jti, expires_at)


class SystemClientCredentialsGrant(ClientCredentialsGrant):
    """Client credentials for system clients: signed JWTs only, scopes within the registration."""

    TOKEN_ENDPOINT_AUTH_METHODS = [PRIVATE_KEY_JWT]  # noqa: RUF012 - authlib reads the class attribute

    granted_scope = ""

    def validate_requested_scope(self) -> None:
        text = self.request.payload.scope
        if not text:
            raise InvalidScopeError(description="scope is required, e.g. system/CarePlan.read")
        try:
            requested = parse_scopes(text, field="scope")
        except ValidationFailed as exc:
            raise InvalidScopeError(description="unknown or malformed scope") from exc
        # Leniently: a resource dropped from our list since registration just grants nothing more.
        registered = {s for s in map(parse_scope, self.client.model.scopes.split()) if s}
        if not scopes_cover(registered, requested):
            raise InvalidScopeError(
                description="the requested scope exceeds the client's registration"
            )
        self.granted_scope = format_scopes(requested)

    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        token = self.generate_token(scope=self.granted_scope, include_refresh_token=False)
        self.save_token(token)
        return HTTPStatus.OK, token, self.TOKEN_RESPONSE_HEADER


class SystemAuthorizationServer(AuthorizationServer):
    def create_bearer_token_generator(self, config: Any) -> BearerTokenGenerator:
        # authlib's own setting takes a dict per grant type and defaults to 10 days; ours is plain seconds.
        expires_in = config.get("OAUTH2_TOKEN_EXPIRES_IN", DEFAULT_TOKEN_EXPIRES_IN)
        if isinstance(expires_in, bool) or not isinstance(expires_in, int) or expires_in <= 0:
            raise ValueError(
                f"OAUTH2_TOKEN_EXPIRES_IN must be a positive number of seconds, not {expires_in!r}"
            )

        def access_token(**_: Any) -> str:
            return secrets.token_urlsafe(32)  # 256 bits

        def lifetime(_client: Any, _grant_type: str) -> int:
            return int(expires_in)

        return BearerTokenGenerator(access_token, None, lifetime)

    def handle_error_response(self, request: OAuth2Request | None, error: OAuth2Error) -> Response:
        # RFC 6749 §5.2 allows 401 for a failed client authentication; it tells clients "fix your keys".
        if error.error == InvalidClientError.error:
            error.status_code = HTTPStatus.UNAUTHORIZED
        client = getattr(request, "client", None) if request is not None else None
        record_refused_token_request(
            get_session(),
            current_clock(),
            client.model if isinstance(client, OAuthClient) else None,
            error=str(error.error),
            description=str(error.description or ""),
        )
        return super().handle_error_response(request, error)


def _query_client(client_id: str) -> OAuthClient | None:
    client = active_client(get_session(), client_id)
    return OAuthClient(client) if client is not None else None


def _save_token(token: dict[str, Any], oauth_request: OAuth2Request) -> None:
    save_issued_token(
        get_session(),
        current_clock(),
        oauth_request.client.model,
        access_token=token["access_token"],
        scope=token["scope"],
        expires_in=int(token["expires_in"]),
    )


def get_server(app: Flask | None = None) -> SystemAuthorizationServer:
    server: SystemAuthorizationServer = (app or current_app).extensions[SERVER_KEY]
    return server


@bp.post("/oauth/token")
def token() -> Response:
    """Form-encoded token request (RFC 6749 §4.4.2) -> JSON token or RFC 6749 §5.2 error."""
    server = get_server()
    session = get_session()
    try:
        if request.args:
            raise InvalidRequestError(
                description="send the parameters in the form-encoded body, not in the URL"
            )
        if request.mimetype != FORM:
            raise InvalidRequestError(description=f"the request body must be {FORM}")
        response: Response = server.create_token_response()
    except OAuth2Error as error:  # raised before authlib's own handling (e.g. insecure transport)
        response = server.handle_error_response(None, error)
    # Also on a refusal: a used jti stays used, and the refusal stays in the audit log.
    session.commit()
    return response


@bp.get("/fhir/.well-known/smart-configuration")
def smart_configuration() -> Response:
    """SMART discovery (App Launch 2.x, §Conformance), where Backend Services clients look it up: the
    FHIR base URL + /.well-known/smart-configuration. Public: it holds nothing but this endpoint's URL
    and what it supports. A more specific rule than the FHIR facade's catch-all, so Werkzeug picks it.
    No authorize endpoint, so no PKCE methods: carepath serves system clients only."""
    scopes = [
        f"system/{resource}.{mode}"
        for resource in (*sorted(SCOPE_RESOURCES), WILDCARD)
        for mode in SCOPE_MODES
    ]
    document = {
        "token_endpoint": token_url(),
        "token_endpoint_auth_methods_supported": [PRIVATE_KEY_JWT],
        "token_endpoint_auth_signing_alg_values_supported": list(SIGNING_ALGORITHMS),
        "grant_types_supported": [GRANT_TYPE],
        "scopes_supported": scopes,
        "capabilities": ["client-confidential-asymmetric", "permission-v1"],
    }
    return Response(json.dumps(document), content_type="application/json")


def _token_rate_limit() -> str:
    return str(current_app.config.get("OAUTH2_TOKEN_RATE_LIMIT", "60 per minute"))


def init_app(app: Flask) -> None:
    server = SystemAuthorizationServer(app, query_client=_query_client, save_token=_save_token)
    server.register_client_auth_method(PRIVATE_KEY_JWT, PrivateKeyJWTAssertion())
    server.register_grant(SystemClientCredentialsGrant)
    app.extensions[SERVER_KEY] = server
    # The API and the FHIR facade turn bearer tokens into client actors through this hook.
    app.extensions["carepath.token_resolver"] = actor_for_token
    csrf.exempt(bp)  # machine clients authenticate with signed JWTs, not with a session cookie
    app.register_blueprint(bp)
    # One limiter per app (security.get_limiter), applied here rather than by a decorator at import time.
    endpoint = f"{bp.name}.token"
    app.view_functions[endpoint] = get_limiter(app).limit(_token_rate_limit)(  # type: ignore[assignment]
        app.view_functions[endpoint]
    )
    cli.init_app(app)
