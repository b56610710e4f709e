"""The inbox's counters (``inbox_counts``, kept by triggers: migration 0027) always equal a full count of the
waiting tasks, after starting, claiming, releasing, completing, cancelling, timers issuing tasks, due dates moving
and rows deleted — and the inbox's counts under every due and role filter equal counting the tasks one by one."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, func, select, update

from engine.cases import cases, inbox_counts, tasks
from engine.people import users
from engine.store import clock
from engine.store.models import HumanTask, InboxCount
from engine.timers import timers

from .test_job_retention_as_needed import JOB_LOST
from .timer_helpers import VISIT, complete, local, ready_tasks, start_follow_up

DUES = (None, "overdue", "today", "week", "none")


def _expected(runtime, actor, due: str | None, role: str | None, mine_only: bool = False) -> dict:
    """The inbox's counts, computed here from every waiting task."""
    now = clock.now()
    end_of_today = now.replace(hour=0, minute=0, second=0, microsecond=0) + dt.timedelta(days=1)
    limit = {"overdue": now, "today": end_of_today, "week": now + dt.timedelta(days=7)}.get(due or "")
    with runtime.db.reading() as session:
        rows = session.execute(select(HumanTask).where(HumanTask.state == "ready")).scalars().all()
    found = {"mine": 0, "unclaimed": 0, "overdue": 0}
    for t in rows:
        if role and t.role != role:
            continue
        if due == "none" and t.due_at is not None:
            continue
        if limit is not None and not (t.due_at and t.due_at < limit):
            continue
        if t.assignee_id == actor.id:
            group = "mine"
        elif t.assignee_id is None and t.role in actor.role_codes and not mine_only:
            group = "unclaimed"
        else:
            continue
        found[group] += 1
        found["overdue"] += bool(t.due_at and t.due_at < now)
    return found


def _check(runtime, *actors) -> None:
    with runtime.db.reading() as session:
        assert inbox_counts.summed(session) == inbox_counts.recount(session)
    for actor in actors:
        for due in DUES:
            for role in (None, *sorted(actor.role_codes)):
                box = tasks.inbox(runtime, actor, due=due, role=role)
                assert box["counts"] == _expected(runtime, actor, due, role), (actor.username, due, role)
        assert tasks.inbox(runtime, actor, mine_only=True)["counts"] == _expected(runtime, actor, None, None, True)


def _task_of(runtime, case_id: int) -> int:
    with runtime.db.reading() as session:
        return session.execute(select(HumanTask.id).where(HumanTask.case_id == case_id,
                                                          HumanTask.state == "ready")).scalars().first()


def test_counters_equal_a_full_count_after_every_kind_of_change(runtime, people):
    anna, bela, lea = people.anna, people.bela, people.lea
    clock.freeze(local("2026-01-28", 10))
    _check(runtime, anna, bela, lea)
    # Timers: two follow-ups whose planned visits are issued as tasks with due dates.
    x = start_follow_up(runtime, anna, i=0)
    y = start_follow_up(runtime, anna, months=1, i=1)
    _check(runtime, anna, bela)
    clock.freeze(local("2026-02-07", 9))
    assert timers.fire_due(runtime, "w") == 2
    _check(runtime, anna, bela)
    complete(runtime, x, "jr_visit", {**VISIT, "visit_date": "2026-02-07"}, anna)
    clock.freeze(local("2026-02-14", 9))
    assert timers.fire_due(runtime, "w") == 2
    _check(runtime, anna, bela)
    # Intake cases: started, released into the caseworkers' queue, claimed by another (reassigned), completed.
    intakes = [cases.start_case(runtime, "intake", anna)["case_id"] for _ in range(6)]
    ids = [_task_of(runtime, c) for c in intakes]
    for task_id in ids[:4]:
        tasks.release(runtime, task_id, anna)
    _check(runtime, anna, bela)
    tasks.claim(runtime, ids[0], bela)
    tasks.claim(runtime, ids[1], anna)
    _check(runtime, anna, bela)
    # Due dates moved: earlier today (overdue), later today, this week, next month, and taken away.
    now = clock.now()
    for task_id, due in zip(ids, (now - dt.timedelta(hours=2), now + dt.timedelta(hours=3),
                                  now + dt.timedelta(days=3), now + dt.timedelta(days=30),
                                  now - dt.timedelta(days=40), None)):
        with runtime.db.unit_of_work() as session:
            session.execute(update(HumanTask).where(HumanTask.id == task_id).values(due_at=due))
    _check(runtime, anna, bela)
    # Cancellation: losing the job ends X, cancelling its waiting visit, plan change and extra visit.
    clock.freeze(local("2026-02-16", 11))
    before = len(ready_tasks(runtime, x))
    complete(runtime, x, "jr_job_lost", JOB_LOST, anna)
    assert before > 1 and ready_tasks(runtime, x) == []
    with runtime.db.reading() as session:
        assert session.execute(select(func.count()).select_from(HumanTask).where(
            HumanTask.case_id == x, HumanTask.state == "cancelled")).scalar_one() >= before - 1
    _check(runtime, anna, bela)
    # A task of the lead's queue, and a row deleted outright.
    with runtime.db.unit_of_work() as session:
        session.execute(update(HumanTask).where(HumanTask.id == ids[2]).values(role=users.PROFESSIONAL_LEAD))
        session.execute(delete(HumanTask).where(HumanTask.id == ids[3]))
    _check(runtime, anna, bela, lea)
    # The day turns: what was due later "today" is now overdue by the day counters alone.
    clock.freeze(local("2026-02-19", 9))
    _check(runtime, anna, bela, lea)
    complete(runtime, y, "jr_visit", {**VISIT, "visit_date": "2026-02-07"}, anna)
    _check(runtime, anna, bela, lea)


