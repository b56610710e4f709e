"""The studio, where process designers work on a service package (docs/studio.md): the modeler (bpmn-js with
Segito's properties panel) opens a package version's BPMN file and saves it as a new draft version, checked as a
deploy is; publishing is catalogue_views.publish_package. Designers and administrators only: nothing here shows a
case."""
from __future__ import annotations

from flask import Blueprint, Response, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _

from engine import packages
from engine.definitions.form_files import check_form_file
from engine.errors import SegitoError, ValidationFailed
from engine.packages import drafts as drafts_module
from engine.people import access
from engine.runtime import services
from engine.store import clock
from engine.studio import test_runs

from . import bpmn_source, findings, form_render, studio_texts
from .auth import logged_in_actor, login_required, runtime
from .labels import lang, text

studio = Blueprint("studio", __name__)


def _designer():
    actor = logged_in_actor()
    access.require_designer(actor)
    return actor


def _files(package_key: str, version: int) -> dict[str, bytes]:
    try:
        return packages.files_of(runtime(), package_key, version)
    except SegitoError as e:
        abort(e.status if e.status in (404, 410) else 400, e.message)


def _manifest(files: dict[str, bytes]) -> dict:
    manifest, _lines, _problems = packages.manifest.parse(files.get(packages.manifest.MANIFEST, b""))
    return manifest or {}


def modeler_config(files: dict[str, bytes]) -> dict:
    """What the modeler's properties panel offers: the package's roles (by lane), forms and the engine's operators,
    and its words in the page's language."""
    manifest = _manifest(files)
    roles = [{"lane": spec["lane"], "name": f"{text(spec.get('name'), role)} ({spec['lane']})"}
             for role, spec in sorted((manifest.get("roles") or {}).items()) if spec.get("lane")]
    forms = sorted(p[len("forms/"):] for p in files if p.startswith("forms/") and p.endswith(".json"))
    return {"roles": roles, "forms": forms, "operators": services.operation_names(runtime()),
            "texts": studio_texts.translated()}


@studio.get("/studio/<package_key>/<int:version>")
@login_required
def package(package_key, version):
    """A package version's files the studio edits, with links to the modeler."""
    _designer()
    files = _files(package_key, version)
    manifest = _manifest(files)
    bpmn = sorted(p for p in files if "/" not in p and p.endswith(".bpmn"))
    with runtime().db.reading() as session:
        history = packages.package_history(session, package_key)
    row = next((v for v in history["versions"] if v["version"] == version), None)
    return render_template("studio/package.html", package_key=package_key, version=version, row=row,
                           name=text(manifest.get("name"), package_key), bpmn=bpmn,
                           form_names=sorted(p[len("forms/"):] for p in files if p.startswith("forms/")),
                           test_names=sorted(p[len("tests/"):] for p in files if p.startswith("tests/")),
                           processes=sorted(manifest.get("processes") or {}),
                           forms=sorted(p for p in files if p.startswith("forms/")), history=history)


@studio.get("/studio/<package_key>/<int:version>/modeler")
@login_required
def modeler(package_key, version):
    _designer()
    files = _files(package_key, version)
    file = request.args.get("file", "")
    if file not in files or not file.endswith(".bpmn") or "/" in file:
        abort(404)
    manifest = _manifest(files)
    return render_template("studio/modeler.html", package_key=package_key, version=version, file=file,
                           name=text(manifest.get("name"), package_key), config=modeler_config(files))


@studio.get("/studio/<package_key>/<int:version>/files/<path:path>")
@login_required
def file(package_key, version, path):
    """One file of a package version as stored, for the modeler and the form editor."""
    _designer()
    files = _files(package_key, version)
    if path not in files:
        abort(404)
    kind = ("application/xml" if path.endswith(".bpmn") else "application/json" if path.endswith(".json")
            else "text/plain")
    return Response(files[path], mimetype=kind, headers={"Cache-Control": "no-store"})


