"""No process definition can hold the database: a hostile definition's command is stopped at the command's
budget, rolled back, and answered with a 422, while other people's writes go on (docs/architecture.md,
"Expressions are untrusted"; docs/timers.md, "Timer expressions")."""
from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import textwrap
import time

import pytest
from sqlalchemy import func, select

from engine import sandbox
from engine.cases import cases
from engine.definitions import definitions
from engine.errors import ExpressionRefused
from engine.sandbox import spiff
from engine.store import clock
from engine.store.models import Case
from tests import demo_data

_HEAD = ('<?xml version="1.0" encoding="UTF-8"?>\n<bpmn:definitions '
         'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d_{key}" '
         'targetNamespace="http://segito.test">\n<bpmn:process id="{key}" name="{key}" isExecutable="true">\n')
_TAIL = "</bpmn:process>\n</bpmn:definitions>\n"

# A duration computed from case data at run time: deploy cannot see it; SpiffWorkflow's arithmetic would loop
# once per month of it (12 billion times) while the command holds the writer lock.
ABSURD_DURATION = _HEAD.format(key="absurd_duration") + """
<bpmn:laneSet id="ls"><bpmn:lane id="caseworker" name="caseworker">
  <bpmn:flowNodeRef>start</bpmn:flowNodeRef></bpmn:lane></bpmn:laneSet>  <!-- who starts it -->
<bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
<bpmn:scriptTask id="decide"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
  <bpmn:script>years = 999999999</bpmn:script></bpmn:scriptTask>
<bpmn:intermediateCatchEvent id="wait"><bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
  <bpmn:timerEventDefinition><bpmn:timeDuration>'P' + str(years) + 'Y'</bpmn:timeDuration></bpmn:timerEventDefinition>
</bpmn:intermediateCatchEvent>
<bpmn:endEvent id="end"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="decide" />
<bpmn:sequenceFlow id="f2" sourceRef="decide" targetRef="wait" />
<bpmn:sequenceFlow id="f3" sourceRef="wait" targetRef="end" />
""" + _TAIL

# A loop that never waits, each lap's script well within its own limits (90,000 steps of 100,000, about 0.1 s):
# hundreds of laps -- only the command's budget stops it.
ENDLESS_LOOP = _HEAD.format(key="endless_loop") + """
<bpmn:laneSet id="ls"><bpmn:lane id="caseworker" name="caseworker">
  <bpmn:flowNodeRef>start</bpmn:flowNodeRef></bpmn:lane></bpmn:laneSet>  <!-- who starts it -->
<bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
<bpmn:scriptTask id="init"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
  <bpmn:script>laps = 0</bpmn:script></bpmn:scriptTask>
<bpmn:scriptTask id="spin">
  <bpmn:incoming>f2</bpmn:incoming><bpmn:incoming>again</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
  <bpmn:script>laps = laps + 1
for i in range(90000):
    pass</bpmn:script></bpmn:scriptTask>
<bpmn:exclusiveGateway id="more" default="done"><bpmn:incoming>f3</bpmn:incoming>
  <bpmn:outgoing>again</bpmn:outgoing><bpmn:outgoing>done</bpmn:outgoing></bpmn:exclusiveGateway>
<bpmn:endEvent id="end"><bpmn:incoming>done</bpmn:incoming></bpmn:endEvent>
<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="init" />
<bpmn:sequenceFlow id="f2" sourceRef="init" targetRef="spin" />
<bpmn:sequenceFlow id="f3" sourceRef="spin" targetRef="more" />
<bpmn:sequenceFlow id="again" sourceRef="more" targetRef="spin">
  <bpmn:conditionExpression>laps &gt; 0</bpmn:conditionExpression></bpmn:sequenceFlow>
<bpmn:sequenceFlow id="done" sourceRef="more" targetRef="end" />
""" + _TAIL

# A user task, then a script that fails: completing the task is answered with the script's error, a 422.
FAILS_AFTER_TASK = _HEAD.format(key="fails_after_task") + """
<bpmn:laneSet id="ls"><bpmn:lane id="caseworker" name="caseworker">
  <bpmn:flowNodeRef>fill</bpmn:flowNodeRef></bpmn:lane></bpmn:laneSet>
<bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
<bpmn:userTask id="fill" name="Fill"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:userTask>
<bpmn:scriptTask id="divide"><bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
  <bpmn:script>share = 1 / 0</bpmn:script></bpmn:scriptTask>
<bpmn:endEvent id="end"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="fill" />
<bpmn:sequenceFlow id="f2" sourceRef="fill" targetRef="divide" />
<bpmn:sequenceFlow id="f3" sourceRef="divide" targetRef="end" />
""" + _TAIL

