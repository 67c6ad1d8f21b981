"""Time is passed in (clock), and who may do what (permissions)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from pathways.clock import COPENHAGEN, FixedClock, SystemClock, ensure_utc, to_copenhagen
from pathways.errors import PermissionDenied
from pathways.people import Actor, ActorKind, Role
from pathways.permissions import ROLE_PERMISSIONS, Permission, has_permission, require

PLUS_ONE = timezone(timedelta(hours=1))
NOON_UTC = datetime(2025, 1, 15, 12, 0, tzinfo=UTC)

# ------------------------------------------------------------------------------------------- clock


def test_fixed_clock_returns_utc() -> None:
    clock = FixedClock(NOON_UTC)
    assert clock.now() == NOON_UTC
    assert clock.now().tzinfo is UTC


def test_fixed_clock_converts_an_aware_start_to_utc() -> None:
    clock = FixedClock(datetime(2025, 1, 15, 13, 0, tzinfo=PLUS_ONE))
    assert clock.now() == NOON_UTC
    assert clock.now().tzinfo is UTC
    assert clock.now().hour == 12


def test_fixed_clock_stands_still() -> None:
    clock = FixedClock(NOON_UTC)
    assert clock.now() == clock.now() == NOON_UTC


def test_fixed_clock_advance() -> None:
    clock = FixedClock(NOON_UTC)
    clock.advance(timedelta(hours=2, minutes=30))
    assert clock.now() == datetime(2025, 1, 15, 14, 30, tzinfo=UTC)
    assert clock.now().tzinfo is UTC
    clock.advance(timedelta(days=-1))
    assert clock.now() == datetime(2025, 1, 14, 14, 30, tzinfo=UTC)


def test_fixed_clock_set() -> None:
    clock = FixedClock(NOON_UTC)
    clock.set(datetime(2025, 7, 1, 9, 0, tzinfo=COPENHAGEN))  # CEST, UTC+2
    assert clock.now() == datetime(2025, 7, 1, 7, 0, tzinfo=UTC)
    assert clock.now().tzinfo is UTC


def test_fixed_clock_rejects_naive_datetimes() -> None:
    naive = datetime(2025, 1, 15, 12, 0)  # noqa: DTZ001
    with pytest.raises(ValueError, match="naive datetime"):
        FixedClock(naive)
    clock = FixedClock(NOON_UTC)
    with pytest.raises(ValueError, match="naive datetime"):
        clock.set(naive)
    assert clock.now() == NOON_UTC


def test_ensure_utc_rejects_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="has no timezone"):
        ensure_utc(datetime(2025, 1, 15, 12, 0))  # noqa: DTZ001


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (datetime(2025, 1, 15, 13, 0, tzinfo=PLUS_ONE), NOON_UTC),
        (datetime(2025, 1, 15, 0, 30, tzinfo=PLUS_ONE), datetime(2025, 1, 14, 23, 30, tzinfo=UTC)),
        (datetime(2025, 1, 15, 13, 0, tzinfo=COPENHAGEN), NOON_UTC),  # CET, UTC+1
        (datetime(2025, 7, 15, 14, 0, tzinfo=COPENHAGEN), datetime(2025, 7, 15, 12, 0, tzinfo=UTC)),
        (NOON_UTC, NOON_UTC),
    ],
)
def test_ensure_utc_converts_to_utc(value: datetime, expected: datetime) -> None:
    result = ensure_utc(value)
    assert result == expected
    assert result.tzinfo is UTC
    assert (result.hour, result.minute) == (expected.hour, expected.minute)


@pytest.mark.parametrize(
    ("value", "hour"),
    [(NOON_UTC, 13), (datetime(2025, 7, 15, 12, 0, tzinfo=UTC), 14)],
)
def test_to_copenhagen(value: datetime, hour: int) -> None:
    local = to_copenhagen(value)
    assert local == value
    assert local.hour == hour
    assert local.tzinfo is COPENHAGEN


def test_system_clock_is_aware_utc() -> None:
    assert SystemClock().now().tzinfo is UTC


# ------------------------------------------------------------------------------------- permissions

P = Permission
# The authorisation table by role, written out independently of pathways/permissions.py.
EXPECTED_PERMISSIONS: dict[Role, set[Permission]] = {
    Role.DISCHARGE_NURSE: {
        P.REGISTER_PATIENT,
        P.RECORD_PATHWAY_EVENT,
        P.READ_PLAN,
        P.CREATE_PLAN,
        P.EDIT_PLAN,
        P.RESPOND_TO_PLAN,
        P.RECORD_PARTICIPATION,
        P.ACTIVATE_PLAN,
        P.END_PLAN,
        P.MANAGE_CONTACTS,
        P.HANDLE_REMINDERS,
        P.READ_MEETINGS,
        P.MANAGE_MEETINGS,
        P.MANAGE_MEETING_ACTIONS,
    },
    Role.CHIEF_PHYSICIAN: {
        P.REGISTER_PATIENT,
        P.RECORD_PATHWAY_EVENT,
        P.READ_PLAN,
        P.CREATE_PLAN,
        P.EDIT_PLAN,
        P.RESPOND_TO_PLAN,
        P.RECORD_PARTICIPATION,
        P.ACTIVATE_PLAN,
        P.END_PLAN,
        P.MANAGE_CONTACTS,
        P.ASSESS_REQUIREMENT,
        P.HANDLE_REMINDERS,
        P.READ_MEETINGS,
        P.MANAGE_MEETINGS,
        P.MANAGE_MEETING_ACTIONS,
    },
    Role.WARD_STAFF: {
        P.REGISTER_PATIENT,
        P.RECORD_PATHWAY_EVENT,
        P.READ_PLAN,
        P.EDIT_PLAN,
        P.HANDLE_REMINDERS,
        P.READ_MEETINGS,
        P.MANAGE_MEETINGS,
        P.MANAGE_MEETING_ACTIONS,
    },
    Role.CASE_WORKER: {
        P.REGISTER_PATIENT,
        P.READ_PLAN,
        P.EDIT_PLAN,
        P.RESPOND_TO_PLAN,
        P.END_PLAN,
        P.MANAGE_CONTACTS,
        P.HANDLE_REMINDERS,
        P.READ_MEETINGS,
        P.MANAGE_MEETINGS,
        P.MANAGE_MEETING_ACTIONS,
    },
    Role.SUPPORT_WORKER: {
        P.READ_PLAN,
        P.HANDLE_REMINDERS,
        P.READ_MEETINGS,
        P.MANAGE_MEETINGS,
        P.MANAGE_MEETING_ACTIONS,
    },
    Role.GP: {
        P.READ_PLAN,
        P.EDIT_PLAN,
        P.RESPOND_TO_PLAN,
        P.MANAGE_CONTACTS,
        P.HANDLE_REMINDERS,
        P.READ_MEETINGS,
        P.MANAGE_MEETINGS,
        P.MANAGE_MEETING_ACTIONS,
    },
    Role.PRACTICE_STAFF: {P.READ_PLAN, P.HANDLE_REMINDERS, P.READ_MEETINGS},
    Role.ORG_ADMIN: {P.MANAGE_USERS},
    Role.SYSTEM_ADMIN: set(Permission),
    Role.AUDITOR: set(),
}


def _user(role: Role | None, name: str = "Someone") -> Actor:
    return Actor(kind=ActorKind.USER, name=name, id=1, organisation_id=1, role=role)


def test_permission_table_is_what_the_tests_expect() -> None:
    assert ROLE_PERMISSIONS == EXPECTED_PERMISSIONS


@pytest.mark.parametrize(
    ("role", "permission", "allowed"),
    [(r, p, p in perms) for r, perms in EXPECTED_PERMISSIONS.items() for p in Permission],
)
def test_require_by_role(role: Role, permission: Permission, allowed: bool) -> None:
    actor = _user(role)
    assert has_permission(actor, permission) is allowed
    if allowed:
        assert require(actor, permission) is None
    else:
        with pytest.raises(PermissionDenied) as exc:
            require(actor, permission)
        assert exc.value.code == "permission-denied"


def test_a_gp_may_not_manage_organisations() -> None:
    with pytest.raises(PermissionDenied) as exc:
        require(_user(Role.GP, "Dr. Jensen"), Permission.MANAGE_ORGANISATIONS)
    assert exc.value.message == "Dr. Jensen (gp) may not manage organisations"


def test_a_user_without_a_role_may_do_nothing() -> None:
    for permission in Permission:
        with pytest.raises(PermissionDenied) as exc:
            require(_user(None, "Ghost"), permission)
        assert exc.value.message == (
            f"Ghost (no role) may not {permission.value.replace('_', ' ')}"
        )


@pytest.mark.parametrize("permission", list(Permission))
def test_system_actor_may_do_everything(permission: Permission) -> None:
    assert require(Actor.system("x"), permission) is None
    # the system actor passes on its kind, whatever role it carries
    assert require(Actor(kind=ActorKind.SYSTEM, name="job"), permission) is None


@pytest.mark.parametrize("permission", list(Permission))
def test_system_admin_role_may_do_everything(permission: Permission) -> None:
    assert require(_user(Role.SYSTEM_ADMIN), permission) is None
    client = Actor(kind=ActorKind.CLIENT, name="ehr", role=Role.SYSTEM_ADMIN)
    assert require(client, permission) is None


def test_a_client_is_judged_by_its_role() -> None:
    client = Actor(kind=ActorKind.CLIENT, name="gp-ehr", role=Role.GP)
    with pytest.raises(PermissionDenied):
        require(client, Permission.RECORD_PATHWAY_EVENT)
