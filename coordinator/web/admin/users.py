"""An organisation's staff accounts: list, create (with a one-time password), change role or unit,
deactivate, reset the password, lift login lockouts; and the organisation's units."""

from __future__ import annotations

from http import HTTPStatus

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import ngettext
from werkzeug.exceptions import NotFound

from coordinator import edge
from coordinator.accounts import services as accounts
from coordinator.accounts.models import User
from coordinator.db import get_session
from coordinator.web.admin import bp
from coordinator.web.admin.common import FIELD_MESSAGES, labelled, once
from coordinator.web.admin.forms import ChangeUserForm, CreateUserForm
from coordinator.web.kit import actor, perform, show_field_errors
from pathways.errors import Conflict, ValidationFailed
from pathways.people import Role


def _organisation_id() -> int:
    """The organisation the page is about: the one asked for (a system administrator may pick any; the
    use cases refuse others), else the administrator's own."""
    chosen = request.args.get("organisation_id", type=int) or actor().organisation_id
    if chosen is None:
        raise NotFound()
    return chosen


def _choices(form: CreateUserForm | ChangeUserForm, organisation_id: int) -> None:
    session, me = get_session(), actor()
    form.role.choices = labelled("staff_role", accounts.grantable_roles(me))
    form.organisation_id.choices = [
        (org.id, org.name)
        for org in accounts.administered_organisations(session, me, organisation_id)
    ]


def _index(
    form: CreateUserForm, organisation_id: int, status: int = HTTPStatus.OK
) -> ResponseReturnValue:
    session, me = get_session(), actor()
    staff = accounts.list_staff(session, me, organisation_id)
    units = accounts.administered_organisations(session, me, organisation_id)
    in_scope = {user.id for user in staff}
    locks = [
        lock
        for lock in accounts.list_login_locks(session, me, edge.clock())
        if lock.user_id in in_scope
    ]
    everyone = me.role is Role.SYSTEM_ADMIN
    body = render_template(
        "admin/index.html",
        form=form,
        organisation=units[0],
        units=units[1:],
        staff=staff,
        locks=locks,
        locked={lock.user_id for lock in locks},
        organisations=accounts.organisations_to_administer(session, me) if everyone else None,
    )
    return body, status


@bp.get("")
def index() -> ResponseReturnValue:
    organisation_id = _organisation_id()
    form = CreateUserForm(organisation_id=organisation_id)
    _choices(form, organisation_id)
    return _index(form, organisation_id)


@bp.post("/users")
def create_user() -> ResponseReturnValue:
    organisation_id = _organisation_id()
    form = CreateUserForm()
    _choices(form, organisation_id)
    if not form.validate_on_submit():
        return _index(form, organisation_id, HTTPStatus.UNPROCESSABLE_ENTITY)
    me = actor()
    try:
        user, password = perform(
            lambda: accounts.create_staff_member_with_one_time_password(
                get_session(),
                me,
                edge.clock(),
                organisation_id=form.organisation_id.data,
                name=form.name.data,
                role=form.role.data,
                title=form.title.data or "",
                phone=form.phone.data or "",
                email=form.email.data or "",
                username=form.username.data or None,
            )
        )
    except ValidationFailed as error:
        show_field_errors(form, error, FIELD_MESSAGES)
        return _index(form, organisation_id, HTTPStatus.UNPROCESSABLE_ENTITY)
    except Conflict:
        form.username.errors = [*form.username.errors, _("That username is already taken")]
        return _index(form, organisation_id, HTTPStatus.UNPROCESSABLE_ENTITY)
    if password is None:
        flash(_("%(name)s was created (without a login).", name=user.name), "success")
        return redirect(
            url_for(".index", organisation_id=organisation_id), code=HTTPStatus.SEE_OTHER
        )
    return once("admin/one_time_password.html", user=user, password=password, created=True)


