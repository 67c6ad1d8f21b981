"""The plan editor: draft a discharge agreement (§13a) or coordination plan (§13b), edit its sections
(forms built from the plan rules), propose it, answer it per party, merge a concurrent edit, compare
versions, and the citizen's printable copy (HTML and PDF).

Every read and write is a use case of coordinator.plans (access, audit, one commit through ``perform``).
"""

from __future__ import annotations

from http import HTTPStatus
from pathlib import Path
from typing import Any

from flask import (
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from wtforms.fields.choices import SelectChoice

from coordinator import edge
from coordinator.care_pathways.services import list_patient_pathways
from coordinator.db import get_session
from coordinator.plans import answers, queries, services
from coordinator.plans.models import Plan
from coordinator.web.filters import day
from coordinator.web.kit import actor, perform, show_field_errors, web_blueprint
from coordinator.web.plans import merge as merging
from coordinator.web.plans.forms import (
    AnswerForm,
    NewPlanForm,
    ProposeForm,
    editor_sections,
    field_texts,
    form_texts,
    place_errors,
    plan_form,
    sections_from,
)
from pathways.clock import Clock
from pathways.errors import StaleVersion, ValidationFailed
from pathways.plans import PlanKind
from pathways.stays import PathwayStatus

bp = web_blueprint("plans_web", __name__)

OPEN_STAYS = frozenset({PathwayStatus.ADMITTED, PathwayStatus.ON_LEAVE, PathwayStatus.DISCHARGED})


def _clock() -> Clock:
    return edge.clock()


def _version(value: object) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


# ---------------------------------------------------------------------------- a new draft
@bp.route("/patients/<int:patient_id>/plans/new", methods=["GET", "POST"])
def new(patient_id: int) -> ResponseReturnValue:
    stays = [
        stay
        for stay in perform(
            lambda: list_patient_pathways(get_session(), actor(), _clock(), patient_id=patient_id)
        )
        if stay.status in OPEN_STAYS
    ]
    form = NewPlanForm()
    form.pathway_id.choices = [
        SelectChoice(
            str(stay.id),
            _("%(ward)s, admitted %(day)s", ward=stay.ward.name, day=day(stay.admitted_at)),
        )
        for stay in stays
    ]
    if stays and form.pathway_id.data is None:
        form.pathway_id.data = str(stays[0].id)
    if request.method == "GET":
        return render_template("plans/new.html", form=form, stays=stays, patient_id=patient_id)
    if not form.validate_on_submit():
        return render_template(
            "plans/new.html", form=form, stays=stays, patient_id=patient_id
        ), HTTPStatus.UNPROCESSABLE_ENTITY
    try:
        plan = perform(
            lambda: services.create_draft(
                get_session(),
                actor(),
                _clock(),
                pathway_id=int(form.pathway_id.data or 0),
                kind=PlanKind(form.kind.data),
            )
        )
    except ValidationFailed as error:
        edge.rollback()
        show_field_errors(form, error)
        return render_template(
            "plans/new.html", form=form, stays=stays, patient_id=patient_id
        ), HTTPStatus.UNPROCESSABLE_ENTITY
    flash(_("The draft was created."), "success")
    return redirect(url_for("plans_web.edit", plan_id=plan.id))


# ---------------------------------------------------------------------------- the editor
def _editor(
    plan_id: int,
    *,
    form: Any = None,
    section_errors: dict[str, list[str]] | None = None,
    answer_forms: dict[int, AnswerForm] | None = None,
    notices: list[str] | None = None,
    status: int = HTTPStatus.OK,
) -> ResponseReturnValue:
    view = perform(
        lambda: queries.plan_for_editor(get_session(), actor(), _clock(), plan_id=plan_id)
    )
    plan = view.plan
    if form is None:  # else a refused save: what was typed, against the version it was loaded at
        form = plan_form(data=_loaded(plan))
    forms = dict(answer_forms or {})
    for participant_id in view.answerable:
        forms.setdefault(
            participant_id,
            AnswerForm(
                formdata=None, prefix=f"party{participant_id}", data={"version": plan.version}
            ),
        )
    body = render_template(
        "plans/edit.html",
        view=view,
        plan=plan,
        form=form,
        sections=editor_sections(),
        section_errors=section_errors or {},
        notices=notices or [],
        propose_form=ProposeForm(formdata=None, data={"version": plan.version}),
        answer_forms=forms,
        saved=field_texts(plan.current_version.sections),
    )
    return make_response(body, status)


def _loaded(plan: Plan) -> dict[str, str]:
    return {
        **field_texts(plan.current_version.sections),
        "version": str(plan.version),
        "base": str(plan.current_version_number),
    }


@bp.route("/plans/<int:plan_id>", methods=["GET", "POST"])
def edit(plan_id: int) -> ResponseReturnValue:
    if request.method == "GET":
        return _editor(plan_id)
    form = plan_form(formdata=request.form)
    if not form.validate_on_submit():
        return _editor(plan_id, form=form, status=HTTPStatus.UNPROCESSABLE_ENTITY)
    picks = {
        key.removeprefix("pick__"): value
        for key, value in request.form.items()
        if key.startswith("pick__")
    }
    texts = merging.resolve(picks, form_texts(form), request.form)
    for name, text in texts.items():
        form[name].data = text
    expected = _version(form.version.data)
    try:
        perform(
            lambda: services.edit_plan(
                get_session(),
                actor(),
                _clock(),
                plan_id=plan_id,
                expected_version=expected,
                sections=sections_from(texts),
                change_note=form.change_note.data or "",
            )
        )
    except ValidationFailed as error:
        edge.rollback()
        section_errors = place_errors(form, error)
        return _editor(
            plan_id,
            form=form,
            section_errors=section_errors,
            status=HTTPStatus.UNPROCESSABLE_ENTITY,
        )
    except StaleVersion:
        edge.rollback()
        return _merge_page(plan_id, form, texts)
    flash(_("The draft was saved."), "success")
    return redirect(url_for("plans_web.edit", plan_id=plan_id))


def _merge_page(plan_id: int, form: Any, mine: dict[str, str]) -> ResponseReturnValue:
    """Someone saved the plan after this page was loaded: both texts side by side, nothing lost."""
    plan = perform(
        lambda: queries.get_plan(
            get_session(),
            actor(),
            _clock(),
            plan_id=plan_id,
            purpose="merge a concurrent edit",
            with_history=True,
        )
    )
    base_number = _version(form.base.data)
    base_version = plan.version_number_of(base_number) if base_number else None
    base = field_texts(base_version.sections if base_version else {})
    saved = field_texts(plan.current_version.sections)
    merged, rows = merging.merge(mine, base, saved)
    merge_form = plan_form(
        data={
            **merged,
            "version": str(plan.version),
            "base": str(plan.current_version_number),
            "change_note": form.change_note.data or "",
        }
    )
    labels = {f.name: (s.title, f.label) for s in editor_sections() for f in s.fields}
    body = render_template(
        "plans/merge.html",
        plan=plan,
        form=merge_form,
        rows=rows,
        labels=labels,
        differing={row.name for row in rows},
        merging=merging,
    )
    return make_response(body, HTTPStatus.CONFLICT)


@bp.post("/plans/<int:plan_id>/propose")
def propose(plan_id: int) -> ResponseReturnValue:
    form = ProposeForm()
    if not form.validate_on_submit():
        return _editor(plan_id, status=HTTPStatus.UNPROCESSABLE_ENTITY)
    try:
        perform(
            lambda: services.propose(
                get_session(),
                actor(),
                _clock(),
                plan_id=plan_id,
                expected_version=_version(form.version.data),
            )
        )
    except ValidationFailed as error:
        edge.rollback()
        placed = plan_form(data=None)
        section_errors = place_errors(placed, error)
        return _editor(
            plan_id,
            section_errors=section_errors,
            notices=[
                *placed.form_errors,
                _("The plan is not complete yet: see the sections marked."),
            ],
            status=HTTPStatus.UNPROCESSABLE_ENTITY,
        )
    flash(_("The plan was proposed to the parties."), "success")
    return redirect(url_for("plans_web.edit", plan_id=plan_id))


@bp.post("/plans/<int:plan_id>/parties/<int:participant_id>/answer")
def answer(plan_id: int, participant_id: int) -> ResponseReturnValue:
    form = AnswerForm(prefix=f"party{participant_id}")
    if not form.validate_on_submit():
        return _editor(
            plan_id, answer_forms={participant_id: form}, status=HTTPStatus.UNPROCESSABLE_ENTITY
        )
    try:
        perform(
            lambda: answers.respond(
                get_session(),
                actor(),
                _clock(),
                plan_id=plan_id,
                expected_version=_version(form.version.data),
                participant_id=participant_id,
                response=form.response.data or "",
                note=form.note.data or "",
            )
        )
    except ValidationFailed as error:
        edge.rollback()
        show_field_errors(form, error)
        for field in (form.note, form.response):
            field.errors = [_answer_message(field.name, m) for m in field.errors]
        return _editor(
            plan_id, answer_forms={participant_id: form}, status=HTTPStatus.UNPROCESSABLE_ENTITY
        )
    flash(_("Your answer was recorded."), "success")
    return redirect(url_for("plans_web.edit", plan_id=plan_id))


def _answer_message(name: str, message: str) -> str:
    if name.endswith("note"):
        return _("Write why you reject the plan, or what your comment is.")
    return _("Choose an answer.")


# ---------------------------------------------------------------------------- history
@bp.get("/plans/<int:plan_id>/history")
def history(plan_id: int) -> ResponseReturnValue:
    from_number = request.args.get("from", type=int)
    to_number = request.args.get("to", type=int)
    try:
        plan, comparison = perform(
            lambda: queries.plan_history(
                get_session(),
                actor(),
                _clock(),
                plan_id=plan_id,
                from_number=from_number,
                to_number=to_number,
            )
        )
    except ValidationFailed:  # a version the plan does not have: the newest comparison instead
        edge.rollback()
        plan, comparison = perform(
            lambda: queries.plan_history(get_session(), actor(), _clock(), plan_id=plan_id)
        )
    labels = {(s.key, f.field): (s.title, f.label) for s in editor_sections() for f in s.fields}
    rows = []
    for change in comparison.changes if comparison else ():
        before, after = merging.word_diff(_text(change.before), _text(change.after))
        title = labels.get((change.section, change.field), (change.section, change.field))
        rows.append((title[0], title[1], before, after))
    return render_template(
        "plans/history.html",
        plan=plan,
        comparison=comparison,
        rows=rows,
        versions=list(reversed(plan.versions)),
    )


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return "\n".join(str(v) for v in value)
    return str(value)


# ---------------------------------------------------------------------------- the citizen's copy
def _citizen_copy(plan_id: int, *, as_pdf: bool) -> tuple[queries.CitizenCopy, list[Any]]:
    copy = perform(
        lambda: queries.citizen_copy(
            get_session(), actor(), _clock(), plan_id=plan_id, as_pdf=as_pdf
        )
    )
    shown = [
        (section, [(f, _text(copy.sections[section.key].get(f.field))) for f in section.fields])
        for section in editor_sections()
        if section.key in copy.sections
    ]
    return copy, shown


@bp.get("/plans/<int:plan_id>/citizen-copy")
def citizen_copy(plan_id: int) -> ResponseReturnValue:
    copy, shown = _citizen_copy(plan_id, as_pdf=False)
    return render_template("plans/citizen_copy.html", copy=copy, plan=copy.plan, shown=shown)


@bp.get("/plans/<int:plan_id>/citizen-copy.pdf")
def citizen_copy_pdf(plan_id: int) -> ResponseReturnValue:
    from weasyprint import CSS, HTML  # type: ignore[import-untyped]  # noqa: PLC0415 - heavy import

    copy, shown = _citizen_copy(plan_id, as_pdf=True)
    html = render_template(
        "plans/citizen_copy_document.html", copy=copy, plan=copy.plan, shown=shown, standalone=True
    )
    stylesheet = Path(current_app.static_folder or "", "css", "plans-print.css")
    pdf = HTML(string=html, base_url=request.host_url).write_pdf(
        stylesheets=[CSS(filename=str(stylesheet))]
    )
    response = make_response(pdf)
    response.headers["Content-Type"] = "application/pdf"
    response.headers["Content-Disposition"] = f'inline; filename="plan-{plan_id}.pdf"'
    response.headers["Cache-Control"] = "no-store"
    return response
