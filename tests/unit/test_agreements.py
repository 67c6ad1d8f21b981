"""Psykiatriloven §13a/§13b as rules: who needs a plan, is it in place before discharge, duplicates,
who must accept, and the legal bases shown to users."""

from __future__ import annotations

import tomllib
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import pathways.data
from pathways.agreements import (
    PLAN_BEFORE_DISCHARGE,
    DuplicatePlan,
    Obligation,
    ObligationStatus,
    OpenPlan,
    ParticipantAnswer,
    PlanSnapshot,
    Requirement,
    RequirementFacts,
    RequirementLevel,
    agreement_requirement,
    check_no_duplicate,
    plan_obligation,
    required_answers_missing,
)
from pathways.errors import Conflict
from pathways.legal import LegalBasis, all_legal_bases, legal_basis
from pathways.plans import (
    PLAN_TRANSITIONS,
    ParticipantRole,
    PatientParticipation,
    PlanKind,
    PlanStatus,
    ResponseStatus,
)

DA, CP = PlanKind.DISCHARGE_AGREEMENT, PlanKind.COORDINATION_PLAN
REQ, NOT_REQ, NOT_ASS = (
    RequirementLevel.REQUIRED,
    RequirementLevel.NOT_REQUIRED,
    RequirementLevel.NOT_ASSESSED,
)
UNK, PART, REF = (
    PatientParticipation.UNKNOWN,
    PatientParticipation.PARTICIPATES,
    PatientParticipation.REFUSED,
)
S = PlanStatus
P = ParticipantRole
ACC, PEND, REJ, COMM = (
    ResponseStatus.ACCEPTED,
    ResponseStatus.PENDING,
    ResponseStatus.REJECTED,
    ResponseStatus.COMMENTED,
)

SEL = "discharge_agreement_sel_support"  # §13a stk. 1
NOT_SEEKING = "discharge_agreement_not_seeking"  # §13a stk. 2
COORD = "coordination_plan"  # §13b

DATA = Path(pathways.data.__file__).parent

# ------------------------------------------------------------------------------ who needs a plan

# Written out from the law (README §2), all 27 combinations: stk. 1 (SEL support) and stk. 2 (presumed not to
# seek treatment) both oblige the chief physician; a refusal turns the obligation into a §13b plan; a None that
# is not outweighed by a True means the chief physician has not assessed the patient yet.
REQUIREMENT_TABLE = [
    # sel,  presumed, participation, level, kind, basis key
    (True, True, UNK, REQ, DA, SEL),
    (True, True, PART, REQ, DA, SEL),
    (True, True, REF, REQ, CP, COORD),
    (True, False, UNK, REQ, DA, SEL),
    (True, False, PART, REQ, DA, SEL),
    (True, False, REF, REQ, CP, COORD),
    (True, None, UNK, REQ, DA, SEL),
    (True, None, PART, REQ, DA, SEL),
    (True, None, REF, REQ, CP, COORD),
    (False, True, UNK, REQ, DA, NOT_SEEKING),
    (False, True, PART, REQ, DA, NOT_SEEKING),
    (False, True, REF, REQ, CP, COORD),
    (False, False, UNK, NOT_REQ, None, "not_required"),
    (False, False, PART, NOT_REQ, None, "not_required"),
    (False, False, REF, NOT_REQ, None, "not_required"),
    (False, None, UNK, NOT_ASS, None, "not_assessed"),
    (False, None, PART, NOT_ASS, None, "not_assessed"),
    (False, None, REF, NOT_ASS, None, "not_assessed"),
    (None, True, UNK, REQ, DA, NOT_SEEKING),
    (None, True, PART, REQ, DA, NOT_SEEKING),
    (None, True, REF, REQ, CP, COORD),
    (None, False, UNK, NOT_ASS, None, "not_assessed"),
    (None, False, PART, NOT_ASS, None, "not_assessed"),
    (None, False, REF, NOT_ASS, None, "not_assessed"),
    (None, None, UNK, NOT_ASS, None, "not_assessed"),
    (None, None, PART, NOT_ASS, None, "not_assessed"),
    (None, None, REF, NOT_ASS, None, "not_assessed"),
]


