"""A plan may lack a party the rules require only with a recorded reason (pathways.plans)."""

from __future__ import annotations

from pathways.plan_content import kind_rules
from pathways.plans import ParticipantRole, PlanKind, unexplained_missing_parties

R = ParticipantRole
AGREEMENT = kind_rules(PlanKind.DISCHARGE_AGREEMENT).required_roles
COORDINATION = kind_rules(PlanKind.COORDINATION_PLAN).required_roles


def test_the_rules_require_the_gp_for_both_kinds() -> None:
    assert set(AGREEMENT) == {R.PATIENT, R.WARD, R.MUNICIPALITY, R.GP}
    assert set(COORDINATION) == {R.WARD, R.MUNICIPALITY, R.GP}


def test_a_missing_party_needs_a_reason() -> None:
    present = {R.PATIENT, R.WARD, R.MUNICIPALITY}
    assert unexplained_missing_parties(AGREEMENT, present, {}) == [R.GP]
    assert unexplained_missing_parties(AGREEMENT, present, {"gp": "  "}) == [R.GP]
    assert unexplained_missing_parties(AGREEMENT, present, {"gp": "ingen egen læge"}) == []
    assert unexplained_missing_parties(AGREEMENT, {R.WARD}, {"gp": "x"}) == [
        R.MUNICIPALITY,
        R.PATIENT,
    ]
    assert unexplained_missing_parties(COORDINATION, {R.WARD, R.MUNICIPALITY, R.GP}, {}) == []
