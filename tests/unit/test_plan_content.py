"""Plan content: the section schema per kind, cleaning user input, merging, missing sections and diffs."""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pathways.data
from pathways.errors import ValidationFailed
from pathways.labels import label
from pathways.plan_content import (
    MAX_ITEMS,
    MAX_TEXT,
    FieldChange,
    citizen_sections,
    clean_sections,
    diff_sections,
    kind_rules,
    merge_sections,
    missing_sections,
    section_fields,
    section_specs,
)
from pathways.plans import ParticipantRole, PlanKind, SectionKey

K = SectionKey
P = ParticipantRole
DA, CP = PlanKind.DISCHARGE_AGREEMENT, PlanKind.COORDINATION_PLAN
RULES: dict[str, Any] = tomllib.loads(
    (Path(pathways.data.__file__).parent / "plan_rules.toml").read_text(encoding="utf-8")
)


# ------------------------------------------------------------------------------ schema
def test_section_fields_cover_every_section_key() -> None:
    fields = section_fields()
    assert list(fields) == list(SectionKey)
    for key, spec in fields.items():
        assert spec, key
        assert set(spec.values()) <= {"text", "list", "date"}


@pytest.mark.parametrize(
    ("key", "spec"),
    [
        (K.TREATMENT, {"text": "text"}),
        (K.SOCIAL_SUPPORT, {"measures": "list", "provider": "text", "text": "text"}),
        (K.RELATIVES_NETWORK, {"text": "text", "people": "list"}),
        (
            K.CRISIS_PLAN,
            {
                "warning_signs": "list",
                "what_helps": "list",
                "call_day": "text",
                "call_night": "text",
            },
        ),
        (K.FIRST_FOLLOW_UP, {"date": "date", "who": "text", "place": "text"}),
    ],
)
def test_section_shapes(key: SectionKey, spec: dict[str, str]) -> None:
    assert section_fields()[key] == spec


@pytest.mark.parametrize("kind", [DA, CP])
def test_kind_rules_follow_the_toml(kind: PlanKind) -> None:
    spec = RULES["kinds"][kind.value]
    rules = kind_rules(kind)
    assert rules.kind is kind
    assert rules.required_sections == frozenset(SectionKey(s) for s in spec["required_sections"])
    assert len(rules.required_sections) == len(spec["required_sections"])
    assert rules.required_roles == frozenset(ParticipantRole(r) for r in spec["required_roles"])
    assert rules.legal_bases == tuple(spec["legal_bases"])


def test_required_sections_and_roles_per_kind() -> None:
    common = frozenset(
        {K.TREATMENT, K.MEDICATION, K.SOCIAL_SUPPORT, K.HOUSING, K.CRISIS_PLAN}
        | {K.IF_TREATMENT_STOPS, K.FIRST_FOLLOW_UP}
    )
    assert kind_rules(DA).required_sections == common
    assert kind_rules(CP).required_sections == common
    assert kind_rules(DA).required_roles == {P.PATIENT, P.WARD, P.MUNICIPALITY, P.GP}
    # §13b: made without the patient's agreement
    assert kind_rules(CP).required_roles == {P.WARD, P.MUNICIPALITY, P.GP}
    assert P.PATIENT not in kind_rules(CP).required_roles
    for kind in (DA, CP):
        assert P.RELATIVE not in kind_rules(kind).required_roles


# ------------------------------------------------------------------------------ clean_sections
def test_clean_trims_text_drops_empty_items_and_fields() -> None:
    raw = {
        "treatment": {"text": "  Ambulant opfølgning i distriktspsykiatrien \n"},
        "social_support": {
            "measures": [" §85 bostøtte ", "", "   ", "§99 støttekontaktperson"],
            "provider": "   ",
            "text": None,
        },
        "crisis_plan": {"warning_signs": ["", " "], "call_day": " 70 11 22 33 "},
    }
    assert clean_sections(raw) == {
        "treatment": {"text": "Ambulant opfølgning i distriktspsykiatrien"},
        "social_support": {"measures": ["§85 bostøtte", "§99 støttekontaktperson"]},
        "crisis_plan": {"call_day": "70 11 22 33"},
    }


def test_clean_does_not_mutate_its_input() -> None:
    raw = {"social_support": {"measures": [" a ", ""], "provider": " x "}}
    before = copy.deepcopy(raw)
    clean_sections(raw)
    assert raw == before


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("2025-03-10", "2025-03-10"),
        ("20250310", "2025-03-10"),  # basic ISO format
        ("2025-W11-1", "2025-03-10"),  # ISO week date: Monday of week 11
        ("2024-02-29", "2024-02-29"),
    ],
)
def test_clean_normalises_dates_to_iso(raw: str, clean: str) -> None:
    assert clean_sections({"first_follow_up": {"date": raw}}) == {
        "first_follow_up": {"date": clean}
    }


