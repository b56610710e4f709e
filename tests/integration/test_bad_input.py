"""No input gets a 500: each kind of bad input found in trials gets a clear 4xx naming what is wrong, the same on
SQLite and PostgreSQL (every test here runs on both), in the API and on the pages, and nothing is saved."""
from __future__ import annotations

import logging
import re

import pytest

from engine.cases import cases, tasks
from engine.errors import ExpressionRefused, NotFound
from engine.forms import input_check
from tests import demo_data
from web.app import create_app

from .helpers import add_dpo_and_administrator, new_family_case, snapshot, task_of, waiting_steps
from .test_api import conforms
from .timer_helpers import _HEAD, _TAIL, _lane, deploy
from .web_client import browser, make_app

ANNA = ("anna", "pw-anna")
HUGE = "99999999999999999999"  # beyond 64 bits: neither database can even compare it with an id


@pytest.fixture
def app(runtime, people):
    return create_app(runtime, {"TESTING": True})


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def task(runtime, people):
    case_id = new_family_case(runtime, people)
    return case_id, task_of(runtime, case_id, "step_3_1")


# --------------------------------------------------------------------------------------------- ids and offsets
@pytest.mark.parametrize("path, template, name", [
    (f"/api/cases?offset={HUGE}", "/api/cases", "offset"),
    (f"/api/cases?limit={HUGE}", "/api/cases", "limit"),
    (f"/api/inbox?offset={HUGE}", "/api/inbox", "offset"),
    ("/api/inbox?offset=1000000001", "/api/inbox", "offset"),
    ("/api/inbox?limit=%C2%B2", "/api/inbox", "limit"),  # "²" is a digit to str.isdigit, not to int
])
def test_an_offset_beyond_its_range_is_refused_by_name(client, path, template, name):
    response = client.get(path, auth=ANNA)
    assert response.status_code == 400
    err = conforms(response, template, "get")
    assert f"'{name}'" in err["message"] and err["details"][0]["field"] == name


@pytest.mark.parametrize("path, template, method", [
    (f"/api/tasks/{HUGE}", "/api/tasks/{task_id}", "get"),
    ("/api/tasks/9223372036854775808", "/api/tasks/{task_id}", "get"),  # one past the largest 64-bit id
    (f"/api/tasks/{HUGE}/claim", "/api/tasks/{task_id}/claim", "post"),
    (f"/api/cases/{HUGE}", "/api/cases/{case_id}", "get"),
    (f"/api/cases/{HUGE}/history", "/api/cases/{case_id}/history", "get"),
    (f"/api/audit/cases/{HUGE}", "/api/audit/cases/{case_id}", "get"),
    (f"/api/scheduler/timers/{HUGE}/retry", "/api/scheduler/timers/{timer_id}/retry", "post"),
])
def test_an_id_beyond_64_bits_is_not_found(client, path, template, method):
    response = getattr(client, method)(path, auth=ANNA)
    assert response.status_code == 404
    err = conforms(response, template, method)
    number = re.search(r"\d{15,}", path).group()
    assert err["error"] == "not_found" and f"{number} does not exist" in err["message"]


def test_an_id_filter_beyond_64_bits_is_refused(runtime, client):
    response = client.get(f"/api/audit/events?case={HUGE}", auth=("mark", "pw-mark"))
    assert response.status_code == 400
    assert conforms(response, "/api/audit/events", "get")["details"] == [{"field": "case",
                                                                          "message": "not a case id"}]
    for report, template in (("/api/reports/family_care", "/api/reports/{report}"),
                             ("/api/reports/job_retention", "/api/reports/{report}")):
        response = client.get(f"{report}?from=2026-01-01&to=2026-03-01&caseworker={HUGE}", auth=("mark", "pw-mark"))
        assert response.status_code == 422 and conforms(response, template, "get")["details"][0]["field"] == \
            "caseworker"


