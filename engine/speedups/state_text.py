"""A case's state written and read without SpiffWorkflow's converters: the same text, the same workflow.

The writer writes the text SpiffWorkflow's converters and ``json.dumps`` would write (the same keys in the same
order, the same encoder for every value), without building the dictionaries first: building them and walking
them again was most of the cost of saving a case (docs/benchmarks.md). The reader builds what the converters
build from the parsed document, without the registry's walk over every value. Each applies only where it gives
the same result, and says so by returning None otherwise; engine/definitions/serialization.py then uses the
converters. tests/integration/test_state_writer.py and test_workflow_hot_path.py compare both on real cases.
"""
from __future__ import annotations

from collections.abc import Callable
from json.encoder import encode_basestring_ascii
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.bpmn.util.subworkflow import BpmnSubWorkflow
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from ..store import json_text

# The serializer whose format is written and read (engine/definitions/serialization.py's, without the spec), its
# encoder built once, and its registry's type names: set by ``bind``.
_specless: Any = None
_encode: Callable[[Any], str] = repr
_TYPENAMES: dict = {}


def bind(serializer) -> None:
    global _specless, _encode, _TYPENAMES
    _specless = serializer
    _encode = json_text.one_shot(serializer._encoder_cls(separators=(",", ":")))
    _TYPENAMES = serializer.registry.typenames




def _number(value) -> str:
    # json's own spelling of an int or a finite float (float.__repr__), without a trip through the encoder.
    kind = type(value)
    if kind is int or (kind is float and value - value == 0):
        return repr(value)  # exactly int or float here, so their own __repr__
    return _encode(value)


def _bool(value) -> str:
    if value is True:
        return "true"
    return "false" if value is False else _encode(value)


class _NotDirect(Exception):
    """A workflow the direct writer does not know how to write (it is written by SpiffWorkflow's converters)."""


def workflow_json(workflow) -> str | None:
    """The state's JSON as the converters write it, or None for a workflow this writer does not know how to write.
    Called with the registry's encoder mode on (engine/definitions/serialization.py, ``dump_state``)."""
    try:
        if (type(workflow) is not BpmnWorkflow or _TYPENAMES.get(BpmnWorkflow) != "BpmnWorkflow"
                or any(type(sub) is not BpmnSubWorkflow for sub in workflow.subprocesses.values())):
            raise _NotDirect
        return direct_json(workflow)
    except _NotDirect:
        return None


def direct_json(workflow) -> str:
    registry = _specless.registry
    subs = ",".join(f"{encode_basestring_ascii(str(k))}:{_sub_json(sub)}" for k, sub in workflow.subprocesses.items())
    return (f"{{{_common_json(workflow)},\"subprocesses\":{{{subs}}},"
            f"\"bpmn_events\":{_encode(registry.convert(workflow.bpmn_events))},\"typename\":\"BpmnWorkflow\","
            f"\"{_specless.VERSION_KEY}\":{_encode(_specless.VERSION)}}}")


def _sub_json(sub) -> str:
    # BpmnSubWorkflowConverter.to_dict: the workflow's fields, then its parent task and spec name.
    return (f"{{{_common_json(sub)},\"parent_task_id\":{encode_basestring_ascii(str(sub.parent_task_id))},"
            f"\"spec\":{_encode(sub.spec.name)},\"typename\":{_encode(_TYPENAMES[BpmnSubWorkflow])}}}")


def _common_json(workflow) -> str:
    # WorkflowConverter.to_dict, without the braces.
    registry = _specless.registry
    last = workflow.last_task
    return (f"\"data\":{_encode(registry.convert(registry.clean(workflow.data)))},"
            f"\"correlations\":{_encode(workflow.correlations)},"
            f"\"last_task\":{encode_basestring_ascii(str(last.id)) if last is not None else 'null'},"
            f"\"success\":{_encode(workflow.success)},\"completed\":{_encode(workflow.completed)},"
            f"\"tasks\":{_tasks_json(workflow)},\"root\":{encode_basestring_ascii(str(workflow.task_tree.id))}")


def _sid(task) -> str:
    # str(UUID) costs a microsecond, and a save needs every task's; a task's id never changes.
    sid = task._segito_sid = str(task.id)
    return sid


