"""factory_boy factories for rows that tests need as background (not what they are testing), made
straight in the database with no use case, audit row or permission check: for tests of the use cases
that would otherwise make those rows (registering organisations, staff, patients), and for state no use
case makes on request (login lockouts). Tests that act in a cross-sector world use tests/scenario.py,
which builds one through the real use cases."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import count

import factory
from factory.alchemy import SQLAlchemyModelFactory
from sqlalchemy.orm import Session

from coordinator.accounts.models import LoginThrottle, User
from coordinator.organisations.models import Organisation
from coordinator.patients.models import Patient
from pathways.organisations import OrganisationKind, Sector
from pathways.people import Role

_session: Session | None = None
_serial = count(1)
T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


def bind(session: Session | None) -> None:
    global _session  # noqa: PLW0603 - factory_boy reads the session through a callable
    _session = session


def _current_session() -> Session:
    if _session is None:
        raise RuntimeError("factories need the `session` fixture")
    return _session


class _Base(SQLAlchemyModelFactory):  # type: ignore[misc]
    class Meta:
        abstract = True
        sqlalchemy_session_factory = _current_session
        sqlalchemy_session_persistence = "flush"


class OrganisationFactory(_Base):
    class Meta:
        model = Organisation

    name = factory.Sequence(lambda n: f"Organisation {n}")
    kind = OrganisationKind.GP_CLINIC
    sector = factory.LazyAttribute(lambda o: o.kind.sector)
    ydernummer = factory.LazyFunction(lambda: f"{next(_serial) + 500000:06d}")
    email = ""
    created_at = T0
    updated_at = T0


class WardFactory(OrganisationFactory):
    kind = OrganisationKind.WARD
    sector = Sector.REGION
    ydernummer = None
    sor_code = factory.LazyFunction(lambda: f"8{next(_serial):014d}")


class UserFactory(_Base):
    class Meta:
        model = User

    organisation = factory.SubFactory(WardFactory)
    name = factory.Sequence(lambda n: f"Staff {n}")
    role = Role.DISCHARGE_NURSE
    created_at = T0
    updated_at = T0


class PatientFactory(_Base):
    class Meta:
        model = Patient

    # 1 January 1970 + serial: date-valid CPRs; tests never need them to be anything else.
    cpr = factory.LazyFunction(lambda: f"010170{next(_serial) % 4000:04d}")
    given_name = "Test"
    family_name = factory.Sequence(lambda n: f"Patient{n}")
    kommunekode = "101"
    created_at = T0
    updated_at = T0


class LoginThrottleFactory(_Base):
    """Failed logins of an account from one address; a lockout when `locked_until` is given."""

    class Meta:
        model = LoginThrottle

    user = factory.SubFactory(UserFactory)
    address = "127.0.0.1"
    failed_count = 1
    last_failed_at = factory.LazyAttribute(lambda o: o.user.created_at)
    locked_until = None