def test_requirement_table_covers_every_combination() -> None:
    combos = {(sel, presumed, part) for sel, presumed, part, *_ in REQUIREMENT_TABLE}
    values = (True, False, None)
    assert combos == {(s, p, q) for s in values for p in values for q in PatientParticipation}
    assert len(REQUIREMENT_TABLE) == 27


@pytest.mark.parametrize(
    ("sel", "presumed", "participation", "expected"),
    [(sel, presumed, part, tuple(rest)) for sel, presumed, part, *rest in REQUIREMENT_TABLE],
)
def test_agreement_requirement(
    sel: bool | None,
    presumed: bool | None,
    participation: PatientParticipation,
    expected: tuple[RequirementLevel, PlanKind | None, str],
) -> None:
    level, kind, basis_key = expected
    requirement = agreement_requirement(RequirementFacts(sel, presumed, participation))
    assert requirement.level is level
    assert requirement.kind is kind
    assert requirement.basis.key == basis_key
    assert requirement.basis == legal_basis(basis_key)
    assert requirement.is_required is (level is REQ)
    assert requirement.reason
    # the §13b note appears exactly when a refusal turned a required agreement into a coordination plan
    assert ("§13b" in requirement.reason) is (kind is CP)


def test_requirement_facts_default_to_unknown_participation() -> None:
    facts = RequirementFacts(receives_sel_support=True, presumed_not_to_seek_treatment=None)
    assert facts.patient_participation is UNK
    assert agreement_requirement(facts).kind is DA


# ------------------------------------------------------------------------------ is it in place?
PLANNED = date(2025, 3, 10)
DISCHARGED = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
BEFORE = datetime(2025, 3, 8, 9, 0, tzinfo=UTC)  # "now" while still admitted
AFTER = datetime(2025, 3, 12, 9, 0, tzinfo=UTC)  # "now" after discharge

REQUIRED_DA = agreement_requirement(RequirementFacts(True, False, PART))
REQUIRED_CP = agreement_requirement(RequirementFacts(False, True, REF))
NOT_REQUIRED = agreement_requirement(RequirementFacts(False, False))
NOT_ASSESSED = agreement_requirement(RequirementFacts(None, None))


def _obligation(
    requirement: Requirement, plans: list[PlanSnapshot], *, discharged: bool
) -> Obligation:
    return plan_obligation(
        requirement,
        plans,
        now=AFTER if discharged else BEFORE,
        discharged_at=DISCHARGED if discharged else None,
        planned_discharge_on=PLANNED,
    )


@pytest.mark.parametrize("discharged", [False, True])
@pytest.mark.parametrize(
    "plans",
    [[], [PlanSnapshot(1, DA, S.ACTIVE, BEFORE)], [PlanSnapshot(1, DA, S.DRAFT, None)]],
)
def test_not_required_is_not_applicable(plans: list[PlanSnapshot], discharged: bool) -> None:
    obligation = _obligation(NOT_REQUIRED, plans, discharged=discharged)
    assert obligation == Obligation(
        PLAN_BEFORE_DISCHARGE,
        ObligationStatus.NOT_APPLICABLE,
        legal_basis("not_required"),
        NOT_REQUIRED.reason,
    )


@pytest.mark.parametrize("requirement", [REQUIRED_DA, REQUIRED_CP, NOT_ASSESSED])
@pytest.mark.parametrize("status", [S.AGREED, S.ACTIVE, S.UNDER_REVISION])
@pytest.mark.parametrize(
    ("agreed_at", "discharged"),
    [
        (BEFORE - timedelta(days=1), False),  # agreed, still admitted
        (BEFORE - timedelta(days=1), True),  # agreed days before discharge
        (DISCHARGED, True),  # agreed at the very moment of discharge counts
    ],
)
def test_agreed_plan_meets_the_obligation(
    requirement: Requirement, status: PlanStatus, agreed_at: datetime, discharged: bool
) -> None:
    plans = [PlanSnapshot(41, CP, S.ENDED, agreed_at), PlanSnapshot(42, DA, status, agreed_at)]
    obligation = _obligation(requirement, plans, discharged=discharged)
    assert obligation.key == PLAN_BEFORE_DISCHARGE
    assert obligation.status is ObligationStatus.MET
    assert obligation.plan_id == 42
    assert obligation.basis == requirement.basis
    assert obligation.due_on is None


