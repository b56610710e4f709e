"""The inbox and the commands on one task: open, save a draft, claim, release, complete."""
from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import cast

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import CursorResult, bindparam, exists, select, update

from ..definitions import definitions
from ..errors import Conflict, NotFound, SegitoError, ValidationFailed
from ..forms import entries, input_check, member_blocks, report_fields, review
from ..forms.forms import service_today
from ..observability import metrics
from ..people import access
from ..people.users import CASEWORKER, Actor
from ..runtime.advance import CASE_COLUMNS, Advance, CaseRecord
from ..runtime.runtime import Runtime
from ..sandbox.calendar_helpers import local_date
from ..store import audit, clock, keys
from ..store.db import Prepared, is_postgres
from ..store.models import AuditEvent, Case, Client, DataKey, HumanTask
from . import agenda, anonymous_answers, anonymous_handout, consent, inbox_counts, inbox_queries, members
from .cases import case_data_and_entries, next_tasks, start_in, task_summary

_tasks = HumanTask.__table__
_COMPLETE_TASK = Prepared(_tasks.update().where(_tasks.c.id == bindparam("task_id"), _tasks.c.state == "ready")
                          .values(state="completed", completed_at=bindparam("at"), completed_by=bindparam("by"),
                                  draft=None))


# The task and its case in one statement, both locked on PostgreSQL (so both are current after a wait);
# the case's state is read only when the workflow cache misses. Columns, not entities: loading mapped objects
# would cost more than the statement itself, and complete() writes with Core statements anyway.
_cases = Case.__table__
_TASK_COLUMNS = tuple(_tasks.c[n] for n in ("id", "case_id", "spiff_task_id", "bpmn_id", "step", "name", "role",
                                             "assignee_id", "state", "form_file", "completed_by"))
# Last, whether the case's data key is still live (not shredded): read here, the key cache's check costs the
# command no statement of its own (engine/store/keys.py, "_still_live").
_keys = DataKey.__table__
_KEY_LIVE = exists().where(_keys.c.id == _cases.c.data_key_id, _keys.c.wrapped.is_not(None)).label("key_live")
_TASK_AND_CASE_QUERY = (select(*_TASK_COLUMNS, *CASE_COLUMNS, _KEY_LIVE)
                        .join(_cases, _cases.c.id == _tasks.c.case_id).where(_tasks.c.id == bindparam("task_id")))
_TASK_AND_CASE_PG = Prepared(_TASK_AND_CASE_QUERY.with_for_update())
_TASK_AND_CASE = Prepared(_TASK_AND_CASE_QUERY)
_CASE_STATE = select(_cases.c.state).where(_cases.c.id == bindparam("case_id"))


def _task_row(session, task_id: int) -> HumanTask:
    task = session.get(HumanTask, task_id)
    if task is None:
        raise NotFound(f"task {task_id} does not exist")
    return task


def _require_ready(task: HumanTask) -> None:
    if task.state != "ready":
        who = f" by {task.completed_by}" if task.completed_by else ""
        raise Conflict(f"task {task.id} is already {task.state}{who}; nothing was saved")


