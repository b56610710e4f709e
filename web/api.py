"""The JSON API (described in openapi.yaml, served at /api/openapi.json). Every route calls the engine."""
from __future__ import annotations

import json
import re
from functools import cache, wraps
from pathlib import Path

import yaml
from flask import Blueprint, Response, current_app, g, jsonify, request

from engine import packages
from engine.audit import audit_log
from engine.cases import agenda as agenda_service
from engine.cases import cases, migration, tasks
from engine.cases.entry_corrections import correct as correct_recorded_entry
from engine.definitions import definitions, version_diff
from engine.documents import documents
from engine.errors import Forbidden, SegitoError, ValidationFailed
from engine.forms import input_check
from engine.people import access, api_tokens, logins
from engine.runtime.runtime import Runtime
from engine.store import clock
from engine.timers import timers

from . import findings

api = Blueprint("api", __name__, url_prefix="/api")
_OPENAPI = Path(__file__).with_name("openapi.yaml")


class Unauthorised(SegitoError):
    status = 401
    code = "unauthorised"


class InvalidToken(Unauthorised):
    code = "invalid_token"


class InsufficientScope(Forbidden):
    code = "insufficient_scope"


class BadRequest(SegitoError):
    status = 400
    code = "bad_request"


@api.errorhandler(Unauthorised)
def _unauthorised(err: Unauthorised):
    # RFC 9110: a 401 names the schemes the client may use; RFC 6750 says why a bearer token was refused.
    bearer = 'Bearer realm="Segito"' + (', error="invalid_token"' if isinstance(err, InvalidToken) else "")
    response = jsonify(err.to_dict())
    response.status_code = 401
    response.headers.add("WWW-Authenticate", 'Basic realm="Segito", charset="UTF-8"')  # first: older clients
    response.headers.add("WWW-Authenticate", bearer)
    return response


@api.errorhandler(InsufficientScope)
def _insufficient_scope(err: InsufficientScope):
    scope = err.details[0]["scope"] if err.details else ""
    logins.record_access_denied(runtime().db, g.user.username, {  # audited as the app's other refusals
        "method": request.method, "path": request.path, "message": err.message})
    return jsonify(err.to_dict()), 403, {
        "WWW-Authenticate": f'Bearer realm="Segito", error="insufficient_scope", scope="{scope}"'}


@cache
def described() -> dict:
    """openapi.yaml, parsed once: what is served at /api/openapi.json and what requests are checked against."""
    return yaml.safe_load(_OPENAPI.read_text(encoding="utf-8"))


@cache
def _query_names(rule: str, method: str) -> frozenset[str] | None:
    """The query parameters the description declares for a route and method (None: not described); worked
    out once per route and method, as the description does not change while the process runs."""
    path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)
    operation = described()["paths"].get(path, {}).get(method.lower())
    if operation is None:
        return None
    names = set()
    for param in operation.get("parameters", []):
        if "$ref" in param:
            param = described()["components"]["parameters"][param["$ref"].rsplit("/", 1)[1]]
        if param["in"] == "query":
            names.add(param["name"])
    return frozenset(names)


def _refuse_unknown_query_parameters() -> None:
    """A misspelt query parameter ('ofset', 'staus') is refused, not ignored: ignoring it answers another
    question than the one asked. The description is the list of what each route takes."""
    if request.url_rule is None:
        return
    known = _query_names(request.url_rule.rule, "GET" if request.method == "HEAD" else request.method)
    if known is None:
        return
    unknown = sorted(set(request.args) - known)
    if unknown:
        raise BadRequest(f"unknown query parameter(s): {', '.join(unknown)}; this route takes "
                         f"{', '.join(sorted(known)) or 'none'}",
                         [{"field": name, "message": "unknown query parameter"} for name in unknown])


def runtime() -> Runtime:
    return current_app.extensions["segito"]


