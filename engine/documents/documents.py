"""A case's documents: those its package offers at each step, a PDF produced from the case's data as a new
version, a signed copy uploaded, the list, a download. Whoever may see the case may do these (the case's access
rules, engine/people/access.py); producing, uploading and downloading are audit events of the case.

Producing lays the PDF out before the writing transaction (it takes about a second), so the writer lock is held
only to number the version and store it.
"""
from __future__ import annotations

import hashlib
import re
import unicodedata

from sqlalchemy import func, select

from ..cases import masking
from ..cases.cases import authorised_case, case_data_and_entries
from ..errors import Conflict, Forbidden, NotFound, SegitoError, ValidationFailed
from ..forms import input_check
from ..people.users import Actor
from ..runtime.runtime import Runtime
from ..sandbox.calendar_helpers import local_date
from ..store import audit, clock, keys
from ..store.models import AuditEvent, Case, Client, HumanTask, ProcessDefinition, User
from . import render
from .models import CaseDocument, PackageDocuments

PRODUCED = "produced"
SIGNED = "signed"

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
# What a signed copy may be, told by its first bytes, never by its name or the type the browser claims.
SIGNATURES = ((b"%PDF-", "application/pdf", "pdf"), (b"\x89PNG\r\n\x1a\n", "image/png", "png"),
              (b"\xff\xd8\xff", "image/jpeg", "jpg"))
_UNSAFE_NAME = re.compile(r"[^\w.\- ]+")


class NamesWithheld(Forbidden):
    """A step document of a case whose client the actor knows by code only (engine/cases/masking.py)."""

    code = "names_withheld"


class FileRefused(SegitoError):
    """An uploaded file that is not what a signed copy may be (type by content, size)."""

    status = 422
    code = "file_refused"


class FileTooLarge(FileRefused):
    status = 413
    code = "file_too_large"


class NotOffered(ValidationFailed):
    """A document produced or uploaded with a step that does not offer it (its declaration's ``steps``). Carries
    the document's titles and the step's number and name, for a page to say it in the reader's language."""

    def __init__(self, document_key: str, title: dict, task: HumanTask):
        super().__init__(f"document '{document_key}' is not one of step {task.step}'s documents",
                         [{"field": "document", "message": f"not offered at step {task.step}",
                           "kind": "not_offered"}])
        self.document_key, self.title = document_key, title
        self.step, self.step_name, self.bpmn_id = task.step, task.name, task.bpmn_id


def _check_offered(declaration: dict, task: HumanTask | None) -> None:
    if task is not None and task.bpmn_id not in declaration["steps"]:
        raise NotOffered(declaration["id"], declaration["title"], task)


def _declarations(session, case: Case) -> tuple[list[dict], dict[str, str]]:
    """The documents of the package version the case's process was deployed with, and their templates."""
    version_id = session.execute(select(ProcessDefinition.package_version_id)
                                 .where(ProcessDefinition.id == case.definition_id)).scalar()
    row = session.get(PackageDocuments, version_id) if version_id is not None else None
    return (list(row.declarations), dict(row.templates)) if row is not None else ([], {})


def _public(declaration: dict) -> dict:
    return {"id": declaration["id"], "title": declaration["title"], "languages": declaration["languages"],
            "signed": declaration["signed"], "steps": declaration["steps"]}


def _task_of_case(session, case_id: int, task_id: int) -> HumanTask:
    input_check.check_id("task", task_id)
    task = session.get(HumanTask, task_id)
    if task is None or task.case_id != case_id:
        raise NotFound(f"case {case_id} has no step (task) {task_id}")
    return task


def offered(runtime: Runtime, case_id: int, actor: Actor, task_id: int | None = None) -> list[dict]:
    """The documents of the case (``task_id``: those offered at that step), each with ``id``, ``title``
    (hu/en), ``languages``, ``signed`` and ``steps``; none for a role that needs no names (``overview``)."""
    return overview(runtime, case_id, actor, task_id)["offered"]


