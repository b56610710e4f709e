"""Advancing a case inside one transaction: run the engine, then write state, task rows and audit together.

Every command that moves a workflow (start a case, complete a task, and later fire a timer) goes through
``Advance``: it knows which user tasks were ready before, so it can create and cancel task rows without
reading them back, and it saves the case with an optimistic version check on top of the row lock.
"""
from __future__ import annotations

import contextlib
import datetime as dt
from uuid import UUID

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import BindParameter, bindparam, select
from sqlalchemy.orm.attributes import set_committed_value

from ..definitions import serialization
from ..errors import Conflict, ExpressionRefused, ProcessDataRefused, WorkflowFailed
from ..forms import input_check
from ..sandbox import Budget, SandboxedScriptEngine, SandboxError, limits, watchdog
from ..store import audit, keys
from ..store.command_session import AnySession
from ..store.db import Prepared
from ..store.models import Case, HumanTask
from .observers import BEGIN_OBSERVERS, OBSERVERS, ROW_OBSERVERS  # what every command runs (the one list)
from .runtime import DefinitionView, Runtime
from .services import bind_services

_cases = Case.__table__
_tasks = HumanTask.__table__
_INSERT_TASKS = Prepared(_tasks.insert())
_CANCEL_TASKS = (_tasks.update().where(_tasks.c.spiff_task_id.in_(bindparam("gone", expanding=True)),
                                      _tasks.c.state == "ready")
                 .values(state="cancelled", completed_at=bindparam("at")))
# Only the columns a command changes: SQLite rewrites an index entry of every column in the SET list, even to the
# same value. client_id is set only when a register_client service task set it during the command.
_SAVE_CASE = (_cases.update().where(_cases.c.id == bindparam("case_id"), _cases.c.lock_version == bindparam("old"))
              .values(state=bindparam("state"), lock_version=bindparam("new"), audit_head=bindparam("head"),
                      audit_seq=bindparam("seq")))
_CLOSING: dict[str, BindParameter] = dict(status=bindparam("status"), completed_at=bindparam("completed_at"))
_SAVE_STATEMENTS = {  # (closes the case, sets its client) -> statement
    (False, False): Prepared(_SAVE_CASE), (True, False): Prepared(_SAVE_CASE.values(**_CLOSING)),
    (False, True): Prepared(_SAVE_CASE.values(client_id=bindparam("client_id"))),
    (True, True): Prepared(_SAVE_CASE.values(client_id=bindparam("client_id"), **_CLOSING))}


_CASE_STATE = select(_cases.c.state).where(_cases.c.id == bindparam("case_id"))


class CaseRecord:
    """A case row read with Core, without the ORM: what a command that only advances the case needs.

    Loading a mapped ``Case`` costs more than the rest of the read; commands write the row with ``_SAVE_CASE``
    anyway. ``state`` is present only when it was read (the workflow cache missed)."""

    # The columns of ``cases`` (engine/store/models.py), for type checkers: the values are set from the row.
    id: int
    definition_id: int
    process_key: str
    client_id: int | None
    status: str
    state: bytes
    lock_version: int
    caseworker_id: int | None
    started_at: dt.datetime
    started_by: str
    completed_at: dt.datetime | None
    audit_head: str
    audit_seq: int
    data_key_id: str | None

    def __init__(self, values):
        self.__dict__.update(values)


CASE_COLUMNS = tuple(c for c in _cases.c if c.name != "state")  # what a CaseRecord holds (state on demand)
# The case a command advances: the mapped row, or the plain record of the hot commands.
AnyCase = Case | CaseRecord


def ready_user_tasks(workflow: BpmnWorkflow) -> dict[str, Task]:
    return {str(t.id): t for t in workflow.get_tasks(state=TaskState.READY, manual=True)}