# The scope each route asks of a token: every reading route ``read``, every other ``work`` but these.
ADMIN_ENDPOINTS = frozenset({"api.deploy_definition", "api.deploy_package", "api.retry_timer"})
_TOKEN_REFUSED = {
    api_tokens.REVOKED: "the API token was revoked (or its user deactivated); issue a new one",
    api_tokens.EXPIRED: "the API token has expired; issue a new one",
    api_tokens.UNKNOWN: "unknown API token; send the secret shown when the token was issued",
}


def scope_needed() -> str:
    if request.endpoint in ADMIN_ENDPOINTS:
        return api_tokens.ADMIN
    return api_tokens.READ if request.method in ("GET", "HEAD") else api_tokens.WORK


def _bearer_user():
    """The user of an ``Authorization: Bearer`` token, if the scope of the token covers this route."""
    header = request.headers.get("Authorization", "")
    found = api_tokens.check(runtime().db, header[7:].strip())
    if found.actor is None:
        raise InvalidToken(_TOKEN_REFUSED[found.status], [{"field": "Authorization", "message": found.status}])
    needed = scope_needed()
    if needed not in found.scopes:
        g.user = found.actor  # named in the refusal's audit event
        raise InsufficientScope(f"this call needs an API token with the scope '{needed}'; this token has "
                                f"{', '.join(sorted(found.scopes))}", [{"field": "scope", "scope": needed,
                                                                         "message": f"scope '{needed}' needed"}])
    g.token_id = found.token_id
    return found.actor


def authenticated(view):
    """An API token (``Authorization: Bearer``, checked in microseconds, engine/people/api_tokens.py) or HTTP Basic
    credentials checked against the users table (argon2, slow on purpose)."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        if request.headers.get("Authorization", "")[:7].lower() == "bearer ":
            g.user = _bearer_user()
        else:
            auth = request.authorization
            if auth is None or not auth.username:
                raise Unauthorised("log in with an API token (Authorization: Bearer) or HTTP Basic credentials")
            try:  # the login form's lockout applies here too (engine/people/logins.py)
                g.user = logins.check_basic(runtime().db, auth.username, auth.password or "", request.remote_addr)
            except logins.LoginRefused as e:
                raise Unauthorised(e.message) from e
        _refuse_unknown_query_parameters()
        return view(*args, **kwargs)

    return wrapper


def _not_json(name: str):
    raise ValueError(f"{name} is not a JSON value")


def json_body(*allowed: str) -> dict:
    """The request's JSON object; any field other than ``allowed`` is refused (a misspelt 'data' is not ignored)."""
    raw = request.get_data(as_text=True)
    if not raw.strip():
        raise BadRequest("the request needs a JSON body")
    try:
        body = json.loads(raw, parse_constant=_not_json)
    except json.JSONDecodeError as e:
        raise BadRequest(f"malformed JSON at line {e.lineno}, column {e.colno}: {e.msg}") from e
    except ValueError as e:  # NaN, Infinity: accepted by Python, not JSON
        raise BadRequest(f"malformed JSON: {e}") from e
    except RecursionError as e:  # the parser's own guard, far beyond the depth refused below
        raise BadRequest(f"the JSON body is nested more than {input_check.MAX_DEPTH} levels deep") from e
    if not isinstance(body, dict):
        raise BadRequest("the JSON body must be an object")
    input_check.check_data(body, what="the body field")  # before anything reads it: text, and not too deep
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise BadRequest(f"unknown field(s) in the request body: {', '.join(unknown)}; "
                         f"expected {', '.join(allowed)}",
                         [{"field": name, "message": "unknown field"} for name in unknown])
    return body


def _int_arg(name: str, default: int) -> int:
    value = request.args.get(name, default)
    text = str(value)
    # ASCII digits only: int() also takes "١٢", "1_000" and " 7 "; and no more digits than a count can have.
    number = input_check.whole_number(text, 19)
    number = -1 if number is None else number
    if not 0 <= number <= input_check.MAX_OFFSET:
        raise BadRequest(f"query parameter '{name}' must be a whole number from 0 to {input_check.MAX_OFFSET}, "
                         f"not '{value}'", [{"field": name, "message": "not a whole number in range"}])
    return number


