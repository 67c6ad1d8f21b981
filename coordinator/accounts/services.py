"""Use cases for staff accounts. Passwords are hashed with argon2 and never stored or logged in clear."""

from __future__ import annotations

from contextlib import suppress
from functools import cache

import sqlalchemy as sa
import sqlalchemy.orm
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.orm import Session

from coordinator.accounts.models import LoginThrottle, User
from coordinator.accounts.passwords import (
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    password_errors,
    personal_words,
    random_password,
)
from coordinator.audit.services import record
from coordinator.organisations.lineage import descendants_and_self
from coordinator.organisations.models import Organisation
from pathways.audit import AuditAction, AuditOutcome
from pathways.clock import Clock
from pathways.errors import (
    AccountLocked,
    AuthenticationFailed,
    Conflict,
    ErrorCollector,
    FieldError,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from pathways.login_throttle import failures_forgotten, lockout_after
from pathways.people import Actor, ActorKind, Role, new_staff_member
from pathways.permissions import Permission, require

__all__ = ["MAX_PASSWORD_LENGTH", "MIN_PASSWORD_LENGTH"]  # re-exported for the forms and views

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    """The argon2 hash of a password, checked for length only: for test fixtures and hash upgrades.
    Use cases that set a password go through ``_new_password_hash``, which applies the whole policy."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed.single(
            "password", f"password must be at least {MIN_PASSWORD_LENGTH} characters", "too-short"
        )
    return _hasher.hash(password)


def _words_of(user: User) -> list[str]:
    return personal_words(
        name=user.name,
        username=user.username,
        email=user.email,
        organisation=user.organisation.name,
    )


def _new_password_hash(field: str, password: str, user_words: list[str]) -> str:
    """Hash a password someone is setting, after the policy (length, not easy to guess) accepts it."""
    errors = password_errors(field, password, user_words)
    if errors:
        raise ValidationFailed(errors)
    return _hasher.hash(password)


def verify_password(user: User, password: str) -> bool:
    if not user.password_hash:
        return False
    try:
        return _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


_ADMIN_GRANTED_ROLES = frozenset({Role.SYSTEM_ADMIN.value, Role.AUDITOR.value})


def _administers_everyone(actor: Actor) -> bool:
    return actor.kind is ActorKind.SYSTEM or actor.role is Role.SYSTEM_ADMIN


def require_user_administration(session: Session, actor: Actor, organisation_id: int) -> None:
    """System administrators manage every account; an organisation's administrator manages the accounts
    of their organisation and of the units below it, nobody else's."""
    require(actor, Permission.MANAGE_USERS)
    if _administers_everyone(actor):
        return
    if actor.organisation_id is None or organisation_id not in descendants_and_self(
        session, actor.organisation_id
    ):
        raise PermissionDenied(f"{actor.name} may only manage the users of their own organisation")


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
    require_user_administration(session, actor, organisation.id)
    if role in _ADMIN_GRANTED_ROLES and not _administers_everyone(actor):
        raise PermissionDenied(f"only a system administrator may create a {role} account")
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
    password_hash = None
    if password is not None:
        words = personal_words(
            name=staff.name,
            username=staff.username,
            email=staff.email,
            organisation=organisation.name,
        )
        password_hash = _new_password_hash("password", password, words)
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
    require_user_administration(session, actor, user.organisation_id)
    user.password_hash = _new_password_hash("password", password, _words_of(user))
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


def actor_for(user: User) -> Actor:
    """The actor a logged-in user's requests act as; views pass it to every use case."""
    return Actor(
        kind=ActorKind.USER,
        name=user.name,
        id=user.id,
        organisation_id=user.organisation_id,
        role=user.role,
    )


# Whoever types at the login form is nobody yet: failed attempts are recorded against the account they
# named (resource_id), not as if its owner had made them.
_ANONYMOUS = Actor(kind=ActorKind.USER, name="anonymous")


@cache
def _timing_hash() -> str:
    return _hasher.hash("carepath: equal work for unknown usernames")


def _spend_verification_time(password: str) -> None:
    """Verify against a throwaway hash so that an unknown username costs as long as a wrong password."""
    with suppress(VerificationError, InvalidHashError):
        _hasher.verify(_timing_hash(), password)


def _refuse_login(
    session: Session,
    clock: Clock,
    user: User | None,
    reason: str,
    error: AuthenticationFailed,
    **details: object,
) -> AuthenticationFailed:
    # The attempted username is left out of the log on purpose: people type their password into the
    # username field often enough, and the log must never hold a password.
    record(
        session,
        actor=_ANONYMOUS,
        at=clock.now(),
        action=AuditAction.LOGIN,
        resource_type="User",
        resource_id=user.id if user is not None else "",
        outcome=AuditOutcome.DENIED,
        details={"reason": reason, **details},
    )
    session.flush()
    return error


def authenticate(
    session: Session, clock: Clock, username: str, password: str, *, address: str
) -> User:
    """Check a login from a client ``address``. Raises AuthenticationFailed (same message for every
    cause) or AccountLocked.

    Failures are counted per account and address (LoginThrottle, pathways.login_throttle): a lockout
    shuts this account to this address only, so the owner elsewhere and colleagues behind the same
    address still log in. The counter, the lockout and the audit entry of a refusal are written before
    the error is raised: the caller commits them even though the login failed.
    """
    now = clock.now()
    name = username.strip().lower()
    # FOR UPDATE: parallel guesses at one account queue up on PostgreSQL instead of racing past the
    # failed-attempt counter (SQLite has no row locks and ignores it).
    query = sa.select(User).where(User.username == name).with_for_update()
    user = session.scalar(query) if name else None
    if user is None or not user.is_active or not user.password_hash:
        _spend_verification_time(password)
        reason = (
            "unknown_user"
            if user is None
            else ("inactive" if not user.is_active else "no_password")
        )
        raise _refuse_login(session, clock, user, reason, AuthenticationFailed())
    throttle = session.scalar(
        sa.select(LoginThrottle).where(
            LoginThrottle.user_id == user.id, LoginThrottle.address == address
        )
    )
    if throttle is not None and throttle.locked_until is not None and now < throttle.locked_until:
        raise _refuse_login(
            session,
            clock,
            user,
            "locked",
            AccountLocked(throttle.locked_until),
            address=address,
            locked_until=throttle.locked_until.isoformat(),
        )
    if len(password) > MAX_PASSWORD_LENGTH or not verify_password(user, password):
        raise _count_failure(session, clock, user, throttle, address)
    if throttle is not None:
        session.delete(throttle)
    user.last_login_at = now
    rehashed = _hasher.check_needs_rehash(user.password_hash)
    if rehashed:
        user.password_hash = _hasher.hash(password)
    record(
        session,
        actor=actor_for(user),
        at=now,
        action=AuditAction.LOGIN,
        resource_type="User",
        resource_id=user.id,
        details={"rehashed": True} if rehashed else {},
    )
    session.flush()
    return user


def _count_failure(
    session: Session, clock: Clock, user: User, throttle: LoginThrottle | None, address: str
) -> AuthenticationFailed:
    now = clock.now()
    if throttle is None:
        throttle = LoginThrottle(user=user, address=address, failed_count=0, last_failed_at=now)
        session.add(throttle)
    elif failures_forgotten(throttle.last_failed_at, now):
        throttle.failed_count = 0
    # The count is not reset when a lockout starts: once it has run out, the next wrong password locks
    # this account from this address again straight away, for twice as long.
    throttle.failed_count += 1
    throttle.last_failed_at = now
    lockout = lockout_after(throttle.failed_count)
    if lockout is None:
        return _refuse_login(
            session,
            clock,
            user,
            "wrong_password",
            AuthenticationFailed(),
            failed_login_count=throttle.failed_count,
        )
    throttle.locked_until = now + lockout
    return _refuse_login(
        session,
        clock,
        user,
        "wrong_password",
        AccountLocked(throttle.locked_until),
        failed_login_count=throttle.failed_count,
        address=address,
        locked_until=throttle.locked_until.isoformat(),
        lockout_seconds=int(lockout.total_seconds()),
    )


def _lift_all_locks(session: Session, user: User) -> int:
    throttles = list(
        session.scalars(sa.select(LoginThrottle).where(LoginThrottle.user_id == user.id))
    )
    for throttle in throttles:
        session.delete(throttle)
    return len(throttles)


def list_login_locks(session: Session, actor: Actor, clock: Clock) -> list[LoginThrottle]:
    """The lockouts in force on accounts the actor administers (every account for system admins)."""
    require(actor, Permission.MANAGE_USERS)
    query = (
        sa.select(LoginThrottle)
        .join(LoginThrottle.user)
        .where(LoginThrottle.locked_until > clock.now())
        .order_by(LoginThrottle.locked_until.desc(), LoginThrottle.id)
    )
    if not _administers_everyone(actor):
        if actor.organisation_id is None:
            raise PermissionDenied(
                f"{actor.name} may only manage the users of their own organisation"
            )
        scope = descendants_and_self(session, actor.organisation_id)
        query = query.where(User.organisation_id.in_(scope))
    return list(session.scalars(query))


def lift_login_lock(session: Session, actor: Actor, clock: Clock, lock_id: int) -> None:
    """End one account's lockout for one address now, and forget its failed attempts."""
    require(actor, Permission.MANAGE_USERS)
    throttle = session.get(LoginThrottle, lock_id)
    if throttle is None:
        raise NotFound("login lock", lock_id)
    require_user_administration(session, actor, throttle.user.organisation_id)
    record(
        session,
        actor=actor,
        at=clock.now(),
        action=AuditAction.UPDATE,
        resource_type="User",
        resource_id=throttle.user_id,
        details={
            "field": "login_lock",
            "lifted": [throttle.address],
            "failed_login_count": throttle.failed_count,
        },
    )
    session.delete(throttle)
    session.flush()


def unlock_user(session: Session, actor: Actor, clock: Clock, user_id: int) -> int:
    """End every lockout of one account (from every address); returns how many there were."""
    require(actor, Permission.MANAGE_USERS)
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("user", user_id)
    require_user_administration(session, actor, user.organisation_id)
    addresses = sorted(
        session.scalars(sa.select(LoginThrottle.address).where(LoginThrottle.user_id == user.id))
    )
    _lift_all_locks(session, user)
    record(
        session,
        actor=actor,
        at=clock.now(),
        action=AuditAction.UPDATE,
        resource_type="User",
        resource_id=user.id,
        details={"field": "login_lock", "lifted": addresses},
    )
    session.flush()
    return len(addresses)


def reset_password_by_admin(
    session: Session, actor: Actor, clock: Clock, user_id: int, new_password: str
) -> User:
    """An administrator sets a temporary password; the user must choose their own at the next login.

    An org_admin manages the users of their own organisation only; system admins (and system actors)
    manage everyone. A reset also lifts a lockout.
    """
    require(actor, Permission.MANAGE_USERS)
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("user", user_id)
    require_user_administration(session, actor, user.organisation_id)
    now = clock.now()
    user.password_hash = _new_password_hash("new_password", new_password, _words_of(user))
    user.must_change_password = True
    user.password_changed_at = now
    _lift_all_locks(session, user)
    user.updated_at = now
    record(
        session,
        actor=actor,
        at=now,
        action=AuditAction.UPDATE,
        resource_type="User",
        resource_id=user.id,
        details={"field": "password", "reset_by_admin": True},
    )
    session.flush()
    return user


def change_own_password(
    session: Session, actor_user: User, clock: Clock, current_password: str, new_password: str
) -> None:
    """A logged-in user replaces their password (also how a temporary one from an admin is replaced)."""
    errors: list[FieldError] = []
    if not verify_password(actor_user, current_password):
        errors.append(FieldError("current_password", "the current password is wrong", "wrong"))
    new_errors = password_errors("new_password", new_password, _words_of(actor_user))
    if new_errors:
        errors.extend(new_errors)
    elif new_password == current_password:
        errors.append(
            FieldError(
                "new_password", "the new password must differ from the current one", "unchanged"
            )
        )
    if errors:
        raise ValidationFailed(errors)
    now = clock.now()
    actor_user.password_hash = _hasher.hash(new_password)
    actor_user.must_change_password = False
    actor_user.password_changed_at = now
    actor_user.updated_at = now
    record(
        session,
        actor=actor_for(actor_user),
        at=now,
        action=AuditAction.UPDATE,
        resource_type="User",
        resource_id=actor_user.id,
        details={"field": "password"},
    )
    session.flush()


def get_staff_member(session: Session, user_id: int) -> User:
    """A member of staff as the directory shows them (name, role, organisation, work contact details).
    Like the organisation directory it holds no patient data: any signed-in party may read it."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("staff member", user_id)
    return user


# ---------------------------------------------------------------------------- administration
def grantable_roles(actor: Actor) -> tuple[Role, ...]:
    """The roles the actor may give an account: system administrators and auditors are made by system
    administrators only."""
    if _administers_everyone(actor):
        return tuple(Role)
    return tuple(role for role in Role if role.value not in _ADMIN_GRANTED_ROLES)


def administered_organisations(
    session: Session, actor: Actor, organisation_id: int
) -> list[Organisation]:
    """The organisation and the units below it, for an administrator of it (the organisation first,
    then its units by name)."""
    require_user_administration(session, actor, organisation_id)
    ids = descendants_and_self(session, organisation_id)
    units = session.scalars(
        sa.select(Organisation).where(Organisation.id.in_(ids)).order_by(Organisation.name)
    ).all()
    return sorted(units, key=lambda org: org.id != organisation_id)


def list_staff(session: Session, actor: Actor, organisation_id: int) -> list[User]:
    """The accounts of an organisation and of the units below it, by name, for its administrators.
    The staff directory holds no patient data: reading it is not audited (like the REST list)."""
    require_user_administration(session, actor, organisation_id)
    ids = descendants_and_self(session, organisation_id)
    return list(
        session.scalars(
            sa.select(User)
            .options(sa.orm.joinedload(User.organisation))
            .where(User.organisation_id.in_(ids))
            .order_by(User.name, User.id)
        )
    )


def create_staff_member_with_one_time_password(
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
) -> tuple[User, str | None]:
    """``create_staff_member``, and for an account with a username a random password that is shown to the
    administrator once and must be changed at the first login. Returns the user and that password (None
    for an account without a login)."""
    organisation = session.get(Organisation, organisation_id)
    password: str | None = None
    if username and organisation is not None:
        password = random_password(
            personal_words(
                name=str(name or ""),
                username=str(username),
                email=str(email or ""),
                organisation=organisation.name,
            )
        )
    user = create_staff_member(
        session,
        actor,
        clock,
        organisation_id=organisation_id,
        name=name,
        role=role,
        title=title,
        phone=phone,
        email=email,
        username=username,
        password=password,
    )
    user.must_change_password = password is not None
    session.flush()
    return user, password


def issue_one_time_password(session: Session, actor: Actor, clock: Clock, user_id: int) -> str:
    """``reset_password_by_admin`` with a random password for the administrator to hand over once; the
    user must choose their own at the next login."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("user", user_id)
    require_user_administration(session, actor, user.organisation_id)
    password = random_password(_words_of(user))
    reset_password_by_admin(session, actor, clock, user_id, password)
    return password


def _administered_user(session: Session, actor: Actor, user_id: int) -> User:
    require(actor, Permission.MANAGE_USERS)
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("user", user_id)
    require_user_administration(session, actor, user.organisation_id)
    if user.role.value in _ADMIN_GRANTED_ROLES and not _administers_everyone(actor):
        raise PermissionDenied(f"only a system administrator may change a {user.role} account")
    return user


def change_staff_member(
    session: Session,
    actor: Actor,
    clock: Clock,
    user_id: int,
    *,
    role: object,
    organisation_id: object,
) -> User:
    """Give an account another role or move it to another unit the administrator manages. The role must
    exist in the unit's sector; system administrators and auditors are made by system administrators."""
    user = _administered_user(session, actor, user_id)
    errors = ErrorCollector()
    new_role = errors.choice("role", Role, role)
    target: Organisation | None = None
    if not isinstance(organisation_id, int) or isinstance(organisation_id, bool):
        errors.add("organisation_id", "choose a unit", "required")
    else:
        target = session.get(Organisation, organisation_id)
        if target is None:
            errors.add(
                "organisation_id", f"organisation {organisation_id} does not exist", "unknown"
            )
    errors.raise_if_any()
    assert new_role is not None
    assert target is not None
    require_user_administration(session, actor, target.id)
    if new_role.value in _ADMIN_GRANTED_ROLES and not _administers_everyone(actor):
        raise PermissionDenied(f"only a system administrator may create a {new_role} account")
    if target.sector not in new_role.sectors:
        raise ValidationFailed.single(
            "role",
            f"role {new_role.value} does not exist in the {target.sector.value} sector",
            "wrong-sector",
        )
    changes: dict[str, object] = {}
    if new_role is not user.role:
        changes["role"] = [user.role.value, new_role.value]
        user.role = new_role
    if target.id != user.organisation_id:
        changes["organisation_id"] = [user.organisation_id, target.id]
        user.organisation = target
    if not changes:
        return user
    user.updated_at = clock.now()
    session.flush()
    record(
        session,
        actor=actor,
        at=user.updated_at,
        action=AuditAction.UPDATE,
        resource_type="User",
        resource_id=user.id,
        details={"changes": changes},
    )
    return user


class OwnAccountDeactivation(Conflict):
    """An administrator tried to deactivate their own account (another administrator must)."""

    code = "own-account-deactivation"


def set_staff_member_active(
    session: Session, actor: Actor, clock: Clock, user_id: int, *, active: bool
) -> User:
    """Deactivate an account (it can no longer log in, and a session it has ends at its next request) or
    activate it again. Nobody deactivates their own account."""
    user = _administered_user(session, actor, user_id)
    if not active and actor.kind is ActorKind.USER and actor.id == user.id:
        raise OwnAccountDeactivation("you cannot deactivate your own account")
    if user.is_active == active:
        return user
    user.is_active = active
    user.updated_at = clock.now()
    session.flush()
    record(
        session,
        actor=actor,
        at=user.updated_at,
        action=AuditAction.UPDATE,
        resource_type="User",
        resource_id=user.id,
        details={"field": "is_active", "is_active": active},
    )
    return user


def get_administered_user(session: Session, actor: Actor, user_id: int) -> User:
    """One account, for an administrator of its organisation (the same 404 page for "no such" and "not
    yours" in the doors)."""
    require(actor, Permission.MANAGE_USERS)
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("user", user_id)
    require_user_administration(session, actor, user.organisation_id)
    return user


def organisations_to_administer(session: Session, actor: Actor) -> list[Organisation]:
    """Every organisation for system administrators; an organisation's administrator gets their own and
    the units below it. By name."""
    require(actor, Permission.MANAGE_USERS)
    query = sa.select(Organisation).order_by(Organisation.name, Organisation.id)
    if not _administers_everyone(actor):
        if actor.organisation_id is None:
            raise PermissionDenied(
                f"{actor.name} may only manage the users of their own organisation"
            )
        query = query.where(
            Organisation.id.in_(descendants_and_self(session, actor.organisation_id))
        )
    return list(session.scalars(query))