def inbox(runtime: Runtime, actor: Actor, *, mine_only: bool = False, process_key: str | None = None,
          step: str | None = None, client_code: str | None = None, limit: int = 50, offset: int = 0,
          group: str | None = None, due: str | None = None, role: str | None = None) -> dict:
    """Ready tasks assigned to the actor, and unclaimed ones of the actor's roles; rows only, no workflows.

    ``group``: "mine" (assigned to me) or "unclaimed" (my roles' queue); ``due``: "overdue", "today" (due by the
    end of today, UTC), "week" (within 7 days) or "none" (no due date); ``role``: only tasks of that lane.
    ``counts`` gives the size of each group and the overdue ones under the same filters (group aside).
    Overdue first, then by due date, then oldest first (what needs doing soonest is on top), no due date last.
    """
    if due is not None and due not in inbox_queries.DUE_KINDS:
        raise SegitoError(f"unknown due filter '{due}'; use overdue, today, week or none")
    if group is not None and group not in (inbox_queries.MINE, inbox_queries.UNCLAIMED):
        raise SegitoError(f"unknown inbox group '{group}'; use mine or unclaimed")
    input_check.check_offset("offset", offset)
    now = clock.now()
    counted = (inbox_queries.MINE,) if (mine_only or not actor.role_codes) else (inbox_queries.MINE,
                                                                                 inbox_queries.UNCLAIMED)
    shape = inbox_queries.Shape(counted=counted, listed=(group,) if group else counted,
                                process_key=bool(process_key), step=bool(step), client_code=bool(client_code),
                                role=bool(role), due=due or None)
    limit = min(limit, 200)
    roles = sorted(actor.role_codes)
    due_before = {"overdue": now, "week": now + dt.timedelta(days=7),
                  "today": now.replace(hour=0, minute=0, second=0, microsecond=0)
                  + dt.timedelta(days=1)}.get(due) if due else None
    params = {"me": actor.id, "roles": roles, "now": now, "process_key": process_key,
              "step": step, "client_code": client_code, "role": role, "limit": limit, "offset": offset,
              "end": offset + limit, "due_before": due_before}
    statements = inbox_queries.statements(shape)
    crowded = False
    # Plain Core statements only: a connection, no ORM Session (whose set-up and per-statement work cost more
    # than PostgreSQL's own part of the inbox, docs/benchmarks.md).
    with runtime.db.read_connection() as session:
        if process_key or step or client_code:
            # Each row is (group, tasks, overdue tasks); the select's columns are built per inbox shape, untyped.
            rows = cast(Sequence[tuple[int, int, int]], session.execute(statements.counts, params).all())
            sizes = {counted[i]: (n, late) for i, n, late in rows}
        else:
            # The counters the triggers keep: a few rows per group however many tasks wait.
            sizes, crowded = inbox_counts.counts(session, counted, params, due, now, due_before)
        counts = {"mine": sizes.get(inbox_queries.MINE, (0, 0))[0],
                  "unclaimed": sizes.get(inbox_queries.UNCLAIMED, (0, 0))[0],
                  "overdue": sum(late for _, late in sizes.values())}
        if group == "mine" or (mine_only and not group):
            total = counts["mine"]
        elif group == "unclaimed":
            total = counts["unclaimed"]
        else:
            total = counts["mine"] + counts["unclaimed"]  # the two groups never overlap
        # The page's ids are chosen first (a subquery), then joined to their case and client: the joins touch
        # the page's rows, not all. Plain rows, not ORM objects: the inbox only reads them.
        listed = inbox_queries.in_page_order(session.execute(statements.listed, params).all())
        # An appointment whose timer is in incident has no task yet: listed beside the tasks, so it is not lost.
        held = agenda.waiting_for_administrator(session, actor.id) if CASEWORKER in actor.role_codes else []
    if crowded:
        inbox_counts.merge_quietly(runtime.db, actor.id, roles)
    items = []
    for task in listed:
        item = task_summary(task)
        item.update(process_key=task.process_key, client_code=task.client_code,
                    overdue=bool(task.due_at and task.due_at < now))
        items.append(item)
    return {"total": total, "items": items, "counts": counts, "waiting_for_administrator": held}


def task_facts(task: HumanTask) -> dict:
    """What a task knows that a form may be pre-filled from (x-prefill-from "task.<fact>"). A timer-fired
    appointment is due from the start of its scheduled local day (docs/timers.md), so that day is its date."""
    return {"scheduled_day": local_date(task.due_at).isoformat() if task.due_at else None}


