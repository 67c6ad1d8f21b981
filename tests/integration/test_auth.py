"""Login, lockout, rate limit, CSRF, idle timeout, password changes and admin resets (web and use cases)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import pytest
import sqlalchemy as sa
import structlog
from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from coordinator import create_app
from coordinator.accounts.models import LoginThrottle, User
from coordinator.accounts.services import (
    actor_for,
    authenticate,
    change_own_password,
    create_staff_member,
    hash_password,
    reset_password_by_admin,
    set_password,
    verify_password,
)
from coordinator.audit.models import AuditEntry
from coordinator.audit.services import audit_context
from coordinator.db import get_database
from coordinator.organisations.models import Organisation
from coordinator.security import CLOCK_KEY
from pathways.audit import AuditAction, AuditOutcome
from pathways.clock import FixedClock
from pathways.errors import (
    AccountLocked,
    AuthenticationFailed,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from pathways.login_throttle import FIRST_LOCKOUT, MAX_FAILED_LOGINS
from pathways.people import Actor, ActorKind, Role
from tests.factories import LoginThrottleFactory, UserFactory, WardFactory

PASSWORD = "correct horse battery staple"
WRONG = "incorrect horse battery"
GENERIC = "Forkert brugernavn eller adgangskode"
LOCKED = "Kontoen er midlertidigt låst"
HOME = "127.0.0.1"  # the test client's address


# ---------------------------------------------------------------- helpers
@pytest.fixture
def web(app: Flask, clock: FixedClock, session: Session) -> FlaskClient:
    """A test client whose app reads the test's FixedClock (the one place views take time from)."""
    app.extensions[CLOCK_KEY] = clock
    return app.test_client()


@cache
def _hash(password: str) -> str:
    return hash_password(password)  # argon2 is slow on purpose: hash each test password once


def make_user(username: str = "birgitte", password: str = PASSWORD, **kwargs: Any) -> User:
    user: User = UserFactory(username=username, password_hash=_hash(password), **kwargs)
    return user


def add_throttle(
    user: User,
    *,
    address: str = HOME,
    failed_count: int,
    locked_until: datetime | None = None,
    last_failed_at: datetime | None = None,
) -> LoginThrottle:
    throttle: LoginThrottle = LoginThrottleFactory(
        user=user,
        address=address,
        failed_count=failed_count,
        last_failed_at=last_failed_at or user.created_at,
        locked_until=locked_until,
    )
    return throttle


def throttles(session: Session) -> list[LoginThrottle]:
    return list(session.scalars(sa.select(LoginThrottle).order_by(LoginThrottle.id)))


def csrf_token(client: FlaskClient, path: str = "/login") -> str:
    page = client.get(path).get_data(as_text=True)
    found = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    assert found, f"no CSRF token on {path}"
    return found.group(1)


def post_login(
    client: FlaskClient, username: str, password: str, *, next_url: str | None = None
) -> TestResponse:
    path = "/login" if next_url is None else f"/login?next={next_url}"
    data = {"csrf_token": csrf_token(client), "username": username, "password": password}
    return client.post(path, data=data)


def logged_in_user_id(client: FlaskClient) -> str | None:
    with client.session_transaction() as cookie_session:
        user_id: str | None = cookie_session.get("_user_id")
        return user_id


def error_block(response: TestResponse) -> str:
    found = re.search(
        r'<div class="alert alert-error"[^>]*>\s*<div class="alert-body">(.*?)</div>',
        response.get_data(as_text=True),
        re.S,
    )
    assert found, "no error shown next to the form"
    return " ".join(found.group(1).replace(' class="alert-text"', "").split())


def audit_rows(session: Session) -> list[AuditEntry]:
    return list(session.scalars(sa.select(AuditEntry).order_by(AuditEntry.id)))


def login_rows(session: Session) -> list[AuditEntry]:
    return [e for e in audit_rows(session) if e.action is AuditAction.LOGIN]


# ---------------------------------------------------------------- logging in
def test_login_page_is_danish_and_carries_a_csrf_token(web: FlaskClient) -> None:
    response = web.get("/login")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<h1>Log ind</h1>" in page
    assert "Brugernavn" in page
    assert "Adgangskode" in page
    assert 'autocomplete="current-password"' in page
    assert csrf_token(web)


def test_login_page_in_english_on_request(web: FlaskClient) -> None:
    page = web.get("/login?lang=en").get_data(as_text=True)
    assert "<h1>Log in</h1>" in page
    assert "Username" in page
    make_user()
    assert "Wrong username or password" in error_block(post_login(web, "birgitte", WRONG))


