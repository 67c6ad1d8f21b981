"""Domain errors. The outer layers translate them into problem details, OperationOutcome or form messages."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TypeVar

T = TypeVar("T")
E = TypeVar("E", bound=StrEnum)


@dataclass(frozen=True, slots=True)
class FieldError:
    """One problem with one input field, named the way the caller named it (dotted path for nesting)."""

    field: str
    message: str
    code: str = "invalid"


class DomainError(Exception):
    """Base of every error the domain raises on purpose. ``code`` is stable and machine readable."""

    code = "domain-error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ValidationFailed(DomainError):
    """Input that breaks a rule. Carries one error per offending field so a form can show each in place."""

    code = "validation-failed"

    def __init__(self, errors: Iterable[FieldError], message: str | None = None) -> None:
        self.errors: tuple[FieldError, ...] = tuple(errors)
        if not self.errors:
            raise ValueError("ValidationFailed needs at least one FieldError")
        summary = "; ".join(f"{e.field}: {e.message}" for e in self.errors)
        super().__init__(message or summary)

    @classmethod
    def single(cls, field: str, message: str, code: str = "invalid") -> ValidationFailed:
        return cls([FieldError(field, message, code)])

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(e.field for e in self.errors)


class NotFound(DomainError):
    code = "not-found"

    def __init__(self, entity: str, key: object) -> None:
        super().__init__(f"{entity} {key!s} does not exist")
        self.entity = entity
        self.key = key


class Conflict(DomainError):
    """The request clashes with the current state (a duplicate, an existing open plan, ...)."""

    code = "conflict"


class StaleVersion(Conflict):
    """Optimistic concurrency: somebody else changed the record since the caller read it."""

    code = "stale-version"

    def __init__(self, entity: str, expected: int, actual: int) -> None:
        super().__init__(
            f"{entity} was changed by someone else (you edited version {expected}, "
            f"the current version is {actual}); reload and apply your change again"
        )
        self.expected = expected
        self.actual = actual


class VersionRequired(DomainError):
    """A change to a versioned record that names no version to change (no If-Match). Raised after the
    access check, so that only someone who may make the change learns the record exists."""

    code = "if-match-required"

    def __init__(self, entity: str) -> None:
        super().__init__(
            f"a change to the {entity} must name the version it edits: send If-Match with its ETag"
        )
        self.entity = entity


class IllegalTransition(DomainError):
    code = "illegal-transition"

    def __init__(self, entity: str, current: str, target: str) -> None:
        super().__init__(f"{entity} cannot go from '{current}' to '{target}'")
        self.current = current
        self.target = target


class PermissionDenied(DomainError):
    code = "permission-denied"


class AuthenticationFailed(DomainError):
    """A refused login: one message for unknown user, wrong password and inactive account alike.

    The answer never tells which usernames exist (the audit entry records the actual reason)."""

    code = "authentication-failed"

    def __init__(self, message: str = "Wrong username or password") -> None:
        super().__init__(message)


class AccountLocked(AuthenticationFailed):
    """Too many failed logins in a row for this account from this address: every password is refused
    from there until ``locked_until`` (pathways.login_throttle)."""

    code = "account-locked"

    def __init__(self, locked_until: datetime | None = None) -> None:
        super().__init__("Account temporarily locked after too many failed logins; try again later")
        self.locked_until = locked_until


class ErrorCollector:
    """Gathers every field error of one input before raising, so a form can mark all bad fields at once."""

    def __init__(self) -> None:
        self.errors: list[FieldError] = []

    def add(self, field: str, message: str, code: str = "invalid") -> None:
        self.errors.append(FieldError(field, message, code))

    def check(self, field: str, validator: Callable[[object, str], T], value: object) -> T | None:
        """Run ``validator(value, field)`` on a given value; an absent value (None or "") is not checked."""
        if value is None or value == "":
            return None
        try:
            return validator(value, field)
        except ValidationFailed as exc:
            self.errors.extend(exc.errors)
            return None

    def text(
        self, field: str, value: object, *, required: bool = True, max_length: int = 200
    ) -> str:
        """A trimmed piece of text; '' when absent and not required."""
        clean = value.strip() if isinstance(value, str) else ""
        if value is not None and not isinstance(value, str):
            self.add(field, "must be text")
        elif required and not clean:
            self.add(field, f"{field.replace('_', ' ')} is required", "required")
        elif len(clean) > max_length:
            self.add(field, f"must be at most {max_length} characters", "too-long")
        return clean

    def choice(self, field: str, enum: type[E], value: object) -> E | None:
        if isinstance(value, str):
            try:
                return enum(value)
            except ValueError:
                pass
        allowed = ", ".join(m.value for m in enum)
        self.add(field, f"must be one of: {allowed}", "invalid-choice")
        return None

    def raise_if_any(self) -> None:
        if self.errors:
            raise ValidationFailed(self.errors)
