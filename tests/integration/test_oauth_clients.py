"""System clients: registration, the token endpoint (client credentials + signed JWT), and bearer tokens."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from collections.abc import Iterator
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from flask import Flask
from flask.testing import FlaskClient
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from coordinator import create_app
from coordinator.audit.models import AuditEntry
from coordinator.clients.models import ApiClient, ApiToken, UsedAssertion
from coordinator.clients.services import (
    actor_for_token,
    register_client,
    revoke_client,
    revoke_token,
)
from coordinator.db import Base, get_database
from coordinator.organisations.models import Organisation
from coordinator.plans import services as plans_services
from coordinator.security import CLOCK_KEY
from pathways.audit import AuditAction, AuditOutcome
from pathways.clock import FixedClock
from pathways.errors import NotFound, PermissionDenied, ValidationFailed
from pathways.people import Actor, ActorKind, Role
from pathways.scopes import scope_allows
from tests import scenario as sc

TOKEN_URL = "http://localhost/oauth/token"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
SCOPES = "system/CarePlan.read system/CarePlan.write system/CareTeam.read"


# ---------------------------------------------------------------- keys and assertions
@cache
def rsa_key(name: str) -> RSAKey:
    """A fresh 2048-bit RSA key pair per name (made with cryptography, once per test run)."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return RSAKey.import_key(private, {"kid": f"{name}-key"})


@cache
def ec_key(name: str) -> ECKey:
    return ECKey.import_key(ec.generate_private_key(ec.SECP384R1()), {"kid": f"{name}-key"})


def public_jwks(*keys: RSAKey | ECKey) -> dict[str, Any]:
    return {"keys": [key.as_dict(private=False) for key in keys]}


def assertion(
    key: RSAKey | ECKey,
    client_id: str,
    clock: FixedClock,
    *,
    alg: str = "RS384",
    aud: str = TOKEN_URL,
    expires_in: int = 120,
    jti: str | None = None,
    **claims: Any,
) -> str:
    """A client assertion as a SMART backend service signs it (RFC 7523 §3)."""
    now = int(clock.now().timestamp())
    payload = {
        "iss": client_id,
        "sub": client_id,
        "aud": aud,
        "exp": now + expires_in,
        "jti": jti or str(uuid.uuid4()),
        **claims,
    }
    header = {"alg": alg, "kid": key.kid, "typ": "JWT"}
    return jwt.encode(header, payload, key, algorithms=[alg])


def token_form(signed: str, scope: str | None = "system/CarePlan.read") -> dict[str, str]:
    form = {
        "grant_type": "client_credentials",
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": signed,
    }
    if scope is not None:
        form["scope"] = scope
    return form


def post_token(web: FlaskClient, form: dict[str, str]) -> TestResponse:
    return web.post("/oauth/token", data=form)


def oauth_error(response: TestResponse, status: int, error: str) -> str:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert body["error"] == error
    return str(body.get("error_description", ""))


# ---------------------------------------------------------------- fixtures
def admin_of(session: Session, clock: FixedClock, organisation: Organisation, role: str) -> Actor:
    return sc.staff_member(
        session,
        clock,
        organisation_id=organisation.id,
        role=role,
        name=f"{role} of {organisation.name}",
    )


@pytest.fixture
def region_admin(session: Session, clock: FixedClock, world: sc.Scenario) -> Actor:
    return admin_of(session, clock, world.region, "org_admin")


@pytest.fixture
def web(app: Flask, clock: FixedClock, session: Session) -> FlaskClient:
    app.extensions[CLOCK_KEY] = clock
    return app.test_client()


@pytest.fixture
def ehr(session: Session, clock: FixedClock, world: sc.Scenario) -> ApiClient:
    """The municipality's case system, registered with one RSA key."""
    return register_client(
        session,
        sc.SYSTEM,
        clock,
        organisation_id=world.municipality.id,
        name="Kommunens omsorgssystem",
        scopes=SCOPES,
        jwks=public_jwks(rsa_key("ehr")),
    )


def get_token(web: FlaskClient, ehr: ApiClient, clock: FixedClock, scope: str) -> dict[str, Any]:
    response = post_token(web, token_form(assertion(rsa_key("ehr"), ehr.client_id, clock), scope))
    assert response.status_code == 200, response.get_data(as_text=True)
    body: dict[str, Any] = response.get_json()
    return body


