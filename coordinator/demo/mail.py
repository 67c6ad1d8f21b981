"""Demo mail: a local SMTP sink for `make run`, so a newcomer sees the reminder mails and digests arrive.

``flask --app coordinator demo mail-sink`` runs an aiosmtpd server (a dev dependency, imported only
here) on 127.0.0.1:8025 that keeps every message it receives as an ``.eml`` file in a folder
(``DEMO_MAIL_DIR``, else ``instance/demo-mail``); the page /dev/mail (coordinator.web.demo_mail) lists
them. Nothing is sent on: it is a sink. Never for production, where SMTP_HOST is the site's relay.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8025
# Our own file names only: <nanoseconds>-<hex>.eml (so a name from a URL can never leave the folder).
_NAME = re.compile(r"^[0-9]{1,20}-[0-9a-f]{32}\.eml$")


def mail_dir(config: Mapping[str, Any], instance_path: str) -> Path:
    """Where the sink keeps the mails: DEMO_MAIL_DIR, else the instance folder's demo-mail/."""
    configured = str(config.get("DEMO_MAIL_DIR") or "")
    return Path(configured) if configured else Path(instance_path) / "demo-mail"


class MailDrop:
    """aiosmtpd handler: each message becomes one file, written whole before it gets its name."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        name = f"{time.time_ns()}-{uuid.uuid4().hex}.eml"
        partial = self.directory / f".{name}.part"
        partial.write_bytes(envelope.original_content or envelope.content)
        partial.replace(self.directory / name)
        return "250 Message accepted for delivery"


def start_sink(directory: Path, *, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> Any:
    """Start the SMTP sink in a thread of its own; the caller stops it with ``.stop()``. aiosmtpd cannot
    bind port 0 itself: pass a real port (tests pick a free one first)."""
    from aiosmtpd.controller import Controller  # noqa: PLC0415 - a dev dependency, for the demo only

    controller = Controller(MailDrop(directory), hostname=host, port=port)
    controller.start()
    return controller


@dataclass(frozen=True, slots=True)
class SentMail:
    name: str
    sent_at: datetime | None
    sender: str
    to: str
    subject: str
    text: str


def _read(path: Path) -> SentMail:
    message = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert isinstance(message, EmailMessage)  # policy.default makes EmailMessage
    body = message.get_body(preferencelist=("plain",))
    text = body.get_content() if isinstance(body, EmailMessage) else ""
    try:
        sent_at = parsedate_to_datetime(str(message["Date"])) if message["Date"] else None
    except (TypeError, ValueError):
        sent_at = None
    return SentMail(
        name=path.name,
        sent_at=sent_at,
        sender=str(message["From"] or ""),
        to=str(message["To"] or ""),
        subject=str(message["Subject"] or ""),
        text=str(text),
    )


def list_mails(directory: Path, limit: int = 200) -> list[SentMail]:
    """The newest ``limit`` mails the sink received, newest first."""
    if not directory.is_dir():
        return []
    names = sorted(
        (p for p in directory.iterdir() if _NAME.match(p.name)),
        key=lambda p: int(p.name.split("-", 1)[0]),
        reverse=True,
    )
    return [_read(p) for p in names[:limit]]


def read_mail(directory: Path, name: str) -> SentMail | None:
    """One mail by its file name; None for a name the sink did not make or a file that is gone."""
    if not _NAME.match(name):
        return None
    path = directory / name
    return _read(path) if path.is_file() else None
