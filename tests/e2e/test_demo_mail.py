"""Demo mail in the browser: a site started as `make run` starts it (DEMO_MAIL_DIR set, SMTP pointed at
the sink) shows a reminder mail on /dev/mail, and its link opens the reminder; axe-core on the pages."""

from __future__ import annotations

import smtplib
import threading
import time
from collections.abc import Iterator
from email.message import EmailMessage

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect
from werkzeug.serving import make_server

from coordinator import create_app, migrate
from coordinator.accounts.models import User
from coordinator.db import get_database
from coordinator.demo import DemoLogin, load_demo
from coordinator.demo.mail import list_mails, start_sink
from coordinator.reminders.models import Reminder
from pathways.clock import SystemClock
from tests.conftest import fresh_database_url
from tests.e2e.conftest import assert_accessible, log_in
from tests.smtp import free_port


@pytest.fixture(scope="module")
def mail_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, DemoLogin, int]]:
    """A site of its own with the demo data and a sink that already holds one reminder mail: its base
    URL, the case worker's login, and the mailed reminder's id."""
    folder = tmp_path_factory.mktemp("demo-mail")
    url = fresh_database_url(None, folder, "demo_mail")
    migrate.upgrade(url)
    port = free_port()
    base = f"http://127.0.0.1:{free_port()}"
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": url,
            "SECRET_KEY": "e2e-mail",
            "DEMO_MAIL_DIR": str(folder / "mail"),
            "PUBLIC_BASE_URL": base,
        }
    )
    with get_database(app).transaction() as session:
        demo = load_demo(session, SystemClock())
    case_worker = next(login for login in demo.logins if login.role == "case_worker")
    with get_database(app).transaction() as session:
        reminder_id = session.scalars(
            sa.select(Reminder.id)
            .join(User, User.organisation_id == Reminder.owner_organisation_id)
            .where(User.username == case_worker.username)
            .order_by(Reminder.id)
        ).first()
    assert reminder_id is not None
    sink = start_sink(folder / "mail", port=port)
    mail = EmailMessage()
    mail["From"] = "carepath <carepath@localhost>"
    mail["To"] = "psyk@example.dk"
    mail["Subject"] = f"carepath: R-{reminder_id} (haster)"
    mail.set_content(
        f"Der er en påmindelse til dig i carepath.\nÅbn: {base}/reminders/{reminder_id}\n"
    )
    with smtplib.SMTP("127.0.0.1", port, timeout=5) as client:
        client.send_message(mail)
    deadline = time.monotonic() + 5
    while not list_mails(folder / "mail"):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    server = make_server("127.0.0.1", int(base.rsplit(":", 1)[1]), app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield base, case_worker, reminder_id
    server.shutdown()
    thread.join(timeout=5)
    sink.stop()
    get_database(app).dispose()


def test_the_mail_arrives_on_dev_mail_and_its_link_opens_the_reminder(
    mail_site: tuple[str, DemoLogin, int], page: Page
) -> None:
    base, case_worker, reminder_id = mail_site
    log_in(page, base, case_worker)
    page.get_by_role("navigation", name="Hovedmenu").get_by_role(
        "link", name="Sendte mails"
    ).click()
    expect(page.locator("h1")).to_have_text("Sendte mails")
    expect(page.get_by_test_id("mail-row")).to_have_count(1)
    assert_accessible(page)
    page.get_by_role("link", name=f"carepath: R-{reminder_id} (haster)").click()
    expect(page.get_by_test_id("mail-text")).to_contain_text("Der er en påmindelse til dig")
    assert_accessible(page)
    page.get_by_test_id("mail-text").get_by_role("link").click()
    expect(page).to_have_url(f"{base}/reminders/{reminder_id}")
    expect(page.get_by_test_id("reminder-card")).to_be_visible()
