"""Workflow state to bytes and back, with the process spec kept out of the instance.

A process version's spec is stored once (``ProcessDefinition.spec_json``) and parsed once per process
(``SpecCache``); an instance's state holds only its task tree and data.
"""
from __future__ import annotations

import datetime as dt
import decimal
import json
import threading
import zlib
from json.encoder import encode_basestring_ascii
from uuid import UUID

from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, TaskConverter
from SpiffWorkflow.bpmn.serializer.helpers.bpmn_converter import BpmnConverter
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.bpmn.util.subworkflow import BpmnSubWorkflow
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from . import json_text


class _DateConverter(BpmnConverter):
    def to_dict(self, value):
        return {"value": value.isoformat()}

    def from_dict(self, dct):
        return dt.date.fromisoformat(dct["value"])


class _DatetimeConverter(BpmnConverter):
    def to_dict(self, value):
        return {"value": value.isoformat()}

    def from_dict(self, dct):
        return dt.datetime.fromisoformat(dct["value"])


class _DecimalConverter(BpmnConverter):
    def to_dict(self, value):
        return {"value": str(value)}

    def from_dict(self, dct):
        return decimal.Decimal(dct["value"])


class _PrunedTaskConverter(TaskConverter):
    """Leaves out the data of finished tasks that nothing will read again.

    A finished task whose children are all finished is history (the audit log keeps who changed what); only
    live tasks, their parents (children inherit data when they become ready) and the last task need data.
    Without this, a case's state would hold one copy of the case data per step taken, so it would grow with
    the square of the loops. Kept tasks store full data, not a delta, because their parent may be pruned.
    """

    def to_dict(self, task):
        # TaskConverter.to_dict's fields, built here: its data delta (a deep comparison with the parent's data,
        # the costliest part of saving) would be thrown away, since every kept task stores its full data.
        registry, parent = self.registry, task.parent
        if self._prunable(task):
            data = {}
        elif parent is None:
            data = task.data
        else:
            data = registry.convert(registry.clean(task.data))
        return {
            "id": str(task.id),
            "parent": str(task._parent) if parent is not None else None,
            "children": [str(child) for child in task._children],
            "last_state_change": task.last_state_change,
            "state": task.state,
            "task_spec": task.task_spec.name,
            "triggered": task.triggered,
            "internal_data": registry.convert(task.internal_data),
            "data": data,
            "delta": {},
        }

    @staticmethod
    def _prunable(task) -> bool:
        if not task.has_state(TaskState.FINISHED_MASK) or task is task.workflow.last_task:
            return False
        return all(child.has_state(TaskState.FINISHED_MASK) for child in task.children)


