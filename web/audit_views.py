"""Audit (managers): the whole log filtered by user, case, process, kind and period; a case's complete history;
the integrity check. Opening a case's history is itself logged (engine.audit.audit_log.case_events). Events are shown
as a person reads them (web/audit_text.py); the day filters are text in the language's date format."""
from __future__ import annotations

import datetime as dt
import re

from flask import Blueprint, render_template, request
from werkzeug.exceptions import BadRequest

from engine.audit import audit_log, audit_verify
from engine.errors import ValidationFailed
from engine.forms import input_check

from . import audit_text
from .auth import current_actor, logged_in_actor, roles_required, runtime
from .formatting import date
from .i18n import gettext as _
from .labels import bilingual, latest_views, process_name, view_of

audit_bp = Blueprint("audit", __name__, url_prefix="/audit")
PER_PAGE = 50
# ÉÉÉÉ.HH.NN as Hungarians write it (a closing dot allowed), or ISO; one or two digits for month and day.
_DAY = re.compile(r"^(\d{4})[.\-/] ?(\d{1,2})[.\-/] ?(\d{1,2})\.?$")


def _int(name: str) -> int | None:
    raw = (request.args.get(name) or "").strip()
    if not raw:
        return None
    number = input_check.whole_number(raw)
    if number is None:
        raise BadRequest(_("'%(name)s' must be a whole number, not '%(value)s'", name=name, value=raw))
    return number


def parse_day(raw: str, label: str) -> dt.date | None:
    """A filter's day, written 2026.12.05 (or 2026-12-05); a clear message naming the field otherwise."""
    if not raw:
        return None
    found = _DAY.match(raw.strip())
    try:
        if found:
            return dt.date(int(found[1]), int(found[2]), int(found[3]))
    except ValueError:
        pass
    raise ValidationFailed(_("%(field)s: '%(value)s' is not a date; write it as %(example)s.", field=label,
                             value=raw, example=date(dt.date(2026, 12, 5))), [{"field": label, "message": raw}])


def _process_choices() -> list[tuple[str, str]]:
    return sorted(((key, bilingual(view.name) or key) for key, view in latest_views().items()),
                  key=lambda kv: kv[1].lower())


def _views_by_definition(items: list[dict]) -> dict:
    return {d: view_of(d) for d in {e.get("definition_id") for e in items} if d is not None}


@audit_bp.get("/")
@roles_required(*audit_log.AUDIT_ROLES)
def index():
    filters = {k: (request.args.get(k) or "").strip() for k in ("user", "case", "process", "kind", "from", "to")}
    page = _int("page") or 1
    error, found, events = None, None, []
    try:
        day_from = parse_day(filters["from"], _("From"))
        day_to = parse_day(filters["to"], _("To (inclusive)"))
        # Shown back in the language's format, whichever way it was written.
        filters["from"], filters["to"] = date(day_from) if day_from else "", date(day_to) if day_to else ""
        found = audit_log.search(runtime(), current_actor(), user=filters["user"] or None, case_id=_int("case"),
                                 kind=filters["kind"] or None, process_key=filters["process"] or None,
                                 date_from=day_from, date_to=day_to, page=page, per_page=PER_PAGE)
        views = _views_by_definition(found["items"])
        events = [{**audit_text.present(views.get(e["definition_id"]), e, {}),
                   "process": process_name(e["process_key"]) if e["process_key"] else ""}
                  for e in found["items"]]
    except ValidationFailed as e:
        error = e.message
    kinds = sorted(set(audit_log.kinds(runtime())) | set(audit_text.EVENT_NAMES),
                   key=lambda k: audit_text.event_name(k).lower())
    return render_template("audit/index.html", found=found, events=events, error=error, filters=filters,
                           page=page, kinds=[(k, audit_text.event_name(k)) for k in kinds], per_page=PER_PAGE,
                           processes=_process_choices(), day_example=date(dt.date(2026, 12, 5)),
                           query={k: v for k, v in filters.items() if v}), 400 if error else 200


@audit_bp.get("/cases/<int:case_id>")
@roles_required(*audit_log.AUDIT_ROLES)
def case_history(case_id: int):
    from .case_views import _assignees, _user_names

    history = audit_log.case_events(runtime(), logged_in_actor(), case_id)
    view = view_of(history["definition_id"])
    names = _user_names(_assignees(history["events"]))
    events = [audit_text.present(view, e, names) for e in history["events"]]
    return render_template("audit/case.html", history=history, events=events,
                           process=process_name(history["process_key"]))


@audit_bp.get("/verify")
@roles_required(*audit_log.AUDIT_ROLES)
def verify():
    with runtime().db.reading() as session:
        result = audit_verify.verify(session)
    return render_template("audit/verify.html", result=result)