HOSTILE = {"absurd_duration": ABSURD_DURATION, "endless_loop": ENDLESS_LOOP, "fails_after_task": FAILS_AFTER_TASK}


def _deploy_hostile(runtime, key: str) -> None:
    with runtime.db.unit_of_work() as session:
        definitions.deploy(session, definitions.Upload(f"{key}.bpmn", HOSTILE[key].encode(), {}), "dora", clock.now())


def _case_count(runtime) -> int:
    with runtime.db.reading() as session:
        return session.execute(select(func.count()).select_from(Case)).scalar()


def _bypass_the_timer_value_check(monkeypatch) -> None:
    """As if a timer value got past every check: only the watchdog is left to stop SpiffWorkflow's loop."""
    monkeypatch.setattr(spiff, "_check_result", lambda task, expression, value: None)


# ------------------------------------------------------------------------- one process, both databases
def test_a_duration_computed_at_run_time_beyond_the_bounds_is_refused_before_any_arithmetic(runtime, people):
    _deploy_hostile(runtime, "absurd_duration")  # deploy accepts it: the value depends on case data
    code = demo_data.run_intake(runtime, people.anna, 0)
    before = _case_count(runtime)
    started = time.monotonic()
    with pytest.raises(ExpressionRefused) as err:
        cases.start_case(runtime, "absurd_duration", people.anna, code)
    assert time.monotonic() - started < 1.0
    assert err.value.status == 422 and err.value.code == "expression_refused"
    assert "'P999999999Y'" in err.value.message and "at most 10 years" in err.value.message
    assert _case_count(runtime) == before, "nothing of the refused command is saved"


def test_a_loop_that_never_waits_is_stopped_at_the_command_budget(runtime, people, monkeypatch):
    _deploy_hostile(runtime, "endless_loop")
    code = demo_data.run_intake(runtime, people.anna, 0)
    # The tight budget only for the command under test: the set-up's intake may take longer on a loaded machine.
    monkeypatch.setattr(sandbox.limits, "COMMAND_SECONDS", 0.5)
    before = _case_count(runtime)
    started = time.monotonic()
    with pytest.raises(ExpressionRefused, match=r"ran longer than 0\.5 s in one command"):
        cases.start_case(runtime, "endless_loop", people.anna, code)
    assert time.monotonic() - started < 0.5 + sandbox.limits.WATCHDOG_GRACE
    assert _case_count(runtime) == before


def test_the_watchdog_stops_spiffworkflow_code_that_no_guard_sees(runtime, people, monkeypatch):
    _bypass_the_timer_value_check(monkeypatch)
    _deploy_hostile(runtime, "absurd_duration")
    code = demo_data.run_intake(runtime, people.anna, 0)
    monkeypatch.setattr(sandbox.limits, "COMMAND_SECONDS", 0.3)
    monkeypatch.setattr(sandbox.limits, "WATCHDOG_GRACE", 0.2)
    started = time.monotonic()
    with pytest.raises(ExpressionRefused, match=r"ran longer than 0\.3 s"):
        cases.start_case(runtime, "absurd_duration", people.anna, code)
    assert time.monotonic() - started < 2.0
    # The thread is usable afterwards: no stray Overrun is pending in it or arrives later.
    demo_data.run_intake(runtime, people.bela, 1)
    until = time.monotonic() + 0.3
    while time.monotonic() < until:
        pass


# ------------------------------------------------------------------------- two processes, one SQLite file
_HOSTILE_CHILD = textwrap.dedent("""
    import json, sys, time
    from engine.cases import cases
    from engine.people import users
    from engine.store.db import Database
    from engine.errors import SegitoError
    from engine.runtime.runtime import Runtime
    url, key, code, bypass = sys.argv[1:]
    if bypass == "1":  # as if the timer value had got past every check: only the watchdog is left
        import engine.sandbox.spiff as spiff
        spiff._check_result = lambda task, expression, value: None
    runtime = Runtime(Database(url))
    with runtime.db.reading() as session:
        anna = users.actor(session, "anna")
    print("ready", flush=True)
    sys.stdin.readline()
    started = time.monotonic()
    try:
        cases.start_case(runtime, key, anna, code)
        result = {"code": None}
    except SegitoError as e:
        result = {"code": e.code, "status": e.status, "message": e.message}
    result["seconds"] = time.monotonic() - started
    print(json.dumps(result), flush=True)
""")


