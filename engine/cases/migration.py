"""Moving running cases to another version of their process, in bulk, and back (docs/services.md, "Moving running
cases to another version").

A case can move when every step it waits at (a ready user task, a waiting timer or message, any task not
finished) has an element with the same BPMN id in the target version, of the same kind — or one the request
maps it to (``mapping``: old id → new id). Elements are paired by id, not guessed: SpiffWorkflow's own
structural alignment (``SpecDiff``) is only used to *suggest* a mapping for a missing element, since pairing a
removed step with a new one silently would move a case somewhere nobody chose.

Moving uses SpiffWorkflow's ``migrate_workflow``: each task takes its element of the target version and the
waiting ones are reset and predicted again from the new diagram. A reset keeps the task's id (its inbox row,
assignee and draft stay) and here also its data and its timer's due time (``internal_data``), so a deadline does
not start over. A finished step whose element the target lacks is spliced out of the task tree (the case history
keeps it); a predicted one is predicted again. Each case moves in a transaction of its own with one
``case_migrated`` audit event (before/after version, the batch); a case that cannot move or fails is reported
and the batch goes on. A batch is reverted by moving the cases it moved back, where they still can.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from SpiffWorkflow.bpmn.util.diff import SpecDiff, migrate_workflow
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..definitions import serialization
from ..errors import Forbidden, NotFound, SegitoError, ValidationFailed
from ..forms import input_check
from ..people.users import ADMINISTRATOR, MANAGER, PROCESS_DESIGNER, Actor
from ..runtime.advance import Advance
from ..runtime.runtime import DefinitionView, Runtime
from ..store import audit, clock
from ..store.models import AuditEvent, Case, HumanTask, ProcessDefinition

CASE_MIGRATED = "case_migrated"
CASES_MIGRATED = "cases_migrated"  # the batch, in the system stream: what moved, what did not and why
# Who may look (a dry run) and who may move clients' cases (docs/services.md): designers see counts and case
# numbers only, never where a client's case stands; moving changes clients' cases, so it is for those who answer
# for them.
DRY_RUN_ROLES = (PROCESS_DESIGNER, MANAGER, ADMINISTRATOR)
MOVE_ROLES = (MANAGER, ADMINISTRATOR)
STATUSES = ("running", "failed")
MAX_CASES = 2000  # one batch; a larger selection is narrowed by version or step
LIVE = TaskState.READY | TaskState.WAITING | TaskState.STARTED | TaskState.ERROR


@dataclass
class Plan:
    """What moving one case would do: each waiting step and where it goes, or why it cannot move."""

    waiting: list[dict] = field(default_factory=list)
    reasons: list[dict] = field(default_factory=list)  # each: code, element, message (English, for API and CLI)
    alignments: list[tuple] = field(default_factory=list)  # (workflow, {task: new spec}, new process spec)


def _target_spec_name(name: str, mapping: dict[str, str]) -> str:
    """An element's spec name in the target version: mapped ids carry their engine-made specs along
    (``step.BoundaryEventSplit`` of a mapped ``step``)."""
    if name in mapping:
        return mapping[name]
    head, dot, rest = name.partition(".")
    return f"{mapping[head]}.{rest}" if dot and head in mapping else name


def _suggestions(old_spec, new_spec) -> dict[str, str]:
    """Old id → new id where SpiffWorkflow's structural alignment pairs an element the target lacks."""
    try:
        found = SpecDiff(serialization.spec_registry(), old_spec, new_spec)
    except Exception:  # a suggestion is a courtesy: a diagram the aligner cannot walk gets none
        return {}
    return {old.name: new.name for old, new in found.alignment.items()
            if new is not None and old is not None and old.name != new.name and old.bpmn_id}


def reason(code: str, element: str | None, message: str, **more) -> dict:
    """Why a case cannot move: a code and its element for a page to word, the English message for the API."""
    return {"code": code, "element": element, "message": message, **{k: v for k, v in more.items() if v}}


