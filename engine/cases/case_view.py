"""What a case page shows, read in one go: the case, its data, its history, and where it stands on its diagram.

Where it stands is read from the workflow's task tree (SpiffWorkflow stays behind the engine): a task that has
run is an element walked; a parent → child pair of tasks that both happened is a sequence flow taken. Predicted
tasks (the branches not chosen, the future) are left out. The workflow is loaded once for the data and the walk.
"""
from __future__ import annotations

import copy
import threading
from collections import OrderedDict

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select

from ..people.users import Actor
from ..runtime.runtime import Runtime
from ..sandbox.calendar_helpers import local_date
from ..store import audit
from ..store.models import Case
from ..store.timer_models import Timer
from . import cases, masking

_HAPPENED = TaskState.COMPLETED | TaskState.READY | TaskState.STARTED | TaskState.WAITING | TaskState.ERROR


def _walk(workflow) -> dict:
    done, current, flows = set(), set(), set()
    for task in workflow.get_tasks():
        if not task.state & _HAPPENED:
            continue
        name = task.task_spec.name
        if task.state == TaskState.COMPLETED:
            done.add(name)
        else:
            current.add(name)
        if task.parent is not None and task.parent.state & _HAPPENED:
            flows.add((task.parent.task_spec.name, name))
    return {"done": sorted(done - current), "current": sorted(current), "flows": sorted([list(f) for f in flows])}


def progress(runtime: Runtime, case_id: int, actor: Actor) -> dict:
    """{"done": element ids run, "current": element ids waiting, "flows": [source, target] pairs taken}."""
    with runtime.db.reading() as session:
        case = cases.authorised_case(session, actor, case_id)
        workflow = runtime.workflow(session, case)
        try:
            return _walk(workflow)
        finally:
            runtime.workflows.put(case.id, case.lock_version, workflow)


class _Kept:
    """What a case page reads from a workflow, by (case id, lock version): a version never changes, so this is
    never stale, and a page seen again needs no workflow (loading one is most of a cold page's time)."""

    def __init__(self, capacity: int = 4096):
        self.capacity = capacity
        self.items: OrderedDict[tuple[int, int], dict] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key):
        with self.lock:
            found = self.items.get(key)
            if found is not None:
                self.items.move_to_end(key)
            return found

    def put(self, key, value) -> None:
        with self.lock:
            self.items[key] = value
            while len(self.items) > self.capacity:
                self.items.popitem(last=False)


def _kept(runtime: Runtime) -> _Kept:
    # Kept on the runtime (one runtime, one database), which declares no such attribute: hence its __dict__.
    kept: _Kept | None = runtime.__dict__.get("_case_view_kept")
    if kept is None:
        kept = runtime.__dict__["_case_view_kept"] = _Kept()
    return kept


def waiting_timers(session, case_id: int) -> list[dict]:
    """What the case waits for besides people: its timers still to fire, soonest first, with their trouble
    (``trouble``: "incident" after the retries ran out, "retrying" while failed attempts are retried,
    engine/timers/timers.py), so a case with no step waiting still says what comes next and when."""
    rows = session.execute(select(Timer).where(Timer.case_id == case_id, Timer.state.in_(("scheduled", "incident")))
                           .order_by(Timer.due_at, Timer.id)).scalars().all()
    return [{"timer_id": t.id, "bpmn_id": t.bpmn_id, "label": t.label, "purpose": t.purpose,
             "due_at": t.due_at.isoformat(), "date": local_date(t.due_at).isoformat(),
             "attempts": t.attempts,
             "trouble": "incident" if t.state == "incident" else "retrying" if t.attempts else None}
            for t in rows]


def case_page(runtime: Runtime, case_id: int, actor: Actor) -> dict:
    """``cases.get_case`` (authorised there) plus ``definition_id``, ``data``, ``history``, the walk and the
    timers it waits for."""
    summary = cases.get_case(runtime, case_id, actor, with_data=False)
    with runtime.db.reading() as session:
        case = session.get_one(Case, case_id)  # get_case found it, and cases are never deleted
        history = audit.case_history(session, case_id)
        timers = waiting_timers(session, case_id)
        key = (case.id, case.lock_version)
        read = _kept(runtime).get(key)
        if read is None:
            workflow = runtime.workflow(session, case)
            try:
                waiting = workflow.get_tasks(state=TaskState.READY, manual=True)
                source = waiting[0] if waiting else workflow.last_task
                read = {"data": dict(source.data) if source is not None else {}, **_walk(workflow)}
            finally:
                runtime.workflows.put(case.id, case.lock_version, workflow)
            _kept(runtime).put(key, read)
    data = copy.deepcopy(read["data"])
    if summary["names_masked"]:  # a role that needs no names sees codes (engine.cases.masking)
        fields = _identifying(runtime, case)
        data = masking.mask_data(data, fields)
        history = [masking.mask_event(e, fields) for e in history]
    return {**summary, "definition_id": case.definition_id, "data": data,
            "history": history, "timers": timers, "done": read["done"], "current": read["current"],
            "flows": read["flows"]}


def _identifying(runtime: Runtime, case: Case) -> frozenset[str]:
    with runtime.db.reading() as session:
        return masking.identifying_fields(runtime.definition(session, case.definition_id))
