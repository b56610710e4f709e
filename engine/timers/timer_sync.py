"""Timer rows kept in step with the workflow: the observer every command runs inside its transaction.

SpiffWorkflow runs the timer events (intermediate and boundary; dates, durations and cycles): a waiting timer
task keeps its due time in ``internal_data['event_value']`` and fires when ``refresh_timers`` sees it past the
engine clock. What SpiffWorkflow cannot do is wake up: ``observe`` writes one ``timers`` row per waiting due
time (and marks rows fired or cancelled when their task stops waiting), so a worker finds what is due with one
indexed query instead of loading cases. Firing is in ``engine.timers.timers``.
"""
from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Collection
from uuid import UUID

from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    DurationTimerEventDefinition,
    TimeDateEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.exceptions import TaskNotFoundException
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import bindparam, or_, select, update

from ..packages import settings as package_settings
from ..runtime import finished_rounds
from ..sandbox import calendar_helpers
from ..store import audit, clock
from ..store.db import Prepared
from ..store.models import UtcDateTime
from ..store.timer_models import Timer
from . import caseload, wakeups

log = logging.getLogger(__name__)

OPEN = ("scheduled", "incident")
TIMER_FIRED = "timer_fired"
TIMERS_SCHEDULED = "timers_scheduled"
TIMERS_CANCELLED = "timers_cancelled"
TIMER_INCIDENT_CLOSED = "timer_incident_closed"  # a person's command moved the case past a timer in incident
MAX_FIRINGS_PER_CASE = 1000  # a cycle firing "each missed interval" is bounded per command
_TICK = dt.timedelta(microseconds=1)  # SpiffWorkflow fires a timer when its due time < now (strictly)
SCHEDULER = "scheduler"  # the actor of the worker's firings (engine.timers.timers fires those in its own order)


# ---------------------------------------------------------------- reading timers out of a workflow

def _props(task_spec) -> dict:
    return (getattr(task_spec, "extensions", None) or {}).get("properties", {}) or {}


def due_of(task) -> tuple[dt.datetime, str] | None:
    """(due time, kind) of a waiting timer task, as SpiffWorkflow itself will compare it with the clock."""
    definition = task.task_spec.event_definition
    value = task._get_internal_data("event_value")
    if value is None:
        return None
    if isinstance(definition, CycleTimerEventDefinition):
        if value.get("cycles") == 0:
            return None
        return dt.datetime.fromisoformat(value["next"]), "cycle"
    if isinstance(definition, DurationTimerEventDefinition):
        return TimerEventDefinition.get_datetime(value), "duration"
    if isinstance(definition, TimeDateEventDefinition):
        return TimerEventDefinition.parse_time_or_duration(value), "date"
    return None


def waiting_timers(workflow) -> dict[tuple[str, dt.datetime], tuple[Task, str]]:
    """{(spiff task id, due time): (task, kind)} for every timer event waiting anywhere in the workflow."""
    found = {}
    for task in list(workflow.event_manager.tasks.values()):
        definition = getattr(task.task_spec, "event_definition", None)
        if not isinstance(definition, TimerEventDefinition) or task.state != TaskState.WAITING:
            continue
        due = due_of(task)
        if due is not None:
            found[(str(task.id), due[0].astimezone(dt.timezone.utc))] = (task, due[1])
    return found


# Statements built once: the observer runs in every command of a process with timers.
_T = Timer.__table__
_OPEN_ROWS = Prepared(select(_T.c.id, _T.c.spiff_task_id, _T.c.due_at, _T.c.bpmn_id, _T.c.label, _T.c.purpose,
                             _T.c.state, _T.c.claimed_by, _T.c.attempts).where(
    _T.c.case_id == bindparam("case_id"), or_(_T.c.state == "scheduled", _T.c.state == "incident")))
_MARK = Prepared(update(_T).where(_T.c.id == bindparam("timer_id")).values(
    state=bindparam("state"), fired_at=bindparam("at", type_=UtcDateTime()), fired_by=bindparam("by"),
    claimed_by=None, claim_expires_at=None))

# A timer that waits again for the same due time keeps its row: only the waiting task it belongs to changes.
_REARM = update(_T).where(_T.c.id == bindparam("timer_id")).values(spiff_task_id=bindparam("task"))
_INSERT = Prepared(_T.insert())
_INSERT_RETURNING_ID = _T.insert().returning(_T.c.id)