@pytest.mark.parametrize("status", [S.AGREED, S.ACTIVE, S.UNDER_REVISION])
def test_plan_agreed_after_discharge_is_overdue(status: PlanStatus) -> None:
    plans = [PlanSnapshot(7, DA, status, DISCHARGED + timedelta(seconds=1))]
    obligation = _obligation(REQUIRED_DA, plans, discharged=True)
    assert obligation.status is ObligationStatus.OVERDUE
    assert obligation.plan_id is None
    assert obligation.basis == legal_basis(SEL)


@pytest.mark.parametrize("requirement", [REQUIRED_DA, REQUIRED_CP, NOT_ASSESSED])
@pytest.mark.parametrize(
    "plans",
    [
        [],
        [PlanSnapshot(3, DA, S.DRAFT, None)],
        [PlanSnapshot(3, DA, S.PROPOSED, None)],
        [PlanSnapshot(3, CP, S.DRAFT, None), PlanSnapshot(4, DA, S.PROPOSED, None)],
        # ended and withdrawn plans never meet the obligation, even if they were agreed once
        [PlanSnapshot(5, DA, S.ENDED, BEFORE - timedelta(days=2))],
        [PlanSnapshot(6, DA, S.WITHDRAWN, None)],
        [
            PlanSnapshot(5, CP, S.ENDED, BEFORE - timedelta(days=2)),
            PlanSnapshot(6, DA, S.DRAFT, None),
        ],
        # an agreed plan without an agreement time is not proof of agreement
        [PlanSnapshot(8, DA, S.AGREED, None)],
    ],
)
def test_without_an_agreed_plan(requirement: Requirement, plans: list[PlanSnapshot]) -> None:
    before = _obligation(requirement, plans, discharged=False)
    assert before.key == PLAN_BEFORE_DISCHARGE
    assert before.status is ObligationStatus.OPEN
    assert before.due_on == PLANNED
    assert before.plan_id is None
    assert before.basis == requirement.basis

    after = _obligation(requirement, plans, discharged=True)
    assert after.key == PLAN_BEFORE_DISCHARGE
    assert after.status is ObligationStatus.OVERDUE
    assert after.plan_id is None
    assert after.basis == requirement.basis


def test_open_obligation_without_planned_discharge_has_no_due_date() -> None:
    obligation = plan_obligation(
        REQUIRED_DA, [], now=BEFORE, discharged_at=None, planned_discharge_on=None
    )
    assert obligation.status is ObligationStatus.OPEN
    assert obligation.due_on is None


def test_obligation_accepts_any_iterable_of_plans() -> None:
    plans = (p for p in [PlanSnapshot(9, CP, S.ACTIVE, BEFORE)])
    obligation = plan_obligation(
        REQUIRED_CP, plans, now=AFTER, discharged_at=DISCHARGED, planned_discharge_on=PLANNED
    )
    assert (obligation.status, obligation.plan_id) == (ObligationStatus.MET, 9)


# ------------------------------------------------------------------------------ duplicates
OPEN_STATES = [S.DRAFT, S.PROPOSED, S.AGREED, S.ACTIVE, S.UNDER_REVISION]


@pytest.mark.parametrize("supersedes_id", [None, 3])
def test_no_open_plans_is_fine(supersedes_id: int | None) -> None:
    check_no_duplicate([], supersedes_id=supersedes_id)


@pytest.mark.parametrize("kind", [DA, CP])
@pytest.mark.parametrize("status", OPEN_STATES)
def test_one_open_plan_blocks_a_new_one(kind: PlanKind, status: PlanStatus) -> None:
    with pytest.raises(Conflict, match=rf"\(plan 17, {status.value}\)") as caught:
        check_no_duplicate([OpenPlan(17, kind, status)])
    assert caught.type is DuplicatePlan
    assert caught.value.code == "plan-exists"  # its own Danish words on the web (RULE_MESSAGES)
    assert kind.value.replace("_", " ") in caught.value.message


@pytest.mark.parametrize("status", [S.AGREED, S.ACTIVE, S.UNDER_REVISION])
def test_superseding_the_coordination_plan_in_force_is_allowed(status: PlanStatus) -> None:
    check_no_duplicate([OpenPlan(17, CP, status)], supersedes_id=17)


