"""Writers on a SQLite file queue on one lock shared by every process (engine/store/writer_lock.py), not in SQLite's
busy handler; readers never take it."""
from __future__ import annotations

import fcntl  # engine/store/writer_lock.py uses flock on POSIX; the tests run there
import os
import threading
import time

import pytest
from sqlalchemy import func, select

from engine.people import users
from engine.store import clock, writer_lock
from engine.store.models import User


def _lock_path(runtime) -> str:
    return os.path.abspath(runtime.db.engine.url.database) + "-writer.lock"


def _create_user(runtime, name: str) -> None:
    with runtime.db.unit_of_work() as session:
        users.create_user(session, name, name.title(), [users.CASEWORKER], None, "test", clock.now(),
                          password_hash="x")


# PostgreSQL locks rows, not the whole database: there is no writer lock to share there.
SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@SQLITE_ONLY
def test_a_writer_waits_while_another_process_holds_the_lock_and_starts_when_it_is_released(runtime):
    _create_user(runtime, "first")  # the lock file exists once a writer has run
    path = _lock_path(runtime)
    assert os.path.exists(path)
    other = os.open(path, os.O_RDWR)  # another open file: to flock() it is another process
    fcntl.flock(other, fcntl.LOCK_EX)
    done = threading.Event()
    writer = threading.Thread(target=lambda: (_create_user(runtime, "second"), done.set()))
    try:
        writer.start()
        # SQLite itself is free (no transaction is open), so without the shared lock the write finishes at once.
        assert not done.wait(0.3), "a writer went ahead while another process held the writer lock"
        with runtime.db.reading() as session:  # readers do not queue behind writers
            assert session.execute(select(func.count()).select_from(User)
                                   .where(User.username == "second")).scalar() == 0
    finally:
        fcntl.flock(other, fcntl.LOCK_UN)
        os.close(other)
    writer.join(10)
    assert done.is_set()


@SQLITE_ONLY
def test_a_writer_goes_on_without_the_lock_after_waiting_as_long_as_sqlite_would(runtime, monkeypatch):
    """A stuck holder slows writers down; it never stops them (SQLite's own lock decides then)."""
    _create_user(runtime, "first")
    monkeypatch.setattr(writer_lock, "WAIT_SECONDS", 0.3)
    other = os.open(_lock_path(runtime), os.O_RDWR)
    fcntl.flock(other, fcntl.LOCK_EX)
    try:
        _create_user(runtime, "second")  # returns, although the lock is still held
        with runtime.db.reading() as session:
            assert session.execute(select(func.count()).select_from(User)
                                   .where(User.username == "second")).scalar() == 1
        _create_user(runtime, "third")  # and the lock of this process is free again
    finally:
        fcntl.flock(other, fcntl.LOCK_UN)
        os.close(other)


@SQLITE_ONLY
def test_a_waiting_writer_sleeps_in_the_kernel_instead_of_retrying(runtime, monkeypatch):
    """While another process writes, a waiting writer makes a few flock calls, not one a millisecond, and starts as
    soon as the other lets go."""
    _create_user(runtime, "first")
    other = os.open(_lock_path(runtime), os.O_RDWR)
    fcntl.flock(other, fcntl.LOCK_EX)
    calls = []
    real_flock = fcntl.flock
    monkeypatch.setattr(writer_lock.fcntl, "flock", lambda fd, op: (calls.append(op), real_flock(fd, op))[1])
    done = threading.Event()
    writer = threading.Thread(target=lambda: (_create_user(runtime, "second"), done.set()))
    try:
        writer.start()
        assert not done.wait(0.3)
    finally:
        real_flock(other, fcntl.LOCK_UN)
        released = time.monotonic()
        os.close(other)
    assert done.wait(5)
    assert time.monotonic() - released < 0.25  # woken by the release, not by a timer
    writer.join(5)
    assert len(calls) <= 3, calls  # one try, one blocking wait, the release (trying every ms would be ~300)


