"""The structured content of a plan: sections, their fields, what each kind requires, and diffs.

The shape of each section and the required sections and parties per kind are data
(pathways/data/plan_rules.toml), so a region can adapt them without a code change.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib.resources import files
from typing import Any

from pathways.errors import ErrorCollector
from pathways.plans import ParticipantRole, PlanKind, SectionKey

MAX_TEXT = 10_000
MAX_ITEMS = 50

Sections = dict[str, dict[str, Any]]


@dataclass(frozen=True, slots=True)
class KindRules:
    kind: PlanKind
    legal_bases: tuple[str, ...]
    required_sections: frozenset[SectionKey]
    required_roles: frozenset[ParticipantRole]


@cache
def _rules() -> dict[str, Any]:
    text = files("pathways.data").joinpath("plan_rules.toml").read_text(encoding="utf-8")
    raw: dict[str, Any] = tomllib.loads(text)
    return raw


@cache
def section_fields() -> dict[SectionKey, dict[str, str]]:
    fields = {SectionKey(key): dict(spec["fields"]) for key, spec in _rules()["sections"].items()}
    missing = set(SectionKey) - set(fields)
    if missing:
        raise ValueError(f"plan_rules.toml lacks sections {sorted(missing)}")
    return {key: fields[key] for key in SectionKey}  # the code's order; people see the file's


@dataclass(frozen=True, slots=True)
class FieldSpec:
    name: str
    kind: str  # text, list or date


@dataclass(frozen=True, slots=True)
class SectionSpec:
    key: SectionKey
    fields: tuple[FieldSpec, ...]
    for_citizen: bool  # False: internal, left out of the citizen's copy


@cache
def section_specs() -> tuple[SectionSpec, ...]:
    """Every section with its fields, in the order plan_rules.toml lists them (the order people see)."""
    fields = section_fields()
    return tuple(
        SectionSpec(
            key=SectionKey(key),
            fields=tuple(FieldSpec(name, kind) for name, kind in fields[SectionKey(key)].items()),
            for_citizen=bool(spec.get("citizen", True)),
        )
        for key, spec in _rules()["sections"].items()
    )


def citizen_sections(sections: Mapping[str, Mapping[str, Any]]) -> Sections:
    """The content the citizen's copy shows: the sections not marked internal, in the rules' order."""
    return {
        spec.key.value: dict(sections[spec.key.value])
        for spec in section_specs()
        if spec.for_citizen and sections.get(spec.key.value)
    }


@cache
def kind_rules(kind: PlanKind) -> KindRules:
    spec = _rules()["kinds"][kind.value]
    return KindRules(
        kind=kind,
        legal_bases=tuple(spec["legal_bases"]),
        required_sections=frozenset(SectionKey(s) for s in spec["required_sections"]),
        required_roles=frozenset(ParticipantRole(r) for r in spec["required_roles"]),
    )


def clean_sections(sections: object, field_prefix: str = "sections") -> Sections:
    """Validate and normalise section content; report every bad field as ``sections.<key>.<field>``.

    A section set to None (or {}) is removed; text is trimmed; empty fields are dropped.
    """
    errors = ErrorCollector()
    if not isinstance(sections, Mapping):
        errors.add(field_prefix, "sections must be an object keyed by section name")
        errors.raise_if_any()
        return {}
    schema = section_fields()
    result: Sections = {}
    for raw_key, content in sections.items():
        where = f"{field_prefix}.{raw_key}"
        try:
            key = SectionKey(raw_key)
        except ValueError:
            errors.add(
                where, f"unknown section; known sections: {', '.join(s.value for s in SectionKey)}"
            )
            continue
        if content is None or content == {}:
            result[key.value] = {}
            continue
        if not isinstance(content, Mapping):
            errors.add(where, "a section must be an object of fields")
            continue
        cleaned: dict[str, Any] = {}
        for name, value in content.items():
            kind = schema[key].get(name)
            if kind is None:
                errors.add(
                    f"{where}.{name}", f"unknown field; allowed: {', '.join(sorted(schema[key]))}"
                )
                continue
            clean = _clean_field(errors, f"{where}.{name}", kind, value)
            if clean not in (None, "", []):
                cleaned[name] = clean
        result[key.value] = cleaned
    errors.raise_if_any()
    return result


def _clean_text(errors: ErrorCollector, where: str, value: object) -> object:
    return errors.text(where, value, required=False, max_length=MAX_TEXT)


def _clean_list(errors: ErrorCollector, where: str, value: object) -> object:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        errors.add(where, "must be a list of texts")
        return None
    items = [v.strip() for v in value if v.strip()]
    if len(items) > MAX_ITEMS:
        errors.add(where, f"at most {MAX_ITEMS} items")
    return items


def _clean_date(errors: ErrorCollector, where: str, value: object) -> object:
    if isinstance(value, str):
        if not value.strip():
            return None  # an empty date input means "no date", like empty text
        try:
            return date.fromisoformat(value.strip()).isoformat()
        except ValueError:
            pass
    errors.add(where, "must be a date (YYYY-MM-DD)")
    return None


_CLEANERS: dict[str, Callable[[ErrorCollector, str, object], object]] = {
    "text": _clean_text,
    "list": _clean_list,
    "date": _clean_date,
}


def _clean_field(errors: ErrorCollector, where: str, kind: str, value: object) -> object:
    if value is None:
        return None
    try:
        cleaner = _CLEANERS[kind]
    except KeyError:
        raise ValueError(f"unknown field type {kind!r} in plan_rules.toml") from None
    return cleaner(errors, where, value)


def merge_sections(current: Sections, changes: Sections) -> Sections:
    """Apply cleaned changes: a section given replaces the old one; an empty section removes it."""
    merged = {k: dict(v) for k, v in current.items()}
    for key, content in changes.items():
        if content:
            merged[key] = dict(content)
        else:
            merged.pop(key, None)
    return merged


def missing_sections(kind: PlanKind, sections: Mapping[str, Mapping[str, Any]]) -> list[SectionKey]:
    required = kind_rules(kind).required_sections
    return sorted(
        (k for k in required if not sections.get(k.value)), key=lambda k: list(SectionKey).index(k)
    )


@dataclass(frozen=True, slots=True)
class FieldChange:
    section: str
    field: str
    before: object
    after: object


def diff_sections(
    before: Mapping[str, Mapping[str, Any]], after: Mapping[str, Mapping[str, Any]]
) -> list[FieldChange]:
    """Field-level differences between two versions, in section order."""
    order = [s.value for s in SectionKey]
    changes: list[FieldChange] = []
    for section in sorted(
        set(before) | set(after), key=lambda s: order.index(s) if s in order else len(order)
    ):
        old, new = before.get(section, {}), after.get(section, {})
        for name in sorted(set(old) | set(new)):
            if old.get(name) != new.get(name):
                changes.append(FieldChange(section, name, old.get(name), new.get(name)))
    return changes