def get_task(runtime: Runtime, task_id: int, actor: Actor) -> dict:
    """A task with its form, the values to show (draft, else what the case holds) and its documentation."""
    input_check.check_id("task", task_id)
    with runtime.db.reading() as session:
        task = _task_row(session, task_id)
        case = session.get_one(Case, task.case_id)  # the task's foreign key: there is one
        if not (access.can_work_on(actor, task) or access.can_view_case(actor, case)):
            raise access.Forbidden(f"task {task_id} is not yours to see")
        view = runtime.definition(session, case.definition_id)
        meta = view.catalogue.get(task.bpmn_id, {})
        form = view.forms.get(task.form_file) if task.form_file else None
        values: dict = {}
        carried: dict = {}
        reviewed: dict = {}
        draft = keys.open_json(session, task.draft, keys.DRAFT)  # sealed under the case's key
        if task.state == "ready" and form is not None:
            # A block shown for review (x-review) is described too: a row's recorder and date are the log's.
            shown_for_review = tuple(dict.fromkeys(
                key for group in review.groups(form.schema) for key in group.get("fields") or []
                if key not in form.append_only and key not in review.CASE_FACTS))
            data, described = case_data_and_entries(runtime, session, case, form.append_only + shown_for_review,
                                                    task.spiff_task_id)
            carried = {f: described[f] for f in form.append_only}
            reviewed = {f: described[f] for f in shown_for_review if described[f]}
            if form.anonymous is not None:
                values = {}  # nothing of the case is shown in, or carried into, an anonymous questionnaire
            elif draft is not None:
                values = dict(draft)
            else:
                values = form.prefill(data, task_facts(task))
            if report_fields.fields_from_reports(form.schema):
                # Set by the server from live data, shown as they would be recorded now (docs/forms.md).
                values.update(report_fields.fill(session, form.schema, {**data, **values}, actor))
            if form.append_only:
                # The rows recorded at earlier steps, with who recorded them (``carried``); ``values`` holds them
                # first, then this step's new rows (a draft keeps only those).
                for field, shown in carried.items():
                    rows = [e["row"] for e in shown]
                    drafted = (draft or {}).get(field)
                    drafted = list(drafted) if isinstance(drafted, list) else []
                    if drafted[:len(rows)] == rows:  # a draft saved with the carried rows in front
                        drafted = drafted[len(rows):]
                    values[field] = rows + drafted
        result = task_summary(task)
        result.update(process_key=case.process_key, name_en=meta.get("name_en"),
                      documentation=meta.get("documentation", ""), documents=meta.get("documents", []),
                      documents_hu=meta.get("documents_hu", []), form_file=task.form_file,
                      form=form.schema if form else None, values=values, has_draft=task.draft is not None,
                      anonymous=bool(form and form.anonymous),
                      carried=carried, reviewed_entries=reviewed)
        return result


@metrics.command("save_draft")
def save_draft(runtime: Runtime, task_id: int, data, actor: Actor) -> dict:
    input_check.check_id("task", task_id)
    input_check.check_data(data)  # a draft is shown again: it must be text the page can show
    at = clock.now()
    with runtime.db.unit_of_work() as session:
        case = runtime.lock_case_of_task(session, task_id)
        task = _task_row(session, task_id)
        access.require_task(actor, task)
        _require_ready(task)
        view = runtime.definition(session, case.definition_id)
        form = view.forms.get(task.form_file)
        if form is not None and form.anonymous is not None:
            # A draft is kept with the task, so it would tie the answers to the case and to whoever typed them.
            raise ValidationFailed("the answers of an anonymous questionnaire are never saved as a draft; "
                                   "complete the questionnaire in one go",
                                   [{"field": "(form)", "kind": "x-anonymous",
                                     "message": "an anonymous questionnaire has no draft"}])
        consent.require_for_step(session.connection(), view, case, task.bpmn_id, service_today())
        draft = form.validate_draft(data) if form else {}
        if form is not None and form.append_only:
            workflow = runtime.workflow(session, case)
            ready = next((t for t in workflow.get_tasks(state=TaskState.READY, manual=True)
                          if str(t.id) == task.spiff_task_id), None)
            draft = entries.strip_carried(workflow, ready.data if ready else {}, form.append_only, dict(draft))
            runtime.workflows.put(case.id, case.lock_version, workflow)
        task.draft = keys.seal_json(session, case.data_key_id, draft, keys.DRAFT)
        events = audit.CaseAudit(case, actor.username, at)
        events.add(audit.DRAFT_SAVED, {"fields": sorted(draft)}, task_id=task.id)
        events.flush(session)
    return {"task_id": task_id, "saved_at": at.isoformat()}


@metrics.command("claim_task")
def claim(runtime: Runtime, task_id: int, actor: Actor) -> dict:
    return _set_assignee(runtime, task_id, actor, claim=True)


@metrics.command("release_task")
def release(runtime: Runtime, task_id: int, actor: Actor) -> dict:
    return _set_assignee(runtime, task_id, actor, claim=False)