def plan(workflow, target: DefinitionView, mapping: dict[str, str]) -> Plan:
    """Pair every task of the case's workflow (and of its subprocesses) with the target version's element."""
    found = Plan()
    workflows = [(workflow, target.spec)]
    for sub in workflow.subprocesses.values():
        sub_spec = target.subprocess_specs.get(sub.spec.name)
        if sub_spec is None:
            if sub.get_tasks(state=LIVE, skip_subprocesses=True):
                found.reasons.append(reason("subprocess_missing", sub.spec.name,
                                            f"it waits inside subprocess '{sub.spec.name}', which the target "
                                            "version lacks"))
            continue
        workflows.append((sub, sub_spec))
    for wf, new_spec in workflows:
        alignment = {}
        suggested: dict[str, str] | None = None
        for task in wf.get_tasks(skip_subprocesses=True):
            old = task.task_spec
            new = new_spec.task_specs.get(_target_spec_name(old.name, mapping))
            alignment[task] = new
            if not task.has_state(LIVE):
                continue
            shown = old.bpmn_id or old.name
            if old.bpmn_id:
                found.waiting.append({"bpmn_id": old.bpmn_id, "state": TaskState.get_name(task.state).lower(),
                                      "to": new.bpmn_id if new is not None else None})
            if new is None:
                if suggested is None:
                    suggested = _suggestions(wf.spec, new_spec)
                hint = suggested.get(old.name)
                found.reasons.append(reason("missing", shown, f"it waits at '{shown}', which the target version "
                                            "lacks" + (f" (map it, e.g. to '{hint}')" if hint else
                                                       " (map it to an element)"), suggest=hint))
            elif type(new).__name__ != type(old).__name__:
                found.reasons.append(reason("kind_changed", shown, f"'{shown}' is a {type(old).__name__} here and "
                                            f"a {type(new).__name__} in the target version",
                                            before=type(old).__name__, after=type(new).__name__))
        found.alignments.append((wf, alignment, new_spec))
    return found


class _Alignment:
    """What ``migrate_workflow`` reads of a diff: the new spec of each task (None: none)."""

    def __init__(self, alignment: dict):
        self.alignment = alignment


def _splice_out(wf, task) -> None:
    """A finished task whose element is gone: its children hang from its parent instead."""
    parent = task.parent
    if parent is None:
        return
    at = parent._children.index(task.id)
    parent._children[at:at + 1] = list(task._children)
    for child in task.children:
        child._parent = parent.id
    del wf.tasks[task.id]
    if wf.last_task is task:
        wf.last_task = parent


def _drop(wf, task) -> None:
    for gone in list(task):
        wf.tasks.pop(gone.id, None)
    if task.parent is not None and task.id in task.parent._children:
        task.parent._children.remove(task.id)


def apply(found: Plan, workflow, target: DefinitionView) -> None:
    """Move the workflow to the target version (the plan has no reasons)."""
    workflow.subprocess_specs = target.subprocess_specs
    for wf, alignment, new_spec in found.alignments:
        kept = {t.id: (t.data, t.internal_data) for t in wf.get_tasks(state=LIVE, skip_subprocesses=True)}
        migrate_workflow(_Alignment(alignment), wf, new_spec)
        for task_id, (data, internal) in kept.items():
            task = wf.tasks.get(task_id)
            if task is not None and task.has_state(LIVE | TaskState.FUTURE):
                task.data, task.internal_data = data, internal
        for task in list(wf.tasks.values()):
            if task.id not in wf.tasks or new_spec.task_specs.get(task.task_spec.name) is task.task_spec:
                continue
            if task.has_state(TaskState.FINISHED_MASK):
                _splice_out(wf, task)
            else:
                _drop(wf, task)


def _require(actor: Actor, roles: tuple[str, ...], what: str) -> None:
    if not actor.role_codes & set(roles):
        raise Forbidden(f"{what} needs one of the roles: {', '.join(roles)}")