def test_successful_login_starts_a_session_and_is_audited(
    web: FlaskClient, session: Session, clock: FixedClock
) -> None:
    user = make_user()
    add_throttle(user, failed_count=2)
    response = post_login(web, " Birgitte ", PASSWORD)  # usernames are trimmed and lower-cased
    assert response.status_code == 303
    assert response.headers["Location"] == "/"
    assert logged_in_user_id(web) == str(user.id)

    session.refresh(user)
    assert user.last_login_at == clock.now()
    assert throttles(session) == []  # the failures from this address are forgotten
    [entry] = login_rows(session)
    assert (entry.actor_kind, entry.actor_id, entry.actor_name) == (
        ActorKind.USER,
        user.id,
        user.name,
    )
    assert (entry.outcome, entry.resource_type, entry.resource_id) == (
        AuditOutcome.ALLOWED,
        "User",
        str(user.id),
    )
    assert entry.channel == "web"
    assert re.fullmatch(r"[0-9a-f]{32}", entry.request_id)


def test_header_shows_the_logged_in_user_and_a_logout_form(web: FlaskClient) -> None:
    anonymous = web.get("/").get_data(as_text=True)
    assert 'href="/login"' in anonymous
    assert 'action="/logout"' not in anonymous

    user = make_user(name="Birgitte Holm")
    post_login(web, "birgitte", PASSWORD)
    page = web.get("/").get_data(as_text=True)
    assert "Birgitte Holm" in page
    assert user.organisation.name in page
    logout_form = re.search(
        r'<form class="logout[^"]*" method="post" action="/logout">(.*?)</form>', page, re.S
    )
    assert logout_form
    assert 'name="csrf_token"' in logout_form.group(1)
    assert "Log ud" in logout_form.group(1)


@pytest.mark.parametrize(
    ("next_url", "location"),
    [
        ("/account/password", "/account/password"),
        ("https://evil.example/", "/"),
        ("//evil.example/", "/"),
        ("/\\evil.example", "/"),
    ],
)
def test_login_returns_only_to_pages_of_this_site(
    web: FlaskClient, next_url: str, location: str
) -> None:
    make_user()
    response = post_login(web, "birgitte", PASSWORD, next_url=next_url)
    assert response.status_code == 303
    assert response.headers["Location"] == location


def test_wrong_password_unknown_user_and_inactive_user_look_the_same(
    web: FlaskClient, session: Session
) -> None:
    known = make_user()
    make_user(username="gone", is_active=False)
    responses = {
        "wrong password": post_login(web, "birgitte", WRONG),
        "unknown user": post_login(web, "nobody", PASSWORD),
        "inactive user": post_login(web, "gone", PASSWORD),
    }
    assert {name: r.status_code for name, r in responses.items()} == dict.fromkeys(responses, 200)
    assert {name: error_block(r) for name, r in responses.items()} == dict.fromkeys(
        responses, f"<p>{GENERIC}</p>"
    )
    assert logged_in_user_id(web) is None
    denied = login_rows(session)
    assert [(e.outcome, e.actor_id, e.details["reason"]) for e in denied] == [
        (AuditOutcome.DENIED, None, "wrong_password"),
        (AuditOutcome.DENIED, None, "unknown_user"),
        (AuditOutcome.DENIED, None, "inactive"),
    ]
    assert denied[0].resource_id == str(known.id)
    assert denied[1].resource_id == ""  # an unknown name is not recorded: it may be a password


def test_lockout_after_five_failures_even_for_the_right_password_then_unlock(
    web: FlaskClient, session: Session, clock: FixedClock
) -> None:
    user = make_user()
    for _ in range(MAX_FAILED_LOGINS - 1):
        assert error_block(post_login(web, "birgitte", WRONG)) == f"<p>{GENERIC}</p>"
    locked = error_block(post_login(web, "birgitte", WRONG))
    assert locked == (
        "<p>Kontoen er midlertidigt låst for login fra din adresse efter for mange mislykkede "
        "forsøg. Prøv igen om 1 minut.</p>"
    )
    [throttle] = throttles(session)
    assert (throttle.user_id, throttle.address, throttle.failed_count) == (
        user.id,
        HOME,
        MAX_FAILED_LOGINS,
    )
    assert throttle.locked_until == clock.now() + FIRST_LOCKOUT

    refused = post_login(web, "birgitte", PASSWORD)
    assert LOCKED in error_block(refused)
    assert logged_in_user_id(web) is None

    clock.advance(FIRST_LOCKOUT - timedelta(seconds=1))
    assert LOCKED in error_block(post_login(web, "birgitte", PASSWORD))

    clock.advance(timedelta(seconds=1))
    assert post_login(web, "birgitte", PASSWORD).status_code == 303
    assert logged_in_user_id(web) == str(user.id)
    assert throttles(session) == []
    entries = login_rows(session)
    reasons = [e.details.get("reason") for e in entries]
    assert reasons == ["wrong_password"] * 5 + ["locked", "locked", None]
    lockout = entries[4].details  # the lockout is audited with the address it shuts out
    assert lockout == {
        "reason": "wrong_password",
        "failed_login_count": 5,
        "address": HOME,
        "locked_until": clock.now().isoformat(),  # the clock has moved on by the lockout since
        "lockout_seconds": 60,
    }


