"""Messages carepath could not deliver (dead letters, and those still being retried), for system
administrators: what kind, to whom, why it failed; requeue a dead letter after the cause is fixed. The
message itself (subject, body, payload) is not shown: it may hold clinical content. Below them, the MedCom
messages carepath received but could not process (the inbox, ADR 0013), which can be replayed."""

from __future__ import annotations

from http import HTTPStatus

from flask import flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from coordinator.db import get_session
from coordinator.edge import clock as edge_clock
from coordinator.messaging import inbox
from coordinator.outbox import services as outbox_services
from coordinator.web.admin import bp
from coordinator.web.kit import actor, now, perform


@bp.get("/outbox")
def outbox() -> ResponseReturnValue:
    messages = outbox_services.list_problem_messages(get_session(), actor())
    inbound = inbox.list_problem_messages(get_session(), actor())
    return render_template("admin/outbox.html", messages=messages, inbound=inbound)


@bp.post("/outbox/<int:message_id>/requeue")
def requeue(message_id: int) -> ResponseReturnValue:
    perform(
        lambda: outbox_services.requeue(get_session(), actor(), message_id=message_id, now=now())
    )
    flash(_("The message will be sent again."), "success")
    return redirect(url_for(".outbox"), code=HTTPStatus.SEE_OTHER)


@bp.post("/outbox/inbound/<int:entry_id>/replay")
def replay(entry_id: int) -> ResponseReturnValue:
    perform(lambda: inbox.replay(get_session(), actor(), edge_clock(), entry_id=entry_id))
    flash(_("The message will be processed again."), "success")
    return redirect(url_for(".outbox"), code=HTTPStatus.SEE_OTHER)
