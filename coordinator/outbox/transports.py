"""How a message leaves carepath: SMTP for mail, an HTTP POST to the messaging gateway for MedCom, and
an HTTP POST to a subscriber's endpoint for a FHIR Subscription notification (rest-hook)."""

from __future__ import annotations

import json
import smtplib
import ssl
import urllib.request
from collections.abc import Callable, Mapping
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


@dataclass(frozen=True, slots=True)
class HookTarget:
    """Where a rest-hook notification goes: the subscriber's endpoint and its own headers (secrets:
    never logged, never put into a DeliveryError)."""

    endpoint: str
    headers: tuple[tuple[str, str], ...] = ()


# The subscription's current target, looked up when the notification is sent; None when it was ended.
HookLookup = Callable[[int], HookTarget | None]


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A notification goes to the endpoint the subscriber registered, never where a redirect points."""

    def redirect_request(self, *_args: Any, **_kwargs: Any) -> None:
        return None


_HOOK_OPENER = urllib.request.build_opener(_NoRedirects())


class RestHookTransport:
    """FHIR R4 rest-hook: without a payload, an empty POST to the subscription's endpoint; with
    ``payload`` application/fhir+json the endpoint is the subscriber's service base and the resource is
    PUT to ``[endpoint]/[type]/[id]`` (R4 Subscription, channel). The endpoint and headers are read from
    the subscription at each attempt, so an ended subscription is not notified any more (a permanent
    failure, dead at once) and a header's secret lives in one place only."""

    def __init__(self, lookup: HookLookup | None, *, timeout: float = 10.0) -> None:
        self.lookup = lookup
        self.timeout = timeout

    def send(self, message: OutboxMessage) -> None:
        if self.lookup is None:
            raise DeliveryError("no subscription lookup is configured for rest-hooks")
        subscription_id = int(message.payload.get("subscription_id", 0))
        target = self.lookup(subscription_id)
        if target is None:
            raise DeliveryError(f"subscription {subscription_id} has ended", permanent=True)
        resource = message.payload.get("resource")
        headers = dict(target.headers)
        url, method, data = target.endpoint, "POST", b""
        if resource is not None:
            url = f"{target.endpoint.rstrip('/')}/{resource['resourceType']}/{resource['id']}"
            method, data = "PUT", json.dumps(resource).encode()
            headers["Content-Type"] = "application/fhir+json"
        request = urllib.request.Request(  # noqa: S310 - checked when the subscription was made
            url, data=data, headers=headers, method=method
        )
        # The error texts name the status or the kind of failure, never the endpoint's answer or the
        # headers (they may hold secrets).
        try:
            with _HOOK_OPENER.open(request, timeout=self.timeout) as response:
                if response.status >= 300:
                    raise DeliveryError(f"subscriber answered {response.status}")
        except urllib.error.HTTPError as exc:
            retry = exc.code >= 500 or exc.code in (408, 429)
            raise DeliveryError(f"subscriber answered {exc.code}", permanent=not retry) from exc
        except (urllib.error.URLError, OSError) as exc:
            raise DeliveryError(f"subscriber unreachable: {type(exc).__name__}") from exc


class Router:
    """Picks the transport by channel."""

    def __init__(self, transports: Mapping[OutboxChannel, Transport]) -> None:
        self.transports = dict(transports)

    def send(self, message: OutboxMessage) -> None:
        transport = self.transports.get(message.channel)
        if transport is None:
            raise DeliveryError(f"no transport for {message.channel.value}", permanent=True)
        transport.send(message)


def transports_from_config(config: Mapping[str, Any], *, hooks: HookLookup | None = None) -> Router:
    return Router(
        {
            OutboxChannel.EMAIL: SmtpTransport(SmtpSettings.from_config(config)),
            OutboxChannel.FHIR_MESSAGE: GatewayTransport(
                str(config.get("MESSAGING_GATEWAY_URL", ""))
            ),
            OutboxChannel.REST_HOOK: RestHookTransport(hooks),
        }
    )
