from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from coordinator.db import Base, IntPK
from coordinator.organisations.models import Organisation


class ApiClient(Base):
    """Another system (an EHR, a municipal case system) that acts for one organisation.

    It proves who it is with a JWT signed by a key in ``jwks`` (public keys only) and gets tokens limited
    to ``scopes`` (space-separated, canonical form of pathways.scopes).
    """

    __tablename__ = "api_clients"

    id: Mapped[IntPK]
    client_id: Mapped[str] = mapped_column(sa.String(64), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    organisation_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id"), index=True)
    scopes: Mapped[str] = mapped_column(sa.String(1000))
    jwks: Mapped[dict[str, Any]]
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime]
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    revoked_at: Mapped[datetime | None]

    organisation: Mapped[Organisation] = relationship()

    def __repr__(self) -> str:
        return f"<ApiClient {self.id} {self.client_id} {self.name!r}>"


class ApiToken(Base):
    """An access token issued to a client. Only its SHA-256 is kept: a database leak yields no tokens."""

    __tablename__ = "api_tokens"

    id: Mapped[IntPK]
    client_id: Mapped[int] = mapped_column(sa.ForeignKey("api_clients.id"), index=True)
    access_token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    scope: Mapped[str] = mapped_column(sa.String(1000))
    issued_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]

    client: Mapped[ApiClient] = relationship()


class UsedAssertion(Base):
    """The ``jti`` of every accepted client assertion until it expires: a captured JWT cannot be replayed.

    Unique per client (RFC 7519 leaves jti values to each issuer).
    """

    __tablename__ = "used_assertions"

    id: Mapped[IntPK]
    client_id: Mapped[int] = mapped_column(sa.ForeignKey("api_clients.id"))
    jti: Mapped[str] = mapped_column(sa.String(255))
    expires_at: Mapped[datetime] = mapped_column(index=True)

    __table_args__ = (sa.UniqueConstraint("client_id", "jti"),)