def test_a_lockout_shuts_out_one_address_not_the_account_nor_the_address(
    app: Flask, web: FlaskClient, session: Session, clock: FixedClock
) -> None:
    """Issue 17 item 6: behind a hospital NAT one person's failures lock out nobody else."""
    victim = make_user(username="overlaege")
    colleague = make_user(username="kollega")
    for _ in range(MAX_FAILED_LOGINS + 3):  # an attacker guessing at the chief physician
        post_login(web, "overlaege", WRONG)
    assert LOCKED in error_block(post_login(web, "overlaege", PASSWORD))

    # A colleague behind the same address logs in at once ...
    assert post_login(web, "kollega", PASSWORD).status_code == 303
    assert logged_in_user_id(web) == str(colleague.id)
    # ... and so does the chief physician from their own address.
    elsewhere = app.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "10.20.30.40"
    assert post_login(elsewhere, "overlaege", PASSWORD).status_code == 303
    assert logged_in_user_id(elsewhere) == str(victim.id)
    # The attacker's address stays shut to that account (attempts while locked are not counted).
    [throttle] = throttles(session)
    assert (throttle.user_id, throttle.address, throttle.failed_count) == (victim.id, HOME, 5)
    assert throttle.locked_until == clock.now() + FIRST_LOCKOUT


def test_the_lockout_doubles_with_every_further_failure_up_to_fifteen_minutes(
    session: Session, clock: FixedClock
) -> None:
    user = make_user()
    for _ in range(MAX_FAILED_LOGINS - 1):
        with pytest.raises(AuthenticationFailed) as caught:
            authenticate(session, clock, "birgitte", WRONG, address=HOME)
        assert not isinstance(caught.value, AccountLocked)
    lockouts = []
    for _ in range(7):
        with pytest.raises(AccountLocked) as locked:
            authenticate(session, clock, "birgitte", WRONG, address=HOME)
        assert locked.value.locked_until is not None
        lockouts.append(locked.value.locked_until - clock.now())
        clock.advance(lockouts[-1])  # wait it out, then fail once more
    assert [int(t.total_seconds() // 60) for t in lockouts] == [1, 2, 4, 8, 15, 15, 15]
    assert authenticate(session, clock, "birgitte", PASSWORD, address=HOME) is user


def test_while_locked_attempts_neither_check_nor_count(session: Session, clock: FixedClock) -> None:
    user = make_user()
    throttle = add_throttle(user, failed_count=6, locked_until=clock.now() + timedelta(minutes=2))
    with pytest.raises(AccountLocked):
        authenticate(session, clock, "birgitte", WRONG, address=HOME)
    assert (throttle.failed_count, throttle.locked_until) == (
        6,
        clock.now() + timedelta(minutes=2),
    )


def test_a_successful_login_resets_the_count_of_failures(
    session: Session, clock: FixedClock
) -> None:
    user = make_user()
    for _ in range(MAX_FAILED_LOGINS - 1):
        with pytest.raises(AuthenticationFailed):
            authenticate(session, clock, "birgitte", WRONG, address=HOME)
    assert authenticate(session, clock, "birgitte", PASSWORD, address=HOME) is user
    assert throttles(session) == []
    for _ in range(MAX_FAILED_LOGINS - 1):  # consecutive failures only
        with pytest.raises(AuthenticationFailed) as caught:
            authenticate(session, clock, "birgitte", WRONG, address=HOME)
        assert not isinstance(caught.value, AccountLocked)
    assert [(t.failed_count, t.locked_until) for t in throttles(session)] == [(4, None)]


def test_failures_older_than_a_day_are_forgotten(session: Session, clock: FixedClock) -> None:
    user = make_user()
    add_throttle(user, failed_count=9, last_failed_at=clock.now() - timedelta(hours=24))
    with pytest.raises(AuthenticationFailed) as caught:
        authenticate(session, clock, "birgitte", WRONG, address=HOME)
    assert not isinstance(caught.value, AccountLocked)
    assert [(t.failed_count, t.locked_until) for t in throttles(session)] == [(1, None)]


def test_unknown_usernames_leave_no_throttle_row(session: Session, clock: FixedClock) -> None:
    for _ in range(MAX_FAILED_LOGINS + 1):  # what was typed may be a password: it is kept nowhere
        with pytest.raises(AuthenticationFailed) as caught:
            authenticate(session, clock, PASSWORD, WRONG, address=HOME)
        assert not isinstance(caught.value, AccountLocked)
    assert throttles(session) == []


def test_an_outdated_hash_is_upgraded_at_login(session: Session, clock: FixedClock) -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(PASSWORD)
    user = UserFactory(username="birgitte", password_hash=weak)
    authenticate(session, clock, "birgitte", PASSWORD, address=HOME)
    assert user.password_hash != weak
    assert not PasswordHasher().check_needs_rehash(user.password_hash)
    assert verify_password(user, PASSWORD)
    assert login_rows(session)[-1].details == {"rehashed": True}


# ---------------------------------------------------------------- rate limit and CSRF
def test_failed_logins_are_rate_limited_per_address(app: Flask, web: FlaskClient) -> None:
    app.config["LOGIN_RATE_LIMIT"] = "3 per hour"
    make_user()
    first = post_login(web, "birgitte", WRONG)
    assert first.headers["X-RateLimit-Limit"] == "3"
    for _ in range(2):
        assert post_login(web, "birgitte", WRONG).status_code == 200
    limited = post_login(web, "birgitte", PASSWORD)  # even the right password now waits
    assert limited.status_code == 429
    assert "For mange mislykkede forsøg fra din adresse" in limited.get_data(as_text=True)
    assert int(limited.headers["Retry-After"]) > 0
    assert logged_in_user_id(web) is None
    other_address = app.test_client()
    other_address.environ_base["REMOTE_ADDR"] = "10.0.0.2"
    assert post_login(other_address, "birgitte", PASSWORD).status_code == 303


def test_by_default_a_nat_address_full_of_typos_does_not_stop_a_colleague(
    web: FlaskClient,
) -> None:
    """Issue 17 item 6: the per-address ceiling is a flood brake, not ten failures a minute."""
    assert web.application.config["LOGIN_RATE_LIMIT"] == "300 per minute"
    make_user()
    make_user(username="kollega")
    for attempt in range(12):  # a ward's worth of typos behind one hospital address
        assert post_login(web, "birgitte" if attempt % 2 else "nobody", WRONG).status_code == 200
    assert post_login(web, "kollega", PASSWORD).status_code == 303


@pytest.fixture
def proxied_app(database_url: str, connection: sa.Connection, clock: FixedClock) -> Iterator[Flask]:
    application = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database_url,
            "SECRET_KEY": "test",
            "TRUSTED_PROXY_COUNT": 1,
        }
    )
    database = get_database(application)
    database.sessionmaker.configure(bind=connection, join_transaction_mode="create_savepoint")
    application.extensions[CLOCK_KEY] = clock
    yield application
    database.dispose()


