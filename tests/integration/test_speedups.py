"""The speed-ups (engine/speedups/) change nothing but speed: the same family-care and job-retention path, run with
them in and with SpiffWorkflow's own internals (``SEGITO_SPEEDUPS=0``), leaves the same cases behind.

Compared: every task row (step, state, role, assignee, due date, draft), timer row and audit event (kind, actor,
payload); each workflow's tasks in SpiffWorkflow's own walk order with their specs, states and data; and the stored
state's JSON text itself. What differs between two runs whatever the code does is renamed first: task ids (random
UUIDs, renamed in the order they first appear), client codes (random), the times SpiffWorkflow notes on each task
(the wall clock, not the engine's) and the audit chain's hashes (over all of those).
"""
from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import uuid

import pytest
from sqlalchemy import create_engine, select, text

from engine import setup, speedups
from engine.definitions import serialization
from engine.runtime.runtime import Runtime
from engine.store import audit, clock
from engine.store.db import Database
from engine.store.models import AuditEvent, Case, HumanTask, User
from engine.store.timer_models import Timer
from engine.timers import timers
from tests.conftest import People

from .timer_helpers import VISIT, complete, family_case_follow_up_fired, local, start_follow_up

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_CLIENT_CODE = re.compile(r"K-[0-9A-Z]{8}")
_SPIFF_TIME = re.compile(r'"last_state_change": ?[0-9.e+-]+')
_HASH = re.compile(r"\b[0-9a-f]{64}\b")


def _path(runtime, people) -> list[int]:
    """A family-care case through closure with follow-up contacts (a multi-instance subprocess, fired timers) and a
    job-retention follow-up through three visits (timers fired by the worker)."""
    family = family_case_follow_up_fired(runtime, people)
    clock.freeze(local("2026-01-28", 10))
    retention = start_follow_up(runtime, people.anna)
    for day in ("2026-02-07", "2026-02-14", "2026-02-21"):
        clock.freeze(local(day, 9))
        assert timers.fire_due(runtime, "w") == 1
        complete(runtime, retention, "jr_visit", {**VISIT, "visit_date": day}, people.anna)
    return [family, retention]


def _normalised(value) -> str:
    found: dict[str, str] = {}
    # In the order written (not sorted: keys are task ids, random until renamed below).
    text_ = json.dumps(value, default=str, ensure_ascii=False)
    text_ = _SPIFF_TIME.sub('"last_state_change": 0', text_)
    text_ = _CLIENT_CODE.sub("K-client", text_)
    text_ = _HASH.sub("hash", text_)
    return _UUID.sub(lambda m: found.setdefault(m.group(0), f"task-{len(found)}"), text_)


def _view(runtime, case_ids: list[int]) -> list[str]:
    views = []
    with runtime.db.reading() as session:
        names = dict(session.execute(select(User.id, User.username)).all())
        for case_id in case_ids:
            case = session.get(Case, case_id)
            state = serialization.state_json(case.state).decode()
            view = runtime.definition(session, case.definition_id)
            workflow = serialization.load_state(case.state, view.spec, view.subprocess_specs)
            tasks = [(t.task_spec.name, t.state, str(t.id), t.data, t.internal_data) for t in workflow.get_tasks()]
            rows = [(r.bpmn_id, r.step, r.state, r.role, names.get(r.assignee_id), r.draft, r.due_at, r.spiff_task_id,
                     r.completed_at, r.completed_by)
                    for r in session.execute(select(HumanTask).where(HumanTask.case_id == case_id)
                                             .order_by(HumanTask.id)).scalars()]
            timer_rows = [(r.bpmn_id, r.state, r.due_at, r.run_at, r.attempts, r.spiff_task_id)
                          for r in session.execute(select(Timer).where(Timer.case_id == case_id)
                                                   .order_by(Timer.id)).scalars()]
            events = [(e.kind, e.actor, audit.readable(session, e.payload))
                      for e in session.execute(select(AuditEvent).where(AuditEvent.case_id == case_id)
                                               .order_by(AuditEvent.id)).scalars()]
            views.append(_normalised({"case": (case.process_key, case.status, case.lock_version, case.audit_seq),
                                      "state": json.loads(state), "tasks": tasks, "rows": rows,
                                      "timers": timer_rows, "events": events}))
    return views


def _fresh_runtime(database_url: str, tmp_path, sqlite_template) -> Runtime:
    """A second, empty database of the same backend, brought up as the runtime fixture brings up its own."""
    if database_url.startswith("sqlite"):
        path = tmp_path / f"second-{uuid.uuid4().hex[:8]}.db"
        shutil.copy(sqlite_template, path)
        url = f"sqlite:///{path}"
    else:
        url = database_url
        engine = create_engine(url)
        with engine.begin() as conn:
            tables = conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
                                       "AND tablename <> 'alembic_version'")).scalars().all()
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        engine.dispose()
    rt = Runtime(Database(url))
    setup.initialise(rt)
    return rt


@pytest.fixture
def speedups_in():
    assert speedups.active, "the speed-ups are in by default (SEGITO_SPEEDUPS unset)"
    yield
    assert speedups.active


def test_the_same_path_leaves_the_same_cases_with_the_speedups_in_and_out(runtime, people, database_url, tmp_path,
                                                                         sqlite_template, speedups_in):
    with_speedups = _view(runtime, _path(runtime, people))
    runtime.db.close()

    clock.freeze(dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.timezone.utc))
    with speedups.switched_off():
        assert not speedups.active
        second = _fresh_runtime(database_url, tmp_path, sqlite_template)
        try:
            without = _view(second, _path(second, People(second)))
        finally:
            second.db.close()

    assert len(with_speedups) == 2
    for kept, plain in zip(with_speedups, without):
        assert kept == plain
    # The comparison saw the paths' substance: visits, fired timers, a subprocess, audit events.
    assert '"subprocesses": {"' in with_speedups[0] and "step_3_10" in with_speedups[0]
    assert with_speedups[1].count("jr_visit") >= 3 and '"timer_fired"' in with_speedups[1]


def test_switched_off_puts_back_what_was_in():
    from SpiffWorkflow.workflow import Workflow

    installed = Workflow.update_waiting_tasks
    with speedups.switched_off():
        assert Workflow.update_waiting_tasks is not installed and not speedups.active
    assert Workflow.update_waiting_tasks is installed and speedups.active
