"""`segito run` killed with SIGKILL in the middle of writes comes back writable, every time (docs/web.md, "Restarts").

A server process forked while another thread of the parent was inside a SQLite write transaction inherits
SQLite's in-memory record of that lock and fails every write of its life with "database is locked". The parent
ran the ticker, whose first tick writes at start, just when gunicorn forks the workers: about one start in five
left a worker, or both, unable to write. Now the parent forks with no connection and no thread using one.
"""
from __future__ import annotations

import base64
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
AUTH = {"Authorization": "Basic " + base64.b64encode(b"anna:segito-demo").decode(),
        "Content-Type": "application/json"}
ROUNDS = 5


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _call(base: str, method: str, path: str, body=None, timeout: float = 30):
    request = urllib.request.Request(base + path, method=method, headers=AUTH,
                                     data=None if body is None else json.dumps(body).encode())
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read() or b"null")


def _start(db: Path, port: int, log: Path) -> subprocess.Popen:
    # Ticks every 0.2 s: the ticker writes often, around the forks too.
    env = dict(os.environ, DATABASE_URL=f"sqlite:///{db}", SEGITO_TICK_SECONDS="0.2")
    env.pop("SEGITO_SECRET_KEY", None)
    return subprocess.Popen([sys.executable, "-m", "web.cli", "run", "--port", str(port), "--workers", "2"],
                            cwd=ROOT, env=env, stdout=log.open("a"), stderr=subprocess.STDOUT,
                            start_new_session=True)  # its own process group, so a test can kill all of it


def _wait_until_up(base: str, proc: subprocess.Popen, log: Path) -> float:
    started = time.monotonic()
    while True:
        assert proc.poll() is None, log.read_text()[-3000:]
        try:
            urllib.request.urlopen(base + "/login", timeout=2).read()
            return time.monotonic() - started
        except OSError:
            assert time.monotonic() - started < 120, "the server did not answer within 120 s"
            time.sleep(0.1)


def _database_files_open_in(pid: int, db: Path) -> list[str]:
    names = {str(db), f"{db}-wal", f"{db}-shm"}
    found = []
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:  # closed meanwhile
            continue
        if target in names:
            found.append(target)
    return found


def _keep_writing(base: str, task_id: int, stop: threading.Event, written: list) -> None:
    while not stop.is_set():
        try:
            _call(base, "PUT", f"/api/tasks/{task_id}/draft", {}, timeout=5)
            written.append(1)
        except (OSError, urllib.error.HTTPError, http.client.HTTPException):
            pass  # refused or cut off by the kill (an answer cut short too): only the writes that went through count


def _kill(proc: subprocess.Popen, whole_group: bool) -> None:
    if whole_group:
        os.killpg(proc.pid, signal.SIGKILL)  # a crash of the machine's service: parent and workers at once
    else:
        os.kill(proc.pid, signal.SIGKILL)  # the parent only: its workers notice and leave by themselves
    proc.wait(timeout=30)


def test_a_server_killed_mid_write_comes_back_writable_every_time(tmp_path):
    db, log = tmp_path / "restart.db", tmp_path / "server.log"
    task_id = None
    measured, groups = [], []
    try:
        for round_ in range(ROUNDS):
            port = _free_port()  # a new port: the workers of a parent killed alone may still hold the old one
            base = f"http://127.0.0.1:{port}"
            proc = _start(db, port, log)
            groups.append(proc.pid)
            try:
                up = _wait_until_up(base, proc, log)
                # The parent that forks the workers holds nothing of the database: no connection a fork could copy.
                if Path(f"/proc/{proc.pid}/fd").is_dir():
                    assert _database_files_open_in(proc.pid, db) == []
                if task_id is None:
                    task_id = _call(base, "GET", "/api/inbox")["items"][0]["task_id"]
                # Writable within seconds, in every worker (several writes reach both).
                started = time.monotonic()
                for _ in range(6):
                    try:
                        _call(base, "PUT", f"/api/tasks/{task_id}/draft", {}, timeout=8)
                    except urllib.error.HTTPError as e:
                        raise AssertionError(f"round {round_}: a write after the restart failed: {e.code} "
                                             f"{e.read()[:300]!r}") from e
                first_writes = time.monotonic() - started
                assert first_writes < 10, f"round {round_}: six writes took {first_writes:.1f} s"
                measured.append((up, first_writes))

                # Writes in flight from several clients, then SIGKILL.
                stop, written = threading.Event(), []

                writers = [threading.Thread(target=_keep_writing, args=(base, task_id, stop, written), daemon=True)
                           for _ in range(4)]
                for t in writers:
                    t.start()
                deadline = time.monotonic() + 10
                while len(written) < 10 and time.monotonic() < deadline:
                    time.sleep(0.05)
                assert written, f"round {round_}: no write went through before the kill"
                _kill(proc, whole_group=round_ % 2 == 0)
                stop.set()
                for t in writers:
                    t.join(timeout=10)
            finally:
                if proc.poll() is None:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=30)
    finally:
        for group in groups:  # workers of a parent killed alone, if any is still leaving
            try:
                os.killpg(group, signal.SIGKILL)
            except ProcessLookupError:
                pass
        print("restart rounds (seconds to answer, seconds for six writes):",
              [(round(a, 2), round(b, 2)) for a, b in measured])
