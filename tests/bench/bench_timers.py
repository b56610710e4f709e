"""Timer benchmark (docs/benchmarks.md): 100,000 scheduled follow-up timers on PostgreSQL.

A job-retention case waits on two timers at a time (its next visit and its day-180 check: the process loops,
timer → visit task → next timer), so 50,000 cases hold the 100,000 scheduled timers.

Measures
  1. timers fired per second by one worker and by two worker processes, and the worker's CPU per timer:
     (a) the machinery, minimal cases (start → timer → end) due at once among the future timers of the
     job-retention cases; (b) real follow-up visits: every case's first visit due at once (firing it issues
     the visit task and schedules the next visit), among the cases' day-180 checks;
  2. lateness after the due time (p50/p99) with a worker ticking every second, timers falling due at a steady
     rate while the 100,000 others wait;
  3. the worker's memory (RSS and tracemalloc) at 200 and at 100,000 future timers.

Run:  python tests/bench/bench_timers.py [--pg URL] [--cases 50000] [--one 3000] [--lateness 600]
      [--bpmn OLD.bpmn]   (deploy another job-retention design as the newest version, to compare)
The cases are real (a job-retention case through entry and plan, cloned with fresh task ids: see
tests/integration/timer_helpers.clone_cases), so every firing loads, advances and saves a real workflow.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, func, select, text  # noqa: E402

from engine import setup  # noqa: E402
from engine.cases import cases  # noqa: E402
from engine.definitions import definitions, serialization  # noqa: E402
from engine.people import users  # noqa: E402
from engine.runtime.runtime import Runtime  # noqa: E402
from engine.sandbox import calendar_helpers  # noqa: E402
from engine.store import clock  # noqa: E402
from engine.store.db import Database  # noqa: E402
from engine.store.models import Case  # noqa: E402
from engine.store.timer_models import Timer  # noqa: E402
from engine.timers import timers  # noqa: E402
from tests import demo_data  # noqa: E402
from tests.integration.timer_helpers import TIMER_ONLY, VISIT, clone_cases, complete, deploy, start_follow_up  # noqa: E402

WORKER = textwrap.dedent("""
    import json, resource, sys, time, tracemalloc
    sys.path.insert(0, {root!r})
    from engine.timers import timers
    from engine.store.db import Database
    from engine.runtime.runtime import Runtime
    mode, url = sys.argv[1], sys.argv[2]
    rt = Runtime(Database(url))
    rt.settle()  # as `segito worker` does when it starts
    if mode == "fire":
        limit = {{"limit": 100, "max_batches": int(sys.argv[4]) // 100}} if len(sys.argv) > 4 else {{}}
        t0, c0 = time.time(), time.process_time()
        n = timers.fire_due(rt, sys.argv[3], **limit)
        t1, c1 = time.time(), time.process_time()
        print(json.dumps({{"fired": n, "start": t0, "end": t1, "cpu": c1 - c0}}))
    else:  # memory: idle ticks against the future timers
        tracemalloc.start()
        for _ in range(3):
            timers.fire_due(rt, "mem")
        base = tracemalloc.get_traced_memory()[0]
        for _ in range(20):
            timers.fire_due(rt, "mem")
        current, peak = tracemalloc.get_traced_memory()
        print(json.dumps({{"rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                          "traced_kb": current // 1024, "traced_peak_kb": peak // 1024,
                          "growth_kb": (current - base) // 1024}}))
""").format(root=str(ROOT))


def schema_url(base: str) -> tuple[str, str]:
    name = f"bench_timers_{uuid.uuid4().hex[:6]}"
    with create_engine(base).begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{name}"'))
    sep = "&" if "?" in base else "?"
    return name, f"{base}{sep}options=-csearch_path%3D{name}"


def drop(base: str, name: str) -> None:
    with create_engine(base).begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{name}" CASCADE'))


OTHER_BPMN: Path | None = None  # --bpmn


VISIT_DAYS = (7, 14, 21, 28, 42, 56)  # the standard plan's first six visits, days after S (bpmn/job_retention)


def prepared(url: str, n_cases: int, start: dt.date, visits_done: int = 0) -> Runtime:
    """n_cases job-retention cases through entry and plan, employment starting on ``start`` — and, with
    ``visits_done``, that many visits fired and recorded (a case further on carries the tasks of its past visits)."""
    rt = Runtime(Database(url))
    setup.initialise(rt)
    if OTHER_BPMN is not None:
        with rt.db.unit_of_work() as session:
            definitions.deploy(session, definitions.Upload.from_path(OTHER_BPMN), "bench", clock.now())
    with rt.db.unit_of_work() as session:
        users.create_user(session, "anna", "Anna", [users.CASEWORKER], None, "bench", clock.now())
    with rt.db.reading() as session:
        anna = users.actor(session, "anna")
    clock.freeze(calendar_helpers.start_of_day(start) - dt.timedelta(days=3))
    template = start_follow_up(rt, anna, start=start.isoformat())
    for day in VISIT_DAYS[:visits_done]:
        clock.freeze(calendar_helpers.start_of_day(start + dt.timedelta(days=day)) + dt.timedelta(hours=8))
        timers.fire_due(rt, "bench-template")
        complete(rt, template, "jr_visit", {**VISIT, "visit_date": (start + dt.timedelta(days=day)).isoformat()}, anna)
    with rt.db.reading() as session:
        rt.template_state_kb = round(len(serialization.state_json(session.get(Case, template).state)) / 1024, 1)
    clone_cases(rt, template, n_cases - 1)
    clock.reset()
    return rt


def counts(rt) -> dict:
    with rt.db.reading() as session:
        return dict(session.execute(select(Timer.state, func.count()).group_by(Timer.state)).all())


def run_worker(mode: str, url: str, name: str = "w", at_most: int | None = None) -> subprocess.Popen:
    extra = [str(at_most)] if at_most else []
    return subprocess.Popen([sys.executable, "-c", WORKER, mode, url, name, *extra], stdout=subprocess.PIPE,
                            text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})


def _rates(rt, url: str, one: int) -> dict:
    before = counts(rt)
    # One worker is a process of its own, as `segito worker` is: the benchmark's own heap (the cloned cases)
    # would otherwise be walked by every garbage collection of the firing.
    alone = json.loads(run_worker("fire", url, "one", at_most=max(100, one)).communicate()[0])
    fired_one = alone["fired"]
    one_rate = fired_one / (alone["end"] - alone["start"])
    one_cpu = alone["cpu"] / max(fired_one, 1)
    procs = [run_worker("fire", url, f"two-{i}") for i in range(2)]
    results = [json.loads(p.communicate()[0]) for p in procs]
    fired_two = sum(r["fired"] for r in results)
    span = max(r["end"] for r in results) - min(r["start"] for r in results)
    # Worker CPU per timer (the worker's own work, without the database server's): what the machine's load
    # does not change, unlike the wall-clock rates.
    return {"scheduled_before": before.get("scheduled", 0), "one_worker_fired": fired_one,
            "one_worker_per_s": round(one_rate, 1), "one_worker_cpu_ms_per_timer": round(one_cpu * 1000, 2),
            "two_workers_fired": fired_two, "two_workers_per_s": round(fired_two / span, 1),
            "two_workers_cpu_ms_per_timer": round(1000 * sum(r["cpu"] for r in results) / max(fired_two, 1), 2),
            "per_worker": [r["fired"] for r in results], "after": counts(rt), "load": round(os.getloadavg()[0], 1)}


def throughput_follow_up(base: str, n_cases: int, one: int, visit: int = 1) -> dict:
    """Real job-retention cases: each firing loads, advances and saves a follow-up case (its first visit due:
    the visit task is issued and the next visit scheduled)."""
    name, url = schema_url(base)
    try:
        today = calendar_helpers.local_date(dt.datetime.now(dt.timezone.utc))
        rt = prepared(url, n_cases, today - dt.timedelta(days=VISIT_DAYS[visit - 1] + 1), visits_done=visit - 1)
        return {"visit": visit, "case_state_kb": rt.template_state_kb, **_rates(rt, url, one)}
    finally:
        drop(base, name)


def throughput_light(base: str, n_cases: int, n_due: int, one: int) -> dict:
    """The timer machinery itself: minimal cases (start → timer → end) due at once, among the 100,000 future
    follow-up timers: claim, lock, row checks, firing, task/timer rows, audit, state and commit."""
    name, url = schema_url(base)
    try:
        today = calendar_helpers.local_date(dt.datetime.now(dt.timezone.utc))
        rt = prepared(url, n_cases, today + dt.timedelta(days=30))
        with rt.db.reading() as session:
            anna = users.actor(session, "anna")
        deploy(rt, TIMER_ONLY, "timer_only.bpmn")
        clock.freeze(dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=2))
        template = cases.start_case(rt, "timer_only", anna, demo_data.run_intake(rt, anna, 1))["case_id"]
        clone_cases(rt, template, n_due - 1)
        clock.reset()
        return _rates(rt, url, one)
    finally:
        drop(base, name)


def lateness(base: str, n_cases: int, n_due: int, tick: float, spread: float) -> dict:
    """n_due timers fall due over ``spread`` seconds while the cases' timers wait; one worker ticks every ``tick``."""
    name, url = schema_url(base)
    try:
        today = calendar_helpers.local_date(dt.datetime.now(dt.timezone.utc))
        rt = prepared(url, n_cases, today + dt.timedelta(days=30))  # everything of these is in the future
        with rt.db.reading() as session:
            anna = users.actor(session, "anna")
        deploy(rt, TIMER_ONLY, "timer_only.bpmn")
        code = demo_data.run_intake(rt, anna, 1)
        template = cases.start_case(rt, "timer_only", anna, code)["case_id"]
        first = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=20)  # after the worker has started
        clone_cases(rt, template, n_due, due_for=lambda k: first + dt.timedelta(seconds=spread * k / n_due))
        with rt.db.unit_of_work() as session:  # the template's own timer is an hour away: out of the way
            session.execute(text("UPDATE timers SET state = 'cancelled' WHERE case_id = :c"), {"c": template})
        waiting = counts(rt).get("scheduled", 0) - n_due
        env = {**os.environ, "PYTHONPATH": str(ROOT), "DATABASE_URL": url, "SEGITO_TICK_SECONDS": str(tick)}
        proc = subprocess.Popen([sys.executable, "-m", "engine.cli", "worker"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.time() + 20 + spread + 120
            while time.time() < deadline:
                with rt.db.reading() as session:
                    left = session.execute(select(func.count()).select_from(Timer).where(
                        Timer.event_kind == "duration", Timer.state == "scheduled")).scalar()
                if not left:
                    break
                time.sleep(1)
        finally:
            proc.terminate()
            proc.wait(timeout=60)
        with rt.db.reading() as session:
            late = sorted((f - d).total_seconds() for f, d in session.execute(
                select(Timer.fired_at, Timer.due_at).where(Timer.event_kind == "duration",
                                                           Timer.state == "fired")))
        q = statistics.quantiles(late, n=100)
        return {"timers": len(late), "waiting_meanwhile": waiting, "tick_s": tick, "p50_s": round(q[49], 3),
                "p99_s": round(q[98], 3), "max_s": round(late[-1], 3)}
    finally:
        drop(base, name)


def memory(base: str, big: int) -> dict:
    out = {}
    today = calendar_helpers.local_date(dt.datetime.now(dt.timezone.utc))
    for label, n_cases in (("small", 100), ("big", big)):
        name, url = schema_url(base)
        try:
            rt = prepared(url, n_cases, today + dt.timedelta(days=30))
            out[label] = {"future_timers": counts(rt).get("scheduled", 0),
                          **json.loads(run_worker("memory", url).communicate()[0])}
        finally:
            drop(base, name)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pg", default=os.environ.get("SEGITO_TEST_PG_URL",
                                                       "postgresql+psycopg://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--cases", type=int, default=50_000, help="job-retention cases (2 timers each)")
    parser.add_argument("--one", type=int, default=3_000, help="timers the single worker fires")
    parser.add_argument("--light", type=int, default=10_000, help="minimal cases due at once (machinery rate)")
    parser.add_argument("--lateness", type=int, default=600, help="timers falling due during the lateness run")
    parser.add_argument("--spread", type=float, default=120.0, help="seconds over which they fall due")
    parser.add_argument("--tick", type=float, default=1.0)
    parser.add_argument("--skip", default="", help="comma-separated: light,follow_up,lateness,memory")
    parser.add_argument("--visit", type=int, default=1, choices=range(1, 7),
                        help="which visit is due in the follow-up phase (1: the first; 6: five already recorded)")
    parser.add_argument("--bpmn", type=Path, help="another job_retention.bpmn (its forms/ beside it) to compare")
    args = parser.parse_args()
    global OTHER_BPMN
    OTHER_BPMN = args.bpmn
    skip = set(filter(None, args.skip.split(",")))
    print(f"bench_timers: PostgreSQL, {args.cases} job-retention cases, {os.cpu_count()} CPUs, "
          f"load {os.getloadavg()[0]:.1f}" + (f", BPMN {args.bpmn}" if args.bpmn else ""))
    if "light" not in skip:
        print("throughput_light", json.dumps(throughput_light(args.pg, args.cases, args.light, args.one)))
    if "follow_up" not in skip:
        print("throughput_follow_up", json.dumps(throughput_follow_up(args.pg, args.cases, args.one, args.visit)))
    if "lateness" not in skip:
        print("lateness", json.dumps(lateness(args.pg, args.cases, args.lateness, args.tick, args.spread)))
    if "memory" not in skip:
        print("memory", json.dumps(memory(args.pg, args.cases)))


if __name__ == "__main__":
    main()
