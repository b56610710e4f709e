"""Cases survive restarts, one command is one transaction, and concurrent completions do not corrupt."""
from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import func, select

from engine.cases import cases, tasks
from engine.definitions import serialization
from engine.errors import Conflict, Forbidden
from engine.runtime.runtime import Runtime
from engine.sandbox import calendar_helpers
from engine.store import clock
from engine.store.db import Database
from engine.store.models import AuditEvent, Case, HumanTask
from engine.timers import timers
from tests import demo_data

from .helpers import do, new_family_case, review, snapshot, task_of, waiting, waiting_steps


def _fresh(runtime) -> Runtime:
    """A new runtime on the same database: no cached workflow, spec or form — as after a restart."""
    return Runtime(Database(runtime.db.url))


def _ready_in_workflow(rt, case_id):
    from SpiffWorkflow.util.task import TaskState

    with rt.db.reading() as session:
        case = session.get(Case, case_id)
        view = rt.definition(session, case.definition_id)
        wf = serialization.load_state(case.state, view.spec, view.subprocess_specs)
        ready = wf.get_tasks(state=TaskState.READY, manual=True)
        return sorted(t.task_spec.name for t in ready), (dict(ready[0].data) if ready else dict(wf.last_task.data))


def test_reloading_from_the_database_between_every_step_gives_the_same_state(runtime, people):
    case_id = new_family_case(runtime, people)
    steps = [("step_3_1", demo_data.assessment_data()), ("step_3_2", {"agreement_date": "2026-03-05",
                                                                      "review_frequency": "monthly"}),
             ("step_3_3", {"meetings": [demo_data.meeting(6)], "casework_next": "case_discussion"}),
             ("step_3_4", {"actions": [demo_data.action(7)]}),
             ("step_3_3", {"meetings": [demo_data.meeting(6)], "casework_next": "review"}),
             ("step_3_6", demo_data.review_data(False)),
             ("step_3_9", demo_data.further_service_data()),
             ("step_3_7", {"needs_other_helpers": False, "action_plan": "Új terv"}),
             ("step_3_3", {"casework_next": "review"}),
             ("step_3_6", demo_data.review_data(True, earlier=demo_data.review_checks())),
             ("step_3_8", demo_data.closure_data(True))]
    rt = runtime
    for bpmn_id, data in steps:
        do(rt, case_id, bpmn_id, data, people.anna)
        in_memory = cases.get_case(rt, case_id, people.anna)
        rt = _fresh(runtime)
        reloaded = cases.get_case(rt, case_id, people.anna)
        assert reloaded == in_memory
        names, wf_data = _ready_in_workflow(rt, case_id)
        assert names == sorted(t["bpmn_id"] for t in reloaded["current_tasks"])
        assert wf_data == reloaded["data"]
    do(rt, case_id, "agree_closure_success", {"closure_agreed": True}, people.lea)
    # The 3.10 follow-up contacts (docs/timers.md) wait for their days; the first (a month after closure) appears then.
    # Meanwhile only the step for an extra contact or ending early waits (step_3_10_manage).
    assert [t.bpmn_id for t in waiting(_fresh(runtime), case_id)] == ["step_3_10_manage"]
    clock.freeze(calendar_helpers.start_of_day(dt.date(2026, 7, 30)) + dt.timedelta(minutes=1))
    timers.fire_due(_fresh(runtime), "test-worker")
    assert sorted(t.bpmn_id for t in waiting(_fresh(runtime), case_id)) == ["step_3_10", "step_3_10_manage"]


def test_the_spec_is_stored_once_not_inside_instances(runtime, people):
    case_id = new_family_case(runtime, people)
    with runtime.db.reading() as session:
        state = session.get(Case, case_id).state
    import json

    dct = json.loads(serialization.state_json(state))
    assert "spec" not in dct and "subprocess_specs" not in dct
    assert b"step_3_11" not in serialization.state_json(state), "no task spec of an unreached step is in the state"


