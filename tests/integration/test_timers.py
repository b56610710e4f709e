"""Timer firing as a mechanism: exactly once with several workers, a worker killed mid-firing, downtime,
cycles, failures that become incidents and are retried. SQLite and PostgreSQL unless stated."""
from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import threading

import pytest
from sqlalchemy import func, select

from engine.cases import cases
from engine.errors import Forbidden, SegitoError
from engine.runtime import advance, services
from engine.store import clock
from engine.store.models import AuditEvent, Case
from engine.store.timer_models import Timer
from engine.timers import timers
from tests import demo_data

from .timer_helpers import (
    _HEAD,
    _TAIL,
    CYCLE_PROBE,
    TIMER_ONLY,
    TIMER_PROBE,
    _lane,
    administrator,
    clone_cases,
    count_events,
    deploy,
    events,
    json_payloads,
    local,
    ready_tasks,
    start_follow_up,
    timer_rows,
)


def _start(runtime, people, process_key: str, xml: str, i: int = 0) -> int:
    deploy(runtime, xml, f"{process_key}.bpmn")
    code = demo_data.run_intake(runtime, people.anna, i)
    return cases.start_case(runtime, process_key, people.anna, code)["case_id"]


def _run_workers(runtime, names: list[str]) -> dict[str, int]:
    fired = {}

    def work(name):
        fired[name] = timers.fire_due(runtime, name)

    threads = [threading.Thread(target=work, args=(n,)) for n in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return fired


def _fired_exactly_once(runtime, n: int) -> None:
    with runtime.db.reading() as session:
        assert session.execute(select(func.count()).select_from(Timer).where(Timer.state == "fired")).scalar() == n
        assert session.execute(select(func.count()).select_from(Timer).where(Timer.state != "fired")).scalar() == 0
        # One timer_fired event per timer, and every case completed once.
        assert session.execute(select(func.count(AuditEvent.id)).where(AuditEvent.kind == "timer_fired")).scalar() == n
        assert session.execute(select(func.count(func.distinct(AuditEvent.case_id)))
                               .where(AuditEvent.kind == "timer_fired")).scalar() == n
        assert session.execute(select(func.count(AuditEvent.id)).where(AuditEvent.kind == "case_completed")).scalar() \
            == n + 1  # and the intake
        assert session.execute(select(func.count()).select_from(Case).where(Case.status != "completed")).scalar() == 0


# Several concurrent workers with SKIP LOCKED is PostgreSQL's case (SQLite has one writer), so only there.
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_two_worker_processes_fire_10000_timers_due_at_once_each_exactly_once_on_postgresql(runtime, people,
                                                                                           database_url, tmp_path):
    template = _start(runtime, people, "timer_only", TIMER_ONLY)
    clone_cases(runtime, template, 9_999)
    # Two `segito worker --once` processes (two processes: the GIL does not serialise them). They run on the real
    # clock, months after the test clock's 2026-03-02 10:00 due time, so all 10,000 are due at once.
    env = {**os.environ, "DATABASE_URL": database_url}
    logs = [tmp_path / f"worker-{i}.log" for i in range(2)]
    outs = [tmp_path / f"worker-{i}.json" for i in range(2)]
    # Files, not pipes: a worker blocked on a full pipe while holding a case lock would stall the other one.
    workers = [subprocess.Popen([sys.executable, "-m", "engine.cli", "worker", "--once"], env=env,
                                stdout=out.open("w"), stderr=log.open("w")) for out, log in zip(outs, logs)]
    for w in workers:
        w.wait(timeout=1500)
    assert [w.returncode for w in workers] == [0, 0], [log.read_text()[-2000:] for log in logs]
    fired = [json.loads(out.read_text())["fired"] for out in outs]
    assert sum(fired) == 10_000 and min(fired) > 0, fired
    _fired_exactly_once(runtime, 10_000)
    with runtime.db.reading() as session:
        by_worker = sorted(session.execute(select(func.count()).select_from(Timer).group_by(Timer.fired_by))
                           .scalars())
    assert by_worker == sorted(fired)


def test_two_workers_on_either_database_fire_each_due_timer_once(runtime, people):
    template = _start(runtime, people, "timer_only", TIMER_ONLY)
    clone_cases(runtime, template, 199)
    clock.advance(dt.timedelta(hours=2))
    fired = _run_workers(runtime, ["a", "b"])
    assert sum(fired.values()) == 200
    _fired_exactly_once(runtime, 200)


def test_a_worker_killed_after_claiming_leaves_its_claim_to_expire_and_another_fires_once(runtime, people):
    case_id = _start(runtime, people, "timer_only", TIMER_ONLY)
    clock.advance(dt.timedelta(hours=1, seconds=1))
    [(timer_id, _case, _run_at)] = timers.claim_due(runtime, "dead-worker")  # claimed, then the worker dies
    assert timers.fire_due(runtime, "live-worker") == 0  # the claim still holds
    clock.advance(dt.timedelta(seconds=timers.CLAIM_SECONDS + 1))
    assert timers.fire_due(runtime, "live-worker") == 1
    assert timers.fire(runtime, timer_id, "dead-worker") == 0  # were it to wake up: nothing to do
    assert timers.fire_due(runtime, "live-worker") == 0
    [row] = timer_rows(runtime, case_id)
    assert (row.state, row.fired_by, row.claimed_by) == ("fired", "live-worker", None)
    assert len(events(runtime, "timer_fired", case_id)) == 1


def test_a_worker_killed_in_the_middle_of_firing_changes_nothing_and_the_timer_fires_once_later(runtime, people,
                                                                                                 monkeypatch):
    case_id = _start(runtime, people, "timer_only", TIMER_ONLY)
    with runtime.db.reading() as session:
        before = session.get(Case, case_id).lock_version
    clock.advance(dt.timedelta(hours=1, seconds=1))
    real_finish = advance.Advance.finish

    def killed(self):
        real_finish(self)  # everything is written inside the transaction … and then the process dies
        raise SystemExit("killed")

    monkeypatch.setattr(advance.Advance, "finish", killed)
    with pytest.raises(SystemExit):
        timers.fire_due(runtime, "dying-worker")
    monkeypatch.setattr(advance.Advance, "finish", real_finish)
    [row] = timer_rows(runtime, case_id)
    assert (row.state, row.claimed_by, row.attempts) == ("scheduled", "dying-worker", 0)  # rolled back, not failed
    with runtime.db.reading() as session:
        assert session.get(Case, case_id).lock_version == before
    assert events(runtime, "timer_fired", case_id) == []
    assert timers.fire_due(runtime, "other-worker") == 0  # the dead worker's claim has not expired yet
    clock.advance(dt.timedelta(seconds=timers.CLAIM_SECONDS + 1))
    assert timers.fire_due(runtime, "other-worker") == 1
    assert len(events(runtime, "timer_fired", case_id)) == 1
    assert cases.get_case(runtime, case_id, people.anna)["status"] == "completed"


def test_after_downtime_overdue_timers_fire_once_each_in_due_order(runtime, people):
    clock.freeze(local("2026-01-28", 10))
    first = start_follow_up(runtime, people.anna, start="2026-01-31", i=0)
    second = start_follow_up(runtime, people.anna, start="2026-02-03", i=1)
    # The service is down from 1 February to 1 March: four visits of the first client, three of the second.
    clock.freeze(local("2026-03-01", 9))
    assert timers.fire_due(runtime, "after-downtime") == 7
    assert timers.fire_due(runtime, "after-downtime") == 0
    fired = json_payloads(events(runtime, "timer_fired"))
    dues = [f["due_at"] for f in fired]
    assert dues == sorted(dues) and len(set(f["timer_id"] for f in fired)) == 7
    for case_id, days in ((first, ["2026-02-07", "2026-02-14", "2026-02-21", "2026-02-28"]),
                          (second, ["2026-02-10", "2026-02-17", "2026-02-24", "2026-03-03"][:3])):
        visits = ready_tasks(runtime, case_id, "jr_visit")
        assert [v.due_at.date() for v in visits] == [dt.date.fromisoformat(d) for d in days]  # ids in due order
    # The second client's fourth visit (3 March) is not due yet, and the late fired ones report their lateness.
    assert max(f["late_seconds"] for f in fired) > 20 * 86400


@pytest.mark.parametrize("limit", [timers.BATCH, 2])
def test_catching_up_fires_in_due_order_across_cases_with_the_timers_the_catch_up_starts(runtime, people, limit):
    # Two follow-up clients (weekly visits) and a one-hour timer started on 19 February; the service is down
    # from before the first visit to 1 March. Each fired visit starts the client's next one, already due: it
    # fires in its turn among the others, not after everything claimed with it (a claim of 100, or of 2).
    clock.freeze(local("2026-01-28", 10))
    first = start_follow_up(runtime, people.anna, start="2026-01-31", i=0)
    second = start_follow_up(runtime, people.anna, start="2026-02-03", i=1)
    clock.freeze(local("2026-02-19", 9))
    hourly = _start(runtime, people, "timer_only", TIMER_ONLY, i=2)
    clock.freeze(local("2026-03-01", 9))
    assert timers.fire_due(runtime, "after-downtime", limit=limit) == 8
    fired = [(e.case_id, e.payload["due_at"]) for e in events(runtime, "timer_fired")]
    assert [f[1] for f in fired] == sorted(f[1] for f in fired)
    assert [case for case, _due in fired] == [first, second, first, second, hourly, first, second, first]
    assert timer_rows(runtime, state="scheduled") and all(r.claimed_by is None
                                                          for r in timer_rows(runtime, state="scheduled"))


# start → n = 0 → an hour → n + 1 (the second round divides by zero) → again while n < 4.
HOURLY_LOOP = (_HEAD.format(key="hourly_loop") + _lane("start", "init", "wait", "count", "again", "end") + """
<bpmn:startEvent id="start"><bpmn:outgoing>f0</bpmn:outgoing></bpmn:startEvent>
<bpmn:scriptTask id="init" name="Init"><bpmn:incoming>f0</bpmn:incoming><bpmn:outgoing>f1</bpmn:outgoing>
  <bpmn:script>n = 0</bpmn:script></bpmn:scriptTask>
<bpmn:intermediateCatchEvent id="wait" name="An hour"><bpmn:incoming>f1</bpmn:incoming><bpmn:incoming>f4</bpmn:incoming>
  <bpmn:outgoing>f2</bpmn:outgoing>
  <bpmn:timerEventDefinition><bpmn:timeDuration>'PT1H'</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>
<bpmn:scriptTask id="count" name="Count"><bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
  <bpmn:script>n = n + 1
x = 1 / (2 - n)</bpmn:script></bpmn:scriptTask>
<bpmn:exclusiveGateway id="again" default="f5"><bpmn:incoming>f3</bpmn:incoming><bpmn:outgoing>f4</bpmn:outgoing>
  <bpmn:outgoing>f5</bpmn:outgoing></bpmn:exclusiveGateway>
<bpmn:endEvent id="end"><bpmn:incoming>f5</bpmn:incoming></bpmn:endEvent>
<bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="init" /><bpmn:sequenceFlow id="f1" sourceRef="init" targetRef="wait" />
<bpmn:sequenceFlow id="f2" sourceRef="wait" targetRef="count" /><bpmn:sequenceFlow id="f3" sourceRef="count" targetRef="again" />
<bpmn:sequenceFlow id="f4" sourceRef="again" targetRef="wait"><bpmn:conditionExpression>n &lt; 4</bpmn:conditionExpression></bpmn:sequenceFlow>
<bpmn:sequenceFlow id="f5" sourceRef="again" targetRef="end" />
""" + _TAIL)


def test_a_timer_started_and_failing_within_one_catch_up_is_recorded_on_itself_not_on_the_one_before(runtime,
                                                                                                    people):
    case_id = _start(runtime, people, "hourly_loop", HOURLY_LOOP)
    clock.advance(dt.timedelta(hours=5))  # downtime: the first round is due, and so is the next it starts
    timers.fire_due(runtime, "w")
    first, second = timer_rows(runtime, case_id)
    assert (first.state, first.attempts, first.last_error) == ("fired", 0, None)
    assert (second.state, second.attempts, second.claimed_by) == ("scheduled", 1, None)
    assert "ZeroDivisionError" in second.last_error
    assert [e.payload["timer_id"] for e in events(runtime, "timer_failed", case_id)] == [second.id]


def _times_fired(runtime, case_id: int) -> dict[str, int]:
    counted: dict[str, int] = {}
    for p in json_payloads(events(runtime, "timer_fired", case_id)):
        counted[p["bpmn_id"]] = counted.get(p["bpmn_id"], 0) + p.get("times", 1)
    return counted


def test_a_cycle_fires_once_for_missed_intervals_unless_its_event_says_each(runtime, people):
    case_id = _start(runtime, people, "cycle_probe", CYCLE_PROBE)
    rows = timer_rows(runtime, case_id, "scheduled")
    assert {(r.bpmn_id, r.event_kind) for r in rows} == {("hourly", "cycle"), ("hourly_each", "cycle")}
    clock.advance(dt.timedelta(hours=3, minutes=30))  # three intervals missed
    timers.fire_due(runtime, "w")
    assert _times_fired(runtime, case_id) == {"hourly": 1, "hourly_each": 3}
    nexts = {r.bpmn_id: r.due_at for r in timer_rows(runtime, case_id, "scheduled")}
    start = min(r.due_at for r in rows) - dt.timedelta(hours=1)
    assert nexts == {"hourly": start + dt.timedelta(hours=4), "hourly_each": start + dt.timedelta(hours=4)}
    clock.advance(dt.timedelta(hours=10))
    timers.fire_due(runtime, "w")
    assert _times_fired(runtime, case_id) == {"hourly": 2, "hourly_each": 5}  # R5: the "each" cycle is spent
    assert timer_rows(runtime, case_id, "scheduled") == []


@pytest.fixture
def flaky(monkeypatch):
    """A service operation the test can break and mend: an external system that is down, then up again."""
    state = {"down": True, "calls": 0}

    def provide(runtime, session, case, actor, at, case_audit):
        def probe(task_data, **_):
            state["calls"] += 1
            if state["down"]:
                raise ConnectionError("the register is unreachable")
            return {"ok": True}
        return {"flaky": probe}

    monkeypatch.setattr(services, "PROVIDERS", [*services.PROVIDERS, provide])
    return state


def test_a_failing_timer_is_retried_with_backoff_then_becomes_an_incident_and_a_retry_succeeds(runtime, people,
                                                                                                  flaky):
    case_id = _start(runtime, people, "timer_probe", TIMER_PROBE)
    root = administrator(runtime)
    clock.advance(dt.timedelta(minutes=10, seconds=1))
    for attempt, backoff in enumerate(timers.BACKOFF_SECONDS, start=1):
        assert timers.fire_due(runtime, "w") == 0
        [row] = timer_rows(runtime, case_id)
        assert (row.state, row.attempts, row.claimed_by) == ("scheduled", attempt, None)
        assert row.run_at == clock.now() + dt.timedelta(seconds=backoff)
        assert "ConnectionError: the register is unreachable" in row.last_error
        assert timers.fire_due(runtime, "w") == 0 and flaky["calls"] == attempt  # not before its backoff
        clock.advance(dt.timedelta(seconds=backoff + 1))
    assert timers.fire_due(runtime, "w") == 0
    [row] = timer_rows(runtime, case_id)
    assert (row.state, row.attempts) == ("incident", timers.MAX_ATTEMPTS)
    assert ready_tasks(runtime, case_id) == []  # nothing of the failed firings was kept
    clock.advance(dt.timedelta(days=1))
    assert timers.fire_due(runtime, "w") == 0 and flaky["calls"] == timers.MAX_ATTEMPTS  # incidents wait
    seen = timers.overview(runtime, root)
    assert [i["timer_id"] for i in seen["incidents"]] == [row.id] and seen["counts"]["incident"] == 1
    assert "unreachable" in seen["incidents"][0]["last_error"]

    with pytest.raises(Forbidden):
        timers.retry_incident(runtime, row.id, people.mark)
    flaky["down"] = False
    timers.retry_incident(runtime, row.id, root)
    with pytest.raises(SegitoError):
        timers.retry_incident(runtime, row.id, root)  # a scheduled timer without failures is no incident
    clock.advance(dt.timedelta(seconds=1))
    assert timers.fire_due(runtime, "w") == 1
    [row] = timer_rows(runtime, case_id)
    assert row.state == "fired"
    assert [t.bpmn_id for t in ready_tasks(runtime, case_id)] == ["after"]
    kinds = [e["kind"] for e in cases.history(runtime, case_id, people.anna)]
    assert kinds.count("timer_failed") == 4 and kinds.count("timer_incident_opened") == 1
    assert kinds.index("timer_retried") < kinds.index("timer_fired")
    assert count_events(runtime, "timer_fired") == 1


def test_only_an_administrator_sees_the_scheduler(runtime, people):
    with pytest.raises(Forbidden):
        timers.overview(runtime, people.mark)
