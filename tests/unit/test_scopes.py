"""System-client scopes (SMART Backend Services, v1 syntax) and the public-key check of their JWKS."""

from __future__ import annotations

import base64
from functools import cache
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypothesis import given
from hypothesis import strategies as st
from joserfc.jwk import ECKey, RSAKey

from pathways.errors import ValidationFailed
from pathways.organisations import Sector
from pathways.people import Actor, ActorKind, Role
from pathways.scopes import (
    CLIENT_ROLES,
    SCOPE_RESOURCES,
    Scope,
    actor_scope_allows,
    client_role,
    format_scopes,
    parse_scope,
    parse_scopes,
    scope_allows,
    scopes_cover,
    validate_public_jwks,
)


# ---------------------------------------------------------------- parse_scopes
def test_parses_space_separated_scopes_into_a_set() -> None:
    assert parse_scopes("system/CarePlan.read  system/CarePlan.write\tsystem/*.read") == {
        Scope("CarePlan", "read"),
        Scope("CarePlan", "write"),
        Scope("*", "read"),
    }


def test_duplicates_collapse_and_the_canonical_form_is_sorted() -> None:
    scopes = parse_scopes("system/Patient.read system/CarePlan.read system/Patient.read")
    assert format_scopes(scopes) == "system/CarePlan.read system/Patient.read"


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "required"),
        ("   ", "required"),
        ("system/Observation.read", "unknown-scope"),  # a resource we do not serve
        (
            "patient/CarePlan.read",
            "unknown-scope",
        ),  # user and patient launch contexts: not for systems
        ("user/CarePlan.read", "unknown-scope"),
        ("system/CarePlan.rs", "unknown-scope"),  # SMART v2 syntax is not supported (yet)
        ("system/CarePlan.*", "unknown-scope"),
        ("system/careplan.read", "unknown-scope"),  # FHIR resource names are case-sensitive
        ("system/CarePlan.read openid", "unknown-scope"),
        ("x" * 1001, "too-long"),
        (" ".join(["system/CarePlan.read"] * 31), "too-many"),
    ],
)
def test_refuses_what_is_not_a_known_system_scope(text: str, code: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        parse_scopes(text)
    assert refused.value.fields == ("scopes",)
    assert refused.value.errors[0].code == code


def test_the_error_names_the_field_the_caller_names_and_quotes_the_bad_scope() -> None:
    with pytest.raises(ValidationFailed) as refused:
        parse_scopes("system/CarePlan.read system/Foo.read", field="scope")
    assert refused.value.fields == ("scope",)
    assert "system/Foo.read" in refused.value.message
    assert "system/CarePlan.read system" not in refused.value.message  # only the bad one is quoted


@pytest.mark.parametrize("value", [None, 42, ["system/CarePlan.read"]])
def test_scopes_must_be_text(value: object) -> None:
    with pytest.raises(ValidationFailed) as refused:
        parse_scopes(value)
    assert refused.value.fields == ("scopes",)


@given(
    st.sets(st.sampled_from(sorted({*SCOPE_RESOURCES, "*"}))), st.sampled_from(["read", "write"])
)
def test_format_and_parse_round_trip(resources: set[str], mode: str) -> None:
    scopes = {s for s in (parse_scope(f"system/{r}.{mode}") for r in resources) if s is not None}
    assert len(scopes) == len(resources)
    if scopes:
        assert parse_scopes(format_scopes(scopes)) == scopes


# ---------------------------------------------------------------- what a scope allows
@pytest.mark.parametrize(
    ("granted", "resource", "mode", "allowed"),
    [
        ({"system/CarePlan.read"}, "CarePlan", "read", True),
        ({"system/CarePlan.read"}, "CarePlan", "write", False),
        ({"system/CarePlan.write"}, "CarePlan", "read", False),  # write does not include read
        ({"system/CarePlan.write"}, "CarePlan", "write", True),
        ({"system/CarePlan.read"}, "CareTeam", "read", False),
        ({"system/*.read"}, "CareTeam", "read", True),
        ({"system/*.read"}, "Patient", "write", False),
        ({"system/*.write"}, "CarePlan", "write", True),
        ({"system/Patient.read", "system/CarePlan.write"}, "CarePlan", "write", True),
        (set(), "CarePlan", "read", False),
        ({"system/Bogus.read", "openid"}, "Bogus", "read", False),  # unknown scopes grant nothing
        ({"patient/CarePlan.read"}, "CarePlan", "read", False),
    ],
)
def test_scope_allows(granted: set[str], resource: str, mode: Any, allowed: bool) -> None:
    assert scope_allows(frozenset(granted), resource, mode) is allowed


def test_scopes_cover_a_request_only_when_each_requested_scope_is_granted() -> None:
    registered = parse_scopes("system/*.read system/CarePlan.write")
    assert scopes_cover(registered, parse_scopes("system/CarePlan.read system/Patient.read"))
    assert scopes_cover(registered, parse_scopes("system/CarePlan.write"))
    assert not scopes_cover(registered, parse_scopes("system/CareTeam.write"))
    assert not scopes_cover(parse_scopes("system/CarePlan.read"), parse_scopes("system/*.read"))


def test_clients_are_held_to_their_scopes_and_people_to_their_roles() -> None:
    client = Actor(kind=ActorKind.CLIENT, name="EHR", scopes=frozenset({"system/CarePlan.read"}))
    nurse = Actor(kind=ActorKind.USER, name="Nurse", role=Role.DISCHARGE_NURSE)
    assert actor_scope_allows(client, "CarePlan", "read")
    assert not actor_scope_allows(client, "CarePlan", "write")
    assert not actor_scope_allows(Actor(kind=ActorKind.CLIENT, name="no token"), "CarePlan", "read")
    assert actor_scope_allows(nurse, "CarePlan", "write")
    assert Actor(kind=ActorKind.USER, name="x").scopes == frozenset()


def test_every_sector_has_a_client_role_that_exists_in_that_sector() -> None:
    assert set(CLIENT_ROLES) == set(Sector)
    for sector in Sector:
        assert sector in client_role(sector).sectors
    assert (
        client_role(Sector.REGION) is Role.WARD_STAFF
    )  # not the discharge nurse's activate/end rights


# ---------------------------------------------------------------- JWKS of public keys
@cache
def _rsa() -> RSAKey:
    return RSAKey.import_key(rsa.generate_private_key(public_exponent=65537, key_size=2048))


@cache
def _ec(curve: str = "P-384") -> ECKey:
    curves = {"P-256": ec.SECP256R1(), "P-384": ec.SECP384R1(), "K": ec.SECP256K1()}
    return ECKey.import_key(ec.generate_private_key(curves[curve]))


def _b64(number: int) -> str:
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _small_rsa(kid: str) -> dict[str, Any]:
    # Built by hand: joserfc itself warns about (and the test run fails on) importing a 1024-bit key.
    numbers = (
        rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key().public_numbers()
    )
    return {"kty": "RSA", "kid": kid, "n": _b64(numbers.n), "e": _b64(numbers.e)}


def _public(key: RSAKey | ECKey, **extra: Any) -> dict[str, Any]:
    return {**key.as_dict(private=False), **extra}


def _refusal(jwks: object) -> ValidationFailed:
    with pytest.raises(ValidationFailed) as refused:
        validate_public_jwks(jwks)
    assert set(refused.value.fields) == {"jwks"}
    return refused.value


def test_accepts_public_rsa_and_ec_keys_and_keeps_only_their_public_members() -> None:
    rsa_key = _public(_rsa(), kid="rsa-1", alg="RS384", use="sig", x5c=["MIIB..."])
    ec_key = _public(_ec(), kid="ec-1", alg="ES384")
    clean = validate_public_jwks({"keys": [rsa_key, ec_key], "extra": 1})
    assert clean == {
        "keys": [
            {k: rsa_key[k] for k in ("kty", "kid", "use", "alg", "n", "e")},
            {k: ec_key[k] for k in ("kty", "kid", "alg", "crv", "x", "y")},
        ]
    }


def test_refuses_private_key_material_without_repeating_it() -> None:
    private = {**_rsa().as_dict(private=True), "kid": "oops"}
    refused = _refusal({"keys": [private]})
    assert refused.errors[0].code == "private-key"
    assert "d, dp, dq, p, q, qi" in refused.message
    assert str(private["d"]) not in refused.message


@pytest.mark.parametrize(
    ("jwks", "message"),
    [
        (None, "must be a JWKS"),
        ({"keys": []}, "must be a JWKS"),
        ([{"kty": "RSA"}], "must be a JWKS"),
        ({"keys": ["not a key"]}, "must be a JSON object"),
        ({"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "s"}]}, "private key material (k)"),
        (
            {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "AAAA", "kid": "o"}]},
            "kty must be RSA or EC",
        ),
        ({"keys": [{"kty": "RSA", "n": "AQAB", "e": "AQAB"}]}, "needs a kid"),
        ({"keys": [{"kty": "RSA", "kid": " ", "n": "AQAB", "e": "AQAB"}]}, "needs a kid"),
    ],
)
def test_refuses_what_is_not_a_set_of_public_signing_keys(jwks: object, message: str) -> None:
    assert message in _refusal(jwks).message


def test_refuses_weak_wrong_use_or_mismatched_keys() -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        (_small_rsa("small"), "at least 2048 bits, not 1024"),
        (_public(_rsa(), kid="enc", use="enc"), "use must be sig"),
        (
            _public(_rsa(), kid="ops", key_ops=["verify", "encrypt"]),
            "key_ops may only contain verify",
        ),
        (_public(_rsa(), kid="hmac", alg="HS256"), "alg must be one of"),
        (_public(_ec(), kid="curve-alg", alg="ES256"), "signs with ES384, not ES256"),
        (_public(_ec(), kid="short", x="AAAA"), "coordinates of 48 bytes"),
        (_public(_ec("K"), kid="k1"), "crv must be one of"),
        (_public(_rsa(), kid="b64", n="not base64!"), "base64url members n and e"),
        (_public(_rsa(), kid="e1", e=_b64(1)), "exponent"),
    ]
    for key, message in cases:
        assert message in _refusal({"keys": [key]}).message, key["kid"]


def test_kids_must_be_unique_and_every_bad_key_is_reported() -> None:
    same = _public(_rsa(), kid="k")
    refused = _refusal({"keys": [same, dict(same), {"kty": "EC", "kid": "x", "crv": "P-384"}]})
    assert [e.message for e in refused.errors] == [
        "key 2 (x): x and y must be base64url coordinates of 48 bytes",
        "kid must be unique; repeated: k",
    ]
    assert "at most 10 keys" in _refusal({"keys": [same] * 11}).message
