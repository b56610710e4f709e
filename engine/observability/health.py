"""Readiness (the database answers, its schema is the newest, the timer scheduler ticks where this process runs
one) and the gauges the database knows (timers due, late, fired, in incident)."""
from __future__ import annotations

import datetime as dt
import os
import threading
import time

from sqlalchemy import func, select, text

from ..store import clock
from ..store.timer_models import Timer

# A scheduled timer this long past its due time and not fired yet counts as late (segito_timers_late).
LATE_AFTER = dt.timedelta(seconds=float(os.environ.get("SEGITO_TIMER_LATE_SECONDS", "60")))


class Ticking:
    """The timer scheduler of this process, as its ticks report themselves (engine/timers/ticker.py)."""

    def __init__(self) -> None:
        self.interval: float | None = None  # None: this process runs no scheduler
        self.started = 0.0  # monotonic time the last tick started
        self.running = False
        self._lock = threading.Lock()

    def expect(self, interval: float) -> None:
        with self._lock:
            self.interval, self.started = interval, time.monotonic()

    def tick_started(self) -> None:
        with self._lock:
            self.started, self.running = time.monotonic(), True

    def tick_ended(self) -> None:
        with self._lock:
            self.running = False

    def problem(self) -> str | None:
        """Why the scheduler does not look alive, or None (also when this process runs none). A tick still under
        way (a long backlog) is alive; otherwise one must have started within three intervals and 10 s."""
        with self._lock:
            if self.interval is None or self.running:
                return None
            quiet = time.monotonic() - self.started
            if quiet > 3 * self.interval + 10:
                return f"no timer tick for {quiet:.0f} s (every {self.interval:g} s expected)"
            return None


ticking = Ticking()

_heads: dict[str, str] = {}


def migration_head(url: str) -> str:
    """The newest migration this code has (read once per process)."""
    if url not in _heads:
        from alembic.script import ScriptDirectory

        from ..store import migrate

        head = ScriptDirectory.from_config(migrate.alembic_config(url)).get_current_head()
        _heads[url] = head or ""
    return _heads[url]


def _is_ours(url: str, revision: str) -> bool:
    """Whether this code has the migration (False: a newer release's, run before this process was replaced)."""
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    from ..store import migrate

    try:
        return ScriptDirectory.from_config(migrate.alembic_config(url)).get_revision(revision) is not None
    except CommandError:
        return False


def _schema_check(url: str, current: list[str]) -> str:
    head = migration_head(url)
    if current == [head]:
        return "ok"
    if len(current) == 1 and not _is_ours(url, current[0]):
        # A rolling upgrade: the new release migrated first, and its migrations only add (docs/operations.md,
        # "Migrations without downtime"), so this older process keeps serving until it is replaced.
        return f"ok: database ahead at {current[0]}, migrated by a newer release"
    return f"database at {', '.join(current) or 'no migration'}, this code needs {head}"


def readiness(db) -> dict:
    """{"ready": bool, "checks": {name: "ok" or why not}}: the database reachable, migrated to this code's newest
    migration, and the scheduler ticking if this process runs one. What is wrong is named, without the error's
    details (they go to the log): the answer is for a load balancer."""
    checks: dict[str, str] = {}
    try:
        with db.reading() as session:
            current = session.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
        checks["database"] = "ok"
        checks["migrations"] = _schema_check(db.url, list(current))
    except Exception:  # noqa: BLE001 - any failure to reach the database makes the process unready
        import logging

        logging.getLogger(__name__).warning("readiness: the database did not answer", exc_info=True)
        checks["database"] = "unreachable"
        checks["migrations"] = "unknown"
    checks["scheduler"] = ticking.problem() or ("ok" if ticking.interval is not None else "not run here")
    ready = all(v == "not run here" or v.startswith("ok") for v in checks.values())
    return {"ready": ready, "checks": checks}


def database_gauges(db) -> list[tuple[str, str, dict[str, str], float]]:
    """The timers' figures from the database, the same whichever process is asked (name, help, labels, value).
    Each is one indexed count (``ix_timers_runnable``: state, run_at)."""
    now = clock.now()
    with db.reading() as session:
        def count(*where) -> int:
            return session.execute(select(func.count()).select_from(Timer).where(*where)).scalar_one()

        due = count(Timer.state == "scheduled", Timer.run_at <= now)
        late = count(Timer.state == "scheduled", Timer.run_at <= now - LATE_AFTER)
        fired = count(Timer.state == "fired")
        incidents = count(Timer.state == "incident")
    return [
        ("segito_timers_due", "Scheduled timers whose time (due, or retry after a failure) has come.", {}, due),
        ("segito_timers_late", f"Of those, the ones more than {LATE_AFTER.total_seconds():g} s past that time "
         "(SEGITO_TIMER_LATE_SECONDS).", {}, late),
        ("segito_timers_fired_total", "Timers fired, by every worker and web process, ever.", {}, fired),
        ("segito_incidents_open", "Timers in incident: failed after their retries, waiting for an administrator.",
         {}, incidents),
    ]