def _withheld(case: Case) -> str:
    return (f"case {case.id}'s documents name the client: they are for the case's caseworker, the professional "
            "lead, the manager and the data-protection officer; your role sees the client's code only")


def _require_names(actor: Actor, case: Case) -> None:
    """A step document names the client: it is for the roles that see names (engine/cases/masking.py). A copy
    with the name masked would be no record of the named person, so it is refused, not masked; the
    data-protection officer hands documents out in the person's file (engine/privacy/export.py)."""
    if not masking.sees_names(actor, case):
        raise NamesWithheld(_withheld(case))


def overview(runtime: Runtime, case_id: int, actor: Actor, task_id: int | None = None) -> dict:
    """What a page or the API lists: ``offered`` (as ``offered``), ``stored`` (as ``list_documents``) and
    ``withheld``: why both are empty for a role that sees codes only while the case has documents (else None)."""
    with runtime.db.reading() as session:
        case = authorised_case(session, actor, case_id)
        declared, _templates = _declarations(session, case)
        found = declared
        if task_id is not None:
            task = _task_of_case(session, case_id, task_id)
            found = [d for d in found if task.bpmn_id in d["steps"]]
        if not masking.sees_names(actor, case):
            has_any = bool(found) or session.execute(select(CaseDocument.id).where(
                CaseDocument.case_id == case_id).limit(1)).first() is not None
            return {"offered": [], "stored": [], "withheld": _withheld(case) if has_any else None}
        titles = {d["id"]: d["title"] for d in declared}
        rows = session.execute(select(*_LISTED).where(CaseDocument.case_id == case_id)
                               .order_by(CaseDocument.id.desc())).all()
        names = _display_names(session, {r.produced_by for r in rows})
    return {"offered": [_public(d) for d in found],
            "stored": [_row(r, titles, names) for r in rows],  # type: ignore[arg-type]  # a row of the same columns
            "withheld": None}


def _find(found: list[dict], case_id: int, document_key) -> dict:
    for declaration in found:
        if declaration["id"] == document_key:
            return declaration
    known = ", ".join(d["id"] for d in found) or "none"
    raise NotFound(f"case {case_id} has no document '{document_key}' (its documents: {known})")


def _display_names(session, usernames) -> dict[str, str]:
    """The display names of the users ``usernames`` (logins), as the pages name people."""
    wanted = {u for u in usernames if u}
    return dict(session.execute(select(User.username, User.display_name)
                                .where(User.username.in_(wanted))).all()) if wanted else {}


def _row(r: CaseDocument, titles: dict[str, dict], names: dict[str, str]) -> dict:
    """``by`` is the login of who produced or uploaded it, ``by_name`` that person's display name."""
    return {"document_id": r.id, "case_id": r.case_id, "document": r.document_key,
            "title": titles.get(r.document_key) or {"hu": r.document_key, "en": r.document_key},
            "kind": r.kind, "version": r.version, "language": r.language, "task_id": r.task_id, "step": r.step,
            "media_type": r.media_type, "file_name": r.file_name, "size": r.size, "sha256": r.sha256,
            "by": r.produced_by, "by_name": names.get(r.produced_by) or r.produced_by,
            "at": r.produced_at.isoformat()}


_LISTED = tuple(c for c in CaseDocument.__table__.c if c.name != "content")


def list_documents(runtime: Runtime, case_id: int, actor: Actor) -> list[dict]:
    """Every document of the case, produced and signed, every version, newest first (without their bytes)."""
    return overview(runtime, case_id, actor)["stored"]


def _check_language(declaration: dict, lang) -> str:
    if lang not in declaration["languages"]:
        raise ValidationFailed(f"document '{declaration['id']}' is made in {', '.join(declaration['languages'])}, "
                               f"not in '{lang}'", [{"field": "language", "message": "not one of "
                                                     + ", ".join(declaration["languages"])}])
    return lang


