"""The cheaper tree walk (engine/speedups/task_walk.py) and the direct state reader
(engine/definitions/serialization.py) give what SpiffWorkflow's own iterator and converters give, at every command
of real cases.

Each command's workflow is checked as the command finishes: every task walk SpiffWorkflow can ask for yields
the same tasks in the same order, and the state saved reads back, directly, into the same workflow the
converters make of it (compared as the converters' own text of both, and task by task).
"""
from __future__ import annotations

import datetime as dt
import json

import pytest
from SpiffWorkflow.bpmn.util.task import BpmnTaskFilter, BpmnTaskIterator
from SpiffWorkflow.util.task import TaskIterator, TaskState
from sqlalchemy import event, select

from engine.definitions import serialization
from engine.reports.models import ReportEntry
from engine.runtime import advance
from engine.speedups import state_text, task_walk
from engine.store import clock
from engine.store.models import Case, HumanTask
from engine.timers import timers

from .timer_helpers import VISIT, complete, end_of_local_day, family_case_follow_up_fired, local, start_follow_up

FILTERS = [dict(state=s) for s in (TaskState.READY, TaskState.WAITING, TaskState.NOT_FINISHED_MASK,
                                   TaskState.ANY_MASK, TaskState.COMPLETED, TaskState.PREDICTED_MASK,
                                   TaskState.DEFINITE_MASK, TaskState.FINISHED_MASK)]
FILTERS += [dict(state=TaskState.READY, manual=True), dict(state=TaskState.READY, manual=False),
            dict(state=TaskState.ANY_MASK, spec_name="Start")]


def _ids(tasks) -> list:
    return [t.id for t in tasks]


def _compare_walks(workflow) -> int:
    """Every filter, from the root and from each task: the walk's order equals SpiffWorkflow's iterator's."""
    compared = 0
    for first in [workflow.task_tree, *list(workflow.tasks.values())[::7]]:
        for f in FILTERS:
            original = _ids(BpmnTaskIterator(first, **f))
            assert _ids(workflow.get_tasks(first, **f)) == original
            if not workflow.subprocesses:
                assert _ids(task_walk.walk(first, BpmnTaskFilter(**f))) == original
                walked = task_walk.walk(first, TaskIterator(first, **f).task_filter)
                assert _ids(walked) == _ids(TaskIterator(first, **f))
            compared += 1
    for name in {t.task_spec.name for t in workflow.tasks.values()}:  # by spec name: one, a few or many tasks
        for state in (TaskState.ANY_MASK, TaskState.NOT_FINISHED_MASK, TaskState.FINISHED_MASK):
            assert _ids(workflow.get_tasks(spec_name=name, state=state)) == _ids(
                BpmnTaskIterator(workflow.task_tree, spec_name=name, state=state))
    end = workflow.spec.end  # the process's end join: may it fire, asked for any task of the tree
    for task in [*list(workflow.tasks.values())[::3], *workflow.get_tasks(spec_name=end.name)]:
        assert task_walk.end_join_may_fire(end, task) == task_walk._original_end_join(end, task)
    # Outside what the walk takes (a depth limit the tree reaches, an end spec): SpiffWorkflow's iterator.
    assert _ids(workflow.get_tasks(max_depth=3)) == _ids(BpmnTaskIterator(workflow.task_tree, max_depth=3))
    assert _ids(workflow.get_tasks(end_at_spec="Start")) == _ids(BpmnTaskIterator(workflow.task_tree,
                                                                                  end_at_spec="Start"))
    return compared


def _task_view(workflow) -> list:
    return [(t.id, t._parent, list(t._children), t._state, t.task_spec.name, t.last_state_change, t.triggered,
             t.internal_data, t.data) for t in workflow.tasks.values()]


