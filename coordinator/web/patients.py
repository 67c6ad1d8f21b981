"""The patient page: who the patient is (CPR masked, revealed on purpose and audited), the pathway as a
timeline with the MedCom messages, the three sectors' fixed contact persons (assign, hand over), the
§13a/§13b obligation and assessment, plans and agreements with each party's state, and reminders.

Every read goes through the features' queries, which check the care relation (§13c) and audit. Without
a relation the page is the 404 page ("no such" and "not yours" look the same) and, for a role that may
break the glass, a form to take emergency access with a reason."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flask import flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import DateField, RadioField, SelectField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length

from coordinator import edge
from coordinator.access.services import (
    AccessDenied,
    grant_emergency_access,
    may_take_emergency_access,
)
from coordinator.accounts.models import User
from coordinator.care_pathways.models import Pathway
from coordinator.care_pathways.services import list_patient_pathways
from coordinator.care_pathways.timeline import PatientTimeline, patient_timeline
from coordinator.contacts.models import ContactAssignment
from coordinator.contacts.services import (
    assign_contact,
    hand_over_contact,
    list_colleagues,
    list_contacts,
    sectors_lacking_contact,
)
from coordinator.db import get_session
from coordinator.i18n import Form
from coordinator.organisations.models import Organisation
from coordinator.patients.queries import PatientHeader, patient_header, reveal_cpr
from coordinator.plans.models import Plan
from coordinator.plans.queries import list_patient_plans
from coordinator.plans.requirement import assess_requirement, pathway_obligation
from coordinator.reminders.models import Reminder
from coordinator.reminders.services import ReminderQuery, list_reminders
from coordinator.web.kit import (
    FieldMessages,
    actor,
    is_htmx,
    perform,
    show_field_errors,
    web_blueprint,
)
from pathways.agreements import Obligation
from pathways.clock import COPENHAGEN
from pathways.errors import ValidationFailed
from pathways.organisations import Sector
from pathways.permissions import Permission, has_permission
from pathways.stays import PathwayStatus

bp = web_blueprint("patients_web", __name__, url_prefix="/patients")

SECTORS = (Sector.REGION, Sector.MUNICIPALITY, Sector.GENERAL_PRACTICE)
_YES_NO = [SelectChoice("yes", _l("Yes")), SelectChoice("no", _l("No"))]


# ---------------------------------------------------------------------------- forms
class ContactForm(Form):
    """Name the fixed contact person of the user's own sector, from the first day given."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("prefix", "assign")  # two forms on one page: ids stay unique
        super().__init__(*args, **kwargs)

    person_id = SelectField(
        _l("Contact person"), coerce=int, validate_choice=False, validators=[InputRequired()]
    )
    valid_from = DateField(_l("From"), validators=[InputRequired()])


class HandOverForm(Form):
    """The current contact person hands over to a colleague from the day given."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("prefix", "handover")  # two forms on one page: ids stay unique
        super().__init__(*args, **kwargs)

    person_id = SelectField(
        _l("New contact person"), coerce=int, validate_choice=False, validators=[InputRequired()]
    )
    on = DateField(_l("From"), validators=[InputRequired()])


class AssessmentForm(Form):
    """The chief physician's §13a assessment of a stay."""

    receives_sel_support = RadioField(
        _l("Does the patient receive social support (Serviceloven)?"),
        choices=_YES_NO,
        validators=[InputRequired(_l("Choose yes or no"))],
    )
    presumed_not_to_seek_treatment = RadioField(
        _l("Is the patient presumed not to seek treatment on their own?"),
        choices=_YES_NO,
        validators=[InputRequired(_l("Choose yes or no"))],
    )


class EmergencyForm(Form):
    reason = TextAreaField(
        _l("Why do you need access? (the emergency)"),
        validators=[DataRequired(_l("Give the reason")), Length(max=500)],
    )


class RevealForm(Form):
    """Only the CSRF token: showing the whole CPR number is a deliberate, audited act."""


# ---------------------------------------------------------------------------- the page's data
@dataclass(frozen=True, slots=True)
class SectorContacts:
    sector: Sector
    current: ContactAssignment | None
    lacking: bool
    is_own: bool  # the user's own sector: the forms are offered


@dataclass(frozen=True, slots=True)
class StayObligation:
    pathway: Pathway
    obligation: Obligation


@dataclass(frozen=True, slots=True)
class PatientPage:
    header: PatientHeader
    timeline: PatientTimeline
    contacts: list[SectorContacts]
    colleagues: list[User]
    current_stay: Pathway | None
    obligations: list[StayObligation]
    plans: list[Plan]
    reminders: list[Reminder]
    may_manage_contacts: bool
    may_assess: bool
    may_draft: bool