def test_behind_a_trusted_proxy_the_forwarded_address_counts(
    proxied_app: Flask, session: Session
) -> None:
    user = make_user()
    client = proxied_app.test_client()
    # The client wrote the first address itself; our one proxy appended the one it saw.
    spoofed = {"X-Forwarded-For": "198.51.100.1, 203.0.113.7"}
    data = {"csrf_token": csrf_token(client), "username": "birgitte", "password": WRONG}
    assert client.post("/login", data=data, headers=spoofed).status_code == 200
    assert [(t.user_id, t.address) for t in throttles(session)] == [(user.id, "203.0.113.7")]


def test_without_trusted_proxies_x_forwarded_for_is_ignored(
    web: FlaskClient, session: Session
) -> None:
    assert web.application.config["TRUSTED_PROXY_COUNT"] == 0
    make_user()
    data = {"csrf_token": csrf_token(web), "username": "birgitte", "password": WRONG}
    web.post("/login", data=data, headers={"X-Forwarded-For": "203.0.113.7"})
    assert [t.address for t in throttles(session)] == [HOME]


@pytest.mark.parametrize("count", [-1, "1", True])
def test_a_bad_trusted_proxy_count_stops_the_start(database_url: str, count: object) -> None:
    with pytest.raises(ValueError, match="TRUSTED_PROXY_COUNT must be a whole number from 0"):
        create_app({"TESTING": True, "DATABASE_URL": database_url, "TRUSTED_PROXY_COUNT": count})


def test_successful_logins_do_not_use_up_the_allowance(app: Flask, web: FlaskClient) -> None:
    app.config["LOGIN_RATE_LIMIT"] = "2 per hour"
    make_user()
    for _ in range(4):  # a whole ward logging in at the start of a shift from one address
        assert post_login(web, "birgitte", PASSWORD).status_code == 303
        web.post("/logout", data={"csrf_token": csrf_token(web, "/")})


