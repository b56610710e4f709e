"""Wake-ups against polling (docs/benchmarks.md, "Wake-ups"): how late a timer fires after its due time.

Run:  python3 -m tests.bench.bench_wakeups [--timers 40] [--interval 5]

On PostgreSQL (``SEGITO_BENCH_PG_URL``, a schema of its own, dropped afterwards), one `segito worker` polling every
``--interval`` seconds; cases of a process with a two-second timer are started through the engine one every
0.25 s on the real clock, so their timers fall due at scattered moments. Measured per timer: ``fired_at -
due_at`` (both written by the engine). Two runs: the worker with wake-ups (LISTEN/NOTIFY, engine/timers/
wakeups.py) and with ``SEGITO_WAKEUPS=0`` (polling only). Printed: p50, p95 and the worst lateness of each.
"""
from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import time
import uuid

from sqlalchemy import create_engine, select, text

from engine import setup
from engine.cases import cases
from engine.people import users
from engine.runtime.runtime import Runtime
from engine.store import clock, db, migrate
from engine.store.db import Database
from engine.store.timer_models import Timer
from tests import demo_data
from tests.integration.timer_helpers import TIMER_ONLY, deploy

SOON = TIMER_ONLY.replace("timer_only", "timer_soon").replace("'PT1H'", "'PT2S'")


def _run(url: str, n: int, interval: float, wake: bool, offset: int) -> list[float]:
    rt = Runtime(Database(url))
    with rt.db.reading() as session:
        anna = users.actor(session, "anna")
    env = {**os.environ, "DATABASE_URL": url, "SEGITO_TICK_SECONDS": str(interval),
           "SEGITO_WAKEUPS": "1" if wake else "0"}
    worker = subprocess.Popen([sys.executable, "-m", "engine.cli", "worker"], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        time.sleep(6)  # the worker is up, listening, its first tick done
        started = []
        for i in range(n):
            code = demo_data.run_intake(rt, anna, offset + i)
            started.append(cases.start_case(rt, "timer_soon", anna, code)["case_id"])
            time.sleep(0.25)
        deadline = time.monotonic() + interval * 2 + 30
        while time.monotonic() < deadline:
            with rt.db.reading() as session:
                rows = session.execute(select(Timer.due_at, Timer.fired_at).where(
                    Timer.case_id.in_(started))).all()
            if len(rows) == n and all(r.fired_at for r in rows):
                break
            time.sleep(0.2)
        return sorted((r.fired_at - r.due_at).total_seconds() * 1000 for r in rows if r.fired_at)
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
        rt.db.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--timers", type=int, default=40)
    ap.add_argument("--interval", type=float, default=5.0)
    args = ap.parse_args()
    base = os.environ.get("SEGITO_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    schema = f"bench_wakeups_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"
    print(f"load average {os.getloadavg()[0]:.1f}; {args.timers} timers due 2 s after their case starts, "
          f"one start every 0.25 s; worker polling every {args.interval:g} s")
    try:
        migrate.upgrade(url)
        rt = Runtime(Database(url))
        setup.initialise(rt)
        with rt.db.unit_of_work() as session:
            users.create_user(session, "anna", "Anna", [users.CASEWORKER], None, "bench", clock.now(),
                              password_hash="x")
        deploy(rt, SOON, "timer_soon.bpmn")
        rt.db.close()
        for k, wake in enumerate((True, False)):
            late = _run(url, args.timers, args.interval, wake, k * args.timers)
            label = "wake-ups (LISTEN/NOTIFY) + polling" if wake else "polling only (SEGITO_WAKEUPS=0)"
            print(f"  {label:36} fired {len(late)}/{args.timers}; late p50 {statistics.median(late):7.0f} ms, "
                  f"p95 {late[max(0, int(len(late) * 0.95) - 1)]:7.0f} ms, worst {late[-1]:7.0f} ms")
    finally:
        db.dispose_all()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
    print(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
