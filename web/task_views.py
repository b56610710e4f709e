"""The task page: one step's grouped form, its documentation, and the commands on it.

GET  /tasks/<id>           the page (read-only when the task is done or not the user's to work on)
POST /tasks/<id>/complete  engine.cases.tasks.complete; refused → the page again, every error at its field, input kept
POST /tasks/<id>/draft     engine.cases.tasks.save_draft; the page resumes from it
POST /tasks/<id>/rows      add or remove a row without JavaScript (form.js does it in the page): nothing saved
GET|POST /cases/<id>/entries/<field>/<row>/correct   correct a row recorded at an earlier step (an append-only
                           block, engine.cases.entry_corrections): the old value stays in the entry and the history

Who may see or do what is the engine's to decide (engine/people/access.py); its Forbidden becomes a 403 page.
"""
from __future__ import annotations

import re

from babel.numbers import format_decimal
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _

from engine.audit import audit_log
from engine.cases import cases, consent, entry_corrections, tasks
from engine.errors import Conflict, ExpressionRefused, Forbidden, NotFound, ValidationFailed
from engine.forms import input_check, review

from . import form_errors, form_parse, form_render, limit_warnings
from .auth import logged_in_actor, login_required, runtime
from .labels import process_name
from .review_panel import review_panel

bp = Blueprint("tasks", __name__)

_STEP_PREFIX = re.compile(r"^\d+(?:\.\d+)*\.?\s+")
_CORRECT = re.compile(r"^(\w+)/(\d{1,6})$")


def _locale() -> str:
    locale = get_locale()
    return locale.language if locale is not None and locale.language in ("hu", "en") else "hu"


@bp.app_template_filter("amount")
def amount(value) -> str:
    """A forint amount as the language writes it (Hungarian: 102 400,5); "—" for none."""
    if value is None or value == "":
        return "—"
    try:
        return format_decimal(value, format="#,##0.##", locale=_locale())
    except (TypeError, ValueError, ArithmeticError):
        return str(value)


def _documentation(text: str, locale: str) -> str:
    """The step's description in the user's language, from the BPMN documentation's "Leírás:"/"Description:"."""
    wanted = "Description:" if locale == "en" else "Leírás:"
    for line in (text or "").splitlines():
        if line.strip().startswith(wanted):
            found = line.split(":", 1)[1].strip()
            # "—" marks a step the programme standard gives no description for: nothing to show.
            return "" if found.startswith("—") else found
    return ""


def _heading(task: dict, locale: str) -> dict:
    name = task.get("name_en") if locale == "en" else task.get("name")
    name = _STEP_PREFIX.sub("", name or task.get("name") or task.get("bpmn_id") or "")
    documents = task.get("documents") if locale == "en" else task.get("documents_hu")
    step = task.get("step") or ""
    # The intake's step is "intake", not a number: the page shows its name only.
    return {"step": step if step[:1].isdigit() else "", "name": name,
            "documents": documents or task.get("documents") or [],
            "description": _documentation(task.get("documentation", ""), locale)}


def _can_work(task: dict, actor) -> bool:
    return task["state"] == "ready" and task["role"] in actor.role_codes \
        and task["assignee_id"] in (None, actor.id)


def _case_facts(task: dict, actor, reviewed: bool = False) -> dict:
    """The case's client code and caseworker and, for a finished task or one that shows earlier data for review
    (``x-review``), what the case now holds."""
    try:
        case = cases.get_case(runtime(), task["case_id"], actor, with_data=task["state"] != "ready" or reviewed)
    except (Forbidden, NotFound):
        return {"client_code": None, "caseworker_id": None, "data": {}}
    return {"client_code": (case.get("client") or {}).get("client_code"), "caseworker_id": case["caseworker_id"],
            "definition_id": case.get("definition_id"), "data": case.get("data") or {}}