# ---------------------------------------------------------------- registration
def test_an_org_admin_registers_a_client_for_a_unit_of_their_organisation(
    session: Session, clock: FixedClock, world: sc.Scenario, region_admin: Actor
) -> None:
    key = rsa_key("ward")
    jwks = public_jwks(key)
    jwks["keys"][0]["x5c"] = ["MIIB"]  # not kept: only the members we use
    client = register_client(
        session,
        region_admin,
        clock,
        organisation_id=world.ward.id,
        name="  Sundhedsplatformen  ",
        scopes="system/CarePlan.write system/CarePlan.read system/CarePlan.read",
        jwks=jwks,
    )
    assert client.name == "Sundhedsplatformen"
    assert client.scopes == "system/CarePlan.read system/CarePlan.write"
    assert client.jwks == public_jwks(key)
    assert str(uuid.UUID(client.client_id)) == client.client_id
    assert (client.is_active, client.revoked_at, client.created_at) == (True, None, clock.now())
    assert client.created_by_id == region_admin.id
    entry = session.scalars(
        sa.select(AuditEntry).where(AuditEntry.resource_type == "ApiClient")
    ).one()
    assert (entry.action, entry.actor_id, entry.resource_id) == (
        AuditAction.CREATE,
        region_admin.id,
        str(client.id),
    )
    assert entry.details["kids"] == ["ward-key"]


def test_a_system_admin_registers_clients_for_any_organisation(
    session: Session, clock: FixedClock, world: sc.Scenario
) -> None:
    admin = admin_of(session, clock, world.region, "system_admin")
    client = register_client(
        session,
        admin,
        clock,
        organisation_id=world.gp_clinic.id,
        name="Lægesystem",
        scopes="system/*.read",
        jwks=public_jwks(ec_key("gp")),
    )
    assert client.organisation_id == world.gp_clinic.id


@pytest.mark.parametrize(
    ("admin_at", "role", "target"),
    [
        ("other_municipality", "org_admin", "municipality"),  # another organisation
        ("ward", "org_admin", "region"),  # upwards: a ward's admin must not act for the region
        ("ward", "org_admin", "other_ward"),  # a sibling unit
        ("municipality", "case_worker", "municipality"),  # not an administrator
        ("region", "auditor", "ward"),
    ],
)
def test_only_admins_of_the_organisation_or_above_may_register(
    session: Session, clock: FixedClock, world: sc.Scenario, admin_at: str, role: str, target: str
) -> None:
    actor = admin_of(session, clock, getattr(world, admin_at), role)
    with pytest.raises(PermissionDenied, match="may not manage the system clients"):
        register_client(
            session,
            actor,
            clock,
            organisation_id=getattr(world, target).id,
            name="X",
            scopes="system/CarePlan.read",
            jwks=public_jwks(rsa_key("x")),
        )
    assert session.scalar(sa.select(sa.func.count()).select_from(ApiClient)) == 0


def test_system_clients_may_not_register_clients(
    session: Session, clock: FixedClock, world: sc.Scenario
) -> None:
    client = Actor(
        kind=ActorKind.CLIENT, name="EHR", organisation_id=world.region.id, role=Role.ORG_ADMIN
    )
    with pytest.raises(PermissionDenied):
        register_client(
            session,
            client,
            clock,
            organisation_id=world.ward.id,
            name="X",
            scopes="system/CarePlan.read",
            jwks=public_jwks(rsa_key("x")),
        )


