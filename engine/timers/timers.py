"""Firing due timers exactly once, with several workers, restarts and crashes; retries and incidents.

A worker claims a batch of due rows in one short transaction (PostgreSQL: ``FOR UPDATE SKIP LOCKED``, so two
workers never claim the same row; SQLite: ``BEGIN IMMEDIATE`` lets one writer at a time in) and stamps them with
a claim that expires. Each claimed timer is then fired in a transaction of its own (``fire``): lock the case,
re-read the row under lock — still scheduled and still ours? — fire the case's due timers in due order, run the
engine, and let ``Advance.finish`` save state, task rows, timer rows (``timer_sync``) and audit events at once.
A worker that dies mid-firing leaves nothing behind but its claim; when the claim expires another worker takes
the row and fires it — once, because "fired" is written in the same transaction as the workflow's new state.
A firing that fails is rolled back and retried with backoff; after MAX_ATTEMPTS it becomes an incident.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import traceback
import uuid
from typing import NamedTuple

from SpiffWorkflow.exceptions import SpiffWorkflowException
from sqlalchemy import bindparam, func, or_, select, update

from ..errors import Conflict, NotFound, WorkflowFailed
from ..observability import metrics
from ..people import access
from ..people.users import ADMINISTRATOR, Actor
from ..runtime.advance import Advance, CaseRecord
from ..store import audit, clock
from ..store.db import Prepared, is_postgres
from ..store.models import Case
from ..store.timer_models import Timer
from . import timer_sync, wakeups

log = logging.getLogger(__name__)

CLAIM_SECONDS = int(os.environ.get("SEGITO_TIMER_CLAIM_SECONDS", "60"))
BATCH = 100                             # timers claimed at once
COMMIT_EVERY = int(os.environ.get("SEGITO_TIMER_COMMIT_EVERY", "10"))  # timers per transaction (1: one each)
MAX_ATTEMPTS = 5
BACKOFF_SECONDS = (10, 60, 300, 1800)   # before attempts 2..5; the 5th failure opens an incident
SCHEDULER = timer_sync.SCHEDULER       # the audit actor of what timers do

TIMER_FAILED = "timer_failed"
TIMER_INCIDENT_OPENED = "timer_incident_opened"
TIMER_RETRIED = "timer_retried"


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Claimed(NamedTuple):
    """A timer row claimed by a worker, with the time it runs at (its due time, or its retry after a failure)."""
    timer_id: int
    case_id: int
    run_at: dt.datetime | None = None


def _in_due_order(claimed) -> list[Claimed]:
    return sorted(claimed, key=lambda c: (c.run_at, c.timer_id))


def claim_due(runtime, worker: str, limit: int = BATCH) -> list[Claimed]:
    """Claim up to ``limit`` due, unclaimed (or expired-claim) timers, earliest first."""
    at = clock.now()
    with runtime.db.unit_of_work() as session:
        query = (select(Timer.id, Timer.case_id, Timer.run_at).where(Timer.state == "scheduled", Timer.run_at < at,
                                                                     or_(Timer.claim_expires_at.is_(None),
                                                                         Timer.claim_expires_at < at))
                 .order_by(Timer.run_at, Timer.id).limit(limit))
        if is_postgres(session):
            query = query.with_for_update(skip_locked=True)
        claimed = [Claimed(*r) for r in session.execute(query)]
        if claimed:
            session.execute(update(Timer).where(Timer.id.in_([c.timer_id for c in claimed]))
                            .values(claimed_by=worker, claim_expires_at=at + dt.timedelta(seconds=CLAIM_SECONDS))
                            .execution_options(synchronize_session=False))
    return claimed


def release_claims(runtime, worker: str, claimed) -> None:
    """Give back the worker's claims on timers it has not fired (it is stopping): another worker fires them at
    once instead of after the claims expire."""
    ids = [c.timer_id for c in claimed]
    if not ids:
        return
    with runtime.db.unit_of_work() as session:
        session.execute(update(Timer).where(Timer.id.in_(ids), Timer.claimed_by == worker, Timer.state == "scheduled")
                        .values(claimed_by=None, claim_expires_at=None).execution_options(synchronize_session=False))
        wakeups.announce(session.connection(), clock.now())  # due already: another worker takes them at once


def _cycles(workflow) -> dict[str, dict]:
    return {str(task.id): dict(task._get_internal_data("event_value"))
            for task in workflow.event_manager.tasks.values()
            if isinstance(task._get_internal_data("event_value"), dict)}  # only cycles keep a dict there


def _cycle_times(workflow, before: dict[str, dict], skipped: dict[str, int]) -> dict[str, int]:
    """How often each cycle fired in this command (its repetitions used, less the intervals skipped)."""
    times = {}
    for sid, old in before.items():
        task = timer_sync._find(workflow, sid)
        new = task._get_internal_data("event_value") if task is not None else None
        if old["cycles"] > 0:
            used = old["cycles"] - (new["cycles"] if isinstance(new, dict) else 0)
        elif isinstance(new, dict):  # unbounded: count the intervals its next due time moved on
            used = round((dt.datetime.fromisoformat(new["next"]) - dt.datetime.fromisoformat(old["next"]))
                         .total_seconds() / old["duration"])
        else:
            used = 1
        times[sid] = max(1, used - skipped.get(sid, 0))
    return times


def fire(runtime, timer_id: int, worker: str, case_id: int | None = None) -> int:
    """Fire one claimed timer (and what else of its case is due by its due time). Returns how many fired."""
    if case_id is None:
        with runtime.db.reading() as session:
            case_id = session.execute(select(Timer.case_id).where(Timer.id == timer_id)).scalar()
        if case_id is None:
            return 0
    return fire_batch(runtime, [Claimed(timer_id, case_id)], worker)


class _FiringFailed(Exception):
    def __init__(self, item: Claimed, error: Exception):
        super().__init__(str(error))
        self.item, self.error = item, error


def fire_batch(runtime, claimed: list[Claimed], worker: str) -> int:
    """Fire claimed timers, in the given order, COMMIT_EVERY per transaction (``_fire_some``)."""
    queue, fired = [Claimed(*c) for c in claimed], 0
    while queue:
        done, queue = _fire_some(runtime, queue, worker)
        fired += done
    return fired


def _fire_some(runtime, queue: list[Claimed], worker: str, chain_until: dt.datetime | None = None,
               stop=None) -> tuple[int, list[Claimed]]:
    """Fire claimed timers from the front of ``queue`` in one database transaction; returns how many fired and
    the rest of the queue.

    Each timer's firing writes the case's new state, task rows, timer rows and audit events in that transaction.
    It commits after COMMIT_EVERY firings: a commit waits for the disk, and waiting once per COMMIT_EVERY timers
    instead of once per timer is most of the throughput (docs/benchmarks.md). When one firing fails, the whole
    transaction is rolled back, the failure is recorded, and the others are fired again without it — so a
    firing is still all or nothing. A worker that dies mid-batch commits none of it; the claims expire and the
    timers fire later, once. Cases locked by others are skipped (PostgreSQL: SKIP LOCKED), so a batch never
    waits while holding locks: two workers' batches cannot deadlock.

    ``chain_until``: a firing that starts a timer already due by then (after downtime, a loop's next round) claims
    its new row at once and puts it in the queue in due order (``timer_sync.observe``), so catching up fires
    in due order across cases, the timers the catch-up itself creates included. ``stop`` (an Event): set, and
    the transaction commits after the firing in progress."""
    while True:
        at = clock.now()
        try:
            return _fire_all(runtime, queue, worker, at, chain_until, stop)
        except _FiringFailed as failed:
            runtime.workflows.evict(failed.item.case_id)
            log.warning("timer %s failed: %s", failed.item.timer_id, failed.error)
            if failed.item in queue:
                _record_failure(runtime, failed.item.timer_id, worker, failed.error)
                queue = [c for c in queue if c != failed.item]
            else:
                # A row chained in the rolled-back transaction: it is gone with it (its id may even be another
                # row's by now). Once more without chaining, so the firing that starts it commits and the row
                # fails, and is recorded, in its own turn.
                chain_until = None


def _fire_all(runtime, queue: list[Claimed], worker: str, at: dt.datetime, chain_until: dt.datetime | None,
              stop) -> tuple[int, list[Claimed]]:
    fired = 0
    queue = list(queue)  # chained rows join this copy only: a rollback loses them with the rows themselves
    with runtime.db.unit_of_work() as session:
        postgres = is_postgres(session)
        connection = session.connection()
        for _ in range(COMMIT_EVERY):
            if not queue or (stop is not None and stop.is_set()):
                break
            item = queue.pop(0)
            found = (_CASE_SKIP_LOCKED if postgres else _CASE).first(connection, {"case_id": item.case_id})
            case = CaseRecord(found._mapping) if found is not None else None
            if case is None:  # busy with another command (or gone): the claim goes back, the next tick retries
                session.execute(update(Timer).where(Timer.id == item.timer_id, Timer.claimed_by == worker)
                                .values(claimed_by=None, claim_expires_at=None)
                                .execution_options(synchronize_session=False))
                continue
            try:
                done, chained = _fire_locked(runtime, session, case, item.timer_id, worker, at, chain_until)
            except Exception as e:  # noqa: BLE001 - any failure of a firing is recorded, never lost
                raise _FiringFailed(item, e) from e
            except BaseException:
                runtime.workflows.evict(item.case_id)
                raise
            fired += done
            if chained:
                queue = _in_due_order(queue + chained)
    return fired, queue


# The case row with Core, as a plain record (engine.runtime.advance.CaseRecord): a mapped Case costs more to load than
# the rest of the read, and Advance writes the row with Core statements anyway.
_CASE_QUERY = select(*Case.__table__.c).where(Case.__table__.c.id == bindparam("case_id"))
_CASE = Prepared(_CASE_QUERY)
_CASE_SKIP_LOCKED = Prepared(_CASE_QUERY.with_for_update(skip_locked=True))  # built once: statements cost to build


def _fire_locked(runtime, session, case, timer_id: int, worker: str, at: dt.datetime,
                 chain_until: dt.datetime | None = None) -> tuple[int, list[Claimed]]:
    """The firing itself, under the case's lock. Every change of a timer's state happens under its case's lock
    (here, in the observer of every command, in failures and retries), so reading the rows now is enough: two
    workers that hold the same row one after the other see "scheduled" once."""
    rows = timer_sync.open_rows(session, case.id)
    row = next((r for r in rows if r.id == timer_id), None)
    if row is None or row.state != "scheduled" or row.claimed_by not in (None, worker):
        return 0, []  # fired, cancelled or re-claimed by another worker meanwhile
    view = runtime.definition(session, case.definition_id)
    workflow = runtime.workflow(session, case)
    step = Advance(runtime, session, case, workflow, view, SCHEDULER, at)
    step.fired_by, step.open_timer_rows = worker, rows
    step.held_timers = timer_sync.held_timers(rows, firing=timer_id)
    timer_sync.hold(workflow, step.held_timers)
    if chain_until is not None:
        step.chain = (chain_until, worker, at + dt.timedelta(seconds=CLAIM_SECONDS))
    # The fired case's workflow is not kept in the cache: its next command is rarely soon (a task is done
    # days later, the next timer fires weeks later), and a worker holding hundreds of workflows it fired made
    # every full garbage collection walk them — about 1 ms of CPU per firing (docs/benchmarks.md).
    step.keep_workflow = False
    try:
        cycles = _cycles(workflow)
        with step.bounded():  # a firing is bounded like a person's command (docs/architecture.md)
            skipped = timer_sync.fire_in_due_order(workflow, at, row.due_at, step.held_timers)
        step.cycle_times = _cycle_times(workflow, cycles, skipped)
    except SpiffWorkflowException as e:
        raise WorkflowFailed(f"case {case.id}: timer '{row.label or row.bpmn_id}' failed: {e}") from e
    step.finish()
    fired = getattr(step, "timers_fired", 0)
    if not fired:
        # SpiffWorkflow did not find it due (its clock and ours disagree by a hair): the next tick retries.
        session.execute(update(Timer).where(Timer.id == timer_id, Timer.state == "scheduled")
                        .values(claimed_by=None, claim_expires_at=None).execution_options(synchronize_session=False))
    return fired, [Claimed(i, case.id, due) for due, i in getattr(step, "chained", ())]


def _locked_row(session, timer_id: int) -> Timer:
    query = select(Timer).where(Timer.id == timer_id).execution_options(populate_existing=True)
    if is_postgres(session):
        query = query.with_for_update()
    return session.execute(query).scalar_one()


def _record_failure(runtime, timer_id: int, worker: str, error: Exception) -> None:
    at = clock.now()
    text = f"{type(error).__name__}: {error}"
    detail = "".join(traceback.format_exception_only(type(error), error))[-4000:]
    with runtime.db.unit_of_work() as session:
        case_id = session.execute(select(Timer.case_id).where(Timer.id == timer_id)).scalar()
        if case_id is None:
            return
        case = runtime.lock_case(session, case_id)
        row = _locked_row(session, timer_id)
        if row.state != "scheduled" or row.claimed_by not in (None, worker):
            return
        row.attempts += 1
        row.last_error = detail or text
        row.claimed_by, row.claim_expires_at = None, None
        events = audit.CaseAudit(case, SCHEDULER, at)
        payload = {"timer_id": row.id, "bpmn_id": row.bpmn_id, "label": row.label, "attempt": row.attempts,
                   "error": text[:1000]}
        if row.attempts >= MAX_ATTEMPTS:
            row.state = "incident"
            events.add(TIMER_INCIDENT_OPENED, payload)
        else:
            row.run_at = at + dt.timedelta(seconds=BACKOFF_SECONDS[min(row.attempts, len(BACKOFF_SECONDS)) - 1])
            events.add(TIMER_FAILED, {**payload, "retry_at": row.run_at.isoformat()})
        events.flush(session)


def fire_due(runtime, worker: str | None = None, limit: int = BATCH, max_batches: int | None = None,
             stop=None) -> int:
    """One tick: claim and fire due timers batch by batch until none is due. Returns how many fired.

    Due order: each claim takes the earliest due rows, and timers the firings start that are already due (after
    downtime) join the claimed ones in due order when they are not later than the claim's last row (every row
    not claimed is due later than that), so one worker fires in due order across cases (docs/timers.md).
    ``stop`` (an Event, e.g. set on SIGTERM): the firing in progress finishes, its transaction commits, and the
    claims not fired are given back at once."""
    worker = worker or worker_name()
    fired = batches = 0
    previous = None
    queue: list[Claimed] = []
    try:
        while (max_batches is None or batches < max_batches) and not (stop is not None and stop.is_set()):
            claimed = claim_due(runtime, worker, limit)
            ids = [c.timer_id for c in claimed]
            if not ids or ids == previous:  # the same rows again and nothing moved: leave them to the next tick
                break
            batches += 1
            # A full claim may leave due rows behind it: only what is not later than its last row may join it.
            chain_until = claimed[-1].run_at if len(claimed) == limit else clock.now()
            queue, done = claimed, 0
            while queue and not (stop is not None and stop.is_set()):
                n, queue = _fire_some(runtime, queue, worker, chain_until, stop)
                done += n
            fired += done
            previous = None if done else ids
    finally:
        if queue and stop is not None and stop.is_set():
            release_claims(runtime, worker, queue)
    return fired


@metrics.command("retry_incident")
def retry_incident(runtime, timer_id: int, actor: Actor) -> dict:
    """An administrator sends an incident (or a failing timer) back to the queue, due now, attempts reset."""
    access.require_role(actor, ADMINISTRATOR)
    at = clock.now()
    with runtime.db.unit_of_work() as session:
        case_id = session.execute(select(Timer.case_id).where(Timer.id == timer_id)).scalar()
        if case_id is None:
            raise NotFound(f"timer {timer_id} does not exist")
        case = runtime.lock_case(session, case_id)
        row = _locked_row(session, timer_id)
        if row.state not in ("incident", "scheduled") or (row.state == "scheduled" and not row.attempts):
            raise Conflict(f"timer {timer_id} is {row.state}; only an incident or a failing timer is retried")
        before = {"state": row.state, "attempts": row.attempts, "run_at": row.run_at.isoformat()}
        row.state, row.attempts, row.run_at = "scheduled", 0, at
        row.claimed_by, row.claim_expires_at = None, None
        events = audit.CaseAudit(case, actor.username, at)
        events.add(TIMER_RETRIED, {"timer_id": row.id, "bpmn_id": row.bpmn_id, "label": row.label,
                                   "before": before, "after": {"state": "scheduled", "attempts": 0,
                                                               "run_at": at.isoformat()}})
        events.flush(session)
        wakeups.announce(session.connection(), at)
    return {"timer_id": timer_id, "state": "scheduled"}


def overview(runtime, actor: Actor, limit: int = 100) -> dict:
    """The administrator's scheduler view: counts, what is due, running (claimed), failing and incidents."""
    access.require_role(actor, ADMINISTRATOR)
    at = clock.now()
    with runtime.db.reading() as session:
        counts = dict(session.execute(select(Timer.state, func.count()).group_by(Timer.state)).all())
        due = Timer.run_at < at
        running = Timer.claim_expires_at > at

        def rows(*where, order=Timer.run_at):
            return [describe(t, at) for t in session.execute(
                select(Timer).where(*where).order_by(order, Timer.id).limit(limit)).scalars()]

        return {
            "now": at.isoformat(), "counts": {s: counts.get(s, 0) for s in ("scheduled", "fired", "cancelled",
                                                                          "incident")},
            "due": rows(Timer.state == "scheduled", due, or_(Timer.claim_expires_at.is_(None), ~running)),
            "running": rows(Timer.state == "scheduled", Timer.claimed_by.is_not(None), running),
            "failing": rows(Timer.state == "scheduled", Timer.attempts > 0),
            "incidents": rows(Timer.state == "incident", order=Timer.due_at),
            "upcoming": rows(Timer.state == "scheduled", ~due),
        }


def describe(t: Timer, at: dt.datetime | None = None) -> dict:
    return {"timer_id": t.id, "case_id": t.case_id, "bpmn_id": t.bpmn_id, "label": t.label, "purpose": t.purpose,
            "kind": t.event_kind, "state": t.state, "due_at": t.due_at.isoformat(), "run_at": t.run_at.isoformat(),
            "attempts": t.attempts, "claimed_by": t.claimed_by,
            "claim_expires_at": t.claim_expires_at.isoformat() if t.claim_expires_at else None,
            "last_error": t.last_error, "fired_at": t.fired_at.isoformat() if t.fired_at else None,
            "fired_by": t.fired_by}

