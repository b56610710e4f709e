"""Wake-ups on PostgreSQL: a timer that falls due soon wakes the workers at its time instead of at their next poll.

A worker polls every few seconds (engine/timers/ticker.py), so a timer fires up to one interval after it is due.
On PostgreSQL, whatever makes a timer due within ``WAKE_WITHIN`` -- a command that schedules one, an
administrator's retry, a stopping worker giving back its claims -- also sends ``NOTIFY`` with the due time, in
the same transaction (PostgreSQL delivers it at the commit, and not at all on a rollback). Each ``segito worker``
keeps one connection listening (``Listener``) and, told of a due time, runs a tick at that time. Polling stays:
notifications are lost while a worker's connection is down (it reconnects with backoff) and SQLite has none, so
the poll is the guarantee and the wake-up only makes it sooner (docs/timers.md, docs/operations.md).

The channel is named after the schema (``segito_timers_<schema>``): databases that share a server in schemas of
their own (tests, staging beside production) wake only their own workers.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import threading
from collections.abc import Callable

from sqlalchemy import text
from sqlalchemy.engine import make_url

from ..store import clock

log = logging.getLogger(__name__)

CHANNEL_PREFIX = "segito_timers_"
# Timers due later than this are left to polling: a worker polling every few seconds finds them in time, and a
# wake-up per far-off timer would only cost.
WAKE_WITHIN = dt.timedelta(seconds=float(os.environ.get("SEGITO_WAKE_WITHIN_SECONDS", "60")))
_NOTIFY = text(f"SELECT pg_notify('{CHANNEL_PREFIX}' || current_schema(), :due)")


def enabled() -> bool:
    """Wake-ups are on unless SEGITO_WAKEUPS=0 (e.g. behind a pooler in transaction mode, where LISTEN fails)."""
    return os.environ.get("SEGITO_WAKEUPS", "1") != "0"


def announce(connection, due: dt.datetime) -> None:
    """Within the transaction that makes a timer due at ``due``: tell the listening workers (PostgreSQL only)."""
    if connection.dialect.name != "postgresql" or due > clock.now() + WAKE_WITHIN:
        return
    connection.execute(_NOTIFY, {"due": due.isoformat()})


class Listener(threading.Thread):
    """A daemon thread holding one connection that LISTENs, calling ``on_due(due_time)`` for each notification;
    it reconnects after the database went away (1 s, doubling up to 30 s) until ``stop`` is set."""

    def __init__(self, url: str, on_due: Callable[[dt.datetime], object], stop: threading.Event):
        super().__init__(name="segito-wakeups", daemon=True)
        parsed = make_url(url)
        self.conninfo = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
        self.on_due, self.stop = on_due, stop
        self.listening = threading.Event()  # set while LISTEN is in effect (the tests wait for it)
        self.reconnects = 0

    def run(self) -> None:
        import psycopg

        backoff = 1.0
        while not self.stop.is_set():
            try:
                with psycopg.connect(self.conninfo, autocommit=True, connect_timeout=10) as conn:
                    schema = conn.execute("SELECT current_schema()").fetchone()
                    channel = CHANNEL_PREFIX + (schema[0] if schema else "public")
                    conn.execute(f'LISTEN "{channel}"')
                    self.listening.set()
                    log.info("listening for wake-ups on %s", channel)
                    backoff = 1.0
                    while not self.stop.is_set():
                        for note in conn.notifies(timeout=1.0):
                            self._deliver(note.payload)
            except Exception:  # noqa: BLE001 - the database restarted or is away: polling goes on meanwhile
                self.listening.clear()
                if self.stop.is_set():
                    return
                self.reconnects += 1
                log.warning("wake-up connection lost; reconnecting in %.0f s (polling continues)", backoff,
                            exc_info=True)
                self.stop.wait(backoff)
                backoff = min(backoff * 2, 30.0)
        self.listening.clear()

    def _deliver(self, payload: str) -> None:
        try:
            due = dt.datetime.fromisoformat(payload)
        except ValueError:
            log.warning("wake-up with an unreadable due time %r ignored", payload)
            return
        try:
            self.on_due(due)
        except Exception:  # noqa: BLE001 - a failed wake-up leaves the timer to the next poll
            log.exception("wake-up for %s failed", payload)


def delay_until(due: dt.datetime) -> float:
    """Seconds from now (the engine's clock) until a timer due at ``due`` can fire: SpiffWorkflow fires a timer
    when the clock is past its due time, so a little after it."""
    return max(0.0, (due - clock.now()).total_seconds()) + 0.005
