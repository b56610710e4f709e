"""Faults under load (docs/operations.md, "Faults"): while caseworkers start cases and complete steps through the
JSON API of two gunicorn processes, and timers fire in two `segito worker` processes, a server process and a
worker are killed with SIGKILL and PostgreSQL itself crashes and restarts. Afterwards nothing acknowledged is
lost (every answered start and completion is in the database, with its audit event), nothing is doubled (one
``task_completed`` per step, one ``timer_fired`` per fired timer, every audit chain verifies), and every case
still advances to its end.

PostgreSQL here is a server of the test's own (tests/integration/private_postgres.py): crashing the shared one
would break every other test run on the machine. The test prints what the users saw (answers, refusals, errors
while the faults lasted); its figures are in docs/operations.md.
"""
from __future__ import annotations

import http.client
import itertools
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from engine import setup
from engine.audit import audit_verify
from engine.definitions import definitions
from engine.people import api_tokens, users
from engine.runtime.runtime import Runtime
from engine.store import audit, clock, db, migrate
from engine.store.db import Database
from engine.store.models import AuditEvent, Case, HumanTask
from engine.store.timer_models import Timer
from tests import demo_data

from .private_postgres import PrivatePostgres, binaries

ROOT = Path(__file__).resolve().parents[2]
PROCESS = "faults_steps"
USERS = 4
LOAD_SECONDS = 30.0        # users work this long; the faults fall inside it
DRAIN_SECONDS = 60.0       # then every case must reach its end within this
FORM = json.dumps({"type": "object", "x-label": {"hu": "Lépés", "en": "Step"}, "properties": {
    "note": {"type": "string", "title": "Megjegyzés", "x-label": {"hu": "Megjegyzés", "en": "Note"}}}}).encode()


def _process() -> definitions.Upload:
    """Three steps with a one-second timer between each: a → 1 s → b → 1 s → c."""
    task = ('<bpmn:userTask id="{id}" name="{id}"><bpmn:extensionElements><spiff:properties>'
            '<spiff:property name="formJsonSchemaFilename" value="note.json" /></spiff:properties>'
            '</bpmn:extensionElements><bpmn:incoming>{i}</bpmn:incoming><bpmn:outgoing>{o}</bpmn:outgoing>'
            '</bpmn:userTask>')
    timer = ('<bpmn:intermediateCatchEvent id="{id}"><bpmn:incoming>{i}</bpmn:incoming><bpmn:outgoing>{o}'
             '</bpmn:outgoing><bpmn:timerEventDefinition><bpmn:timeDuration>\'PT1S\'</bpmn:timeDuration>'
             '</bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>')
    nodes = ["start", "a", "t1", "b", "t2", "c", "end"]
    body = ['<bpmn:startEvent id="start"><bpmn:outgoing>f0</bpmn:outgoing></bpmn:startEvent>']
    for n, node in enumerate(nodes[1:-1], 1):
        body.append((task if node in "abc" else timer).format(id=node, i=f"f{n - 1}", o=f"f{n}"))
    body.append(f'<bpmn:endEvent id="end"><bpmn:incoming>f{len(nodes) - 2}</bpmn:incoming></bpmn:endEvent>')
    body += [f'<bpmn:sequenceFlow id="f{n}" sourceRef="{a}" targetRef="{b}" />'
             for n, (a, b) in enumerate(itertools.pairwise(nodes))]
    refs = "".join(f"<bpmn:flowNodeRef>{n}</bpmn:flowNodeRef>" for n in nodes)
    xml = (f'<?xml version="1.0" encoding="UTF-8"?>\n<bpmn:definitions '
           f'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
           f'xmlns:spiff="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d_{PROCESS}" '
           f'targetNamespace="http://segito.test"><bpmn:process id="{PROCESS}" name="{PROCESS}" '
           f'isExecutable="true"><bpmn:laneSet id="ls"><bpmn:lane id="caseworker" name="caseworker">{refs}'
           f'</bpmn:lane></bpmn:laneSet>{"".join(body)}</bpmn:process></bpmn:definitions>')
    return definitions.Upload(f"{PROCESS}.bpmn", xml.encode(), {"note.json": FORM})