@SQLITE_ONLY
def test_a_file_lock_granted_after_its_writer_gave_up_is_let_go(runtime, monkeypatch):
    _create_user(runtime, "first")
    monkeypatch.setattr(writer_lock, "WAIT_SECONDS", 0.2)
    other = os.open(_lock_path(runtime), os.O_RDWR)
    fcntl.flock(other, fcntl.LOCK_EX)
    try:
        _create_user(runtime, "second")  # gave up waiting; the waiter thread still queues for the lock
    finally:
        fcntl.flock(other, fcntl.LOCK_UN)
    time.sleep(0.2)  # the waiter thread is woken and takes the lock
    # It finds nobody waiting for it and lets go, so another process can take it.
    deadline = time.monotonic() + 5
    while True:
        try:
            fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            assert time.monotonic() < deadline, "the writer lock stayed taken after its writer gave up"
            time.sleep(0.01)
    fcntl.flock(other, fcntl.LOCK_UN)
    os.close(other)
    _create_user(runtime, "third")  # and this process's next writer takes it as usual


@SQLITE_ONLY
def test_a_failed_wait_lets_the_writer_go_on_at_once_and_the_next_waits_again(runtime, monkeypatch, caplog):
    _create_user(runtime, "first")
    other = os.open(_lock_path(runtime), os.O_RDWR)
    fcntl.flock(other, fcntl.LOCK_EX)
    real_flock = fcntl.flock

    def failing_flock(fd, op):
        if op == fcntl.LOCK_EX:  # the waiter's blocking wait
            raise OSError(5, "Input/output error")
        return real_flock(fd, op)

    monkeypatch.setattr(writer_lock.fcntl, "flock", failing_flock)
    try:
        began = time.monotonic()
        _create_user(runtime, "second")  # SQLite itself is free: it writes without the file lock
        assert time.monotonic() - began < 2, "the writer waited although its waiter had failed"
        assert "waiting for the writer lock" in caplog.text
        monkeypatch.setattr(writer_lock.fcntl, "flock", real_flock)
        done = threading.Event()
        writer = threading.Thread(target=lambda: (_create_user(runtime, "third"), done.set()))
        writer.start()
        assert not done.wait(0.3), "a new waiter should queue behind the other process again"
    finally:
        real_flock(other, fcntl.LOCK_UN)
        os.close(other)
    writer.join(10)
    assert done.is_set()


def test_only_sqlite_files_have_a_writer_lock(tmp_path):
    from sqlalchemy.engine import make_url

    for url in ("sqlite://", "sqlite:///:memory:", "postgresql://u@h/db"):
        assert not isinstance(writer_lock.for_url(make_url(url)), writer_lock.WriterLock), url
    lock = writer_lock.for_url(make_url(f"sqlite:///{tmp_path}/a.db"))
    assert lock.path == f"{tmp_path}/a.db-writer.lock"
    assert writer_lock.for_url(make_url(f"sqlite:///{tmp_path}/a.db")) is lock  # one per file in a process
    with lock, lock:  # re-entrant within a thread
        pass


def _child_lock_is_new(database, before, connection) -> None:
    connection.send(database._writer_lock() is not before and database._writer_lock()._fd is None)
    connection.close()


def test_a_forked_child_takes_a_writer_lock_of_its_own(tmp_path):
    import multiprocessing

    from engine.store.db import Database

    database = Database(f"sqlite:///{tmp_path / 'fork.db'}")
    try:
        with database.unit_of_work():
            pass
        before = database._writer_lock()
        assert before._fd is not None
        parent_end, child_end = multiprocessing.get_context("fork").Pipe()
        child = multiprocessing.get_context("fork").Process(target=_child_lock_is_new,
                                                            args=(database, before, child_end))
        child.start()
        assert parent_end.recv() is True
        child.join(10)
        assert database._writer_lock() is before  # the parent keeps its own
    finally:
        database.close()
