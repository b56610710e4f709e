"""What every command shares: the database, the parsed specs and forms, and recently used workflows.

SpiffWorkflow lives behind this module and ``advance.py``: the rest of the engine sees cases and task rows.
"""
from __future__ import annotations

import gc
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import speedups
from ..definitions import definitions, serialization
from ..errors import NotFound
from ..forms.forms import Form
from ..packages import settings as package_settings
from ..store import clock, keys
from ..store.command_session import AnySession
from ..store.db import Database, is_postgres
from ..store.models import Case, HumanTask, PackageVersion, ProcessDefinition

if TYPE_CHECKING:
    from .advance import AnyCase

clock.install_into_spiffworkflow()
speedups.install()  # SpiffWorkflow internals done cheaper, unless SEGITO_SPEEDUPS=0 (engine/speedups/)


class DefinitionView:
    """The immutable parts of a deployed version that commands need, kept in memory."""

    def __init__(self, row: ProcessDefinition, manifest: dict | None = None, package_version: int | None = None):
        self.id = row.id
        # The manifest and number of the package version it was deployed with (docs/services.md); None when it
        # was deployed on its own.
        self.manifest = manifest
        self.package_version = package_version
        self.process_key = row.process_key
        self.version = row.version
        self.name = row.name
        self.catalogue: dict = row.task_catalogue
        self.forms = {name: Form(name, schema) for name, schema in row.forms.items()}
        fields: dict[str, dict] = {}
        for form in self.forms.values():
            for key, prop in (form.schema.get("properties") or {}).items():
                fields.setdefault(key, prop)
        for form in self.forms.values():
            form.process_fields = fields  # where a date rule's earlier date gets its label
        self.spec, self.subprocess_specs = serialization.spec_from_json(row.spec_json)
        properties = definitions.process_properties(row.bpmn_xml)
        # A process where a client normally has one case at a time: a second one is started only when confirmed.
        self.one_open_case_per_client = properties.get("oneOpenCasePerClient") == "true"
        lane_roles = package_settings.lane_roles(manifest)
        self.starter_roles = package_settings.start_roles(manifest, row.process_key) or tuple(
            dict.fromkeys(lane_roles.get(r, r) for r in definitions.starter_roles(row.bpmn_xml)))
        self.needs_client = package_settings.needs_client(manifest, row.process_key)
        self.starts_from = package_settings.starts_from(manifest, row.process_key)
        self.manual_start = package_settings.manual_start(manifest, row.process_key)
        self.seed_fields = package_settings.seed_fields(manifest, row.process_key)
        self.registration = package_settings.registration(manifest, row.process_key)
        self.members = package_settings.members(manifest, row.process_key)


class WorkflowCache:
    """Workflows by case id and lock version. A workflow is only reused when the row's version still matches,
    so a change made by another process is never missed; a failed command evicts its case."""

    def __init__(self, capacity: int = 256):
        self.capacity = capacity
        self._items: OrderedDict[int, tuple[int, BpmnWorkflow]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, case_id: int, lock_version: int) -> BpmnWorkflow | None:
        # Taken out while in use, so two threads never share one workflow object.
        with self._lock:
            hit = self._items.pop(case_id, None)
        if hit is not None and hit[0] == lock_version:
            return hit[1]
        return None

    def put(self, case_id: int, lock_version: int, workflow: BpmnWorkflow) -> None:
        with self._lock:
            self._items[case_id] = (lock_version, workflow)
            self._items.move_to_end(case_id)
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)

    def evict(self, case_id: int) -> None:
        with self._lock:
            self._items.pop(case_id, None)


class Runtime:
    def __init__(self, database: Database | None = None, workflow_cache_size: int = 256):
        self.db = database or Database()
        self.workflows = WorkflowCache(workflow_cache_size)
        self._definitions: dict[int, DefinitionView] = {}
        self._lock = threading.Lock()

    def definition(self, session: AnySession, definition_id: int) -> DefinitionView:
        with self._lock:
            view = self._definitions.get(definition_id)
        if view is None:
            row = session.get(ProcessDefinition, definition_id)
            if row is None:
                raise NotFound(f"process definition {definition_id} does not exist")
            package = (session.get(PackageVersion, row.package_version_id)
                       if row.package_version_id is not None else None)
            view = DefinitionView(row, package.manifest if package else None,
                                  package.version if package else None)
            with self._lock:
                self._definitions[definition_id] = view
        return view

    def settle(self) -> None:
        """For a long-running process (a server or a timer worker), once it has started: read every deployed
        definition now (its first commands would), then hand everything alive to ``gc.freeze()``. Python's full
        collections walk every tracked object, and ~100,000 of them are the code and the parsed specs, which never
        become garbage: in a worker firing timers a full pass came every few hundred firings and walked them all
        (docs/benchmarks.md)."""
        with self.db.reading() as session:
            for row in definitions.list_definitions(session):
                self.definition(session, row["id"])
        gc.collect()
        gc.freeze()

    def lock_case(self, session: Session, case_id: int) -> Case:
        """The case row, locked for this transaction (SQLite's writer lock is already held by BEGIN IMMEDIATE)."""
        query = select(Case).where(Case.id == case_id)
        if is_postgres(session):
            query = query.with_for_update()
        case = session.execute(query).scalar_one_or_none()
        if case is None:
            raise NotFound(f"case {case_id} does not exist")
        return case

    def lock_case_of_task(self, session: Session, task_id: int) -> Case:
        """The case a task belongs to, locked first: the task row is read after, so its state is current."""
        owner = select(HumanTask.case_id).where(HumanTask.id == task_id).scalar_subquery()
        query = select(Case).where(Case.id == owner)
        if is_postgres(session):
            query = query.with_for_update()
        case = session.execute(query).scalar_one_or_none()
        if case is None:
            raise NotFound(f"task {task_id} does not exist")
        return case

    def workflow(self, session: AnySession, case: AnyCase) -> BpmnWorkflow:
        cached = self.workflows.take(case.id, case.lock_version)
        if cached is not None:
            return cached
        view = self.definition(session, case.definition_id)
        return serialization.load_state(keys.open_sealed(session, case.state, keys.STATE), view.spec,
                                        view.subprocess_specs)
