"""A timer whose firing fails never freezes its case: people's commands never re-run it, the case's other timers
keep firing, the mentor sees the missed visit as overdue and waiting for the administrator, and only an
administrator's retry (recorded in the audit) sends it back. docs/timers.md, "Failures, retries, incidents"."""
from __future__ import annotations

import datetime as dt

import pytest

from engine.cases import cases
from engine.store import clock
from engine.timers import timers
from tests import demo_data

from .test_api import Api, conforms
from .test_cli import Segito
from .timer_helpers import (
    _HEAD,
    _TAIL,
    _lane,
    administrator,
    complete,
    deploy,
    events,
    ready_tasks,
    timer_rows,
)
from .web_client import browser, make_app

# Three branches: a visit (a non-interrupting timer on the mentor's "plan" task) whose firing runs an erroring
# expression; a check timer ten minutes later that is healthy; and two tasks for the mentor to do meanwhile.
FAILING_VISIT = (_HEAD.format(key="failing_visit") + _lane("start", "fork", "plan", "visit", "boom", "boom_end",
                                                           "plan_end", "check", "after_check", "check_end", "note_a",
                                                           "note_b", "notes_end") + """
<bpmn:startEvent id="start"><bpmn:outgoing>f0</bpmn:outgoing></bpmn:startEvent>
<bpmn:parallelGateway id="fork"><bpmn:incoming>f0</bpmn:incoming><bpmn:outgoing>f1</bpmn:outgoing>
  <bpmn:outgoing>f2</bpmn:outgoing><bpmn:outgoing>f3</bpmn:outgoing></bpmn:parallelGateway>
<bpmn:userTask id="plan" name="Change the plan"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f4</bpmn:outgoing></bpmn:userTask>
<bpmn:endEvent id="plan_end"><bpmn:incoming>f4</bpmn:incoming></bpmn:endEvent>
<bpmn:boundaryEvent id="visit" name="Visit" attachedToRef="plan" cancelActivity="false">
  <bpmn:extensionElements><spiff:properties><spiff:property name="purpose" value="visit" />
    <spiff:property name="label" value="'1. látogatás / visit 1'" /></spiff:properties></bpmn:extensionElements>
  <bpmn:outgoing>f5</bpmn:outgoing>
  <bpmn:timerEventDefinition><bpmn:timeDuration>'PT10M'</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent>
<bpmn:scriptTask id="boom" name="Issue the visit"><bpmn:incoming>f5</bpmn:incoming><bpmn:outgoing>f6</bpmn:outgoing>
  <bpmn:script>visit_number = 1 / 0</bpmn:script></bpmn:scriptTask>
<bpmn:endEvent id="boom_end"><bpmn:incoming>f6</bpmn:incoming></bpmn:endEvent>
<bpmn:intermediateCatchEvent id="check" name="Check"><bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f7</bpmn:outgoing>
  <bpmn:timerEventDefinition><bpmn:timeDuration>'PT20M'</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>
<bpmn:userTask id="after_check" name="After the check"><bpmn:incoming>f7</bpmn:incoming><bpmn:outgoing>f8</bpmn:outgoing></bpmn:userTask>
<bpmn:endEvent id="check_end"><bpmn:incoming>f8</bpmn:incoming></bpmn:endEvent>
<bpmn:userTask id="note_a" name="Note A"><bpmn:incoming>f3</bpmn:incoming><bpmn:outgoing>f9</bpmn:outgoing></bpmn:userTask>
<bpmn:userTask id="note_b" name="Note B"><bpmn:incoming>f9</bpmn:incoming><bpmn:outgoing>f10</bpmn:outgoing></bpmn:userTask>
<bpmn:endEvent id="notes_end"><bpmn:incoming>f10</bpmn:incoming></bpmn:endEvent>
<bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="fork" />
<bpmn:sequenceFlow id="f1" sourceRef="fork" targetRef="plan" /><bpmn:sequenceFlow id="f2" sourceRef="fork" targetRef="check" />
<bpmn:sequenceFlow id="f3" sourceRef="fork" targetRef="note_a" /><bpmn:sequenceFlow id="f4" sourceRef="plan" targetRef="plan_end" />
<bpmn:sequenceFlow id="f5" sourceRef="visit" targetRef="boom" /><bpmn:sequenceFlow id="f6" sourceRef="boom" targetRef="boom_end" />
<bpmn:sequenceFlow id="f7" sourceRef="check" targetRef="after_check" />
<bpmn:sequenceFlow id="f8" sourceRef="after_check" targetRef="check_end" />
<bpmn:sequenceFlow id="f9" sourceRef="note_a" targetRef="note_b" /><bpmn:sequenceFlow id="f10" sourceRef="note_b" targetRef="notes_end" />
""" + _TAIL)