def uses_timers(view) -> bool:
    """Whether a deployed version has any timer event (cases of other processes skip the timer query).

    Kept on the view itself, not by definition id: one process may serve two databases (the tests do), where
    the same id is another definition."""
    hit = view.__dict__.get("_uses_timers")
    if hit is None:
        specs = [view.spec, *view.subprocess_specs.values()]
        hit = any(isinstance(getattr(ts, "event_definition", None), (TimerEventDefinition, MultipleEventDefinition))
                  for spec in specs for ts in spec.task_specs.values())
        view._uses_timers = hit
    return hit


def _evaluate(workflow, task, expression: str | None):
    if not expression:
        return None
    try:
        return workflow.script_engine.evaluate(task, expression)
    except Exception as e:  # a label or due date that cannot be computed must not stop the case
        log.warning("case expression %r on %s failed: %s", expression, task.task_spec.name, e)
        return None


def _find(workflow, spiff_task_id: str):
    try:
        return workflow.get_task_from_id(UUID(spiff_task_id))
    except TaskNotFoundException:
        return None


# ---------------------------------------------------------------- the observer: rows in step with the workflow

def open_rows(session, case_id: int) -> list:
    """The case's scheduled and incident timer rows (to be read under the case's lock)."""
    return _OPEN_ROWS.all(session.connection(), {"case_id": case_id})


def _timer_waits(workflow) -> bool:
    """Whether any timer event waits (due time or not): a superset of what ``waiting_timers`` returns."""
    return any(isinstance(getattr(task.task_spec, "event_definition", None), TimerEventDefinition)
               and task.state == TaskState.WAITING for task in list(workflow.event_manager.tasks.values()))


def _timer_ran(workflow, task) -> None:
    """SpiffWorkflow ran a date or duration timer event (connected to the timer specs' ``run_event``).

    A timer whose due time has already passed when it starts waiting fires at once, inside the engine steps
    that created it (a loop's next round after downtime, or after a plan change keeping one already due):
    it never waited, so it has no row. The observer writes one for it, as fired."""
    top = getattr(workflow, "top_workflow", None) or workflow
    ran = getattr(top, "_segito_timers_ran", None)
    if ran is not None:
        due = due_of(task)
        if due is not None:
            ran.append((str(task.id), due[0].astimezone(dt.timezone.utc), task, due[1]))


def _listen(view) -> None:
    if getattr(view, "_segito_timers_heard", False):
        return
    for spec in [view.spec, *view.subprocess_specs.values()]:
        for ts in spec.task_specs.values():
            definition = getattr(ts, "event_definition", None)
            if isinstance(definition, TimerEventDefinition) and not isinstance(definition, CycleTimerEventDefinition):
                ts.run_event.connect(_timer_ran)
    view._segito_timers_heard = True


# ---------------------------------------------------------------- held timers: never fired by this command

def hold(workflow, held: set[str]) -> None:
    """For the command under way, the ``held`` timers (spiff task ids) of this workflow do not fire, whatever
    the clock says. SpiffWorkflow looks at every waiting task after each task it completes (and in
    ``refresh_timers``), so the timer event definitions themselves ask (``_holding``)."""
    workflow._segito_held_timers = held


def _is_held(my_task) -> bool:
    held = getattr(my_task.workflow.top_workflow, "_segito_held_timers", None)
    return held is not None and str(my_task.id) in held


def _holding(original):
    def check(self, my_task):
        if _is_held(my_task):
            return False
        return original(self, my_task)
    check.__wrapped__ = original
    return check


for _definition, _method in ((TimeDateEventDefinition, "has_fired"), (DurationTimerEventDefinition, "has_fired"),
                             (CycleTimerEventDefinition, "cycle_complete")):
    if not hasattr(getattr(_definition, _method), "__wrapped__"):
        setattr(_definition, _method, _holding(getattr(_definition, _method)))


def held_timers(rows, firing: int | None = None) -> set[str]:
    """The waiting timers (spiff task ids) a command must not fire: those in incident, which wait for an
    administrator's retry, and those failing, which the worker retries after their backoff — all but ``firing``,
    the row the worker fires now. So a timer's failure never travels into a person's command or into the firing
    of another timer of the case; the case's other timers keep firing (docs/timers.md, "Failures")."""
    return {r.spiff_task_id for r in rows if r.id != firing and (r.state == "incident" or r.attempts)}


