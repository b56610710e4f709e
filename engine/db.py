"""Database access: one engine per URL, and the unit of work that makes one command one transaction."""
from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from . import config

_engines: dict[str, Engine] = {}
_lock = threading.Lock()


def _configure_sqlite(engine: Engine, for_writing: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        # Let SQLAlchemy, not pysqlite, decide when a transaction starts, so BEGIN IMMEDIATE below works.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=10000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        # Writers take the write lock up front, so two writers queue instead of failing half-way with
        # SQLITE_BUSY; readers use a deferred BEGIN and, under WAL, never wait for writers.
        conn.exec_driver_sql("BEGIN IMMEDIATE" if for_writing else "BEGIN")


def get_engine(url: str | None = None, for_writing: bool = True) -> Engine:
    url = url or config.database_url()
    sqlite = url.startswith("sqlite")
    key = f"{url}|{'w' if for_writing or not sqlite else 'r'}"
    with _lock:
        engine = _engines.get(key)
        if engine is None:
            if sqlite:
                engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 10})
                _configure_sqlite(engine, for_writing)
            else:
                engine = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
            _engines[key] = engine
        return engine


def dispose_all() -> None:
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


def dispose(url: str) -> None:
    with _lock:
        for key in [k for k in _engines if k.rsplit("|", 1)[0] == url]:
            _engines.pop(key).dispose()


def is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


class Database:
    """What the services need of the database: a session factory bound to one URL."""

    def __init__(self, url: str | None = None):
        self.engine = get_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False, autoflush=False)
        self._read_sessions = sessionmaker(get_engine(url, for_writing=False), expire_on_commit=False)

    def close(self) -> None:
        dispose(self.url)

    @property
    def url(self) -> str:
        return self.engine.url.render_as_string(hide_password=False)

    @contextlib.contextmanager
    def unit_of_work(self) -> Iterator[Session]:
        """One command: everything written inside commits together, or nothing does."""
        session = self._sessions()
        try:
            with session.begin():
                yield session
        finally:
            session.close()

    @contextlib.contextmanager
    def reading(self) -> Iterator[Session]:
        session = self._read_sessions()
        try:
            yield session
        finally:
            # close() ends the transaction but, unlike rollback(), leaves loaded objects readable.
            session.close()
