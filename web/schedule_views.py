"""Follow-up scheduling pages: a mentor's agenda and calendar feed, the manager's caseload, the scheduler."""
from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from engine.cases import agenda as agenda_service
from engine.people import users
from engine.people.access import OVERSEERS
from engine.timers import caseload, timers

from .auth import current_actor, logged_in_actor, login_required, roles_required, runtime
from .labels import step_name

schedule = Blueprint("schedule", __name__)


@schedule.get("/agenda")
@roles_required(users.CASEWORKER)
def agenda():
    try:
        weeks = max(1, min(int(request.args.get("weeks", 4)), 26))
    except ValueError:
        weeks = 4
    actor = logged_in_actor()
    # The link is always on the page: a mentor without one (or with one made before links were kept) gets one.
    token = agenda_service.feed_token(runtime(), actor)
    data = agenda_service.agenda(runtime(), actor, days=7 * weeks)
    for day in data["by_day"]:
        for item in day["items"]:
            if item.get("bpmn_id"):  # a waiting task: its step's name in the user's language
                item["label"] = step_name({"name": item["label"], "bpmn_id": item["bpmn_id"]})
    return render_template("schedule/agenda.html", agenda=data, weeks=weeks,
                           feed_url=url_for("schedule.calendar_feed", token=token, _external=True))


@schedule.post("/agenda/feed")
@roles_required(users.CASEWORKER)
def new_feed():
    agenda_service.new_feed_token(runtime(), logged_in_actor())
    flash(_("A new calendar link was made; the old link no longer works. Update it in your calendar app."),
          "success")
    return redirect(url_for("schedule.agenda") + "#feed-title")


@schedule.get("/calendar/<token>.ics")
def calendar_feed(token: str):
    """No session: the secret in the URL is the credential, so a calendar app can subscribe."""
    text = agenda_service.feed(runtime(), token)
    if text is None:
        abort(404)
    response = Response(text, mimetype="text/calendar")
    response.headers["Content-Disposition"] = 'inline; filename="segito.ics"'
    return response


@schedule.get("/caseload")
@roles_required(users.MANAGER, *OVERSEERS)
def caseload_page():
    return render_template("schedule/caseload.html", caseloads=caseload.overview(runtime(), current_actor()))


@schedule.get("/admin/scheduler")
@roles_required(users.ADMINISTRATOR)
def scheduler():
    return render_template("schedule/scheduler.html", view=timers.overview(runtime(), current_actor()))


@schedule.post("/admin/scheduler/timers/<int:timer_id>/retry")
@login_required
def retry(timer_id: int):
    timers.retry_incident(runtime(), timer_id, logged_in_actor())
    flash(_("Timer %(id)d is queued again.", id=timer_id), "success")
    return redirect(url_for("schedule.scheduler"))