@pytest.mark.parametrize(
    "scopes", ["system/Observation.read", "", "patient/CarePlan.read", "system/CarePlan.rs"]
)
def test_a_bad_scope_is_refused_on_the_field_scopes(
    session: Session, clock: FixedClock, world: sc.Scenario, region_admin: Actor, scopes: str
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        register_client(
            session,
            region_admin,
            clock,
            organisation_id=world.ward.id,
            name="EHR",
            scopes=scopes,
            jwks=public_jwks(rsa_key("ward")),
        )
    assert refused.value.fields == ("scopes",)


def test_a_private_key_in_the_jwks_is_refused_on_the_field_jwks(
    session: Session, clock: FixedClock, world: sc.Scenario, region_admin: Actor
) -> None:
    private = rsa_key("ward").as_dict(private=True)
    with pytest.raises(ValidationFailed) as refused:
        register_client(
            session,
            region_admin,
            clock,
            organisation_id=world.ward.id,
            name="EHR",
            scopes="system/CarePlan.read",
            jwks={"keys": [private]},
        )
    assert refused.value.fields == ("jwks",)
    assert refused.value.errors[0].code == "private-key"
    assert str(private["d"]) not in refused.value.message


def test_every_bad_field_is_reported_at_once_and_nothing_is_written(
    session: Session, clock: FixedClock, world: sc.Scenario
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        register_client(
            session,
            sc.SYSTEM,
            clock,
            organisation_id=world.ward.id,
            name="",
            scopes="system/Foo.read",
            jwks={"keys": [{"kty": "EC", "kid": "k", "crv": "P-256", "x": "AA", "y": "AA"}]},
        )
    assert refused.value.fields == ("name", "scopes", "jwks")
    assert session.scalar(sa.select(sa.func.count()).select_from(ApiClient)) == 0


def test_an_ec_point_that_is_not_on_its_curve_is_refused(
    session: Session, clock: FixedClock, world: sc.Scenario
) -> None:
    key = ec_key("curve").as_dict(private=False)
    key["y"] = key["x"]  # right length, wrong point
    with pytest.raises(ValidationFailed) as refused:
        register_client(
            session,
            sc.SYSTEM,
            clock,
            organisation_id=world.ward.id,
            name="EHR",
            scopes="system/CarePlan.read",
            jwks={"keys": [key]},
        )
    assert refused.value.fields == ("jwks",)
    assert "cannot be used" in refused.value.message


def test_an_unknown_organisation_is_refused(session: Session, clock: FixedClock) -> None:
    with pytest.raises(ValidationFailed) as refused:
        register_client(
            session,
            sc.SYSTEM,
            clock,
            organisation_id=999_999,
            name="EHR",
            scopes="system/CarePlan.read",
            jwks=public_jwks(rsa_key("x")),
        )
    assert refused.value.fields == ("organisation_id",)


# ---------------------------------------------------------------- the token endpoint
def test_full_flow_signed_assertion_to_bearer_token_to_client_actor(
    web: FlaskClient, session: Session, clock: FixedClock, world: sc.Scenario, ehr: ApiClient
) -> None:
    signed = assertion(rsa_key("ehr"), ehr.client_id, clock)
    response = post_token(web, token_form(signed, "system/CareTeam.read system/CarePlan.read"))

    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Pragma"] == "no-cache"
    body = response.get_json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 300
    assert body["scope"] == "system/CarePlan.read system/CareTeam.read"
    assert len(body["access_token"]) >= 43

    actor = actor_for_token(session, clock, body["access_token"])
    assert actor == Actor(
        kind=ActorKind.CLIENT,
        name="Kommunens omsorgssystem",
        id=ehr.id,
        organisation_id=world.municipality.id,
        role=Role.CASE_WORKER,
        scopes=frozenset({"system/CarePlan.read", "system/CareTeam.read"}),
    )
    assert scope_allows(actor.scopes, "CarePlan", "read")
    assert not scope_allows(actor.scopes, "CarePlan", "write")  # registered, but not asked for

    token = session.scalars(sa.select(ApiToken)).one()
    assert token.access_token_hash == hashlib.sha256(body["access_token"].encode()).hexdigest()
    assert (token.issued_at, token.expires_at) == (
        clock.now(),
        clock.now() + timedelta(seconds=300),
    )
    login = session.scalars(
        sa.select(AuditEntry).where(AuditEntry.action == AuditAction.LOGIN)
    ).one()
    assert (login.actor_kind, login.actor_id, login.outcome) == (
        ActorKind.CLIENT,
        ehr.id,
        AuditOutcome.ALLOWED,
    )


def test_the_token_is_stored_nowhere_in_clear(
    web: FlaskClient, session: Session, clock: FixedClock, ehr: ApiClient
) -> None:
    access_token = get_token(web, ehr, clock, "system/CarePlan.read")["access_token"]
    for table in Base.metadata.sorted_tables:
        for row in session.execute(sa.select(table)):
            assert access_token not in json.dumps(list(row), default=str), table.name


def test_an_ec_key_and_es384_work_too(
    web: FlaskClient, session: Session, clock: FixedClock, world: sc.Scenario
) -> None:
    client = register_client(
        session,
        sc.SYSTEM,
        clock,
        organisation_id=world.gp_clinic.id,
        name="Lægesystem",
        scopes="system/*.read",
        jwks=public_jwks(rsa_key("other"), ec_key("gp")),
    )
    signed = assertion(ec_key("gp"), client.client_id, clock, alg="ES384")
    response = post_token(web, token_form(signed, "system/CarePlan.read system/Patient.read"))
    assert response.status_code == 200, response.get_data(as_text=True)
    actor = actor_for_token(session, clock, response.get_json()["access_token"])
    assert actor is not None
    assert (actor.role, actor.organisation_id) == (Role.GP, world.gp_clinic.id)


def test_a_forged_signature_is_invalid_client(
    web: FlaskClient, session: Session, clock: FixedClock, ehr: ApiClient
) -> None:
    impostor = RSAKey.import_key(
        rsa.generate_private_key(public_exponent=65537, key_size=2048), {"kid": "ehr-key"}
    )
    response = post_token(web, token_form(assertion(impostor, ehr.client_id, clock)))
    oauth_error(response, 401, "invalid_client")
    assert session.scalar(sa.select(sa.func.count()).select_from(ApiToken)) == 0
    refusal = session.scalars(
        sa.select(AuditEntry).where(AuditEntry.outcome == AuditOutcome.DENIED)
    ).one()
    assert (refusal.action, refusal.resource_type, refusal.resource_id) == (
        AuditAction.LOGIN,
        "ApiClient",
        str(ehr.id),
    )
    assert refusal.actor_id is None  # an unauthenticated request is nobody's


def _unsigned(client_id: str, clock: FixedClock) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    now = int(clock.now().timestamp())
    claims = {"iss": client_id, "sub": client_id, "aud": TOKEN_URL, "exp": now + 60, "jti": "n"}
    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


@pytest.mark.parametrize(
    ("make", "description"),
    [
        (lambda c, k, clock: assertion(k, c, clock, expires_in=-120), "expired"),
        (lambda c, k, clock: assertion(k, c, clock, expires_in=3600), "at most 300 seconds"),
        (lambda c, k, clock: assertion(k, c, clock, aud="https://other.example/token"), "aud"),
        (lambda c, k, clock: assertion(k, c, clock, iss="someone-else"), "iss and sub"),
        (lambda c, k, clock: assertion(k, c, clock, jti="j" * 256), "jti is longer"),
        (lambda c, k, clock: assertion(k, "no-such-client", clock), "does not exist"),
        (lambda c, k, clock: _unsigned(c, clock), ""),
        (lambda c, k, clock: "not.a.jwt", ""),
    ],
    ids=[
        "expired",
        "too-long-lived",
        "audience",
        "iss-sub",
        "jti-length",
        "unknown",
        "alg-none",
        "junk",
    ],
)
def test_bad_assertions_are_invalid_client(
    web: FlaskClient, clock: FixedClock, ehr: ApiClient, make: Any, description: str
) -> None:
    response = post_token(web, token_form(make(ehr.client_id, rsa_key("ehr"), clock)))
    assert description in oauth_error(response, 401, "invalid_client")


def test_assertions_are_checked_against_the_app_clock(
    web: FlaskClient, clock: FixedClock, ehr: ApiClient
) -> None:
    signed = assertion(rsa_key("ehr"), ehr.client_id, clock)
    clock.advance(timedelta(minutes=3))  # 120 s of validity + 30 s leeway have passed
    oauth_error(post_token(web, token_form(signed)), 401, "invalid_client")


def test_a_replayed_assertion_is_refused(
    web: FlaskClient, session: Session, clock: FixedClock, ehr: ApiClient
) -> None:
    signed = assertion(rsa_key("ehr"), ehr.client_id, clock)
    assert post_token(web, token_form(signed)).status_code == 200
    replay = post_token(web, token_form(signed))
    assert "used before" in oauth_error(replay, 401, "invalid_client")
    used = session.scalars(sa.select(UsedAssertion)).one()
    assert used.expires_at > clock.now()
    assert session.scalar(sa.select(sa.func.count()).select_from(ApiToken)) == 1


def test_a_jti_may_be_reused_once_it_has_expired_from_the_store(
    web: FlaskClient, session: Session, clock: FixedClock, ehr: ApiClient
) -> None:
    key = rsa_key("ehr")
    assert (
        post_token(web, token_form(assertion(key, ehr.client_id, clock, jti="a"))).status_code
        == 200
    )
    clock.advance(timedelta(minutes=10))
    again = post_token(web, token_form(assertion(key, ehr.client_id, clock, jti="a")))
    assert again.status_code == 200
    assert session.scalars(sa.select(UsedAssertion.jti)).all() == ["a"]  # the old row was purged


@pytest.mark.parametrize(
    ("scope", "description"),
    [
        ("system/Patient.read", "exceeds the client's registration"),
        ("system/CareTeam.write", "exceeds the client's registration"),
        ("system/*.read", "exceeds the client's registration"),
        ("system/Observation.read", "unknown or malformed"),
        ("system/CarePlan.read\u00e6", "unknown or malformed"),
        (None, "scope is required"),
    ],
)
def test_a_scope_beyond_the_registration_is_invalid_scope(
    web: FlaskClient,
    session: Session,
    clock: FixedClock,
    ehr: ApiClient,
    scope: str | None,
    description: str,
) -> None:
    response = post_token(web, token_form(assertion(rsa_key("ehr"), ehr.client_id, clock), scope))
    assert description in oauth_error(response, 400, "invalid_scope")
    assert session.scalar(sa.select(sa.func.count()).select_from(ApiToken)) == 0


def test_a_revoked_client_gets_no_token_and_its_tokens_stop_working(
    web: FlaskClient, session: Session, clock: FixedClock, world: sc.Scenario, ehr: ApiClient
) -> None:
    access_token = get_token(web, ehr, clock, "system/CarePlan.read")["access_token"]
    municipal_admin = admin_of(session, clock, world.municipality, "org_admin")
    revoke_client(session, municipal_admin, clock, ehr.client_id)
    session.commit()  # the test's savepoint: the app's requests see the revocation

    assert actor_for_token(session, clock, access_token) is None
    response = post_token(web, token_form(assertion(rsa_key("ehr"), ehr.client_id, clock)))
    assert "does not exist" in oauth_error(response, 401, "invalid_client")
    token = session.scalars(sa.select(ApiToken)).one()
    assert token.revoked_at == clock.now()
    assert revoke_client(session, municipal_admin, clock, ehr.client_id).revoked_at == clock.now()


def test_another_organisations_admin_may_not_revoke(
    session: Session, clock: FixedClock, world: sc.Scenario, ehr: ApiClient
) -> None:
    stranger = admin_of(session, clock, world.other_municipality, "org_admin")
    with pytest.raises(PermissionDenied):
        revoke_client(session, stranger, clock, ehr.client_id)
    with pytest.raises(NotFound):
        revoke_client(session, stranger, clock, "no-such-client")
    assert ehr.revoked_at is None


def test_a_token_expires_with_the_clock(
    web: FlaskClient, session: Session, clock: FixedClock, ehr: ApiClient
) -> None:
    access_token = get_token(web, ehr, clock, "system/CarePlan.read")["access_token"]
    clock.advance(timedelta(seconds=299))
    assert actor_for_token(session, clock, access_token) is not None
    clock.advance(timedelta(seconds=1))
    assert actor_for_token(session, clock, access_token) is None


def test_a_revoked_token_stops_working_alone(
    web: FlaskClient, session: Session, clock: FixedClock, ehr: ApiClient
) -> None:
    first = get_token(web, ehr, clock, "system/CarePlan.read")["access_token"]
    second = get_token(web, ehr, clock, "system/CarePlan.read")["access_token"]
    token_id = session.scalar(
        sa.select(ApiToken.id).where(
            ApiToken.access_token_hash == hashlib.sha256(first.encode()).hexdigest()
        )
    )
    assert token_id is not None
    revoke_token(session, sc.SYSTEM, clock, token_id)
    assert actor_for_token(session, clock, first) is None
    assert actor_for_token(session, clock, second) is not None


@pytest.mark.parametrize("bearer", ["", "x", "a" * 600])
def test_unknown_tokens_are_nobody(session: Session, clock: FixedClock, bearer: str) -> None:
    assert actor_for_token(session, clock, bearer) is None


def test_a_deactivated_organisation_ends_its_clients_tokens(
    web: FlaskClient, session: Session, clock: FixedClock, world: sc.Scenario, ehr: ApiClient
) -> None:
    access_token = get_token(web, ehr, clock, "system/CarePlan.read")["access_token"]
    world.municipality.is_active = False
    session.flush()
    assert actor_for_token(session, clock, access_token) is None


# ---------------------------------------------------------------- the shape of requests
def test_other_grant_types_and_methods_are_refused(
    web: FlaskClient, clock: FixedClock, ehr: ApiClient
) -> None:
    form = token_form(assertion(rsa_key("ehr"), ehr.client_id, clock))
    oauth_error(post_token(web, {**form, "grant_type": "password"}), 400, "unsupported_grant_type")
    assert web.get("/oauth/token").status_code == 405


def test_parameters_belong_in_a_form_encoded_body(
    web: FlaskClient, clock: FixedClock, ehr: ApiClient
) -> None:
    form = token_form(assertion(rsa_key("ehr"), ehr.client_id, clock))
    as_json = web.post("/oauth/token", json=form)
    assert "form-urlencoded" in oauth_error(as_json, 400, "invalid_request")
    in_url = web.post("/oauth/token", query_string=form, data={"x": "1"})
    assert "not in the URL" in oauth_error(in_url, 400, "invalid_request")


def test_a_client_secret_is_no_way_in(web: FlaskClient, ehr: ApiClient) -> None:
    basic = base64.b64encode(f"{ehr.client_id}:secret".encode()).decode()
    response = web.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "scope": "system/CarePlan.read"},
        headers={"Authorization": f"Basic {basic}"},
    )
    oauth_error(response, 401, "invalid_client")