def note_waiting(step) -> None:
    """Runs as the command begins (engine.runtime.observers.BEGIN_OBSERVERS): did any timer wait before it?

    The open rows of a case are those of the timers that waited when its last command committed (every
    command ends in ``observe``); so when none waited before this command and none waits after it, the case
    has no open row and ``observe`` need not read them."""
    step.timers_waited = uses_timers(step.view) and _timer_waits(step.workflow)
    if uses_timers(step.view):
        _listen(step.view)
        step.workflow._segito_timers_ran = []
        step.held_timers = set()
        if step.timers_waited and step.actor != SCHEDULER:
            # Read now rather than in ``observe``: the case is locked for the whole command, so they stay true.
            step.open_timer_rows = open_rows(step.session, step.case.id)
            step.held_timers = held_timers(step.open_timer_rows)
        hold(step.workflow, step.held_timers)  # the worker sets its own (engine.timers.timers._fire_locked)
        if step.timers_waited and step.actor != SCHEDULER:
            _catch_up(step)


def _catch_up(step) -> None:
    """A person's command on a case whose timers are overdue (the worker has not reached them: downtime)
    first fires them, in due order, each as of its due time — as the worker would — and only then does what
    the person asked. So what was due earlier happens earlier: a plan change made after an appointment fell due
    reschedules the ones after it, instead of racing that timer inside SpiffWorkflow's own refresh
    (which fires in any order, and every missed interval of a cycle).

    Timers in incident or failing are held (``held_timers``): never re-run by a person. A timer that fails
    here for the first time is not the person's failure either: its firing is undone (a savepoint, the saved
    workflow) and left to the worker, which records the failure and retries it; the person's command goes on."""
    held = step.held_timers
    overdue = {sid for (sid, due) in waiting_timers(step.workflow) if due < step.at and sid not in held}
    if not overdue:
        return
    savepoint = step.session.begin_nested()
    events = len(step.audit.events)
    try:
        fire_in_due_order(step.workflow, step.at, step.at, held)
    except Exception as e:  # noqa: BLE001 - whatever a timer's firing raises is the worker's to record
        savepoint.rollback()
        del step.audit.events[events:]
        log.warning("case %s: catching up overdue timers failed, left to the worker: %s", step.case.id, e)
        step.reload_workflow()
        step.workflow._segito_timers_ran = []
        step.held_timers = held | overdue
        hold(step.workflow, step.held_timers)
    else:
        savepoint.commit()


