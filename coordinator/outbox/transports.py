"""How a message leaves carepath: SMTP for mail, an HTTP POST to the messaging gateway for MedCom."""

from __future__ import annotations

import json
import smtplib
import ssl
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any, Protocol

from coordinator.outbox.models import OutboxChannel, OutboxMessage


class DeliveryError(Exception):
    """The transport could not hand the message over; ``permanent`` ones are not retried."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class Transport(Protocol):
    def send(self, message: OutboxMessage) -> None: ...


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    host: str = "127.0.0.1"
    port: int = 25
    security: str = "none"  # none | starttls | ssl
    username: str = ""
    password: str = ""
    sender: str = "carepath@localhost"
    message_id_domain: str = "carepath.local"
    timeout: float = 10.0

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> SmtpSettings:
        default = cls()
        return cls(
            host=str(config.get("SMTP_HOST", default.host)),
            port=int(config.get("SMTP_PORT", default.port)),
            security=str(config.get("SMTP_SECURITY", default.security)),
            username=str(config.get("SMTP_USERNAME", "")),
            password=str(config.get("SMTP_PASSWORD", "")),
            sender=str(config.get("MAIL_FROM", default.sender)),
            message_id_domain=str(config.get("MAIL_MESSAGE_ID_DOMAIN", default.message_id_domain)),
        )


def email_for(message: OutboxMessage, settings: SmtpSettings) -> EmailMessage:
    """The mail as sent. Its Message-ID is fixed by the outbox row, so a retry is recognisably the same."""
    mail = EmailMessage()
    mail["From"] = settings.sender
    mail["To"] = message.recipient
    mail["Subject"] = message.subject
    mail["Date"] = formatdate(message.created_at.timestamp(), usegmt=True)
    mail["Message-ID"] = f"<{message.message_id}@{settings.message_id_domain}>"
    mail["Auto-Submitted"] = "auto-generated"
    mail.set_content(message.body)
    return mail


class SmtpTransport:
    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings

    def send(self, message: OutboxMessage) -> None:
        s = self.settings
        try:
            if s.security == "ssl":
                client: smtplib.SMTP = smtplib.SMTP_SSL(
                    s.host, s.port, timeout=s.timeout, context=ssl.create_default_context()
                )
            else:
                client = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
            with client:
                if s.security == "starttls":
                    client.starttls(context=ssl.create_default_context())
                if s.username:
                    client.login(s.username, s.password)
                client.send_message(email_for(message, s))
        except smtplib.SMTPRecipientsRefused as exc:
            raise DeliveryError(f"recipient refused: {exc.recipients}", permanent=True) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"{type(exc).__name__}: {exc}") from exc


class GatewayTransport:
    """POSTs a MedCom message Bundle to the messaging gateway (VANS adapter) configured for the site."""

    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        self.url = url
        self.timeout = timeout

    def send(self, message: OutboxMessage) -> None:
        if not self.url:
            raise DeliveryError("no MESSAGING_GATEWAY_URL is configured")
        request = urllib.request.Request(  # noqa: S310 - the URL is operator configuration
            self.url,
            data=json.dumps(message.payload).encode(),
            headers={"Content-Type": "application/fhir+json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                if response.status >= 300:
                    raise DeliveryError(f"gateway answered {response.status}")
        except urllib.error.HTTPError as exc:
            raise DeliveryError(
                f"gateway answered {exc.code}", permanent=400 <= exc.code < 500
            ) from exc
        except (urllib.error.URLError, OSError) as exc:
            raise DeliveryError(f"gateway unreachable: {exc}") from exc


class Router:
    """Picks the transport by channel."""

    def __init__(self, transports: Mapping[OutboxChannel, Transport]) -> None:
        self.transports = dict(transports)

    def send(self, message: OutboxMessage) -> None:
        transport = self.transports.get(message.channel)
        if transport is None:
            raise DeliveryError(f"no transport for {message.channel.value}", permanent=True)
        transport.send(message)


def transports_from_config(config: Mapping[str, Any]) -> Router:
    return Router(
        {
            OutboxChannel.EMAIL: SmtpTransport(SmtpSettings.from_config(config)),
            OutboxChannel.FHIR_MESSAGE: GatewayTransport(
                str(config.get("MESSAGING_GATEWAY_URL", ""))
            ),
        }
    )
