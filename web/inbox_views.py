"""The inbox: my tasks and my roles' unclaimed ones, filtered and paged; claim and release."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.exceptions import BadRequest

from engine.cases import tasks
from engine.people import users

from .auth import current_actor, login_required, runtime
from .catalogue_views import step_choices
from .labels import latest_views, process_name, step_name

inbox = Blueprint("inbox", __name__)

PAGE_SIZE = 25
CLOSURES_SHOWN = 10  # the oldest; all of them are in the list below (group "waiting for my role")
GROUPS = ("mine", "unclaimed")
DUES = ("overdue", "today", "week", "none")


def _page() -> int:
    try:
        page = int(request.args.get("page", 1))
    except ValueError:
        raise BadRequest("page must be a whole number") from None
    return max(page, 1)


@inbox.get("/")
def home():
    return redirect(url_for("inbox.index"))


@inbox.get("/inbox")
@login_required
def index():
    actor = current_actor()
    group = request.args.get("group") if request.args.get("group") in GROUPS else None
    due = request.args.get("due") if request.args.get("due") in DUES else None
    filters = {"process": request.args.get("process") or None, "step": request.args.get("step") or None,
               "client": (request.args.get("client") or "").strip() or None}
    page = _page()
    box = tasks.inbox(runtime(), actor, process_key=filters["process"], step=filters["step"],
                      client_code=filters["client"], group=group, due=due, limit=PAGE_SIZE,
                      offset=(page - 1) * PAGE_SIZE)
    closures = None
    if users.PROFESSIONAL_LEAD in actor.role_codes:
        # The lead's queue is the closures waiting for agreement (3.8 and 3.11 agree steps).
        closures = tasks.inbox(runtime(), actor, role=users.PROFESSIONAL_LEAD, group="unclaimed",
                               limit=CLOSURES_SHOWN)
    pages = max(1, -(-box["total"] // PAGE_SIZE))
    args = {k: v for k, v in {**filters, "group": group, "due": due}.items() if v}
    return render_template("inbox.html", box=box, closures=closures, group=group, due=due, filters=filters,
                           page=page, pages=pages, args=args, steps=step_choices(), step_name=step_name,
                           process_label=process_name,
                           processes=[(key, process_name(key)) for key in sorted(latest_views())])


def _back():
    target = request.form.get("next") or ""
    return redirect(target if target.startswith("/") and not target.startswith("//") else url_for("inbox.index"))


@inbox.post("/inbox/tasks/<int:task_id>/claim")
@login_required
def claim(task_id):
    tasks.claim(runtime(), task_id, current_actor())
    flash(_("The task is yours now."), "info")
    return _back()


@inbox.post("/inbox/tasks/<int:task_id>/release")
@login_required
def release(task_id):
    tasks.release(runtime(), task_id, current_actor())
    flash(_("The task is back in the queue of its role."), "info")
    return _back()
