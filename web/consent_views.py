"""Consent (docs/operations.md, "Consent and legal basis"): the statement recorded and withdrawn beside a case,
the list of cases whose consent expires soon, and the same in the JSON API. Everything is done by
engine/cases/consent.py; every change is an audit event there."""
from __future__ import annotations

import datetime as dt

from flask import Blueprint, flash, g, jsonify, redirect, render_template, request, url_for

from engine.audit import audit_log
from engine.cases import consent
from engine.errors import Conflict, SegitoError, ValidationFailed
from engine.forms import input_check

from .api import _int_arg, authenticated, json_body
from .api import runtime as api_runtime
from .audit_views import parse_day
from .auth import logged_in_actor, roles_required, runtime
from .formatting import date
from .i18n import gettext as _

consent_bp = Blueprint("consent", __name__)
consent_api = Blueprint("consent_api", __name__, url_prefix="/api")


def _to_case(case_id: int):
    return redirect(url_for("cases.show", case_id=case_id) + "#consent")


def _problem(err: SegitoError, conflict: str) -> str:
    """A refusal in the reader's language: the field it is about, and why (``conflict``: what a 409 means here)."""
    detail = (err.details or [{}])[0]
    field = detail.get("field")
    if field == "given_on":
        return _("The day of signing must be a real day, not in the future (e.g. %(example)s).",
                 example=date(dt.date(2026, 12, 5)))
    if field == "withdrawn_on":
        return _("The day of withdrawal must be a real day, not in the future and not before the consent was given.")
    if field == "reason":
        return _("Say how the person withdrew the consent (e.g. their letter, or in person).")
    if field == "signed":
        return _("Consent is recorded only once the person has signed the statement: tick the box.")
    if field == "case_id":
        return _("This case's process relies on another legal basis: it needs no consent statement.")
    if isinstance(err, Conflict):
        return conflict
    return _("Not recorded: the request was refused.")


def _day_field(name: str, label: str):
    raw = (request.form.get(name) or "").strip()
    try:
        day = parse_day(raw, label)
    except ValidationFailed:
        raise ValidationFailed(f"{name}: '{raw}' is not a date", [{"field": name, "message": "not a date"}]) from None
    if day is None:
        raise ValidationFailed(f"{name}: required", [{"field": name, "message": "required"}])
    return day


@consent_bp.post("/cases/<int:case_id>/consents")
@roles_required(*consent.RECORDERS)
def give(case_id):
    try:
        day = _day_field("given_on", _("Day of signing"))
        consent.give(runtime(), logged_in_actor(), case_id, day, signed=request.form.get("signed") == "yes")
    except (ValidationFailed, Conflict) as e:
        flash(_problem(e, _("Not recorded: a consent to this version of the statement is already in force, or "
                               "the case's data was erased.")), "error")
        return _to_case(case_id)
    flash(_("The signed statement is on record; the case's steps may go on."), "info")
    return _to_case(case_id)


@consent_bp.post("/consents/<int:consent_id>/withdrawal")
@roles_required(*consent.RECORDERS)
def withdraw(consent_id):
    case_id = request.form.get("case_id", type=int)
    try:
        day = _day_field("withdrawn_on", _("Day of withdrawal"))
        done = consent.withdraw(runtime(), logged_in_actor(), consent_id, day, request.form.get("reason", ""))
    except (ValidationFailed, Conflict) as e:
        flash(_problem(e, _("Not recorded: this consent was withdrawn already.")), "error")
        return _to_case(case_id) if case_id else redirect(url_for("consent.expiring"))
    flash(_("The withdrawal is on record: no further step of %(count)d case(s) runs until the person consents "
            "again.", count=len(done["cases_stopped"])), "info")
    return _to_case(case_id) if case_id else redirect(url_for("consent.expiring"))


@consent_bp.get("/consents/expiring")
@roles_required(*consent.RECORDERS)
def expiring():
    raw = (request.args.get("days") or str(consent.EXPIRING_DAYS)).strip()
    if input_check.whole_number(raw, 4) is None:
        return render_template("consents/expiring.html", found=None, days=raw,
                               error=_("'Within days' must be a whole number from 0 to 3660, not '%(value)s'.",
                                       value=raw)), 400
    try:
        found = consent.expiring(runtime(), logged_in_actor(), int(raw))
    except ValidationFailed:
        return render_template("consents/expiring.html", found=None, days=raw,
                               error=_("'Within days' must be a whole number from 0 to 3660, not '%(value)s'.",
                                       value=raw)), 400
    return render_template("consents/expiring.html", found=found, days=int(raw), error=None)


# ------------------------------------------------------------------------------------------------ the JSON API
@consent_api.get("/cases/<int:case_id>/consents")
@authenticated
def api_case_consent(case_id):
    found = consent.for_case(api_runtime(), g.user, case_id)
    audit_log.record_view(api_runtime(), g.user, case_id, via="api", what="consent")  # a look at the file, logged
    return jsonify(found)


@consent_api.post("/cases/<int:case_id>/consents")
@authenticated
def api_give(case_id):
    body = json_body("given_on", "signed")
    return jsonify(consent.give(api_runtime(), g.user, case_id, body.get("given_on"), body.get("signed"))), 201


@consent_api.post("/consents/<int:consent_id>/withdrawal")
@authenticated
def api_withdraw(consent_id):
    body = json_body("withdrawn_on", "reason")
    return jsonify(consent.withdraw(api_runtime(), g.user, consent_id, body.get("withdrawn_on"), body.get("reason")))


@consent_api.get("/consents/expiring")
@authenticated
def api_expiring():
    return jsonify(consent.expiring(api_runtime(), g.user, _int_arg("days", consent.EXPIRING_DAYS)))
