"""The plan editor's forms, built from the plan rules (pathways/data/plan_rules.toml via
pathways.plan_content): a field added there appears here, with its name from labels.toml. No section has
a hand-written form or template."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import HiddenField, RadioField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, Optional

from coordinator.i18n import Form, request_language
from pathways.errors import ValidationFailed
from pathways.labels import label_or_code
from pathways.plan_content import FieldSpec, SectionSpec, section_specs
from pathways.plans import PlanKind, ResponseStatus

SEPARATOR = "__"  # <section>__<field>: a form field's name for a section field


def field_name(section: str, field: str) -> str:
    return f"{section}{SEPARATOR}{field}"


@dataclass(frozen=True, slots=True)
class EditorField:
    """One section field as the editor shows it: its form field name, label and kind."""

    name: str
    section: str
    field: str
    kind: str
    label: str


@dataclass(frozen=True, slots=True)
class EditorSection:
    key: str
    title: str
    fields: tuple[EditorField, ...]
    for_citizen: bool


def editor_sections() -> tuple[EditorSection, ...]:
    """The sections in the rules' order (the crisis plan first), named in the reader's language."""
    lang = request_language()
    return tuple(_section(spec, lang) for spec in section_specs())


def _section(spec: SectionSpec, lang: str) -> EditorSection:
    key = spec.key.value
    return EditorSection(
        key=key,
        title=label_or_code("plan_section", key, lang),
        fields=tuple(_field(key, f, lang) for f in spec.fields),
        for_citizen=spec.for_citizen,
    )


def _field(section: str, spec: FieldSpec, lang: str) -> EditorField:
    code = f"{section}.{spec.name}"
    name = label_or_code("plan_field", code, lang)
    return EditorField(field_name(section, spec.name), section, spec.name, spec.kind, name)


class PlanFormBase(Form):
    version = HiddenField()  # the plan's version the page was loaded at (optimistic lock)
    base = HiddenField()  # the content version the page showed: what a merge compares against
    change_note = StringField(
        _l("What did you change? (optional)"), validators=[Optional(), Length(max=500)]
    )


def plan_form(formdata: Any = None, data: Mapping[str, str] | None = None) -> Form:
    """The editor form (from ``formdata``, else from ``data``): one input per section field of the
    rules (text and lists as text areas, a list one item per line, dates as date inputs)."""

    class PlanForm(PlanFormBase):
        pass

    for section in editor_sections():
        for field in section.fields:
            if field.kind == "date":
                form_field: Any = StringField(field.label, render_kw={"type": "date"})
            else:
                rows = 2 if field.kind == "text" and field.field != "text" else 4
                form_field = TextAreaField(field.label, render_kw={"rows": rows})
            setattr(PlanForm, field.name, form_field)
    # formdata None: the given data, not the request's (Form reads a POST's form by default)
    return PlanForm(formdata=formdata, data=dict(data or {}))


def field_texts(sections: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """A version's content as the form's texts (a list one item per line), every field of the rules."""
    texts: dict[str, str] = {}
    for section in section_specs():
        content = sections.get(section.key.value) or {}
        for field in section.fields:
            value = content.get(field.name)
            if isinstance(value, list):
                text = "\n".join(str(v) for v in value)
            else:
                text = "" if value is None else str(value)
            texts[field_name(section.key.value, field.name)] = text
    return texts


def sections_from(texts: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """The form's texts as the use case's sections (every section, an empty one removed)."""
    sections: dict[str, dict[str, Any]] = {}
    for section in section_specs():
        content: dict[str, Any] = {}
        for field in section.fields:
            text = (texts.get(field_name(section.key.value, field.name)) or "").strip()
            if not text:
                continue
            if field.kind == "list":
                content[field.name] = [line.strip() for line in text.splitlines() if line.strip()]
            else:
                content[field.name] = text
        sections[section.key.value] = content
    return sections


def form_texts(form: Form) -> dict[str, str]:
    return {
        name: str(field.data or "") for name, field in form._fields.items() if SEPARATOR in name
    }


def place_errors(form: Form, error: ValidationFailed) -> dict[str, list[str]]:
    """The use case's field errors next to their inputs (``sections.<section>.<field>``), a section's
    own errors (a required section left empty) by section key, the rest above the form."""
    by_section: dict[str, list[str]] = {}
    for problem in error.errors:
        parts = problem.field.split(".")
        if parts[0] == "sections" and len(parts) >= 3:
            name = field_name(parts[1], parts[2].split("[", 1)[0])
            target = form._fields.get(name)
            if target is not None:
                target.errors = [*target.errors, _field_message(problem.code, name)]
                continue
        if parts[0] == "sections" and len(parts) == 2:
            by_section.setdefault(parts[1], []).append(_section_message(problem.code))
            continue
        if parts[0] in form._fields:
            target = form._fields[parts[0]]
            target.errors = [*target.errors, _("Check what you entered here.")]
            continue
        form.form_errors.append(_other_message(problem.field, problem.code))
    return by_section


def _field_message(code: str, name: str) -> str:
    if name.endswith(f"{SEPARATOR}date") or code == "date":
        return _("Enter a date.")
    if code == "too-long":
        return _("The text is too long.")
    return _("Check what you entered here.")


def _section_message(code: str) -> str:
    if code == "required":
        return _("Fill in this section before the plan is proposed.")
    return _("Check this section.")


def _other_message(field: str, code: str) -> str:
    if field == "participants":
        return _("A required party is missing from the plan, and no reason has been recorded why.")
    return _("The plan could not be saved. Check the fields and try again.")


class ProposeForm(Form):
    version = HiddenField()


RESPONSES = [
    SelectChoice(ResponseStatus.ACCEPTED.value, _l("Accept")),
    SelectChoice(ResponseStatus.REJECTED.value, _l("Reject")),
    SelectChoice(ResponseStatus.COMMENTED.value, _l("Comment")),
]


class AnswerForm(Form):
    """One party's answer. Several are on one page (a prefix each), so the token is the page's own
    ``csrf_token`` field, checked app-wide by CSRFProtect."""

    class Meta:
        csrf = False

    version = HiddenField()
    response = RadioField(_l("Answer"), choices=RESPONSES, default=ResponseStatus.ACCEPTED.value)
    note = TextAreaField(
        _l("Reason or comment (required when you reject or comment)"),
        validators=[Optional(), Length(max=2000)],
        render_kw={"rows": 3},
    )


KINDS = [
    SelectChoice(PlanKind.DISCHARGE_AGREEMENT.value, _l("Discharge agreement (§13a)")),
    SelectChoice(PlanKind.COORDINATION_PLAN.value, _l("Coordination plan (§13b)")),
]


class NewPlanForm(Form):
    pathway_id = RadioField(_l("Stay"))
    kind = RadioField(_l("Kind"), choices=KINDS, default=PlanKind.DISCHARGE_AGREEMENT.value)
