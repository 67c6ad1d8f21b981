"""§13c: who may see a patient. Access needs a current care relation between the actor's organisation and
the patient; within it, the role decides what may be done (pathways.permissions).

Relations end; access lasts a configurable grace period after the end (e.g. to finish follow-up), then stops.
Emergency access ("break the glass") is a relation of its own: it needs a reason, expires, and is reviewed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal

from pathways.people import Actor, ActorKind, Role
from pathways.permissions import Permission, has_permission, roles_with
from pathways.scopes import actor_scope_allows


class RelationKind(StrEnum):
    WARD_STAY = "ward_stay"  # a pathway at the actor's ward
    MUNICIPAL_CASE = "municipal_case"  # the patient lives in the actor's municipality
    GENERAL_PRACTICE = "general_practice"  # the actor's clinic is the patient's GP
    PLAN_PARTY = "plan_party"  # a party to the patient's agreement or plan
    CONTACT_PERSON = "contact_person"  # a fixed contact assignment of the actor's organisation
    EMERGENCY = "emergency"


@dataclass(frozen=True, slots=True)
class CareRelation:
    kind: RelationKind
    organisation_id: int | None
    started_at: datetime
    ended_at: datetime | None = None  # None: ongoing
    reference: str = (
        ""  # what it rests on, e.g. "pathway 12": goes into the audit entry as the purpose
    )

    def is_current(self, now: datetime, grace: timedelta) -> bool:
        if now < self.started_at:
            return False
        if self.kind is RelationKind.EMERGENCY:
            return self.ended_at is None or now < self.ended_at  # no grace after emergency access
        return self.ended_at is None or now <= self.ended_at + grace


class RelationState(StrEnum):
    """How a relation stands at a moment: the states the authorisation matrix is tested over."""

    NONE = "none"
    ACTIVE = "active"
    EXPIRED = "expired"
    EMERGENCY = "emergency"


class Refusal(StrEnum):
    """Why access was refused. A role or a token scope is a rule about the caller, the same for every
    patient, so naming it reveals nothing; the lack of a relation (or of the patient) is not named."""

    ROLE = "role"
    SCOPE = "scope"
    RELATION = "relation"


@dataclass(frozen=True, slots=True)
class AccessDecision:
    allowed: bool
    reason: str
    relation: CareRelation | None = None
    refusal: Refusal | None = None  # set when refused

    @property
    def purpose(self) -> str:
        if self.relation is None:
            return ""
        base = self.relation.kind.value
        return f"{base}: {self.relation.reference}" if self.relation.reference else base


# The FHIR resource and mode a system client's token must cover for each permission (SMART scopes).
PERMISSION_SCOPE: dict[Permission, tuple[str, Literal["read", "write"]]] = {
    Permission.READ_PLAN: ("CarePlan", "read"),
    Permission.CREATE_PLAN: ("CarePlan", "write"),
    Permission.EDIT_PLAN: ("CarePlan", "write"),
    Permission.RESPOND_TO_PLAN: ("CarePlan", "write"),
    Permission.RECORD_PARTICIPATION: ("CarePlan", "write"),
    Permission.ACTIVATE_PLAN: ("CarePlan", "write"),
    Permission.END_PLAN: ("CarePlan", "write"),
    Permission.ASSESS_REQUIREMENT: ("CarePlan", "write"),
    Permission.MANAGE_CONTACTS: ("CareTeam", "write"),
    Permission.RECORD_PATHWAY_EVENT: ("Encounter", "write"),
    Permission.REGISTER_PATIENT: ("Patient", "write"),
    Permission.MANAGE_ORGANISATIONS: ("Organization", "write"),
    Permission.MANAGE_USERS: ("Organization", "write"),
    Permission.HANDLE_REMINDERS: ("Task", "write"),
    Permission.MANAGE_OUTBOX: ("Communication", "write"),
    Permission.READ_MEETINGS: ("Appointment", "read"),
    Permission.MANAGE_MEETINGS: ("Appointment", "write"),
    Permission.MANAGE_MEETING_ACTIONS: ("Task", "write"),  # an agreed action is a task
}

# Roles that never see clinical content, whatever the relation: auditors read the logs, administrators
# manage accounts and organisations.
NO_CLINICAL_CONTENT = frozenset({Role.AUDITOR, Role.ORG_ADMIN, Role.SYSTEM_ADMIN})


def decide(
    actor: Actor,
    permission: Permission,
    relations: Iterable[CareRelation],
    *,
    now: datetime,
    grace: timedelta,
) -> AccessDecision:
    """May ``actor`` do ``permission`` to this patient now? Role first, then a current care relation.

    The role and scope come first on purpose: they do not depend on the patient, so their refusal can be
    named (``refusal_message``) whether or not the patient exists or is the actor's."""
    if actor.kind is ActorKind.SYSTEM:
        return AccessDecision(True, "system")
    if actor.role in NO_CLINICAL_CONTENT or not has_permission(actor, permission):
        return AccessDecision(
            False,
            f"role {actor.role.value if actor.role else 'none'} may not "
            f"{permission.value.replace('_', ' ')}",
            refusal=Refusal.ROLE,
        )
    resource, mode = PERMISSION_SCOPE[permission]
    if not actor_scope_allows(actor, resource, mode):
        return AccessDecision(
            False, f"the token has no scope for system/{resource}.{mode}", refusal=Refusal.SCOPE
        )
    current = [r for r in relations if r.is_current(now, grace)]
    if not current:
        return AccessDecision(
            False, "no current care relation to the patient", refusal=Refusal.RELATION
        )
    # Prefer an ordinary relation over emergency access, so emergency use is only logged when needed.
    current.sort(key=lambda r: r.kind is RelationKind.EMERGENCY)
    return AccessDecision(True, "care relation", current[0])


def clinical_roles_with(permission: Permission) -> tuple[Role, ...]:
    """The roles that may do ``permission`` to a patient they have a care relation to."""
    return tuple(r for r in roles_with(permission) if r not in NO_CLINICAL_CONTENT)


def role_refusal(actor: Actor, permission: Permission) -> str:
    """What a refusal by role says: the rule, never anything about the patient."""
    role = actor.role.value if actor.role else "no role"
    if actor.role in NO_CLINICAL_CONTENT:
        return f"the role {role} gives no access to patients' clinical data"
    allowed = clinical_roles_with(permission)
    action = permission.value.replace("_", " ")
    if not allowed:
        return f"the role {role} may not {action}"
    return f"the role {role} may not {action}: only {', '.join(r.value for r in allowed)} may"


def relation_state(
    relations: Iterable[CareRelation], now: datetime, grace: timedelta
) -> RelationState:
    listed = list(relations)
    current = [r for r in listed if r.is_current(now, grace)]
    if any(r.kind is not RelationKind.EMERGENCY for r in current):
        return RelationState.ACTIVE
    if current:
        return RelationState.EMERGENCY
    return RelationState.EXPIRED if listed else RelationState.NONE


MAX_EMERGENCY = timedelta(hours=12)
MIN_REASON_LENGTH = 10
