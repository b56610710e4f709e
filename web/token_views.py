"""The page "API tokens": a user issues, sees and revokes her own tokens for the JSON API; an administrator
anyone's (engine/people/api_tokens.py). A new token's secret is shown on the answer to the form, once."""
from __future__ import annotations

import datetime as dt

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from engine.errors import SegitoError
from engine.people import api_tokens, users
from engine.store import clock

from .auth import logged_in_actor, login_required, runtime

tokens = Blueprint("tokens", __name__, url_prefix="/tokens")

EXPIRY_DAYS = (30, 90, 365)  # and none


def _render(form=None, errors=None, secret=None, status=200):
    actor = logged_in_actor()
    admin = users.ADMINISTRATOR in actor.role_codes
    with runtime().db.unit_of_work() as session:  # looking at credentials is itself an audit event
        rows = api_tokens.list_tokens(session, actor, clock.now(), everyone=admin)
        people = [u.username for u in users.list_users(session) if u.active] if admin else []
    return render_template("tokens.html", tokens=rows, admin=admin, people=people, scopes=api_tokens.SCOPES,
                           expiry_days=EXPIRY_DAYS, form=form or {"scopes": ["read"], "expires": "90"},
                           errors=errors or {}, secret=secret), status


@tokens.get("")
@login_required
def page():
    return _render()


@tokens.post("")
@login_required
def issue():
    actor = logged_in_actor()
    form = {"name": request.form.get("name", "").strip(), "scopes": request.form.getlist("scopes"),
            "expires": request.form.get("expires", ""), "username": request.form.get("username") or actor.username}
    errors = {}
    if not form["name"]:
        errors["name"] = _("A name is required (what will use the token).")
    elif len(form["name"]) > api_tokens.MAX_NAME:
        errors["name"] = _("The name may be at most %(n)d characters long.", n=api_tokens.MAX_NAME)
    if not form["scopes"]:
        errors["scopes"] = _("Choose at least one scope.")
    if form["expires"] not in ("", *map(str, EXPIRY_DAYS)):
        errors["expires"] = _("Choose one of the offered expiries.")
    if errors:
        return _render(form, errors, status=422)
    at = clock.now()
    expires_at = at + dt.timedelta(days=int(form["expires"])) if form["expires"] else None
    try:
        with runtime().db.unit_of_work() as session:
            _described, secret = api_tokens.issue(session, actor, form["name"], form["scopes"], at,
                                                  expires_at=expires_at, username=form["username"])
    except SegitoError as e:
        field = e.details[0].get("field") if e.details else "general"
        known = {"scopes": _("The scope 'admin' needs the role process designer or administrator."),
                 "username": _("No such active user.")}
        errors[field if field in ("name", "scopes", "username") else "general"] = known.get(field, e.message)
        return _render(form, errors, status=e.status if e.status != 400 else 422)
    return _render(secret=secret, status=201)


@tokens.post("/<int:token_id>/revoke")
@login_required
def revoke(token_id):
    with runtime().db.unit_of_work() as session:
        revoked = api_tokens.revoke(session, logged_in_actor(), token_id, clock.now())
    flash(_("The token “%(name)s” is revoked: it no longer opens the API.", name=revoked["name"]), "info")
    return redirect(url_for("tokens.page"))
