"""A million cases on PostgreSQL (docs/benchmarks.md, "A million cases").

Run:  python3 -m tests.bench.bench_million [--cases 1000000] [--rounds 30] [--keep]

Builds, in a database of its own (``bench_million`` on the server of ``SEGITO_BENCH_PG_URL``, created afresh and
dropped at the end unless ``--keep``), ``--cases`` family-care cases with ten task rows each, and measures at a
hundredth, a tenth and all of them (10k, 100k and 1M by default):

  * the inbox of one caseworker who has a tenth of all cases' waiting steps (100,000 at 1M), first page with counts;
  * the case page (``cases.get_case`` with its data) of a real case;
  * a completion (3.3 casework, continue) of a real case;
  * a year's report (``family_care`` over 2025: a third of the cases fall in it);
  * the firing of one due timer among all the cases' scheduled ones (claim, load, advance, save);
  * stored bytes per case (the real cases' rows, and the whole database divided by the cases).

How the rows are made. The engine makes the *real* cases: 24 family-care cases at several points of their life
(waiting at casework after the agreement, at a review, closed), with their intakes, task rows, timers, report
rows and audit chains; and, at each measurement, fresh real cases to complete and timers to fire. The bulk is
copied from them in SQL on the server (``INSERT … SELECT`` over ``generate_series``): each bulk case takes a real
case's state, report rows and scheduled timers (a running one's), its dates moved back by up to three years; its
ten task rows are the real case's task columns with fresh ids, nine completed and, for a running case, one
waiting (the inbox triggers count them as the engine's writes do). Bulk cases have no audit events of their own
(their chains would be the templates'); they are there to make tables, indexes and counts as large as a million
cases makes them, not to be worked on -- the measured commands run on real cases among them.
"""
from __future__ import annotations

import argparse
import datetime as dt
import itertools
import os
import statistics
import time

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from engine import setup
from engine.cases import cases, tasks
from engine.people import users
from engine.reports import run as report_run
from engine.reports.request import parse_request
from engine.runtime.runtime import Runtime
from engine.store import clock, db
from engine.store.db import Database
from engine.timers import timers
from tests import demo_data
from tests.integration.helpers import do, new_family_case, review, through_agreement
from tests.integration.timer_helpers import TIMER_ONLY, clone_cases, deploy

NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.timezone.utc)
CASEWORKERS = 200
TASKS_PER_CASE = 10
_INTAKES = itertools.count(1000)  # a new client for each fresh case (a second open case would need confirming)
RUNNING_SHARE = 5  # one case in five is running (waiting at a step and a timer); the rest are closed


class People:
    def __init__(self, rt: Runtime):
        with rt.db.unit_of_work() as session:
            for name, roles in (("anna", [users.CASEWORKER]), ("lea", [users.PROFESSIONAL_LEAD]),
                                ("mark", [users.MANAGER]), ("busy", [users.CASEWORKER])):
                users.create_user(session, name, name.title(), roles, None, "bench", clock.now(), password_hash="x")
            for i in range(CASEWORKERS):
                users.create_user(session, f"cw{i:03}", f"Caseworker {i}", [users.CASEWORKER], None, "bench",
                                  clock.now(), password_hash="x")
        with rt.db.reading() as session:
            self.anna, self.lea, self.mark, self.busy = (users.actor(session, n) for n in ("anna", "lea", "mark",
                                                                                          "busy"))
            self.pool = [users.actor(session, f"cw{i:03}").id for i in range(CASEWORKERS)]


