"""Which organisations an actor acts for: its own, the units below it, and the ones above it."""

from __future__ import annotations

import sqlalchemy as sa
import sqlalchemy.orm
from sqlalchemy.orm import Session

from coordinator.organisations.models import Organisation
from pathways.people import Actor, ActorKind


def _ancestors(organisation_id: int) -> sa.CTE:
    start = sa.select(Organisation.id, Organisation.parent_id).where(
        Organisation.id == organisation_id
    )
    up = start.cte("ancestors", recursive=True)
    parent = sa.orm.aliased(Organisation)
    return up.union(sa.select(parent.id, parent.parent_id).join(up, parent.id == up.c.parent_id))


def _descendants(organisation_id: int) -> sa.CTE:
    start = sa.select(Organisation.id).where(Organisation.id == organisation_id)
    down = start.cte("descendants", recursive=True)
    child = sa.orm.aliased(Organisation)
    return down.union(sa.select(child.id).join(down, child.parent_id == down.c.id))


def ancestors_and_self(session: Session, organisation_id: int) -> set[int]:
    """The organisation and every parent up to the top (ward -> centre -> region), in one query."""
    up = _ancestors(organisation_id)
    return set(session.scalars(sa.select(up.c.id)))


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
    down = _descendants(organisation_id)
    return set(session.scalars(sa.select(down.c.id)))


SCOPE_CACHE = "organisation_scopes"


def organisation_scope(session: Session, actor: Actor) -> frozenset[int]:
    """Every organisation the actor acts for (see acts_for): above and below its own. Computed once per
    session (one request or job); creating an organisation clears the cache."""
    if actor.organisation_id is None:
        return frozenset()
    cache: dict[int, frozenset[int]] = session.info.setdefault(SCOPE_CACHE, {})
    scope = cache.get(actor.organisation_id)
    if scope is None:
        up, down = _ancestors(actor.organisation_id), _descendants(actor.organisation_id)
        scope = frozenset(session.scalars(sa.union(sa.select(up.c.id), sa.select(down.c.id))))
        cache[actor.organisation_id] = scope
    return scope
