"""Reminders that close gaps in transitions. The rules come with the Reminders issue; states live here."""

from __future__ import annotations

from enum import StrEnum


class ReminderStatus(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    SNOOZED = "snoozed"
    RESOLVED = "resolved"
    DISMISSED = "dismissed"


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    URGENT = "urgent"
    BREACH = "breach"
