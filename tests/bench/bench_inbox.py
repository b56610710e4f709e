"""Inbox benchmark (docs/benchmarks.md): one person with 100,000 waiting tasks, on SQLite and PostgreSQL.

Run:  python3 -m tests.bench.bench_inbox [--tasks 100000] [--rounds 200] [--no-postgres] [--no-sqlite]

The database is migrated as the app does; one intake case is started through the engine (so the rows the inbox
joins exist), then ``--tasks`` task rows are inserted in bulk for it: nine in ten assigned to one caseworker, one
in ten unclaimed in the caseworkers' queue (both groups of her inbox), a third of them overdue, a third due over
the next year, a third with no due date. Another 100,000 rows of other people (waiting and completed) surround
them. PostgreSQL: a schema of its own, ``VACUUM ANALYZE`` after loading, dropped at the end
(``SEGITO_BENCH_PG_URL``, default the test server).

Printed per database, over ``--rounds`` calls: median, p95 and fastest wall time, median CPU time:
  * ``tasks.inbox`` as the inbox page calls it (first page of 50, both groups, with the counts), unfiltered and
    with the overdue filter;
  * the counts the way they were read before the counters (``inbox_queries`` counting statement: one walk over
    every waiting task's index entry), on the same data, for comparison.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, func, insert, select, text

from engine import setup
from engine.cases import cases, inbox_queries, tasks
from engine.people import users
from engine.runtime.runtime import Runtime
from engine.store import clock, migrate
from engine.store.db import Database
from engine.store.models import HumanTask

ROOT = Path(__file__).resolve().parents[2]


def _fill(rt: Runtime, n: int) -> tuple[users.Actor, int]:
    now = clock.now()
    with rt.db.unit_of_work() as session:
        users.create_user(session, "busy", "Busy Caseworker", [users.CASEWORKER], None, "bench", now,
                          password_hash="x")
        users.create_user(session, "other", "Other Caseworker", [users.CASEWORKER], None, "bench", now,
                          password_hash="x")
    with rt.db.reading() as session:
        busy, other = users.actor(session, "busy"), users.actor(session, "other")
    case_id = cases.start_case(rt, "intake", busy)["case_id"]
    with rt.db.reading() as session:
        template = session.execute(select(HumanTask).where(HumanTask.case_id == case_id)).scalar_one()
    base = {"case_id": case_id, "bpmn_id": template.bpmn_id, "step": template.step, "name": template.name,
            "role": template.role, "form_file": template.form_file, "draft": None, "completed_at": None,
            "completed_by": None, "purpose": None}

    def row(i: int, assignee, state: str) -> dict:
        third = i % 3
        due = (now - dt.timedelta(hours=1 + i % 2000) if third == 0 else
               now + dt.timedelta(hours=1 + i % 8760) if third == 1 else None)
        return {**base, "spiff_task_id": str(uuid.uuid4()), "assignee_id": assignee, "state": state,
                "created_at": now - dt.timedelta(seconds=i), "due_at": due}

    batch: list[dict] = []
    for i in range(n):
        batch.append(row(i, None if i % 10 == 0 else busy.id, "ready"))
        batch.append(row(i, other.id, "ready" if i % 4 == 0 else "completed"))
        if len(batch) >= 10_000:
            with rt.db.unit_of_work() as session:
                session.execute(insert(HumanTask), batch)
            batch = []
    if batch:
        with rt.db.unit_of_work() as session:
            session.execute(insert(HumanTask), batch)
    return busy, case_id


def _time(fn, rounds: int) -> tuple[float, float, float, float]:
    """(p50 wall, p95 wall, p50 CPU, fastest wall) in milliseconds. On a busy machine the fastest call is the
    closest to the cost itself; the median includes waits for a CPU."""
    for _ in range(5):
        fn()
    walls, cpus = [], []
    for _ in range(rounds):
        w, c = time.perf_counter(), time.process_time()
        fn()
        walls.append((time.perf_counter() - w) * 1000)
        cpus.append((time.process_time() - c) * 1000)
    walls.sort()
    return statistics.median(walls), walls[int(len(walls) * 0.95) - 1], statistics.median(cpus), walls[0]


def run(url: str, label: str, n: int, rounds: int) -> None:
    migrate.upgrade(url)
    rt = Runtime(Database(url))
    setup.initialise(rt)
    t0 = time.perf_counter()
    busy, _ = _fill(rt, n)
    # The bulk load left one counter row per task; the first inbox merges them (as a reader does whenever a
    # person's rows have piled up), before the statistics are taken.
    with rt.db.reading() as session:
        other = users.actor(session, "other")
    tasks.inbox(rt, busy)
    tasks.inbox(rt, other)
    if url.startswith("postgresql"):
        engine = create_engine(url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text("VACUUM ANALYZE"))
        engine.dispose()
    else:
        with rt.db.unit_of_work() as session:
            session.execute(text("ANALYZE"))
    with rt.db.reading() as session:
        waiting = session.execute(select(func.count()).select_from(HumanTask).where(
            HumanTask.state == "ready", (HumanTask.assignee_id == busy.id)
            | (HumanTask.assignee_id.is_(None) & HumanTask.role.in_(sorted(busy.role_codes))))).scalar_one()
    print(f"\n{label}: {waiting:,} tasks waiting for one caseworker (loaded in {time.perf_counter() - t0:.0f} s)")
    box = tasks.inbox(rt, busy)
    print(f"  inbox counts: {box['counts']}, total {box['total']:,}, {len(box['items'])} items on the page")
    overdue = tasks.inbox(rt, busy, due="overdue")
    print(f"  overdue filter: total {overdue['total']:,}")

    shape = inbox_queries.Shape(counted=(inbox_queries.MINE, inbox_queries.UNCLAIMED),
                                listed=(inbox_queries.MINE, inbox_queries.UNCLAIMED), process_key=False,
                                step=False, client_code=False, role=False, due=None)
    scan = inbox_queries.statements(shape).counts
    params = {"me": busy.id, "roles": sorted(busy.role_codes), "now": clock.now()}

    def scan_counts():
        with rt.db.reading() as session:
            session.execute(scan, params).all()

    for name, fn in (("tasks.inbox, first page of 50", lambda: tasks.inbox(rt, busy)),
                     ("tasks.inbox, overdue filter", lambda: tasks.inbox(rt, busy, due="overdue")),
                     ("counts by scanning the index (as before)", scan_counts)):
        p50, p95, cpu, fastest = _time(fn, rounds)
        print(f"  {name:42} p50 {p50:6.2f} ms  p95 {p95:6.2f} ms  fastest {fastest:6.2f} ms  CPU p50 {cpu:6.2f} ms")
    rt.db.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tasks", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=200)
    ap.add_argument("--no-postgres", action="store_true")
    ap.add_argument("--no-sqlite", action="store_true")
    args = ap.parse_args()
    clock.freeze(dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.timezone.utc))
    print(f"load average {os.getloadavg()[0]:.1f}, Python {sys.version.split()[0]}")
    if not args.no_sqlite:
        with tempfile.TemporaryDirectory() as tmp:
            run(f"sqlite:///{tmp}/bench.db", "SQLite", args.tasks, args.rounds)
    if not args.no_postgres:
        base = os.environ.get("SEGITO_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
        schema = f"bench_inbox_{uuid.uuid4().hex[:8]}"
        admin = create_engine(base)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        sep = "&" if "?" in base else "?"
        try:
            run(f"{base}{sep}options=-csearch_path%3D{schema}", "PostgreSQL", args.tasks, args.rounds)
        finally:
            from engine.store import db
            db.dispose_all()
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()
    print(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