def _int_in(name: str, default: int, low: int, high: int) -> int:
    number = _int_arg(name, default)
    if not low <= number <= high:
        raise BadRequest(f"query parameter '{name}' must be from {low} to {high}, not '{number}'")
    return number


@api.get("/openapi.json")
def openapi():
    return jsonify(described())


@api.get("/definitions")
@authenticated
def list_definitions():
    with runtime().db.reading() as session:
        return jsonify(definitions.list_definitions(session))


@api.get("/definitions/startable")
@authenticated
def list_startable():
    return jsonify(cases.startable(runtime(), g.user))


@api.get("/definitions/<key>")
@authenticated
def get_definition(key):
    with runtime().db.reading() as session:
        return jsonify(definitions.describe(definitions.latest_definition(session, key)))


@api.get("/definitions/<key>/diff")
@authenticated
def diff_definition(key):
    """What changed between two versions of a process (query ``from`` and ``to``), for version readers."""
    access.require_version_reader(g.user)
    versions = {name: input_check.version_number(name, request.args.get(name, "")) for name in ("from", "to")}
    with runtime().db.reading() as session:
        return jsonify(version_diff.diff(session, key, versions["from"], versions["to"]))


_MIGRATION_FIELDS = ("process_key", "to_version", "from_version", "step", "status", "mapping")


@api.post("/migrations/dry-run")
@authenticated
def migration_dry_run():
    """Which of the selected cases can move to the target version and why not; changes nothing."""
    body = json_body(*_MIGRATION_FIELDS)
    return jsonify(migration.dry_run(runtime(), g.user, body.pop("process_key", None), **body))


@api.post("/migrations")
@authenticated
def migration_run():
    """Move every selected case that can: one transaction and audit event per case, a batch id to revert by."""
    body = json_body(*_MIGRATION_FIELDS)
    return jsonify(migration.migrate(runtime(), g.user, body.pop("process_key", None), **body))


@api.post("/migrations/<batch>/revert")
@authenticated
def migration_revert(batch):
    return jsonify(migration.revert(runtime(), g.user, batch))


@api.get("/migrations")
@authenticated
def migration_batches():
    migration.require_dry_run(g.user)
    key = request.args.get("process_key", "")
    if not key:
        raise ValidationFailed("'process_key' is required", [{"field": "process_key", "message": "is required"}])
    with runtime().db.reading() as session:
        return jsonify(migration.batches(session, key))


@api.post("/definitions")
@authenticated
def deploy_definition():
    access.require_designer(g.user)
    bpmn = request.files.get("bpmn")
    if bpmn is None:
        raise BadRequest("upload the BPMN file as multipart field 'bpmn' (and each form file as 'forms')")
    forms = {Path(f.filename).name: f.read() for f in request.files.getlist("forms") if f.filename}
    upload = definitions.Upload(Path(bpmn.filename or "process.bpmn").name, bpmn.read(), forms)
    definitions.prevalidate(upload)  # before the transaction: validation must not hold the writer lock
    with runtime().db.unit_of_work() as session:
        definition, created = definitions.deploy(session, upload, g.user.username, clock.now(),
                                                 note=request.form.get("note"))
        body = {"process_key": definition.process_key, "version": definition.version, "created": created}
    return jsonify(body), 201 if created else 200


@api.get("/packages")
@authenticated
def list_packages():
    with runtime().db.reading() as session:
        return jsonify(packages.list_versions(session))