@pytest.mark.parametrize("status", [S.DRAFT, S.PROPOSED])
def test_an_unagreed_coordination_plan_cannot_be_superseded(status: PlanStatus) -> None:
    """It could never end when its successor is agreed (no draft/proposed -> ended transition); consent
    turns it back into a discharge agreement instead."""
    assert (status, S.ENDED) not in PLAN_TRANSITIONS
    with pytest.raises(Conflict, match=rf"\(plan 17, {status.value}\)") as caught:
        check_no_duplicate([OpenPlan(17, CP, status)], supersedes_id=17)
    assert caught.type is DuplicatePlan


@pytest.mark.parametrize("status", [S.AGREED, S.ACTIVE, S.UNDER_REVISION])
def test_a_supersedable_plan_can_end(status: PlanStatus) -> None:
    assert (status, S.ENDED) in PLAN_TRANSITIONS


@pytest.mark.parametrize("status", OPEN_STATES)
def test_a_discharge_agreement_cannot_be_superseded(status: PlanStatus) -> None:
    with pytest.raises(Conflict, match=r"\(plan 17, ") as caught:
        check_no_duplicate([OpenPlan(17, DA, status)], supersedes_id=17)
    assert caught.type is DuplicatePlan


def test_superseding_another_plan_does_not_excuse_the_open_one() -> None:
    with pytest.raises(Conflict, match=r"\(plan 17, active\)"):
        check_no_duplicate([OpenPlan(17, CP, S.ACTIVE)], supersedes_id=99)


def test_superseding_one_plan_still_conflicts_with_a_second_open_plan() -> None:
    open_plans = [OpenPlan(17, CP, S.ACTIVE), OpenPlan(18, DA, S.DRAFT)]
    with pytest.raises(Conflict, match=r"\(plan 18, draft\)"):
        check_no_duplicate(open_plans, supersedes_id=17)


# ------------------------------------------------------------------------------ who must accept
def _all_accepted(kind: PlanKind, version: int) -> list[ParticipantAnswer]:
    roles = (
        [P.PATIENT, P.WARD, P.MUNICIPALITY, P.GP] if kind is DA else [P.WARD, P.MUNICIPALITY, P.GP]
    )
    return [ParticipantAnswer(role, True, ACC, version) for role in roles]


def _with(answers: list[ParticipantAnswer], answer: ParticipantAnswer) -> list[ParticipantAnswer]:
    return [answer if a.role is answer.role else a for a in answers]


@pytest.mark.parametrize("kind", [DA, CP])
def test_everybody_accepted_the_current_version(kind: PlanKind) -> None:
    assert required_answers_missing(kind, _all_accepted(kind, 3), 3) == []


@pytest.mark.parametrize(
    ("kind", "role"),
    [
        (DA, P.PATIENT),
        (DA, P.WARD),
        (DA, P.MUNICIPALITY),
        (DA, P.GP),
        (CP, P.WARD),
        (CP, P.MUNICIPALITY),
        (CP, P.GP),
    ],
)
@pytest.mark.parametrize(
    ("response", "version"),
    [
        (PEND, None),
        (REJ, 3),
        (COMM, 3),
        (ACC, 2),  # accepted an older version: must accept again
        (ACC, None),
        (ACC, 4),
    ],
)
def test_a_required_party_without_acceptance_of_the_current_version_is_missing(
    kind: PlanKind, role: ParticipantRole, response: ResponseStatus, version: int | None
) -> None:
    answers = _with(_all_accepted(kind, 3), ParticipantAnswer(role, True, response, version))
    assert required_answers_missing(kind, answers, 3) == [role]


def test_missing_parties_are_listed_in_answer_order() -> None:
    answers = [
        ParticipantAnswer(P.GP, True, PEND, None),
        ParticipantAnswer(P.WARD, True, ACC, 5),
        ParticipantAnswer(P.PATIENT, True, ACC, 4),
        ParticipantAnswer(P.MUNICIPALITY, True, REJ, 5),
    ]
    assert required_answers_missing(DA, answers, 5) == [P.GP, P.PATIENT, P.MUNICIPALITY]


@pytest.mark.parametrize("kind", [DA, CP])
@pytest.mark.parametrize(
    "extra",
    [
        ParticipantAnswer(P.RELATIVE, True, PEND, None),
        ParticipantAnswer(P.RELATIVE, True, REJ, 3),
        ParticipantAnswer(P.OTHER, True, PEND, None),
        ParticipantAnswer(P.OTHER, False, REJ, 3),
        ParticipantAnswer(P.RELATIVE, False, PEND, None),
    ],
)
def test_relatives_and_others_are_not_parties(kind: PlanKind, extra: ParticipantAnswer) -> None:
    assert required_answers_missing(kind, [*_all_accepted(kind, 3), extra], 3) == []


