"""How long one account stays shut to one address after failed logins (issue 17, item 6).

Failures are counted per account *and* client address: a hospital behind one NAT address shares nothing
but the address, so one person's typos (or an attacker's guesses) lock that account from that address
only, never the account everywhere nor everyone behind the address. The delay grows with every further
failure, so guessing stays slow while a mistyping owner waits a minute.
"""

from __future__ import annotations

from datetime import datetime, timedelta

MAX_FAILED_LOGINS = 5
FIRST_LOCKOUT = timedelta(minutes=1)
MAX_LOCKOUT = timedelta(minutes=15)
# Failures older than this are forgotten: the next one starts the count again.
FAILURE_MEMORY = timedelta(hours=24)


def lockout_after(failures: int) -> timedelta | None:
    """The lockout that the ``failures``-th consecutive failure starts, or None while there is none.

    The fifth failure locks for a minute; each further one doubles it, up to fifteen minutes.
    """
    if failures < MAX_FAILED_LOGINS:
        return None
    doublings = min(failures - MAX_FAILED_LOGINS, 10)  # 2**10 minutes is far past the cap already
    lockout: timedelta = FIRST_LOCKOUT * (1 << doublings)
    return min(lockout, MAX_LOCKOUT)


def failures_forgotten(last_failed_at: datetime, now: datetime) -> bool:
    """Whether an earlier run of failures is too old to count towards the next lockout."""
    return now - last_failed_at >= FAILURE_MEMORY
