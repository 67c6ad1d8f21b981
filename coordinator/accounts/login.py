"""flask-login glue: the logged-in user as flask-login sees it, kept apart from the SQLAlchemy model."""

from __future__ import annotations

import functools
from typing import Any

import sqlalchemy as sa
from flask_login import UserMixin, current_user

from coordinator.accounts.models import User
from coordinator.accounts.services import actor_for
from coordinator.db import get_session
from coordinator.organisations.lineage import remember_scope, scope_of
from pathways.people import Actor


class LoginUser(UserMixin):
    """Wraps the User row loaded for this request; flask-login's mixin never touches the mapped class."""

    def __init__(self, user: User) -> None:
        self.user = user
        # The actor the request acts as, taken while the row is fresh: a rollback later in the request
        # (a page that refuses a change, then reads) expires the row, and reading it again would cost a
        # round trip (the caller is resolved once per request, ADR 0014).
        self.actor: Actor = actor_for(user)

    @property
    def id(self) -> int:
        return self.user.id

    @property
    def is_active(self) -> bool:
        return self.user.is_active

    @property
    def name(self) -> str:
        return self.user.name

    @property
    def role(self) -> str:
        return str(self.user.role)

    @property
    def organisation_name(self) -> str:
        return self.user.organisation.name

    @property
    def must_change_password(self) -> bool:
        return self.user.must_change_password


@functools.cache
def _user_and_scope() -> sa.Select[Any]:
    """The user and every organisation it acts for (``lineage.organisation_scope``), one row each, in
    one statement: the caller of a request is resolved in a single round trip (ADR 0014)."""
    own = (
        sa.select(User.organisation_id)
        .where(User.id == sa.bindparam("user_id", type_=sa.Integer))
        .scalar_subquery()
    )
    scope = scope_of(own).subquery("scope")
    return (
        sa.select(User, scope.c.id)
        .outerjoin(scope, sa.true())
        .where(User.id == sa.bindparam("user_id", type_=sa.Integer))
    )


def load_user(user_id: str) -> LoginUser | None:
    """flask-login's user loader: the session's user, unless the account has been deactivated since.
    The organisations the user acts for come with it and are kept for the request's access checks."""
    try:
        key = int(user_id)
    except ValueError:
        return None
    if not -(2**31) <= key < 2**31:
        return None
    session = get_session()
    rows = session.execute(_user_and_scope(), {"user_id": key}).all()
    if not rows:
        return None
    user: User = rows[0][0]
    if not user.is_active:
        return None
    if user.organisation_id is not None:
        remember_scope(
            session, user.organisation_id, frozenset(r[1] for r in rows if r[1] is not None)
        )
    return LoginUser(user)


def current_login_actor() -> Actor | None:
    """The actor of the logged-in user of this request, or None when nobody is logged in."""
    login: object = current_user._get_current_object()
    return login.actor if isinstance(login, LoginUser) else None


def current_account() -> User | None:
    """The User row of the logged-in user of this request, or None when nobody is logged in."""
    login: object = current_user._get_current_object()
    return login.user if isinstance(login, LoginUser) else None
