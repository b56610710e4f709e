"""Cheaper walks over a workflow's task tree, with SpiffWorkflow's own results (installed by engine.speedups.install).

SpiffWorkflow finds tasks by walking the tree from its root (``get_tasks``, ``get_next_task``), walks it again
after every completed task (``update_waiting_tasks``) and once more whenever the process's end join is updated.
Its iterator keeps a list it pops from the front, tracks the depth by walking up the parents of every leaf, and
looks each child up twice: in a job-retention timer firing (~50 tasks) these walks were about half of the
engine's time (docs/benchmarks.md).

The walk here yields the same tasks in the same order — depth first, a task's children taken when the task
itself is reached, the caller's filter object deciding what matches — with a stack and no depth bookkeeping.
``get_tasks`` first reads the task table for the tasks whose state (and spec name) fit, and places a few of
them where the walk would reach them instead of walking. All of it applies only where the bookkeeping cannot
change the result: a workflow without subprocesses (no descent into a subprocess's tree), no ``end_at_spec``,
depth-first order, and fewer tasks than ``max_depth`` (no task deep enough to be cut off). Everything else
goes to SpiffWorkflow's own iterator. tests/integration/test_workflow_hot_path.py compares both at every
command of real cases.

``install()`` also puts in the other replacements of SpiffWorkflow internals, each in a module of its own:
task ids without a system call each (engine/speedups/task_ids.py) and state changes without unread log records
(engine/speedups/task_state_log.py); ``uninstall()`` takes all of them out (engine/speedups/__init__.py).
"""
from __future__ import annotations

from SpiffWorkflow import task as spiff_task_module
from SpiffWorkflow.bpmn.specs.control import _EndJoin
from SpiffWorkflow.bpmn.util.subworkflow import BpmnBaseWorkflow
from SpiffWorkflow.bpmn.util.task import BpmnTaskFilter
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskFilter, TaskState
from SpiffWorkflow.workflow import Workflow

from . import task_ids, task_state_log

_original_get_tasks_iterator = BpmnBaseWorkflow.get_tasks_iterator
_original_update_waiting_tasks = Workflow.update_waiting_tasks


def _min_state(state: int) -> int:
    # TaskIterator.__init__: below which state a task's children cannot match the filter.
    if state & TaskState.PREDICTED_MASK:
        return TaskState.MAYBE
    if state & TaskState.DEFINITE_MASK:
        return TaskState.FUTURE
    return TaskState.COMPLETED


def walk(first, task_filter):
    """Yield the tasks under ``first`` (itself included) that ``task_filter`` matches, in TaskIterator's order."""
    wanted, matches = task_filter.state, task_filter.matches
    min_state = _min_state(wanted)
    stack = [first]
    pop, extend = stack.pop, stack.extend
    while stack:
        task = pop()
        children = task._children
        if children and task._state >= min_state:
            tasks = task.workflow.tasks
            extend([tasks.get(c) for c in reversed(children)])
        if task._state & wanted and matches(task):
            yield task


def _walkable(workflow, first, kwargs) -> bool:
    return (not workflow.top_workflow.subprocesses and first.workflow is workflow
            and kwargs.get("end_at_spec") is None and kwargs.get("depth_first", True)
            and len(workflow.tasks) < kwargs.get("max_depth", 1000))


_FILTER_KEYS = {"state", "updated_ts", "manual", "spec_name", "spec_class", "catches_event", "lane"}


def get_tasks_iterator(self, first_task=None, **kwargs):
    first = first_task or self.task_tree
    if first is not None and set(kwargs) <= _FILTER_KEYS | {"task_filter"} and _walkable(self, first, kwargs):
        task_filter = kwargs.pop("task_filter", None) or BpmnTaskFilter(**kwargs)
        return walk(first, task_filter)
    return _original_get_tasks_iterator(self, first_task, **kwargs)


def _position(first, task, min_state: int) -> tuple | None:
    """Where the walk from ``first`` reaches ``task``: the indexes of the children taken on the way down (so
    sorting positions gives the walk's order), or None when the walk does not reach it — a task on the way
    down whose state is below ``min_state`` (its children are not taken) or that does not hold the next one."""
    tasks = task.workflow.tasks
    steps = []
    node = task
    while node is not first:
        parent = tasks.get(node._parent) if node._parent is not None else None
        if parent is None or parent._state < min_state:
            return None
        try:
            steps.append(parent._children.index(node.id))
        except ValueError:
            return None
        node = parent
    return tuple(reversed(steps))