def _tasks_json(workflow) -> str:
    """``mapping_to_dict(workflow.tasks)`` through ``_PrunedTaskConverter``, as JSON text."""
    registry = _specless.registry
    tasks = workflow.tasks
    sids = {k: t.__dict__.get("_segito_sid") or _sid(t) for k, t in tasks.items()}
    last = workflow.last_task
    finished = TaskState.FINISHED_MASK
    typename = _encode(_TYPENAMES[Task])
    parts = []
    for key, task in tasks.items():
        sid = sids[key]
        parent = task._parent
        children = task._children
        state = task._state
        if task.workflow is not workflow:
            raise _NotDirect
        # The branches of _PrunedTaskConverter.to_dict, in its order; "parent" is null when the parent task is
        # not in this workflow's tasks (Task.parent is a look-up), and such a task keeps its data unconverted.
        in_tree = parent is not None and parent in tasks
        internal = task.internal_data
        changed = task.last_state_change
        pruned = state & finished and task is not last and all(tasks[c]._state & finished for c in children)
        plain = (pruned or not task.data) and not internal
        if plain:
            # Its data is written as {} (pruned history, or a predicted task that has none yet): then its text
            # depends only on what this key holds (its id and spec never change), so it is written once.
            key = (state, changed, task.triggered, parent, in_tree, tuple(children))
            kept = task.__dict__.get("_segito_json")
            if kept is not None and kept[0] == key:
                parts.append(kept[1])
                continue
        if pruned:
            data_json = "{}"
        elif not in_tree:
            data_json = _encode(task.data)
        else:
            data_json = _encode(registry.convert(registry.clean(task.data)))
        parts.append(
            f'"{sid}":{{"id":"{sid}",'
            f'"parent":{(chr(34) + sids[parent] + chr(34)) if in_tree else "null"},'
            f'"children":[{",".join(chr(34) + (sids.get(c) or str(c)) + chr(34) for c in children)}],'
            f'"last_state_change":{_number(changed)},"state":{_number(state)},'
            f'"task_spec":{encode_basestring_ascii(task.task_spec.name)},"triggered":{_bool(task.triggered)},'
            f'"internal_data":{_encode(registry.convert(internal)) if internal else "{}"},'
            f'"data":{data_json},"delta":{{}},"typename":{typename}}}')
        if plain:
            task._segito_json = (key, parts[-1])
    return "{" + ",".join(parts) + "}"


# The direct reader: what ``_SpeclessWorkflowConverter.from_dict`` and ``TaskConverter.from_dict`` build from
# the same dictionaries, without the registry's walk over every value. That walk restores typed values (a dict
# with a "typename" key) and copies every other dict and list; a freshly parsed document is shared with nothing,
# so a copy of it is the same thing. It applies when the only typed dicts are the workflow and its tasks (the
# text holds no other "typename" key, counted on the text itself), the state is of the current serializer version
# (no migration), and it has no subprocesses, no pending BPMN events and no task data stored as a delta. Any
# other state goes through SpiffWorkflow's converters, as it did before.
_TYPENAME_KEY = b'"typename"'


def _canonical(sid) -> bool:
    # str(UUID(sid)) == sid, without building the string: 36 characters, lower case, hyphens where str puts them.
    return (type(sid) is str and len(sid) == 36 and sid[8] == sid[13] == sid[18] == sid[23] == "-"
            and sid == sid.lower())


def direct_load(dct: dict, text: bytes, spec, subprocess_specs: dict) -> BpmnWorkflow | None:
    tasks = dct.get("tasks")
    if (dct.get("typename") != "BpmnWorkflow" or dct.get(_specless.VERSION_KEY) != _specless.VERSION
            or dct.get("subprocesses") or dct.get("bpmn_events") or not isinstance(tasks, dict)
            or text.count(_TYPENAME_KEY) != len(tasks) + 1
            or _TYPENAMES.get(BpmnWorkflow) != "BpmnWorkflow" or _TYPENAMES.get(Task) != "Task"):
        return None
    if any(t.get("typename") != "Task" or t.get("delta") for t in tasks.values()):
        return None
    del dct[_specless.VERSION_KEY]
    workflow = BpmnWorkflow(spec, subprocess_specs or {}, deserializing=True)
    uuids: dict[str, UUID] = {}

    def uuid(sid: str) -> UUID:  # one UUID object per id: parent and children name the same ones
        found = uuids.get(sid)
        if found is None:
            found = uuids[sid] = UUID(sid)
        return found

    specs = spec.task_specs
    catching, waiting = CatchingEvent, TaskState.WAITING
    events = workflow.event_manager
    restored = {}
    for key, t in tasks.items():
        task_spec = specs.get(t["task_spec"])
        sid = t["id"]
        task = Task(workflow, task_spec, state=t["state"], id=uuid(sid))
        if _canonical(sid):
            task._segito_sid = sid  # str(task.id), which the writer needs (see _sid)
        parent = t["parent"]
        task._parent = uuid(parent) if parent is not None else None
        task._children = [uuid(child) for child in t["children"]]
        task.last_state_change = t["last_state_change"]
        task.triggered = t["triggered"]
        task.internal_data = t["internal_data"]
        if isinstance(task_spec, catching) and task._state & waiting:
            events.add_task(task)
        task.data = t["data"]
        restored[uuid(key)] = task
    workflow.tasks = restored
    workflow.task_tree = restored.get(UUID(dct["root"]))
    # WorkflowConverter.set_default_attributes
    workflow.success = dct["success"]
    workflow.completed = dct.get("completed", False)
    workflow.correlations = dct.pop("correlations", {})
    if isinstance(dct["last_task"], str):
        workflow.last_task = restored.get(UUID(dct["last_task"]))
    workflow.data = dct.pop("data", {})
    return workflow