def test_a_reader_merges_crowded_counters_and_the_counts_stay(runtime, people, monkeypatch):
    anna = people.anna
    monkeypatch.setattr(inbox_counts, "MERGE_AFTER", 3)
    intakes = [cases.start_case(runtime, "intake", anna)["case_id"] for _ in range(4)]
    for task_id in [_task_of(runtime, c) for c in intakes]:
        tasks.release(runtime, task_id, anna)
        tasks.claim(runtime, task_id, anna)
    with runtime.db.reading() as session:
        rows = session.execute(select(func.count()).select_from(InboxCount)).scalar_one()
    assert rows >= 12
    box = tasks.inbox(runtime, anna)
    assert box["counts"] == _expected(runtime, anna, None, None) and box["counts"]["mine"] == 4
    with runtime.db.reading() as session:
        # anna's key, and the queue's release and claim rows summing to nothing, are one row now.
        assert session.execute(select(func.count()).select_from(InboxCount)).scalar_one() == 1
        assert inbox_counts.summed(session) == inbox_counts.recount(session)
    assert tasks.inbox(runtime, anna)["counts"] == box["counts"]
    # A second merge finds nothing to take apart.
    assert inbox_counts.merge(runtime.db, anna.id, sorted(anna.role_codes)) == 0


def test_merges_running_beside_concurrent_claims_and_releases_keep_the_counts(runtime, people):
    """Commands only insert counter rows, so they never wait for each other on one; merges lock the rows they
    take (PostgreSQL), so two merges, or a merge and the commands, never count a row twice or lose one."""
    import threading

    anna, bela = people.anna, people.bela
    ids = [_task_of(runtime, cases.start_case(runtime, "intake", anna)["case_id"]) for _ in range(4)]
    for task_id in ids:
        tasks.release(runtime, task_id, anna)
    errors: list[BaseException] = []
    stop = threading.Event()

    def work(task_id: int, who) -> None:
        try:
            for _ in range(15):
                tasks.claim(runtime, task_id, who)
                tasks.release(runtime, task_id, who)
        except BaseException as e:  # noqa: BLE001 - reported by the test below
            errors.append(e)

    def merging() -> None:
        try:
            while not stop.is_set():
                inbox_counts.merge(runtime.db, anna.id, sorted(anna.role_codes))
                inbox_counts.merge(runtime.db, bela.id, sorted(bela.role_codes))
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    workers = [threading.Thread(target=work, args=(t, anna if i % 2 else bela)) for i, t in enumerate(ids)]
    mergers = [threading.Thread(target=merging) for _ in range(2)]
    for t in workers + mergers:
        t.start()
    for t in workers:
        t.join(timeout=240)
    stop.set()
    for t in mergers:
        t.join(timeout=60)
    assert not errors, errors
    with runtime.db.reading() as session:
        assert inbox_counts.summed(session) == inbox_counts.recount(session)
    tasks.claim(runtime, ids[0], anna)
    assert tasks.inbox(runtime, anna)["counts"] == _expected(runtime, anna, None, None)
    assert tasks.inbox(runtime, anna)["counts"]["unclaimed"] == 3