def _start(runtime, people) -> int:
    deploy(runtime, FAILING_VISIT, "failing_visit.bpmn")
    code = demo_data.run_intake(runtime, people.anna, 0)
    return cases.start_case(runtime, "failing_visit", people.anna, code)["case_id"]


def _row(runtime, case_id: int, bpmn_id: str):
    [row] = [r for r in timer_rows(runtime, case_id) if r.bpmn_id == bpmn_id]
    return row


def _into_incident(runtime, case_id: int) -> None:
    """The worker tries the visit at its due time and after each backoff: the fifth failure is an incident.
    The check (due 20 minutes after the start) falls due meanwhile."""
    clock.advance(dt.timedelta(minutes=10, seconds=1))
    for backoff in (*timers.BACKOFF_SECONDS, None):
        timers.fire_due(runtime, "w")
        if backoff is not None:
            clock.advance(dt.timedelta(seconds=backoff + 1))
    assert _row(runtime, case_id, "visit").state == "incident"


def test_a_failing_timer_does_not_stop_the_mentor_nor_the_cases_other_timers(runtime, people, database_url):
    case_id = _start(runtime, people)
    _into_incident(runtime, case_id)
    # The healthy check fired in due time, its own: no failure of the visit was pinned on it.
    check = _row(runtime, case_id, "check")
    assert (check.state, check.attempts, check.last_error) == ("fired", 0, None)
    assert [t.bpmn_id for t in ready_tasks(runtime, case_id, "after_check")] == ["after_check"]
    failures = [e.payload["timer_id"] for e in events(runtime, "timer_failed", case_id)]
    assert len(failures) == timers.MAX_ATTEMPTS - 1 and set(failures) == {_row(runtime, case_id, "visit").id}

    # The mentor works on the case: over the API (2xx) and from the command line (exit 0). Neither re-runs the
    # timer in incident, and the worker leaves it alone too.
    api = Api(make_app(runtime).test_client())
    [note_a] = ready_tasks(runtime, case_id, "note_a")
    response = api.as_("anna").post(f"/api/tasks/{note_a.id}/complete", json={"data": {}})
    assert response.status_code == 200, response.get_data(as_text=True)
    [note_b] = ready_tasks(runtime, case_id, "note_b")
    result = Segito(database_url)("task", "complete", note_b.id, "--data", "{}", "--as", "anna")
    assert result.exit_code == 0, result.output
    clock.advance(dt.timedelta(hours=1))
    assert timers.fire_due(runtime, "w") == 0
    visit = _row(runtime, case_id, "visit")
    assert (visit.state, visit.attempts) == ("incident", timers.MAX_ATTEMPTS)
    assert len(events(runtime, "timer_failed", case_id)) + len(events(runtime, "timer_incident_opened", case_id)) \
        == timers.MAX_ATTEMPTS

    # The missed visit stays in the mentor's sight: overdue, waiting for the administrator.
    agenda = conforms(api.as_("anna").get("/api/agenda"), "/api/agenda", "get")
    [item] = [i for day in agenda["by_day"] for i in day["items"] if i["case_id"] == case_id]
    assert (item["state"], item["waiting_for_administrator"], item["label"]) == ("overdue", True,
                                                                                 "1. látogatás / visit 1")
    inbox = conforms(api.as_("anna").get("/api/inbox"), "/api/inbox", "get")
    assert [(v["timer_id"], v["case_id"], v["kind"]) for v in inbox["waiting_for_administrator"]] == [
        (visit.id, case_id, "visit")]
    assert conforms(api.as_("bela").get("/api/inbox"), "/api/inbox", "get")["waiting_for_administrator"] == []
    anna = browser(make_app(runtime), "anna")
    page = anna.get("/inbox").get_data(as_text=True)
    assert 'data-testid="waiting-for-administrator"' in page and "Adminisztrátorra vár" in page
    # The timer's "magyar / English" label, in the page's language only.
    assert "1. látogatás" in page and "visit 1" not in page
    agenda_page = anna.get("/agenda").get_data(as_text=True)
    assert 'data-testid="waiting-for-administrator"' in agenda_page and "Adminisztrátorra vár" in agenda_page
    anna.post("/language", data={"locale": "en"})
    assert "Overdue visits waiting for the administrator" in anna.get("/inbox").get_data(as_text=True)

    # Only an administrator retries it, and the audit says who did.
    root = administrator(runtime)
    segito = Segito(database_url)
    refused = segito("scheduler", "retry", visit.id, "--as", "anna")
    assert refused.exit_code == 2 and _row(runtime, case_id, "visit").state == "incident"
    retried = segito.ok("scheduler", "retry", visit.id, "--as", root.username)
    assert retried == {"timer_id": visit.id, "state": "scheduled"}
    [event] = events(runtime, "timer_retried", case_id)
    assert event.actor == root.username and event.payload["before"]["state"] == "incident"
    assert segito.ok("scheduler", "show", "--as", root.username)["counts"]["incident"] == 0