def observe(step, created: list[dict], completed: bool) -> None:
    """Runs at the end of every command (engine.runtime.observers.OBSERVERS), inside its transaction."""
    if not uses_timers(step.view):
        # A process without timers still counts toward a caseload when it starts (caseloads.<key>.counts.processes).
        _caseload_warning(step, [], [])
        return
    session, case, at = step.session, step.case, step.at
    waiting = {} if completed else waiting_timers(step.workflow)
    rows = getattr(step, "open_timer_rows", None)  # read by engine.timers.timers.fire under this same case lock
    if rows is None:
        rows = open_rows(session, case.id) if waiting or getattr(step, "timers_waited", True) else []
    existing = {(r.spiff_task_id, r.due_at): r for r in rows}
    fired, cancelled = [], []
    for key, row in existing.items():
        if key in waiting:
            continue
        task = _find(step.workflow, row.spiff_task_id)
        # Fired in this command: completed, or a cycle that moved on to its next due time.
        if row.due_at <= at and task is not None and task.state in (TaskState.COMPLETED, TaskState.WAITING):
            fired.append(row)
        else:
            cancelled.append(row)
    new = [(sid, due, task, kind) for (sid, due), (task, kind) in waiting.items() if (sid, due) not in existing]
    cancelled, new = _rearm(step, cancelled, new)
    by = getattr(step, "fired_by", None) or step.actor
    unrowed = _fired_without_row(step, existing, by)
    step.timers_fired = len(fired) + len(unrowed)
    # Core statements on the command's connection (engine.runtime.advance does the same): the ORM adds only time.
    connection = getattr(step, "connection", None) or session.connection()
    if fired:
        _MARK.execute(connection, [{"timer_id": r.id, "state": "fired", "at": at, "by": by} for r in fired])
    if fired or unrowed:
        for r in sorted([*fired, *unrowed], key=lambda r: (r.due_at, r.id)):
            payload = {"timer_id": r.id, "bpmn_id": r.bpmn_id, "label": r.label, "due_at": r.due_at.isoformat(),
                       "late_seconds": round((at - r.due_at).total_seconds(), 3)}
            times = getattr(step, "cycle_times", {}).get(r.spiff_task_id, 1)
            if times > 1:
                payload["times"] = times  # a cycle that caught up on several missed intervals at once
            # The deadline was reached by the clock, not by whoever's command found it due (a person's command
            # catching up after downtime, or one that started a timer already due): the scheduler's event.
            step.audit.add(TIMER_FIRED, payload, actor=SCHEDULER)
    if cancelled:
        _MARK.execute(connection, [{"timer_id": r.id, "state": "cancelled", "at": None, "by": None}
                                   for r in cancelled])
        step.audit.add(TIMERS_CANCELLED, {"timers": [_describe(r.bpmn_id, r.label, r.due_at) for r in cancelled]})
        for r in cancelled:
            if r.state == "incident":  # the administrator's open incident ends here: said so, not only implied
                step.audit.add(TIMER_INCIDENT_CLOSED, {
                    "timer_id": r.id, "bpmn_id": r.bpmn_id, "label": r.label, "due_at": r.due_at.isoformat(),
                    "reason": "the case moved on without this timer (e.g. a plan change)",
                    "before": {"state": "incident", "attempts": r.attempts}, "after": {"state": "cancelled"}})
    if new:
        values = []
        for sid, due, task, kind in sorted(new, key=lambda n: (n[1], n[0])):
            props = _props(task.task_spec)
            label = _label(step.workflow, task)
            values.append(dict(case_id=case.id, spiff_task_id=sid, bpmn_id=task.task_spec.name[:100], label=label,
                               purpose=(props.get("purpose") or None), event_kind=kind, due_at=due, run_at=due,
                               state="scheduled", attempts=0, created_at=at,
                               planned=_planned(step.workflow, task, props.get("planned"))))
        chain = getattr(step, "chain", None)  # (until, worker, claim expiry): set by the worker, engine.timers.timers
        if chain is not None:
            # Already due (a catch-up): claimed for the firing worker at once, to fire in due order with its queue.
            chained = [v for v in values if v["due_at"] < at and v["due_at"] <= chain[0]]
            values_now = [v for v in values if not (v["due_at"] < at and v["due_at"] <= chain[0])]
            if values_now:
                _INSERT.execute(connection, values_now)
                wakeups.announce(connection, min(v["run_at"] for v in values_now))
            step.chained = [(v["due_at"], connection.execute(_INSERT_RETURNING_ID, {
                **v, "claimed_by": chain[1], "claim_expires_at": chain[2]}).scalar_one()) for v in chained]
        else:
            _INSERT.execute(connection, values)
            wakeups.announce(connection, min(v["run_at"] for v in values))
        step.audit.add(TIMERS_SCHEDULED, {"timers": [_describe(v["bpmn_id"], v["label"], v["due_at"]) for v in values]})
    _caseload_warning(step, existing, new)
    finished_rounds.forget_finished_rounds(step.workflow)  # after the rows: they were read from the tasks



def _rearm(step, cancelled: list, new: list) -> tuple[list, list]:
    """A boundary timer on a task that a loop returns to (family care's review timer on casework) is cancelled
    with the old task and waits again, as a new task, for the same due time. Its row is moved to the new task
    (one UPDATE) instead of being cancelled and inserted again: the appointment did not change, so the history
    records neither a cancellation nor a scheduling, and the command sends one statement instead of two
    (docs/timers.md). Only a healthy row (scheduled, no failed attempt) is moved; others go as before."""
    free = {(r.bpmn_id, r.due_at): r for r in cancelled if r.state == "scheduled" and not r.attempts}
    if not free:
        return cancelled, new
    moved, still_new = [], []
    for item in new:
        sid, due, task, _kind = item
        row = free.pop((task.task_spec.name[:100], due), None)
        if row is None:
            still_new.append(item)
        else:
            moved.append({"timer_id": row.id, "task": sid})
    if not moved:
        return cancelled, new
    connection = getattr(step, "connection", None) or step.session.connection()
    connection.execute(_REARM, moved)
    kept = {m["timer_id"] for m in moved}
    return [r for r in cancelled if r.id not in kept], still_new