def _user_page(
    user: User, form: ChangeUserForm | None = None, status: int = HTTPStatus.OK
) -> ResponseReturnValue:
    if form is None:
        form = ChangeUserForm(role=user.role.value, organisation_id=user.organisation_id)
    me = actor()
    top = me.organisation_id if me.role is not Role.SYSTEM_ADMIN else None
    _choices(form, top or user.organisation_id)
    body = render_template(
        "admin/user.html",
        user=user,
        form=form,
        locks=[
            lock
            for lock in accounts.list_login_locks(get_session(), me, edge.clock())
            if lock.user_id == user.id
        ],
    )
    return body, status


@bp.get("/users/<int:user_id>")
def user(user_id: int) -> ResponseReturnValue:
    return _user_page(accounts.get_administered_user(get_session(), actor(), user_id))


@bp.post("/users/<int:user_id>")
def change_user(user_id: int) -> ResponseReturnValue:
    found = accounts.get_administered_user(get_session(), actor(), user_id)
    form = ChangeUserForm()
    me = actor()
    top = me.organisation_id if me.role is not Role.SYSTEM_ADMIN else None
    _choices(form, top or found.organisation_id)
    if not form.validate_on_submit():
        return _user_page(found, form, HTTPStatus.UNPROCESSABLE_ENTITY)
    try:
        perform(
            lambda: accounts.change_staff_member(
                get_session(),
                me,
                edge.clock(),
                user_id,
                role=form.role.data,
                organisation_id=form.organisation_id.data,
            )
        )
    except ValidationFailed as error:
        get_session().refresh(found)
        show_field_errors(form, error, FIELD_MESSAGES)
        return _user_page(found, form, HTTPStatus.UNPROCESSABLE_ENTITY)
    flash(_("The account was changed."), "success")
    return redirect(url_for(".user", user_id=user_id), code=HTTPStatus.SEE_OTHER)


@bp.post("/users/<int:user_id>/deactivate")
def deactivate_user(user_id: int) -> ResponseReturnValue:
    perform(
        lambda: accounts.set_staff_member_active(
            get_session(), actor(), edge.clock(), user_id, active=False
        )
    )
    flash(_("The account was deactivated: it can no longer log in."), "success")
    return redirect(url_for(".user", user_id=user_id), code=HTTPStatus.SEE_OTHER)


@bp.post("/users/<int:user_id>/activate")
def activate_user(user_id: int) -> ResponseReturnValue:
    perform(
        lambda: accounts.set_staff_member_active(
            get_session(), actor(), edge.clock(), user_id, active=True
        )
    )
    flash(_("The account was activated again."), "success")
    return redirect(url_for(".user", user_id=user_id), code=HTTPStatus.SEE_OTHER)


@bp.post("/users/<int:user_id>/password")
def reset_password(user_id: int) -> ResponseReturnValue:
    password = perform(
        lambda: accounts.issue_one_time_password(get_session(), actor(), edge.clock(), user_id)
    )
    found = accounts.get_administered_user(get_session(), actor(), user_id)
    return once("admin/one_time_password.html", user=found, password=password, created=False)


@bp.post("/users/<int:user_id>/unlock")
def unlock_user(user_id: int) -> ResponseReturnValue:
    lifted = perform(lambda: accounts.unlock_user(get_session(), actor(), edge.clock(), user_id))
    flash(ngettext("%(num)d lockout lifted.", "%(num)d lockouts lifted.", lifted), "success")
    return redirect(url_for(".user", user_id=user_id), code=HTTPStatus.SEE_OTHER)


@bp.post("/login-locks/<int:lock_id>/lift")
def lift_lock(lock_id: int) -> ResponseReturnValue:
    perform(lambda: accounts.lift_login_lock(get_session(), actor(), edge.clock(), lock_id))
    flash(_("The lockout was lifted."), "success")
    return redirect(url_for(".index"), code=HTTPStatus.SEE_OTHER)