@pytest.fixture
def configured(database_url: str, connection: sa.Connection, clock: FixedClock) -> Iterator[Any]:
    """Makes an app with extra configuration, bound to the test's transaction like the ``app`` fixture."""
    made: list[Flask] = []

    def make(**config: Any) -> FlaskClient:
        app = create_app(
            {"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "test", **config}
        )
        get_database(app).sessionmaker.configure(
            bind=connection, join_transaction_mode="create_savepoint"
        )
        app.extensions[CLOCK_KEY] = clock
        made.append(app)
        return app.test_client()

    yield make
    for app in made:
        get_database(app).dispose()


def test_token_lifetime_comes_from_the_configuration(
    configured: Any, clock: FixedClock, ehr: ApiClient
) -> None:
    body = get_token(configured(OAUTH2_TOKEN_EXPIRES_IN=60), ehr, clock, "system/CarePlan.read")
    assert body["expires_in"] == 60


def test_the_audience_is_the_configured_token_url(
    configured: Any, clock: FixedClock, ehr: ApiClient
) -> None:
    public_url = "https://carepath.example/oauth/token"
    web = configured(OAUTH2_TOKEN_URL=public_url)
    key = rsa_key("ehr")
    as_called = post_token(web, token_form(assertion(key, ehr.client_id, clock)))
    oauth_error(as_called, 401, "invalid_client")
    as_configured = post_token(
        web, token_form(assertion(key, ehr.client_id, clock, aud=public_url))
    )
    assert as_configured.status_code == 200, as_configured.get_data(as_text=True)


def test_token_requests_are_rate_limited_per_address(
    configured: Any, clock: FixedClock, ehr: ApiClient
) -> None:
    web = configured(OAUTH2_TOKEN_RATE_LIMIT="2 per minute")
    statuses = [
        post_token(web, token_form(assertion(rsa_key("ehr"), ehr.client_id, clock))).status_code
        for _ in range(3)
    ]
    assert statuses == [200, 200, 429]


def test_authlibs_ten_day_default_cannot_sneak_back(database_url: str) -> None:
    with pytest.raises(ValueError, match="OAUTH2_TOKEN_EXPIRES_IN"):
        create_app(
            {
                "DATABASE_URL": database_url,
                "OAUTH2_TOKEN_EXPIRES_IN": {"client_credentials": 864000},
            }
        )


# ---------------------------------------------------------------- command line
def test_cli_registers_lists_and_revokes(
    app: Flask, session: Session, world: sc.Scenario, tmp_path: Path
) -> None:
    jwks_file = tmp_path / "ehr.jwks.json"
    jwks_file.write_text(
        json.dumps(rsa_key("cli").as_dict(private=False)), encoding="utf-8"
    )  # one JWK
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=[
            "clients",
            "register",
            "--organisation-id",
            str(world.region.id),
            "--name",
            "Sundhedsplatformen",
            "--scopes",
            "system/CarePlan.read",
            "--jwks-file",
            str(jwks_file),
        ]
    )
    assert result.exit_code == 0, result.output
    client = session.scalars(sa.select(ApiClient)).one()
    assert f"client_id: {client.client_id}" in result.output
    assert client.jwks == public_jwks(rsa_key("cli"))

    listed = runner.invoke(args=["clients", "list"])
    assert f"{client.client_id}  active" in listed.output

    revoked = runner.invoke(args=["clients", "revoke", client.client_id])
    assert revoked.exit_code == 0, revoked.output
    session.refresh(client)
    assert client.revoked_at is not None