def test_posts_without_a_csrf_token_are_refused(web: FlaskClient, session: Session) -> None:
    make_user()
    response = web.post("/login", data={"username": "birgitte", "password": PASSWORD})
    assert response.status_code == 400
    assert "Formularen er udløbet" in response.get_data(as_text=True)
    assert logged_in_user_id(web) is None
    assert audit_rows(session) == []

    post_login(web, "birgitte", PASSWORD)
    assert web.post("/logout").status_code == 400
    assert web.post("/logout", data={"csrf_token": "forged"}).status_code == 400
    assert logged_in_user_id(web) is not None


def test_csrf_can_be_switched_off_per_test(app: Flask, web: FlaskClient) -> None:
    app.config["WTF_CSRF_ENABLED"] = False
    make_user()
    response = web.post("/login", data={"username": "birgitte", "password": PASSWORD})
    assert response.status_code == 303


# ---------------------------------------------------------------- session
def test_idle_session_is_logged_out_with_a_message(web: FlaskClient, clock: FixedClock) -> None:
    make_user(name="Birgitte Holm")
    post_login(web, "birgitte", PASSWORD)
    for _ in range(3):  # activity keeps the session alive, however long it lasts in total
        clock.advance(timedelta(minutes=29))
        assert "Birgitte Holm" in web.get("/").get_data(as_text=True)

    clock.advance(timedelta(minutes=30, seconds=1))
    response = web.get("/account/password")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/account/password"
    assert logged_in_user_id(web) is None
    page = web.get(response.headers["Location"]).get_data(as_text=True)
    assert "Du blev logget ud efter 30 minutter uden aktivitet." in page
    assert "Birgitte Holm" not in page


def test_idle_limit_comes_from_config(app: Flask, web: FlaskClient, clock: FixedClock) -> None:
    app.config["SESSION_IDLE_MINUTES"] = 5
    make_user()
    post_login(web, "birgitte", PASSWORD)
    clock.advance(timedelta(minutes=5, seconds=1))
    assert web.get("/").status_code == 302
    assert logged_in_user_id(web) is None


def test_deactivated_user_loses_the_session(web: FlaskClient, session: Session) -> None:
    user = make_user(name="Birgitte Holm")
    post_login(web, "birgitte", PASSWORD)
    user.is_active = False
    session.flush()
    assert "Birgitte Holm" not in web.get("/").get_data(as_text=True)
    response = web.get("/account/password")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_pages_that_need_a_login_send_to_the_login_page(web: FlaskClient) -> None:
    response = web.get("/account/password")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/account/password"
    assert "Log ind for at se denne side." in web.get("/login").get_data(as_text=True)


def test_logout_needs_a_post(web: FlaskClient) -> None:
    make_user(name="Birgitte Holm")
    post_login(web, "birgitte", PASSWORD)
    assert web.get("/logout").status_code == 405
    assert logged_in_user_id(web) is not None

    response = web.post("/logout", data={"csrf_token": csrf_token(web, "/")})
    assert response.status_code == 303
    assert response.headers["Location"] == "/login"
    assert logged_in_user_id(web) is None
    page = web.get("/login").get_data(as_text=True)
    assert "Du er logget ud." in page
    assert "Birgitte Holm" not in page


def test_cookies_and_headers(app: Flask, web: FlaskClient) -> None:
    make_user()
    response = post_login(web, "birgitte", PASSWORD)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie
    assert web.get("/").headers["Cache-Control"] == "no-store"  # a logged-in page

    app.config["SESSION_COOKIE_SECURE"] = True
    secure = app.test_client()
    assert "Secure" in post_login(secure, "birgitte", PASSWORD).headers["Set-Cookie"]


def test_request_id_in_response_audit_and_log_context(web: FlaskClient, session: Session) -> None:
    make_user()
    token = csrf_token(web)
    response = web.post(
        "/login",
        data={"csrf_token": token, "username": "birgitte", "password": PASSWORD},
        headers={"X-Request-ID": "proxy-7f3a.1"},
    )
    assert response.headers["X-Request-ID"] == "proxy-7f3a.1"
    assert login_rows(session)[0].request_id == "proxy-7f3a.1"

    made_up = web.get("/healthz", headers={"X-Request-ID": "<script>"}).headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", made_up)
    assert web.get("/healthz").headers["X-Request-ID"] != made_up
    # An offered id with a CPR number in it is not taken (it would be masked in the logs, or leak).
    offered_cpr = web.get("/healthz", headers={"X-Request-ID": "req-0101701235"})
    assert offered_cpr.headers["X-Request-ID"] != "req-0101701235"
    # Nothing of the request lingers in this thread once it is over.
    assert audit_context.get().channel == "cli"
    assert "request_id" not in structlog.contextvars.get_contextvars()