def _set_assignee(runtime: Runtime, task_id: int, actor: Actor, claim: bool) -> dict:
    input_check.check_id("task", task_id)
    at = clock.now()
    with runtime.db.unit_of_work() as session:
        case = runtime.lock_case_of_task(session, task_id)
        task = _task_row(session, task_id)
        if claim and _lost_to_another_claim(session, actor, task):
            # The other claim won the race (or came earlier): the task was in this actor's queue, so saying it is
            # taken reveals nothing new. A task assigned from the start stays a 403 (access.require_task).
            raise Conflict(f"task {task_id} was already claimed by someone else; it is no longer in the queue")
        access.require_task(actor, task)
        _require_ready(task)
        before, after = task.assignee_id, (actor.id if claim else None)
        guard = HumanTask.assignee_id.is_(None) if claim else HumanTask.assignee_id == actor.id
        # An UPDATE's result is a CursorResult (it has the rowcount); Session.execute is typed for any statement.
        done = cast(CursorResult, session.execute(
            update(HumanTask).where(HumanTask.id == task_id, HumanTask.state == "ready", guard)
            .values(assignee_id=after).execution_options(synchronize_session=False)))
        if done.rowcount != 1:
            raise Conflict(f"task {task_id} was {'claimed' if claim else 'released'} by someone else first")
        events = audit.CaseAudit(case, actor.username, at)
        events.add(audit.TASK_CLAIMED if claim else audit.TASK_RELEASED,
                   {"before": {"assignee_id": before}, "after": {"assignee_id": after}}, task_id=task_id)
        events.flush(session)
    return {"task_id": task_id, "assignee_id": after}


def _lost_to_another_claim(session, actor: Actor, task: HumanTask) -> bool:
    """Is the task of one of the actor's roles, assigned to someone else by a claim from the role's queue?"""
    if task.role not in actor.role_codes or task.assignee_id in (None, actor.id):
        return False
    claimed = session.execute(select(AuditEvent.id).where(AuditEvent.case_id == task.case_id,
                                                          AuditEvent.task_id == task.id,
                                                          AuditEvent.kind == audit.TASK_CLAIMED).limit(1)).first()
    return claimed is not None


