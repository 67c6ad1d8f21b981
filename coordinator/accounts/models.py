from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from coordinator.db import Base, IntPK
from coordinator.organisations.models import Organisation
from pathways.people import Role


class User(Base):
    """A member of staff (practitioner data) who may also log in (username + argon2 password hash)."""

    __tablename__ = "users"

    id: Mapped[IntPK]
    organisation_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    role: Mapped[Role]
    title: Mapped[str] = mapped_column(sa.String(200), default="")
    phone: Mapped[str] = mapped_column(sa.String(20), default="")
    email: Mapped[str] = mapped_column(sa.String(254), default="")
    username: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    password_hash: Mapped[str | None] = mapped_column(sa.String(255))
    must_change_password: Mapped[bool] = mapped_column(default=False)
    is_active: Mapped[bool] = mapped_column(default=True)
    last_login_at: Mapped[datetime | None]
    password_changed_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    organisation: Mapped[Organisation] = relationship()

    def __repr__(self) -> str:
        return f"<User {self.id} {self.role.value} {self.username or self.name!r}>"


class LoginThrottle(Base):
    """Consecutive failed logins of one account from one client address, and the lockout they started
    (pathways.login_throttle). Only known accounts get a row: what was typed as an unknown username may
    be a password, and is kept nowhere. A successful login from the address deletes the row."""

    __tablename__ = "login_throttles"
    __table_args__ = (sa.UniqueConstraint("user_id", "address"),)

    id: Mapped[IntPK]
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    # IPv4 or IPv6 in text form, as request.remote_addr gives it (behind TRUSTED_PROXY_COUNT proxies).
    address: Mapped[str] = mapped_column(sa.String(64))
    failed_count: Mapped[int]
    last_failed_at: Mapped[datetime]
    locked_until: Mapped[datetime | None] = mapped_column(index=True)

    user: Mapped[User] = relationship()

    def __repr__(self) -> str:
        return f"<LoginThrottle user={self.user_id} {self.address} x{self.failed_count}>"