# ---------------------------------------------------------------- changing passwords
def test_temporary_password_forces_the_change_page_first(
    web: FlaskClient, session: Session, clock: FixedClock
) -> None:
    user = make_user(must_change_password=True)
    response = post_login(web, "birgitte", PASSWORD, next_url="/")
    assert response.headers["Location"] == "/account/password"
    assert web.get("/").headers["Location"] == "/account/password"
    assert web.get("/login").headers["Location"] == "/account/password"
    assert web.get("/healthz").status_code == 200
    page = web.get("/account/password").get_data(as_text=True)
    assert "Du skal vælge en ny adgangskode, før du fortsætter." in page

    def change(current: str, new: str, repeat: str | None = None) -> TestResponse:
        data = {
            "csrf_token": csrf_token(web, "/account/password"),
            "current_password": current,
            "new_password": new,
            "repeat_password": new if repeat is None else repeat,
        }
        return web.post("/account/password", data=data)

    assert "Den nuværende adgangskode er forkert" in change(WRONG, "a brand new passphrase").text
    assert "Brug mindst 12 tegn" in change(PASSWORD, "short").text
    assert "Vælg en anden adgangskode end den nuværende" in change(PASSWORD, PASSWORD).text
    mismatch = change(PASSWORD, "a brand new passphrase", "a brand new passphrasE")
    assert "De to nye adgangskoder er ikke ens" in mismatch.text
    session.refresh(user)
    assert user.must_change_password is True

    done = change(PASSWORD, "a brand new passphrase")
    assert done.status_code == 303
    assert done.headers["Location"] == "/"
    home = web.get("/")
    assert home.status_code == 200
    assert "Din adgangskode er ændret." in home.text
    session.refresh(user)
    assert user.must_change_password is False
    assert user.password_changed_at == clock.now()
    assert verify_password(user, "a brand new passphrase")
    assert not verify_password(user, PASSWORD)


def test_change_own_password_reports_every_bad_field(session: Session, clock: FixedClock) -> None:
    user = make_user()
    before = user.password_hash
    with pytest.raises(ValidationFailed) as caught:
        change_own_password(session, user, clock, WRONG, "short")
    assert [(e.field, e.code) for e in caught.value.errors] == [
        ("current_password", "wrong"),
        ("new_password", "too-short"),
    ]
    assert user.password_hash == before
    assert audit_rows(session) == []


def test_changing_password_is_audited_against_the_user(session: Session, clock: FixedClock) -> None:
    user = make_user(must_change_password=True)
    change_own_password(session, user, clock, PASSWORD, "a brand new passphrase")
    [entry] = audit_rows(session)
    assert (entry.action, entry.actor_id, entry.resource_id, entry.details) == (
        AuditAction.UPDATE,
        user.id,
        str(user.id),
        {"field": "password"},
    )


# ---------------------------------------------------------------- password strength
WEAK_PASSWORDS = [
    ("aaaaaaaaaaaa", "weak-repeat"),
    ("password1234", "weak-common"),
    ("carepath2026!", "weak-personal"),  # the product's name
    ("birgitteholm2026", "weak-personal"),  # the user's own name and a year
    ("Birgitte1975", "weak-personal"),
    ("holm@regionh.example", "weak-personal"),  # the e-mail address
]


def _named_user() -> User:
    return make_user(name="Birgitte Holm", email="holm@regionh.example")


@pytest.mark.parametrize(("password", "code"), WEAK_PASSWORDS)
def test_change_own_password_refuses_guessable_passwords(
    session: Session, clock: FixedClock, password: str, code: str
) -> None:
    user = _named_user()
    before = user.password_hash
    with pytest.raises(ValidationFailed) as caught:
        change_own_password(session, user, clock, PASSWORD, password)
    [error] = caught.value.errors
    assert (error.field, error.code) == ("new_password", code)
    assert error.message.startswith("password is too easy to guess: ")
    assert (user.password_hash, user.password_changed_at) == (before, None)
    assert audit_rows(session) == []


@pytest.mark.parametrize(("password", "code"), WEAK_PASSWORDS)
def test_admin_reset_refuses_guessable_passwords(
    session: Session, clock: FixedClock, password: str, code: str
) -> None:
    user = _named_user()
    before = user.password_hash
    admin = _admin(Role.SYSTEM_ADMIN, user.organisation)
    with pytest.raises(ValidationFailed) as caught:
        reset_password_by_admin(session, admin, clock, user.id, password)
    assert [(e.field, e.code) for e in caught.value.errors] == [("new_password", code)]
    assert (user.password_hash, user.must_change_password) == (before, False)
    assert [e for e in audit_rows(session) if e.action is AuditAction.UPDATE] == []


def test_the_organisation_name_is_a_personal_word_too(session: Session, clock: FixedClock) -> None:
    organisation = WardFactory(name="Psykiatrisk Center Amager")
    user = make_user(organisation=organisation)
    with pytest.raises(ValidationFailed) as caught:
        change_own_password(session, user, clock, PASSWORD, "amager12345!")
    assert [e.code for e in caught.value.errors] == ["weak-personal"]


