"""Reports: every declared report (docs/reports.md) with its figures, tables and charts, drill-down to the cases
behind any figure, CSV and XLSX.

The engine computes and authorises (engine/reports/); these views only parse the form and render.
"""
from __future__ import annotations

import datetime as dt

from flask import Blueprint, Response, abort, redirect, render_template, request, url_for
from flask_babel import format_decimal

from engine.errors import NotFound, ValidationFailed
from engine.forms import input_check
from engine.reports import export, run
from engine.reports.request import ReportRequest, parse_request, report_key, service_zone
from engine.store import clock

from . import labels
from .auth import logged_in_actor, login_required, runtime
from .labels import lang

reports = Blueprint("reports", __name__, url_prefix="/reports")
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
    today = clock.now().astimezone(service_zone()).date()
    values = {k: (request.args.get(k) or "").strip() for k in PARAMS}
    values["from"] = _iso(values["from"]) or today.replace(month=1, day=1).isoformat()
    values["to"] = _iso(values["to"]) or today.isoformat()
    if "bands" not in request.args:
        values["bands"] = DEFAULT_BANDS
    return values


def _request(values: dict) -> ReportRequest:
    return parse_request(values["from"], values["to"], values["caseworker"], values["process"], values["bands"])


def figure(value, unit: str = "") -> str:
    """A figure in the user's language; a missing one (zero denominator) is '—'."""
    if value is None:
        return "—"
    text = format_decimal(value, format="#,##0.##") if isinstance(value, float) else format_decimal(value)
    return f"{text}\u00a0%" if unit == "%" else text  # a no-break space: "100 %" stays on one line


def _form_context(values: dict, processes: list[str], role: dict | None = None) -> dict:
    """The report form's choices; ``role``: what the report's service calls its caseworkers ({hu, en}, its
    manifest's ``roles.caseworker.name``, e.g. "Mentor"), else the engine's word."""
    from sqlalchemy import select

    from engine.people import users
    from engine.store.models import User, UserRole

    actor = logged_in_actor()
    overseer = bool(actor.role_codes & {"professional_lead", "manager", "administrator"})
    caseworkers: list = []  # (id, name) rows
    if overseer:
        with runtime().db.reading() as session:
            caseworkers = list(session.execute(
                select(User.id, User.display_name).join(UserRole, UserRole.user_id == User.id)
                .where(UserRole.role == users.CASEWORKER, User.active.is_(True)).order_by(User.display_name)).all())
    return {"values": values, "caseworkers": caseworkers, "processes": processes, "overseer": overseer,
            "caseworker_word": labels.text(role) if role else None}


def _report(key: str, values: dict) -> dict:
    try:
        return run.report(runtime(), logged_in_actor(), key, _request(values))
    except NotFound:
        abort(404)


@reports.get("/")
@login_required
def index():
    """The declared reports the user may read."""
    return render_template("reports/list.html", reports=run.available(runtime(), logged_in_actor()), lang=lang())


@reports.get("/<report>")
@login_required
def show(report: str):
    moved = _moved(report)
    if moved is not None:
        return moved
    key = report
    values = _args()
    error, result = None, None
    try:
        result = _report(key, values)
    except ValidationFailed as e:
        error = e.message
    with runtime().db.reading() as session:
        from engine.reports import compute

        try:
            definition = compute.definition(session, key)
        except NotFound:
            abort(404)
    # The bands a reader enters belong to one declared table: the field is named after it.
    bands = next((labels.text(t["title"], t["id"]) for t in definition["tables"]
                  if isinstance(t["rows"], dict) and t["rows"].get("from_request")), None)
    return render_template("reports/report.html", key=key, definition=definition, result=result, error=error,
                           figure=figure, lang=lang(), charts=_charts(result, lang()) if result else {},
                           with_bands=bands, query={k: v for k, v in values.items() if v and (k != "bands" or bands)},
                           **_form_context(values, definition["processes"], definition.get("caseworker_role")))


def _moved(typed: str):
    """A report's address as it was (``/reports/job-retention``, ``…/job-retention.csv``): hyphens for the key's
    underscores, the downloads as ``.csv`` / ``.xlsx`` of the page; a permanent redirect to where it is now."""
    stem, dot, extension = typed.partition(".")
    if not dot and "-" not in typed:
        return None
    if dot and extension not in ("csv", "xlsx"):
        abort(404)
    endpoint = {"csv": "reports.export_csv", "xlsx": "reports.export_xlsx"}.get(extension, "reports.show")
    query: dict = request.args.to_dict()
    return redirect(url_for(endpoint, report=report_key(stem), **query), code=301)


def _charts(result: dict, language: str) -> dict:
    """(label, value) pairs of each table's first counted column, rows labelled in the user's language."""
    charts = {}
    for table in result["layout"]["tables"]:
        column = next((c for c in table["columns"] if not c["ratio"]), None)
        two = isinstance(table["rows"], list) and len(table["rows"]) == 2
        if column is None or two:
            continue
        charts[table["id"]] = [(export.row_label(result, table["id"], row, language), row.get(column["id"]))
                               for row in result["tables"][table["id"]]]
    return charts