def produce(runtime: Runtime, case_id: int, document_key: str, actor: Actor, lang: str = "hu",
            task_id: int | None = None) -> dict:
    """The document filled from the case's data (at a waiting step, with its saved draft over it) as a PDF, kept
    as the document's next version. Produced again from the same data and template, the latest version is
    returned as it is (``created``: false); from changed data, a new version is kept beside the earlier ones."""
    input_check.check_id("case", case_id)
    input_check.check_text("document", document_key)
    with runtime.db.reading() as session:
        case = authorised_case(session, actor, case_id)
        _require_names(actor, case)
        found, templates = _declarations(session, case)
        declaration = _find(found, case_id, document_key)
        _check_language(declaration, lang)
        task = _task_of_case(session, case_id, task_id) if task_id is not None else None
        _check_offered(declaration, task)
        data, _described = case_data_and_entries(runtime, session, case,
                                                 task_id=task.spiff_task_id if task is not None and
                                                 task.state == "ready" else None)
        draft = keys.open_json(session, task.draft, keys.DRAFT) if task is not None else None  # sealed
        if task is not None and task.state == "ready" and draft:
            # What the caseworker has typed at this step, before completing it. A draft keeps only the new rows
            # of an append-only block (engine.forms.entries): they follow the rows the case holds, as recorded.
            form = runtime.definition(session, case.definition_id).forms.get(task.form_file)
            appended = set(form.append_only or ()) if form is not None else set()
            data = {**data, **{k: ([*(data.get(k) or []), *v] if k in appended and isinstance(v, list) else v)
                               for k, v in draft.items()}}
        data = {**data, **{name: log_rows(session, case_id, form)
                           for name, form in (declaration.get("logs") or {}).items()}}
        meta = runtime.definition(session, case.definition_id).catalogue.get(task.bpmn_id, {}) if task else {}
        client_code = session.execute(select(Client.client_code).where(Client.id == case.client_id)).scalar() \
            if case.client_id else data.get("client_code")
        names = dict(session.execute(select(User.id, User.display_name)
                                     .where(User.id.in_({i for i in (case.caseworker_id,) if i}))).all())
        producer = session.execute(select(User.display_name).where(User.id == actor.id)).scalar() or actor.username
        latest = session.execute(select(CaseDocument.version, CaseDocument.source_hash, CaseDocument.id)
                                 .where(CaseDocument.case_id == case_id, CaseDocument.document_key == document_key,
                                        CaseDocument.kind == PRODUCED)
                                 .order_by(CaseDocument.version.desc()).limit(1)).first()
    at = clock.now()
    case_facts = {"id": case.id, "client_code": client_code or "", "process": case.process_key,
                  "started_on": render.show_date(local_date(case.started_at), lang),
                  "caseworker": names.get(case.caseworker_id, "") if case.caseworker_id else ""}
    step = None
    if task is not None:
        name = f"{task.step} {meta['name_en']}" if lang == "en" and meta.get("name_en") else task.name
        step = {"id": task.bpmn_id, "number": task.step, "name": name,
                "due_on": render.show_date(local_date(task.due_at), lang) if task.due_at else None}
    fields = {name: data.get(name) for name in [*declaration["fields"], *(declaration.get("logs") or {})]}
    source = hashlib.sha256(audit.canonical([declaration, templates, fields, case_facts, step, lang])
                            .encode("utf-8")).hexdigest()
    if latest is not None and latest.source_hash == source:
        with runtime.db.reading() as session:
            kept = session.execute(select(*_LISTED).where(CaseDocument.id == latest.id)).one()
            by_names = _display_names(session, {kept.produced_by})
        return {**_row(kept, {document_key: declaration["title"]}, by_names),  # type: ignore[arg-type]
                "created": False}
    version = (latest.version if latest is not None else 0) + 1
    context = render.context(declaration, lang, version=version, produced_at=at, produced_by=producer,
                             service_name=(declaration.get("service_name") or {}).get(lang, ""),
                             service_key=case.process_key, case=case_facts,
                             caseworker_title=(declaration.get("caseworker_title") or {}).get(lang, ""),
                             step=step, data=fields)
    try:
        page = render.html(templates, declaration["template"], context, declaration["schemas"], lang)
    except render.TemplateFailed as e:
        where = f" (documents/{e.file}:{e.line})" if e.file else ""
        raise ValidationFailed(f"document '{document_key}' could not be filled from this case: {e.message}{where}",
                               [{"field": "document", "message": e.message}]) from None
    content = render.pdf(page, f"{declaration['title'][lang]} – {client_code or case.id}")
    file_name = f"{document_key}-{case.id}-v{version}.pdf"
    with runtime.db.unit_of_work() as session:
        locked = runtime.lock_case(session, case_id)
        authorised_case(session, actor, case_id)
        now_latest = _latest_version(session, case_id, document_key, PRODUCED)
        if now_latest + 1 != version:
            raise Conflict(f"version {now_latest} of document '{document_key}' was produced at the same moment by "
                           "someone else; produce it again to make the next one")
        row = _store(session, locked, actor, at, document_key, PRODUCED, version, lang, "application/pdf",
                     file_name, content, task, source, {"title": declaration["title"]})
    return {**row, "title": declaration["title"], "created": True}