def _templates(rt: Runtime, people: People) -> tuple[list[int], list[int]]:
    """Real cases: (running at casework, closed)."""
    running, closed = [], []
    for i in range(24):
        case_id = new_family_case(rt, people, i)
        through_agreement(rt, people, case_id)
        if i % 3 == 0:
            do(rt, case_id, "step_3_3", {"meetings": [demo_data.meeting(6)], "casework_next": "continue"},
               people.anna)
            running.append(case_id)
        elif i % 3 == 1:
            do(rt, case_id, "step_3_3", {"meetings": [demo_data.meeting(6)], "casework_next": "review"},
               people.anna)
            running.append(case_id)
        else:
            do(rt, case_id, "step_3_3", {"meetings": [demo_data.meeting(6)], "casework_next": "review"},
               people.anna)
            review(rt, case_id, True, people.anna)
            do(rt, case_id, "step_3_8", {**demo_data.closure_data(True), "closure_date": "2026-02-27"}, people.anna)
            do(rt, case_id, "agree_closure_success", {"closure_agreed": True}, people.lea)
            closed.append(case_id)
    return running, closed


def _columns(conn, table: str) -> list[str]:
    return list(conn.execute(text("SELECT column_name FROM information_schema.columns WHERE table_schema = "
                                  "current_schema() AND table_name = :t ORDER BY ordinal_position"),
                             {"t": table}).scalars())


def _clone_sql(conn, table: str, source: str, overrides: dict[str, str], where: str = "") -> str:
    cols = [c for c in _columns(conn, table) if c != "id"]
    exprs = [overrides.get(c, f"t.{c}") for c in cols]
    return f"INSERT INTO {table} ({', '.join(cols)}) SELECT {', '.join(exprs)} FROM {source} {where}"


def grow(url: str, people: People, running: list[int], closed: list[int], start: int, stop: int) -> None:
    """Bulk cases number ``start`` up to ``stop`` (exclusive), copied from the real ones, in chunks."""
    engine = create_engine(url)
    busy, pool = people.busy.id, people.pool
    chunk = 50_000
    for lo in range(start, stop, chunk):
        hi = min(stop, lo + chunk)
        with engine.begin() as conn:
            conn.execute(text("SET LOCAL synchronous_commit = off"))
            conn.execute(text("CREATE TEMP TABLE bulk_map (g bigint, case_id bigint, template_id bigint, "
                              "running boolean, shift int, assignee bigint) ON COMMIT DROP"))
            conn.execute(text(
                "INSERT INTO bulk_map SELECT g, nextval('cases_id_seq'), "
                "CASE WHEN g % :rs = 0 THEN (:running)[1 + (g / :rs) % :nr] ELSE (:closed)[1 + g % :nc] END, "
                "g % :rs = 0, (g * 7919) % 1095, "
                # the busy caseworker has every other running case's waiting step: a tenth of all cases
                "CASE WHEN g % (:rs * 2) = 0 THEN :busy ELSE (:pool)[1 + g % :np] END "
                "FROM generate_series(CAST(:lo AS bigint), CAST(:hi AS bigint) - 1) AS g"),
                {"rs": RUNNING_SHARE, "running": running, "closed": closed, "nr": len(running), "nc": len(closed),
                 "busy": busy, "pool": pool, "np": len(pool), "lo": lo, "hi": hi})
            shift = "make_interval(days => m.shift)"
            conn.execute(text(_clone_sql(conn, "cases", "bulk_map m JOIN cases t ON t.id = m.template_id", {
                "started_at": f"t.started_at - {shift}", "completed_at": f"t.completed_at - {shift}",
                "caseworker_id": "m.assignee"}).replace("INSERT INTO cases (", "INSERT INTO cases (id, ")
                .replace("SELECT ", "SELECT m.case_id, ", 1)))
            # Ten task rows a case: the template's first task row for the columns, fresh ids; the tenth waits
            # in a running case.
            conn.execute(text(_clone_sql(
                conn, "human_tasks",
                "bulk_map m CROSS JOIN generate_series(1, :k) AS k JOIN LATERAL (SELECT * FROM human_tasks h "
                "WHERE h.case_id = m.template_id ORDER BY h.id LIMIT 1) t ON true", {
                    "case_id": "m.case_id", "spiff_task_id": "gen_random_uuid()::text", "assignee_id": "m.assignee",
                    "state": "CASE WHEN m.running AND k = :k THEN 'ready' ELSE 'completed' END",
                    "draft": "NULL",
                    "created_at": f"t.created_at - {shift} + make_interval(days => k * 7)",
                    "completed_at": f"CASE WHEN m.running AND k = :k THEN NULL ELSE t.created_at - {shift} "
                                    "+ make_interval(days => k * 7 + 1) END",
                    "completed_by": "CASE WHEN m.running AND k = :k THEN NULL ELSE 'anna' END",
                    "due_at": f"t.created_at - {shift} + make_interval(days => k * 7 + 14)"})),
                {"k": TASKS_PER_CASE})
            conn.execute(text(_clone_sql(
                conn, "timers", "bulk_map m JOIN timers t ON t.case_id = m.template_id AND t.state = 'scheduled'",
                {"case_id": "m.case_id", "spiff_task_id": "gen_random_uuid()::text",
                 "due_at": "t.due_at + make_interval(days => m.shift % 365)",
                 "run_at": "t.run_at + make_interval(days => m.shift % 365)"}, "WHERE m.running")))
            for table in ("report_cases", "report_entries"):
                dated = {"start_day": "t.start_day - m.shift", "end_day": "t.end_day - m.shift",
                         "case_id": "m.case_id", "caseworker_id": "m.assignee"}
                if table == "report_entries":
                    dated["day"] = "t.day - m.shift"
                conn.execute(text(_clone_sql(conn, table, f"bulk_map m JOIN {table} t ON t.case_id = m.template_id",
                                             dated)))
        print(f"    {hi:,} bulk cases", flush=True)
    engine.dispose()


