"""SQLite's WAL checkpoint on a thread of its own, so that no command's commit pays for it.

In WAL mode a commit appends pages to ``<db>-wal``; a checkpoint copies them into the database file and fsyncs
both, a few milliseconds. SQLite runs it itself inside the commit that takes the log past
``wal_autocheckpoint`` pages (1000 by default), so one command in some 45 paid for all of them. Here, on a SQLite
file, a writer whose connection goes back to the pool after its commit only counts it (a few nanoseconds); a daemon
thread with its own plain ``sqlite3`` connection looks every ``POLL_SECONDS`` at the size of ``<db>-wal`` (one
``os.stat``) and, once the log holds more than
``SEGITO_WAL_CHECKPOINT_PAGES`` pages not yet copied, runs ``PRAGMA wal_checkpoint(PASSIVE)``, which neither waits
for nor blocks readers and writers. Writers keep SQLite's automatic checkpoint at ten times that, as a fallback
for when no thread runs (a one-off CLI command, a thread that died), so the log never grows without bound.

Writers also carry ``journal_size_limit`` of exactly ``pages`` pages: a checkpoint does not shorten the log file,
the next writer merely starts writing it over from the top, so without the limit its size would stay at its
high-water mark and say nothing about how much is left to copy. With it the file is cut back to ``pages`` pages
when the log starts over, and it is longer than that only when there is more than that to copy.

A PASSIVE checkpoint copies what was committed when it began. The log starts over only if a writer begins after
a checkpoint copied everything; under back-to-back commits (each less than a checkpoint apart) that does not
happen, the log grows, this thread copies each further ``pages`` pages as they come, and the log starts over
after the first pause in the commits (the thread copies what is left when no commit came since its last look) or at the fallback checkpoint of a writer (which then has little left to copy).
"""
from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from urllib.parse import quote

from . import config

FALLBACK_FACTOR = 10  # writers' own automatic checkpoint, in multiples of the thread's threshold
# The thread looks at the log this often. Not woken by each commit: waking a thread costs the committing one a
# GIL hand-over and two context switches, more than the checkpoint it saves (measured: docs/benchmarks.md).
POLL_SECONDS = 0.25
STOP_SECONDS = 2.0
WAL_HEADER_BYTES = 32  # the log's header, then per page a 24-byte frame header and the page (SQLite file format)
WAL_FRAME_HEADER_BYTES = 24
log = logging.getLogger(__name__)

_registry: dict[str, "WalCheckpointer"] = {}
_registry_lock = threading.Lock()


def checkpoint(connection: sqlite3.Connection) -> tuple[int, int, int]:
    """One PASSIVE checkpoint: (1 if it was blocked, pages in the log, pages of it now in the database file)."""
    return connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()