def test_cli_reports_each_bad_field(app: Flask, world: sc.Scenario, tmp_path: Path) -> None:
    jwks_file = tmp_path / "private.json"
    jwks_file.write_text(json.dumps(rsa_key("cli").as_dict(private=True)), encoding="utf-8")
    result = app.test_cli_runner().invoke(
        args=[
            "clients",
            "register",
            "--organisation-id",
            str(world.region.id),
            "--name",
            "X",
            "--scopes",
            "system/Nope.read",
            "--jwks-file",
            str(jwks_file),
        ]
    )
    assert result.exit_code == 1
    assert "scopes: unknown scope(s): system/Nope.read" in result.output
    assert "jwks: key 0: contains private key material" in result.output


def test_plain_http_to_a_public_host_is_refused(
    web: FlaskClient, clock: FixedClock, ehr: ApiClient
) -> None:
    """Behind a TLS proxy the app must see https (ProxyFix); plain http is only for the loopback."""
    form = token_form(assertion(rsa_key("ehr"), ehr.client_id, clock))
    response = web.post("/oauth/token", data=form, base_url="http://carepath.example")
    oauth_error(response, 400, "insecure_transport")


def test_a_hostile_kid_cannot_break_the_error_response(
    web: FlaskClient, clock: FixedClock, ehr: ApiClient
) -> None:
    """RFC 6749 limits error_description to printable ASCII without quotes: the kid is not echoed raw."""
    hostile = RSAKey.import_key(
        rsa.generate_private_key(public_exponent=65537, key_size=2048), {"kid": 'æ"\\\n'}
    )
    response = post_token(web, token_form(assertion(hostile, ehr.client_id, clock)))
    assert "No key for kid: '????'" in oauth_error(response, 401, "invalid_client")


