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
from uuid import UUID

from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, TaskConverter
from SpiffWorkflow.bpmn.serializer.helpers.bpmn_converter import BpmnConverter
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from .. import speedups
from ..speedups import state_text
from ..store import keys


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
state_text.bind(_specless)


def spec_registry():
    """The converter registry of specs, as SpiffWorkflow's spec comparison (``SpecDiff``) reads them."""
    return _full.registry


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
    the compression method, 0x78 for deflate with the usual window), so the two cannot be confused. A sealed
    state (engine/store/keys.py, which the commands open before this) is opened with the keys the process holds."""
    if keys.is_sealed(state):
        state = keys.open_held(state, keys.STATE)
    return state if state[:1] == b"{" else zlib.decompress(state)


def converters_json(workflow: BpmnWorkflow) -> str:
    """The JSON SpiffWorkflow's converters make of the instance (without its spec), with the encoder mode on:
    what the direct writer below must equal byte for byte, and what is written when it does not apply."""
    dct = _specless.registry.convert(workflow)
    dct[_specless.VERSION_KEY] = _specless.VERSION
    return json.dumps(dct, separators=(",", ":"), cls=_specless._encoder_cls)


def _workflow_json(workflow) -> str:
    """The state's JSON: written directly when the speed-ups are in (engine/speedups/state_text.py, the same text)
    and it knows how, else by SpiffWorkflow's converters."""
    if speedups.active:
        text = state_text.workflow_json(workflow)
        if text is not None:
            return text
    return converters_json(workflow)


def load_state(state: bytes, spec, subprocess_specs: dict) -> BpmnWorkflow:
    text = state_json(state)
    dct = json.loads(text)
    if speedups.active:  # read directly where it applies (engine/speedups/state_text.py), the same workflow
        workflow = state_text.direct_load(dct, text, spec, subprocess_specs)
        if workflow is not None:
            return workflow
    _specless.migrate(dct)
    return _specless.registry.restore(dct, spec=spec, subprocess_specs=subprocess_specs)


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
