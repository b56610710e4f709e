"""Anonymous questionnaires, in aggregate only (docs/forms.md, "Anonymous questionnaires"): the page of a
questionnaire's figures for a period and the same in the JSON API. The engine computes, withholds and authorises
(engine/reports/anonymous.py); these views only parse the period and render."""
from __future__ import annotations

import datetime as dt

from flask import Blueprint, abort, g, jsonify, render_template, request

from engine.errors import NotFound, ValidationFailed
from engine.reports import anonymous
from engine.reports.request import service_zone
from engine.store import clock

from .api import BadRequest, authenticated
from .auth import logged_in_actor, login_required, runtime
from .labels import lang

questionnaires = Blueprint("questionnaires", __name__, url_prefix="/questionnaires")
questionnaire_api = Blueprint("questionnaire_api", __name__, url_prefix="/api")


def _day(text: str, field: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text.strip().rstrip(".").replace(".", "-"))
    except ValueError:
        raise ValidationFailed(f"{field}: '{text}' is not a date (YYYY-MM-DD)",
                               [{"field": field, "message": "not a date", "value": text}]) from None


def _period() -> tuple[dt.date, dt.date]:
    today = clock.now().astimezone(service_zone()).date()
    start = _day(request.args["from"], "from") if request.args.get("from") else today.replace(month=1, day=1)
    end = _day(request.args["to"], "to") if request.args.get("to") else today
    return start, end


@questionnaires.get("/")
@login_required
def index():
    return render_template("reports/questionnaires.html", listed=anonymous.catalogue(runtime(), logged_in_actor()),
                           lang=lang())


@questionnaires.get("/<package>/<key>")
@login_required
def show(package: str, key: str):
    error, result = None, None
    values = {"from": request.args.get("from", ""), "to": request.args.get("to", "")}
    try:
        start, end = _period()
        values = {"from": start.isoformat(), "to": end.isoformat()}
        result = anonymous.figures(runtime(), logged_in_actor(), package, key, start, end)
    except ValidationFailed as e:
        error = e.message
    except NotFound:
        abort(404)
    return render_template("reports/questionnaire.html", package=package, key=key, result=result, error=error,
                           values=values, lang=lang())


@questionnaire_api.get("/questionnaires")
@authenticated
def api_list():
    return jsonify(anonymous.catalogue(runtime(), g.user))


@questionnaire_api.get("/questionnaires/<package>/<key>")
@authenticated
def api_figures(package: str, key: str):
    missing = [k for k in ("from", "to") if not request.args.get(k)]
    if missing:
        raise BadRequest(f"query parameter(s) {', '.join(repr(m) for m in missing)} required (YYYY-MM-DD)")
    start, end = _period()
    return jsonify(anonymous.figures(runtime(), g.user, package, key, start, end))