class Advance:
    """One command's changes to one case. Use: ``begin`` → mutate the workflow → ``finish``."""

    # Set only by the commands and observers they concern, so read with getattr and a default: firing a timer
    # (engine/timers/timers.py) sets the first three for engine/timers/timer_sync.py; the caseload check sets
    # ``warnings`` (each a dict: ``code``, the audit event's kind, and its figures; worded by the reader's app).
    fired_by: str
    open_timer_rows: list
    cycle_times: dict[str, int]
    warnings: list[dict]
    held_timers: set[str]
    chain: tuple[dt.datetime, str, dt.datetime]

    def __init__(self, runtime: Runtime, session: AnySession, case: AnyCase, workflow: BpmnWorkflow,
                 view: DefinitionView, actor: str, at: dt.datetime, caseworker_id: int | None = None):
        self.runtime, self.session, self.case, self.workflow, self.view = runtime, session, case, workflow, view
        # Core statements go straight to the transaction's connection: the Session's ORM layer adds nothing to
        # them but time (the writes below are plain INSERT/UPDATE of whole rows).
        self.connection = session.connection()
        self.actor, self.at = actor, at
        self.caseworker_id = caseworker_id if caseworker_id is not None else case.caseworker_id
        self.audit = audit.CaseAudit(case, actor, at)
        self.client_id_before = case.client_id
        # The ready tasks this workflow object had when its last command saved it, if they are all still ready
        # and in its tree (a cached workflow is the saved one: the cache checks the lock version), else a walk.
        known = workflow.__dict__.pop("_segito_ready", None)
        if known is not None and all(t._state == TaskState.READY and t.workflow.tasks.get(t.id) is t
                                     for t in known.values()):
            self.ready_before = dict(known)
        else:
            self.ready_before = ready_user_tasks(workflow)
        self.finished_spiff_ids: set[str] = set()
        self.ready_after: dict[str, Task] | None = None  # set by finish, for the observers
        self.keep_workflow = True  # put the saved workflow in the runtime's cache for the case's next command
        # The time and memory every expression of this command shares; the engine steps check it too.
        self.budget = Budget()
        workflow.script_engine = SandboxedScriptEngine(
            services=bind_services(runtime, session, case, actor, at, self.audit), budget=self.budget)
        for observer in BEGIN_OBSERVERS:
            observer(self)

    def reload_workflow(self) -> None:
        """Start over from the workflow the case's last command saved (an observer's work on it at the start of
        this command failed halfway and was undone)."""
        engine = self.workflow.script_engine
        state: bytes = self.connection.execute(_CASE_STATE, {"case_id": self.case.id}).scalar_one()
        state = keys.open_sealed(self.connection, state, keys.STATE)
        self.workflow = serialization.load_state(state, self.view.spec, self.view.subprocess_specs)
        self.workflow.script_engine = engine
        self.ready_before = ready_user_tasks(self.workflow)

    @contextlib.contextmanager
    def bounded(self):
        """Engine work of this command, stopped once its budget is spent (whatever runs: the guards and the
        step checks stop what they see, the watchdog the rest) -- so that no process definition holds the
        case and the writer lock longer (docs/architecture.md, "Expressions are untrusted")."""
        try:
            with watchdog.deadline(self.budget.deadline + limits.WATCHDOG_GRACE):
                yield
        except watchdog.Overrun:
            raise ExpressionRefused(f"case {self.case.id}: {self.budget.exceeded()}; nothing was saved") from None

    def _failed(self, e: Exception, what: str) -> WorkflowFailed:
        """The error a person gets: a refused or failing expression is the definition's fault (422)."""
        cause: BaseException | None = e
        while cause is not None and not isinstance(cause, SandboxError):
            cause = cause.__cause__
        return (ExpressionRefused if cause is not None else WorkflowFailed)(f"case {self.case.id}: {what}: {e}")

    def _engine_steps(self) -> None:
        try:
            self.workflow.do_engine_steps(will_complete_task=self.budget.check)
        except (SpiffWorkflowException, SandboxError) as e:
            spec = getattr(e, "task_spec", None) or getattr(getattr(e, "task", None), "task_spec", None)
            raise self._failed(e, f"the process failed at '{getattr(spec, 'name', '?')}'") from e

    def run_engine(self) -> None:
        with self.bounded():
            self._engine_steps()

    def complete(self, spiff_task_id: str, data: dict) -> None:
        task = self.workflow.get_task_from_id(UUID(spiff_task_id))
        if task is None or task.state != TaskState.READY:
            raise Conflict("the task is no longer waiting in this case; reload the case")
        with self.bounded():
            task.data.update(data)
            try:
                task.run()
            except SpiffWorkflowException as e:
                raise self._failed(e, f"completing '{task.task_spec.name}' failed") from e
            self.finished_spiff_ids.add(spiff_task_id)
            self._engine_steps()

    def _task_row(self, spiff_task) -> dict:
        meta = self.view.catalogue.get(spiff_task.task_spec.name, {})
        role = meta.get("role") or "caseworker"
        # The case's own caseworker gets the caseworker-lane tasks; other lanes go to their role's queue.
        assignee = self.caseworker_id if role == "caseworker" else None
        return dict(case_id=self.case.id, spiff_task_id=str(spiff_task.id), bpmn_id=spiff_task.task_spec.name,
                    step=meta.get("step") or "", name=meta.get("name") or spiff_task.task_spec.name, role=role,
                    assignee_id=assignee, state="ready", form_file=meta.get("form"), draft=None,
                    created_at=self.at, due_at=None, completed_at=None, completed_by=None,
                    purpose=meta.get("purpose"))

    def finish(self) -> list[dict]:
        """Write task rows, state and audit events; returns the newly created task rows, each with its new ``id``."""
        ready_after = self.ready_after = ready_user_tasks(self.workflow)
        created = [self._task_row(t) for sid, t in ready_after.items() if sid not in self.ready_before]
        gone = [sid for sid in self.ready_before if sid not in ready_after and sid not in self.finished_spiff_ids]
        if created:
            for observer in ROW_OBSERVERS:
                observer(self, created)
            # Their ids go back to the caller: a completion's answer names the next tasks by id (docs/web.md).
            for row, task_id in zip(created, _INSERT_TASKS.insert_all(self.connection, created), strict=True):
                row["id"] = task_id
        if gone:
            self.connection.execute(_CANCEL_TASKS, {"gone": gone, "at": self.at})
            for sid in gone:
                self.audit.add(audit.TASK_CANCELLED, {"spiff_task_id": sid,
                                                      "bpmn_id": self.ready_before[sid].task_spec.name})
        for row in created:
            self.audit.add(audit.TASK_CREATED, {"bpmn_id": row["bpmn_id"], "step": row["step"], "name": row["name"],
                                                "role": row["role"], "assignee_id": row["assignee_id"]})
        completed = self.workflow.is_completed()
        for observer in OBSERVERS:
            observer(self, created, completed)
        if completed and self.case.status != "completed":
            self.audit.add(audit.CASE_COMPLETED, {"before": {"status": self.case.status},
                                                  "after": {"status": "completed"}})
        self.audit.flush(self.connection, touch_case=False)
        self._save(completed)
        return created

    def _save(self, completed: bool) -> None:
        try:
            state = serialization.dump_state(self.workflow)
        except RecursionError:
            # Only data nested about a thousand levels deep does this, and only a script or service of the
            # process can build it (form data is refused far sooner, engine/forms/input_check.py): the definition's
            # fault, named here instead of a bare RecursionError. The whole command rolls back.
            name, depth = input_check.deepest_variable(t.data for t in self.workflow.get_tasks())
            raise ProcessDataRefused(f"case {self.case.id}: the process data '{name}' is nested {depth} levels deep "
                                 "(built by a script or service of the process) and cannot be saved; nothing was "
                                 "saved. The process definition needs correcting.") from None
        if self.case.data_key_id is not None:  # sealed under the case's key (engine/store/keys.py)
            state = keys.seal(self.connection, self.case.data_key_id, state, keys.STATE)
        old_version = self.case.lock_version
        new_values = dict(state=state, lock_version=old_version + 1, audit_head=self.audit.head,
                          audit_seq=self.audit.seq)
        params = {"case_id": self.case.id, "old": old_version, "state": state, "new": old_version + 1,
                  "head": self.audit.head, "seq": self.audit.seq}
        closes = completed and self.case.status != "completed"
        if closes:
            new_values.update(status="completed", completed_at=self.at)
            params.update(status="completed", completed_at=self.at)
        sets_client = self.case.client_id != self.client_id_before
        if sets_client:
            new_values["client_id"] = params["client_id"] = self.case.client_id
        if _SAVE_STATEMENTS[closes, sets_client].execute(self.connection, params) != 1:
            raise Conflict(f"case {self.case.id} was changed by someone else at the same time; nothing was saved")
        # Mirror what the UPDATE wrote without marking a mapped Case dirty (it would be written a second time).
        mirror = set_committed_value if hasattr(self.case, "_sa_instance_state") else setattr
        for k, v in new_values.items():
            mirror(self.case, k, v)
        self.workflow._segito_ready = self.ready_after
        # A finished case takes no more commands: keeping its workflow would only give the garbage collector
        # thousands more objects to walk at every full collection (a reader loads it again if it needs it).
        if self.keep_workflow and not completed:
            self.runtime.workflows.put(self.case.id, self.case.lock_version, self.workflow)

