"""Demo mail (/dev/mail): what carepath sent to the local SMTP sink of `make run` (coordinator.demo.mail),
so a newcomer sees the reminder mails and digests arrive. Registered only in debug mode or when
DEMO_MAIL_DIR is set (``init_app``); never in production."""

from __future__ import annotations

import re
from pathlib import Path

from flask import Flask, abort, current_app, render_template
from flask.typing import ResponseReturnValue

from coordinator.web.kit import web_blueprint

bp = web_blueprint("demo_mail", __name__, url_prefix="/dev/mail")


def is_wanted(app: Flask) -> bool:
    return bool(app.debug or app.config.get("DEMO_MAIL_DIR"))


def _directory() -> Path:
    from coordinator.demo.mail import mail_dir  # noqa: PLC0415 - the demo package loads the data set

    return mail_dir(current_app.config, current_app.instance_path)


@bp.get("")
def index() -> ResponseReturnValue:
    from coordinator.demo.mail import DEFAULT_PORT, list_mails  # noqa: PLC0415 - as above

    return render_template(
        "demo_mail/index.html", mails=list_mails(_directory()), port=DEFAULT_PORT
    )


@bp.get("/<name>")
def show(name: str) -> ResponseReturnValue:
    from coordinator.demo.mail import read_mail  # noqa: PLC0415 - as above

    mail = read_mail(_directory(), name)
    if mail is None:
        abort(404)
    return render_template("demo_mail/show.html", mail=mail, parts=_parts(mail.text))


_URL = re.compile(r"https?://\S+")


def _parts(text: str) -> list[tuple[str, bool]]:
    """The text in pieces, each (piece, is_link): our own addresses (PUBLIC_BASE_URL) become links, so
    the link in a reminder mail can be followed from here."""
    own = str(current_app.config.get("PUBLIC_BASE_URL", "")).rstrip("/")
    parts: list[tuple[str, bool]] = []
    last = 0
    for found in _URL.finditer(text):
        url = found.group(0)
        if not own or not (url == own or url.startswith(own + "/")):
            continue
        parts += [(text[last : found.start()], False), (url, True)]
        last = found.end()
    parts.append((text[last:], False))
    return parts
