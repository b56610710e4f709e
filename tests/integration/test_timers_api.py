"""The follow-up scheduling API (docs/timers.md): a mentor's agenda, the administrator's scheduler and the retry of an
incident — every answer checked against the OpenAPI document, and who may call what."""
from __future__ import annotations

import datetime as dt

import pytest

from engine.cases import cases
from engine.people import users
from engine.store import clock
from engine.timers import timers
from web.app import create_app

from ..conftest import _password_hash
from .test_api import Api, conforms
from .test_timers import TIMER_PROBE, _start, flaky  # noqa: F401  (flaky: a fixture)
from .timer_helpers import local, start_follow_up, timer_rows


@pytest.fixture
def api(runtime, people):
    with runtime.db.unit_of_work() as session:  # an administrator who can log in over HTTP Basic
        users.create_user(session, "root", "Root", [users.ADMINISTRATOR], None, "test", clock.now(),
                          password_hash=_password_hash("root"))
    return Api(create_app(runtime, {"TESTING": True}).test_client())


def test_a_mentor_reads_her_agenda_with_the_visits_still_to_come_of_the_plan(runtime, people, api):
    clock.freeze(local("2026-01-28", 10))
    case_id = start_follow_up(runtime, people.anna)
    clock.freeze(local("2026-02-07", 9))
    assert timers.fire_due(runtime, "w") == 1  # visit 1 is in the inbox today; visit 2 waits as a timer

    response = api.as_("anna").get("/api/agenda", query_string={"days": 28})
    assert response.status_code == 200
    body = conforms(response, "/api/agenda", "get")
    items = [i for day in body["by_day"] for i in day["items"]]
    assert [(i["date"], i["state"]) for i in items] == [
        ("2026-02-07", "due"), ("2026-02-14", "scheduled"), ("2026-02-21", "planned"), ("2026-02-28", "planned")]
    assert {i["case_id"] for i in items} == {case_id} and all(i["client_code"].startswith("K-") for i in items)
    assert items[0]["task_id"] is not None and items[2]["label"] == "3. utókövetési látogatás / follow-up visit 3"
    assert body["count"] == 4 and body["from"] == "2026-02-07" and body["has_feed"] is False
    longer = conforms(api.as_("anna").get("/api/agenda", query_string={"days": 200}), "/api/agenda", "get")
    assert [d["date"] for d in longer["by_day"]][-1] == "2026-07-30"  # up to the day-180 check

    # Another mentor sees none of it; a manager or an administrator has no agenda.
    assert conforms(api.as_("bela").get("/api/agenda"), "/api/agenda", "get")["count"] == 0
    for who in ("mark", "root"):
        response = api.as_(who).get("/api/agenda")
        assert response.status_code == 403 and conforms(response, "/api/agenda", "get")["error"] == "forbidden"
    for days in (0, 201, "x"):
        response = api.as_("anna").get("/api/agenda", query_string={"days": days})
        assert response.status_code == 400 and "days" in conforms(response, "/api/agenda", "get")["message"]
    assert conforms(api.client.get("/api/agenda"), "/api/agenda", "get")["error"] == "unauthorised"


def test_the_administrator_sees_the_scheduler_and_retries_an_incident_over_the_api(runtime, people, api,
                                                                                   flaky):  # noqa: F811 - the fixture
    case_id = _start(runtime, people, "timer_probe", TIMER_PROBE)
    clock.advance(dt.timedelta(minutes=10, seconds=1))
    for backoff in (*timers.BACKOFF_SECONDS, 0):
        assert timers.fire_due(runtime, "w") == 0
        clock.advance(dt.timedelta(seconds=backoff + 1))
    [row] = timer_rows(runtime, case_id)
    assert row.state == "incident"

    response = api.as_("root").get("/api/scheduler")
    assert response.status_code == 200
    view = conforms(response, "/api/scheduler", "get")
    assert view["counts"]["incident"] == 1 and [i["timer_id"] for i in view["incidents"]] == [row.id]
    assert "unreachable" in view["incidents"][0]["last_error"] and view["incidents"][0]["attempts"] == 5
    for who in ("anna", "mark", "lea"):  # only the administrator runs the scheduler
        response = api.as_(who).get("/api/scheduler")
        assert response.status_code == 403, who
        conforms(response, "/api/scheduler", "get")
        response = api.as_(who).post(f"/api/scheduler/timers/{row.id}/retry")
        assert response.status_code == 403, who
        conforms(response, "/api/scheduler/timers/{timer_id}/retry", "post")
    assert timer_rows(runtime, case_id)[0].state == "incident"  # the refusals changed nothing
    response = api.as_("root").get("/api/scheduler", query_string={"limit": 0})
    assert response.status_code == 400 and "limit" in conforms(response, "/api/scheduler", "get")["message"]

    flaky["down"] = False
    path = "/api/scheduler/timers/{timer_id}/retry"
    response = api.as_("root").post(f"/api/scheduler/timers/{row.id}/retry")
    assert response.status_code == 200
    assert conforms(response, path, "post") == {"timer_id": row.id, "state": "scheduled"}
    again = api.as_("root").post(f"/api/scheduler/timers/{row.id}/retry")  # no longer an incident
    assert again.status_code == 409 and conforms(again, path, "post")["error"] == "conflict"
    missing = api.as_("root").post("/api/scheduler/timers/999999/retry")
    assert missing.status_code == 404 and conforms(missing, path, "post")["error"] == "not_found"
    assert api.client.post(f"/api/scheduler/timers/{row.id}/retry").status_code == 401

    clock.advance(dt.timedelta(seconds=1))
    assert timers.fire_due(runtime, "w") == 1
    kinds = [e["kind"] for e in cases.history(runtime, case_id, people.anna)]
    retried = [e for e in cases.history(runtime, case_id, people.anna) if e["kind"] == "timer_retried"]
    assert kinds.count("timer_retried") == 1 and retried[0]["actor"] == "root"
    assert conforms(api.as_("root").get("/api/scheduler"), "/api/scheduler", "get")["counts"]["incident"] == 0