@pytest.mark.parametrize(("password", "code"), WEAK_PASSWORDS)
def test_admin_creating_an_account_refuses_guessable_passwords(
    session: Session, clock: FixedClock, password: str, code: str
) -> None:
    organisation = WardFactory()
    admin = _admin(Role.SYSTEM_ADMIN, organisation)
    with pytest.raises(ValidationFailed) as caught:
        create_staff_member(
            session,
            admin,
            clock,
            organisation_id=organisation.id,
            name="Birgitte Holm",
            role="discharge_nurse",
            email="holm@regionh.example",
            username="bholm",
            password=password,
        )
    assert [(e.field, e.code) for e in caught.value.errors] == [("password", code)]
    assert session.scalar(sa.select(User.id).where(User.username == "bholm")) is None


def test_set_password_refuses_a_guessable_password(session: Session, clock: FixedClock) -> None:
    user = _named_user()
    before = user.password_hash
    admin = _admin(Role.SYSTEM_ADMIN, user.organisation)
    with pytest.raises(ValidationFailed) as caught:
        set_password(session, admin, clock, user, "password1234")
    assert [(e.field, e.code) for e in caught.value.errors] == [("password", "weak-common")]
    assert user.password_hash == before


def test_change_password_page_says_why_a_password_is_weak(web: FlaskClient) -> None:
    _named_user()
    post_login(web, "birgitte", PASSWORD)

    def change(new: str, lang: str = "da") -> str:
        data = {
            "csrf_token": csrf_token(web, "/account/password"),
            "current_password": PASSWORD,
            "new_password": new,
            "repeat_password": new,
        }
        return web.post(f"/account/password?lang={lang}", data=data).get_data(as_text=True)

    danish = change("carepath2026!")
    assert (
        "Adgangskoden er for let at gætte. Den indeholder dit navn, dit brugernavn, din "
        "e-mailadresse, din organisation eller produktets navn. Tilføj et eller to ord mere; "
        "usædvanlige ord er bedst."
    ) in danish
    assert "Den er en almindelig adgangskode eller ligner en." in change("password1234")
    assert "Den gentager tegn eller ord." in change("aaaaaaaaaaaa")
    english = change("password1234", "en")
    assert (
        "The password is too easy to guess. It is a common password or close to one. "
        "Add another word or two; uncommon words are better."
    ) in english
    assert logged_in_user_id(web) is not None


# ---------------------------------------------------------------- admin reset
def _admin(role: Role, organisation: Organisation) -> Actor:
    return actor_for(UserFactory(role=role, organisation=organisation))


def test_org_admin_resets_a_password_in_their_own_organisation(
    session: Session, clock: FixedClock
) -> None:
    user = make_user()
    add_throttle(user, failed_count=7, locked_until=clock.now() + timedelta(minutes=3))
    add_throttle(user, address="10.0.0.9", failed_count=2)
    admin = _admin(Role.ORG_ADMIN, user.organisation)
    reset_password_by_admin(session, admin, clock, user.id, "temporary passphrase 1")
    assert user.must_change_password is True
    assert user.password_changed_at == clock.now()
    assert throttles(session) == []  # a reset lifts the lockouts too
    assert authenticate(session, clock, "birgitte", "temporary passphrase 1", address=HOME) is user
    entry = next(e for e in audit_rows(session) if e.action is AuditAction.UPDATE)
    assert (entry.actor_id, entry.actor_name, entry.resource_id) == (
        admin.id,
        admin.name,
        str(user.id),
    )


def test_org_admin_of_another_organisation_may_not_reset(
    session: Session, clock: FixedClock
) -> None:
    user = make_user()
    before = user.password_hash
    admin = _admin(Role.ORG_ADMIN, WardFactory())
    with pytest.raises(PermissionDenied, match="their own organisation"):
        reset_password_by_admin(session, admin, clock, user.id, "temporary passphrase 1")
    assert (user.password_hash, user.must_change_password) == (before, False)
    assert audit_rows(session) == []


def test_system_admin_resets_anyone_and_others_may_not(session: Session, clock: FixedClock) -> None:
    user = make_user()
    system_admin = _admin(Role.SYSTEM_ADMIN, WardFactory())
    reset_password_by_admin(session, system_admin, clock, user.id, "temporary passphrase 1")
    assert user.must_change_password is True

    colleague = _admin(Role.DISCHARGE_NURSE, user.organisation)
    with pytest.raises(PermissionDenied, match="may not manage users"):
        reset_password_by_admin(session, colleague, clock, user.id, "temporary passphrase 2")
    with pytest.raises(NotFound, match="user 424242 does not exist"):
        reset_password_by_admin(session, system_admin, clock, 424242, "temporary passphrase 2")
    with pytest.raises(ValidationFailed) as caught:
        reset_password_by_admin(session, system_admin, clock, user.id, "short")
    assert caught.value.fields == ("new_password",)
    assert verify_password(user, "temporary passphrase 1")


