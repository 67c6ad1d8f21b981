"""Configuration from the environment. Nothing secret lives in the repository."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any


def sqlite_url(instance_path: str) -> str:
    return f"sqlite:///{Path(instance_path) / 'carepath.sqlite3'}"


def load_config(instance_path: str) -> dict[str, Any]:
    """Settings read from the environment; anything unset gets a safe development default."""
    env = os.environ
    secret_key = env.get("SECRET_KEY")
    return {
        "DATABASE_URL": env.get("DATABASE_URL") or sqlite_url(instance_path),
        # Without SECRET_KEY every start makes a new one: sessions then end with a restart, which is the
        # safe failure. Production sets SECRET_KEY (see README).
        "SECRET_KEY": secret_key or secrets.token_hex(32),
        "SECRET_KEY_IS_EPHEMERAL": secret_key is None,
        "BABEL_DEFAULT_LOCALE": "da",
        "BABEL_DEFAULT_TIMEZONE": "Europe/Copenhagen",
        "LANGUAGES": ("da", "en"),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": env.get("SESSION_COOKIE_SECURE", "0") == "1",
        # A logged-in session that sees no request for this long is ended (coordinator.security).
        "SESSION_IDLE_MINUTES": int(env.get("SESSION_IDLE_MINUTES", "30")),
        # Flask-Limiter: memory:// counts per process; with several workers use a shared store
        # (e.g. redis://host:6379) so that the limit holds across them.
        "RATELIMIT_STORAGE_URI": env.get("RATELIMIT_STORAGE_URI", "memory://"),
        "RATELIMIT_HEADERS_ENABLED": True,
        # Failed logins (and failed password changes) allowed per remote address.
        "LOGIN_RATE_LIMIT": env.get("LOGIN_RATE_LIMIT", "10 per minute"),
        "SQLALCHEMY_ECHO": env.get("SQLALCHEMY_ECHO", "0") == "1",
        # §13c: a care relation gives access this many days after it ended (follow-up), then stops.
        "ACCESS_GRACE_DAYS": int(env.get("ACCESS_GRACE_DAYS", "30")),
        # Lifetime of a system client's bearer token, in seconds.
        "OAUTH2_TOKEN_EXPIRES_IN": int(env.get("OAUTH2_TOKEN_EXPIRES_IN", "300")),
        # The citizen's access log shows organisations and roles; staff names only where policy says so.
        "CITIZEN_LOG_SHOW_STAFF_NAMES": env.get("CITIZEN_LOG_SHOW_STAFF_NAMES", "0") == "1",
    }
