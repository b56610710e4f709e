"""The ticker: APScheduler wakes up every few seconds and calls ``timers.fire_due`` (and notes that it did, for
readiness and metrics: engine/observability).

Besides, jobs registered with ``register_job`` run every few hours in the same scheduler (the retention job,
engine/privacy/retention.py, registered by ``engine.setup.wire``): they must be safe to run in several processes
at once (the retention job locks each case it erases and skips one erased meanwhile).

The due times live in the database (``timers``), never in APScheduler's own job store, so any number of tickers
(one in each web process, and ``segito worker`` processes beside them) share the work safely: the claim in
``engine.timers.timers`` decides who fires what. ``max_instances=1`` keeps one tick of a process from overlapping the
next; ``coalesce`` folds ticks missed while the process was busy or asleep into one.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import signal
import threading
from collections.abc import Callable

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.blocking import BlockingScheduler

from ..observability import health, metrics
from . import timers, wakeups

log = logging.getLogger(__name__)

DEFAULT_INTERVAL = float(os.environ.get("SEGITO_TICK_SECONDS", "5"))

# name -> (the job, taking the runtime; hours between runs). Registered from above (the ticker imports no job).
JOBS: dict[str, tuple[Callable[..., object], float]] = {}


def register_job(name: str, job: Callable[..., object], hours: float) -> None:
    """Run ``job(runtime)`` every ``hours`` in every ticker (hours <= 0: not at all); registering again replaces."""
    if hours > 0:
        JOBS[name] = (job, hours)
    else:
        JOBS.pop(name, None)


def run_job(name: str, runtime) -> object:
    """One run of a registered job; errors are logged, never raised into the scheduler."""
    job, _hours = JOBS[name]
    try:
        result = job(runtime)
        log.info("job %s: %s", name, result)
        return result
    except Exception:  # noqa: BLE001 - the next run tries again; a failure must not stop the ticker
        log.exception("job %s failed", name)
        return None


def tick(runtime, worker: str, stop: threading.Event | None = None) -> int:
    """One tick: fire what is due. Errors are logged, never raised into the scheduler (it would stop the job)."""
    # Readiness (/readyz) asks whether this process's ticks still come (engine/observability/health.py).
    health.ticking.tick_started()
    metrics.inc("segito_timer_ticks_total")
    try:
        fired = timers.fire_due(runtime, worker, stop=stop)
        if fired:
            log.info("%s fired %d timer(s)", worker, fired)
        return fired
    except Exception:  # noqa: BLE001 - the database may be away for a moment; the next tick tries again
        log.exception("tick of %s failed", worker)
        return 0
    finally:
        health.ticking.tick_ended()
        metrics.write()


def _add_job(scheduler, runtime, worker: str, interval: float, stop: threading.Event | None = None) -> None:
    # The first tick runs at once: after downtime, what is overdue fires without waiting an interval.
    health.ticking.expect(interval)
    scheduler.add_job(tick, "interval", args=(runtime, worker, stop), seconds=interval, id="fire_due_timers",
                      max_instances=1, coalesce=True, misfire_grace_time=None, replace_existing=True,
                      next_run_time=dt.datetime.now(dt.timezone.utc))
    for name, (_job, hours) in JOBS.items():
        # The first run an interval after the start, so a restart does not run a daily job again at once.
        scheduler.add_job(run_job, "interval", args=(name, runtime), hours=hours, id=f"job_{name}",
                          max_instances=1, coalesce=True, misfire_grace_time=None, replace_existing=True)


def start_background(runtime, interval: float = DEFAULT_INTERVAL, worker: str | None = None) -> BackgroundScheduler:
    """The in-app ticker of a web process (a daemon thread)."""
    worker = worker or f"web:{timers.worker_name()}"
    scheduler = BackgroundScheduler(daemon=True, timezone="UTC")
    _add_job(scheduler, runtime, worker, interval)
    scheduler.start()
    log.info("ticker %s started, every %.1f s", worker, interval)
    return scheduler


def run_worker(runtime, interval: float = DEFAULT_INTERVAL, worker: str | None = None,
               stop: threading.Event | None = None) -> None:
    """``segito worker``: the same ticker in a process of its own, until SIGTERM/SIGINT (or ``stop``)."""
    worker = worker or f"worker:{timers.worker_name()}"
    scheduler = BlockingScheduler(timezone="UTC")
    stopping = threading.Event()  # the tick in progress sees it: it stops after the firing in progress
    _add_job(scheduler, runtime, worker, interval, stopping)

    def _shutdown(*_args):
        # The tick under way commits the firing in progress and gives back the claims it has not fired, however
        # long the backlog (timers.fire_due); wait=True waits for that, not for the backlog.
        stopping.set()
        threading.Thread(target=scheduler.shutdown, kwargs={"wait": True}, daemon=True).start()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _shutdown)
        signal.signal(signal.SIGINT, _shutdown)
    if stop is not None:
        threading.Thread(target=lambda: (stop.wait(), _shutdown()), daemon=True).start()
    listen_for_wakeups(scheduler, runtime, worker, stopping)
    log.info("worker %s started, every %.1f s", worker, interval)
    scheduler.start()


def listen_for_wakeups(scheduler, runtime, worker: str, stop: threading.Event) -> wakeups.Listener | None:
    """On PostgreSQL, a tick at the due time of each timer a notification announces (engine/timers/wakeups.py);
    the interval's ticks go on beside, as the fallback."""
    if not runtime.db.url.startswith("postgresql") or not wakeups.enabled():
        return None

    def on_due(due: dt.datetime) -> None:
        delay = wakeups.delay_until(due)
        # Due times within 50 ms share one tick: a burst of commands (a thousand cases started at once) makes
        # a few ticks, not one per timer; each fires whatever is due by then.
        scheduler.add_job(tick, "date", args=(runtime, worker, stop), id=f"wake_{int(due.timestamp() * 20)}",
                          run_date=dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=delay),
                          replace_existing=True, misfire_grace_time=None)
        metrics.inc("segito_timer_wakeups_total")

    listener = wakeups.Listener(runtime.db.url, on_due, stop)
    listener.start()
    return listener