@metrics.command("complete_task")
def complete(runtime: Runtime, task_id: int, data, actor: Actor, hand_out: bool = False) -> dict:
    """Validate the form data, run the case to its next wait state, and save everything in one transaction.

    ``hand_out``: for a step whose form is an anonymous questionnaire, complete it by handing the questionnaire to
    the client instead of answering it here: the result's ``hand_out`` holds a one-time link's token and its last
    day (engine/cases/anonymous_handout.py); ``data`` is not read.

    Of two concurrent completions of the same task exactly one wins: the other finds the task no longer ready
    (after waiting for the case lock) and gets a Conflict, with nothing saved.
    """
    input_check.check_id("task", task_id)
    input_check.check_data(data)
    at = clock.now()
    case_id = None
    try:
        with runtime.db.command() as session:
            connection = session.connection()
            found = (_TASK_AND_CASE_PG if is_postgres(session) else _TASK_AND_CASE).first(connection,
                                                                                          {"task_id": task_id})
            if found is None:
                raise NotFound(f"task {task_id} does not exist")
            n = len(_TASK_COLUMNS)
            task = found  # a Row: its task columns by name
            case = CaseRecord(zip((c.name for c in CASE_COLUMNS), found[n:n + len(CASE_COLUMNS)]))
            case_id = case.id
            if found.key_live and case.data_key_id is not None:
                keys.note_live(connection, case.data_key_id)
            access.require_task(actor, task)
            _require_ready(task)
            view = runtime.definition(session, case.definition_id)
            form = view.forms.get(task.form_file) if task.form_file else None
            workflow = runtime.workflows.take(case.id, case.lock_version)
            if workflow is None:
                case.state = connection.execute(_CASE_STATE, {"case_id": case.id}).scalar_one()
                workflow = runtime.workflow(session, case)
            step = Advance(runtime, session, case, workflow, view, actor.username, at)
            spiff_task = step.ready_before.get(task.spiff_task_id)
            if spiff_task is None:
                raise Conflict(f"task {task_id} is no longer waiting in case {case.id}; nothing was saved")
            if hand_out:
                if form is None or form.anonymous is None:
                    raise ValidationFailed(f"task {task_id} is not an anonymous questionnaire: it cannot be handed out",
                                           [{"field": "hand_out", "message": "only an anonymous questionnaire",
                                             "kind": "x-anonymous"}])
                return _complete_anonymous(session, connection, view, form, {}, case, task, step, actor, at,
                                           hand_out=True)
            # A process whose legal basis is consent records nothing while none is in force (engine.cases.consent).
            consent.require_for_step(connection, view, case, task.bpmn_id, service_today())
            # Validated against the case's data so far: a date may not precede an earlier step's (docs/forms.md).
            clean = form.validate(data, context=spiff_task.data) if form is not None else {}
            if form is not None and report_fields.fields_from_reports(form.schema):
                # Figures from live data, as they stand when the step is recorded, with their evidence.
                clean.update(report_fields.fill(session, form.schema, {**spiff_task.data, **clean}, actor))
            if form is not None and form.anonymous is not None:
                # The answer leaves the case here: stored with nothing leading back to the respondent, and the step
                # completed with no data (docs/forms.md, "Anonymous questionnaires").
                return _complete_anonymous(session, connection, view, form, clean, case, task, step, actor, at)
            added, carried = {}, {}
            if form is not None and form.append_only:
                # Rows recorded at earlier steps stay as they were; this step only appends (engine.forms.entries).
                added = entries.take_new_rows(form, form.append_only, workflow, spiff_task.data, clean, case.id)
                carried = {f: entries.rows(workflow, spiff_task.data, f) for f in added}
                entries.record(workflow, spiff_task.data, clean, added, step=task.step, task_id=task.id,
                               actor=actor.username, at=at.isoformat())
            # A case with members: joinings, leavings and attendance checked and recorded (engine.cases.members).
            membership = members.apply(session, view.members, form, clean, case, task, actor.username, at,
                                       step.audit) if form is not None else {"left": []}
            before = {k: spiff_task.data.get(k) for k in clean}
            before.update(carried)
            # The membership the engine wrote is in the history as its own events (member_joined, member_left).
            changed = {k for k in clean if before.get(k) != clean[k] and k not in member_blocks.DATA_KEYS}
            step.complete(task.spiff_task_id, clean)
            consent.take_from_step(connection, view, case, task.bpmn_id, clean, actor.username, at, step.audit)
            linked = _start_linked(runtime, session, form, clean, case, task, actor, at, step) if form else []
            linked += _start_for_leavers(runtime, session, view.members, membership["left"], case, task, actor, at,
                                         step)
            if _COMPLETE_TASK.execute(connection, {"task_id": task_id, "at": at, "by": actor.username}) != 1:
                raise Conflict(f"task {task_id} was completed by someone else first; nothing was saved")
            payload = {"bpmn_id": task.bpmn_id, "step": task.step, "name": task.name,
                       **audit.field_changes(before, clean, changed)}
            for field, rows in added.items():
                if rows:  # exactly the rows appended, even one equal to an earlier row
                    payload["before"][field], payload["after"][field] = [], rows
            step.audit.events.insert(0, audit.PendingEvent(audit.TASK_COMPLETED, payload, task.id))
            decisions = _decisions(form, clean) if form else {}
            if decisions:
                step.audit.events.insert(1, audit.PendingEvent(audit.DECISION_TAKEN,
                                                               {"step": task.step, "answers": decisions}, task.id))
            created = step.finish()
            status = case.status
    except BaseException:
        if case_id is not None:
            runtime.workflows.evict(case_id)
        raise
    return {"task_id": task_id, "case_id": case_id, "case_status": status,
            "next_tasks": next_tasks(created, actor),
            # A warning only when there is one, e.g. a caseload past its manifest's limit (engine.timers.timer_sync).
            **({"warnings": step.warnings} if getattr(step, "warnings", None) else {}),
            # Cases a choice on the form started for the same client (x-starts-case), when there are any.
            **({"started_cases": linked} if linked else {})}


