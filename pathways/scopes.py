"""What another system may do in carepath: SMART Backend Services scopes, and the keys it signs with.

A system client (a hospital EHR, a municipal case system, a GP's EHR) is registered with a set of
``system/<Resource>.<read|write>`` scopes (SMART App Launch v1 syntax) and a JWKS of public keys. It asks for
a token with a JWT it signs with one of those keys (RFC 7523 ``private_key_jwt``) and gets a subset of its
scopes. Scopes narrow what the client's role allows; they never widen it.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pathways.errors import ErrorCollector, ValidationFailed
from pathways.organisations import Sector
from pathways.people import Actor, ActorKind, Role

Mode = Literal["read", "write"]

SCOPE_CONTEXT = "system"  # backend services only: no user or patient launch context
WILDCARD = "*"
# The FHIR resource types that name carepath's data in scopes, on every door (REST and FHIR alike): plans
# (and their Consent and Provenance), care teams and contact persons, stays, patients, messages sent,
# reminders (Task), staff (Practitioner), organisations, the audit log, one's own Subscriptions, and network
# meetings with their agreed actions (Appointment).
SCOPE_RESOURCES: frozenset[str] = frozenset(
    {
        "Appointment",
        "AuditEvent",
        "CarePlan",
        "CareTeam",
        "Communication",
        "Encounter",
        "Organization",
        "Patient",
        "Practitioner",
        "Subscription",
        "Task",
    }
)
SCOPE_MODES: tuple[Mode, ...] = ("read", "write")
MAX_SCOPE_TEXT = 1000
MAX_SCOPES = 30

_SCOPE = re.compile(r"system/(\*|[A-Za-z]{1,64})\.(read|write)", re.ASCII)


@dataclass(frozen=True, slots=True, order=True)
class Scope:
    """One grant: ``system/CarePlan.read``; ``system/*.read`` reads every resource we serve."""

    resource: str
    mode: Mode

    def __str__(self) -> str:
        return f"{SCOPE_CONTEXT}/{self.resource}.{self.mode}"

    def covers(self, other: Scope) -> bool:
        """True when holding this scope is enough for ``other`` (write does not include read)."""
        return self.mode == other.mode and self.resource in (WILDCARD, other.resource)


def parse_scope(text: str) -> Scope | None:
    """One scope token, or None when it is not one we know."""
    match = _SCOPE.fullmatch(text)
    if match is None:
        return None
    resource, mode = match.group(1), match.group(2)
    if resource != WILDCARD and resource not in SCOPE_RESOURCES:
        return None
    return Scope(resource, "read" if mode == "read" else "write")


def parse_scopes(text: object, *, field: str = "scopes") -> frozenset[Scope]:
    """A space-separated scope string (RFC 6749 §3.3) -> its scopes; raises ValidationFailed on ``field``."""
    if not isinstance(text, str):
        raise ValidationFailed.single(field, "must be text: space-separated scopes")
    if len(text) > MAX_SCOPE_TEXT:
        raise ValidationFailed.single(
            field, f"must be at most {MAX_SCOPE_TEXT} characters", "too-long"
        )
    tokens = text.split()
    if not tokens:
        raise ValidationFailed.single(field, "at least one scope is required", "required")
    if len(tokens) > MAX_SCOPES:
        raise ValidationFailed.single(field, f"at most {MAX_SCOPES} scopes", "too-many")
    unknown = [t for t in tokens if parse_scope(t) is None]
    if unknown:
        allowed = ", ".join(sorted(SCOPE_RESOURCES))
        raise ValidationFailed.single(
            field,
            f"unknown scope(s): {' '.join(unknown)}; use system/<resource>.read or "
            f"system/<resource>.write with resource * or one of: {allowed}",
            "unknown-scope",
        )
    return frozenset(s for s in (parse_scope(t) for t in tokens) if s is not None)


def format_scopes(scopes: Iterable[Scope]) -> str:
    """The canonical, sorted, space-separated form (what we store and put in token responses)."""
    return " ".join(sorted({str(s) for s in scopes}))


def scopes_cover(granted: Iterable[Scope], requested: Iterable[Scope]) -> bool:
    """True when every requested scope is covered by one of the granted scopes."""
    held = tuple(granted)
    return all(any(g.covers(r) for g in held) for r in requested)


def scope_allows(scopes: Iterable[str], resource: str, mode: Mode) -> bool:
    """May a holder of ``scopes`` (as strings, e.g. ``Actor.scopes``) read or write ``resource``?

    Unknown scope strings grant nothing.
    """
    wanted = Scope(resource, mode)
    return any(
        parsed is not None and parsed.covers(wanted) for parsed in (parse_scope(s) for s in scopes)
    )


def actor_scope_allows(actor: Actor, resource: str, mode: Mode) -> bool:
    """The scope half of an access check: a client is held to its token's scopes; people and jobs,
    who have no scopes, are limited by their role alone."""
    if actor.kind is not ActorKind.CLIENT:
        return True
    return scope_allows(actor.scopes, resource, mode)


# The role a system client acts with: the ceiling its scopes narrow further. The ward-staff rights of a
# hospital EHR cover admissions, discharges and plan content; activating and ending plans and the §13a
# assessment stay decisions made by named people.
CLIENT_ROLES: Mapping[Sector, Role] = {
    Sector.REGION: Role.WARD_STAFF,
    Sector.MUNICIPALITY: Role.CASE_WORKER,
    Sector.GENERAL_PRACTICE: Role.GP,
}


def client_role(sector: Sector) -> Role:
    return CLIENT_ROLES[sector]


# ---------------------------------------------------------------- public keys (RFC 7517 JWKS)

# SMART Backend Services requires RS384 and ES384 support; the others are common and as safe.
SIGNING_ALGORITHMS: tuple[str, ...] = (
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
)
_ALGORITHMS_BY_KTY = {
    "RSA": frozenset(a for a in SIGNING_ALGORITHMS if a[0] in "RP"),
    "EC": frozenset(a for a in SIGNING_ALGORITHMS if a[0] == "E"),
}
_EC_CURVES = {"P-256": (32, "ES256"), "P-384": (48, "ES384"), "P-521": (66, "ES512")}
# RFC 7518 §6.3.2 and §6.2.2: members that only a private (or symmetric) key has.
PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
_PUBLIC_MEMBERS = {"RSA": ("n", "e"), "EC": ("crv", "x", "y")}
MIN_RSA_BITS = 2048
MAX_KEYS = 10
_B64URL = re.compile(r"[A-Za-z0-9_-]+", re.ASCII)


def _b64url_bytes(value: object) -> bytes | None:
    if not isinstance(value, str) or not _B64URL.fullmatch(value):
        return None
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        return None


def _check_rsa(errors: ErrorCollector, field: str, where: str, key: Mapping[str, Any]) -> None:
    modulus = _b64url_bytes(key.get("n"))
    exponent = _b64url_bytes(key.get("e"))
    if modulus is None or exponent is None:
        errors.add(field, f"{where}: an RSA key needs base64url members n and e")
        return
    bits = int.from_bytes(modulus, "big").bit_length()
    if bits < MIN_RSA_BITS:
        errors.add(field, f"{where}: RSA keys need at least {MIN_RSA_BITS} bits, not {bits}")
    if int.from_bytes(exponent, "big") < 3:
        errors.add(field, f"{where}: the RSA exponent e is not valid")


def _check_ec(errors: ErrorCollector, field: str, where: str, key: Mapping[str, Any]) -> None:
    curve = key.get("crv")
    if curve not in _EC_CURVES:
        errors.add(field, f"{where}: crv must be one of {', '.join(_EC_CURVES)}")
        return
    size, algorithm = _EC_CURVES[curve]
    x, y = _b64url_bytes(key.get("x")), _b64url_bytes(key.get("y"))
    if x is None or y is None or len(x) != size or len(y) != size:
        errors.add(field, f"{where}: x and y must be base64url coordinates of {size} bytes")
    if "alg" in key and key["alg"] != algorithm:
        errors.add(field, f"{where}: curve {curve} signs with {algorithm}, not {key['alg']}")


def _check_key(
    errors: ErrorCollector, field: str, index: int, key: object
) -> dict[str, Any] | None:
    where = f"key {index}"
    if not isinstance(key, Mapping):
        errors.add(field, f"{where}: must be a JSON object")
        return None
    private = sorted(PRIVATE_MEMBERS & set(key))
    if private:
        # Never echo the value: it is a secret that should not have left its owner.
        errors.add(
            field,
            f"{where}: contains private key material ({', '.join(private)}); register public keys only",
            "private-key",
        )
        return None
    kty = key.get("kty")
    if kty not in _PUBLIC_MEMBERS:
        errors.add(field, f"{where}: kty must be RSA or EC (asymmetric signing keys)")
        return None
    kid = key.get("kid")
    if not isinstance(kid, str) or not kid.strip() or len(kid) > 200:
        errors.add(field, f"{where}: needs a kid (key id) of 1 to 200 characters", "missing-kid")
        return None
    where = f"key {index} ({kid})"
    if key.get("use", "sig") != "sig":
        errors.add(field, f"{where}: use must be sig")
    key_ops = key.get("key_ops", ["verify"])
    if not isinstance(key_ops, list) or set(key_ops) - {"verify"}:
        errors.add(field, f"{where}: key_ops may only contain verify")
    if "alg" in key and key["alg"] not in _ALGORITHMS_BY_KTY[kty]:
        allowed = ", ".join(sorted(_ALGORITHMS_BY_KTY[kty]))
        errors.add(field, f"{where}: alg must be one of {allowed}")
    (_check_rsa if kty == "RSA" else _check_ec)(errors, field, where, key)
    kept = ("kty", "kid", "use", "alg", *_PUBLIC_MEMBERS[kty])
    return {name: key[name] for name in kept if name in key}


def validate_public_jwks(value: object, *, field: str = "jwks") -> dict[str, Any]:
    """A JWKS of public RSA/EC signing keys, each with a distinct ``kid`` -> a copy with only those members.

    Refuses private and symmetric key material outright: a client keeps its private key to itself.
    This checks the structure; the caller still imports the keys with a JOSE library.
    """
    errors = ErrorCollector()
    keys = value.get("keys") if isinstance(value, Mapping) else None
    if not isinstance(keys, list) or not keys:
        raise ValidationFailed.single(field, 'must be a JWKS: {"keys": [one or more public keys]}')
    if len(keys) > MAX_KEYS:
        raise ValidationFailed.single(field, f"at most {MAX_KEYS} keys", "too-many")
    clean = [_check_key(errors, field, index, key) for index, key in enumerate(keys)]
    kids = [k["kid"] for k in clean if k is not None]
    duplicates = sorted({kid for kid in kids if kids.count(kid) > 1})
    if duplicates:
        errors.add(field, f"kid must be unique; repeated: {', '.join(duplicates)}")
    errors.raise_if_any()
    return {"keys": [k for k in clean if k is not None]}
