"""Use cases for staff accounts. Passwords are hashed with argon2 and never stored or logged in clear."""

from __future__ import annotations

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.orm import Session

from coordinator.accounts.models import User
from coordinator.audit.services import record
from coordinator.organisations.models import Organisation
from pathways.audit import AuditAction
from pathways.clock import Clock
from pathways.errors import Conflict, ValidationFailed
from pathways.people import Actor, new_staff_member
from pathways.permissions import Permission, require

MIN_PASSWORD_LENGTH = 12
_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed.single(
            "password", f"password must be at least {MIN_PASSWORD_LENGTH} characters", "too-short"
        )
    return _hasher.hash(password)


def verify_password(user: User, password: str) -> bool:
    if not user.password_hash:
        return False
    try:
        return _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def create_staff_member(
    session: Session,
    actor: Actor,
    clock: Clock,
    *,
    organisation_id: int,
    name: object,
    role: object,
    title: object = "",
    phone: object = "",
    email: object = "",
    username: object = None,
    password: str | None = None,
) -> User:
    require(actor, Permission.MANAGE_USERS)
    organisation = session.get(Organisation, organisation_id)
    if organisation is None:
        raise ValidationFailed.single(
            "organisation_id", f"organisation {organisation_id} does not exist", "unknown"
        )
    staff = new_staff_member(
        name=name,
        role=role,
        sector=organisation.sector,
        title=title,
        phone=phone,
        email=email,
        username=username,
    )
    if staff.username is not None:
        taken = session.scalar(sa.select(User.id).where(User.username == staff.username))
        if taken is not None:
            raise Conflict(f"username {staff.username} is already taken")
    password_hash = hash_password(password) if password is not None else None
    now = clock.now()
    user = User(
        organisation=organisation,
        name=staff.name,
        role=staff.role,
        title=staff.title,
        phone=staff.phone,
        email=staff.email,
        username=staff.username,
        password_hash=password_hash,
        created_at=now,
        updated_at=now,
    )
    session.add(user)
    session.flush()
    record(
        session,
        actor=actor,
        at=now,
        action=AuditAction.CREATE,
        resource_type="User",
        resource_id=user.id,
    )
    return user


def set_password(
    session: Session,
    actor: Actor,
    clock: Clock,
    user: User,
    password: str,
    *,
    must_change: bool = False,
) -> None:
    require(actor, Permission.MANAGE_USERS)
    user.password_hash = hash_password(password)
    user.must_change_password = must_change
    user.updated_at = clock.now()
    record(
        session,
        actor=actor,
        at=user.updated_at,
        action=AuditAction.UPDATE,
        resource_type="User",
        resource_id=user.id,
        details={"field": "password"},
    )
