"""Application factory: the pages (server-rendered, Hungarian by default), the JSON API, and their security."""
from __future__ import annotations

import datetime as dt
import importlib
import os
import secrets

from flask import Blueprint, Flask, current_app, g, jsonify, render_template, request, url_for
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError, CSRFProtect
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException

from engine import setup
from engine.errors import DefinitionInvalid, Forbidden, PackageInvalid, SegitoError
from engine.forms import input_check
from engine.people import logins
from engine.runtime.runtime import Runtime

from . import findings, i18n

# The page areas; each module registers every Blueprint it defines. A module not written yet is skipped.
VIEW_MODULES: tuple[str, ...] = ("auth", "inbox_views", "case_views", "catalogue_views", "admin_views",
                                 "task_views", "report_views")
VIEW_MODULES += ("audit_views",)  # the audit log (managers)
VIEW_MODULES += ("report_api",)  # reports and audit in the JSON API
VIEW_MODULES += ("schedule_views",)  # agenda and calendar feed, caseload, scheduler
VIEW_MODULES += ("questionnaire_views",)  # anonymous questionnaires, in aggregate only (page and API)
VIEW_MODULES += ("privacy_views",)  # a person's requests about their data; retention and legal holds
VIEW_MODULES += ("survey_views",)  # a questionnaire handed to a client: the public one-time link's page
VIEW_MODULES += ("designer_views",)  # comparing process versions, moving running cases to another version
VIEW_MODULES += ("document_views",)  # step documents: produce a PDF, upload a signed copy, download
VIEW_MODULES += ("token_views",)  # API tokens: each user's own, an administrator's for everyone
VIEW_MODULES += ("studio_views",)  # the process designers' studio: modeler, drafts (docs/studio.md)
VIEW_MODULES += ("consent_views",)  # data-processing consent beside a case, the consents expiring soon, its API

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
       "connect-src 'self'; form-action 'self'; base-uri 'none'; object-src 'none'; frame-ancestors 'none'")

# On every response, unless the view set its own.
SECURITY_HEADERS = (("X-Content-Type-Options", "nosniff"), ("Content-Security-Policy", CSP),
                    ("X-Frame-Options", "DENY"), ("Referrer-Policy", "same-origin"),
                    ("Permissions-Policy", "camera=(), microphone=(), geolocation=()"))
# Pages carry personal data: never kept in shared caches or the back-forward cache after logout.
PAGE_HEADERS = (("Cache-Control", "no-store"),)

csrf = CSRFProtect()


def create_app(runtime: Runtime | None = None, config: dict | None = None) -> Flask:
    app = Flask(__name__)
    config = dict(config or {})
    relaxed = bool(config.get("TESTING") or config.get("DEBUG"))
    app.config.update(
        SECRET_KEY=os.environ.get("SEGITO_SECRET_KEY") or secrets.token_hex(32),
        MAX_CONTENT_LENGTH=8 * 1024 * 1024,
        JSON_SORT_KEYS=False,
        # Idle timeout: the cookie is refreshed on each request and the server checks the last use (auth.py).
        PERMANENT_SESSION_LIFETIME=dt.timedelta(minutes=int(os.environ.get("SEGITO_SESSION_MINUTES", 30))),
        SESSION_COOKIE_NAME="segito_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=not relaxed,
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session; the session itself expires
        WTF_CSRF_SSL_STRICT=not relaxed,
    )
    app.config.update(config)
    app.extensions["segito"] = runtime or Runtime()
    setup.wire()  # what plugs into service packages (reports, documents), for POST /api/packages

    i18n.init_app(app)
    csrf.init_app(app)

    from .api import api
    from .ops_views import ops

    # First, so that its request hooks run before every other's: the request id is set, and the time taken
    # counted, from the start (/healthz, /readyz, /metrics; request ids, request metrics and log lines).
    app.register_blueprint(ops)
    # An API token or HTTP Basic on every call, no cookies: nothing for a forged cross-site form to ride on.
    csrf.exempt(api)
    app.register_blueprint(api)
    for name in VIEW_MODULES:
        try:
            module = importlib.import_module(f"{__package__}.{name}")
        except ModuleNotFoundError as e:
            if e.name != f"{__package__}.{name}":
                raise
            continue
        for value in vars(module).values():
            if isinstance(value, Blueprint) and value.name not in app.blueprints:
                if value.url_prefix == "/api":
                    csrf.exempt(value)  # the JSON API's other parts, authenticated per call like ``api``
                app.register_blueprint(value)

    _install_template_helpers(app)
    _install_error_handlers(app)
    _install_input_checks(app)

    @app.after_request
    def _security_headers(response):
        # Each header only where the view did not set its own; the names present are read once (a lookup in
        # the response's headers scans them all, and every request passes here).
        present = {name.lower() for name, _value in response.headers}
        page = request.endpoint != "static" and not request.path.startswith("/api/")
        for name, value in SECURITY_HEADERS + (PAGE_HEADERS if page else ()):
            if name.lower() not in present:
                response.headers.add(name, value)
        return response

    return app


def has_endpoint(name: str) -> bool:
    return name in current_app.view_functions


def task_url(task_id: int) -> str:
    """The task page (web/task_views.py); a plain path until that blueprint exists."""
    for endpoint in ("tasks.show", "task.show", "tasks.task", "task_views.show"):
        if endpoint in current_app.view_functions:
            return url_for(endpoint, task_id=task_id)
    return f"/tasks/{task_id}"


