"""Demo mail: the SMTP sink of `make run` keeps what carepath sends, and /dev/mail shows it, only in
debug mode or with DEMO_MAIL_DIR set."""

from __future__ import annotations

import smtplib
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from coordinator import create_app
from coordinator.db import get_database
from coordinator.demo.mail import list_mails, read_mail, start_sink
from coordinator.outbox.models import OutboxChannel, OutboxMessage
from coordinator.outbox.services import enqueue
from coordinator.outbox.transports import SmtpSettings, SmtpTransport
from pathways.clock import FixedClock
from tests import scenario as sc
from tests.smtp import free_port
from tests.web.conftest import Login


def _app(database_url: str, connection: sa.Connection, **config: Any) -> Flask:
    application = create_app(
        {"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "test", **config}
    )
    get_database(application).sessionmaker.configure(
        bind=connection, join_transaction_mode="create_savepoint"
    )
    return application


@pytest.fixture
def mail_dir(tmp_path: Path) -> Path:
    return tmp_path / "demo-mail"


@pytest.fixture
def app(database_url: str, connection: sa.Connection, mail_dir: Path) -> Iterator[Flask]:
    """The app as `make run` starts it: DEMO_MAIL_DIR set."""
    application = _app(database_url, connection, DEMO_MAIL_DIR=str(mail_dir))
    yield application
    get_database(application).dispose()


@pytest.fixture
def sink(mail_dir: Path) -> Iterator[int]:
    port = free_port()
    controller = start_sink(mail_dir, port=port)
    yield port
    controller.stop()


def _wait_for_mail(directory: Path, count: int) -> None:
    deadline = time.monotonic() + 5
    while len(list_mails(directory)) < count:
        assert time.monotonic() < deadline, "the sink kept no mail"
        time.sleep(0.02)


def test_a_mail_sent_to_the_sink_appears_on_dev_mail(
    mail_dir: Path, sink: int, world: sc.Scenario, login: Login
) -> None:
    mail = EmailMessage()
    mail["From"] = "carepath <carepath@localhost>"
    mail["To"] = "psyk@kk.example"
    mail["Subject"] = "carepath: R-7 (haster)"
    mail["Date"] = "Thu, 26 Nov 2026 09:30:00 +0000"
    mail.set_content("Der er en påmindelse til dig.\nÅbn: http://127.0.0.1:5000/reminders/7\n")
    with smtplib.SMTP("127.0.0.1", sink, timeout=5) as client:
        client.send_message(mail)
    _wait_for_mail(mail_dir, 1)

    browser = login(world.case_worker)
    listing = browser.get("/dev/mail")
    assert listing.status_code == 200
    html = listing.get_data(as_text=True)
    assert html.count('data-testid="mail-row"') == 1
    assert "psyk@kk.example" in html
    assert "carepath: R-7 (haster)" in html
    assert "26. nov. 2026 10:30" in html  # Copenhagen time
    [kept] = list_mails(mail_dir)
    page = browser.get(f"/dev/mail/{kept.name}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Der er en påmindelse til dig." in text
    # our own links can be followed from the page
    assert '<a href="http://127.0.0.1:5000/reminders/7">' in text
    assert 'href="/dev/mail"' in browser.get("/reminders").get_data(as_text=True)  # in the menu


def test_carepaths_own_reminder_mail_reaches_the_page(
    session: Session, clock: FixedClock, mail_dir: Path, sink: int, app: Flask
) -> None:
    """The outbox's SMTP transport, pointed at the sink as `make run` points it."""
    message = enqueue(
        session,
        channel=OutboxChannel.EMAIL,
        idempotency_key="demo-mail-test",
        recipient="afsnit1@test.example",
        subject="carepath: 3 åbne påmindelser / open reminders",
        body="Åbn: http://127.0.0.1:5000/reminders\n",
        now=clock.now(),
    )
    assert isinstance(message, OutboxMessage)
    SmtpTransport(SmtpSettings(host="127.0.0.1", port=sink)).send(message)
    _wait_for_mail(mail_dir, 1)
    [kept] = list_mails(mail_dir)
    assert (kept.to, kept.subject) == (
        "afsnit1@test.example",
        "carepath: 3 åbne påmindelser / open reminders",
    )
    assert read_mail(mail_dir, kept.name) == kept


@pytest.mark.parametrize("name", ["..%2F..%2Fetc%2Fpasswd", "x.eml", "1-abc.eml", "nothing"])
def test_only_the_sinks_own_files_are_shown(world: sc.Scenario, login: Login, name: str) -> None:
    response = login(world.case_worker).get(f"/dev/mail/{name}")
    assert response.status_code == 404
    assert 'data-testid="failure"' in response.get_data(as_text=True)


def test_the_page_needs_a_login(app: Flask) -> None:
    response = app.test_client().get("/dev/mail")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_without_debug_or_a_mail_folder_there_is_no_such_page(
    database_url: str, connection: sa.Connection, world: sc.Scenario, clock: FixedClock
) -> None:
    production = _app(database_url, connection)
    production.extensions["carepath.clock"] = clock
    assert "demo_mail.index" not in production.view_functions
    client = sc.log_in(production.test_client(), world.case_worker.id or 0, clock.now())
    response = client.get("/dev/mail")
    assert response.status_code == 404
    assert 'href="/dev/mail"' not in client.get("/reminders").get_data(as_text=True)
    get_database(production).dispose()


def test_debug_mode_has_the_page(database_url: str, connection: sa.Connection) -> None:
    debug = _app(database_url, connection, DEBUG=True)
    assert "demo_mail.index" in debug.view_functions
    get_database(debug).dispose()


def test_the_command_is_there(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["demo", "mail-sink", "--help"])
    assert result.exit_code == 0
    assert "--port" in result.output
