"""Wake-ups (engine/timers/wakeups.py): on PostgreSQL a `segito worker` polling only every ten minutes still fires
a timer due in two seconds, woken by the NOTIFY of the command that scheduled it; after its listening connection
is killed it reconnects and is woken again. On SQLite nothing is announced and nothing listens."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from sqlalchemy import text

from engine.store import clock
from engine.timers import ticker, wakeups

from .test_timers import _start
from .timer_helpers import TIMER_ONLY, deploy, timer_rows

# start → a two-second timer → end
SOON = TIMER_ONLY.replace("timer_only", "timer_soon").replace("'PT1H'", "'PT2S'")


def _wait_for(predicate, seconds: float = 60.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


def test_a_worker_is_woken_at_a_new_timers_due_time_and_after_losing_its_connection(runtime, people,
                                                                                      database_url, tmp_path):
    clock.reset()  # the worker runs on the real clock: the case's two seconds must be real ones too
    if not database_url.startswith("postgresql"):
        assert ticker.listen_for_wakeups(None, runtime, "w", None) is None  # nothing listens on SQLite
        with runtime.db.unit_of_work() as session:
            wakeups.announce(session.connection(), clock.now())  # and nothing is sent
        return
    deploy(runtime, SOON, "timer_soon.bpmn")
    log = tmp_path / "worker.log"
    env = {**os.environ, "DATABASE_URL": database_url, "SEGITO_TICK_SECONDS": "600"}
    worker = subprocess.Popen([sys.executable, "-m", "engine.cli", "worker"], env=env, stdout=log.open("w"),
                              stderr=subprocess.STDOUT)  # a file: a full pipe would block the worker

    def listening(times: int) -> bool:
        return log.read_text().count("listening for wake-ups") >= times

    try:
        assert _wait_for(lambda: listening(1)), log.read_text()[-2000:]
        time.sleep(0.5)  # the worker's first tick (at its start) is over; the next poll is ten minutes away
        first = _start(runtime, people, "timer_soon", SOON, 1)
        assert _wait_for(lambda: [r.state for r in timer_rows(runtime, first)] == ["fired"]), log.read_text()[-2000:]
        assert timer_rows(runtime, first)[0].fired_by.startswith("worker:")

        # The listening connection dies (a restart, a network cut): the worker reconnects and is woken again.
        with runtime.db.unit_of_work() as session:
            killed = session.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                          "WHERE query LIKE 'LISTEN \"segito_timers_' || current_schema() || '\"%'"
                                          )).scalars().all()
        assert killed == [True]
        assert _wait_for(lambda: listening(2)), log.read_text()[-2000:]
        second = _start(runtime, people, "timer_soon", SOON, 2)
        assert _wait_for(lambda: [r.state for r in timer_rows(runtime, second)] == ["fired"]), log.read_text()[-2000:]
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
    assert worker.returncode == 0, log.read_text()[-2000:]
    assert "wake-up connection lost" in log.read_text()
