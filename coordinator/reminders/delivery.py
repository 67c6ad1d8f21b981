"""Telling people: an immediate mail for urgent reminders, a digest per person, escalation mails.

Mails go through the outbox (same transaction as the reminder change). They carry a reference and a link,
never a CPR number, a name or clinical detail (§13c: only what is needed, and mail is not a safe channel).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from coordinator.accounts.models import User
from coordinator.organisations.models import Organisation
from coordinator.outbox.models import OutboxChannel, OutboxMessage
from coordinator.outbox.services import enqueue, enqueue_many
from coordinator.reminders.models import Reminder, stored
from pathways import reminders as rules
from pathways.calendar_dk import default_calendar
from pathways.clock import Clock, to_copenhagen
from pathways.labels import label

ACTIVE = (rules.ReminderStatus.OPEN, rules.ReminderStatus.ACKNOWLEDGED)


def reference(reminder: Reminder) -> str:
    return f"R-{reminder.id}"


def _base_url(config: Mapping[str, Any]) -> str:
    return str(config.get("PUBLIC_BASE_URL", "http://127.0.0.1:5000")).rstrip("/")


def recipient_for(
    session: Session, person_id: int | None, organisation_id: int | None
) -> str | None:
    """The person's address when they are active and have one, else the organisation's team inbox."""
    if person_id is not None:
        person = session.get(User, person_id)
        if person is not None and person.is_active and person.email:
            return person.email
    if organisation_id is not None:
        org = session.get(Organisation, organisation_id)
        if org is not None and org.email:
            return org.email
    return None


def _reminder_mail(
    reminder: Reminder, config: Mapping[str, Any], *, escalated: bool
) -> tuple[str, str]:
    due = to_copenhagen(reminder.due_at).strftime("%d.%m.%Y %H:%M")
    # The reminder's page of the web UI (reminders_web.show; built here without a request, a test holds
    # the two together).
    link = f"{_base_url(config)}/reminders/{reminder.id}"
    severity = label("severity", reminder.severity, "da")
    severity_en = label("severity", reminder.severity, "en")
    what_da = "En påmindelse er eskaleret til dig" if escalated else "Der er en påmindelse til dig"
    what_en = "A reminder was escalated to you" if escalated else "There is a reminder for you"
    subject = f"carepath: {reference(reminder)} ({severity})"
    body = (
        f"{what_da} i carepath ({severity}).\n"
        f"Reference: {reference(reminder)}\nFrist: {due}\nÅbn: {link}\n\n"
        f"{what_en} in carepath ({severity_en}).\n"
        f"Reference: {reference(reminder)}\nDue: {due} (Copenhagen)\n"
        f"Open: {link}\n\n"
        "Denne mail indeholder ingen personoplysninger. / This mail holds no personal data.\n"
    )
    return subject, body


def notify_now(
    session: Session, reminders: Sequence[Reminder], now: datetime, config: Mapping[str, Any]
) -> int:
    """Queue the immediate mail of each urgent reminder, once per reminder and severity (in one batch).
    Returns how many mails were queued now (not those queued before)."""
    messages = []
    for reminder in reminders:
        address = recipient_for(session, reminder.owner_person_id, reminder.owner_organisation_id)
        if address is None:
            continue
        subject, body = _reminder_mail(reminder, config, escalated=False)
        messages.append(
            {
                "channel": OutboxChannel.EMAIL,
                "idempotency_key": f"reminder:{reminder.id}:{reminder.severity.value}",
                "recipient": address,
                "subject": subject,
                "body": body,
                "reminder_id": reminder.id,
            }
        )
    return enqueue_many(session, messages, now=now)


def queue_digests(session: Session, clock: Clock, config: Mapping[str, Any]) -> dict[str, Any]:
    """One digest per recipient per local hour: counts and a link to the inbox, nothing else."""
    now = clock.now()
    local = to_copenhagen(now)
    rows = session.execute(
        sa.select(
            Reminder.owner_person_id, Reminder.owner_organisation_id, Reminder.severity
        ).where(
            sa.or_(
                Reminder.status.in_(ACTIVE),
                sa.and_(
                    Reminder.status == rules.ReminderStatus.SNOOZED,
                    Reminder.snoozed_until <= now,
                ),
            )
        )
    )
    per_recipient: dict[str, Counter[rules.Severity]] = defaultdict(Counter)
    addresses: dict[tuple[int | None, int | None], str | None] = {}
    for person_id, org_id, severity in rows:
        key = (person_id, org_id)
        if key not in addresses:
            addresses[key] = recipient_for(session, person_id, org_id)
        address = addresses[key]
        if address:
            per_recipient[address][severity] += 1
    link = f"{_base_url(config)}/reminders"  # the inbox page (reminders_web.index)
    queued = 0
    for address, counts in sorted(per_recipient.items()):
        lines = "\n".join(
            f"  {label('severity', s, 'da')} / {label('severity', s, 'en')}: {counts[s]}"
            for s in sorted(counts, key=lambda s: -s.rank)
        )
        total = sum(counts.values())
        digest_key = f"digest:{address}:{local:%Y-%m-%dT%H}"
        if session.scalar(
            sa.select(OutboxMessage.id).where(OutboxMessage.idempotency_key == digest_key)
        ):
            continue  # this hour's digest is already queued
        enqueue(
            session,
            channel=OutboxChannel.EMAIL,
            idempotency_key=digest_key,
            recipient=address,
            subject=f"carepath: {total} åbne påmindelser / open reminders",
            body=(
                f"Åbne påmindelser i carepath pr. {local:%d.%m.%Y %H:%M}:\n{lines}\n\nÅbn: {link}\n\n"
                f"Open reminders in carepath: {total}. Open: {link}\n\n"
                "Denne mail indeholder ingen personoplysninger. / This mail holds no personal data.\n"
            ),
            now=now,
        )
        queued += 1
    return {"recipients": len(per_recipient), "queued": queued}


def escalate_due(session: Session, clock: Clock, config: Mapping[str, Any]) -> dict[str, Any]:
    """Raise the escalation level of unanswered reminders and tell the escalation target, once per level."""
    now = clock.now()
    calendar = default_calendar()
    overrides = config.get("REMINDER_RULES_OVERRIDES")
    escalated = 0
    notified = 0
    candidates = session.scalars(
        sa.select(Reminder)
        .where(
            Reminder.due_at <= now,
            sa.or_(
                Reminder.status == rules.ReminderStatus.OPEN,
                sa.and_(
                    Reminder.status == rules.ReminderStatus.SNOOZED,
                    Reminder.snoozed_until <= now,
                ),
            ),
        )
        .order_by(Reminder.id)
    )
    for reminder in candidates:
        thresholds = rules.thresholds_for(
            reminder.params.get("region_code"), reminder.params.get("kommunekode"), overrides
        )
        level = rules.escalation_due(stored(reminder), now, calendar, thresholds)
        if level is None or level <= reminder.escalation_level:
            continue
        reminder.escalation_level = level
        reminder.updated_at = now
        escalated += 1
        address = recipient_for(
            session,
            reminder.escalate_to_person_id,
            reminder.escalate_to_organisation_id or reminder.owner_organisation_id,
        )
        if address is None:
            continue
        subject, body = _reminder_mail(reminder, config, escalated=True)
        enqueue(
            session,
            channel=OutboxChannel.EMAIL,
            idempotency_key=f"reminder:{reminder.id}:escalation:{level}",
            recipient=address,
            subject=subject,
            body=body,
            now=now,
            reminder_id=reminder.id,
        )
        notified += 1
    return {"escalated": escalated, "notified": notified}