def log_rows(session, case_id: int, form: str) -> list[dict]:
    """Every completed step of the case whose form is ``form``, oldest first, each with the values that step
    recorded (its ``task_completed`` audit event) and its step, day and recorder: a log of every visit of a
    process whose form is emptied after each one (docs/documents.md, "Logs of steps")."""
    tasks = session.execute(select(HumanTask).where(HumanTask.case_id == case_id, HumanTask.state == "completed")
                            .order_by(HumanTask.completed_at, HumanTask.id)).scalars().all()
    tasks = [t for t in tasks if (t.form_file or "").rsplit("/", 1)[-1] == form]
    if not tasks:
        return []
    recorded = {e.task_id: audit.readable(session, e.payload) for e in session.execute(
        select(AuditEvent).where(AuditEvent.case_id == case_id, AuditEvent.kind == audit.TASK_COMPLETED,
                                 AuditEvent.task_id.in_([t.id for t in tasks]))).scalars()}
    return [{**((recorded.get(t.id) or {}).get("after") or {}), "step": t.step,
             "completed_on": local_date(t.completed_at).isoformat() if t.completed_at else None,
             "completed_by": t.completed_by} for t in tasks]


def _latest_version(session, case_id: int, document_key: str, kind: str) -> int:
    return session.execute(select(func.max(CaseDocument.version))
                           .where(CaseDocument.case_id == case_id, CaseDocument.document_key == document_key,
                                  CaseDocument.kind == kind)).scalar() or 0


def _store(session, case: Case, actor: Actor, at, document_key: str, kind: str, version: int, lang: str | None,
           media_type: str, file_name: str, content: bytes, task: HumanTask | None, source: str | None,
           extra: dict) -> dict:
    digest = hashlib.sha256(content).hexdigest()
    row = CaseDocument(case_id=case.id, task_id=task.id if task else None, step=task.step if task else None,
                       bpmn_id=task.bpmn_id if task else None, document_key=document_key, kind=kind,
                       version=version, language=lang, media_type=media_type, file_name=file_name,
                       size=len(content), sha256=digest, source_hash=source,
                       content=keys.seal(session, case.data_key_id, content, keys.DOCUMENT) if case.data_key_id
                       else content,
                       produced_by=actor.username, produced_at=at)
    session.add(row)
    session.flush()
    events = audit.CaseAudit(case, actor.username, at)
    events.add(audit.DOCUMENT_PRODUCED if kind == PRODUCED else audit.DOCUMENT_UPLOADED,
               {"document": document_key, "version": version, "kind": kind, "language": lang,
                "media_type": media_type, "size": len(content), "sha256": digest, "document_id": row.id,
                "step": task.step if task else None, **extra}, task_id=task.id if task else None)
    events.flush(session)
    return _row(row, {}, {actor.username: actor.display_name})