def _page(task_id: int, *, values=None, details=None, status: int = 200, alert: str | None = None,
          read_only: bool | None = None, log_view: bool = False, consent_link: str | None = None):
    actor = logged_in_actor()
    task = tasks.get_task(runtime(), task_id, actor)
    if log_view:  # opening a client's file is itself an audit event (docs/web.md); re-renders after a POST are not
        audit_log.record_view(runtime(), actor, task["case_id"], task_id=task_id, via="web")
    locale = _locale()
    schema = task.get("form") or {"type": "object", "properties": {}}
    facts = _case_facts(task, actor, reviewed=bool(review.groups(schema)))
    can_work = _can_work(task, actor)
    if read_only is None:
        read_only = not can_work
    if values is None:
        if task["state"] == "ready":
            values = task.get("values") or {}
        else:
            values = {k: v for k, v in facts["data"].items() if k in (schema.get("properties") or {})}
            for name in ("total_income", "per_capita_income"):
                if name in facts["data"]:
                    values[name] = facts["data"][name]
    placed = form_errors.place(details or [], schema, values, locale)
    model = form_render.build(schema, values, placed, locale=locale, read_only=read_only,
                              carried=task.get("carried"))
    correct_url = ""
    if task.get("carried") and can_work and not read_only:
        # "Correct this entry" saves what was typed as a draft first, then opens the correction page.
        correct_url = url_for("tasks.draft", task_id=task_id, correct="__FIELD__/__ROW__")
    return render_template("task.html", task=task, head=_heading(task, locale), model=model, can_work=can_work,
                           documents=_documents(task, actor),
                           client_code=facts["client_code"], alert=alert, locale=locale,
                           review=review_panel(task, schema, facts),
                           rows_url=url_for("tasks.rows", task_id=task_id), correct_url=correct_url,
                           stored_values=task["state"] != "ready", consent_link=consent_link), status


def _consent_refused(task_id: int, data: dict, err: consent.ConsentRequired, what: str):
    """A step of a consent-based process while no consent is in force: why, and where to record it."""
    detail = (err.details or [{}])[0]
    code = detail.get("code")
    why = {"consent_withdrawn": _("the client withdrew their data-processing consent"),
           "consent_expired": _("the client's data-processing consent has expired")}.get(
        str(code), _("no data-processing consent of the client is on record"))
    alert = _("%(what)s: %(why)s, so no personal data may be recorded. Record the client's signed statement on "
              "the case page, under “Data-processing consent”, then try again; what you typed is kept below.",
              what=what, why=why)
    link = url_for("cases.show", case_id=detail.get("case_id")) + "#consent" if detail.get("case_id") else None
    return _page(task_id, values=data, status=422, alert=alert, consent_link=link)


def _documents(task: dict, actor) -> dict | None:
    """The step's documents (web/document_views.py), for whoever may see the case; none for anyone else."""
    from .document_views import panel

    try:
        return panel(task["case_id"], task["task_id"])
    except (Forbidden, NotFound):
        return None


@bp.get("/tasks/<int:task_id>")
@login_required
def show(task_id: int):
    return _page(task_id, log_view=True)


def _posted(task_id: int) -> tuple[dict, dict]:
    task = tasks.get_task(runtime(), task_id, logged_in_actor())
    schema = task.get("form") or {"type": "object", "properties": {}}
    data = form_parse.parse(schema, request.form)
    # The page never sends the rows recorded at earlier steps (they are not inputs): the block is the case's
    # rows as the engine has them now, then the new ones typed here.
    for field, carried in (task.get("carried") or {}).items():
        if carried:
            typed = data.get(field)
            data[field] = [e["row"] for e in carried] + (typed if isinstance(typed, list) else [])
    return schema, data


