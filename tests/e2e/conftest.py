"""A real server on a free local port and Debian's chromium driven by Playwright (no browser download)."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from flask import Flask
from playwright.sync_api import Browser, Page, sync_playwright
from werkzeug.serving import make_server

from coordinator import create_app, migrate
from coordinator.db import get_database
from coordinator.demo import DemoLogin, DemoResult, load_demo
from pathways.clock import SystemClock
from tests.conftest import fresh_database_url

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
# The axe-core rule sets of WCAG 2.1 A and AA (and 2.0, which 2.1 includes).
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
# The live server's app, for fixtures that add their own rows (get_database(app).transaction()).
LIVE_APP: dict[str, Flask] = {}


@pytest.fixture(scope="session")
def live_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, DemoResult]]:
    """The server's base URL and what load_demo created (with the demo logins' fresh passwords)."""
    url = fresh_database_url(
        os.environ.get("TEST_DATABASE_URL"), tmp_path_factory.mktemp("e2e"), "e2e"
    )
    migrate.upgrade(url)
    app = create_app({"TESTING": True, "DATABASE_URL": url, "SECRET_KEY": "e2e"})
    LIVE_APP["app"] = app
    with get_database(app).transaction() as session:
        demo = load_demo(session, SystemClock())
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", demo
    server.shutdown()
    thread.join(timeout=5)
    get_database(app).dispose()


@pytest.fixture(scope="session")
def live_app(live_site: tuple[str, DemoResult]) -> Flask:
    """The live server's app: ``get_database(live_app).transaction()`` adds data a test needs. Add no
    patients (other tests count the demo's); prefer new stays or plans of demo patients."""
    return LIVE_APP["app"]


@pytest.fixture(scope="session")
def live_server(live_site: tuple[str, DemoResult]) -> str:
    return live_site[0]


@pytest.fixture(scope="session")
def demo_logins(live_site: tuple[str, DemoResult]) -> dict[str, DemoLogin]:
    """The live server's demo logins by role value (e.g. "discharge_nurse")."""
    return {login.role: login for login in live_site[1].logins}


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (CI does this in .ci/run)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-dev-shm-usage",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
            ],
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(locale="da-DK")
    tab = context.new_page()
    yield tab
    context.close()


def log_in(page: Page, live_server: str, login: DemoLogin) -> None:
    """Log in through the login form (Danish labels) and land on the start page (the worklist)."""
    page.goto(live_server + "/login")
    page.get_by_label("Brugernavn").fill(login.username)
    page.get_by_label("Adgangskode").fill(login.password)
    page.get_by_role("button", name="Log ind").click()
    page.wait_for_url(live_server + "/")


def assert_accessible(page: Page) -> None:
    """axe-core (WCAG 2.1 AA rules) on the page as it is now: no serious or critical violation."""
    result = Axe().run(page, options={"runOnly": {"type": "tag", "values": AXE_TAGS}})
    serious = [
        (v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
        for v in result.response["violations"]
        if v["impact"] in {"serious", "critical"}
    ]
    assert serious == [], f"axe-core on {page.url}: {serious}"