def sniff(content: bytes) -> tuple[str, str]:
    """(media type, file extension) of a signed copy, from its content; refused when it is none of them."""
    if not content:
        raise FileRefused("the file is empty; choose the scanned or photographed signed copy",
                          [{"field": "file", "message": "empty"}])
    if len(content) > MAX_UPLOAD_BYTES:
        raise FileTooLarge(f"the file is {len(content)} bytes, more than the {MAX_UPLOAD_BYTES // (1024 * 1024)} MiB "
                           "a signed copy may be", [{"field": "file", "message": "too large"}])
    for magic, media_type, ext in SIGNATURES:
        if content.startswith(magic):
            if media_type == "application/pdf" and b"%%EOF" not in content[-2048:]:
                raise FileRefused("the PDF is cut short (it has no end marker); upload the whole file",
                                  [{"field": "file", "message": "an incomplete PDF"}])
            return media_type, ext
    raise FileRefused("a signed copy must be a PDF, PNG or JPEG file; this file's content is none of them, whatever "
                      "its name says", [{"field": "file", "message": "not a PDF, PNG or JPEG"}])


def _safe_name(name: str | None) -> str:
    name = unicodedata.normalize("NFC", (name or "").replace("\\", "/").rsplit("/", 1)[-1])
    return _UNSAFE_NAME.sub("_", name).strip()[:120]


def upload(runtime: Runtime, case_id: int, document_key: str, content: bytes, actor: Actor,
           file_name: str | None = None, task_id: int | None = None) -> dict:
    """A signed copy of one of the case's documents, attached to the step ``task_id`` (or to the case), kept as
    that document's next signed version. Its type is read from its content."""
    input_check.check_id("case", case_id)
    input_check.check_text("document", document_key)
    media_type, ext = sniff(content)
    at = clock.now()
    with runtime.db.unit_of_work() as session:
        case = runtime.lock_case(session, case_id)
        authorised_case(session, actor, case_id)
        _require_names(actor, case)
        found, _templates = _declarations(session, case)
        declaration = _find(found, case_id, document_key)
        task = _task_of_case(session, case_id, task_id) if task_id is not None else None
        _check_offered(declaration, task)  # as producing does: a step keeps only the copies of its own documents
        version = _latest_version(session, case_id, document_key, SIGNED) + 1
        stored_name = f"{document_key}-{case_id}-signed-v{version}.{ext}"
        row = _store(session, case, actor, at, document_key, SIGNED, version, None, media_type, stored_name,
                     content, task, None, {"title": declaration["title"], "uploaded_name": _safe_name(file_name)})
    return {**row, "title": declaration["title"]}


def download(runtime: Runtime, case_id: int, document_id: int, actor: Actor, via: str = "web") -> tuple[dict, bytes]:
    """One stored version's description and bytes; the download is an audit event of the case."""
    input_check.check_id("case", case_id)
    input_check.check_id("document", document_id)
    at = clock.now()
    with runtime.db.unit_of_work() as session:
        case = runtime.lock_case(session, case_id)
        authorised_case(session, actor, case_id)
        _require_names(actor, case)
        row = session.get(CaseDocument, document_id)
        if row is None or row.case_id != case_id:
            raise NotFound(f"case {case_id} has no document {document_id}")
        found, _templates = _declarations(session, case)
        described = _row(row, {d["id"]: d["title"] for d in found}, _display_names(session, {row.produced_by}))
        content = keys.open_sealed(session, bytes(row.content), keys.DOCUMENT)  # sealed under the case's key
        events = audit.CaseAudit(case, actor.username, at)
        events.add(audit.DOCUMENT_DOWNLOADED, {"document": row.document_key, "title": described["title"],
                                               "version": row.version, "kind": row.kind, "document_id": row.id,
                                               "via": via}, task_id=row.task_id)
        events.flush(session)
    return described, content
