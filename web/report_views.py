"""Reports: the indicators of a period (I1–I17) with charts, drill-down, CSV/XLSX, and the job-retention figures.

The engine computes and authorises (engine/indicators.py); these views only parse the form and render.
"""
from __future__ import annotations

import datetime as dt

from flask import Blueprint, Response, render_template, request
from flask_babel import format_decimal
from flask_babel import lazy_gettext as _l

from engine import followup_indicators, indicator_cases, indicators, report_export
from engine.errors import ValidationFailed
from engine.store import clock

from . import labels
from .auth import current_actor, logged_in_actor, roles_required, runtime
from .i18n import gettext
from .labels import lang

reports = Blueprint("reports", __name__, url_prefix="/reports")
ROLES = sorted(indicators.REPORT_ROLES)
DEFAULT_BANDS = "0-50000, 50000-100000, 100000-150000, 150000-"
PARAMS = ("from", "to", "caseworker", "process", "bands")


def _iso(text: str) -> str:
    """A typed date as ISO when it is one in either language's form (2026.01.15 or 2026-01-15), so the date box
    shows it in the user's format; anything else is kept as typed for the refusal to name it."""
    try:
        return dt.date.fromisoformat(text.rstrip(".").replace(".", "-")).isoformat()
    except ValueError:
        return text


def _args() -> dict:
    """The report form's values, with this year so far as the default period."""
    today = clock.now().astimezone(indicators.service_zone()).date()
    values = {k: (request.args.get(k) or "").strip() for k in PARAMS}
    values["from"] = _iso(values["from"]) or today.replace(month=1, day=1).isoformat()
    values["to"] = _iso(values["to"]) or today.isoformat()
    if "bands" not in request.args:
        values["bands"] = DEFAULT_BANDS
    return values


def _request(values: dict) -> indicators.ReportRequest:
    return indicators.parse_request(values["from"], values["to"], values["caseworker"], values["process"],
                                    values["bands"])


def figure(value, unit: str = "") -> str:
    """A figure in the user's language; a missing one (zero denominator) is '—'."""
    if value is None:
        return "—"
    text = format_decimal(value, format="#,##0.##") if isinstance(value, float) else format_decimal(value)
    return f"{text} %" if unit == "%" else text


def _form_context(values: dict) -> dict:
    actor = logged_in_actor()
    overseer = bool(actor.role_codes & (indicators.NAME_ROLES | {"administrator"}))
    return {"values": values, "caseworkers": indicators.caseworker_choices(runtime()) if overseer else [],
            "processes": indicators.process_choices(runtime()), "overseer": overseer}


@reports.get("/")
@roles_required(*ROLES)
def index():
    values = _args()
    error, result = None, None
    try:
        result = indicators.report(runtime(), current_actor(), _request(values))
    except ValidationFailed as e:
        error = e.message
    return render_template("reports/index.html", result=result, error=error, figure=figure, lang=lang(),
                           charts=_charts(result, lang()) if result else {},
                           query={k: v for k, v in values.items() if v}, **_form_context(values))


def _charts(result: dict, language: str) -> dict:
    """(label, value) pairs of each breakdown, with the option labels of the user's language."""
    b, labels = result["breakdowns"], result["labels"]
    name = lambda kind, key: (labels.get(kind, {}).get(key) or {}).get(language, key)  # noqa: E731
    return {"income_bands": [(r["label"], r["families"]) for r in b["income_bands"]],
            "problem_types": [(name("problem_types", r["key"]), r["persons"]) for r in b["problem_types"]],
            "closure_reasons": [(name("closure_reasons", r["key"]), r["closures"]) for r in b["closure_reasons"]],
            "caseworkers": [(r["name"], r["processes"]) for r in b["caseworkers"]],
            "meetings": [(r["key"], r["meetings"]) for r in b["months"]],
            "actions": [(r["key"], r["actions"]) for r in b["months"]]}


@reports.get("/cases")
@roles_required(*ROLES)
def cases():
    values = _args()
    indicator = request.args.get("indicator", "I1")
    key = request.args.get("key") or None
    with_names = request.args.get("names") == "1"
    page = max(int(request.args.get("page", "1") or 1), 1) if (request.args.get("page") or "1").isdigit() else 1
    listing = indicator_cases.cases_behind(runtime(), current_actor(), _request(values), indicator, key,
                                           with_names=with_names, limit=100, offset=(page - 1) * 100)
    definition = indicators.DEFINITIONS.get(listing["indicator"])
    return render_template("reports/cases.html", listing=listing, definition=definition, key=key, page=page,
                           key_label=_key_label(key, values.get("process") or None),
                           lang=lang(), figure=figure, values=values, with_names=with_names,
                           names_allowed=indicators.may_see_names(current_actor()),
                           query={k: v for k, v in values.items() if v})