@reports.get("/<report>/cases")
@login_required
def cases(report: str):
    key = report
    values = _args()
    indicator = request.args.get("indicator", "")
    row_key = request.args.get("key") or None
    with_names = request.args.get("names") == "1"
    page = max(input_check.whole_number(request.args.get("page") or "1", 6) or 1, 1)
    try:
        listing = run.cases_behind(runtime(), logged_in_actor(), key, _request(values), indicator, row_key,
                                   with_names=with_names, limit=100, offset=(page - 1) * 100)
    except NotFound:
        abort(404)
    with runtime().db.reading() as session:
        from engine.reports import compute

        definition = compute.definition(session, key)
        option_labels = compute.labels(runtime(), session, definition)
    item = next((f for f in definition["indicators"] if f["id"] == indicator), None)
    table_id, _, column_id = indicator.partition(".")
    table = next((t for t in definition["tables"] if t["id"] == table_id), None)
    column = next((c for c in (table or {}).get("columns", []) if c["id"] == column_id), None)
    title = labels.text(item["label"], indicator) if item else (
        f"{labels.text(table['title'], table_id)} · {labels.text(column['label'], column_id)}"
        if table is not None and column is not None else indicator)
    key_label = ""
    if row_key:
        key_label = _row_label(definition, table_id if table else (item or {}).get("table") or "", row_key,
                               option_labels, values)
    # The facts a drill-down shows: those the report labels, with their values' labels where it gives them.
    shown_facts = [(name, fact) for name, fact in definition["facts"].items() if fact.get("label")]
    fact_options = {t["rows"].get("fact") or t["rows"].get("values"): option_labels[t["id"]]
                    for t in definition["tables"] if isinstance(t["rows"], dict) and t["id"] in option_labels}
    return render_template("reports/cases.html", key=key, definition=definition, listing=listing, title=title,
                           row_key=row_key, key_label=key_label, page=page, lang=lang(), figure=figure,
                           facts=shown_facts, option_labels=fact_options, values=values, with_names=with_names,
                           names_allowed=listing.get("names_allowed", False) or _names_allowed(definition),
                           query={k: v for k, v in values.items() if v})


def _row_label(definition: dict, table_id: str, row_key: str, option_labels: dict, values: dict) -> str:
    """A table row's key as its table shows it: an option's label, a band, a caseworker's name."""
    from engine.reports import compute

    table = next((t for t in definition["tables"] if t["id"] == table_id), None)
    if table is None:
        return row_key
    period, split = compute._splits(table["rows"])
    if period is not None and split.kind != "none":
        # A row of a period split and another: "<quarter>/<key>".
        span, _, key = row_key.partition("/")
        return f"{span} · {_split_label(table_id, key, option_labels, values, split)}"
    return _split_label(table_id, row_key, option_labels, values, split)


def _split_label(table_id: str, row_key: str, option_labels: dict, values: dict, split) -> str:
    """One split's key as people read it."""
    from sqlalchemy import select

    from engine.reports import compute
    from engine.store.models import User

    if split.kind == "bands":
        bands = compute._bands_of(split, _request(values))
        band = input_check.whole_number(row_key, 6)
        return labels.text(bands[band][2], row_key) if band is not None and band < len(bands) else row_key
    user_id = input_check.whole_number(row_key, 9)
    if split.kind == "caseworker" and user_id is not None:
        with runtime().db.reading() as session:
            return session.execute(select(User.display_name).where(User.id == user_id)).scalar() or row_key
    options = option_labels.get(table_id, {})
    if row_key in options:
        return labels.text(options[row_key], row_key)
    return export.word(row_key, lang()) if row_key == split.missing else row_key


def _names_allowed(definition: dict) -> bool:
    return bool(logged_in_actor().role_codes & set(definition["access"]["names"]))


def _download(content, mimetype: str, extension: str, what: str) -> Response:
    values = _args()
    name = f"segito-{what}-{values['from']}-{values['to']}.{extension}"
    return Response(content, content_type=mimetype,
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@reports.get("/<report>/export.csv")
@login_required
def export_csv(report: str):
    key = report
    result = _report(key, _args())
    # A byte-order mark so that spreadsheet programs read the Hungarian letters as UTF-8.
    return _download("\ufeff" + export.to_csv(result, lang()), "text/csv; charset=utf-8", "csv", key)


@reports.get("/<report>/export.xlsx")
@login_required
def export_xlsx(report: str):
    key = report
    result = _report(key, _args())
    return _download(export.to_xlsx(result, lang()),
                     "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx", key)


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


@reports.app_template_global()
def report_figure(value, unit: str = "") -> str:
    return figure(value, unit)



@reports.app_template_global()
def report_row_label(result: dict, table_id: str, row: dict, language: str) -> str:
    return export.row_label(result, table_id, row, language)
