"""Starting cases and reading them back (summary, current steps, data, history)."""
from __future__ import annotations

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import Row, exists, func, select

from ..definitions import definitions
from ..errors import ConfirmationNeeded, NotFound, SegitoError, ValidationFailed
from ..forms import entries, input_check
from ..observability import metrics
from ..people import access
from ..people.users import CASEWORKER, Actor
from ..runtime.advance import Advance, CaseRecord
from ..runtime.runtime import Runtime
from ..store import audit, clock, keys
from ..store.db import Prepared
from ..store.models import AuditEvent, Case, Client, HumanTask, ProcessDefinition
from . import clients, masking, members

_INSERT_CASE = Prepared(Case.__table__.insert())


@metrics.command("start_case")
def start_case(runtime: Runtime, process_key: str, actor: Actor, client_code: str | None = None,
               confirm: bool = False) -> dict:
    """One transaction: the case row, its first task rows and its audit events.

    In a process that declares one open case per client (``oneOpenCasePerClient``, docs/processes.md), a client
    who already has an open case of it gets another only with ``confirm``; without it ConfirmationNeeded names
    the open case(s) and nothing is saved."""
    input_check.check_text("process_key", process_key)
    if isinstance(client_code, str):
        input_check.check_text("client_code", client_code)
    at = clock.now()
    with runtime.db.command() as session:
        return start_in(runtime, session, process_key, actor, client_code, confirm, at)


def start_in(runtime: Runtime, session, process_key: str, actor: Actor, client_code: str | None, confirm: bool,
             at, linked_from: dict | None = None, extra_seed: dict | None = None) -> dict:
    """Start a case inside the caller's transaction: ``start_case``'s work, and the one a form choice that starts
    a linked case (x-starts-case) does in the completing step's transaction. ``linked_from``: ``{"case_id",
    "process_key", "task_id", "step", "field"}`` of the case whose step started this one; ``extra_seed``: more
    data the new case starts with (a member's leaving, engine/cases/members.py)."""
    # The id only: the row's BPMN, spec and forms are large, and the view in memory already has them.
    view = runtime.definition(session, definitions.latest_definition_id(session, process_key))
    if linked_from is None and not view.manual_start:
        # Started only from another case, which hands it what it starts with (docs/services.md, start.manual).
        message = (f"'{process_key}' is not started by hand: the engine starts it from another case (e.g. a member "
                   f"leaving, a choice on a step's form); nothing was started")
        raise ValidationFailed(f"process_key: {message}", [{"field": "process_key", "kind": "manual_start",
                                                            "value": process_key, "message": message}])
    # Who may start it is the definition's to say (the start event's lane or ``startedBy``).
    access.require_role(actor, *view.starter_roles)
    seed: dict = {}
    client_id = None
    if client_code is not None and not isinstance(client_code, str):
        raise SegitoError(f"client_code must be a text code like 'K-7F3Q2D9H', not {client_code!r}")
    if view.needs_client:
        if not client_code:
            where = f"at '{view.starts_from}' " if view.starts_from else ""
            raise ValidationFailed(f"a '{process_key}' case needs a client: register the client {where}first",
                                   [{"field": "client_code", "message": f"is required for a '{process_key}' case"}])
        client_id, client_code, seed = clients.case_seed(session.connection(), client_code, view.seed_fields)
    if extra_seed:
        seed = {**extra_seed, **seed}
    already_open = []
    if client_id is not None and view.one_open_case_per_client:
        already_open = _open_cases(session, process_key, client_id)
        if already_open and not confirm:
            raise ConfirmationNeeded(
                f"client {client_code} already has an open '{process_key}' case: "
                + "; ".join(f"case {c['case_id']} (started {c['started_at'][:10]} by {c['started_by']})"
                            for c in already_open)
                + ". Nothing was started; confirm to start another one.",
                [{"field": "confirm", "kind": "open_case", "message": "the client already has an open case",
                  "open_cases": already_open}])
    caseworker_id = actor.id if CASEWORKER in actor.role_codes else None
    values = dict(definition_id=view.id, process_key=process_key, client_id=client_id, status="running",
                  state=b"", lock_version=1, caseworker_id=caseworker_id, started_at=at,
                  started_by=actor.username, completed_at=None, audit_head="", audit_seq=0,
                  data_key_id=keys.new_data_key(session.connection(), "case", at))
    # A Core INSERT and a plain record: Advance writes the row with Core statements, so an ORM flush of a
    # mapped Case would only add time.
    values["id"] = _INSERT_CASE.insert(session.connection(), values)
    case = CaseRecord(values)
    workflow = BpmnWorkflow(view.spec, view.subprocess_specs)
    for start in workflow.get_tasks(state=TaskState.READY):
        start.data.update(seed)
    step = Advance(runtime, session, case, workflow, view, actor.username, at, caseworker_id)
    started = {"process_key": process_key, "version": view.version, "client_code": client_code or None,
               "after": seed}
    if already_open:  # started although confirmation was asked for: the audit says which case was open
        started["confirmed_with_open_cases"] = [c["case_id"] for c in already_open]
    if linked_from is not None:
        started["linked_from"] = linked_from
    step.audit.add(audit.CASE_STARTED, started)
    if linked_from is not None:
        step.audit.add(audit.CASE_LINKED, {"started_from": linked_from})
    step.run_engine()
    created = step.finish()
    case_id = case.id
    return {"case_id": case_id, "process_key": process_key, "version": view.version,
            "tasks": next_tasks(created, actor),
            # A warning only when there is one, e.g. a caseload past its limit (engine/timers/caseload.py).
            **({"warnings": step.warnings} if getattr(step, "warnings", None) else {})}