# ---------------------------------------------------------------- the password is kept nowhere
@pytest.fixture
def captured_logs() -> Iterator[list[dict[str, Any]]]:
    with structlog.testing.capture_logs(
        processors=[structlog.contextvars.merge_contextvars]
    ) as logs:
        yield logs


def test_passwords_never_reach_the_audit_log_the_logs_or_the_database(
    web: FlaskClient,
    session: Session,
    clock: FixedClock,
    captured_logs: list[dict[str, Any]],
) -> None:
    user = make_user()
    admin = _admin(Role.SYSTEM_ADMIN, user.organisation)
    temporary, chosen = "temporary passphrase 1", "my own new passphrase"
    secrets = [PASSWORD, WRONG, temporary, chosen]

    post_login(web, PASSWORD, WRONG)  # the password typed into the username field
    post_login(web, "birgitte", WRONG)
    post_login(web, "birgitte", PASSWORD)
    web.post(
        "/account/password",
        data={
            "csrf_token": csrf_token(web, "/account/password"),
            "current_password": PASSWORD,
            "new_password": temporary,
            "repeat_password": temporary,
        },
    )
    reset_password_by_admin(session, admin, clock, user.id, temporary)
    change_own_password(session, user, clock, temporary, chosen)
    session.flush()

    entries = audit_rows(session)
    assert len(entries) == 6  # 3 logins, a change on the web, a reset, a change
    stored_audit = json.dumps(
        [
            {c.key: str(getattr(e, c.key)) for c in sa.inspect(AuditEntry).column_attrs}
            for e in entries
        ]
    )
    stored_users = json.dumps(
        [
            {c.key: str(getattr(u, c.key)) for c in sa.inspect(User).column_attrs}
            for u in session.scalars(sa.select(User))
        ]
    )
    logged = json.dumps(captured_logs, default=str)
    assert {e["event"] for e in captured_logs} >= {"login.refused", "login.succeeded"}
    assert all(e.get("request_id") for e in captured_logs)
    for secret in secrets:
        assert secret not in stored_audit
        assert secret not in stored_users
        assert secret not in logged
    session.refresh(user)
    assert user.password_hash is not None
    assert user.password_hash.startswith("$argon2id$")


# ---------------------------------------------------------------- command line
def test_cli_lists_and_lifts_the_lockouts_of_a_user(
    app: Flask, session: Session, clock: FixedClock
) -> None:
    user = make_user()
    other = make_user(username="kollega")
    later = datetime.now(UTC) + timedelta(minutes=10)  # the command runs on the system clock
    add_throttle(user, failed_count=6, locked_until=later)
    add_throttle(user, address="10.0.0.9", failed_count=2)
    kept = add_throttle(other, failed_count=5, locked_until=later)
    runner = app.test_cli_runner()

    listed = runner.invoke(args=["accounts", "locks"])
    assert listed.exit_code == 0, listed.output
    assert [line.split()[:3] for line in listed.output.splitlines()] == [
        ["birgitte", HOME, "6"],
        ["kollega", HOME, "5"],
    ]

    done = runner.invoke(args=["accounts", "unlock", " Birgitte "])
    assert done.exit_code == 0, done.output
    assert done.output == "birgitte: 2 lockout(s) lifted\n"
    assert throttles(session) == [kept]
    entry = audit_rows(session)[-1]
    assert (entry.actor_kind, entry.actor_name, entry.resource_id, entry.details) == (
        ActorKind.SYSTEM,
        "cli",
        str(user.id),
        {"field": "login_lock", "lifted": ["10.0.0.9", HOME]},
    )

    unknown = runner.invoke(args=["accounts", "unlock", "nobody"])
    assert unknown.exit_code == 1
    assert "no account with the username nobody" in unknown.output


def test_a_made_up_request_id_is_never_cpr_shaped(monkeypatch: pytest.MonkeyPatch) -> None:
    """uuid4's hex may hold ten digits in a row; such an id is drawn again (the log would mask it)."""
    import uuid

    from coordinator import security

    drawn = iter(
        [
            uuid.UUID("0101701235abcdefabcdefabcdefabcd"),
            uuid.UUID("abcdef0123abcdef0123abcdef0123ab"),
        ]
    )
    monkeypatch.setattr(security.uuid, "uuid4", lambda: next(drawn))
    assert security.new_request_id() == "abcdef0123abcdef0123abcdef0123ab"
