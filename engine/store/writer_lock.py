"""One writer at a time on a SQLite file, queued so that the next one starts as soon as the last one commits.

SQLite lets one transaction write at a time. The others wait in its busy handler, which sleeps and retries in
growing steps (1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, then 100 ms): a writer that could have started 1 ms after
the last one committed may sleep 50 ms more, which falls on the page that happened to write at the same time as
another. So on a SQLite file a unit of work first takes this lock: a thread lock within the process (the
next thread is woken at once), then ``flock`` on a file beside the database, shared by every process that serves
it. While another process holds the file lock, this process waits for it in the kernel (a blocking ``flock`` on a
thread of the lock's own, which the kernel wakes the moment the holder lets go) rather than trying again every
millisecond: retrying cost every waiting process a thousand wake-ups a second, each needing the interpreter's lock
from the threads serving requests, and still started the next writer up to a millisecond late
(docs/benchmarks.md, "The server's CPU per request"). Readers never take it (under WAL they never wait for
writers). SQLite's own lock and busy handler stay underneath, for writers that do not take this lock (another
program, a migration) and for a writer that waited ``WAIT_SECONDS`` for this one. A process that dies releases
its ``flock``.
"""
from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
import time

# A platform check rather than try/except ImportError, so type checkers know fcntl is the module where it exists.
if sys.platform == "win32":  # one process serves (waitress), and the thread lock is enough
    fcntl = None
else:
    import fcntl

WAIT_SECONDS = 10.0  # as SQLite's busy timeout (engine/store/db.py)
log = logging.getLogger(__name__)

_registry: dict[str, WriterLock] = {}
_registry_lock = threading.Lock()


class WriterLock:
    """Re-entrant within a thread (an inner unit of work would be stuck on SQLite's lock anyway, not here).

    Threads of one process queue on a thread lock, which wakes the next at once; the thread holding it then takes
    the file lock, at once if no other process holds it, else through the waiter thread, which blocks in ``flock``
    and hands the lock over when the kernel grants it. Neither wait is longer than ``WAIT_SECONDS``: after that the
    writer goes on without this lock and SQLite's own lock decides, as it did before, so a stuck holder can slow
    writers down but never stop them (a file lock granted after its writer gave up is released at once)."""

    def __init__(self, database_path: str):
        self.path = database_path + "-writer.lock"
        self._threads = threading.Lock()
        self._local = threading.local()  # this thread's depth and which locks it got
        self._fd: int | None = None
        # Between the thread holding ``_threads`` and the waiter thread: ``_wanted`` the holder waits for the file
        # lock, ``_pending`` the waiter was asked and has not finished (it is in ``flock`` or handing over),
        # ``_granted`` the waiter got the file lock for the holder.
        self._gate = threading.Condition(threading.Lock())
        self._wanted = self._pending = self._granted = False
        self._waiter: threading.Thread | None = None

    def _file(self) -> int:
        # Opened by each process for itself: a descriptor inherited across fork() shares its flock with the
        # parent and the siblings, and would exclude nobody (a child forgets it: _forget_after_fork).
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        return self._fd

    def _lock_file(self, deadline: float) -> bool:
        fd = self._file()
        with self._gate:
            if not self._pending:
                # While the waiter is in flock() on the same descriptor, a lock taken here would be its too, and
                # it would release it on finding nobody waiting: so only when it is not.
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    return True
                except BlockingIOError:
                    pass
            if self._waiter is None:
                self._waiter = threading.Thread(target=self._wait_for_file, name=f"writer lock {self.path}",
                                                daemon=True)
                self._waiter.start()
            self._wanted = self._pending = True
            self._gate.notify_all()
            while not self._granted:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._waiter is None:  # waited long enough, or the waiter thread failed
                    self._wanted = False  # the waiter releases the lock when it gets it
                    return False
                self._gate.wait(remaining)
            self._granted = False
            return True

    def _wait_for_file(self) -> None:
        """The waiter thread: takes the file lock in a blocking ``flock`` for whichever writer asks."""
        fd = self._file()
        while True:
            with self._gate:
                while not self._pending:
                    self._gate.wait()
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)  # the interpreter's lock is released while the kernel queues it
            except OSError:
                # The writer waiting goes on without the file lock (SQLite's own lock decides, as after
                # WAIT_SECONDS), and the next one that needs a waiter starts a new thread.
                log.exception("waiting for the writer lock of %s failed", self.path)
                with self._gate:
                    self._wanted = self._pending = False
                    self._waiter = None
                    self._gate.notify_all()
                return
            with self._gate:
                if self._wanted:
                    self._wanted, self._granted = False, True
                else:  # the writer gave up waiting (WAIT_SECONDS)
                    fcntl.flock(fd, fcntl.LOCK_UN)
                self._pending = False
                self._gate.notify_all()

    def __enter__(self) -> WriterLock:
        if getattr(self._local, "depth", 0):
            self._local.depth += 1
            return self
        deadline = time.monotonic() + WAIT_SECONDS
        got_thread = self._threads.acquire(timeout=WAIT_SECONDS)
        try:
            got_file = got_thread and fcntl is not None and self._lock_file(deadline)
        except BaseException:
            self._threads.release()
            raise
        if not got_thread or (fcntl is not None and not got_file):
            log.warning("waited %.1f s for the writer lock of %s; going on without it",
                        WAIT_SECONDS - (deadline - time.monotonic()), self.path)
        self._local.depth, self._local.got = 1, (got_thread, got_file)
        return self

    def __exit__(self, *exc) -> None:
        self._local.depth -= 1
        if self._local.depth:
            return
        got_thread, got_file = self._local.got
        try:
            if got_file:
                fcntl.flock(self._file(), fcntl.LOCK_UN)
        finally:
            if got_thread:
                self._threads.release()


generation = 0  # advanced in a child after fork(): a lock kept from before it (Database keeps one) is stale


def _forget_after_fork() -> None:
    # A child must not inherit a thread lock some other thread of the parent held at the fork, nor use the
    # parent's descriptor (see WriterLock._file), nor count on the parent's waiter thread.
    global _registry_lock, generation
    for lock in _registry.values():
        lock._fd = None
        lock._waiter = None  # threads do not cross a fork: the child's would be started anew
        lock._gate = threading.Condition(threading.Lock())
        lock._wanted = lock._pending = lock._granted = False
    _registry.clear()
    _registry_lock = threading.Lock()
    generation += 1


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_after_fork)


def for_url(url) -> contextlib.AbstractContextManager:
    """The writer lock of a SQLite file database (one per file and process); a no-op for anything else."""
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:" \
            or url.database.startswith("file:") or (url.query or {}).get("mode") == "memory":
        return contextlib.nullcontext()
    path = os.path.abspath(url.database)
    with _registry_lock:
        lock = _registry.get(path)
        if lock is None:
            lock = _registry[path] = WriterLock(path)
        return lock
