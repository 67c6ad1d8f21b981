"""Which organisations an actor acts for: its own, the units below it, and the ones above it."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from coordinator.organisations.models import Organisation
from pathways.people import Actor, ActorKind


def ancestors_and_self(session: Session, organisation_id: int) -> set[int]:
    """The organisation and every parent up to the top (ward -> centre -> region)."""
    seen: set[int] = set()
    current: int | None = organisation_id
    while current is not None and current not in seen:
        seen.add(current)
        current = session.scalar(
            sa.select(Organisation.parent_id).where(Organisation.id == current)
        )
    return seen


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
    """The organisation and every unit below it (region -> centres -> wards)."""
    found = {organisation_id}
    frontier = {organisation_id}
    while frontier:
        frontier = set(
            session.scalars(sa.select(Organisation.id).where(Organisation.parent_id.in_(frontier)))
        )
        frontier -= found
        found |= frontier
    return found


SCOPE_CACHE = "organisation_scopes"


def organisation_scope(session: Session, actor: Actor) -> frozenset[int]:
    """Every organisation the actor acts for (see acts_for): above and below its own. Computed once per
    session (one request or job); creating an organisation clears the cache."""
    if actor.organisation_id is None:
        return frozenset()
    cache: dict[int, frozenset[int]] = session.info.setdefault(SCOPE_CACHE, {})
    scope = cache.get(actor.organisation_id)
    if scope is None:
        scope = frozenset(
            ancestors_and_self(session, actor.organisation_id)
            | descendants_and_self(session, actor.organisation_id)
        )
        cache[actor.organisation_id] = scope
    return scope