def _download(content, mimetype: str, extension: str, what: str = "indicators") -> Response:
    values = _args()
    name = f"segito-{what}-{values['from']}-{values['to']}.{extension}"
    return Response(content, mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{name}"'})


@reports.get("/indicators.csv")
@roles_required(*ROLES)
def export_csv():
    result = indicators.report(runtime(), current_actor(), _request(_args()))
    # A byte-order mark so that spreadsheet programs read the Hungarian letters as UTF-8.
    return _download("\ufeff" + report_export.to_csv(result, lang()), "text/csv; charset=utf-8", "csv")


@reports.get("/indicators.xlsx")
@roles_required(*ROLES)
def export_xlsx():
    result = indicators.report(runtime(), current_actor(), _request(_args()))
    return _download(report_export.to_xlsx(result, lang()),
                     "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx")


@reports.get("/job-retention")
@roles_required(*ROLES)
def job_retention():
    values = _args()
    error, result = None, None
    try:
        result = followup_indicators.report(runtime(), current_actor(), _request(values))
    except ValidationFailed as e:
        error = e.message
    return render_template("reports/job_retention.html", result=result, error=error, figure=figure,
                           labelled=_labelled,
                           query={k: v for k, v in values.items() if v and k != "bands"}, **_form_context(values))


def _key_label(key: str | None, process_key: str | None) -> str:
    """A breakdown key as the report's table names it: "child_rearing:with_agreement" → "Gyermeknevelés · with
    agreement" in the user's language."""
    if not key:
        return ""
    with runtime().db.reading() as session:
        options = indicators.option_labels(runtime(), session, process_key)
    parts = []
    for part in key.split(":"):
        found = options["problem_types"].get(part) or options["closure_reasons"].get(part)
        if found:
            parts.append(labels.text(found, part))
        elif part == "with_agreement":
            parts.append(gettext("with agreement"))
        elif part == "without_agreement":
            parts.append(gettext("without agreement"))
        else:
            parts.append(part)
    return " · ".join(parts)


def _labelled(counts: dict, field: str) -> list[tuple[str, int]]:
    """A breakdown's (label, count) pairs: each key (a form option code, or the report's "not recorded") in the
    user's language."""
    view = labels.latest_views().get("job_retention")
    schema = labels.field_schema(view, field) if view else None

    def label(code: str) -> str:
        return gettext("not recorded") if code == "not recorded" else labels.option_label(schema, code)

    return [(label(code), n) for code, n in sorted(counts.items())]


@reports.get("/job-retention.csv")
@roles_required(*ROLES)
def job_retention_csv():
    result = followup_indicators.report(runtime(), current_actor(), _request(_args()))
    return _download("\ufeff" + report_export.retention_to_csv(result, lang()), "text/csv; charset=utf-8", "csv",
                     "job-retention")


@reports.get("/job-retention.xlsx")
@roles_required(*ROLES)
def job_retention_xlsx():
    result = followup_indicators.report(runtime(), current_actor(), _request(_args()))
    return _download(report_export.retention_to_xlsx(result, lang()),
                     "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx", "job-retention")


def bars(rows: list[tuple[str, float | int | None]]) -> dict:
    """Geometry of a horizontal bar chart (rendered as inline SVG by reports/_chart.html; no script needed)."""
    top = max([v for _l, v in rows if v] or [1])
    height = 26
    return {"rows": [{"label": str(label), "value": value, "y": i * height,
                      "width": round(300 * (value or 0) / top, 1)} for i, (label, value) in enumerate(rows)],
            "height": max(len(rows), 1) * height, "row": height}


@reports.app_template_global()
def report_chart(rows):
    return bars(rows)


UNITS = {"pcs": _l("pcs"), "persons": _l("persons"), "HUF": _l("HUF"), "days/process": _l("days/process"),
         "pcs, %": _l("pcs, %")}


@reports.app_template_global()
def report_unit(unit: str) -> str:
    """The seed's units in the user's language (db, fő, Ft, nap/folyamat in Hungarian)."""
    return str(UNITS.get(unit, unit))


@reports.app_template_global()
def report_figure(value, unit: str = "") -> str:
    return figure(value, unit)

