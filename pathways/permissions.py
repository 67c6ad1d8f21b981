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


_CLINICAL_REGION = {Permission.REGISTER_PATIENT, Permission.RECORD_PATHWAY_EVENT}
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.DISCHARGE_NURSE: frozenset(_CLINICAL_REGION),
    Role.CHIEF_PHYSICIAN: frozenset(_CLINICAL_REGION),
    Role.WARD_STAFF: frozenset(_CLINICAL_REGION),
    Role.CASE_WORKER: frozenset({Permission.REGISTER_PATIENT}),
    Role.SUPPORT_WORKER: frozenset(),
    Role.GP: frozenset(),
    Role.PRACTICE_STAFF: frozenset(),
    Role.ORG_ADMIN: frozenset({Permission.MANAGE_USERS}),
    Role.SYSTEM_ADMIN: frozenset(Permission),
    Role.AUDITOR: frozenset(),
}


def has_permission(actor: Actor, permission: Permission) -> bool:
    if actor.kind is ActorKind.SYSTEM:
        return True
    return actor.role is not None and permission in ROLE_PERMISSIONS[actor.role]


def require(actor: Actor, permission: Permission) -> None:
    if not has_permission(actor, permission):
        role = actor.role.value if actor.role else "no role"
        raise PermissionDenied(
            f"{actor.name} ({role}) may not {permission.value.replace('_', ' ')}"
        )
