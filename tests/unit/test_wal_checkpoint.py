"""On a SQLite file the WAL checkpoint runs on a thread of its own (engine/store/wal_checkpoint.py), not inside a
command's commit; writers keep SQLite's automatic checkpoint only as a fallback (SEGITO_WAL_CHECKPOINT_PAGES)."""
from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time

import pytest
from sqlalchemy import text

from engine.store import config, db, wal_checkpoint
from engine.store.db import Database

PAGES = 500  # writers' own automatic checkpoint in these tests
COMMITS = 2000


@pytest.fixture
def database(tmp_path, monkeypatch):
    monkeypatch.setenv("SEGITO_WAL_CHECKPOINT_PAGES", str(PAGES))
    path = tmp_path / "wal.db"
    setup = sqlite3.connect(path)
    setup.execute("PRAGMA journal_mode=WAL")
    setup.execute("CREATE TABLE note (id INTEGER PRIMARY KEY, body TEXT)")
    setup.commit()
    setup.close()
    database = Database(f"sqlite:///{path}")
    yield database
    database.close()


def _checkpointer(database) -> wal_checkpoint.WalCheckpointer:
    return wal_checkpoint.for_url(database.engine.url)


def _log_pages(database) -> int:
    """Pages the file <db>-wal has room for (its size, not what it holds now)."""
    try:
        size = os.path.getsize(database.engine.url.database + "-wal")
    except FileNotFoundError:
        return 0
    return max(0, size - 32) // (4096 + 24)  # the log's header, then a 24-byte header per page (SQLite's format)


def _write_notes(database, commits: int, settle: bool) -> int:
    """Commit one small row per unit of work; the largest the log file got."""
    largest = 0
    for i in range(commits):
        with database.unit_of_work() as session:
            session.execute(text("INSERT INTO note (body) VALUES (:body)"), {"body": f"note {i} " + "x" * 200})
        if settle:  # as commands with pauses between them: the thread has looked at the log before the next
            assert _checkpointer(database).settle()
        largest = max(largest, _log_pages(database))
    return largest


def _threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("wal-checkpoint")]


def test_the_thread_keeps_the_log_small(database):
    # With a look between commits, as commands with pauses between them: each checkpoint copies everything, and
    # the next writer starts the log over from its top.
    largest = _write_notes(database, COMMITS, settle=True)
    assert _checkpointer(database).running
    assert largest < 20, largest


def test_without_the_thread_the_log_grows_to_the_fallback(database, monkeypatch):
    monkeypatch.setattr(wal_checkpoint.WalCheckpointer, "_start", lambda self: None)  # as a one-off CLI command
    largest = _write_notes(database, COMMITS, settle=False)
    assert not _checkpointer(database).running
    assert largest >= PAGES * 0.8, largest  # SQLite's own checkpoint waited for 500 pages
    assert largest < PAGES * 2, largest  # ...and then ran: the log is bounded


def test_checkpoints_come_once_per_look_not_once_per_commit(database, monkeypatch):
    calls = []
    real = wal_checkpoint.checkpoint
    monkeypatch.setattr(wal_checkpoint, "checkpoint", lambda connection: calls.append(1) or real(connection))
    monkeypatch.setattr(wal_checkpoint, "POLL_SECONDS", 0.01)  # at most 100 looks a second
    started = time.monotonic()
    _write_notes(database, COMMITS, settle=False)  # back to back
    looks_possible = (time.monotonic() - started) / 0.01 + 2
    assert _checkpointer(database).settle()
    assert 0 < len(calls) <= looks_possible, (len(calls), looks_possible)
    assert len(calls) < COMMITS / 2, len(calls)


def test_writer_and_reader_connections_carry_the_fallback(database):
    for_reading = db.get_engine(database.url, for_writing=False)
    for engine in (database.engine, for_reading):
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == PAGES


def test_no_checkpointer_for_memory_databases_or_postgresql():
    from sqlalchemy.engine import make_url

    for url in ("sqlite://", "sqlite:///:memory:", "sqlite:///file:m?mode=memory&uri=true",
                "postgresql+psycopg://u@127.0.0.1/db"):
        assert wal_checkpoint.for_url(make_url(url)) is None, url
    before = _threads()
    memory = Database("sqlite://")
    with memory.unit_of_work() as session:
        session.execute(text("SELECT 1"))
    db.get_engine("postgresql+psycopg://u@127.0.0.1/no_such_db")  # not connected: no engine event may start one
    assert _threads() == before
    memory.close()


def test_the_thread_starts_on_the_first_commit_and_close_stops_it(database):
    checkpointer = _checkpointer(database)
    assert not checkpointer.running
    _write_notes(database, 1, settle=False)
    assert checkpointer.running
    assert not checkpointer._look_now.is_set()  # a commit is counted, it does not wake the thread (POLL_SECONDS)
    thread = checkpointer._thread
    database.close()
    assert not thread.is_alive()
    database.close()  # a second close is harmless
    checkpointer.stop()
    checkpointer.note_commit()  # a late commit does not start it again
    assert not checkpointer.running


def test_dispose_all_stops_every_thread(database):
    _write_notes(database, 1, settle=False)
    thread = _checkpointer(database)._thread
    db.dispose_all()
    assert not thread.is_alive()


def test_a_failed_checkpoint_is_logged_and_the_thread_goes_on(database, monkeypatch, caplog):
    real = wal_checkpoint.checkpoint
    failed, ran_again = threading.Event(), threading.Event()

    def flaky(connection):
        if not failed.is_set():
            failed.set()
            raise sqlite3.OperationalError("database is locked")
        ran_again.set()
        return real(connection)

    monkeypatch.setattr(wal_checkpoint, "checkpoint", flaky)
    caplog.set_level(logging.WARNING, logger="engine.store.wal_checkpoint")
    for _ in range(COMMITS):
        _write_notes(database, 1, settle=True)
        if ran_again.is_set():
            break
    assert failed.is_set() and ran_again.is_set()
    assert _checkpointer(database).running
    assert any("database is locked" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("value", ["0", "-5", "many", "1.5"])
def test_a_bad_threshold_is_refused_by_name(monkeypatch, value):
    monkeypatch.setenv("SEGITO_WAL_CHECKPOINT_PAGES", value)
    with pytest.raises(ValueError, match="SEGITO_WAL_CHECKPOINT_PAGES"):
        config.wal_checkpoint_pages()


def test_the_threshold_defaults_to_sqlites(monkeypatch):
    monkeypatch.delenv("SEGITO_WAL_CHECKPOINT_PAGES", raising=False)
    assert config.wal_checkpoint_pages() == 10_000