def _next_url(case_id: int) -> str:
    """The next task of the same case when it is this user's to do, else the inbox."""
    actor = logged_in_actor()
    try:
        case = cases.get_case(runtime(), case_id, actor, with_data=False)
    except (Forbidden, NotFound):
        return url_for("inbox.index")
    for t in case["current_tasks"]:
        if t["assignee_id"] == actor.id or (t["assignee_id"] is None and t["role"] in actor.role_codes):
            return url_for("tasks.show", task_id=t["task_id"])
    return url_for("inbox.index")


@bp.post("/tasks/<int:task_id>/complete")
@login_required
def complete(task_id: int):
    _schema, data = _posted(task_id)
    try:
        result = tasks.complete(runtime(), task_id, data, logged_in_actor())
    except consent.ConsentRequired as err:
        return _consent_refused(task_id, data, err, _("Nothing was saved"))
    except ValidationFailed as err:
        return _page(task_id, values=data, details=err.details, status=422,
                     alert=_("Nothing was saved: please correct the fields marked below."))
    except Conflict:
        return _page(task_id, values=data, status=409, read_only=True,
                     alert=_("Someone else completed or changed this step first, so nothing of yours was saved. "
                             "What you typed is shown below; the case page shows where it stands now."))
    except ExpressionRefused as err:  # the process definition is at fault: keep what was typed
        return _page(task_id, values=data, status=422,
                     alert=_("Nothing was saved: the process stopped at a faulty step after this one. What you "
                             "typed is kept below (you can save it as a draft); tell the process designer: "
                             "%(reason)s", reason=err.message))
    for warning in result.get("warnings", ()):  # e.g. a family-care follow-up making a 31st client
        flash(limit_warnings.say(warning), "warning")
    for linked in result.get("started_cases", ()):  # a choice on the form started a case (x-starts-case)
        flash(_("A linked case was started for the same client: #%(id)d %(process)s.", id=linked["case_id"],
                process=process_name(linked["process_key"])), "info")
    if result["case_status"] == "completed":
        flash(_("The step is done and the case is closed."), "info")
    elif result["next_tasks"]:
        nxt = result["next_tasks"][0]
        flash(_("The step is done. Next: %(step)s %(name)s.", step=nxt["step"] or "",
                name=_STEP_PREFIX.sub("", nxt["name"] or "")), "info")
    else:
        flash(_("The step is done."), "info")
    return redirect(_next_url(result["case_id"]))


@bp.post("/tasks/<int:task_id>/hand-out")
@login_required
def hand_out(task_id: int):
    """Complete an anonymous questionnaire's step by handing it to the client: a one-time link, shown once, to
    answer on their own device (docs/forms.md, "Handing a questionnaire to the client")."""
    try:
        result = tasks.complete(runtime(), task_id, {}, logged_in_actor(), hand_out=True)
    except Conflict:
        return _page(task_id, status=409, read_only=True,
                     alert=_("Someone else completed or changed this step first, so nothing of yours was saved. "
                             "What you typed is shown below; the case page shows where it stands now."))
    link = result["hand_out"]
    url = url_for("survey.show", token=link["token"], _external=True)
    return render_template("survey/handed_out.html", url=url, expires_on=link["expires_on"],
                           case_id=result["case_id"], next_url=_next_url(result["case_id"]))


@bp.post("/tasks/<int:task_id>/draft")
@login_required
def draft(task_id: int):
    _schema, data = _posted(task_id)
    try:
        tasks.save_draft(runtime(), task_id, data, logged_in_actor())
    except consent.ConsentRequired as err:
        return _consent_refused(task_id, data, err, _("The draft was not saved"))
    except ValidationFailed as err:
        return _page(task_id, values=data, details=err.details, status=422,
                     alert=_("The draft was not saved: please correct the fields marked below."))
    except Conflict:
        return _page(task_id, values=data, status=409, read_only=True,
                     alert=_("Someone else completed or changed this step first, so the draft was not saved."))
    entry = _CORRECT.match(request.args.get("correct", ""))
    if entry:  # on the way to correcting a carried row: the typing is kept in the draft meanwhile
        case_id = tasks.get_task(runtime(), task_id, logged_in_actor())["case_id"]
        return redirect(url_for("tasks.correct_entry", case_id=case_id, field=entry.group(1),
                                row=int(entry.group(2)), task=task_id))
    flash(_("Draft saved. You can continue it later from the inbox."), "info")
    return redirect(url_for("tasks.show", task_id=task_id))


