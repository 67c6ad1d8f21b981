"""Which organisations an actor acts for: its own, the units below it, and the ones above it.

The recursive queries are built once, with the organisation as a bound parameter: building a SQL
expression costs more than running it, and the access gate asks on every request.
"""

from __future__ import annotations

import functools
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm
from sqlalchemy.orm import Session

from coordinator.organisations.models import Organisation
from pathways.people import Actor, ActorKind

_ORGANISATION = "organisation_id"


def _start(organisation_id: Any) -> Any:
    return (
        sa.bindparam(_ORGANISATION, type_=sa.Integer)
        if organisation_id is None
        else organisation_id
    )


def _ancestors(organisation_id: Any = None) -> sa.CTE:
    start = sa.select(Organisation.id, Organisation.parent_id).where(
        Organisation.id == _start(organisation_id)
    )
    up = start.cte("ancestors", recursive=True)
    parent = sa.orm.aliased(Organisation)
    return up.union(sa.select(parent.id, parent.parent_id).join(up, parent.id == up.c.parent_id))


def _descendants(organisation_id: Any = None) -> sa.CTE:
    start = sa.select(Organisation.id).where(Organisation.id == _start(organisation_id))
    down = start.cte("descendants", recursive=True)
    child = sa.orm.aliased(Organisation)
    return down.union(sa.select(child.id).join(down, child.parent_id == down.c.id))


@functools.cache
def _ancestors_query() -> sa.Select[int]:
    return sa.select(_ancestors().c.id)


@functools.cache
def _descendants_query() -> sa.Select[int]:
    return sa.select(_descendants().c.id)


@functools.cache
def _scope_query() -> sa.CompoundSelect:
    return scope_of()


def scope_of(organisation_id: Any = None) -> sa.CompoundSelect:
    """The ids ``organisation_scope`` answers, as SQL: of the organisation bound as a parameter, or of
    the one ``organisation_id`` (a column or scalar subquery) names."""
    return sa.union(
        sa.select(_ancestors(organisation_id).c.id),
        sa.select(_descendants(organisation_id).c.id),
    )


def remember_scope(session: Session, organisation_id: int, scope: frozenset[int]) -> None:
    """Keep a scope read with other data (the logged-in user's, coordinator.accounts.login) for the
    rest of the session, as ``organisation_scope`` would after asking."""
    session.info.setdefault(SCOPE_CACHE, {})[organisation_id] = scope


def ancestors_and_self(session: Session, organisation_id: int) -> set[int]:
    """The organisation and every parent up to the top (ward -> centre -> region), in one query."""
    return set(session.scalars(_ancestors_query(), {_ORGANISATION: organisation_id}))


def acts_for(session: Session, actor: Actor, organisation_id: int | None) -> bool:
    """True when the actor's organisation is the given one, above it, or below it in the hierarchy.

    Staff of a psychiatric centre act for its wards; a municipal unit's staff act for their municipality.
    System actors (jobs, CLI) act for everyone.
    """
    if actor.kind is ActorKind.SYSTEM:
        return True
    if organisation_id is None:
        return False
    return organisation_id in organisation_scope(session, actor)


def descendants_and_self(session: Session, organisation_id: int) -> set[int]:
    """The organisation and every unit below it (region -> centres -> wards), in one query."""
    return set(session.scalars(_descendants_query(), {_ORGANISATION: organisation_id}))


SCOPE_CACHE = "organisation_scopes"


def organisation_scope(session: Session, actor: Actor) -> frozenset[int]:
    """Every organisation the actor acts for (see acts_for): above and below its own. Computed once per
    session (one request or job); creating an organisation clears the cache."""
    if actor.organisation_id is None:
        return frozenset()
    cache: dict[int, frozenset[int]] = session.info.setdefault(SCOPE_CACHE, {})
    scope = cache.get(actor.organisation_id)
    if scope is None:
        scope = frozenset(session.scalars(_scope_query(), {_ORGANISATION: actor.organisation_id}))
        cache[actor.organisation_id] = scope
    return scope