def _install_template_helpers(app: Flask) -> None:
    from . import auth, formatting, labels

    app.jinja_env.globals.update(has_endpoint=has_endpoint, task_url=task_url, current_actor=auth.current_actor,
                                 languages=i18n.LANGUAGES, current_lang=labels.lang)
    app.jinja_env.filters.update(date=formatting.date, datetime=formatting.datetime_, number=formatting.number,
                                 role=formatting.role_name, process_name=labels.process_name,
                                 bilingual=labels.bilingual, service_role=labels.service_role,
                                 localized=labels.text)

    @app.context_processor
    def _actor():
        return {"actor": g.get("actor")}


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def _log_denied(err: Exception) -> None:
    actor = g.get("actor") or g.get("user")
    logins.record_access_denied(current_app.extensions["segito"].db, actor.username if actor else "",
                                {"method": request.method, "path": request.path,
                                 "view_args": {k: str(v) for k, v in (request.view_args or {}).items()},
                                 "message": str(err)})


def _install_error_handlers(app: Flask) -> None:
    @app.errorhandler(SegitoError)
    def _engine_error(err: SegitoError):
        if isinstance(err, Forbidden):
            _log_denied(err)
        if err.status >= 500:  # the process itself failed: not the user's doing, so the operators must see it
            current_app.logger.error("%s %s: %s", request.method, request.path, err.message, exc_info=err)
        if _wants_json():
            body = err.to_dict()
            # A package's or definition's problems in the request's language (web/findings.py); other errors'
            # details (a refused field, consent not in force) keep their own shapes.
            if "details" in body and isinstance(err, (PackageInvalid, DefinitionInvalid)):
                body["details"] = findings.worded(body["details"], findings.api_locale())
            return jsonify(body), err.status
        # A refused package or definition lists its problems in the reader's language (web/findings.py).
        problems = [f"{findings.where(d)}: {findings.say(d)}" for d in err.details if d.get("message")] \
            if isinstance(err, (PackageInvalid, DefinitionInvalid)) and any(d.get("code") for d in err.details) \
            else []
        return render_template("error.html", status=err.status, message=err.message, code=err.code,
                               problems=problems), err.status

    @app.errorhandler(CSRFError)
    def _csrf_error(err: CSRFError):
        if _wants_json():
            return jsonify({"error": "csrf_failed", "message": err.description}), 400
        return render_template("error.html", status=400,
                               message=_("The form expired or did not come from this site. Reload the page and "
                                         "try again.")), 400

    @app.errorhandler(DBAPIError)
    def _database_error(err: DBAPIError):
        # The database went away (a restart, a failover, a cut connection): neither the request's fault nor a
        # bug, so 503 with Retry-After, and clients and load balancers try again. A command whose commit got no
        # answer may have been done: retried, it is then refused as done already (409), never done twice
        # (docs/operations.md, "Faults").
        if not (isinstance(err, OperationalError | InterfaceError) or err.connection_invalidated):
            raise err
        current_app.logger.warning("%s %s: the database is unavailable: %s", request.method, request.path,
                                   str(err.orig).splitlines()[0] if err.orig else err)
        headers = [("Retry-After", "1")]
        if _wants_json():
            return (jsonify({"error": "database_unavailable",
                             "message": "the database is unavailable for a moment; try again"}), 503, headers)
        return render_template("error.html", status=503, message=None), 503, headers

    @app.errorhandler(HTTPException)
    def _http_error(err: HTTPException):
        # The exception's own headers go with the answer: a 405's Allow (RFC 9110), a 401's challenge.
        headers = [(k, v) for k, v in err.get_headers() if k.lower() != "content-type"]
        if _wants_json():
            return (jsonify({"error": err.name.lower().replace(" ", "_"), "message": err.description}), err.code,
                    headers)
        if err.code == 403:
            _log_denied(err)
        message = None
        if err.code == 413:  # an upload past MAX_CONTENT_LENGTH, refused before any view reads it
            message = _("The file is larger than the 8 MiB a request may carry; a signed copy may be at most 5 MiB.")
        return render_template("error.html", status=err.code, message=message), err.code, headers


# A path id's name → what the refusal calls it ("task 12 does not exist").
def _id_noun(name: str) -> str:
    return name.removesuffix("_id").replace("_", " ")


def _install_input_checks(app: Flask) -> None:
    """Bad input is refused where it enters, naming what is wrong (engine/forms/input_check.py), so that no value a
    database cannot take reaches one: the answer is the same 4xx on SQLite and PostgreSQL, never a 500."""

    @app.url_value_preprocessor
    def _ids_in_range(endpoint, values):
        for name, value in (values or {}).items():
            if type(value) is int and (name == "id" or name.endswith("_id")):
                input_check.check_id(_id_noun(name), value)
            elif type(value) is int:  # a position (a log's row 0, 1, …), not an id: in range of the databases
                input_check.check_position(name, value)
            elif isinstance(value, str):
                input_check.check_text(name, value, "the address part")

    @app.before_request
    def _text_is_text():
        for name, value in request.args.items(multi=True):
            input_check.check_text(name, name, "the query parameter")
            input_check.check_text(name, value, "the query parameter")
        if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
            for name, value in request.form.items(multi=True):
                input_check.check_text(name, name, "the form field")
                input_check.check_text(name, value, "the form field")
        auth = request.authorization
        if auth is not None:
            input_check.check_text("username", auth.username or "", "the credential")
            input_check.check_text("password", auth.password or "", "the credential")