def task_carried(task_id: int) -> dict:
    return tasks.get_task(runtime(), task_id, logged_in_actor()).get("carried") or {}


def _at(data, path: list[str]):
    for part in path:
        index = input_check.whole_number(part, 6)
        if isinstance(data, list) and index is not None and index < len(data):
            data = data[index]
        elif isinstance(data, dict):
            data = data.setdefault(part, [])
        else:
            return None
    return data


@bp.post("/tasks/<int:task_id>/rows")
@login_required
def rows(task_id: int):
    """Without JavaScript: the page again with a row added to, or removed from, a repeatable block."""
    _schema, data = _posted(task_id)
    add, remove = request.form.get("_add", ""), request.form.get("_remove", "")
    if add:
        block = _at(data, add.split("-"))
        if isinstance(block, list):
            block.append({})
    elif remove:
        *parent, index = remove.split("-")
        block = _at(data, parent)
        # A row recorded at an earlier step has no remove button; a crafted one removes nothing.
        kept = len((task_carried(task_id) or {}).get(parent[0], [])) if len(parent) == 1 else 0
        row = input_check.whole_number(index, 6)
        if isinstance(block, list) and row is not None and kept <= row < len(block):
            del block[row]
    return _page(task_id, values=data)


def _entry_page(case_id: int, field: str, row: int, *, values=None, details=None, status: int = 200):
    entry = entry_corrections.show(runtime(), case_id, field, row, logged_in_actor())
    locale = _locale()
    schema = entry["block"].get("items") or {"type": "object", "properties": {}}
    values = entry["row"] if values is None else values
    # The engine names the row in the whole block ("actions/2/date"); the page holds that one row.
    prefix = f"{field}/{row}/"
    details = [{**d, "field": d["field"][len(prefix):] if d.get("field", "").startswith(prefix) else "(form)"}
               for d in details or [] if d.get("field") != "reason"]
    placed = form_errors.place(details, schema, values, locale)
    model = form_render.build(schema, values, placed, locale=locale)
    back = request.values.get("task", type=int) or request.values.get("_task", type=int)
    return render_template("entry_correction.html", entry=entry, model=model, locale=locale,
                           block_label=form_render.text(entry["block"].get("x-label"), locale) or field,
                           reason=request.form.get("_reason", ""), task_id=back,
                           back_url=url_for("tasks.show", task_id=back) if back
                           else url_for("cases.show", case_id=case_id)), status


@bp.route("/cases/<int:case_id>/entries/<field>/<int:row>/correct", methods=["GET", "POST"])
@login_required
def correct_entry(case_id: int, field: str, row: int):
    """Correct one row recorded at an earlier step: the new value replaces it, the old one stays in the history."""
    if request.method == "GET":
        return _entry_page(case_id, field, row)
    entry = entry_corrections.show(runtime(), case_id, field, row, logged_in_actor())
    schema = entry["block"].get("items") or {"type": "object", "properties": {}}
    posted = form_parse.parse(schema, request.form)  # the page's own inputs (_reason, _task) start with "_"
    reason = (request.form.get("_reason") or "").strip() or None
    try:
        entry_corrections.correct(runtime(), case_id, field, row, posted, logged_in_actor(), reason)
    except ValidationFailed as err:
        return _entry_page(case_id, field, row, values=posted, details=err.details, status=422)
    flash(_("The entry was corrected. Its earlier value is kept in the case history."), "info")
    back = request.form.get("_task", type=int)
    return redirect(url_for("tasks.show", task_id=back) if back else url_for("cases.show", case_id=case_id))
