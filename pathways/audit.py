"""What the audit log records about every access to patient data (§13c: who, what, why)."""

from __future__ import annotations

from enum import StrEnum


class AuditAction(StrEnum):
    READ = "read"
    SEARCH = "search"
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    EXPORT = "export"
    TRANSITION = "transition"
    LOGIN = "login"


class AuditOutcome(StrEnum):
    ALLOWED = "allowed"
    DENIED = "denied"
    FAILED = "failed"