def _lock_is_held(path: str) -> bool:
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing releases the lock if it was ours
    return False


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # the writer lock is the SQLite file's
@pytest.mark.parametrize("key, bypass, stopped_by", [
    ("absurd_duration", False, "the timer value check"),
    ("endless_loop", False, "the command budget"),
    ("absurd_duration", True, "the watchdog"),
])
def test_a_hostile_command_in_one_process_does_not_stop_another_users_write_in_another(
        runtime, people, database_url, key, bypass, stopped_by):
    _deploy_hostile(runtime, key)
    code = demo_data.run_intake(runtime, people.anna, 0)
    before = _case_count(runtime)
    lock_path = os.path.abspath(runtime.db.engine.url.database) + "-writer.lock"
    child = subprocess.Popen([sys.executable, "-c", _HOSTILE_CHILD, database_url, key, code, "1" if bypass else "0"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "ready", child.stderr.read()
        child.stdin.write("go\n")
        child.stdin.flush()
        # Wait until the hostile command holds the writer lock (a quickly refused one may be done already).
        deadline = time.monotonic() + 3
        while not _lock_is_held(lock_path) and time.monotonic() < deadline and child.poll() is None:
            time.sleep(0.005)
        # Another user's write, in this process: it queues behind the hostile command, which is stopped.
        started = time.monotonic()
        other = cases.start_case(runtime, "intake", people.bela)
        waited = time.monotonic() - started
        result = json.loads(child.stdout.readline() or "{}")
        child.wait(30)
    finally:
        if child.poll() is None:
            child.kill()
    print(f"\n{key} stopped by {stopped_by}: hostile command ran {result.get('seconds', -1):.2f} s; "
          f"the other write waited {waited:.2f} s")
    assert other["case_id"], "the other user's write succeeded"
    assert waited < sandbox.limits.COMMAND_SECONDS + sandbox.limits.WATCHDOG_GRACE + 1.5, waited
    assert result.get("code") == "expression_refused" and result["status"] == 422, result
    assert result["seconds"] < sandbox.limits.COMMAND_SECONDS + sandbox.limits.WATCHDOG_GRACE + 1.0, result
    assert _case_count(runtime) == before + 1, "only the other user's case was saved"


def test_on_the_task_page_a_faulty_later_step_keeps_the_page_and_says_what_happened(runtime, people):
    from engine.store.models import HumanTask

    from .web_client import browser, make_app

    _deploy_hostile(runtime, "fails_after_task")
    code = demo_data.run_intake(runtime, people.anna, 0)
    case_id = cases.start_case(runtime, "fails_after_task", people.anna, code)["case_id"]
    with runtime.db.reading() as session:
        task_id = session.execute(select(HumanTask.id).where(HumanTask.case_id == case_id)).scalar_one()
    anna = browser(make_app(runtime), "anna")
    anna.get(f"/tasks/{task_id}")
    response = anna.post(f"/tasks/{task_id}/complete", {})
    page = response.get_data(as_text=True)
    assert response.status_code == 422, page[:500]
    assert "a folyamat egy ezt követő hibás lépésnél megállt" in page and "ZeroDivisionError" in page
    with runtime.db.reading() as session:
        assert session.execute(select(HumanTask.state).where(HumanTask.id == task_id)).scalar_one() == "ready"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_deployment_is_validated_before_it_takes_the_writer_lock(runtime, people, monkeypatch, tmp_path):
    """Validation parses, checks and evaluates constant expressions: seconds, perhaps, and none under the lock."""
    import io

    from engine import cli
    from web.app import create_app

    lock_path = os.path.abspath(runtime.db.engine.url.database) + "-writer.lock"
    held_while_validating = []
    validate = definitions.validate

    def watching(upload):
        held_while_validating.append(_lock_is_held(lock_path))
        return validate(upload)

    monkeypatch.setattr(definitions, "validate", watching)
    monkeypatch.setattr(definitions, "_validated", {})  # validated once per content and process: not yet here
    app = create_app(runtime, {"TESTING": True})
    response = app.test_client().post("/api/definitions", auth=("dora", "pw-dora"), data={
        "bpmn": (io.BytesIO(HOSTILE["endless_loop"].encode()), "endless_loop.bpmn")})
    assert response.status_code == 201, response.get_data(as_text=True)[:500]
    path = tmp_path / "absurd_duration.bpmn"
    path.write_text(HOSTILE["absurd_duration"], encoding="utf-8")
    monkeypatch.setenv("DATABASE_URL", runtime.db.url)
    from click.testing import CliRunner

    result = CliRunner().invoke(cli.main, ["deploy", str(path), "--as", "dora"])
    assert result.exit_code == 0, result.output
    assert held_while_validating == [False, False]