def startable(runtime: Runtime, actor: Actor) -> list[dict]:
    """The processes ``actor`` may start: the newest version of each deployed process whose starter roles
    (``DefinitionView.starter_roles``) she holds, with whether a start needs a client code. A process only the
    engine starts (``start.manual: false``) is never offered."""
    with runtime.db.reading() as session:
        newest = session.execute(select(ProcessDefinition.process_key, func.max(ProcessDefinition.id))
                                 .group_by(ProcessDefinition.process_key)
                                 .order_by(ProcessDefinition.process_key)).all()
        found = []
        for key, definition_id in newest:
            view = runtime.definition(session, definition_id)
            if view.manual_start and actor.role_codes & set(view.starter_roles):
                found.append({"process_key": key, "name": view.name, "version": view.version,
                              "needs_client": view.needs_client, "starts_from": view.starts_from,
                              "roles": list(view.starter_roles)})
    return found


def _open_cases(session, process_key: str, client_id: int) -> list[dict]:
    c = Case.__table__.c
    rows = session.connection().execute(select(c.id, c.started_at, c.started_by)
                                        .where(c.client_id == client_id, c.process_key == process_key,
                                               c.status == "running").order_by(c.id)).all()
    return [{"case_id": r.id, "started_at": r.started_at.isoformat(), "started_by": r.started_by} for r in rows]


def _case_row(session, case_id: int) -> Case:
    input_check.check_id("case", case_id)
    case = session.get(Case, case_id)
    if case is None:
        raise NotFound(f"case {case_id} does not exist")
    return case


def _has_task_in_case(session, user: Actor, case_id: int) -> bool:
    return session.execute(select(exists().where(
        HumanTask.case_id == case_id,
        (HumanTask.assignee_id == user.id) | (HumanTask.completed_by == user.username)
        | ((HumanTask.assignee_id.is_(None)) & HumanTask.role.in_(user.role_codes))
    ))).scalar()


def authorised_case(session, user: Actor, case_id: int) -> Case:
    case = _case_row(session, case_id)
    access.require_case(user, case, _has_task_in_case(session, user, case_id))
    return case


def case_data(runtime: Runtime, session, case: Case) -> dict:
    """The case's current data: what its waiting tasks see, or what its last task left."""
    return case_data_and_entries(runtime, session, case)[0]


def case_data_and_entries(runtime: Runtime, session, case: Case, log_fields=(),
                          task_id: str | None = None) -> tuple[dict, dict]:
    """The case's current data, with its append-only logs whole (engine.forms.entries), and the entries of
    ``log_fields`` with who recorded each row. ``task_id``: a waiting task (SpiffWorkflow id) whose own data is
    wanted — in a case with parallel branches, each waiting task sees what its branch computed."""
    workflow = runtime.workflow(session, case)
    try:
        waiting = workflow.get_tasks(state=TaskState.READY, manual=True)
        own = [t for t in waiting if str(t.id) == task_id] if task_id else []
        source = own[0] if own else waiting[0] if waiting else workflow.last_task
        data = dict(source.data) if source is not None else {}
        described = entries.describe(workflow, data, log_fields) if log_fields else {}
        data = members.overlay(session, runtime.definition(session, case.definition_id).members, case.id, data)
        return entries.overlay(workflow, data), described
    finally:
        runtime.workflows.put(case.id, case.lock_version, workflow)