MAX_PLANNED = 100  # days one timer may announce as planned after it


def _planned(workflow, task, expression: str | None) -> list | None:
    """The timer's property ``planned``: the days that follow it in its plan, [{date: 'YYYY-MM-DD', label}],
    for the agenda and the calendar feed (docs/timers.md, "Planned days"). A value of another shape is
    dropped with a warning, as a label that cannot be computed: it must not stop the case."""
    value = _evaluate(workflow, task, expression)
    if value is None:
        return None
    try:
        if not isinstance(value, list) or len(value) > MAX_PLANNED:
            raise ValueError(f"a list of at most {MAX_PLANNED} items")
        planned = []
        for item in value:
            day = dt.date.fromisoformat(str(item["date"])).isoformat()
            label = item.get("label")
            planned.append({"date": day, "label": str(label)[:300] if label else None})
        return sorted(planned, key=lambda p: p["date"])
    except (ValueError, TypeError, KeyError, AttributeError) as e:
        log.warning("planned of %s is not a list of {date, label}: %s", task.task_spec.name, e)
        return None


def _label(workflow, task) -> str:
    label = _evaluate(workflow, task, _props(task.task_spec).get("label"))
    return str(label)[:300] if label else (task.task_spec.bpmn_name or task.task_spec.name)[:300]


def _fired_without_row(step, existing, by) -> list:
    """Timers that started waiting and fired within this command (``_timer_ran``) never had a row: they get
    one, written as fired, so every firing is counted and in the history exactly once. Returns row-like
    objects for the audit."""
    values = []
    for sid, due, task, kind in getattr(step.workflow, "_segito_timers_ran", None) or ():
        if (sid, due) in existing or task.state != TaskState.COMPLETED:
            continue
        props = _props(task.task_spec)
        values.append(dict(case_id=step.case.id, spiff_task_id=sid, bpmn_id=task.task_spec.name[:100],
                           label=_label(step.workflow, task), purpose=(props.get("purpose") or None),
                           event_kind=kind, due_at=due, run_at=due, state="fired", attempts=0, created_at=step.at,
                           fired_at=step.at, fired_by=by))
    if not values:
        return []
    ids = [step.session.execute(_INSERT_RETURNING_ID, v).scalar_one() for v in values]  # rare (catch-up only)
    return [_Fired(i, v["spiff_task_id"], v["due_at"], v["bpmn_id"], v["label"]) for i, v in zip(ids, values)]


class _Fired:
    __slots__ = ("id", "spiff_task_id", "due_at", "bpmn_id", "label")

    def __init__(self, id, spiff_task_id, due_at, bpmn_id, label):
        self.id, self.spiff_task_id, self.due_at, self.bpmn_id, self.label = id, spiff_task_id, due_at, bpmn_id, label


def _describe(bpmn_id: str, label: str | None, due_at: dt.datetime) -> dict:
    return {"bpmn_id": bpmn_id, "label": label, "due_at": due_at.isoformat()}


def set_due_dates(step, created: list[dict]) -> None:
    """A user task with the property ``dueDate`` (an expression giving a date or an instant) is due by the end
    of that local day: the inbox shows the date and marks the task overdue from the next day on. Runs before
    the new rows are inserted (engine.runtime.observers.ROW_OBSERVERS), so the date is written with the row."""
    ready = step.ready_after or {}
    for row in created:
        task = ready.get(row["spiff_task_id"]) or _find(step.workflow, row["spiff_task_id"])
        expression = _props(task.task_spec).get("dueDate") if task is not None else None
        value = _evaluate(step.workflow, task, expression) if expression else None
        if not value:
            continue
        try:
            text = str(value)
            day = (calendar_helpers.local_date(dt.datetime.fromisoformat(text)) if "T" in text
                   else dt.date.fromisoformat(text))
        except ValueError:
            log.warning("dueDate of %s is not a date: %r", row["bpmn_id"], value)
            continue
        due = calendar_helpers.start_of_day(day + dt.timedelta(days=1)) - dt.timedelta(seconds=1)
        row["due_at"] = due