class WalCheckpointer:
    """The checkpoints of one SQLite file in this process (see the module docstring)."""

    def __init__(self, database_path: str, pages: int):
        self.path = database_path
        self.pages = pages
        self.fallback_pages = pages * FALLBACK_FACTOR
        self._wanted = threading.Event()  # set by stop() and settle(): look now
        self._start_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._commits = 0  # counted by note_commit; unchanged between two looks = no commit came (idle)
        self._looks = 0
        self._started = False  # also True once stopped, so that a late commit does not start the thread again
        self._stopping = False
        self._copied = 0  # pages at the top of the log known to be in the database file already
        self._copied_generation = b""
        self._page_size = 0  # read by the thread's connection when it opens
        self._last_error: str | None = None

    def configure(self, cursor) -> None:
        """Settings of every connection to this file (the pool's "connect" listener calls it)."""
        page_size = cursor.execute("PRAGMA page_size").fetchone()[0]
        cursor.execute(f"PRAGMA wal_autocheckpoint={self.fallback_pages}")
        cursor.execute(f"PRAGMA journal_size_limit={self._log_bytes(page_size, self.pages)}")

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
        self._wanted.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
            if thread.is_alive():
                # It finishes the checkpoint it is in and closes its connection by itself.
                log.warning("the WAL checkpoint thread of %s did not stop within %.0f s", self.path, timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def settle(self, timeout: float = 10.0) -> bool:
        """Have the thread look at the log now, and wait until it has (for tests)."""
        looks = self._looks
        self._wanted.set()
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
        try:
            seen = self._commits
            while not self._stopping:
                self._wanted.wait(POLL_SECONDS)
                self._wanted.clear()
                try:
                    if self._stopping:
                        break
                    idle, seen = self._commits == seen, self._commits
                    connection = connection or self._connect()
                    # _due reads the log's generation before the checkpoint, so no restart after it is missed.
                    if self._due(idle=idle):
                        self._record(checkpoint(connection))
                    self._last_error = None
                except Exception as e:  # SQLITE_BUSY, a file gone or replaced: say so, try again on the next look
                    self._report(e)
                    connection = _close(connection)
                finally:
                    self._looks += 1
        finally:
            _close(connection)

    def _connect(self) -> sqlite3.Connection:
        # mode=rw: a database file that is gone must not be created again, empty, by its checkpointer.
        connection = sqlite3.connect(f"file:{quote(self.path)}?mode=rw", uri=True, timeout=1.0,
                                     isolation_level=None)
        try:
            self._page_size = connection.execute("PRAGMA page_size").fetchone()[0]
        except BaseException:
            connection.close()
            raise
        return connection

    def _due(self, idle: bool) -> bool:
        """More than `pages` pages to copy; or, when no commit came for a while, any left behind by the last
        checkpoint (commits that landed during it), so that the next writer can start the log over."""
        try:
            size = os.stat(self.path + "-wal").st_size
            pages = self._pages_in(size)
            if pages <= self.pages and not (idle and pages > self._copied > 0):
                return False  # the file is cut back to `pages` pages when the log starts over
            generation = self._generation()
        except FileNotFoundError:  # the last connection to close checkpointed and removed the log
            self._copied = 0
            return False
        if generation != self._copied_generation:  # the log was started over since the last checkpoint
            self._copied, self._copied_generation = 0, generation
        return pages - self._copied > self.pages or (idle and pages > self._copied > 0)

    def _pages_in(self, size: int) -> int:
        return max(0, size - WAL_HEADER_BYTES) // (self._page_size + WAL_FRAME_HEADER_BYTES)

    def _generation(self) -> bytes:
        # The log's checkpoint sequence number and first salt (bytes 12-19 of its header, SQLite's file
        # format): a writer changes them when it starts the log over.
        with open(self.path + "-wal", "rb") as wal:
            return wal.read(WAL_HEADER_BYTES)[12:20]

    def _record(self, result) -> None:
        # Until the log is started over, its first `copied` pages need no copying again: the next checkpoint
        # waits for `pages` more, not for the next commit. The log is started over only by a writer that begins
        # after a checkpoint copied everything (and no reader still reads the old pages); then the file is cut
        # back to `pages` pages and the count starts from 0 (_due sees the new generation).
        blocked, in_log, copied = result
        self._copied = max(copied, 0)
        if copied != in_log:
            log.debug("checkpoint of %s copied %d of %d pages (blocked: %d)", self.path, copied, in_log, blocked)

    def _report(self, error: Exception) -> None:
        message = f"{type(error).__name__}: {error}"
        if message != self._last_error:  # once per kind of failure, not every few seconds while it lasts
            log.warning("WAL checkpoint of %s failed (%s); will try again", self.path, message)
        self._last_error = message

    @staticmethod
    def _log_bytes(page_size: int, pages: int) -> int:
        return WAL_HEADER_BYTES + pages * (page_size + WAL_FRAME_HEADER_BYTES)

    def _forget_thread(self) -> None:
        # In a child after fork(): the parent's thread is not here, its locks may have been held at the fork.
        self._wanted = threading.Event()
        self._start_lock = threading.Lock()
        self._thread = None
        self._started = self._stopping
        self._copied, self._copied_generation = 0, b""


def _close(connection) -> None:
    if connection is not None:
        try:
            connection.close()
        except sqlite3.Error as e:
            log.warning("closing the WAL checkpoint connection failed: %s", e)
    return None


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
    """Stop the checkpointer of a database (engine.db.dispose); a later engine of it gets a new one."""
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
