"""SQLite's WAL checkpoint on a thread of its own, so that no command's commit pays for it.

In WAL mode a commit appends pages to ``<db>-wal``; a checkpoint copies them into the database file and fsyncs
it, a few milliseconds. SQLite runs one itself inside the commit that takes the log past ``wal_autocheckpoint``
pages (1000 by default): one command in some 45 paid for all of them (docs/benchmarks.md). Here, on a SQLite
file, a daemon thread with its own plain ``sqlite3`` connection looks every ``POLL_SECONDS`` whether any commit
came since its last look and, if so, runs ``PRAGMA wal_checkpoint(PASSIVE)``, which neither waits for nor blocks
readers and writers. A writer only counts its commit (a few nanoseconds): waking the thread at every commit
would cost the committing thread a GIL hand-over and two context switches, more than the checkpoint it saves.

Writers keep SQLite's automatic checkpoint at ``SEGITO_WAL_CHECKPOINT_PAGES`` (10,000 pages by default) for when
no thread runs (a one-off CLI command, a thread that died) or when it cannot keep up: a PASSIVE checkpoint copies
what was committed when it began, and the log starts over from its top only when a writer begins after a
checkpoint copied everything. Under back-to-back commits that does not happen, and the log grows until a writer's
own checkpoint, which then has little left to copy, starts it over. The log file keeps its largest size (no
``journal_size_limit``): a commit overwrites blocks already allocated, which is cheaper than growing the file.
"""
from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from urllib.parse import quote

from . import config

POLL_SECONDS = 0.25
STOP_SECONDS = 2.0
log = logging.getLogger(__name__)

_registry: dict[str, WalCheckpointer] = {}
_registry_lock = threading.Lock()


def checkpoint(connection: sqlite3.Connection) -> tuple[int, int, int]:
    """One PASSIVE checkpoint: (1 if it was blocked, pages in the log, pages of it now in the database file)."""
    return connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()


class WalCheckpointer:
    """The checkpoints of one SQLite file in this process (see the module docstring)."""

    def __init__(self, database_path: str, fallback_pages: int):
        self.path = database_path
        self.fallback_pages = fallback_pages
        self._look_now = threading.Event()  # set by stop() and settle()
        self._start_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._started = False  # also True once stopped, so that a late commit does not start the thread again
        self._stopping = False
        self._commits = 0  # counted by note_commit; the thread compares it with what it saw at its last look
        self._looks = 0
        self._behind = False  # the last checkpoint left pages behind (commits landed during it)
        self._last_error: str | None = None

    def configure(self, cursor) -> None:
        """Settings of every connection to this file (the pool's "connect" listener calls it)."""
        cursor.execute(f"PRAGMA wal_autocheckpoint={self.fallback_pages}")

    def note_commit(self, _dbapi_connection=None, _record=None) -> None:
        """A writer is done (the writing engine's pool "checkin" listener): count it; start the thread once.

        Not the "commit" event: that comes before the commit is written, and a checkpoint that starts then leaves
        the commit's pages behind, which keeps the next writer from starting the log over."""
        if not self._started:
            self._start()
        self._commits += 1  # not atomic across threads; it only needs to change when commits come

    def stop(self, timeout: float = STOP_SECONDS) -> None:
        """Stop the thread; it closes its connection. A second call does nothing more."""
        with self._start_lock:
            self._stopping = self._started = True
            thread = self._thread
        self._look_now.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
            if thread.is_alive():
                # It finishes the checkpoint it is in and closes its connection by itself.
                log.warning("the WAL checkpoint thread of %s did not stop within %.0f s", self.path, timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def settle(self, timeout: float = 10.0) -> bool:
        """Have the thread look now, and wait until it has (for tests)."""
        looks = self._looks
        self._look_now.set()
        deadline = time.monotonic() + timeout
        while self.running and self._looks == looks:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.001)
        return True

    def _start(self) -> None:
        with self._start_lock:
            if self._started:
                return
            self._started = True
            # A daemon: a process may exit in the middle of a checkpoint. That is safe, as a crash is: the log
            # is not started over until a checkpoint has copied and fsynced everything, so the next connection
            # finds every committed page either in the database file or in the log.
            self._thread = threading.Thread(target=self._run, daemon=True,
                                            name=f"wal-checkpoint {os.path.basename(self.path)}")
            self._thread.start()

    def _run(self) -> None:
        connection = None
        seen = self._commits
        try:
            while not self._stopping:
                self._look_now.wait(POLL_SECONDS)
                self._look_now.clear()
                try:
                    if self._stopping:
                        break
                    came, seen = self._commits != seen, self._commits
                    # After commits, or once they pause if the last checkpoint left some behind: then the next
                    # writer can start the log over.
                    if came or self._behind:
                        connection = connection or self._connect()
                        _blocked, in_log, copied = checkpoint(connection)
                        self._behind = copied < in_log
                    self._last_error = None
                except Exception as e:  # SQLITE_BUSY, a file gone or replaced: say so, try again on the next look
                    self._report(e)
                    _close(connection)
                    connection = None
                finally:
                    self._looks += 1
        finally:
            _close(connection)

    def _connect(self) -> sqlite3.Connection:
        # mode=rw: a database file that is gone must not be created again, empty, by its checkpointer.
        return sqlite3.connect(f"file:{quote(self.path)}?mode=rw", uri=True, timeout=1.0, isolation_level=None)

    def _report(self, error: Exception) -> None:
        message = f"{type(error).__name__}: {error}"
        if message != self._last_error:  # once per kind of failure, not at every look while it lasts
            log.warning("WAL checkpoint of %s failed (%s); will try again", self.path, message)
        self._last_error = message

    def _forget_thread(self) -> None:
        # In a child after fork(): the parent's thread is not here, its locks may have been held at the fork.
        self._look_now = threading.Event()
        self._start_lock = threading.Lock()
        self._thread = None
        self._started = self._stopping
        self._behind = False


def _close(connection) -> None:
    if connection is not None:
        try:
            connection.close()
        except sqlite3.Error as e:
            log.warning("closing the WAL checkpoint connection failed: %s", e)


def _database_path(url) -> str | None:
    """The file of a SQLite file database URL; None for memory databases, file: URIs and other databases."""
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:" \
            or url.database.startswith("file:") or (url.query or {}).get("mode") == "memory":
        return None
    return os.path.abspath(url.database)


def for_url(url) -> WalCheckpointer | None:
    """The checkpointer of a SQLite file database (one per file and process); None for anything else."""
    path = _database_path(url)
    if path is None:
        return None
    with _registry_lock:
        checkpointer = _registry.get(path)
        if checkpointer is None:
            checkpointer = _registry[path] = WalCheckpointer(path, config.wal_checkpoint_pages())
        return checkpointer


def stop(url) -> None:
    """Stop the checkpointer of a database (engine.store.db.dispose); a later engine of it gets a new one."""
    from sqlalchemy.engine import make_url

    path = _database_path(make_url(url))
    with _registry_lock:
        checkpointer = _registry.pop(path, None) if path else None
    if checkpointer is not None:
        checkpointer.stop()


def stop_all() -> None:
    with _registry_lock:
        checkpointers = list(_registry.values())
        _registry.clear()
    for checkpointer in checkpointers:
        checkpointer.stop()


def _reset_after_fork() -> None:
    # A child keeps the checkpointers its engines point at, one per file still, each starting its own thread
    # on its first commit; the parent's connection is never used here (SQLite forbids it across fork()).
    global _registry_lock
    _registry_lock = threading.Lock()
    for checkpointer in _registry.values():
        checkpointer._forget_thread()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)