@studio.get("/studio/<package_key>/<int:version>/forms/<name>")
@login_required
def form_editor(package_key, version, name):
    """The structured editor of one form file, with a live preview drawn by the renderer a caseworker sees."""
    _designer()
    files = _files(package_key, version)
    path = f"forms/{name}"
    if path not in files or not name.endswith(".json"):
        abort(404)
    return render_template("studio/form_editor.html", package_key=package_key, version=version, name=name,
                           path=path, title=text(_manifest(files).get("name"), package_key),
                           texts=studio_texts.form_editor_translated())


@studio.post("/studio/<package_key>/<int:version>/forms/<name>/preview")
@login_required
def form_preview(package_key, version, name):
    """The posted form text (JSON: ``content``) checked as a deploy checks a form and, when it is a form, drawn
    by web/form_render.py in the reader's language, empty, as a caseworker first sees it: an HTML fragment, or
    422 with the problems."""
    _designer()
    body = request.get_json(silent=True)
    content = body.get("content") if isinstance(body, dict) else None
    if not isinstance(content, str) or len(content) > drafts_module.MAX_FILE_CHARS:
        return jsonify({"error": "validation_failed", "message": "'content' must be the form's text",
                        "details": [{"field": "content", "message": "the form's JSON text"}]}), 422
    schema, problems = check_form_file(name, content)
    if schema is None or problems:
        return jsonify({"error": "form_invalid", "message": "the form has problems",
                        "details": [{**p, "file": f"forms/{name}"} for p in problems]}), 422
    model = form_render.build(schema, {}, {}, locale=lang())
    return render_template("studio/form_preview.html", model=model)


@studio.get("/studio/<package_key>/<int:version>/test-runs")
@login_required
def test_runs_page(package_key, version):
    """The package version's test runs, played now in a sandbox (engine/studio/test_runs.py): which paths end,
    which get stuck and where, which gateway flows no path took, marked on each process's diagram."""
    _designer()
    files = _files(package_key, version)
    report = test_runs.run(packages.from_files(files, package_key))
    manifest = _manifest(files)
    process_files = {key: spec["file"] for key, spec in (manifest.get("processes") or {}).items()}
    for run in report["runs"]:
        run["file_bpmn"] = process_files.get(run["process"])
        run["taken_flows"] = [f["flow"] for f in run["gateway_flows"] if f["taken"] and f["flow"]]
        run["stuck_at"] = sorted({w for p in run["paths"] if p["outcome"] == "stuck" for w in p["where"]})
    return render_template("studio/test_runs.html", package_key=package_key, version=version,
                           name=text(manifest.get("name"), package_key), report=report,
                           processes=sorted(manifest.get("processes") or {}))


@studio.get("/studio/<package_key>/<int:version>/tests-new")
@login_required
def new_test_file(package_key, version):
    """The form "New sample-data file" (on the test-runs and package pages): a file name and the process it
    plays, opened in the sample-data editor with that process filled in. Nothing is saved until the editor is."""
    _designer()
    files = _files(package_key, version)
    processes = set(_manifest(files).get("processes") or {})
    process = request.args.get("process", "")
    raw = (request.args.get("name") or "").strip()
    name = raw if raw.endswith((".yaml", ".yml")) else f"{raw}.yaml"
    problems = []
    if process not in processes:
        problems.append({"field": "process", "message": _("Choose one of the package's processes.")})
    if not raw or not drafts_module.EDITABLE.match(f"tests/{name}"):
        problems.append({"field": "name", "message": _(
            "“%(name)s” cannot be a file name: use letters, digits, “_”, “-” and “.” only.", name=raw[:80])})
    elif f"tests/{name}" in files:
        problems.append({"field": "name", "message": _(
            "tests/%(name)s exists already: open it from the list to edit it.", name=name)})
    if problems:
        raise ValidationFailed(" ".join(p["message"] for p in problems), problems)
    return redirect(url_for("studio.test_file", package_key=package_key, version=version, name=name,
                            process=process))