@pytest.fixture
def checked(monkeypatch):
    """At every command's end, the walks compared; at every save, the direct read compared with the converters'."""
    seen = {"walks": 0, "direct": 0, "converters": 0, "subprocesses": 0}
    finish, dump = advance.Advance.finish, serialization.dump_state

    def finish_checked(self):
        seen["walks"] += _compare_walks(self.workflow)
        seen["subprocesses"] += bool(self.workflow.subprocesses)
        return finish(self)

    def dump_checked(workflow):
        state = dump(workflow)
        view_spec, subs = workflow.spec, workflow.subprocess_specs
        text = serialization.state_json(state)
        direct = state_text.direct_load(json.loads(text), text, view_spec, subs)
        dct = json.loads(text)
        serialization._specless.migrate(dct)
        reference = serialization._specless.registry.restore(dct, spec=view_spec, subprocess_specs=subs)
        if direct is None:
            seen["converters"] += 1
            assert serialization.load_state(state, view_spec, subs) is not None
            return state
        seen["direct"] += 1
        assert serialization.converters_json(direct) == serialization.converters_json(reference)
        assert _task_view(direct) == _task_view(reference)
        assert direct.last_task.id == reference.last_task.id and direct.data == reference.data
        assert direct.task_tree.id == reference.task_tree.id
        assert sorted(map(str, direct.event_manager.tasks)) == sorted(map(str, reference.event_manager.tasks))
        assert (direct.success, direct.completed, direct.correlations) == (reference.success, reference.completed,
                                                                           reference.correlations)
        return state

    monkeypatch.setattr(advance.Advance, "finish", finish_checked)
    monkeypatch.setattr(serialization, "dump_state", dump_checked)
    return seen


def test_walks_and_direct_reads_equal_spiffworkflows_own_through_a_job_retention_follow_up(runtime, people,
                                                                                             checked):
    clock.freeze(local("2026-01-28", 10))
    case_id = start_follow_up(runtime, people.anna)
    for day in ("2026-02-07", "2026-02-14", "2026-02-21"):
        clock.freeze(local(day, 9))
        assert timers.fire_due(runtime, "w") == 1
        complete(runtime, case_id, "jr_visit", {**VISIT, "visit_date": day}, people.anna)
    assert checked["walks"] > 100 and checked["direct"] >= 8, checked


def test_states_the_reader_does_not_take_go_through_the_converters_and_read_the_same(runtime, people, checked):
    # Family care: a multi-instance subprocess (the walk leaves it to SpiffWorkflow, the reader to the converters).
    family_case_follow_up_fired(runtime, people)
    assert checked["subprocesses"] and checked["converters"] and checked["direct"], checked


def test_a_typed_value_in_the_data_is_read_by_the_converters(runtime, people):
    clock.freeze(local("2026-01-28", 10))
    case_id = start_follow_up(runtime, people.anna)
    workflow = runtime.workflows.take(case_id, _lock_version(runtime, case_id))
    workflow.last_task.data["when"] = dt.date(2026, 2, 1)  # written as {"value": ..., "typename": "date"}
    state = serialization.dump_state(workflow)
    text = serialization.state_json(state)
    assert state_text.direct_load(json.loads(text), text, workflow.spec, workflow.subprocess_specs) is None
    loaded = serialization.load_state(state, workflow.spec, workflow.subprocess_specs)
    assert loaded.last_task.data["when"] == dt.date(2026, 2, 1)


def _lock_version(runtime, case_id: int) -> int:
    with runtime.db.reading() as session:
        return session.get(Case, case_id).lock_version


def test_a_visit_firing_writes_the_task_with_its_due_date_skips_the_unchanged_indicator_row_and_caches_nothing(
        runtime, people):
    clock.freeze(local("2026-01-28", 10))
    case_id = start_follow_up(runtime, people.anna)
    clock.freeze(local("2026-02-07", 9))
    statements = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        statements.append(" ".join(statement.lower().split()))

    event.listen(runtime.db.engine, "before_cursor_execute", capture)
    try:
        assert timers.fire_due(runtime, "w") == 1
    finally:
        event.remove(runtime.db.engine, "before_cursor_execute", capture)
    # The visit task's due date goes in with its row (no UPDATE after the INSERT); the case's report rows are
    # neither read nor written, since no task was completed and its facts did not change.
    assert any(s.startswith("insert into human_tasks") for s in statements)
    assert not any(s.startswith("update human_tasks") for s in statements), statements
    assert not any("report_cases" in s or "report_entries" in s for s in statements), statements
    with runtime.db.reading() as session:
        visit = session.execute(select(HumanTask).where(HumanTask.case_id == case_id,
                                                        HumanTask.bpmn_id == "jr_visit")).scalar_one()
    assert visit.due_at == end_of_local_day("2026-02-07")
    # The worker does not keep the workflow it fired: the next command on the case reads the saved state.
    assert runtime.workflows.take(case_id, _lock_version(runtime, case_id)) is None
    # Recording the visit (a completed task) writes the visit's entry.
    complete(runtime, case_id, "jr_visit", {**VISIT, "visit_date": "2026-02-07"}, people.anna)
    with runtime.db.reading() as session:
        assert session.execute(select(ReportEntry.day).where(ReportEntry.case_id == case_id,
                                                             ReportEntry.collection == "visits")
                               ).scalars().all() == [dt.date(2026, 2, 7)]