def _time(fn, rounds: int, warm: int = 2) -> tuple[float, float]:
    for _ in range(warm):
        fn()
    walls = []
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        walls.append((time.perf_counter() - t) * 1000)
    walls.sort()
    return statistics.median(walls), walls[max(0, int(len(walls) * 0.95) - 1)]


def measure(rt: Runtime, url: str, people: People, running: list[int], rounds: int, timer_template: int) -> dict:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("VACUUM ANALYZE"))
        counts = {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar() for t in
                  ("cases", "human_tasks", "timers", "report_cases", "report_entries", "audit_events")}
        db_bytes = conn.execute(text("SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c JOIN pg_namespace n "
                                     "ON n.oid = c.relnamespace WHERE n.nspname = current_schema() "
                                     "AND c.relkind = 'r'")).scalar()
    engine.dispose()
    figures: dict = {"counts": counts, "db_bytes": int(db_bytes)}
    waiting = tasks.inbox(rt, people.busy)["total"]
    figures["busy_waiting"] = waiting
    figures["inbox"] = _time(lambda: tasks.inbox(rt, people.busy), rounds)
    page_case = running[0]
    figures["case_page"] = _time(lambda: cases.get_case(rt, page_case, people.anna), rounds)
    # Completions: fresh real cases at casework, each completed once (3.3, continue).
    fresh = []
    for _ in range(rounds + 2):
        case_id = new_family_case(rt, people, next(_INTAKES))
        through_agreement(rt, people, case_id)
        fresh.append(case_id)
    queue = iter(fresh)
    figures["completion"] = _time(lambda: do(rt, next(queue), "step_3_3", {
        "meetings": [demo_data.meeting(6)], "casework_next": "continue"}, people.anna), rounds)
    req = parse_request("2025-01-01", "2025-12-31")
    figures["report"] = _time(lambda: report_run.report(rt, people.mark, "family_care", req), max(3, rounds // 6),
                              warm=1)
    # Timers: real one-timer cases due now, among every case's scheduled timer; each firing is one claim + fire.
    clone_cases(rt, timer_template, rounds + 2, due_for=lambda k: NOW - dt.timedelta(seconds=1 + k))
    figures["timer"] = _time(lambda: timers.fire_due(rt, "bench", limit=1, max_batches=1), rounds)
    return figures


def _print(figures: dict, n_cases: int, load: tuple) -> None:
    c = figures["counts"]
    print(f"\n  {c['cases']:,} cases, {c['human_tasks']:,} task rows, {c['timers']:,} timers, "
          f"{c['report_cases']:,}+{c['report_entries']:,} report rows; {figures['busy_waiting']:,} steps waiting "
          f"for the busy caseworker; database {figures['db_bytes'] / 2**20:,.0f} MiB = "
          f"{figures['db_bytes'] / c['cases']:,.0f} bytes per case; load average {load[0]:.1f} {load[1]:.1f}")
    for name in ("inbox", "case_page", "completion", "report", "timer"):
        p50, p95 = figures[name]
        print(f"    {name:11} p50 {p50:8.2f} ms   p95 {p95:8.2f} ms")


def _state_size(url: str, real: list[int]) -> None:
    engine = create_engine(url)
    with engine.connect() as conn:
        one = conn.execute(text(
            "SELECT avg(pg_column_size(c.state)), avg(pg_column_size(c.*)), "
            "avg((SELECT coalesce(sum(pg_column_size(h.*)), 0) FROM human_tasks h WHERE h.case_id = c.id)), "
            "avg((SELECT coalesce(sum(pg_column_size(a.*)), 0) FROM audit_events a WHERE a.case_id = c.id)), "
            "avg((SELECT coalesce(sum(pg_column_size(r.*)), 0) FROM report_entries r WHERE r.case_id = c.id)) "
            "FROM cases c WHERE c.id = ANY(:ids)"), {"ids": real}).one()
    engine.dispose()
    print(f"\n  a real case stores (mean of {len(real)}): state {one[0]:,.0f} bytes (case row {one[1]:,.0f}), "
          f"task rows {one[2]:,.0f}, audit {one[3]:,.0f}, report entries {one[4]:,.0f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=1_000_000, help="bulk cases at the last step (measured at 1 %%, "
                                                                  "10 %% and 100 %% of it)")
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--keep", action="store_true", help="keep the database bench_million afterwards")
    args = ap.parse_args()
    base = make_url(os.environ.get("SEGITO_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"))
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    url = base.set(database="bench_million").render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text("DROP DATABASE IF EXISTS bench_million"))
        conn.execute(text("CREATE DATABASE bench_million"))
    clock.freeze(NOW)
    print(f"load average {os.getloadavg()}, {os.cpu_count()} CPUs; {args.cases:,} cases", flush=True)
    try:
        rt = Runtime(Database(url))
        setup.initialise(rt)
        people = People(rt)
        t0 = time.perf_counter()
        running, closed = _templates(rt, people)
        deploy(rt, TIMER_ONLY, "timer_only.bpmn")
        timer_template = cases.start_case(rt, "timer_only", people.anna,
                                          demo_data.run_intake(rt, people.anna, 999))["case_id"]
        print(f"  {len(running) + len(closed)} real cases made by the engine in {time.perf_counter() - t0:.0f} s",
              flush=True)
        done = 0
        for size in sorted({max(1, args.cases // 100), max(1, args.cases // 10), args.cases}):
            t0 = time.perf_counter()
            grow(url, people, running, closed, done, size)
            done = size
            print(f"  grown to {size:,} bulk cases in {time.perf_counter() - t0:.0f} s", flush=True)
            _print(measure(rt, url, people, running, args.rounds, timer_template), size, os.getloadavg())
        _state_size(url, running + closed)
        rt.db.close()
    finally:
        db.dispose_all()
        if not args.keep:
            with admin.connect() as conn:
                conn.execute(text("DROP DATABASE IF EXISTS bench_million WITH (FORCE)"))
        admin.dispose()
    print(f"load average {os.getloadavg()}")


if __name__ == "__main__":
    main()