@pytest.mark.parametrize("path", [f"/tasks/{HUGE}", f"/cases/{HUGE}", f"/inbox?page={HUGE}", f"/cases?page={HUGE}",
                                  f"/cases/1/entries/actions/{HUGE}/correct"])
def test_the_pages_refuse_huge_ids_and_pages_without_a_500(runtime, people, path):
    page = browser(make_app(runtime), "anna").get(path)
    assert page.status_code in (400, 404), (path, page.status_code)
    assert "text/html" in page.content_type


SUPERSCRIPT_TWO = "%C2%B2"  # "²": a digit to str.isdigit, not to int


@pytest.mark.parametrize("who, path, status", [
    ("root", f"/audit/?case={SUPERSCRIPT_TWO}", 400),
    ("root", f"/audit/?page={SUPERSCRIPT_TWO}", 400),
    ("root", f"/processes/family_care/diff?to={SUPERSCRIPT_TWO}", 404),
    ("root", f"/processes/family_care/diff?from={HUGE}", 404),
    ("mark", f"/reports/family_care/cases?indicator=I1&from=2026-01-01&to=2026-12-31&page={SUPERSCRIPT_TWO}", 200),
])
def test_the_pages_read_a_number_only_from_ascii_digits(runtime, people, who, path, status):
    add_dpo_and_administrator(runtime)
    page = browser(make_app(runtime), who).get(path)
    assert page.status_code == status, (path, page.status_code)
    assert "text/html" in page.content_type


# --------------------------------------------------------------------------------------------- nesting
@pytest.mark.parametrize("path, method", [("/api/tasks/{id}/complete", "post"), ("/api/tasks/{id}/draft", "put"),
                                          ("/api/cases", "post")])
def test_json_nested_100000_deep_is_refused(runtime, client, task, path, method):
    case_id, task_id = task
    before = snapshot(runtime, case_id)
    template = path.replace("{id}", "{task_id}")
    response = getattr(client, method)(path.replace("{id}", str(task_id)), data="[" * 100_000,
                                       content_type="application/json", auth=ANNA)
    assert response.status_code == 400
    assert "nested more than 32 levels" in conforms(response, template, method)["message"]
    assert snapshot(runtime, case_id) == before


def test_form_data_nested_too_deep_is_refused_naming_where(runtime, client, task):
    case_id, task_id = task
    before = snapshot(runtime, case_id)
    deep = "x"
    for _ in range(40):
        deep = [deep]
    response = client.put(f"/api/tasks/{task_id}/draft", json={"data": {"presented_problem": deep}}, auth=ANNA)
    assert response.status_code == 400
    err = conforms(response, "/api/tasks/{task_id}/draft", "put")
    assert err["details"][0]["field"].startswith("data/presented_problem/0/0")
    assert "nested more than 32 levels" in err["details"][0]["message"]
    assert snapshot(runtime, case_id) == before


# --------------------------------------------------------------------------------------------- text that is not text
@pytest.mark.parametrize("text, problem", [('"\\ud800x"', "lone surrogate (\\ud800)"),
                                           ('"a\\u0000b"', "NUL character")])
def test_a_draft_or_submission_with_text_that_is_not_text_is_refused_by_field(runtime, client, app, people, task,
                                                                              text, problem):
    case_id, task_id = task
    before = snapshot(runtime, case_id)
    for method, path in (("put", "draft"), ("post", "complete")):
        raw = f'{{"data": {{"presented_problem": {text}}}}}'
        response = getattr(client, method)(f"/api/tasks/{task_id}/{path}", data=raw,
                                           content_type="application/json", auth=ANNA)
        assert response.status_code == 400, (path, response.get_data(as_text=True))
        err = conforms(response, f"/api/tasks/{{task_id}}/{path}", method)
        assert err["details"] == [{"field": "data/presented_problem", "message": err["details"][0]["message"]}]
        assert problem in err["details"][0]["message"]
    # A key is text too.
    raw = '{"data": {"presented\\u0000problem": "x"}}'
    response = client.put(f"/api/tasks/{task_id}/draft", data=raw, content_type="application/json", auth=ANNA)
    assert response.status_code == 400 and "(a name)" in response.get_json()["details"][0]["message"]
    assert snapshot(runtime, case_id) == before
    # The task still opens, in the API and on its page.
    assert client.get(f"/api/tasks/{task_id}", auth=ANNA).status_code == 200
    assert browser(make_app(runtime), "anna").get(f"/tasks/{task_id}").status_code == 200


