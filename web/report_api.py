"""The JSON API of reports and audit (described in openapi.yaml): every declared report with its drill-down, the
audit log and its verification. HTTP Basic like the rest of the API (web/api.py)."""
from __future__ import annotations

from flask import Blueprint, Response, g, jsonify, request

from engine.audit import audit_log, audit_verify
from engine.forms import input_check
from engine.reports import export, run
from engine.reports.request import ReportRequest, parse_request, report_key

from .api import BadRequest, _int_arg, authenticated, runtime

report_api = Blueprint("report_api", __name__, url_prefix="/api")


def _report_request() -> ReportRequest:
    missing = [k for k in ("from", "to") if not request.args.get(k)]
    if missing:
        raise BadRequest(f"query parameter(s) {', '.join(repr(m) for m in missing)} required (YYYY-MM-DD)")
    return parse_request(request.args["from"], request.args["to"], request.args.get("caseworker"),
                         request.args.get("process"), request.args.get("bands"))


@report_api.get("/reports")
@authenticated
def report_list():
    return jsonify(run.available(runtime(), g.user))


@report_api.get("/reports/<report>")
@authenticated
def declared_report(report: str):
    fmt = request.args.get("format", "json")
    lang = request.args.get("lang", "en")
    if lang not in ("hu", "en"):
        raise BadRequest(f"'lang' is hu or en, not '{lang}'", [{"field": "lang", "message": "not hu or en"}])
    if fmt not in ("json", "csv", "xlsx"):
        raise BadRequest(f"'format' is json, csv or xlsx, not '{fmt}'")
    result = run.report(runtime(), g.user, report_key(report), _report_request())
    if fmt == "csv":
        return Response(export.to_csv(result, lang), content_type="text/csv; charset=utf-8")
    if fmt == "xlsx":
        return Response(export.to_xlsx(result, lang),
                        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    return jsonify(result)


@report_api.get("/reports/<report>/cases")
@authenticated
def report_cases(report: str):
    indicator = request.args.get("indicator")
    if not indicator:
        raise BadRequest("query parameter 'indicator' is required (an indicator's id, or table.column)")
    return jsonify(run.cases_behind(
        runtime(), g.user, report_key(report), _report_request(), indicator, request.args.get("key") or None,
        with_names=request.args.get("names") in ("1", "true"), limit=_int_arg("limit", 100),
        offset=_int_arg("offset", 0)))


@report_api.get("/audit/events")
@authenticated
def audit_events():
    case = request.args.get("case")
    if case and not input_check.is_id(case):
        raise BadRequest(f"query parameter 'case' must be a case id (1 to {input_check.MAX_ID}), not '{case}'",
                         [{"field": "case", "message": "not a case id"}])
    return jsonify(audit_log.search(runtime(), g.user, user=request.args.get("user") or None,
                                    case_id=int(case) if case else None, kind=request.args.get("kind") or None,
                                    date_from=request.args.get("from") or None, date_to=request.args.get("to") or None,
                                    page=_int_arg("page", 1), per_page=_int_arg("per_page", 50)))


@report_api.get("/audit/cases/<int:case_id>")
@authenticated
def audit_case(case_id):
    return jsonify(audit_log.case_events(runtime(), g.user, case_id))


@report_api.get("/audit/verify")
@authenticated
def audit_verify_route():
    audit_log.require_auditor(g.user)
    with runtime().db.reading() as session:
        return jsonify(audit_verify.verify(session))