def _complete_anonymous(session, connection, view, form, clean: dict, case, task, step: Advance, actor: Actor,
                        at: dt.datetime, hand_out: bool = False) -> dict:
    """Complete a step whose form is an anonymous questionnaire: the answer is written apart (no case, client,
    task, user or exact time), the workflow goes on with no data from it, and the audit says only that an answer
    to the questionnaire was given — or, handed out, that a one-time link was given to the client (the token is
    in the result only, never in the audit or the database)."""
    package_key = view.manifest["key"] if view.manifest else view.process_key
    link = None
    if hand_out:
        link = anonymous_handout.issue(session, package_key, form.anonymous, case.definition_id, task.form_file,
                                       local_date(at))
    else:
        anonymous_answers.record(session, package_key, form.anonymous, clean, local_date(at))
    step.complete(task.spiff_task_id, {})
    if _COMPLETE_TASK.execute(connection, {"task_id": task.id, "at": at, "by": actor.username}) != 1:
        raise Conflict(f"task {task.id} was completed by someone else first; nothing was saved")
    payload = {"bpmn_id": task.bpmn_id, "step": task.step, "name": task.name,
               "anonymous_answer": {"questionnaire": form.anonymous.questionnaire,
                                    **({"handed_out": True} if hand_out else {})}}
    step.audit.events.insert(0, audit.PendingEvent(audit.TASK_COMPLETED, payload, task.id))
    created = step.finish()
    return {"task_id": task.id, "case_id": case.id, "case_status": case.status, "anonymous": True,
            **({"hand_out": link} if link else {}),
            "next_tasks": next_tasks(created, actor),
            **({"warnings": step.warnings} if getattr(step, "warnings", None) else {})}


def _start_linked(runtime: Runtime, session, form, clean: dict, case, task, actor: Actor, at, step) -> list[dict]:
    """Start, in this step's transaction, a case of each process chosen in an ``x-starts-case`` field, for the
    case's client; both cases get a ``case_linked`` event naming the other (docs/forms.md). Whatever refuses the
    start (the actor may not start that process, the client already has an open case of a process that allows
    one) refuses the step too: nothing is saved."""
    linked = []
    for field in form.starts_case:
        key = clean.get(field)
        if not key:
            continue
        try:
            target = runtime.definition(session, definitions.latest_definition_id(session, key))
        except NotFound:
            target = None
        if target is None or not target.needs_client or case.client_id is None:
            why = ("no such process is deployed" if target is None else
                   "that process does not start from a registered client" if not target.needs_client else
                   "this case has no registered client")
            raise ValidationFailed(f"{field}: cannot start a '{key}' case for the same client: {why}",
                                   [{"field": field, "kind": "x-starts-case", "value": key,
                                     "message": f"cannot start a '{key}' case for the same client: {why}"}])
        code = session.execute(select(Client.client_code).where(Client.id == case.client_id)).scalar_one()
        here = {"case_id": case.id, "process_key": case.process_key, "task_id": task.id, "step": task.step,
                "field": field}
        new = start_in(runtime, session, key, actor, code, False, at, linked_from=here)
        step.audit.add(audit.CASE_LINKED, {"started": {"case_id": new["case_id"], "process_key": key,
                                                       "task_id": task.id, "step": task.step, "field": field}},
                       task.id)
        linked.append({"case_id": new["case_id"], "process_key": key, "field": field, "tasks": new["tasks"]})
    return linked


def _start_for_leavers(runtime: Runtime, session, settings: dict, left: list, case, task, actor: Actor, at,
                       step) -> list[dict]:
    """For each member who left in this step, a case of the manifest's ``leaving_starts`` process with that
    member as its client (the follow-up after leaving), in this step's transaction; both cases are linked."""
    key = settings.get("leaving_starts")
    started: list[dict] = []
    if not key:
        return started
    for code, row, member in left:
        here = {"case_id": case.id, "process_key": case.process_key, "task_id": task.id, "step": task.step,
                "field": "client_code", "client_code": code}
        new = start_in(runtime, session, key, actor, code, True, at, linked_from=here,
                       extra_seed=members.follow_up_seed(session, code, row, member, case.id))
        step.audit.add(audit.CASE_LINKED, {"started": {"case_id": new["case_id"], "process_key": key,
                                                       "task_id": task.id, "step": task.step,
                                                       "field": "client_code", "client_code": code}}, task.id)
        started.append({"case_id": new["case_id"], "process_key": key, "client_code": code, "tasks": new["tasks"]})
    return started


def _decisions(form, clean: dict) -> dict:
    props = form.schema.get("properties", {})
    return {k: v for k, v in clean.items() if "x-seed-step" in props.get(k, {})}