# ---------------------------------------------------------------- the token at work on the REST API
def test_a_bearer_token_reads_plans_within_its_scopes_and_relation(
    web: FlaskClient, ehr: ApiClient, clock: FixedClock, world: sc.Scenario, session: Session
) -> None:
    plan = plans_services.create_draft(session, world.nurse, clock, pathway_id=world.pathway.id)
    read_token = get_token(web, ehr, clock, "system/CarePlan.read")["access_token"]
    bearer = {"Authorization": f"Bearer {read_token}"}
    listed = web.get(f"/api/v1/patients/{world.patient.id}/plans", headers=bearer)
    assert listed.status_code == 200, listed.get_json()
    assert [p["id"] for p in listed.get_json()] == [plan.id]
    # The case system's municipality is a party; writing needs a write scope the token lacks.
    refused = web.patch(
        f"/api/v1/plans/{plan.id}",
        json={"sections": {}},
        headers={**bearer, "If-Match": f'"{plan.version}"'},
    )
    assert refused.status_code == 403
    # The scope is checked at the edge before the use case, as on the FHIR facade: it names the scope
    # (what the client lacks), never anything about the plan.
    assert refused.get_json()["detail"] == "the token has no scope for system/CarePlan.write"
    denied = session.scalars(
        sa.select(AuditEntry).where(
            AuditEntry.outcome == AuditOutcome.DENIED, AuditEntry.actor_kind == ActorKind.CLIENT
        )
    ).all()
    assert [e.details["reason"] for e in denied] == [
        "the token has no scope for system/CarePlan.write"
    ]
    assert (
        web.get(
            f"/api/v1/patients/{world.patient.id}/plans",
            headers={"Authorization": "Bearer not-a-token"},
        ).status_code
        == 401
    )