@pytest.mark.parametrize("content", [None, {}])
def test_none_or_empty_section_is_the_removal_marker(content: object) -> None:
    assert clean_sections({"housing": content}) == {"housing": {}}


def test_section_whose_fields_are_all_empty_becomes_the_removal_marker() -> None:
    assert clean_sections({"housing": {"text": "   "}}) == {"housing": {}}


def test_empty_input_is_empty() -> None:
    assert clean_sections({}) == {}


def _failure(raw: object, prefix: str = "sections") -> ValidationFailed:
    with pytest.raises(ValidationFailed) as caught:
        clean_sections(raw, prefix)
    assert caught.type is ValidationFailed
    return caught.value


@pytest.mark.parametrize("raw", [None, [], "treatment", 5, [("treatment", {})]])
def test_top_level_must_be_a_mapping(raw: object) -> None:
    error = _failure(raw)
    assert error.fields == ("sections",)
    assert error.errors[0].code == "invalid"


def test_field_prefix_names_the_errors() -> None:
    assert _failure([], "changes").fields == ("changes",)
    assert _failure({"nope": {}}, "changes").fields == ("changes.nope",)


def test_every_problem_is_reported_at_once() -> None:
    raw = {
        "treatment": {"text": 5},
        "social_support": {"measures": ["a", 3], "provider": " ok "},
        "first_follow_up": {"date": "2025-13-01", "who": ["GP"]},
        "housing": "lives alone",
        "bogus": {"text": "x"},
        "medication": {"dose": "5 mg"},
        "crisis_plan": {"warning_signs": "sleeps badly"},
        "economy": {"text": "x" * (MAX_TEXT + 1)},
        "citizen_goals": ["work"],
        "relatives_network": {"people": [f"p{i}" for i in range(MAX_ITEMS + 1)]},
    }
    error = _failure(raw)
    assert [(e.field, e.code) for e in error.errors] == [
        ("sections.treatment.text", "invalid"),
        ("sections.social_support.measures", "invalid"),
        ("sections.first_follow_up.date", "invalid"),
        ("sections.first_follow_up.who", "invalid"),
        ("sections.housing", "invalid"),
        ("sections.bogus", "invalid"),
        ("sections.medication.dose", "invalid"),
        ("sections.crisis_plan.warning_signs", "invalid"),
        ("sections.economy.text", "too-long"),
        ("sections.citizen_goals", "invalid"),
        ("sections.relatives_network.people", "invalid"),
    ]
    messages = {e.field: e.message for e in error.errors}
    assert messages["sections.treatment.text"] == "must be text"
    assert messages["sections.social_support.measures"] == "must be a list of texts"
    assert messages["sections.first_follow_up.date"] == "must be a date (YYYY-MM-DD)"
    assert messages["sections.economy.text"] == f"must be at most {MAX_TEXT} characters"
    assert messages["sections.relatives_network.people"] == f"at most {MAX_ITEMS} items"
    assert messages["sections.bogus"].startswith("unknown section; known sections: treatment, ")
    assert messages["sections.medication.dose"] == "unknown field; allowed: text"
    assert messages["sections.housing"] == "a section must be an object of fields"


@pytest.mark.parametrize(
    ("section", "value"),
    [
        ({"first_follow_up": {"date": "10-03-2025"}}, "sections.first_follow_up.date"),
        ({"first_follow_up": {"date": "2025-02-30"}}, "sections.first_follow_up.date"),
        ({"first_follow_up": {"date": 20250310}}, "sections.first_follow_up.date"),
        ({"first_follow_up": {"date": "2025-03-10T10:00"}}, "sections.first_follow_up.date"),
        ({"crisis_plan": {"what_helps": ("walk",)}}, "sections.crisis_plan.what_helps"),
        ({"crisis_plan": {"what_helps": [None]}}, "sections.crisis_plan.what_helps"),
        ({"treatment": {"text": ["a"]}}, "sections.treatment.text"),
        ({"treatment": {"text": True}}, "sections.treatment.text"),
        ({"treatment": {"Text": "a"}}, "sections.treatment.Text"),
        ({"Treatment": {"text": "a"}}, "sections.Treatment"),
        ({"treatment": 0}, "sections.treatment"),
        ({"treatment": []}, "sections.treatment"),
    ],
)
def test_single_bad_field(section: dict[str, Any], value: str) -> None:
    error = _failure(section)
    assert error.fields == (value,)


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("x" * MAX_TEXT, True),
        ("  " + "x" * MAX_TEXT + "\n", True),  # measured after trimming
        ("x" * (MAX_TEXT + 1), False),
    ],
)
def test_text_length_limit(text: str, ok: bool) -> None:
    raw = {"advance_statement": {"text": text}}
    if ok:
        assert clean_sections(raw) == {"advance_statement": {"text": "x" * MAX_TEXT}}
    else:
        error = _failure(raw)
        assert [(e.field, e.code) for e in error.errors] == [
            ("sections.advance_statement.text", "too-long")
        ]


