"""Screenshots of the main pages in Danish, for the README: ``make screenshots`` (docs/screenshots/).

Serves carepath with the demo data on a fresh SQLite file and a free local port, logs in as the demo roles
in Debian's chromium (Playwright, no browser download) and saves each page at 1280 px.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import threading
from pathlib import Path

from playwright.sync_api import Page, sync_playwright
from werkzeug.serving import make_server

from coordinator import create_app, migrate
from coordinator.db import get_database
from coordinator.demo import DemoLogin, load_demo
from pathways.clock import SystemClock

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "docs" / "screenshots"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


def _log_in(page: Page, base: str, login: DemoLogin) -> None:
    page.context.clear_cookies()
    page.goto(base + "/login")
    page.get_by_label("Brugernavn").fill(login.username)
    page.get_by_label("Adgangskode").fill(login.password)
    page.get_by_role("button", name="Log ind").click()
    page.wait_for_url(base + "/")


def _shot(page: Page, name: str) -> Path:
    page.wait_for_load_state("networkidle")
    path = OUT / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"  {path.relative_to(ROOT)}  ({page.url})")
    return path


def _follow(page: Page, selector: str) -> bool:
    link = page.locator(selector).first
    if link.count() == 0:
        return False
    link.click()
    page.wait_for_load_state("networkidle")
    return True


def take(base: str, logins: dict[str, DemoLogin], page: Page) -> list[Path]:
    shots = [_shot(page, "01-login")] if page.goto(base + "/login") else []
    _log_in(page, base, logins["discharge_nurse"])
    shots.append(_shot(page, "02-ward-worklist"))
    rows = page.get_by_test_id("worklist-row")
    with_plan = rows.filter(has_text="Sendt til parterne").or_(rows.filter(has_text="Kladde"))
    if with_plan.count():  # a patient whose page has a plan to open
        with_plan.first.locator("a").first.click()
        page.wait_for_load_state("networkidle")
    if "/patients/" in page.url or _follow(page, "main a[href^='/patients/']"):
        patient_page = page.url
        shots.append(_shot(page, "03-patient-page"))
        if _follow(page, "main a[href^='/plans/']"):
            shots.append(_shot(page, "04-plan-editor"))
            page.goto(page.url + "/citizen-copy")
            shots.append(_shot(page, "05-citizen-copy"))
        page.goto(patient_page + "/meetings")
        shots.append(_shot(page, "06-network-meetings"))
    page.goto(base + "/reminders")
    shots.append(_shot(page, "07-reminders"))
    _log_in(page, base, logins["case_worker"])
    shots.append(_shot(page, "08-municipality-worklist"))
    _log_in(page, base, logins["gp"])
    shots.append(_shot(page, "09-gp-worklist"))
    for role, path, name in (
        ("org_admin", "/admin", "10-administration"),
        ("auditor", "/admin/audit-log", "11-audit-log"),
    ):
        if role in logins:
            _log_in(page, base, logins[role])
            page.goto(base + path)
            shots.append(_shot(page, name))
    return shots


def main() -> int:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'screenshots.sqlite3'}"
        migrate.upgrade(url)
        app = create_app({"DATABASE_URL": url, "SECRET_KEY": os.urandom(16).hex()})
        with get_database(app).transaction() as session:
            demo = load_demo(session, SystemClock())
        logins = {login.role: login for login in demo.logins}
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{server.server_port}"
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=CHROMIUM,
                    headless=True,
                    args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
                )
                context = browser.new_context(
                    locale="da-DK", viewport={"width": 1280, "height": 900}
                )
                take(base, logins, context.new_page())
                browser.close()
        finally:
            server.shutdown()
            get_database(app).dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
