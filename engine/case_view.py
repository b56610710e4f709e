"""What a case page shows, read in one go: the case, its data, its history, and where it stands on its diagram.

Where it stands is read from the workflow's task tree (SpiffWorkflow stays behind the engine): a task that has
run is an element walked; a parent → child pair of tasks that both happened is a sequence flow taken. Predicted
tasks (the branches not chosen, the future) are left out. The workflow is loaded once for the data and the walk.
"""
from __future__ import annotations

from SpiffWorkflow.util.task import TaskState

from . import audit, cases
from .models import Case
from .runtime import Runtime
from .users import Actor

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


def case_page(runtime: Runtime, case_id: int, actor: Actor) -> dict:
    """``cases.get_case`` (authorised there) plus ``definition_id``, ``data``, ``history`` and the walk."""
    summary = cases.get_case(runtime, case_id, actor, with_data=False)
    with runtime.db.reading() as session:
        case = session.get(Case, case_id)
        history = audit.case_history(session, case_id)
        workflow = runtime.workflow(session, case)
        try:
            waiting = workflow.get_tasks(state=TaskState.READY, manual=True)
            source = waiting[0] if waiting else workflow.last_task
            data = dict(source.data) if source is not None else {}
            walked = _walk(workflow)
        finally:
            runtime.workflows.put(case.id, case.lock_version, workflow)
    return {**summary, "definition_id": case.definition_id, "data": data, "history": history, **walked}