@pytest.fixture
def private_pg():
    if binaries() is None:
        if os.environ.get("CI") == "true":
            pytest.fail("no PostgreSQL server binaries under CI=true")
        pytest.skip("no PostgreSQL server binaries (/usr/lib/postgresql/*/bin)")
    server = PrivatePostgres().start()
    yield server
    db.dispose_all()
    server.stop()


class User(threading.Thread):
    """A caseworker through the API: starts a case when nothing waits, completes her first waiting step; every
    answer counted, every failure (a dead process, the database away) retried after a pause, as a client would."""

    def __init__(self, port: int, token: str, client_code: str, until: float):
        super().__init__(daemon=True)
        self.port, self.token, self.client_code = port, token, client_code
        self.until, self.starting = until, True
        self.started: list[int] = []        # case ids answered 201
        self.completed: list[int] = []      # task ids answered 200
        self.seen: Counter = Counter()      # answers by status, and connection errors
        self.stop = threading.Event()

    def _call(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, path, json.dumps(body) if body is not None else None,
                         {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"})
            response = conn.getresponse()
            data = response.read()
            self.seen[response.status] += 1
            return response.status, (json.loads(data) if data[:1] in (b"{", b"[") else {})
        finally:
            conn.close()

    def run(self) -> None:
        while not self.stop.is_set():
            if time.monotonic() > self.until:
                self.starting = False
            try:
                status, box = self._call("GET", f"/api/inbox?process={PROCESS}")
                items = box.get("items", []) if status == 200 else []
                if items:
                    task_id = items[0]["task_id"]
                    status, _ = self._call("POST", f"/api/tasks/{task_id}/complete", {"data": {"note": "x"}})
                    if status == 200:
                        self.completed.append(task_id)
                elif status == 200 and self.starting:
                    status, answer = self._call("POST", "/api/cases", {"process_key": PROCESS, "confirm": True,
                                                                       "client_code": self.client_code})
                    if status == 201:
                        self.started.append(answer["case_id"])
                elif status == 200:
                    time.sleep(0.2)  # waiting for timers
                if status >= 500:
                    time.sleep(0.2)
            except (OSError, http.client.HTTPException) as e:
                self.seen[type(e).__name__] += 1
                time.sleep(0.2)


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(p) for p in (task / "children").read_text().split()]
    return found


def _worker(url: str, log: Path) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": url, "SEGITO_TICK_SECONDS": "0.5", "SEGITO_TIMER_CLAIM_SECONDS": "5"}
    return subprocess.Popen([sys.executable, "-m", "engine.cli", "worker"], cwd=ROOT, env=env,
                            stdout=log.open("a"), stderr=subprocess.STDOUT)


def _wait_up(port: int, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()[-3000:]
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/readyz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise AssertionError("the app did not become ready: " + log.read_text()[-3000:])


@pytest.mark.postgres
@pytest.mark.timeout(280)
def test_killed_processes_and_a_crashed_database_lose_nothing_acknowledged_and_double_nothing(private_pg, tmp_path):
    clock.reset()
    url = private_pg.url
    migrate.upgrade(url)
    rt = Runtime(Database(url))
    setup.initialise(rt)
    upload = _process()
    definitions.prevalidate(upload)
    tokens = []
    with rt.db.unit_of_work() as session:
        definitions.deploy(session, upload, "test", clock.now())
        for i in range(USERS):
            users.create_user(session, f"cw{i}", f"Caseworker {i}", [users.CASEWORKER], None, "test", clock.now(),
                              password_hash="x")
    for i in range(USERS):
        with rt.db.reading() as session:
            actor = users.actor(session, f"cw{i}")
        code = demo_data.run_intake(rt, actor, i)
        with rt.db.unit_of_work() as session:
            tokens.append((api_tokens.issue(session, actor, "faults", ["read", "work"], clock.now())[1], code))
    rt.db.close()
    db.dispose_all()

    port = _free_port()
    log = tmp_path / "processes.log"
    env = {**os.environ, "DATABASE_URL": url, "SEGITO_TICKER": "0"}  # timers fire in the workers only
    env.pop("SEGITO_SECRET_KEY", None)
    web = subprocess.Popen([sys.executable, "-m", "web.cli", "run", "--no-demo", "--host", "127.0.0.1", "--port",
                            str(port), "--workers", "2", "--threads", "4"], cwd=ROOT, env=env,
                           stdout=log.open("a"), stderr=subprocess.STDOUT, start_new_session=True)
    workers = [_worker(url, log), _worker(url, log)]
    people: list[User] = []
    figures: dict = {}
    try:
        _wait_up(port, web, log)
        began = time.monotonic()
        people = [User(port, token, code, began + LOAD_SECONDS) for token, code in tokens]
        for person in people:
            person.start()

        time.sleep(6)
        victim = random.choice(_children(web.pid))
        os.kill(victim, signal.SIGKILL)           # a server process dies mid-request; gunicorn forks another
        figures["web process killed at"] = round(time.monotonic() - began, 1)
        time.sleep(6)
        workers[0].kill()                         # a worker dies mid-firing; its claims expire, another fires
        workers[0].wait()
        workers[0] = _worker(url, log)            # its supervisor starts a new one
        figures["worker killed at"] = round(time.monotonic() - began, 1)
        time.sleep(6)
        figures["database crashed at"] = round(time.monotonic() - began, 1)
        figures["database away for s"] = round(private_pg.crash_restart(), 1)

        # Every case must reach its end: the users go on completing (starting nothing new) until nothing waits.
        deadline = began + LOAD_SECONDS + DRAIN_SECONDS
        check = Runtime(Database(url))

        def open_cases() -> int:
            try:
                with check.db.reading() as session:
                    return len(session.execute(select(Case.id).where(Case.process_key == PROCESS,
                                                                     Case.status != "completed")).all())
            except Exception:  # noqa: BLE001 - the database may still be recovering
                return -1

        while time.monotonic() < deadline and (time.monotonic() < began + LOAD_SECONDS or open_cases() != 0):
            time.sleep(0.5)
        figures["drained after s"] = round(time.monotonic() - began, 1)
    finally:
        for person in people:
            person.stop.set()
        for person in people:
            person.join(timeout=30)
        for proc in workers:
            proc.send_signal(signal.SIGTERM)
        os.killpg(web.pid, signal.SIGTERM)
        for proc in [*workers, web]:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()

    started = [c for p in people for c in p.started]
    completed = [t for p in people for t in p.completed]
    seen = sum((p.seen for p in people), Counter())
    figures.update(cases_started=len(started), steps_completed=len(completed), answers=dict(seen))
    print("\nfaults under load:", json.dumps(figures, default=str))

    with check.db.reading() as session:
        cases_ = {c.id: c for c in session.execute(select(Case).where(Case.process_key == PROCESS)).scalars()}
        steps = {t.id: t for t in session.execute(select(HumanTask).where(
            HumanTask.case_id.in_(list(cases_)))).scalars()}
        done_events = Counter(e.task_id for e in session.execute(select(AuditEvent).where(
            AuditEvent.kind == "task_completed", AuditEvent.case_id.in_(list(cases_)))).scalars())
        timer_rows = list(session.execute(select(Timer).where(Timer.case_id.in_(list(cases_)))).scalars())
        fired_events = Counter(
            audit.readable(session, e.payload if isinstance(e.payload, dict) else json.loads(e.payload))["timer_id"]
            for e in session.execute(select(AuditEvent).where(AuditEvent.kind == "timer_fired",
                                                              AuditEvent.case_id.in_(list(cases_)))).scalars())
        verified = audit_verify.verify(session)
    check.db.close()

    assert len(started) >= USERS and len(completed) >= 2 * USERS, figures  # the load was real
    # Nothing acknowledged lost: every answered start and completion is there, with its audit event.
    assert set(started) <= set(cases_)
    assert all(steps[t].state == "completed" for t in completed)
    assert all(done_events[t] == 1 for t in completed)
    # Nothing doubled: one completion event per step, one firing per timer and each fired timer fired once.
    assert max(done_events.values()) == 1
    assert all(fired_events[r.id] == (1 if r.state == "fired" else 0) for r in timer_rows)
    assert sum(fired_events.values()) == len([r for r in timer_rows if r.state == "fired"])
    assert verified["ok"], verified["problems"][:5]
    # Every case still advanced to its end: three steps and two timers each.
    assert {c.status for c in cases_.values()} == {"completed"}, Counter(c.status for c in cases_.values())
    assert all(sum(1 for t in steps.values() if t.case_id == c and t.state == "completed") == 3 for c in cases_)
    assert Counter(r.case_id for r in timer_rows if r.state == "fired") == {c: 2 for c in cases_}


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