def _complete_in_threads(runtime, task_id, actor, data, n=2):
    barrier = threading.Barrier(n)
    results = []

    def worker():
        rt = _fresh(runtime)
        barrier.wait()
        try:
            results.append(("ok", tasks.complete(rt, task_id, data, actor)))
        except Conflict as e:
            results.append(("conflict", e.message))

    threads = [threading.Thread(target=worker) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


@pytest.mark.parametrize("attempt", range(3))
def test_two_concurrent_completions_exactly_one_wins(runtime, people, attempt):
    case_id = new_family_case(runtime, people, attempt)
    task_id = task_of(runtime, case_id, "step_3_1")
    results = _complete_in_threads(runtime, task_id, people.anna, demo_data.assessment_data())
    assert sorted(r[0] for r in results) == ["conflict", "ok"], results
    assert "already completed" in [r[1] for r in results if r[0] == "conflict"][0]
    with runtime.db.reading() as session:
        done = session.execute(select(func.count()).where(
            AuditEvent.case_id == case_id, AuditEvent.kind == "task_completed")).scalar()
        ready = session.execute(select(HumanTask.bpmn_id).where(
            HumanTask.case_id == case_id, HumanTask.state == "ready")).scalars().all()
    assert done == 1 and ready == ["step_3_2"]
    # The case goes on normally from the winner's state, in a fresh process too.
    do(_fresh(runtime), case_id, "step_3_2", {"agreement_date": "2026-03-05",
                                              "review_frequency": "monthly"}, people.anna)
    from engine.store import audit

    with runtime.db.reading() as session:
        assert audit.verify_case_chain(session, session.get(Case, case_id)) == []


def test_a_stale_cached_workflow_is_not_used_after_another_process_moved_the_case(runtime, people):
    case_id = new_family_case(runtime, people)
    other = _fresh(runtime)
    cases.get_case(runtime, case_id, people.anna)  # runtime caches version n
    do(other, case_id, "step_3_1", demo_data.assessment_data(), people.anna)  # another process moves it
    assert waiting_steps(runtime, case_id) == ["3.2"]
    do(runtime, case_id, "step_3_2", {"agreement_date": "2026-03-05", "review_frequency": "monthly"}, people.anna)
    assert cases.get_case(_fresh(runtime), case_id, people.anna)["data"]["agreement_date"] == "2026-03-05"


def test_completing_an_already_completed_task_is_a_conflict(runtime, people):
    case_id = new_family_case(runtime, people)
    task_id = task_of(runtime, case_id, "step_3_1")
    tasks.complete(runtime, task_id, demo_data.assessment_data(), people.anna)
    before = snapshot(runtime, case_id)
    with pytest.raises(Conflict, match="already completed by anna"):
        tasks.complete(runtime, task_id, demo_data.assessment_data(), people.anna)
    assert snapshot(runtime, case_id) == before


def test_a_failure_inside_the_engine_rolls_back_everything(runtime, people, monkeypatch):
    case_id = new_family_case(runtime, people)
    through = snapshot(runtime, case_id)
    from engine.runtime import advance

    def broken_save(self, completed):
        raise RuntimeError("disk full")

    monkeypatch.setattr(advance.Advance, "_save", broken_save)
    with pytest.raises(RuntimeError):
        do(runtime, case_id, "step_3_1", demo_data.assessment_data(), people.anna)
    monkeypatch.undo()
    assert snapshot(runtime, case_id) == through
    do(runtime, case_id, "step_3_1", demo_data.assessment_data(), people.anna)
    assert waiting_steps(runtime, case_id) == ["3.2"]


def test_a_caseworker_cannot_touch_another_caseworkers_case(runtime, people):
    case_id = new_family_case(runtime, people)
    task_id = task_of(runtime, case_id, "step_3_1")
    before = snapshot(runtime, case_id)
    with pytest.raises(Forbidden):
        tasks.complete(runtime, task_id, demo_data.assessment_data(), people.bela)
    with pytest.raises(Forbidden):
        cases.get_case(runtime, case_id, people.bela)
    with pytest.raises(Forbidden):
        tasks.save_draft(runtime, task_id, {}, people.bela)
    with pytest.raises(Forbidden):
        tasks.complete(runtime, task_id, demo_data.assessment_data(), people.lea)
    assert snapshot(runtime, case_id) == before
    assert cases.list_cases(runtime, people.bela) == []


def test_the_leads_queue_claim_and_release(runtime, people):
    case_id = new_family_case(runtime, people)
    from .helpers import through_agreement

    through_agreement(runtime, people, case_id)
    do(runtime, case_id, "step_3_3", {"casework_next": "review"}, people.anna)
    review(runtime, case_id, True, people.anna)
    do(runtime, case_id, "step_3_8", demo_data.closure_data(False), people.anna)
    box = tasks.inbox(runtime, people.lea)
    assert [t["bpmn_id"] for t in box["items"]] == ["agree_closure_success"] and box["total"] == 1
    assert tasks.inbox(runtime, people.anna)["total"] == 0
    task_id = box["items"][0]["task_id"]
    tasks.claim(runtime, task_id, people.lea)
    assert tasks.inbox(runtime, people.lea, mine_only=True)["total"] == 1
    with pytest.raises(Conflict):
        tasks.claim(runtime, task_id, people.lea)
    tasks.release(runtime, task_id, people.lea)
    assert tasks.inbox(runtime, people.lea, mine_only=True)["total"] == 0
    kinds = [e["kind"] for e in cases.history(runtime, case_id, people.lea)]
    assert "task_claimed" in kinds and "task_released" in kinds


def test_inbox_filters_and_paging(runtime, people):
    ids = [new_family_case(runtime, people, i) for i in range(5)]
    box = tasks.inbox(runtime, people.anna, process_key="family_care", limit=2)
    assert box["total"] == 5 and len(box["items"]) == 2
    page2 = tasks.inbox(runtime, people.anna, process_key="family_care", limit=2, offset=2)
    assert {t["case_id"] for t in page2["items"]}.isdisjoint({t["case_id"] for t in box["items"]})
    code = cases.get_case(runtime, ids[3], people.anna)["client"]["client_code"]
    only = tasks.inbox(runtime, people.anna, client_code=code)
    assert [t["case_id"] for t in only["items"]] == [ids[3]]
    assert tasks.inbox(runtime, people.anna, step="3.2")["total"] == 0


def test_a_routing_choice_outside_the_gateways_options_is_refused_before_the_engine_runs(runtime, people):
    case_id = new_family_case(runtime, people)
    from .helpers import through_agreement

    through_agreement(runtime, people, case_id)
    from engine.errors import ValidationFailed

    with pytest.raises(ValidationFailed):
        do(runtime, case_id, "step_3_3", {"casework_next": "teleport"}, people.anna)
    assert waiting_steps(runtime, case_id) == ["3.3"]
