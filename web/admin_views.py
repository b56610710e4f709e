"""The administrator's page: users and their roles (create, change roles, deactivate, set a new password)."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from engine.errors import SegitoError
from engine.people import users
from engine.store import clock

from .auth import current_actor, current_session_id, roles_required, runtime

admin = Blueprint("admin", __name__, url_prefix="/admin")

MIN_PASSWORD = 10


def _form_roles() -> list[str]:
    return [r for r in request.form.getlist("roles") if r]


def _render(form=None, errors=None, status=200, editing=None):
    with runtime().db.reading() as session:
        rows = [{"id": u.id, "username": u.username, "display_name": u.display_name, "roles": sorted(u.role_codes),
                 "active": u.active, "locale": u.locale} for u in users.list_users(session)]
    return render_template("admin_users.html", users=rows, roles=users.ROLES, form=form or {}, errors=errors or {},
                           editing=editing), status


@admin.get("/users")
@roles_required(users.ADMINISTRATOR)
def users_page():
    return _render()


def _password_problem(password: str, required: bool) -> str | None:
    if not password:
        return _("A password is required.") if required else None
    if len(password) < MIN_PASSWORD:
        return _("The password must be at least %(n)d characters long.", n=MIN_PASSWORD)
    return None


@admin.post("/users")
@roles_required(users.ADMINISTRATOR)
def create():
    form = {"username": request.form.get("username", "").strip(),
            "display_name": request.form.get("display_name", "").strip(), "roles": _form_roles()}
    errors = {}
    if not form["username"]:
        errors["username"] = _("A username is required.")
    elif not all(c.isalnum() or c in "._-" for c in form["username"]) or len(form["username"]) > 80:
        errors["username"] = _("Use letters, digits, dot, hyphen or underscore (at most 80).")
    if not form["display_name"]:
        errors["display_name"] = _("A name is required.")
    if not form["roles"]:
        errors["roles"] = _("Choose at least one role.")
    problem = _password_problem(request.form.get("password", ""), required=True)
    if problem:
        errors["password"] = problem
    if not errors:
        try:
            with runtime().db.unit_of_work() as session:
                users.create_user(session, form["username"], form["display_name"], form["roles"],
                                  request.form["password"], current_actor().username, clock.now())
        except SegitoError as e:
            errors["username"] = (_("This username is taken.") if "already exists" in e.message else e.message)
    if errors:
        return _render(form=form, errors=errors, status=422)
    flash(_("User %(name)s created.", name=form["username"]), "info")
    return redirect(url_for("admin.users_page"))


@admin.post("/users/<int:user_id>")
@roles_required(users.ADMINISTRATOR)
def update(user_id):
    roles = _form_roles()
    errors = {}
    if not roles:
        errors["general"] = _("Choose at least one role.")
    password = request.form.get("password", "")
    problem = _password_problem(password, required=False)
    if problem:
        errors["general"] = problem
    if not errors:
        try:
            with runtime().db.unit_of_work() as session:
                users.update_user(session, user_id, current_actor().username, clock.now(),
                                  display_name=request.form.get("display_name"), roles=roles,
                                  active=request.form.get("active") == "1", password=password or None,
                                  # setting one's own password keeps this session; every other one ends
                                  keep_session=current_session_id() if user_id == current_actor().id else None)
        except SegitoError as e:
            own = {"roles": _("You cannot remove your own administrator role."),
                   "active": _("You cannot deactivate yourself.")}
            field = (e.details[0].get("field") if e.details else None)
            errors["general"] = own.get(field, e.message)
    if errors:
        return _render(errors=errors, status=422, editing=user_id)
    flash(_("Changes saved."), "info")
    return redirect(url_for("admin.users_page"))