FEW = 4  # up to this many candidates are placed one by one; more are found by a walk


def get_tasks(self, first_task=None, **kwargs) -> list:
    """``Workflow.get_tasks``: the list the walk gives. The workflow's task table is read first (no tree walk)
    for the tasks whose state (and spec name, when asked) fit: none, and the list is empty; a few, and each is
    placed where the walk would reach it, if it does — a walk is left for when many might match."""
    first = first_task or self.task_tree
    if first is None or not set(kwargs) <= _FILTER_KEYS or not _walkable(self, first, kwargs):
        return list(_original_get_tasks_iterator(self, first_task, **kwargs))
    task_filter = BpmnTaskFilter(**kwargs)
    wanted, spec_name = task_filter.state, task_filter.spec_name
    candidates = [t for t in self.tasks.values()
                  if t._state & wanted and (spec_name is None or t.task_spec.name == spec_name)]
    if len(candidates) > FEW:
        return list(walk(first, task_filter))
    min_state = _min_state(wanted)
    placed = []
    for task in candidates:
        position = _position(first, task, min_state)
        if position is not None and task_filter.matches(task):
            placed.append((position, task))
    placed.sort(key=lambda p: p[0])
    return [task for _position_, task in placed]


def update_waiting_tasks(self) -> None:
    if self.task_tree is None or getattr(getattr(self, "top_workflow", None), "subprocesses", None) \
            or len(self.tasks) >= 1000:
        return _original_update_waiting_tasks(self)
    if not any(t._state & TaskState.WAITING for t in self.tasks.values()):
        return  # nothing waits, so nothing is updated (and nothing changes that could make a task wait)
    for task in walk(self.task_tree, TaskFilter(state=TaskState.WAITING)):
        task.task_spec._update(task)


def _reaches(root, task, end_at_spec: str) -> bool:
    """Whether SpiffWorkflow's iterator with ``end_at_spec`` and a state mask that takes every task's children
    (the predicted ones too) reaches ``task`` from ``root``: no task above it is an ``end_at_spec`` task."""
    tasks = task.workflow.tasks
    node = task
    while node is not root:
        parent = tasks.get(node._parent) if node._parent is not None else None
        if parent is None or parent.task_spec.name == end_at_spec or node.id not in parent._children:
            return False
        node = parent
    return True


def end_join_may_fire(self, my_task) -> bool:
    """``_EndJoin._check_threshold_unstructured``: the process's end waits while any other task is unfinished.

    SpiffWorkflow walks the tree (not past the end join itself) to the first unfinished task; only whether one
    exists matters, so the task table gives the unfinished ones and each is checked for being on that walk."""
    workflow = my_task.workflow
    root = workflow.task_tree
    if root is None or len(workflow.tasks) >= 1000:
        return _original_end_join(self, my_task)
    for task in workflow.tasks.values():
        if task._state & TaskState.NOT_FINISHED_MASK and task is not my_task and _reaches(root, task, self.name):
            return False
    return True


_original_end_join = _EndJoin._check_threshold_unstructured


_REPLACED = ((spiff_task_module, "uuid4", task_ids.task_id),
             (Task, "_set_state", task_state_log.set_state),
             (_EndJoin, "_check_threshold_unstructured", end_join_may_fire),
             (BpmnBaseWorkflow, "get_tasks_iterator", get_tasks_iterator),
             (BpmnBaseWorkflow, "get_tasks", get_tasks),
             (Workflow, "update_waiting_tasks", update_waiting_tasks))
# What each class (or module) itself defined before install() (None: it inherited the attribute), so uninstall()
# restores it.
_ORIGINALS = [(cls, name, cls.__dict__.get(name)) for cls, name, _new in _REPLACED]


def install() -> None:
    for cls, name, new in _REPLACED:
        setattr(cls, name, new)


def uninstall() -> None:
    for cls, name, original in _ORIGINALS:
        if original is None:
            if name in cls.__dict__:
                delattr(cls, name)
        else:
            setattr(cls, name, original)
