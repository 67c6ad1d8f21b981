"""Every mapped class, imported in one place so that Alembic and create_all see the whole schema."""

from coordinator.access.models import EmergencyAccess
from coordinator.accounts.models import LoginThrottle, User
from coordinator.audit.models import AuditEntry
from coordinator.care_pathways.models import LeavePeriod, Pathway, PathwayEvent, PathwayFact
from coordinator.clients.models import ApiClient, ApiToken, UsedAssertion
from coordinator.contacts.models import ContactAssignment
from coordinator.db import Base
from coordinator.idempotency.models import IdempotencyKey
from coordinator.meetings.models import MeetingAction, NetworkMeeting
from coordinator.messaging.models import InboundMessage
from coordinator.organisations.models import Organisation
from coordinator.outbox.models import OutboxMessage
from coordinator.patients.models import Patient
from coordinator.plan_history.models import PlanResourceVersion
from coordinator.plans.models import Plan, PlanParticipant, PlanResponse, PlanVersion
from coordinator.reminders.models import Reminder
from coordinator.subscriptions.models import Subscription

__all__ = [
    "ApiClient",
    "ApiToken",
    "AuditEntry",
    "Base",
    "ContactAssignment",
    "EmergencyAccess",
    "IdempotencyKey",
    "InboundMessage",
    "LeavePeriod",
    "LoginThrottle",
    "MeetingAction",
    "NetworkMeeting",
    "Organisation",
    "OutboxMessage",
    "Pathway",
    "PathwayEvent",
    "PathwayFact",
    "Patient",
    "Plan",
    "PlanParticipant",
    "PlanResourceVersion",
    "PlanResponse",
    "PlanVersion",
    "Reminder",
    "Subscription",
    "UsedAssertion",
    "User",
]
