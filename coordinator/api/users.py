"""Staff accounts, for organisation and system administrators."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask.views import MethodView
from flask_smorest import Blueprint

from coordinator.accounts import services
from coordinator.accounts.models import LoginThrottle, User
from coordinator.api.core import LINK_HEADER, keyset_page, operation
from coordinator.api.schemas.users import (
    LoginLockSchema,
    PasswordResetSchema,
    UserCreateSchema,
    UserQuerySchema,
    UserSchema,
)
from coordinator.db import get_session
from coordinator.edge import clock, current_actor
from coordinator.organisations.lineage import descendants_and_self
from pathways.errors import PermissionDenied
from pathways.people import ActorKind, Role

blp = Blueprint(
    "users", __name__, url_prefix="/users", description="Staff accounts (administrators)."
)


@blp.route("")
class Users(MethodView):
    @operation("Practitioner", "read")
    @blp.arguments(UserQuerySchema, location="query")
    @blp.response(200, UserSchema(many=True), headers=LINK_HEADER)
    def get(self, query: dict[str, Any]) -> Any:
        """Accounts you administer: your organisation and the units below it (everyone for system admins)."""
        actor, session = current_actor(), get_session()
        org_id = query["organisation_id"] or actor.organisation_id
        if org_id is None:
            raise PermissionDenied("no organisation to list")
        services.require_user_administration(session, actor, org_id)
        scope = descendants_and_self(session, org_id)
        if (
            actor.kind is not ActorKind.SYSTEM
            and actor.role is not Role.SYSTEM_ADMIN
            and actor.organisation_id
        ):
            scope &= descendants_and_self(session, actor.organisation_id)
        statement = (
            sa.select(User)
            .where(User.organisation_id.in_(scope))
            .order_by(User.id)
            .limit(query["limit"])
        )
        if query["after"] is not None:
            statement = statement.where(User.id > query["after"])
        return keyset_page(list(session.scalars(statement)), query["limit"])

    @operation("Practitioner", "write")
    @blp.arguments(UserCreateSchema)
    @blp.response(201, UserSchema)
    def post(self, data: dict[str, Any]) -> User:
        """Create an account; with a password it must be changed at the first login."""
        user = services.create_staff_member(get_session(), current_actor(), clock(), **data)
        if data["password"] is not None:
            user.must_change_password = True
        return user


@blp.route("/<id:user_id>/password-reset")
class PasswordReset(MethodView):
    @operation("Practitioner", "write")
    @blp.arguments(PasswordResetSchema)
    @blp.response(200, UserSchema)
    def post(self, data: dict[str, Any], user_id: int) -> User:
        """Set a temporary password (lifts a lockout); the user must choose a new one."""
        return services.reset_password_by_admin(
            get_session(), current_actor(), clock(), user_id, data["new_password"]
        )


@blp.route("/login-locks")
class LoginLocks(MethodView):
    @operation("Practitioner", "read")
    @blp.response(200, LoginLockSchema(many=True))
    def get(self) -> list[LoginThrottle]:
        """Lockouts in force on the accounts you administer: one per account and client address, after
        repeated wrong passwords from that address (longest first)."""
        return services.list_login_locks(get_session(), current_actor(), clock())


@blp.route("/login-locks/<id:lock_id>")
class LoginLock(MethodView):
    @operation("Practitioner", "write")
    @blp.response(204)
    def delete(self, lock_id: int) -> None:
        """Lift one lockout now and forget its failed attempts (audited against the account)."""
        services.lift_login_lock(get_session(), current_actor(), clock(), lock_id)


@blp.route("/<id:user_id>/unlock")
class Unlock(MethodView):
    @operation("Practitioner", "write")
    @blp.response(204)
    def post(self, user_id: int) -> None:
        """Lift every lockout of an account, from every address (audited)."""
        services.unlock_user(get_session(), current_actor(), clock(), user_id)