def get_case(runtime: Runtime, case_id: int, actor: Actor, with_data: bool = True) -> dict:
    with runtime.db.reading() as session:
        case = authorised_case(session, actor, case_id)
        view = runtime.definition(session, case.definition_id)
        client = session.get(Client, case.client_id) if case.client_id else None
        tasks = session.execute(
            select(HumanTask).where(HumanTask.case_id == case_id).order_by(HumanTask.id)
        ).scalars().all()
        result = {
            "case_id": case.id, "process_key": case.process_key, "version": view.version,
            "process_name": view.name, "status": case.status, "started_at": case.started_at.isoformat(),
            "started_by": case.started_by, "caseworker_id": case.caseworker_id,
            "definition_id": case.definition_id,
            "completed_at": case.completed_at.isoformat() if case.completed_at else None,
            "client": clients.describe(session, client) if client else None,
            "current_tasks": [task_summary(t) for t in tasks if t.state == "ready"],
            "steps_taken": [task_summary(t) for t in tasks if t.state == "completed"],
            "links": links(session, case_id),
        }
        names = masking.sees_names(actor, case)  # codes only for a role that needs no names
        if not names and client is not None:
            result["client"] = masking.mask_client(clients.describe(session, client))
        result["names_masked"] = not names
        if view.members:
            # A case with members: each by code; names for those who need them (engine.cases.masking).
            result["members"] = members.listing(session, case_id, masking.sees_member_names(actor, case))
            result["members_max"] = view.members.get("max")
            result["members_label"] = view.members.get("label")
        if with_data:
            data = case_data(runtime, session, case)
            result["data"] = data if names else masking.mask_data(data, masking.identifying_fields(view))
        return result


def links(session, case_id: int) -> list[dict]:
    """The cases linked to this one by a step that started a case for the same client (x-starts-case): each
    with ``direction`` ``started`` (this case's step started it) or ``started_from`` (this case was started by
    that case's step), the other case's id and process, the step and field, who and when. Read from the audit
    events both cases got in the starting transaction (``case_linked``)."""
    rows = session.execute(select(AuditEvent.payload, AuditEvent.actor, AuditEvent.occurred_at)
                           .where(AuditEvent.case_id == case_id, AuditEvent.kind == audit.CASE_LINKED)
                           .order_by(AuditEvent.seq)).all()
    found = []
    for stored, actor, at in rows:
        payload = audit.readable(session, stored)
        direction = "started" if "started" in payload else "started_from"
        other = payload[direction]
        found.append({"direction": direction, "case_id": other["case_id"], "process_key": other["process_key"],
                      "step": other.get("step"), "field": other.get("field"), "by": actor, "at": at.isoformat()})
    return found


def history(runtime: Runtime, case_id: int, actor: Actor) -> list[dict]:
    with runtime.db.reading() as session:
        case = authorised_case(session, actor, case_id)
        events = audit.case_history(session, case_id)
        if masking.sees_names(actor, case):
            return events
        fields = masking.identifying_fields(runtime.definition(session, case.definition_id))
        return [masking.mask_event(e, fields) for e in events]


STATUSES = ("running", "completed", "failed")


def list_cases(runtime: Runtime, actor: Actor, status: str | None = None, limit: int = 100,
               offset: int = 0) -> list[dict]:
    if status is not None and status not in STATUSES:  # an unknown status would silently match nothing
        raise input_check.BadInput(f"'status' is one of {', '.join(STATUSES)}, not '{status}'",
                                   [{"field": "status", "message": f"not one of {', '.join(STATUSES)}"}])
    input_check.check_offset("offset", offset)
    with runtime.db.reading() as session:
        query = select(Case, Client.client_code).outerjoin(Client, Client.id == Case.client_id)
        if not actor.role_codes & access.OVERSEERS:
            query = query.where(Case.caseworker_id == actor.id)
        if status:
            query = query.where(Case.status == status)
        rows = session.execute(query.order_by(Case.id.desc()).limit(min(limit, 500)).offset(offset)).all()
        return [{"case_id": c.id, "process_key": c.process_key, "status": c.status, "client_code": code,
                 "started_at": c.started_at.isoformat()} for c, code in rows]


def next_tasks(created: list[dict], actor: Actor) -> list[dict]:
    """The task rows a command just wrote, as its answer names them to ``actor``: every one by its step and name
    (what the case page shows her), and those she may work on (``access.may_work``: assigned to her or
    unclaimed in her role's queue, exactly what her inbox lists) also by task id, lane and assignee, so a client
    goes on to the next step without reading its inbox. Nothing identifies a person here (step names come from
    the definition), so nothing needs masking (engine.cases.masking); of a task in another's hands or another
    lane she learns no id."""
    found = []
    for t in created:
        item = {"bpmn_id": t["bpmn_id"], "step": t["step"], "name": t["name"],
                "can_complete": access.may_work(actor, t["role"], t["assignee_id"])}
        if item["can_complete"]:
            item.update(task_id=t["id"], role=t["role"], assignee_id=t["assignee_id"])
        found.append(item)
    return found


def task_summary(t: HumanTask | Row) -> dict:
    """A task row as the API shows it; a mapped task, or a plain row of its columns (the inbox reads those)."""
    return {"task_id": t.id, "case_id": t.case_id, "bpmn_id": t.bpmn_id, "step": t.step, "name": t.name,
            "role": t.role, "assignee_id": t.assignee_id, "state": t.state,
            "created_at": t.created_at.isoformat(),
            "due_at": t.due_at.isoformat() if t.due_at else None,
            "completed_at": t.completed_at.isoformat() if t.completed_at else None,
            "completed_by": t.completed_by}