def _load(patient_id: int) -> PatientPage:
    """Every part of the page, each read by its feature's query (care relation checked, audited)."""
    session, who, clock = get_session(), actor(), edge.clock()
    header = patient_header(session, who, clock, patient_id=patient_id)
    timeline = patient_timeline(session, who, clock, patient_id=patient_id)
    stays = list_patient_pathways(session, who, clock, patient_id=patient_id)
    assignments = list_contacts(session, who, clock, patient_id=patient_id)
    lacking = set(sectors_lacking_contact(session, who, clock, patient_id=patient_id))
    today = clock.now().astimezone(COPENHAGEN).date()
    own_org = session.get(Organisation, who.organisation_id) if who.organisation_id else None
    own_sector = own_org.sector if own_org is not None else None
    may_manage = has_permission(who, Permission.MANAGE_CONTACTS) and own_sector is not None
    contacts = [
        SectorContacts(
            sector,
            _current(assignments, sector, today),
            sector in lacking,
            may_manage and sector is own_sector,
        )
        for sector in SECTORS
    ]
    colleagues = list_colleagues(session, who, clock) if may_manage else []
    open_stays = [s for s in stays if s.status in (PathwayStatus.ADMITTED, PathwayStatus.ON_LEAVE)]
    obligations = [StayObligation(s, pathway_obligation(session, clock, s)) for s in stays]
    reminders = (
        list_reminders(session, who, clock, ReminderQuery(patient_id=patient_id))
        if has_permission(who, Permission.HANDLE_REMINDERS)
        else []
    )
    current_stay = open_stays[0] if open_stays else None
    return PatientPage(
        header=header,
        timeline=timeline,
        contacts=contacts,
        colleagues=colleagues,
        current_stay=current_stay,
        obligations=obligations,
        plans=list_patient_plans(session, who, clock, patient_id=patient_id),
        reminders=reminders,
        may_manage_contacts=may_manage,
        may_assess=current_stay is not None and has_permission(who, Permission.ASSESS_REQUIREMENT),
        may_draft=has_permission(who, Permission.CREATE_PLAN),
    )


def _current(
    rows: list[ContactAssignment], sector: Sector, today: date
) -> ContactAssignment | None:
    found = [
        r
        for r in rows
        if r.sector is sector
        and r.valid_from <= today
        and (r.valid_to is None or today <= r.valid_to)
    ]
    return found[-1] if found else None


# The use cases' field errors in the words people read (coordinator.web.kit.field_message).
_FIELD_MESSAGES: FieldMessages = {
    ("person_id", "invalid"): _l(
        "The person does not work in the organisation of the contact role."
    ),
    ("person_id", "unknown"): _l("The person is not an active member of staff."),
    ("person_id", "required"): _l("Choose a colleague."),
    ("valid_from", "overlap"): _l(
        "The sector already has a contact person in that period: hand over instead."
    ),
    ("valid_from", "invalid"): _l(
        "The handover must start after the current contact period started, and before it ended."
    ),
    ("reason", "required"): _l("Give a reason."),
}
# The handover form's first day is called "on".
_HANDOVER_FIELDS = {"valid_from": "on"}


def _forms(page: PatientPage, **bound: Form) -> dict[str, Form]:
    choices = [SelectChoice(u.id, f"{u.name} ({u.organisation.name})") for u in page.colleagues]
    today = edge.clock().now().astimezone(COPENHAGEN).date()  # the usual first day: today
    forms: dict[str, Form] = {
        "contact_form": bound.get("contact_form") or ContactForm(formdata=None, valid_from=today),
        "handover_form": bound.get("handover_form") or HandOverForm(formdata=None, on=today),
        "assessment_form": bound.get("assessment_form") or AssessmentForm(formdata=None),
        "reveal_form": RevealForm(formdata=None),
    }
    for name in ("contact_form", "handover_form"):
        forms[name].person_id.choices = [SelectChoice(0, _("Choose a colleague")), *choices]
    return forms


def _render(
    patient_id: int,
    status: int = 200,
    *,
    revealed_cpr: str = "",
    failed: str = "",
    notice: str = "",
    panel: bool = False,
    **bound: Form,
) -> ResponseReturnValue:
    """The page, read afresh (the reads are audited and committed once); for htmx after a change of
    contacts (``panel``), only the contacts panel, with ``notice`` or the form's errors."""
    edge.rollback()  # nothing of a refused change may be committed with the reads
    try:
        page = perform(lambda: _load(patient_id))
    except AccessDenied as error:
        return _no_access(patient_id, error)
    return (
        render_template(
            "patients/_contacts.html" if panel else "patients/show.html",
            page=page,
            patient=page.header.patient,
            revealed_cpr=revealed_cpr,
            failed=failed,
            notice=notice,
            today=edge.clock().now().astimezone(COPENHAGEN).date(),
            **_forms(page, **bound),
        ),
        status,
    )


def _no_access(
    patient_id: int, error: AccessDenied | None, form: EmergencyForm | None = None
) -> ResponseReturnValue:
    """The 404 page (the same for "no such" and "not yours"), with the break-the-glass form for a role
    that may take emergency access. Nothing of the patient is shown."""
    if error is not None:
        edge.failure_for(error)  # rolled back, the denial audited
    offer = may_take_emergency_access(actor())
    body = render_template(
        "patients/no_access.html",
        patient_id=patient_id,
        form=(form or EmergencyForm(formdata=None)) if offer else None,
        status=404,
    )
    return body, 404 if form is None or not form.errors else 422


