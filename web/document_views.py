"""Step documents on the pages: produce a PDF, upload a signed copy, download a version (docs/documents.md).

POST /cases/<id>/documents/produce        engine.documents.produce; back to the page it came from, with a note
POST /cases/<id>/documents/upload         engine.documents.upload (multipart ``file``); a bad file is a 4xx page
GET  /cases/<id>/documents/<document_id>  the stored bytes, as an attachment

``panel`` is what the task page and the case page show: the documents offered there and every stored version.
Who may do what is the engine's to decide (the case's access rules).
"""
from __future__ import annotations

from functools import wraps

from flask import Blueprint, Response, flash, redirect, request, url_for
from werkzeug.exceptions import BadRequest

from engine.documents import documents
from engine.errors import ValidationFailed
from engine.forms import input_check

from .auth import logged_in_actor, login_required, runtime
from .i18n import N_
from .i18n import gettext as _
from .labels import lang, step_name, text

documents_bp = Blueprint("documents", __name__)


def panel(case_id: int, task_id: int | None = None) -> dict:
    """The documents a page offers (a step's, or all of the case's) and the case's stored versions, newest first;
    each offered document with its latest produced and signed versions."""
    found = documents.overview(runtime(), case_id, logged_in_actor(), task_id)
    offered, stored, withheld = found["offered"], found["stored"], bool(found["withheld"])
    if task_id is None and not offered and not stored:
        return {"offered": [], "stored": [], "task_id": task_id, "case_id": case_id, "withheld": withheld}
    rows = []
    for row in stored:
        rows.append({**row, "title_text": text(row["title"], row["document"])})
    items = []
    for d in offered:
        own = [r for r in rows if r["document"] == d["id"]]
        produced = next((r for r in own if r["kind"] == documents.PRODUCED), None)
        signed = next((r for r in own if r["kind"] == documents.SIGNED), None)
        languages = sorted(d["languages"], key=lambda code: code != lang())  # the reader's language first
        items.append({**d, "title_text": text(d["title"], d["id"]), "languages": languages,
                      "produced": produced, "signed_copy": signed,
                      "awaiting_signature": d["signed"] and produced is not None and signed is None})
    return {"offered": items, "stored": rows, "task_id": task_id, "case_id": case_id, "withheld": withheld}


# The engine's refusal for a role that knows the client by code only, in the reader's language.
WITHHELD = N_("This case's documents name the client: they are for the case's caseworker, the professional lead, "
              "the manager and the data-protection officer. Your role sees the client's code only.")


def _names_withheld(view):
    """``view`` with the engine's ``NamesWithheld`` and ``NotOffered`` told in the reader's language (still a 403,
    a 422)."""
    @wraps(view)
    def wrapped(*args, **kwargs):
        try:
            return view(*args, **kwargs)
        except documents.NamesWithheld as e:
            raise documents.NamesWithheld(_(WITHHELD), e.details) from None
        except documents.NotOffered as e:
            raise ValidationFailed(_(NOT_OFFERED, title=text(e.title, e.document_key), step=e.step,
                                     name=step_name({"name": e.step_name, "bpmn_id": e.bpmn_id})),
                                   e.details) from None
    return wrapped


# A document asked for at a step that does not offer it (a form of another page, or sent by hand).
NOT_OFFERED = N_("%(title)s is not one of the documents of step %(step)s (%(name)s): produce it or upload its signed "
                 "copy at a step that offers it, or on the case's page.")


def _back(case_id: int, task_id: int | None):
    if task_id is not None:
        from .app import task_url

        return redirect(task_url(task_id) + "#documents-title")
    return redirect(url_for("cases.show", case_id=case_id) + "#documents-title")


def _task_id() -> int | None:
    raw = (request.form.get("task_id") or "").strip()
    if not raw:
        return None
    number = input_check.whole_number(raw)
    if number is None or number < 1:
        raise BadRequest(f"task_id: '{raw[:40]}' is not a step number")
    return number


@documents_bp.post("/cases/<int:case_id>/documents/produce")
@login_required
@_names_withheld
def produce(case_id: int):
    task_id = _task_id()
    key = request.form.get("document", "")
    language = request.form.get("language") or lang()
    made = documents.produce(runtime(), case_id, key, logged_in_actor(), language, task_id=task_id)
    title = text(made["title"], key)
    if made["created"]:
        flash(_("%(title)s: version %(version)d produced.", title=title, version=made["version"]), "success")
    else:
        flash(_("%(title)s: version %(version)d is up to date; nothing it shows has changed since.", title=title,
                version=made["version"]), "info")
    return _back(case_id, task_id)


@documents_bp.post("/cases/<int:case_id>/documents/upload")
@login_required
@_names_withheld
def upload(case_id: int):
    # A request past the app's 8 MiB is refused before this view runs (web/app.py, a 413 page saying so).
    task_id = _task_id()
    file = request.files.get("file")
    if file is None or not file.filename:
        raise documents.FileRefused(_("Choose the file of the signed copy (PDF, PNG or JPEG)."),
                                    [{"field": "file", "message": "missing"}])
    content = file.read(documents.MAX_UPLOAD_BYTES + 1)
    key = request.form.get("document", "")
    try:
        stored = documents.upload(runtime(), case_id, key, content, logged_in_actor(), file.filename,
                                  task_id=task_id)
    except documents.FileTooLarge:
        raise documents.FileTooLarge(_("The file is larger than the 5 MiB a signed copy may be."),
                                     [{"field": "file", "message": "too large"}]) from None
    except documents.FileRefused as e:
        why = e.details[0]["message"] if e.details else ""
        raise documents.FileRefused(_(_REFUSALS[why]) if why in _REFUSALS else e.message, e.details) from None
    flash(_("Signed copy of %(title)s kept (version %(version)d).", title=text(stored["title"], key),
            version=stored["version"]), "success")
    return _back(case_id, task_id)


# The engine's refusals in the reader's language (engine/documents/documents.py, ``sniff``).
_REFUSALS = {
    "empty": N_("The file is empty; choose the scanned or photographed signed copy."),
    "not a PDF, PNG or JPEG": N_("A signed copy must be a PDF, PNG or JPEG file; this file's content is none of "
                                "them, whatever its name says."),
    "an incomplete PDF": N_("The PDF is cut short; upload the whole file."),
}


@documents_bp.get("/cases/<int:case_id>/documents/<int:document_id>")
@login_required
@_names_withheld
def download(case_id: int, document_id: int):
    described, content = documents.download(runtime(), case_id, document_id, logged_in_actor())
    response = Response(content, mimetype=described["media_type"])
    response.headers["Content-Disposition"] = f'attachment; filename="{described["file_name"]}"'
    return response