@studio.route("/studio/<package_key>/<int:version>/tests/<name>", methods=["GET", "POST"])
@login_required
def test_file(package_key, version, name):
    """A test-run file's sample data (tests/<name>.yaml) as text; saving stores a new draft version with it and
    opens that version's test runs. A refused draft shows its problems with the text as typed."""
    actor = _designer()
    files = _files(package_key, version)
    path = f"tests/{name}"
    if not drafts_module.EDITABLE.match(path):
        abort(404)
    problems: list[dict] = []
    process = request.args.get("process", "")  # a new file's process (new_test_file)
    if process not in (_manifest(files).get("processes") or {}):
        process = package_key
    content = files[path].decode("utf-8") if path in files else \
        f"format: 1\nprocess: {process}\nstart: {{}}\ntasks: {{}}\n"
    if request.method == "POST":
        content = request.form.get("content", "")
        try:
            result = packages.save_draft(runtime(), package_key, version, {path: content}, actor.username,
                                         clock.now(), request.form.get("note") or None)
        except SegitoError as e:
            problems = e.details or [{"message": e.message}]
        else:
            flash(_("Saved as draft version %(v)d.", v=result["version"]), "info")
            return redirect(url_for("studio.test_runs_page", package_key=package_key, version=result["version"]))
    return render_template("studio/test_file.html", package_key=package_key, version=version, name=name,
                           path=path, title=text(_manifest(files).get("name"), package_key), content=content,
                           problems=problems), 422 if problems else 200


class _StoredFile:
    """A stored package version's BPMN file, shaped as web/bpmn_source.py takes a deployed version's view: its
    names come from the file itself ("nameEn" properties, "magyar / English" names)."""

    def __init__(self, data: bytes):
        self.id = None
        self.catalogue: dict = {}
        self._web_bpmn_source = data


@studio.get("/studio/<package_key>/<int:version>/diagram/<name>")
@login_required
def diagram(package_key, version, name):
    """A BPMN file of a package version with its names in the reader's language, for the test runs' diagram
    (the modeler edits the file itself, /files/)."""
    _designer()
    files = _files(package_key, version)
    if name not in files or not name.endswith(".bpmn"):
        abort(404)
    return Response(bpmn_source.localised_xml(_StoredFile(files[name])), mimetype="application/xml",
                    headers={"Content-Language": lang(), "Cache-Control": "no-store"})


@studio.post("/studio/<package_key>/<int:version>/draft")
@login_required
def save_draft(package_key, version):
    """Save the posted file over version ``version`` as a new draft version (JSON in and out: the page's script
    posts it). A refused draft answers 422 with each problem's file, line and element."""
    actor = _designer()
    body = request.get_json(silent=True)
    try:
        if not isinstance(body, dict):
            raise ValidationFailed("the body must be a JSON object with 'file' and 'xml' (or 'content')",
                                   [{"field": "body", "message": "a JSON object"}])
        path = body.get("file")
        content = body.get("xml", body.get("content"))
        if not isinstance(path, str) or not isinstance(content, str):
            raise ValidationFailed("'file' and 'xml' (or 'content') must be texts",
                                   [{"field": "file", "message": "a text"}, {"field": "xml", "message": "a text"}])
        note = body.get("note") or None
        if note is not None and not isinstance(note, str):
            raise ValidationFailed("'note' must be a text", [{"field": "note", "message": "a text"}])
        result = packages.save_draft(runtime(), package_key, version, {path: content}, actor.username, clock.now(),
                                     note)
    except SegitoError as e:
        refused = e.to_dict()
        if "details" in refused:  # each problem worded in the reader's language (web/findings.py)
            refused["details"] = findings.worded(refused["details"])
        return jsonify(refused), e.status
    result["warnings"] = findings.worded(result.get("warnings"))
    where = url_for("studio.modeler", package_key=package_key, version=result["version"], file=path) \
        if path.endswith(".bpmn") else url_for("studio.package", package_key=package_key, version=result["version"])
    return jsonify({**result, "next": where})