# ---------------------------------------------------------------------------- views
@bp.get("/<int:patient_id>")
def show(patient_id: int) -> ResponseReturnValue:
    return _render(patient_id)


@bp.post("/<int:patient_id>/cpr")
def reveal(patient_id: int) -> ResponseReturnValue:
    """Show the whole CPR number (audited "reveal CPR"); htmx swaps it into the header."""
    form = RevealForm()
    if not form.validate_on_submit():
        return _render(patient_id, 400)
    cpr = perform(lambda: reveal_cpr(get_session(), actor(), edge.clock(), patient_id=patient_id))
    if is_htmx():
        return render_template("patients/_cpr.html", revealed_cpr=cpr)
    return _render(patient_id, revealed_cpr=cpr)


@bp.post("/<int:patient_id>/contacts")
def assign(patient_id: int) -> ResponseReturnValue:
    form = ContactForm()
    # any id: the use case checks that the person works there
    if not form.validate_on_submit() or not form.person_id.data:
        if not form.person_id.data and not form.person_id.errors:
            form.person_id.errors = [_("Choose a colleague")]
        return _render(patient_id, 422, failed="assign", panel=is_htmx(), contact_form=form)
    who = actor()
    valid_from = form.valid_from.data
    assert valid_from is not None
    try:
        perform(
            lambda: assign_contact(
                get_session(),
                who,
                edge.clock(),
                patient_id=patient_id,
                organisation_id=who.organisation_id or 0,
                person_id=form.person_id.data,
                valid_from=valid_from,
            )
        )
    except ValidationFailed as error:
        show_field_errors(form, error, _FIELD_MESSAGES)
        return _render(patient_id, 422, failed="assign", panel=is_htmx(), contact_form=form)
    return _changed(patient_id, _("The contact person was named"))


def _changed(patient_id: int, message: str) -> ResponseReturnValue:
    """After a change of contacts: htmx gets the panel anew with the message in it, a browser without
    script is redirected to the page (POST-redirect-GET) with the message flashed."""
    if is_htmx():
        return _render(patient_id, notice=message, panel=True)
    flash(message, "success")
    return redirect(url_for(".show", patient_id=patient_id, _anchor="contacts"))


@bp.post("/<int:patient_id>/contacts/<int:assignment_id>/hand-over")
def hand_over(patient_id: int, assignment_id: int) -> ResponseReturnValue:
    form = HandOverForm()
    if not form.validate_on_submit() or not form.person_id.data:
        if not form.person_id.data and not form.person_id.errors:
            form.person_id.errors = [_("Choose a colleague")]
        return _render(patient_id, 422, failed="handover", panel=is_htmx(), handover_form=form)
    on = form.on.data
    assert on is not None
    try:
        perform(
            lambda: hand_over_contact(
                get_session(),
                actor(),
                edge.clock(),
                assignment_id=assignment_id,
                person_id=form.person_id.data,
                on=on,
            )
        )
    except ValidationFailed as error:
        show_field_errors(form, error, _FIELD_MESSAGES, renamed=_HANDOVER_FIELDS)
        return _render(patient_id, 422, failed="handover", panel=is_htmx(), handover_form=form)
    return _changed(patient_id, _("The contact person was handed over"))


@bp.post("/<int:patient_id>/stays/<int:pathway_id>/assessment")
def assess(patient_id: int, pathway_id: int) -> ResponseReturnValue:
    form = AssessmentForm()
    if not form.validate_on_submit():
        return _render(patient_id, 422, failed="assessment", assessment_form=form)
    perform(
        lambda: assess_requirement(
            get_session(),
            actor(),
            edge.clock(),
            pathway_id=pathway_id,
            receives_sel_support=form.receives_sel_support.data == "yes",
            presumed_not_to_seek_treatment=form.presumed_not_to_seek_treatment.data == "yes",
        )
    )
    flash(_("The §13a assessment was saved"), "success")
    return redirect(url_for(".show", patient_id=patient_id, _anchor="obligation"))


@bp.post("/<int:patient_id>/emergency-access")
def emergency(patient_id: int) -> ResponseReturnValue:
    """Break the glass: access for a few hours with a reason, audited and reviewed later."""
    form = EmergencyForm()
    if not form.validate_on_submit():
        return _no_access(patient_id, None, form)
    reason = form.reason.data or ""
    try:
        perform(
            lambda: grant_emergency_access(
                get_session(), actor(), edge.clock(), patient_id=patient_id, reason=reason
            )
        )
    except ValidationFailed as error:
        edge.rollback()
        show_field_errors(form, error, _FIELD_MESSAGES)
        return _no_access(patient_id, None, form)
    flash(
        _("Emergency access was granted. Your reason is recorded and will be reviewed."), "warning"
    )
    return redirect(url_for(".show", patient_id=patient_id))
