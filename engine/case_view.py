"""Where a case stands on its diagram: the elements already walked, the waiting ones, the flows taken.

Read from the workflow's task tree (SpiffWorkflow stays behind the engine): a task that has run is an element
walked; a parent → child pair of tasks that both happened is a sequence flow taken. Predicted tasks (the
branches not chosen, the future) are left out.
"""
from __future__ import annotations

from SpiffWorkflow.util.task import TaskState

from .cases import authorised_case
from .runtime import Runtime
from .users import Actor

_HAPPENED = TaskState.COMPLETED | TaskState.READY | TaskState.STARTED | TaskState.WAITING | TaskState.ERROR


def progress(runtime: Runtime, case_id: int, actor: Actor) -> dict:
    """{"done": element ids run, "current": element ids waiting, "flows": [source, target] pairs taken}."""
    with runtime.db.reading() as session:
        case = authorised_case(session, actor, case_id)
        workflow = runtime.workflow(session, case)
        try:
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
            return {"done": sorted(done - current), "current": sorted(current),
                    "flows": sorted([list(f) for f in flows])}
        finally:
            runtime.workflows.put(case.id, case.lock_version, workflow)