def test_the_engine_refuses_it_too_for_every_caller(runtime, people, task):
    """The command line hands the engine JSON of its own: the same check applies there."""
    case_id, task_id = task
    before = snapshot(runtime, case_id)
    with pytest.raises(input_check.BadInput, match="presented_problem' contains a lone surrogate"):
        tasks.save_draft(runtime, task_id, {"presented_problem": "\ud800x"}, people.anna)
    with pytest.raises(input_check.BadInput, match="NUL"):
        tasks.complete(runtime, task_id, {**demo_data.assessment_data(), "presented_problem": "a\x00b"}, people.anna)
    with pytest.raises(input_check.BadInput, match="client_code"):
        cases.start_case(runtime, "family_care", people.anna, "K-\x00")
    huge = int(HUGE)
    for command in (lambda: tasks.get_task(runtime, huge, people.anna), lambda: tasks.claim(runtime, huge, people.anna),
                    lambda: tasks.complete(runtime, huge, {}, people.anna),
                    lambda: tasks.save_draft(runtime, huge, {}, people.anna),
                    lambda: cases.get_case(runtime, huge, people.anna)):
        with pytest.raises(NotFound, match=f"{HUGE} does not exist"):
            command()
    assert snapshot(runtime, case_id) == before


@pytest.mark.parametrize("path, template, name", [
    ("/api/inbox?step=%00", "/api/inbox", "step"),
    ("/api/cases?status=%00", "/api/cases", "status"),
    ("/api/definitions/intake%00", "/api/definitions/{key}", "key"),
    ("/api/audit/events?user=a%00", "/api/audit/events", "user"),
])
def test_a_nul_in_the_address_is_refused_by_name(client, path, template, name):
    response = client.get(path, auth=ANNA)
    assert response.status_code == 400
    err = conforms(response, template, "get")
    assert err["details"] == [{"field": name, "message": "contains a NUL character (\\u0000), which cannot be stored"}]


def test_a_nul_in_the_credentials_is_refused_not_looked_up(client):
    response = client.get("/api/cases", auth=("an\x00na", "pw-anna"))
    assert response.status_code == 400 and response.get_json()["details"][0]["field"] == "username"


def test_a_nul_typed_into_the_task_page_is_refused_naming_the_field(runtime, people, task):
    case_id, task_id = task
    anna = browser(make_app(runtime), "anna")
    anna.get(f"/tasks/{task_id}")
    before = snapshot(runtime, case_id)  # after opening the page, which is itself an audit event
    page = anna.post(f"/tasks/{task_id}/draft", {"presented_problem": "a\x00b"})
    assert page.status_code == 400 and "text/html" in page.content_type
    assert "presented_problem" in page.get_data(as_text=True)
    assert snapshot(runtime, case_id) == before


# --------------------------------------------------------------------------------------------- query parameters
@pytest.mark.parametrize("query", ["status=bogus", "status="])
def test_an_unknown_case_status_is_refused_not_answered_empty(client, query):
    response = client.get(f"/api/cases?{query}", auth=ANNA)
    assert response.status_code == 400
    err = conforms(response, "/api/cases", "get")
    assert err["details"][0]["field"] == "status" and "running, completed, failed" in err["message"]


@pytest.mark.parametrize("path, template, name", [("/api/cases?staus=running", "/api/cases", "staus"),
                                                  ("/api/inbox?ofset=25", "/api/inbox", "ofset"),
                                                  ("/api/tasks/1?x=1", "/api/tasks/{task_id}", "x")])
