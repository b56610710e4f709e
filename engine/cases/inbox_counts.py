"""How many tasks wait in each inbox group, from the counters triggers keep (``inbox_counts``, migration 0027).

Each row of ``inbox_counts`` is a signed change to the number of waiting tasks of one key (assignee, or NULL for
a role's unclaimed queue; role; due day, UTC, or NULL): the triggers on ``human_tasks`` insert one whenever a
task starts or stops waiting under a key, in the same transaction. So a group's count is the sum of a few rows
however many tasks wait, and concurrent commands never update one shared row (they would queue on its lock,
and two of them touching two keys in opposite orders could deadlock on PostgreSQL). The rows of a key are
merged into one per due day when a reader finds many (``merge``). Keys nobody reads (a person who has left, a
queue nobody opens) are not merged: their rows grow by about two for every task that passes through them.

"Overdue" is due before now, which no counter can know by itself: the due days before today are summed from the
counters, and only today's tasks are counted from the task index, between midnight and now (the same for the
"within a week" filter at its last day). Filters on a case's process, step or client are not counted here; the
inbox counts those from the tasks themselves (engine/cases/inbox_queries.py).
"""
from __future__ import annotations

import datetime as dt
import logging
import threading
from collections import Counter
from typing import Any, NamedTuple

from sqlalchemy import bindparam, delete, func, insert, literal_column, select
from sqlalchemy import case as sql_case
from sqlalchemy import union_all as _typed_union_all
from sqlalchemy.sql import Executable

from ..store.models import HumanTask, InboxCount
from .inbox_queries import MINE, UNCLAIMED

# Typed as Any: mypy crashes expanding the variadic generic of SQLAlchemy's union_all signature.
union_all: Any = _typed_union_all

log = logging.getLogger(__name__)

# A group's rows are merged when this many of them are the triggers' changes not merged yet.
MERGE_AFTER = 64

_C = InboxCount
_GROUPS = {MINE: _C.assignee_id == bindparam("me"),
           UNCLAIMED: _C.assignee_id.is_(None) & _C.role.in_(bindparam("roles", expanding=True))}
_TASK_GROUPS = {MINE: HumanTask.assignee_id == bindparam("me"),
                UNCLAIMED: HumanTask.assignee_id.is_(None) & HumanTask.role.in_(bindparam("roles", expanding=True))}


class Sums(NamedTuple):
    total: int
    before_today: int
    today: int
    no_due: int
    before_last: int  # before the last day of the "week" filter
    last: int  # on that day
    unmerged: int


class Statements(NamedTuple):
    sums: Executable  # rows (group index, *Sums)
    between: Executable  # rows (group index, tasks due in [:lo, :hi))


_built: dict[tuple, Statements] = {}
_lock = threading.Lock()


def statements(groups: tuple[str, ...], role: bool) -> Statements:
    key = (groups, role)
    found = _built.get(key)
    if found is None:
        found = _build(groups, role)
        with _lock:
            _built[key] = found
    return found


def _build(groups: tuple[str, ...], role: bool) -> Statements:
    def part(condition):
        return func.coalesce(func.sum(sql_case((condition, _C.n), else_=0)), 0)

    sums: list[Any] = []
    between: list[Any] = []
    for i, group in enumerate(groups):
        where = [_GROUPS[group]] + ([_C.role == bindparam("role")] if role else [])
        sums.append(select(literal_column(str(i)), func.coalesce(func.sum(_C.n), 0),
                           part(_C.due_day < bindparam("today")), part(_C.due_day == bindparam("today")),
                           part(_C.due_day.is_(None)), part(_C.due_day < bindparam("last_day")),
                           part(_C.due_day == bindparam("last_day")),
                           # The triggers' rows not merged yet (a merge's own rows are marked).
                           func.coalesce(func.sum(sql_case((_C.merged, 0), else_=1)), 0))
                    .select_from(_C).where(*where))
        # "(due_at IS NULL) IS false" (IS 0 on SQLite) fixes the inbox indexes' expression column, so the due
        # times are a range of the index; PostgreSQL rewrites "= false" to "due_at IS NOT NULL", which does not,
        # and would walk every waiting task of the group (migration 0005's indexes).
        task_where = [HumanTask.state == "ready", _TASK_GROUPS[group], HumanTask.due_at.is_(None).is_(False),
                      HumanTask.due_at >= bindparam("lo"), HumanTask.due_at < bindparam("hi")]
        if role:
            task_where.append(HumanTask.role == bindparam("role"))
        between.append(select(literal_column(str(i)), func.count()).select_from(HumanTask).where(*task_where))
    return Statements(sums[0] if len(sums) == 1 else union_all(*sums),
                      between[0] if len(between) == 1 else union_all(*between))


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc)