@pytest.mark.parametrize("role", [P.PATIENT, P.WARD, P.MUNICIPALITY, P.GP])
def test_a_participant_marked_not_required_is_ignored(role: ParticipantRole) -> None:
    answers = _with(_all_accepted(DA, 3), ParticipantAnswer(role, False, PEND, None))
    assert required_answers_missing(DA, answers, 3) == []


@pytest.mark.parametrize("response", [PEND, REJ, COMM])
def test_the_patient_is_no_party_of_a_coordination_plan(response: ResponseStatus) -> None:
    answers = [*_all_accepted(CP, 3), ParticipantAnswer(P.PATIENT, True, response, None)]
    assert required_answers_missing(CP, answers, 3) == []
    # ... but the same answer blocks a discharge agreement
    da_answers = _with(_all_accepted(DA, 3), ParticipantAnswer(P.PATIENT, True, response, None))
    assert required_answers_missing(DA, da_answers, 3) == [P.PATIENT]


# ------------------------------------------------------------------------------ legal bases
def _toml(name: str) -> dict[str, Any]:
    return tomllib.loads((DATA / name).read_text(encoding="utf-8"))


PLAN_RULES = _toml("plan_rules.toml")
LEGAL = _toml("legal.toml")
REFERENCED_KEYS = sorted(
    {key for kind in PLAN_RULES["kinds"].values() for key in kind["legal_bases"]}
    | {SEL, NOT_SEEKING, COORD, "not_required", "not_assessed"}
)


def test_plan_rules_reference_the_expected_bases() -> None:
    kinds = PLAN_RULES["kinds"]
    assert kinds["discharge_agreement"]["legal_bases"] == [SEL, NOT_SEEKING]
    assert kinds["coordination_plan"]["legal_bases"] == [COORD]


@pytest.mark.parametrize("key", REFERENCED_KEYS)
def test_every_referenced_basis_exists_and_is_complete(key: str) -> None:
    assert key in LEGAL
    basis = legal_basis(key)
    assert basis.key == key
    for text in (basis.reference, basis.text_da, basis.text_en):
        assert isinstance(text, str)
        assert text.strip()
    assert basis.reference.startswith("Psykiatriloven §")


def test_every_basis_in_the_file_is_loaded() -> None:
    assert set(all_legal_bases()) == set(LEGAL)
    for key, basis in all_legal_bases().items():
        assert basis == LegalBasis(key=key, **LEGAL[key])


@pytest.mark.parametrize(
    ("key", "reference"),
    [
        (SEL, "Psykiatriloven § 13 a, stk. 1"),
        (NOT_SEEKING, "Psykiatriloven § 13 a, stk. 2"),
        (COORD, "Psykiatriloven § 13 b"),
        ("disclosure", "Psykiatriloven § 13 c"),
    ],
)
def test_references(key: str, reference: str) -> None:
    assert legal_basis(key).reference == reference


@pytest.mark.parametrize("key", [SEL, NOT_SEEKING])
def test_both_subsections_oblige_the_chief_physician(key: str) -> None:
    basis = legal_basis(key)
    assert "chief physician" in basis.text_en
    assert "overlægen" in basis.text_da.lower()
    assert "recommend" not in basis.text_en.lower()
    assert "anbefal" not in basis.text_da.lower()


def test_unknown_basis_raises_key_error() -> None:
    with pytest.raises(KeyError, match="no_such_basis") as caught:
        legal_basis("no_such_basis")
    assert caught.type is KeyError


def test_all_legal_bases_returns_a_copy() -> None:
    copy = all_legal_bases()
    copy.clear()
    assert legal_basis(SEL).key == SEL
    assert all_legal_bases()


@pytest.mark.parametrize("key", REFERENCED_KEYS)
def test_basis_text_by_language(key: str) -> None:
    basis = legal_basis(key)
    assert basis.text("en") == basis.text_en == LEGAL[key]["text_en"]
    assert basis.text("da") == basis.text_da == LEGAL[key]["text_da"]
    assert basis.text_en != basis.text_da
