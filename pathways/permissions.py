"""Who may do what, by role. The care-relation rules (which patients) come with the Security issue."""

from __future__ import annotations

from enum import StrEnum

from pathways.errors import PermissionDenied
from pathways.people import Actor, ActorKind, Role


class Permission(StrEnum):
    MANAGE_ORGANISATIONS = "manage_organisations"
    MANAGE_USERS = "manage_users"
    REGISTER_PATIENT = "register_patient"
    RECORD_PATHWAY_EVENT = "record_pathway_event"
    ASSESS_REQUIREMENT = "assess_requirement"  # the §13a assessment is the chief physician's
    READ_PLAN = "read_plan"
    CREATE_PLAN = "create_plan"
    EDIT_PLAN = "edit_plan"
    RESPOND_TO_PLAN = "respond_to_plan"
    RECORD_PARTICIPATION = "record_participation"
    ACTIVATE_PLAN = "activate_plan"
    END_PLAN = "end_plan"
    MANAGE_CONTACTS = "manage_contacts"
    HANDLE_REMINDERS = "handle_reminders"  # acknowledge, snooze, dismiss a reminder in one's inbox
    MANAGE_OUTBOX = "manage_outbox"  # see and requeue failed messages (system administrators)
    READ_MEETINGS = "read_meetings"  # the patient's network meetings and their actions
    MANAGE_MEETINGS = "manage_meetings"  # request, schedule, record, cancel a network meeting
    MANAGE_MEETING_ACTIONS = "manage_meeting_actions"  # agree actions at a meeting, close them


_P = Permission
_MEETINGS = {_P.READ_MEETINGS, _P.MANAGE_MEETINGS, _P.MANAGE_MEETING_ACTIONS}
_READ_AND_TAKE_PART = {
    _P.READ_PLAN,
    _P.EDIT_PLAN,
    _P.RESPOND_TO_PLAN,
    _P.HANDLE_REMINDERS,
    *_MEETINGS,
}
_REGION_CLINICAL = {
    _P.REGISTER_PATIENT,
    _P.RECORD_PATHWAY_EVENT,
    _P.CREATE_PLAN,
    _P.RECORD_PARTICIPATION,
    _P.ACTIVATE_PLAN,
    _P.END_PLAN,
    _P.MANAGE_CONTACTS,
    *_READ_AND_TAKE_PART,
}
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.DISCHARGE_NURSE: frozenset(_REGION_CLINICAL),
    Role.CHIEF_PHYSICIAN: frozenset({*_REGION_CLINICAL, _P.ASSESS_REQUIREMENT}),
    Role.WARD_STAFF: frozenset(
        {
            _P.REGISTER_PATIENT,
            _P.RECORD_PATHWAY_EVENT,
            _P.READ_PLAN,
            _P.EDIT_PLAN,
            _P.HANDLE_REMINDERS,
            *_MEETINGS,
        }
    ),
    Role.CASE_WORKER: frozenset(
        {_P.REGISTER_PATIENT, _P.END_PLAN, _P.MANAGE_CONTACTS, *_READ_AND_TAKE_PART}
    ),
    Role.SUPPORT_WORKER: frozenset({_P.READ_PLAN, _P.HANDLE_REMINDERS, *_MEETINGS}),
    Role.GP: frozenset({*_READ_AND_TAKE_PART, _P.MANAGE_CONTACTS}),
    Role.PRACTICE_STAFF: frozenset({_P.READ_PLAN, _P.HANDLE_REMINDERS, _P.READ_MEETINGS}),
    Role.ORG_ADMIN: frozenset({_P.MANAGE_USERS}),
    Role.SYSTEM_ADMIN: frozenset(Permission),
    Role.AUDITOR: frozenset(),
}


def has_permission(actor: Actor, permission: Permission) -> bool:
    if actor.kind is ActorKind.SYSTEM:
        return True
    return actor.role is not None and permission in ROLE_PERMISSIONS[actor.role]


def roles_with(permission: Permission) -> tuple[Role, ...]:
    """The roles that hold ``permission``, in the order of ``Role``."""
    return tuple(role for role in Role if permission in ROLE_PERMISSIONS[role])


def require(actor: Actor, permission: Permission) -> None:
    if not has_permission(actor, permission):
        role = actor.role.value if actor.role else "no role"
        raise PermissionDenied(
            f"{actor.name} ({role}) may not {permission.value.replace('_', ' ')}"
        )