def _caseload_warning(step, existing, new) -> None:
    """Taking a client beyond the caseload limit its service declares (docs/services.md, "caseloads") warns the
    caseworker, and the history keeps it."""
    if step.caseworker_id is None:
        return
    started = any(e.kind == audit.CASE_STARTED for e in step.audit.events)
    purposes = set() if existing else {p for _s, _d, task, _k in new if (p := _props(task.task_spec).get("purpose"))}
    if not started and not purposes:
        return
    # What counts is declared by the case's own package, so it alone says whether the case may start counting;
    # the limit and the rest of the count come from every package (one query, only then).
    own = package_settings.caseload_rules([step.view.manifest] if step.view.manifest else [])
    keys = [key for key, rule in own.items()
            if caseload.starts_counting(rule, step.case.process_key, started, purposes)]
    if not keys:
        return
    every = caseload.rules(step.session)
    for key in keys:
        rule = every.get(key)
        if rule is None or rule["limit"] is None:
            continue
        count = caseload.active_clients(step.session, rule, step.caseworker_id, including_case=step.case.id)
        if count > rule["limit"]:
            # The code and the figures: the web app words the warning in the reader's language.
            step.warnings = [*getattr(step, "warnings", []), {
                "code": caseload.CASELOAD_EXCEEDED, "caseload": key,
                "label": rule["label"] or {"hu": "kliens", "en": "clients"}, "active": count, "limit": rule["limit"]}]
            step.audit.add(caseload.CASELOAD_EXCEEDED, {"caseworker_id": step.caseworker_id, "caseload": key,
                                                        "active": count, "limit": rule["limit"]})


def fire_in_due_order(workflow, at: dt.datetime, upto: dt.datetime,
                     held: Collection[str] = frozenset()) -> dict[str, int]:
    """Fire the workflow's timers due by ``upto`` one by one, earliest first, running the engine after each.

    SpiffWorkflow's own ``refresh_timers`` fires every due timer in the order they started waiting; after
    downtime that may not be due order, so each is updated on its own here, and a case's later timers are
    left to their own rows (which the worker takes in due order). The ``held`` timers (in incident or failing:
    ``held_timers``) are left waiting. Returns the cycles' skipped intervals."""
    def waiting():
        return {key: found for key, found in waiting_timers(workflow).items() if key[0] not in held}

    found = waiting()
    skipped = _coalesce_missed_cycles(found, at)
    if skipped:
        found = waiting()
    for _ in range(MAX_FIRINGS_PER_CASE):
        due = sorted(((d, sid, task) for (sid, d), (task, _k) in found.items()
                      if d < at and (d <= upto or sid in skipped)), key=lambda x: (x[0], x[1]))
        if not due:
            return skipped
        task = due[0][2]
        # As of its due time: what it starts waiting for is due only if it was due by then (a loop's next
        # round after downtime waits for its own row, so timers fire in due order across cases too).
        with clock.as_of(min(due[0][0] + _TICK, at)):
            task.task_spec._update(task)
            while workflow._do_engine_steps():  # do_engine_steps minus its refresh_timers (fires in any order)
                pass
        found = waiting()
    return skipped


def _coalesce_missed_cycles(waiting: dict, at: dt.datetime) -> dict[str, int]:
    """A cycle that missed several intervals (downtime) fires once, for the latest of them: the missed ones
    are skipped (and count against its repetitions) before SpiffWorkflow sees it — SpiffWorkflow would fire
    one per missed interval. A timer event with the property ``catchUp`` = ``each`` keeps that behaviour."""
    skipped = {}
    for (sid, due), (task, kind) in waiting.items():
        if kind != "cycle" or due >= at or _props(task.task_spec).get("catchUp", "once") == "each":
            continue
        value = dict(task._get_internal_data("event_value"))
        step = dt.timedelta(seconds=value["duration"])
        missed = int((at - due) / step) if step.total_seconds() > 0 else 0
        if value["cycles"] > 0:
            missed = min(missed, value["cycles"] - 1)
        if missed > 0:
            value["next"] = (due + missed * step).isoformat()
            if value["cycles"] > 0:
                value["cycles"] -= missed
            task._set_internal_data(event_value=value)
            skipped[sid] = missed
    return skipped
