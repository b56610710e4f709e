"""The inbox's order and paging across its two groups, and that a page is read in index order (migration 0005)."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import event, select, update

from engine.cases import cases, tasks
from engine.store import clock, db
from engine.store.models import HumanTask


def _queue(runtime, people, n: int = 8) -> list[int]:
    """``n`` intake tasks: the odd ones assigned to anna, the even ones released to the caseworkers' queue, with
    due dates in the past, the future and none, so that the order mixes both groups."""
    ids = []
    for _ in range(n):
        case_id = cases.start_case(runtime, "intake", people.anna)["case_id"]
        with runtime.db.reading() as session:
            ids.append(session.execute(select(HumanTask.id).where(HumanTask.case_id == case_id)).scalar_one())
    dues = [None, -3, -2, None, 1, 5, 2, 0]
    for i, task_id in enumerate(ids):
        if i % 2 == 0:
            tasks.release(runtime, task_id, people.anna)
        due = dues[i % len(dues)]
        with runtime.db.unit_of_work() as session:
            session.execute(update(HumanTask).where(HumanTask.id == task_id).values(
                due_at=None if due is None else clock.now() + dt.timedelta(days=due, hours=i)))
    return ids


def _expected(runtime, ids: list[int]) -> list[int]:
    with runtime.db.reading() as session:
        rows = session.execute(select(HumanTask.id, HumanTask.due_at, HumanTask.created_at)
                               .where(HumanTask.id.in_(ids))).all()
    far = dt.datetime.max.replace(tzinfo=dt.timezone.utc)
    return [r.id for r in sorted(rows, key=lambda r: (r.due_at is None, r.due_at or far, r.created_at, r.id))]


def test_inbox_pages_merge_my_tasks_and_my_roles_queue_in_due_order(runtime, people):
    ids = _queue(runtime, people)
    expected = _expected(runtime, ids)
    box = tasks.inbox(runtime, people.anna, limit=50)
    assert [t["task_id"] for t in box["items"]] == expected
    assert box["counts"] == {"mine": 4, "unclaimed": 4, "overdue": 2} and box["total"] == 8
    paged = []
    for offset in range(0, 10, 3):
        paged += [t["task_id"] for t in tasks.inbox(runtime, people.anna, limit=3, offset=offset)["items"]]
    assert paged == expected
    unclaimed = tasks.inbox(runtime, people.anna, group="unclaimed", limit=2, offset=2)
    assert [t["task_id"] for t in unclaimed["items"]] == [t for t in expected if ids.index(t) % 2 == 0][2:4]
    assert unclaimed["total"] == 4
    mine_only = tasks.inbox(runtime, people.anna, mine_only=True)
    assert [t["task_id"] for t in mine_only["items"]] == [t for t in expected if ids.index(t) % 2 == 1]
    assert mine_only["counts"] == {"mine": 4, "unclaimed": 0, "overdue": 1}
    overdue = tasks.inbox(runtime, people.anna, due="overdue")
    assert [t["task_id"] for t in overdue["items"]] == expected[:2] and overdue["total"] == 2


def _page_statements(runtime, actor, **kw) -> list[tuple[str, object]]:
    engine = db.get_engine(runtime.db.url, for_writing=False)
    seen = []

    def capture(_conn, _cursor, statement, parameters, _context, _many):
        if "ORDER BY" in statement:
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        tasks.inbox(runtime, actor, **kw)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    assert seen, "the inbox ran no ordered query"
    return seen


INBOX_INDEXES = ("ix_human_tasks_role_queue", "ix_human_tasks_assigned")


@pytest.mark.parametrize("group", ["unclaimed", "mine"])
def test_an_inbox_page_is_read_in_index_order_not_sorted(runtime, people, group):
    """Without the sort keys in an index, every waiting task of the group is read and sorted for each page."""
    _queue(runtime, people)
    statement, parameters = _page_statements(runtime, people.anna, group=group, limit=3)[0]
    engine = db.get_engine(runtime.db.url, for_writing=False)
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            # A handful of rows would be read by a sequential scan; the question is whether the index can serve
            # the order, which a plan without a Sort node answers.
            conn.exec_driver_sql("SET enable_seqscan = off")
            conn.exec_driver_sql("SET enable_bitmapscan = off")
            plan = "\n".join(r[0] for r in conn.exec_driver_sql("EXPLAIN " + statement, parameters))
            assert any(ix in plan for ix in INBOX_INDEXES) and "Sort" not in plan, plan
        else:
            plan = "\n".join(r[3] for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters))
            assert any(f"COVERING INDEX {ix}" in plan for ix in INBOX_INDEXES) and "TEMP B-TREE" not in plan, plan