class _SpeclessWorkflowConverter(BpmnWorkflowConverter):
    """Leaves the spec out when saving; takes it from the caller when loading."""

    def to_dict(self, workflow):
        dct = super(BpmnWorkflowConverter, self).to_dict(workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct, spec=None, subprocess_specs=None):
        if spec is None:
            raise ValueError("a stored instance needs its process spec to be loaded")
        workflow = self.target_class(spec, subprocess_specs or {}, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


def _make_registry(specless: bool):
    config = dict(SPIFF_CONFIG)
    config[dt.datetime] = _DatetimeConverter
    config[dt.date] = _DateConverter
    config[decimal.Decimal] = _DecimalConverter
    if specless:
        config[BpmnWorkflow] = _SpeclessWorkflowConverter
        config[Task] = _PrunedTaskConverter
    return BpmnWorkflowSerializer.configure(config)


_full = BpmnWorkflowSerializer(_make_registry(specless=False))
_specless = BpmnWorkflowSerializer(_make_registry(specless=True))
# The registry's encoder mode is a flag on a shared object: serialise one workflow at a time.
_dump_lock = threading.Lock()


def spec_to_json(spec, subprocess_specs: dict) -> str:
    return json.dumps(
        {
            "spec": _full.to_dict(spec),
            "subprocess_specs": {name: _full.to_dict(s) for name, s in subprocess_specs.items()},
        }
    )


def spec_from_json(text: str):
    dct = json.loads(text)
    spec = _full.from_dict(dct["spec"])
    subs = {name: _full.from_dict(s) for name, s in dct["subprocess_specs"].items()}
    return spec, subs


# A state up to this size is stored as plain JSON, a larger one compressed. zlib, even at level 1, took 50-70 µs
# for a family-care case's 8-11 KB, 7% of what completing a task costs (docs/benchmarks.md); the plain text
# costs a few more database pages, which PostgreSQL compresses anyway (TOAST), and a long-running case whose
# state grows past this still gets compressed.
COMPRESS_ABOVE_BYTES = 16 * 1024


def dump_state(workflow: BpmnWorkflow) -> bytes:
    """JSON of the instance without its spec, as stored (see ``pack_state``)."""
    with _dump_lock:
        _specless.registry._encoder_mode = True
        try:
            text = _workflow_json(workflow)
        finally:
            _specless.registry._encoder_mode = False
    return pack_state(text.encode("utf-8"))


def pack_state(json_bytes: bytes) -> bytes:
    """How a state's JSON is stored: as it is up to ``COMPRESS_ABOVE_BYTES``, zlib-compressed above."""
    return json_bytes if len(json_bytes) <= COMPRESS_ABOVE_BYTES else zlib.compress(json_bytes, 1)


def state_json(state: bytes) -> bytes:
    """The JSON of a stored state. Plain JSON starts with "{"; zlib's stream never does (its first byte holds
    the compression method, 0x78 for deflate with the usual window), so the two cannot be confused."""
    return state if state[:1] == b"{" else zlib.decompress(state)


def converters_json(workflow: BpmnWorkflow) -> str:
    """The JSON SpiffWorkflow's converters make of the instance (without its spec), with the encoder mode on:
    what the direct writer below must equal byte for byte, and what is written when it does not apply."""
    dct = _specless.registry.convert(workflow)
    dct[_specless.VERSION_KEY] = _specless.VERSION
    return json.dumps(dct, separators=(",", ":"), cls=_specless._encoder_cls)


# The direct writer. It writes the text SpiffWorkflow's converters and json.dumps would write (the same keys
# in the same order, the same encoder for every value), without building the dictionaries first: building
# them and walking them again was most of the cost of saving a case. Called with the encoder mode on.
_encode = json_text.one_shot(_specless._encoder_cls(separators=(",", ":")))
_TYPENAMES = _specless.registry.typenames


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


def _workflow_json(workflow) -> str:
    try:
        if (type(workflow) is not BpmnWorkflow or _TYPENAMES.get(BpmnWorkflow) != "BpmnWorkflow"
                or any(type(sub) is not BpmnSubWorkflow for sub in workflow.subprocesses.values())):
            raise _NotDirect
        return _direct_json(workflow)
    except _NotDirect:
        return converters_json(workflow)


def _direct_json(workflow) -> str:
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


def load_state(state: bytes, spec, subprocess_specs: dict) -> BpmnWorkflow:
    text = state_json(state)
    dct = json.loads(text)
    workflow = _direct_load(dct, text, spec, subprocess_specs)
    if workflow is not None:
        return workflow
    _specless.migrate(dct)
    return _specless.registry.restore(dct, spec=spec, subprocess_specs=subprocess_specs)


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


def _direct_load(dct: dict, text: bytes, spec, subprocess_specs: dict) -> BpmnWorkflow | None:
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


class SpecCache:
    """Parsed specs by definition id: deserialising a spec is the costly part of loading an instance."""

    def __init__(self) -> None:
        self._specs: dict[int, tuple] = {}
        self._lock = threading.Lock()

    def get(self, definition_id: int, load_json):
        with self._lock:
            hit = self._specs.get(definition_id)
        if hit is None:
            hit = spec_from_json(load_json())
            with self._lock:
                self._specs[definition_id] = hit
        return hit
