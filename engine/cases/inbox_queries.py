"""The inbox's statements, built once per shape (which filters and groups a request uses) with bound parameters.

Building the statements of one inbox request (two counts, a page of ids from two groups, the rows of that page)
took SQLAlchemy longer than SQLite took to run them; the shapes are few, so each is built once per process and
run with the request's values.

Each group (assigned to me; my roles' unclaimed queue) is read in the order of its index
(``ix_human_tasks_assigned``, ``ix_human_tasks_role_queue``: migration 0005) and only up to the end of the page,
so a page costs the same however many tasks wait in the service; the two groups never overlap, and the page is cut
from their merge, then joined to its rows in the same statement (a round trip fewer on PostgreSQL).
``assignee_id`` heads each group's ORDER BY although it is constant within it: PostgreSQL does not count
``assignee_id IS NULL`` as fixing that index column, and would sort instead. Each group is counted on its own
for the same reason: one OR across both let SQLite read every waiting task of the service when its statistics
were missing.
"""
from __future__ import annotations

import threading
from typing import Any, NamedTuple

from sqlalchemy import bindparam, func, literal_column, select
from sqlalchemy import case as sql_case
from sqlalchemy import union_all as _typed_union_all
from sqlalchemy.sql import Executable

from ..store.models import Case, Client, HumanTask

# Typed as Any: mypy crashes expanding the variadic generic of SQLAlchemy's union_all signature.
union_all: Any = _typed_union_all

MINE, UNCLAIMED = "mine", "unclaimed"
DUE_KINDS = ("overdue", "today", "week", "none")


class Shape(NamedTuple):
    counted: tuple[str, ...]  # the groups counted: ("mine",) or ("mine", "unclaimed")
    listed: tuple[str, ...]  # the groups the page lists
    process_key: bool
    step: bool
    client_code: bool
    role: bool
    due: str | None  # one of DUE_KINDS; "overdue", "today" and "week" compare with :due_before


class Statements(NamedTuple):
    counts: Executable  # rows (group index, count, overdue count)
    page: Executable  # the ids of the page, in order
    listed: Executable  # the page's task columns with process_key and client_code, in the page's order


_GROUPS = {MINE: HumanTask.assignee_id == bindparam("me"),
           UNCLAIMED: HumanTask.assignee_id.is_(None) & HumanTask.role.in_(bindparam("roles", expanding=True))}
_ORDER = (HumanTask.due_at.is_(None), HumanTask.due_at, HumanTask.created_at, HumanTask.id)

_built: dict[Shape, Statements] = {}
_lock = threading.Lock()


def statements(shape: Shape) -> Statements:
    found = _built.get(shape)
    if found is None:
        found = _build(shape)
        with _lock:
            _built[shape] = found
    return found


def _build(shape: Shape) -> Statements:
    filters = [HumanTask.state == "ready"]
    if shape.process_key:
        filters.append(Case.process_key == bindparam("process_key"))
    if shape.step:
        filters.append(HumanTask.step == bindparam("step"))
    if shape.client_code:
        filters.append(Client.client_code == bindparam("client_code"))
    if shape.role:
        filters.append(HumanTask.role == bindparam("role"))
    if shape.due == "none":
        filters.append(HumanTask.due_at.is_(None))
    elif shape.due:
        filters.append(HumanTask.due_at < bindparam("due_before"))

    def joined(query, group: str):
        # Cases and clients are joined only when a filter needs them: the inbox reads task rows by index.
        if shape.process_key or shape.client_code:
            query = query.join(Case, Case.id == HumanTask.case_id)
        if shape.client_code:
            query = query.join(Client, Client.id == Case.client_id)
        return query.where(*filters, _GROUPS[group])

    overdue = HumanTask.due_at < bindparam("now")
    sizes: list[Any] = [joined(select(literal_column(str(i)), func.count(), func.count(sql_case((overdue, 1))))
                    .select_from(HumanTask), group) for i, group in enumerate(shape.counted)]
    counts = sizes[0] if len(sizes) == 1 else union_all(*sizes)
    if len(shape.listed) == 1:
        page = (joined(select(HumanTask.id).select_from(HumanTask), shape.listed[0])
                .order_by(HumanTask.assignee_id, *_ORDER).limit(bindparam("limit")).offset(bindparam("offset")))
    else:
        firsts = [joined(select(HumanTask.id, HumanTask.due_at, HumanTask.created_at).select_from(HumanTask), group)
                  .order_by(HumanTask.assignee_id, *_ORDER).limit(bindparam("end")).subquery()
                  for group in shape.listed]
        merged = union_all(*(select(f.c.id, f.c.due_at, f.c.created_at) for f in firsts)).subquery()
        page = (select(merged.c.id)
                .order_by(merged.c.due_at.is_(None), merged.c.due_at, merged.c.created_at, merged.c.id)
                .limit(bindparam("limit")).offset(bindparam("offset")))
    # The page's ids as a subquery joined to their rows: one statement instead of two, a round trip fewer on
    # PostgreSQL. A subquery's order is not kept, and sorting again in SQL would put a sort in the plan; the
    # page's few rows are put back in its order by ``in_page_order``.
    chosen = page.subquery()
    listed = (select(*HumanTask.__table__.c, Case.process_key, Client.client_code)
              .join(chosen, chosen.c.id == HumanTask.id)
              .join(Case, Case.id == HumanTask.case_id)
              .outerjoin(Client, Client.id == Case.client_id))
    return Statements(counts, page, listed)


def in_page_order(rows) -> list:
    """The rows of a page in the inbox's order (the ORDER BY of ``_ORDER``): due ones first, by due time, then
    by creation and id; no due date last."""
    return sorted(rows, key=lambda r: (r.due_at is None, r.due_at or r.created_at, r.created_at, r.id))
