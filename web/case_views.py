"""Cases: my cases, starting one, and the case page (client, current steps, case log, timeline, diagram)."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from werkzeug.exceptions import BadRequest

from engine.audit import audit_log
from engine.cases import case_view, cases, consent
from engine.errors import ConfirmationNeeded
from engine.people import access
from engine.store import clock
from engine.store.models import User

from . import audit_text, bpmn_source, limit_warnings
from .auth import current_actor, logged_in_actor, login_required, runtime
from .catalogue_views import bpmn_response, steps_of
from .document_views import panel
from .i18n import gettext as _
from .labels import bilingual, field_schema, option_label, process_name, step_name, text, view_of

cases_bp = Blueprint("cases", __name__)

PAGE_SIZE = 25
TIMELINE_SHOWN = 40  # the newest; the whole history is one link away
STATUSES = ("running", "completed", "failed")


def _page() -> int:
    try:
        return max(int(request.args.get("page", 1)), 1)
    except ValueError:
        raise BadRequest("page must be a whole number") from None


@cases_bp.get("/cases")
@login_required
def index():
    status = request.args.get("status") if request.args.get("status") in STATUSES else None
    page = _page()
    rows = cases.list_cases(runtime(), current_actor(), status=status, limit=PAGE_SIZE + 1,
                            offset=(page - 1) * PAGE_SIZE)
    return render_template("cases.html", rows=rows[:PAGE_SIZE], has_next=len(rows) > PAGE_SIZE, page=page,
                           status=status, process_name=process_name,
                           startable=cases.startable(runtime(), logged_in_actor()))


@cases_bp.get("/cases/new")
@login_required
def new():
    """Starting a case is asked for on a page of its own and confirmed there, so a misclick on a start button
    leaves no empty case behind. The processes offered are those the user's roles may start."""
    process_key = request.args.get("process_key", "")
    offered = {p["process_key"]: p for p in cases.startable(runtime(), logged_in_actor())}
    if process_key not in offered:
        raise BadRequest(f"process_key: you may start none called {process_key!r}; you may start: "
                         + (", ".join(offered) or "none"))
    return render_template("start_case.html", process=offered[process_key],
                           process_label=process_name(process_key),
                           client_code=(request.args.get("client_code") or "").strip())


@cases_bp.post("/cases/start")
@login_required
def start():
    process_key = request.form.get("process_key", "")
    client_code = (request.form.get("client_code") or "").strip() or None
    confirm = request.form.get("confirm") == "1"
    try:
        started = cases.start_case(runtime(), process_key, current_actor(), client_code, confirm=confirm)
    except ConfirmationNeeded as e:
        # The client already has an open case of a process that expects one: ask, naming the open case(s).
        open_cases = next((d.get("open_cases") for d in e.details if d.get("open_cases")), [])
        return render_template("confirm_start.html", process_key=process_key, client_code=client_code,
                               process=process_name(process_key), open_cases=open_cases), 409
    for warning in started.get("warnings", ()):  # e.g. a 31st follow-up client (engine.timers.caseload)
        flash(limit_warnings.say(warning), "warning")
    case = cases.get_case(runtime(), started["case_id"], current_actor(), with_data=False)
    from .app import task_url

    mine = [t for t in case["current_tasks"] if access_ok(t)]
    if mine:
        return redirect(task_url(mine[0]["task_id"]))
    return redirect(url_for("cases.show", case_id=started["case_id"]))


def access_ok(task: dict) -> bool:
    actor = logged_in_actor()
    return task["role"] in actor.role_codes and task["assignee_id"] in (None, actor.id)


def _user_names(ids) -> dict:
    """The display names of the users ``ids`` only: reading every user for each page grew with the service."""
    wanted = sorted({i for i in ids if isinstance(i, int)})
    if not wanted:
        return {}
    with runtime().db.reading() as session:
        return {r.id: r.display_name
                for r in session.execute(select(User.id, User.display_name).where(User.id.in_(wanted)))}


def _assignees(events: list[dict]) -> set:
    """Who the events name as assignee (claims and releases), before or after."""
    found = set()
    for ev in events:
        payload = ev.get("payload") or {}
        for side in (payload.get("before"), payload.get("after")):
            if isinstance(side, dict) and side.get("assignee_id") is not None:
                found.add(side["assignee_id"])
    return found