def require_dry_run(actor: Actor) -> None:
    _require(actor, DRY_RUN_ROLES, "looking at moves of cases")


def may_move(actor: Actor) -> bool:
    return bool(actor.role_codes & set(MOVE_ROLES))


def _version_id(session: Session, key: str, version: int | None) -> tuple[int, int]:
    query = select(ProcessDefinition.id, ProcessDefinition.version).where(ProcessDefinition.process_key == key)
    query = query.where(ProcessDefinition.version == version) if version is not None else \
        query.order_by(ProcessDefinition.version.desc()).limit(1)
    row = session.execute(query).first()
    if row is None:
        raise NotFound(f"process '{key}' has no version {version}" if version is not None
                       else f"no process '{key}' is deployed")
    return row.id, row.version


def _whole(value, name: str) -> int | None:
    if value is None or value == "":
        return None
    return input_check.version_number(name, value)


def _mapping(value) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) and k and v
                                              for k, v in value.items()):
        raise ValidationFailed("'mapping' must map element ids to element ids",
                               [{"field": "mapping", "message": "must be an object of element id → element id"}])
    return dict(value)


@dataclass
class Selection:
    """Which cases a request names, checked: the process, the target version and the filters."""

    process_key: str
    target_id: int
    target_version: int
    from_version: int | None
    step: str | None
    status: str
    mapping: dict[str, str]


def select_request(session: Session, process_key: str, to_version=None, from_version=None, step=None,
                   status="running", mapping=None) -> Selection:
    if not isinstance(process_key, str) or not process_key:
        raise ValidationFailed("'process_key' is required", [{"field": "process_key", "message": "is required"}])
    status = status or "running"
    if status not in STATUSES:
        raise ValidationFailed(f"'status' is one of {', '.join(STATUSES)}, not {status!r}",
                               [{"field": "status", "message": f"must be one of {', '.join(STATUSES)}"}])
    if step is not None and (not isinstance(step, str) or len(step) > 100):
        raise ValidationFailed("'step' must be an element id", [{"field": "step", "message": "must be an element id"}])
    target_id, target_version = _version_id(session, process_key, _whole(to_version, "to_version"))
    source = _whole(from_version, "from_version")
    if source is not None:
        _version_id(session, process_key, source)
    return Selection(process_key, target_id, target_version, source, step or None, status, _mapping(mapping))


def _cases(session: Session, sel: Selection) -> list[int]:
    query = (select(Case.id).join(ProcessDefinition, ProcessDefinition.id == Case.definition_id)
             .where(Case.process_key == sel.process_key, Case.status == sel.status,
                    Case.definition_id != sel.target_id))
    if sel.from_version is not None:
        query = query.where(ProcessDefinition.version == sel.from_version)
    if sel.step:
        query = query.where(select(HumanTask.id).where(HumanTask.case_id == Case.id, HumanTask.state == "ready",
                                                       HumanTask.bpmn_id == sel.step).exists())
    ids = list(session.execute(query.order_by(Case.id).limit(MAX_CASES + 1)).scalars())
    if len(ids) > MAX_CASES:
        raise ValidationFailed(f"more than {MAX_CASES} cases match; narrow the selection by version or step",
                               [{"field": "from_version", "message": f"more than {MAX_CASES} cases match"}])
    return ids


def _case_plan(runtime: Runtime, session, case, target: DefinitionView, mapping) -> tuple[Plan, BpmnWorkflow, int]:
    source = runtime.definition(session, case.definition_id)
    workflow = serialization.load_state(case.state, source.spec, source.subprocess_specs)
    return plan(workflow, target, mapping), workflow, source.version


