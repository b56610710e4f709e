"""`segito worker`: the ticker in a process of its own, beside the app; and `segito worker --once`."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from click.testing import CliRunner

from engine.cli import main
from engine.store import clock

from .test_timers import TIMER_ONLY, _start
from .timer_helpers import events, timer_rows


def test_worker_once_fires_what_is_due(runtime, people, database_url):
    import datetime as dt

    case_id = _start(runtime, people, "timer_only", TIMER_ONLY)
    clock.advance(dt.timedelta(hours=2))
    result = CliRunner().invoke(main, ["worker", "--once"], env={"DATABASE_URL": database_url},
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"fired": 1}
    assert [r.state for r in timer_rows(runtime, case_id)] == ["fired"]


def test_a_separate_worker_process_fires_a_due_timer_and_stops_cleanly_on_sigterm(runtime, people, database_url,
                                                                                   tmp_path):
    # The case waits one hour after the test clock's 2026-03-02 09:00; the worker runs on the real clock, later.
    case_id = _start(runtime, people, "timer_only", TIMER_ONLY)
    env = {**os.environ, "DATABASE_URL": database_url, "SEGITO_TICK_SECONDS": "0.5"}
    log = tmp_path / "worker.log"
    worker = subprocess.Popen([sys.executable, "-m", "engine.cli", "worker"], env=env, stdout=log.open("w"),
                              stderr=subprocess.STDOUT)  # a file: a full pipe would block the worker
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and [r.state for r in timer_rows(runtime, case_id)] != ["fired"]:
            time.sleep(0.2)
        assert [r.state for r in timer_rows(runtime, case_id)] == ["fired"]
        [fired] = events(runtime, "timer_fired", case_id)
        assert fired.actor == "scheduler"
        assert timer_rows(runtime, case_id)[0].fired_by.startswith("worker:")
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
    assert worker.returncode == 0, log.read_text()[-2000:]


def test_sigterm_stops_a_worker_after_the_firing_in_progress_and_gives_back_its_claims(runtime, people,
                                                                                        database_url, tmp_path):
    from sqlalchemy import func, select

    from engine.store.timer_models import Timer

    from .timer_helpers import clone_cases

    backlog = 2000
    template = _start(runtime, people, "timer_only", TIMER_ONLY)
    clone_cases(runtime, template, backlog - 1)

    def count(*where) -> int:
        with runtime.db.reading() as session:
            return session.execute(select(func.count()).select_from(Timer).where(*where)).scalar()

    # All 2,000 are due on the worker's real clock (months after the test clock's 2026-03-02).
    env = {**os.environ, "DATABASE_URL": database_url, "SEGITO_TICK_SECONDS": "0.5"}
    log = tmp_path / "worker.log"
    worker = subprocess.Popen([sys.executable, "-m", "engine.cli", "worker"], env=env, stdout=log.open("w"),
                              stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and count(Timer.state == "fired") < 20:
            time.sleep(0.05)
        assert count(Timer.state == "fired") >= 20, log.read_text()[-2000:]
        signalled = time.monotonic()
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=60)
        stopped_after = time.monotonic() - signalled
    finally:
        if worker.poll() is None:
            worker.kill()
    assert worker.returncode == 0, log.read_text()[-2000:]
    fired_by_first = count(Timer.state == "fired")
    assert stopped_after < 5, f"the worker took {stopped_after:.1f} s to stop"
    assert fired_by_first < backlog  # it did not work through the backlog first
    # Nothing it had claimed and not fired stays claimed: another worker fires all the rest at once, each once.
    assert count(Timer.state == "scheduled", Timer.claimed_by.is_not(None)) == 0
    other = subprocess.run([sys.executable, "-m", "engine.cli", "worker", "--once"], env=env, capture_output=True,
                           check=False, text=True, timeout=900)
    assert other.returncode == 0, other.stderr[-2000:]
    assert json.loads(other.stdout) == {"fired": backlog - fired_by_first}
    assert count(Timer.state == "fired") == backlog and len(events(runtime, "timer_fired")) == backlog
