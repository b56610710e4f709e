"""Personal data (data-protection officer, manager; the administrator sees retention): a client's requests —
their data downloaded as JSON and as a page in either language, the register rectified, what may be erased and
why the rest is kept, erasure — legal holds on their cases, and the retention report with its apply button.
Everything is done by engine/privacy/; every step is an audit event there."""
from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for

from engine.errors import Conflict, ValidationFailed
from engine.people import access
from engine.privacy import erasure, export, rectify, retention

from .auth import logged_in_actor, roles_required, runtime
from .i18n import gettext as _

privacy_bp = Blueprint("privacy", __name__, url_prefix="/privacy")
PAGE_ROLES = tuple(sorted(set(access.PRIVACY_REQUESTS) | set(access.RETENTION)))


def _may(roles) -> bool:
    return bool(logged_in_actor().role_codes & set(roles))


@privacy_bp.get("/")
@roles_required(*PAGE_ROLES)
def index():
    code = (request.args.get("client") or "").strip()
    if code and _may(access.PRIVACY_REQUESTS):
        return redirect(url_for("privacy.client_page", code=code.upper()))
    plan = retention.report(runtime(), logged_in_actor()) if _may(access.RETENTION) else None
    return render_template("privacy/index.html", plan=plan, may_request=_may(access.PRIVACY_REQUESTS),
                           may_hold=_may(access.LEGAL_HOLDS))


@privacy_bp.post("/retention/apply")
@roles_required(*access.RETENTION)
def apply_retention():
    done = retention.apply(runtime(), logged_in_actor())
    flash(_("Personal data erased: %(cases)d case(s), %(clients)d client(s).", cases=len(done["cases"]),
            clients=len(done["clients"])), "info")
    return redirect(url_for("privacy.index"))


def _client(code: str, form=None, errors=None, status=200):
    found = export.summary(runtime(), logged_in_actor(), code)
    return render_template("privacy/client.html", client=found, fields=erasure.CLIENT_FIELDS,
                           form=form or {}, errors=errors or {}, may_hold=_may(access.LEGAL_HOLDS)), status


@privacy_bp.get("/clients/<code>")
@roles_required(*access.PRIVACY_REQUESTS)
def client_page(code):
    return _client(code)


@privacy_bp.get("/clients/<code>/export.<fmt>")
@roles_required(*access.PRIVACY_REQUESTS)
def download(code, fmt):
    if fmt not in ("json", "html"):
        return redirect(url_for("privacy.client_page", code=code))
    lang = request.args.get("lang", "hu")
    found = export.collect(runtime(), logged_in_actor(), code)
    name = f"{found['client']['client_code']}-{found['generated_at'][:10]}"
    if fmt == "json":
        body, mime = export.to_json(found), "application/json"
    else:
        body, mime = export.to_html(found, "en" if lang == "en" else "hu"), "text/html"
        name += f"-{'en' if lang == 'en' else 'hu'}"
    return Response(body, mimetype=mime, headers={"Content-Disposition": f'attachment; filename="{name}.{fmt}"'})


@privacy_bp.post("/clients/<code>/correct")
@roles_required(*access.PRIVACY_REQUESTS)
def correct(code):
    changes = {f: request.form.get(f, "") for f in erasure.CLIENT_FIELDS if f in request.form}
    current = export.summary(runtime(), logged_in_actor(), code)
    changes = {f: v for f, v in changes.items() if v.strip() != str(current.get(f) or "")}
    reason = request.form.get("reason", "")
    errors: dict[str, str] = {}
    if not changes:
        errors["general"] = _("Nothing changes: the register already holds these values.")
    elif not reason.strip():
        errors["reason"] = _("Say why the register is corrected (e.g. the document the person showed).")
    else:
        try:
            rectify.correct_client(runtime(), logged_in_actor(), code, changes, reason)
        except ValidationFailed as e:
            for d in e.details:
                errors[d.get("field") or "general"] = _("This value cannot be taken: %(problem)s", problem=d["message"])
        except Conflict as e:
            errors["general"] = _("Not saved: %(problem)s", problem=e.message)
    if errors:
        return _client(code, form={**request.form}, errors=errors, status=422)
    flash(_("The register was corrected; the earlier values are kept in the audit log."), "info")
    return redirect(url_for("privacy.client_page", code=code))


@privacy_bp.post("/clients/<code>/erase")
@roles_required(*access.PRIVACY_REQUESTS)
def erase(code):
    done = retention.erase_for_client(runtime(), logged_in_actor(), code, dry_run=False)
    flash(_("Personal data erased: %(cases)d case(s).", cases=len(done.get("erased") or [])), "info")
    if done.get("identity"):
        flash(_("The client's identity was erased from the register."), "info")
    return redirect(url_for("privacy.client_page", code=code))


def _back(default: str):
    target = request.form.get("next") or ""
    return redirect(target if target.startswith("/privacy/") else default)


@privacy_bp.post("/cases/<int:case_id>/hold")
@roles_required(*access.LEGAL_HOLDS)
def hold(case_id):
    reason = request.form.get("reason", "")
    if not reason.strip():
        flash(_("A legal hold needs a reason (e.g. the court case it keeps the file for)."), "error")
        return _back(url_for("privacy.index"))
    try:
        retention.set_hold(runtime(), logged_in_actor(), case_id, reason)
        flash(_("Case %(id)d is on legal hold: it is not erased until the hold is cleared.", id=case_id), "info")
    except Conflict:
        flash(_("Case %(id)d cannot be held: it is held already or its data was erased.", id=case_id), "error")
    return _back(url_for("privacy.index"))


@privacy_bp.post("/cases/<int:case_id>/release")
@roles_required(*access.LEGAL_HOLDS)
def release(case_id):
    reason = request.form.get("reason", "")
    if not reason.strip():
        flash(_("Say why the legal hold ends."), "error")
        return _back(url_for("privacy.index"))
    try:
        retention.clear_hold(runtime(), logged_in_actor(), case_id, reason)
        flash(_("The legal hold on case %(id)d was cleared; its retention applies again.", id=case_id), "info")
    except Conflict:
        flash(_("Case %(id)d has no legal hold.", id=case_id), "error")
    return _back(url_for("privacy.index"))