def test_an_unknown_query_parameter_is_refused_not_ignored(client, task, path, template, name):
    response = client.get(path, auth=ANNA)
    assert response.status_code == 400
    err = conforms(response, template, "get")
    assert err["details"] == [{"field": name, "message": "unknown query parameter"}]


def test_an_unknown_report_language_is_refused(client):
    response = client.get("/api/reports/family_care?from=2026-01-01&to=2026-03-01&lang=de", auth=ANNA)
    assert response.status_code == 400
    assert conforms(response, "/api/reports/{report}", "get")["details"][0]["field"] == "lang"


# --------------------------------------------------------------------------------------------- methods
@pytest.mark.parametrize("method", ["DELETE", "PATCH", "TRACE", "PUT"])
def test_an_undeclared_method_is_405_with_allow(client, runtime, people, method):
    response = client.open("/api/cases", method=method, auth=ANNA)
    assert response.status_code == 405 and response.get_json()["error"] == "method_not_allowed"
    assert set(response.headers["Allow"].split(", ")) == {"GET", "POST", "HEAD", "OPTIONS"}
    page = browser(make_app(runtime), "anna").client.open("/inbox", method=method)
    assert page.status_code == 405 and "GET" in page.headers["Allow"] and "text/html" in page.content_type


# --------------------------------------------------------------------------------------------- a script's data
DEEP_SCRIPT = (_HEAD.format(key="deep_script") + _lane("start", "fill", "build", "after", "end") + """
<bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
<bpmn:userTask id="fill" name="Fill"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:userTask>
<bpmn:scriptTask id="build" name="Build"><bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
  <bpmn:script>nested = []
for i in range(60000):
    nested = [nested]
</bpmn:script></bpmn:scriptTask>
<bpmn:userTask id="after" name="After"><bpmn:incoming>f3</bpmn:incoming><bpmn:outgoing>f4</bpmn:outgoing></bpmn:userTask>
<bpmn:endEvent id="end"><bpmn:incoming>f4</bpmn:incoming></bpmn:endEvent>
<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="fill" /><bpmn:sequenceFlow id="f2" sourceRef="fill" targetRef="build" />
<bpmn:sequenceFlow id="f3" sourceRef="build" targetRef="after" /><bpmn:sequenceFlow id="f4" sourceRef="after" targetRef="end" />
""" + _TAIL)


def test_a_script_building_a_60000_deep_list_is_refused_by_name(runtime, people, client):
    deploy(runtime, DEEP_SCRIPT, "deep_script.bpmn")
    case_id = cases.start_case(runtime, "deep_script", people.anna, demo_data.run_intake(runtime, people.anna))["case_id"]
    task_id = task_of(runtime, case_id, "fill")
    before = snapshot(runtime, case_id)
    response = client.post(f"/api/tasks/{task_id}/complete", json={"data": {}}, auth=ANNA)
    assert response.status_code == 422
    err = conforms(response, "/api/tasks/{task_id}/complete", "post")
    # The sandbox refuses the structure as the script builds it (engine/sandbox/plain_data.py); saving would
    # refuse it too (process_data_refused), should a structure ever arrive there another way.
    assert err["error"] == "expression_refused"
    assert "variable 'nested' is nested too deeply" in err["message"]
    assert snapshot(runtime, case_id) == before and waiting_steps(runtime, case_id) == ["fill"]
    with pytest.raises(ExpressionRefused):  # the same from the engine, for the command line
        tasks.complete(runtime, task_id, {}, people.anna)


# --------------------------------------------------------------------------------------------- real failures
def test_a_real_internal_error_is_still_a_logged_500(runtime, people, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(cases, "list_cases", broken)
    client = create_app(runtime, {"TESTING": False}).test_client()
    with caplog.at_level(logging.ERROR):
        response = client.get("/api/cases", auth=ANNA)
    assert response.status_code == 500 and response.get_json()["error"] == "internal_server_error"
    assert any("disk on fire" in (r.exc_text or "") or (r.exc_info and "disk on fire" in str(r.exc_info[1]))
               for r in caplog.records)