def dry_run(runtime: Runtime, actor: Actor, process_key: str, **request) -> dict:
    """For each selected case whether it can move and why not; changes nothing. A process designer gets the
    counts, the case numbers and the reasons counted, never where one case stands."""
    _require(actor, DRY_RUN_ROLES, "a dry run of moving cases")
    detailed = bool(actor.role_codes & set(MOVE_ROLES))
    with runtime.db.reading() as session:
        sel = select_request(session, process_key, **request)
        target = runtime.definition(session, sel.target_id)
        rows: list[dict] = []
        for case_id in _cases(session, sel):
            case = session.get_one(Case, case_id)
            try:
                found, _workflow, version = _case_plan(runtime, session, case, target, sel.mapping)
                rows.append({"case_id": case_id, "version": version, "can_move": not found.reasons,
                             "reasons": found.reasons, "waiting": found.waiting})
            except SegitoError as e:
                rows.append({"case_id": case_id, "version": None, "can_move": False,
                             "reasons": [reason("failed", None, e.message)], "waiting": []})
    result = {"process_key": sel.process_key, "to_version": sel.target_version, "mapping": sel.mapping,
              "counts": {"cases": len(rows), "can_move": sum(r["can_move"] for r in rows),
                         "cannot_move": sum(not r["can_move"] for r in rows)},
              "can_move": [r["case_id"] for r in rows if r["can_move"]],
              "cannot_move": [r["case_id"] for r in rows if not r["can_move"]]}
    counted: dict[str, dict] = {}
    for r in rows:
        for why in r["reasons"]:
            counted.setdefault(why["message"], {**why, "cases": 0})["cases"] += 1
    result["reasons"] = sorted(counted.values(), key=lambda why: -why["cases"])
    if detailed:
        result["cases"] = rows
    return result


def _move_one(runtime: Runtime, case_id: int, target_id: int, mapping: dict, actor: str, batch: str,
              reverts: str | None = None, expect_definition: int | None = None) -> dict:
    """One case in its own transaction: moved, or why not (nothing of it changed)."""
    at = clock.now()
    with runtime.db.unit_of_work() as session:
        case = runtime.lock_case(session, case_id)
        if expect_definition is not None and case.definition_id != expect_definition:
            return {"case_id": case_id, "moved": False,
                    "reasons": [reason("moved_since", None, "it moved to another version since")]}
        if case.status not in STATUSES:
            return {"case_id": case_id, "moved": False,
                    "reasons": [reason("status", None, f"it is {case.status}", status=case.status)]}
        if case.definition_id == target_id:
            return {"case_id": case_id, "moved": False,
                    "reasons": [reason("already", None, "it is on the target version already")]}
        target = runtime.definition(session, target_id)
        found, workflow, version = _case_plan(runtime, session, case, target, mapping)
        if found.reasons:
            return {"case_id": case_id, "moved": False, "reasons": found.reasons}
        runtime.workflows.evict(case_id)
        source_id = case.definition_id
        step = Advance(runtime, session, case, workflow, target, actor, at)
        apply(found, step.workflow, target)
        payload = {"batch": batch, "process_key": case.process_key,
                   "before": {"version": version, "definition_id": source_id},
                   "after": {"version": target.version, "definition_id": target_id},
                   "waiting": found.waiting}
        if mapping:
            payload["mapping"] = mapping
        if reverts:
            payload["reverts"] = reverts
        step.audit.add(CASE_MIGRATED, payload)
        session.execute(update(Case.__table__).where(Case.__table__.c.id == case_id)
                        .values(definition_id=target_id))
        # The steps still waiting take the target version's names, roles and forms.
        for spiff_id, task in step.ready_before.items():
            meta = target.catalogue.get(task.task_spec.name, {})
            session.execute(update(HumanTask.__table__)
                            .where(HumanTask.__table__.c.spiff_task_id == spiff_id,
                                   HumanTask.__table__.c.state == "ready")
                            .values(bpmn_id=task.task_spec.name, step=meta.get("step") or "",
                                    name=meta.get("name") or task.task_spec.name,
                                    role=meta.get("role") or "caseworker", form_file=meta.get("form"),
                                    purpose=meta.get("purpose")))
        step.run_engine()
        step.finish()
        return {"case_id": case_id, "moved": True, "from_version": version, "to_version": target.version}