@pytest.mark.parametrize(
    ("items", "ok"),
    [
        ([f"m{i}" for i in range(MAX_ITEMS)], True),
        ([f"m{i}" for i in range(MAX_ITEMS)] + ["", "  "], True),  # empty items do not count
        ([f"m{i}" for i in range(MAX_ITEMS + 1)], False),
    ],
)
def test_list_length_limit(items: list[str], ok: bool) -> None:
    raw = {"social_support": {"measures": items}}
    if ok:
        assert clean_sections(raw) == {
            "social_support": {"measures": [f"m{i}" for i in range(MAX_ITEMS)]}
        }
    else:
        assert _failure(raw).fields == ("sections.social_support.measures",)


# ------------------------------------------------------------------------------ merge
def test_merge_replaces_removes_and_keeps() -> None:
    current = {
        "treatment": {"text": "old"},
        "housing": {"text": "own flat"},
        "crisis_plan": {"warning_signs": ["insomnia"], "call_day": "112"},
    }
    changes = {
        "crisis_plan": {"what_helps": ["walks"]},  # replaces the whole section
        "housing": {},  # removes it
        "economy": {},  # removing an absent section is harmless
        "medication": {"text": "new"},  # adds it
    }
    current_before, changes_before = copy.deepcopy(current), copy.deepcopy(changes)
    merged = merge_sections(current, changes)
    assert merged == {
        "treatment": {"text": "old"},
        "crisis_plan": {"what_helps": ["walks"]},
        "medication": {"text": "new"},
    }
    assert current == current_before
    assert changes == changes_before
    merged["treatment"]["text"] = "changed"
    assert current["treatment"] == {"text": "old"}


def test_merge_with_no_changes_is_a_copy() -> None:
    current = {"treatment": {"text": "a"}}
    merged = merge_sections(current, {})
    assert merged == current
    assert merged is not current
    assert merged["treatment"] is not current["treatment"]


# ------------------------------------------------------------------------------ missing sections
@pytest.mark.parametrize("kind", [DA, CP])
def test_all_required_sections_missing_in_section_key_order(kind: PlanKind) -> None:
    assert missing_sections(kind, {}) == [
        K.TREATMENT,
        K.MEDICATION,
        K.SOCIAL_SUPPORT,
        K.HOUSING,
        K.CRISIS_PLAN,
        K.IF_TREATMENT_STOPS,
        K.FIRST_FOLLOW_UP,
    ]


def test_missing_sections_counts_empty_sections_and_ignores_optional_ones() -> None:
    sections = {
        "first_follow_up": {"date": "2025-03-20"},
        "treatment": {"text": "x"},
        "housing": {},  # present but empty: still missing
        "citizen_goals": {"text": "work again"},  # optional
        "medication": {"text": "x"},
        "social_support": {"measures": ["§85"]},
    }
    assert missing_sections(DA, sections) == [K.HOUSING, K.CRISIS_PLAN, K.IF_TREATMENT_STOPS]


def test_nothing_missing_when_every_required_section_is_filled() -> None:
    sections = {key.value: {"text": "x"} for key in kind_rules(DA).required_sections}
    assert missing_sections(DA, sections) == []
    assert missing_sections(CP, sections) == []


