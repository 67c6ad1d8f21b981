"""Configuration from the environment. Nothing secret lives in the repository."""

from __future__ import annotations

import os
import secrets
import tomllib
from pathlib import Path
from typing import Any

DEFAULT_LOGIN_RATE_LIMIT = "300 per minute"


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
        # Requests per caller (token, user or address) across the JSON API; empty switches it off. Unset:
        # 1200 per minute, off under TESTING.
        "API_RATE_LIMIT": env.get("API_RATE_LIMIT"),
        # Failed logins (and failed password changes) allowed per remote address: only a brake on floods.
        # Guessing is slowed per account and address (pathways.login_throttle); a whole hospital
        # behind one NAT address must never be locked out by a low number here.
        "LOGIN_RATE_LIMIT": env.get("LOGIN_RATE_LIMIT", DEFAULT_LOGIN_RATE_LIMIT),
        # How many reverse proxies in front of carepath set X-Forwarded-For; 0 trusts none of it.
        "TRUSTED_PROXY_COUNT": int(env.get("TRUSTED_PROXY_COUNT", "0")),
        "SQLALCHEMY_ECHO": env.get("SQLALCHEMY_ECHO", "0") == "1",
        # §13c: a care relation gives access this many days after it ended (follow-up), then stops.
        "ACCESS_GRACE_DAYS": int(env.get("ACCESS_GRACE_DAYS", "30")),
        # Lifetime of a system client's bearer token, in seconds.
        "OAUTH2_TOKEN_EXPIRES_IN": int(env.get("OAUTH2_TOKEN_EXPIRES_IN", "300")),
        # The citizen's access log shows organisations and roles; staff names only where policy says so.
        "CITIZEN_LOG_SHOW_STAFF_NAMES": env.get("CITIZEN_LOG_SHOW_STAFF_NAMES", "0") == "1",
        # Outgoing mail (reminders and digests). SMTP_SECURITY: none | starttls | ssl.
        "SMTP_HOST": env.get("SMTP_HOST", "127.0.0.1"),
        "SMTP_PORT": int(env.get("SMTP_PORT", "25")),
        "SMTP_SECURITY": env.get("SMTP_SECURITY", "none"),
        "SMTP_USERNAME": env.get("SMTP_USERNAME", ""),
        "SMTP_PASSWORD": env.get("SMTP_PASSWORD", ""),
        "MAIL_FROM": env.get("MAIL_FROM", "carepath <carepath@localhost>"),
        "MAIL_MESSAGE_ID_DOMAIN": env.get("MAIL_MESSAGE_ID_DOMAIN", "carepath.local"),
        # Development only: the folder where the demo mail sink of `make run` keeps what carepath sent
        # (`flask --app coordinator demo mail-sink`); set, it also shows them on /dev/mail.
        "DEMO_MAIL_DIR": env.get("DEMO_MAIL_DIR", ""),
        # Links in mails point here; mails carry a link and a reference, never a CPR or clinical text.
        "PUBLIC_BASE_URL": env.get("PUBLIC_BASE_URL", "http://127.0.0.1:5000"),
        # MedCom messages (CareCommunication) are posted to this gateway (the site's VANS adapter).
        "MESSAGING_GATEWAY_URL": env.get("MESSAGING_GATEWAY_URL", ""),
        # Our own messaging identity in MedCom messages (Acknowledgements, CareCommunications). The
        # defaults are synthetic development values: production sets the site's SOR code and GLN.
        "MESSAGING_SOR": env.get("MESSAGING_SOR", "990000000000001"),
        "MESSAGING_GLN": env.get("MESSAGING_GLN", "5790000000012"),
        "MESSAGING_NAME": env.get("MESSAGING_NAME", "carepath"),
        # Validate every FHIR resource carepath builds before answering with it (ADR 0007). The mappers are
        # property-tested against fhir.resources; unset, it is on under TESTING or debug, off otherwise.
        "FHIR_VALIDATE_OUTPUT": _flag(env.get("FHIR_VALIDATE_OUTPUT")),
        # Subscriptions notify https endpoints only; 1 also allows plain http to 127.0.0.1/localhost (a
        # receiver on the same machine). Unset, it is on under TESTING only.
        "SUBSCRIPTION_ALLOW_LOCAL_HTTP": _flag(env.get("SUBSCRIPTION_ALLOW_LOCAL_HTTP")),
        # Scheduler (its own process: `flask --app coordinator scheduler run`).
        # The gap tick: pathways whose next deadline has passed, and those a change queued (ADR 0012).
        "SCHEDULER_TICK_SECONDS": int(env.get("SCHEDULER_TICK_SECONDS", "60")),
        # Local times (Europe/Copenhagen) of the full gap scan, the nightly safety net.
        "SCHEDULER_FULL_SCAN_AT": env.get("SCHEDULER_FULL_SCAN_AT", "02:30"),
        # Deferred gap evaluations (queued by MedCom messages) are drained this often.
        "SCHEDULER_QUEUE_SECONDS": int(env.get("SCHEDULER_QUEUE_SECONDS", "5")),
        "SCHEDULER_OUTBOX_SECONDS": int(env.get("SCHEDULER_OUTBOX_SECONDS", "30")),
        # The MedCom inbox (ADR 0013): the worker runs this often, for at most INBOX_RUN_SECONDS, in
        # batches of INBOX_BATCH messages per transaction; a message failing for a reason of ours is tried
        # INBOX_MAX_ATTEMPTS times (backing off), then dead-lettered; a dead letter's body (health data) is
        # cleared after INBOX_DEAD_RETENTION_DAYS (it can no longer be replayed then).
        "SCHEDULER_INBOX_SECONDS": int(env.get("SCHEDULER_INBOX_SECONDS", "2")),
        "INBOX_RUN_SECONDS": int(env.get("INBOX_RUN_SECONDS", "20")),
        "INBOX_BATCH": int(env.get("INBOX_BATCH", "100")),
        "INBOX_MAX_ATTEMPTS": int(env.get("INBOX_MAX_ATTEMPTS", "6")),
        "INBOX_DEAD_RETENTION_DAYS": int(env.get("INBOX_DEAD_RETENTION_DAYS", "30")),
        # One outbox run sends until nothing is due or this time is spent (keep it below the interval
        # above, so that runs do not pile up); what it claimed and did not reach goes back at once.
        "OUTBOX_RUN_SECONDS": int(env.get("OUTBOX_RUN_SECONDS", "25")),
        "SCHEDULER_ESCALATION_MINUTES": int(env.get("SCHEDULER_ESCALATION_MINUTES", "15")),
        # Local times (Europe/Copenhagen) at which each person gets a digest of their open reminders.
        "DIGEST_TIMES": env.get("DIGEST_TIMES", "07:30"),
        # Local deadlines of the reminder rules (same shape as pathways/data/reminder_rules.toml, any
        # subset): a TOML file laid over the packaged defaults, checked at start.
        "REMINDER_RULES_OVERRIDES": _toml(env.get("REMINDER_RULES_FILE")),
    }


def _flag(value: str | None) -> bool | None:
    return None if value in (None, "") else value == "1"


def _toml(path: str | None) -> dict[str, Any] | None:
    if not path:
        return None
    with Path(path).open("rb") as handle:
        return tomllib.load(handle)
