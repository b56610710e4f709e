"""Audit (managers): the whole log filtered by user, case, kind and period; a case's complete history; the
integrity check. Opening a case's history is itself logged (engine.audit_log.case_events)."""
from __future__ import annotations

from flask import Blueprint, render_template, request
from werkzeug.exceptions import BadRequest

from engine import audit_log, audit_verify
from engine.errors import ValidationFailed

from .auth import current_actor, logged_in_actor, roles_required, runtime

audit_bp = Blueprint("audit", __name__, url_prefix="/audit")
PER_PAGE = 50


def _int(name: str) -> int | None:
    raw = (request.args.get(name) or "").strip()
    if not raw:
        return None
    if not raw.isdigit():
        raise BadRequest(f"'{name}' must be a whole number, not '{raw}'")
    return int(raw)


@audit_bp.get("/")
@roles_required(*audit_log.AUDIT_ROLES)
def index():
    filters = {k: (request.args.get(k) or "").strip() for k in ("user", "case", "kind", "from", "to")}
    page = _int("page") or 1
    error, found = None, None
    try:
        found = audit_log.search(runtime(), current_actor(), user=filters["user"] or None, case_id=_int("case"),
                                 kind=filters["kind"] or None, date_from=filters["from"] or None,
                                 date_to=filters["to"] or None, page=page, per_page=PER_PAGE)
    except ValidationFailed as e:
        error = e.message
    return render_template("audit/index.html", found=found, error=error, filters=filters, page=page,
                           kinds=audit_log.kinds(runtime()), per_page=PER_PAGE,
                           query={k: v for k, v in filters.items() if v})


@audit_bp.get("/cases/<int:case_id>")
@roles_required(*audit_log.AUDIT_ROLES)
def case_history(case_id: int):
    history = audit_log.case_events(runtime(), logged_in_actor(), case_id)
    return render_template("audit/case.html", history=history)


@audit_bp.get("/verify")
@roles_required(*audit_log.AUDIT_ROLES)
def verify():
    with runtime().db.reading() as session:
        result = audit_verify.verify(session)
    return render_template("audit/verify.html", result=result)