@api.post("/packages")
@authenticated
def deploy_package():
    """A service package as a zip archive (docs/services.md): checked as a whole, deployed in one transaction."""
    access.require_designer(g.user)
    archive = request.files.get("package")
    if archive is None:
        raise BadRequest("upload the package as a zip archive in the multipart field 'package'")
    package = packages.from_zip(archive.read(packages.load.MAX_ARCHIVE_BYTES + 1),
                                Path(archive.filename or "package.zip").name)
    draft = request.form.get("draft", "false")
    if draft not in ("true", "false"):
        raise BadRequest(f"'draft' must be 'true' or 'false', not '{draft[:40]}'")
    [result] = packages.deploy(runtime(), [package], g.user.username, clock.now(), request.form.get("note"),
                               draft == "true")
    result["warnings"] = findings.worded(result.get("warnings"), findings.api_locale())
    return jsonify(result), 201 if result["created"] else 200


@api.post("/cases")
@authenticated
def start_case():
    body = json_body("process_key", "client_code", "confirm")
    key = body.get("process_key")
    if not isinstance(key, str) or not key:
        raise BadRequest("'process_key' is required (e.g. 'intake' or 'family_care')")
    client_code = body.get("client_code")
    if client_code is not None and not isinstance(client_code, str):
        raise BadRequest("'client_code' must be a string (the code intake gave the client)")
    confirm = body.get("confirm", False)
    if not isinstance(confirm, bool):
        raise BadRequest("'confirm' must be true or false")
    return jsonify(cases.start_case(runtime(), key, g.user, client_code or None, confirm=confirm)), 201


@api.get("/cases")
@authenticated
def list_cases():
    return jsonify(cases.list_cases(runtime(), g.user, status=request.args.get("status"),
                                    limit=_int_arg("limit", 100), offset=_int_arg("offset", 0)))


@api.get("/cases/<int:case_id>")
@authenticated
def get_case(case_id):
    found = cases.get_case(runtime(), case_id, g.user)
    audit_log.record_view(runtime(), g.user, case_id, via="api")  # reading a client's file is logged (docs/web.md)
    return jsonify(found)


@api.get("/cases/<int:case_id>/history")
@authenticated
def case_history(case_id):
    found = cases.history(runtime(), case_id, g.user)
    audit_log.record_view(runtime(), g.user, case_id, via="api", what="history")  # its before and after: logged
    return jsonify(found)


@api.get("/inbox")
@authenticated
def inbox():
    return jsonify(tasks.inbox(runtime(), g.user, mine_only=request.args.get("mine") in ("1", "true"),
                               process_key=request.args.get("process"), step=request.args.get("step"),
                               client_code=request.args.get("client"), group=request.args.get("group"),
                               due=request.args.get("due"), limit=_int_arg("limit", 50),
                               offset=_int_arg("offset", 0)))


@api.get("/tasks/<int:task_id>")
@authenticated
def get_task(task_id):
    found = tasks.get_task(runtime(), task_id, g.user)
    audit_log.record_view(runtime(), g.user, found["case_id"], task_id=task_id, via="api")  # logged as above
    return jsonify(found)


@api.post("/cases/<int:case_id>/entries/<field>/<int:row>/correction")
@authenticated
def correct_entry(case_id, field, row):
    """Correct one row recorded at an earlier step (an append-only block); the old value is kept."""
    body = json_body("data", "reason")
    return jsonify(correct_recorded_entry(runtime(), case_id, field, row, body.get("data"), g.user,
                                          body.get("reason")))


@api.post("/tasks/<int:task_id>/complete")
@authenticated
def complete_task(task_id):
    body = json_body("data")
    return jsonify(tasks.complete(runtime(), task_id, body.get("data", {}), g.user))


@api.put("/tasks/<int:task_id>/draft")
@authenticated
def save_draft(task_id):
    body = json_body("data")
    return jsonify(tasks.save_draft(runtime(), task_id, body.get("data", {}), g.user))


@api.post("/tasks/<int:task_id>/claim")
@authenticated
def claim(task_id):
    return jsonify(tasks.claim(runtime(), task_id, g.user))