def timeline(view, events: list[dict], names: dict | None = None, collapse: bool = True) -> list[dict]:
    """The events as read on the case page, oldest first; consecutive views by one person collapse into one
    entry unless ``collapse`` is false. ``names``: display names by user id (read here when not given)."""
    if names is None:
        names = _user_names(_assignees(events))
    items = [audit_text.present(view, ev, names) for ev in events]
    return audit_text.collapse_views(items) if collapse else items


def case_log(view, data: dict) -> dict:
    """Meetings (fields 47–49) and actions (50–51) as recorded in the case data, newest first; only those the
    process's forms have (a process without such a log shows none)."""
    result = {}
    for key in ("meetings", "actions"):
        schema = field_schema(view, key)
        if schema is None:
            continue
        item_props = (schema.get("items") or {}).get("properties") or {}
        entries = [e for e in (data.get(key) or []) if isinstance(e, dict)]
        rows = []
        for entry in sorted(entries, key=lambda e: str(e.get("date") or ""), reverse=True):
            place = entry.get("place")
            place_text = option_label(item_props.get("place"), place) if place else ""
            if place == "other" and entry.get("place_other"):
                place_text = f"{place_text} {entry['place_other']}"
            rows.append({"date": entry.get("date"), "place": place_text, "log": entry.get("log") or ""})
        result[key] = {"label": text(schema.get("x-label"), key), "rows": rows,
                       "columns": {k: text(p.get("x-label"), k) for k, p in item_props.items()}}
    return result


def _diagram_steps(view, case: dict) -> list[dict]:
    """The process's steps with where the case stands at each: the diagram's text for those who do not see it."""
    current, done = set(case["current"]), set(case["done"])
    return [{"label": s["name"] if not s["step"] or (s["name"] or "").startswith(s["step"])
             else f"{s['step']} {s['name']}",
             "state": "current" if s["bpmn_id"] in current else "done" if s["bpmn_id"] in done else "todo"}
            for s in steps_of(view)]


@cases_bp.get("/cases/<int:case_id>/diagram.bpmn")
@login_required
def diagram(case_id):
    """The BPMN of the case's own version for the case page's viewer: readable by those who may read the case
    (refused and logged as the page is); the viewing itself is logged once, by the page."""
    with runtime().db.reading() as session:
        definition_id = cases.authorised_case(session, current_actor(), case_id).definition_id
    return bpmn_response(view_of(definition_id))


@cases_bp.get("/cases/<int:case_id>")
@login_required
def show(case_id):
    actor = current_actor()
    rt = runtime()
    case = case_view.case_page(rt, case_id, actor)  # refuses (403, audited) a case that is not the actor's
    audit_log.record_view(rt, actor, case_id, via="web")  # opening a client's file is itself logged (docs/web.md)
    view = view_of(case["definition_id"])
    marks = {"current": case["current"], "done": case["done"], "taken": bpmn_source.flow_ids(view, case["flows"])}
    for task in case["current_tasks"]:
        task["label"] = step_name(task, view)
        task["workable"] = access_ok(task)
        task["claimable"] = task["assignee_id"] is None and task["role"] in actor.role_codes
    data = case.get("data") or {}
    # A registered client's next processes: those this user may start whose manifest says they start from a
    # client registered by this case's process (``start.from``, docs/services.md).
    follow_ons = [p for p in cases.startable(rt, actor) if p["starts_from"] == case["process_key"]] \
        if case["status"] == "completed" and case.get("client") else []
    waits = [{**t, "name": bilingual(t["label"]) if t["label"] else _("a deadline")} for t in case["timers"]]
    events = case["history"]
    shown = events if request.args.get("history") == "all" else events[-TIMELINE_SHOWN:]
    every_view = request.args.get("views") == "all"  # the uncollapsed list, one click from a collapsed entry
    # One read of the names the page shows: its steps' assignees and those the timeline names.
    names = _user_names({t["assignee_id"] for t in case["current_tasks"]} | _assignees(shown))
    entries = timeline(view, shown, names, collapse=not every_view)
    return render_template("case.html", case=case, marks=marks, diagram_steps=_diagram_steps(view, case),
                           events=list(reversed(entries)), every_view=every_view,
                           events_total=len(events), events_hidden=len(events) - len(shown),
                           log=case_log(view, data), process=process_name(case["process_key"]), names=names,
                           follow_ons=follow_ons, process_name=process_name, waits=waits,
                           overseer=bool(actor.role_codes & access.OVERSEERS), documents=panel(case_id),
                           consent=consent.for_case(rt, actor, case_id), now=clock.now())