def test_a_mentor_acting_before_the_worker_tried_a_failing_timer_is_not_stopped_by_it(runtime, people):
    case_id = _start(runtime, people)
    clock.advance(dt.timedelta(minutes=25))  # visit and check are both overdue; no worker has run (downtime)
    response = Api(make_app(runtime).test_client()).as_("anna").post(
        f"/api/tasks/{ready_tasks(runtime, case_id, 'note_a')[0].id}/complete", json={"data": {}})
    assert response.status_code == 200, response.get_data(as_text=True)
    # The mentor's command fired nothing of the visit; the failure is the worker's to record.
    visit = _row(runtime, case_id, "visit")
    assert (visit.state, visit.attempts) == ("scheduled", 0)
    assert events(runtime, "timer_failed", case_id) == []
    assert [t.bpmn_id for t in ready_tasks(runtime, case_id)] == ["plan", "note_b"]
    timers.fire_due(runtime, "w")
    assert _row(runtime, case_id, "visit").attempts == 1
    assert _row(runtime, case_id, "check").state == "fired"
    assert sorted(t.bpmn_id for t in ready_tasks(runtime, case_id)) == ["after_check", "note_b", "plan"]


def test_a_mentors_command_that_passes_a_timer_in_incident_says_so_in_the_audit(runtime, people):
    case_id = _start(runtime, people)
    _into_incident(runtime, case_id)
    visit = _row(runtime, case_id, "visit")
    complete(runtime, case_id, "plan", {}, people.anna)  # the plan changes: its visit timer is cancelled
    assert _row(runtime, case_id, "visit").state == "cancelled"
    [closed] = events(runtime, "timer_incident_closed", case_id)
    assert closed.actor == people.anna.username
    assert closed.payload["timer_id"] == visit.id
    assert closed.payload["before"] == {"state": "incident", "attempts": timers.MAX_ATTEMPTS}
    assert closed.payload["after"] == {"state": "cancelled"}
    assert events(runtime, "timer_fired", case_id)[-1].payload["bpmn_id"] == "check"  # never fired by anna


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_scheduler_command_needs_an_administrator(runtime, people, database_url):
    result = Segito(database_url)("scheduler", "show", "--as", "anna")
    assert result.exit_code == 2 and "administrator" in result.output.lower()