# ------------------------------------------------------------------------------ diff
def test_diff_reports_added_removed_and_changed_fields_in_section_order() -> None:
    before = {
        "first_follow_up": {"date": "2025-03-20", "who": "GP"},
        "treatment": {"text": "same"},
        "housing": {"text": "own flat"},
        "crisis_plan": {"warning_signs": ["insomnia"]},
    }
    after = {
        "crisis_plan": {"warning_signs": ["insomnia", "isolation"]},
        "treatment": {"text": "same"},
        "first_follow_up": {"date": "2025-03-21", "place": "clinic"},
        "medication": {"text": "new"},
    }
    assert diff_sections(before, after) == [
        FieldChange("medication", "text", None, "new"),
        FieldChange("housing", "text", "own flat", None),
        FieldChange("crisis_plan", "warning_signs", ["insomnia"], ["insomnia", "isolation"]),
        FieldChange("first_follow_up", "date", "2025-03-20", "2025-03-21"),
        FieldChange("first_follow_up", "place", None, "clinic"),
        FieldChange("first_follow_up", "who", "GP", None),
    ]


def test_diff_of_identical_sections_is_empty() -> None:
    sections = {"treatment": {"text": "a"}, "crisis_plan": {"what_helps": ["b"]}}
    assert diff_sections(sections, copy.deepcopy(sections)) == []
    assert diff_sections({}, {}) == []


def test_diff_treats_an_empty_section_like_an_absent_one() -> None:
    assert diff_sections({"housing": {}}, {}) == []


def test_diff_puts_unknown_sections_last() -> None:
    assert diff_sections({"zz_legacy": {"x": 1}}, {"treatment": {"text": "a"}}) == [
        FieldChange("treatment", "text", None, "a"),
        FieldChange("zz_legacy", "x", 1, None),
    ]


# ------------------------------------------------------------------------------ properties
def _field_strategy(kind: str) -> st.SearchStrategy[Any]:
    if kind == "text":
        return st.one_of(st.none(), st.text(max_size=40))
    if kind == "list":
        return st.lists(st.text(max_size=20), max_size=MAX_ITEMS)
    assert kind == "date"
    return st.dates().map(lambda d: d.isoformat())


def _section_strategy(spec: dict[str, str]) -> st.SearchStrategy[Any]:
    fields = st.fixed_dictionaries({}, optional={n: _field_strategy(k) for n, k in spec.items()})
    return st.one_of(st.none(), fields)


SECTIONS = st.fixed_dictionaries(
    {}, optional={key.value: _section_strategy(spec) for key, spec in section_fields().items()}
)


@settings(max_examples=200, deadline=None)
@given(SECTIONS)
def test_clean_sections_is_idempotent(raw: dict[str, Any]) -> None:
    once = clean_sections(raw)
    assert clean_sections(once) == once
    assert set(once) == set(raw)
    assert diff_sections(once, once) == []
    assert diff_sections(once, copy.deepcopy(once)) == []


@settings(max_examples=200, deadline=None)
@given(SECTIONS, SECTIONS)
def test_merging_cleaned_changes_leaves_no_empty_sections(
    current_raw: dict[str, Any], changes_raw: dict[str, Any]
) -> None:
    current = {k: v for k, v in clean_sections(current_raw).items() if v}
    changes = clean_sections(changes_raw)
    merged = merge_sections(current, changes)
    assert all(merged.values())
    for key, content in changes.items():
        assert merged.get(key) == (content or None)
    for key in set(current) - set(changes):
        assert merged[key] == current[key]
    # the diff between the versions touches exactly the sections that differ
    changed = {c.section for c in diff_sections(current, merged)}
    assert changed == {k for k in set(current) | set(merged) if current.get(k) != merged.get(k)}


def test_an_empty_date_input_means_no_date() -> None:
    assert clean_sections({"first_follow_up": {"date": "  ", "who": "DP"}}) == {
        "first_follow_up": {"who": "DP"}
    }
    assert clean_sections({"first_follow_up": {"date": " 2026-12-03 "}}) == {
        "first_follow_up": {"date": "2026-12-03"}
    }


def test_sections_are_shown_in_the_rules_order_crisis_plan_first_each_field_named() -> None:
    specs = section_specs()
    assert [s.key.value for s in specs] == list(RULES["sections"])
    assert specs[0].key is SectionKey.CRISIS_PLAN
    assert {s.key for s in specs} == set(SectionKey)
    for spec in specs:
        assert [f.name for f in spec.fields] == list(RULES["sections"][spec.key.value]["fields"])
        for field in spec.fields:
            label("plan_field", f"{spec.key.value}.{field.name}")  # KeyError: a field has no name


def test_the_citizen_copy_leaves_out_sections_marked_internal() -> None:
    internal = {k for k, spec in RULES["sections"].items() if spec.get("citizen") is False}
    assert internal == {"if_treatment_stops"}
    content = {"if_treatment_stops": {"text": "x"}, "housing": {"text": "y"}, "economy": {}}
    assert citizen_sections(content) == {"housing": {"text": "y"}}