@api.post("/tasks/<int:task_id>/release")
@authenticated
def release(task_id):
    return jsonify(tasks.release(runtime(), task_id, g.user))


# ---------------------------------------------------------- step documents (docs/documents.md)

def _optional_id(value, name: str) -> int | None:
    """A step's task id from a body or form: absent, or a whole number (text digits in a form)."""
    if value is None or value == "":
        return None
    if isinstance(value, str) and input_check.whole_number(value, 19) is not None:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise BadRequest(f"'{name}' must be the id of one of the case's steps (a whole number), not {value!r:.60}",
                         [{"field": name, "message": "not a task id"}])
    return value


@api.get("/cases/<int:case_id>/documents")
@authenticated
def list_documents(case_id):
    """The documents the case offers (``task``: those of one step) and every stored version, newest first;
    ``withheld`` says why both are empty for a role that knows the client by code only."""
    task_id = _optional_id(request.args.get("task"), "task")
    return jsonify(documents.overview(runtime(), case_id, g.user, task_id))


@api.post("/cases/<int:case_id>/documents/<document>/produce")
@authenticated
def produce_document(case_id, document):
    body = json_body("language", "task_id")
    language = body.get("language", "hu")
    if not isinstance(language, str):
        raise BadRequest("'language' must be 'hu' or 'en'", [{"field": "language", "message": "not a string"}])
    made = documents.produce(runtime(), case_id, document, g.user, language,
                             task_id=_optional_id(body.get("task_id"), "task_id"))
    return jsonify(made), 201 if made["created"] else 200


@api.post("/cases/<int:case_id>/documents/<document>/signed")
@authenticated
def upload_signed_copy(case_id, document):
    """A signed copy (multipart ``file``: PDF, PNG or JPEG by content, at most 5 MiB) kept as the next version."""
    unknown = sorted((set(request.form) - {"task_id"}) | (set(request.files) - {"file"}))
    if unknown:
        raise BadRequest(f"unknown field(s): {', '.join(unknown)}; expected 'file' and optionally 'task_id'",
                         [{"field": name, "message": "unknown field"} for name in unknown])
    file = request.files.get("file")
    if file is None:
        raise documents.FileRefused("send the signed copy as the multipart field 'file' (PDF, PNG or JPEG)",
                                    [{"field": "file", "message": "missing"}])
    content = file.read(documents.MAX_UPLOAD_BYTES + 1)
    stored = documents.upload(runtime(), case_id, document, content, g.user, file.filename,
                              task_id=_optional_id(request.form.get("task_id"), "task_id"))
    return jsonify(stored), 201


@api.get("/cases/<int:case_id>/documents/<int:document_id>")
@authenticated
def download_document(case_id, document_id):
    """One stored version's bytes as an attachment; the download is an audit event of the case (via: api)."""
    described_row, content = documents.download(runtime(), case_id, document_id, g.user, via="api")
    response = Response(content, mimetype=described_row["media_type"])
    response.headers["Content-Disposition"] = f'attachment; filename="{described_row["file_name"]}"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


# ---------------------------------------------------------- follow-up scheduling (docs/timers.md)

@api.get("/agenda")
@authenticated
def get_agenda():
    """The caller's follow-up visits and day-180 checks, by local day (a mentor: the caseworker role)."""
    return jsonify(agenda_service.agenda(runtime(), g.user, days=_int_in("days", 28, 1, 200)))


@api.get("/scheduler")
@authenticated
def get_scheduler():
    """The administrator's view of the timers: counts, due, running, failing, incidents and the next ones."""
    return jsonify(timers.overview(runtime(), g.user, limit=_int_in("limit", 100, 1, 1000)))


@api.post("/scheduler/timers/<int:timer_id>/retry")
@authenticated
def retry_timer(timer_id):
    return jsonify(timers.retry_incident(runtime(), timer_id, g.user))
