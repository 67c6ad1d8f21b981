"""flask-login glue: the logged-in user as flask-login sees it, kept apart from the SQLAlchemy model."""

from __future__ import annotations

from flask_login import UserMixin, current_user

from coordinator.accounts.models import User
from coordinator.db import get_session


class LoginUser(UserMixin):
    """Wraps the User row loaded for this request; flask-login's mixin never touches the mapped class."""

    def __init__(self, user: User) -> None:
        self.user = user

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


def load_user(user_id: str) -> LoginUser | None:
    """flask-login's user loader: the session's user, unless the account has been deactivated since."""
    try:
        key = int(user_id)
    except ValueError:
        return None
    user = get_session().get(User, key)
    if user is None or not user.is_active:
        return None
    return LoginUser(user)


def current_account() -> User | None:
    """The User row of the logged-in user of this request, or None when nobody is logged in."""
    login: object = current_user._get_current_object()
    return login.user if isinstance(login, LoginUser) else None