def counts(session, groups: tuple[str, ...], params: dict, due: str | None, now: dt.datetime,
           due_before: dt.datetime | None) -> tuple[dict[str, tuple[int, int]], bool]:
    """{group: (waiting tasks under the due filter, overdue ones)}, and whether the groups' rows want merging.

    ``params`` has ``me``, ``roles`` and ``role`` (None: no role filter) as the inbox binds them."""
    utc_now = now.astimezone(dt.timezone.utc)
    today = utc_now.date()
    last = (due_before.astimezone(dt.timezone.utc) if due == "week" and due_before else utc_now)
    statement = statements(groups, params.get("role") is not None)
    values = {**params, "today": today, "last_day": last.date()}
    found = {groups[row[0]]: Sums(*(int(v) for v in row[1:])) for row in session.execute(statement.sums, values)}
    sums = {g: found.get(g, Sums(0, 0, 0, 0, 0, 0, 0)) for g in groups}

    def between(lo: dt.datetime, hi: dt.datetime, wanted: list[str]) -> dict[str, int]:
        if not wanted or lo >= hi:
            return {}
        rows = session.execute(statement.between, {**values, "lo": lo, "hi": hi}).all()
        return {groups[i]: n for i, n in rows}

    # Tasks due today before now: read from the task index only where today has waiting tasks at all.
    earlier_today = between(_midnight(today), utc_now, [g for g in groups if sums[g].today]) if due != "none" \
        else {}
    result = {}
    for g in groups:
        s = sums[g]
        overdue = s.before_today + earlier_today.get(g, 0)
        if due is None:
            n = s.total
        elif due == "overdue":
            n = overdue
        elif due == "today":
            n = s.before_today + s.today
        elif due == "week":
            n = s.before_last + (between(_midnight(last.date()), last, [g]).get(g, 0) if s.last else 0)
        else:  # "none"
            n, overdue = s.no_due, 0
        result[g] = (n, overdue)
    crowded = any(s.unmerged > MERGE_AFTER for s in sums.values())
    return result, crowded


def merge(db, me: int, roles: list[str]) -> int:
    """Merge the rows of a person's keys and of her roles' queues into one per (assignee, role, due day); a
    write of its own, after the reading transaction. The rows removed; 0 when another merge took them first."""
    groups = (_C.assignee_id == me) | (_C.assignee_id.is_(None) & _C.role.in_(roles))
    with db.unit_of_work() as session:
        # Locked on PostgreSQL: a merge that waited for another one sees those rows gone and leaves them.
        rows = session.execute(select(_C.id, _C.assignee_id, _C.role, _C.due_day, _C.n).where(groups)
                               .with_for_update()).all()
        if not rows:
            return 0
        sums: Counter[tuple] = Counter()
        for row in rows:
            sums[(row.assignee_id, row.role, row.due_day)] += row.n
        ids = [row.id for row in rows]
        for start in range(0, len(ids), 500):
            session.execute(delete(_C).where(_C.id.in_(ids[start:start + 500])))
        merged = [{"assignee_id": a, "role": r, "due_day": d, "n": n, "merged": True}
                  for (a, r, d), n in sums.items() if n]
        if merged:
            session.execute(insert(_C), merged)
    return len(rows) - len(merged)


def merge_quietly(db, me: int, roles: list[str]) -> None:
    """``merge`` for a reader that has its answer already: a failure is logged, never shown to the user."""
    try:
        merge(db, me, roles)
    except Exception:  # noqa: BLE001 - the counts stay right unmerged; the next reader tries again
        log.exception("merging inbox counts failed")


def recount(session) -> dict[tuple, int]:
    """Every key's waiting tasks counted from the tasks themselves: what the counters must sum to."""
    found: Counter[tuple] = Counter()
    rows = session.execute(select(HumanTask.assignee_id, HumanTask.role, HumanTask.due_at)
                           .where(HumanTask.state == "ready")).all()
    for assignee, role, due in rows:
        found[(assignee, role, due.astimezone(dt.timezone.utc).date() if due else None)] += 1
    return dict(found)


def summed(session) -> dict[tuple, int]:
    """Every key's count as the counters give it (keys summing to 0 left out)."""
    rows = session.execute(select(_C.assignee_id, _C.role, _C.due_day, func.sum(_C.n))
                           .group_by(_C.assignee_id, _C.role, _C.due_day)).all()
    return {(a, r, d): int(n) for a, r, d, n in rows if n}
