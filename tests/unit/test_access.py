from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pathways.access import (
    CareRelation,
    Refusal,
    RelationKind,
    RelationState,
    decide,
    relation_state,
    role_refusal,
)
from pathways.people import Actor, ActorKind, Role
from pathways.permissions import Permission

NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)
GRACE = timedelta(days=30)
DAY = timedelta(days=1)


def user(role: Role) -> Actor:
    return Actor(kind=ActorKind.USER, name=role.value, id=1, organisation_id=1, role=role)


def rel(
    kind: RelationKind = RelationKind.WARD_STAY,
    *,
    ended: datetime | None = None,
    started: datetime = NOW - 100 * DAY,
) -> CareRelation:
    return CareRelation(kind, 1, started, ended, "pathway 1")


@pytest.mark.parametrize(
    ("relation", "current"),
    [
        (rel(), True),
        (rel(ended=NOW - GRACE), True),  # the last day of the grace period
        (rel(ended=NOW - GRACE - timedelta(seconds=1)), False),
        (rel(started=NOW + DAY), False),  # not started yet
        (rel(RelationKind.EMERGENCY, ended=NOW + timedelta(hours=1)), True),
        (rel(RelationKind.EMERGENCY, ended=NOW), False),  # emergency access gets no grace
    ],
)
def test_relation_is_current(relation: CareRelation, current: bool) -> None:
    assert relation.is_current(NOW, GRACE) is current


def test_decide_needs_role_and_relation() -> None:
    nurse = user(Role.DISCHARGE_NURSE)
    allowed = decide(nurse, Permission.READ_PLAN, [rel()], now=NOW, grace=GRACE)
    assert (allowed.allowed, allowed.purpose) == (True, "ward_stay: pathway 1")
    none = decide(nurse, Permission.READ_PLAN, [], now=NOW, grace=GRACE)
    assert (none.allowed, none.reason) == (False, "no current care relation to the patient")
    expired = decide(nurse, Permission.READ_PLAN, [rel(ended=NOW - 31 * DAY)], now=NOW, grace=GRACE)
    assert expired.allowed is False
    support = decide(user(Role.SUPPORT_WORKER), Permission.EDIT_PLAN, [rel()], now=NOW, grace=GRACE)
    assert (support.allowed, support.reason) == (False, "role support_worker may not edit plan")


@pytest.mark.parametrize("role", [Role.AUDITOR, Role.ORG_ADMIN, Role.SYSTEM_ADMIN])
def test_no_clinical_content_for_auditors_and_administrators(role: Role) -> None:
    assert decide(user(role), Permission.READ_PLAN, [rel()], now=NOW, grace=GRACE).allowed is False


def test_system_actor_and_preference_for_ordinary_relations() -> None:
    assert (
        decide(Actor.system("job"), Permission.EDIT_PLAN, [], now=NOW, grace=GRACE).allowed is True
    )
    both = [rel(RelationKind.EMERGENCY, ended=NOW + DAY), rel(RelationKind.GENERAL_PRACTICE)]
    decision = decide(user(Role.GP), Permission.READ_PLAN, both, now=NOW, grace=GRACE)
    assert decision.relation is not None
    assert decision.relation.kind is RelationKind.GENERAL_PRACTICE


@pytest.mark.parametrize(
    ("relations", "state"),
    [
        ([], RelationState.NONE),
        ([rel()], RelationState.ACTIVE),
        ([rel(ended=NOW - 40 * DAY)], RelationState.EXPIRED),
        (
            [rel(ended=NOW - 40 * DAY), rel(RelationKind.EMERGENCY, ended=NOW + DAY)],
            RelationState.EMERGENCY,
        ),
        ([rel(), rel(RelationKind.EMERGENCY, ended=NOW + DAY)], RelationState.ACTIVE),
    ],
)
def test_relation_state(relations: list[CareRelation], state: RelationState) -> None:
    assert relation_state(relations, NOW, GRACE) is state


def test_a_client_is_held_to_its_token_scopes() -> None:
    def client(*scopes: str) -> Actor:
        return Actor(
            kind=ActorKind.CLIENT,
            name="ehr",
            id=9,
            organisation_id=1,
            role=Role.CASE_WORKER,
            scopes=frozenset(scopes),
        )

    read_only = client("system/CarePlan.read")
    assert decide(read_only, Permission.READ_PLAN, [rel()], now=NOW, grace=GRACE).allowed is True
    refused = decide(read_only, Permission.EDIT_PLAN, [rel()], now=NOW, grace=GRACE)
    assert (refused.allowed, refused.reason) == (
        False,
        "the token has no scope for system/CarePlan.write",
    )
    assert (
        decide(
            client("system/*.write"), Permission.EDIT_PLAN, [rel()], now=NOW, grace=GRACE
        ).allowed
        is True
    )
    assert decide(client(), Permission.READ_PLAN, [rel()], now=NOW, grace=GRACE).allowed is False


def test_a_refusal_says_whether_it_is_the_role_or_the_relation() -> None:
    """The role is decided before the relation: a role refusal is the same for every patient."""
    nurse = user(Role.DISCHARGE_NURSE)
    by_role = decide(nurse, Permission.ASSESS_REQUIREMENT, [rel()], now=NOW, grace=GRACE)
    assert (by_role.allowed, by_role.refusal) == (False, Refusal.ROLE)
    no_relation = decide(
        user(Role.CHIEF_PHYSICIAN), Permission.ASSESS_REQUIREMENT, [], now=NOW, grace=GRACE
    )
    assert (no_relation.allowed, no_relation.refusal) == (False, Refusal.RELATION)
    assert decide(nurse, Permission.READ_PLAN, [rel()], now=NOW, grace=GRACE).refusal is None


def test_a_role_refusal_names_who_may() -> None:
    nurse = user(Role.DISCHARGE_NURSE)
    assert role_refusal(nurse, Permission.ASSESS_REQUIREMENT) == (
        "the role discharge_nurse may not assess requirement: only chief_physician may"
    )
    assert role_refusal(user(Role.SUPPORT_WORKER), Permission.EDIT_PLAN) == (
        "the role support_worker may not edit plan: only discharge_nurse, chief_physician, "
        "ward_staff, case_worker, gp may"
    )
    assert role_refusal(user(Role.AUDITOR), Permission.READ_PLAN) == (
        "the role auditor gives no access to patients' clinical data"
    )
    assert role_refusal(nurse, Permission.MANAGE_OUTBOX) == (
        "the role discharge_nurse may not manage outbox"
    )