def _run(runtime: Runtime, actor: Actor, moves: list[tuple[int, int, int | None]], mapping: dict, key: str,
         reverts: str | None = None) -> dict:
    batch = uuid.uuid4().hex[:16]
    results = []
    for case_id, target_id, expect in moves:
        try:
            results.append(_move_one(runtime, case_id, target_id, mapping, actor.username, batch, reverts, expect))
        except SegitoError as e:
            results.append({"case_id": case_id, "moved": False, "reasons": [reason("failed", None, e.message)]})
        except Exception as e:  # one broken case does not stop the batch; it is reported, nothing of it saved
            results.append({"case_id": case_id, "moved": False,
                            "reasons": [reason("failed", None, f"{type(e).__name__}: {e}"[:500])]})
    moved = [r["case_id"] for r in results if r["moved"]]
    summary: dict = {"batch": batch, "process_key": key, "moved": moved,
                     "not_moved": [{"case_id": r["case_id"], "why": r["reasons"]} for r in results if not r["moved"]]}
    if mapping:
        summary["mapping"] = mapping
    if reverts:
        summary["reverts"] = reverts
    with runtime.db.unit_of_work() as session:
        audit.record_system_event(session, actor.username, clock.now(), CASES_MIGRATED, summary)
    return {**summary, "results": results}


def migrate(runtime: Runtime, actor: Actor, process_key: str, **request) -> dict:
    """Move every selected case that can move to the target version; one transaction and audit event per case."""
    _require(actor, MOVE_ROLES, "moving cases to another version")
    with runtime.db.reading() as session:
        sel = select_request(session, process_key, **request)
        ids = _cases(session, sel)
    result = _run(runtime, actor, [(i, sel.target_id, None) for i in ids], sel.mapping, sel.process_key)
    return {**result, "to_version": sel.target_version}


def revert(runtime: Runtime, actor: Actor, batch: str) -> dict:
    """Move the cases a batch moved back to the versions they came from, where they have not moved since and
    still can (the inverse of the batch's mapping applies)."""
    _require(actor, MOVE_ROLES, "reverting a move of cases")
    if not isinstance(batch, str) or not batch.isalnum() or len(batch) > 32:
        raise ValidationFailed("'batch' must be a batch id", [{"field": "batch", "message": "must be a batch id"}])
    with runtime.db.reading() as session:
        rows = session.execute(select(AuditEvent.case_id, AuditEvent.payload)
                               .where(AuditEvent.kind == CASE_MIGRATED).order_by(AuditEvent.id)).all()
        events: list[tuple[int, dict]] = [(int(r[0]), audit.readable(session, r[1]))  # sealed: opened
                                          for r in rows if r[0] is not None]
    moves = [(case_id, p["before"]["definition_id"], p["after"]["definition_id"], p)
             for case_id, p in events if p.get("batch") == batch and case_id is not None]
    if not moves:
        raise NotFound(f"no case was moved by batch '{batch}'")
    mapping = {new: old for old, new in (moves[0][3].get("mapping") or {}).items()}
    result = _run(runtime, actor, [(case_id, back, now) for case_id, back, now, _ in moves], mapping,
                  moves[0][3]["process_key"], reverts=batch)
    return result


def batches(session: Session, process_key: str, limit: int = 20) -> list[dict]:
    """The latest batches of a process, newest first: who, when, how many moved and not."""
    rows = session.execute(select(AuditEvent.occurred_at, AuditEvent.actor, AuditEvent.payload)
                           .where(AuditEvent.kind == CASES_MIGRATED).order_by(AuditEvent.id.desc())).all()
    found = []
    for r in rows:
        if r.payload.get("process_key") != process_key:
            continue
        found.append({"batch": r.payload["batch"], "at": r.occurred_at.isoformat(), "by": r.actor,
                      "moved": len(r.payload.get("moved") or []), "not_moved": len(r.payload.get("not_moved") or []),
                      "reverts": r.payload.get("reverts")})
        if len(found) >= limit:
            break
    return found
