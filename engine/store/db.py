"""Database access: one engine per URL, and the unit of work that makes one command one transaction."""
from __future__ import annotations

import contextlib
import logging
import operator
import select
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Literal

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, CursorResult, Engine
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

from . import config, sqlite_file, wal_checkpoint, writer_lock

if TYPE_CHECKING:
    from .command_session import AnySession, CommandSession

log = logging.getLogger(__name__)
_engines: dict[str, Engine] = {}
_lock = threading.Lock()


def _configure_sqlite(engine: Engine, for_writing: bool) -> None:
    checkpointer = wal_checkpoint.for_url(engine.url)  # None for a memory database

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        # Let SQLAlchemy, not pysqlite, decide when a transaction starts, so BEGIN IMMEDIATE below works.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=10000")
        # Deleted and overwritten content zeroed, in the page and in pages freed, so an erased or rectified value
        # does not stay readable in free space until a VACUUM (docs/operations.md, "A person's request").
        cur.execute("PRAGMA secure_delete=ON")
        if checkpointer is not None:
            checkpointer.configure(cur)
        cur.close()

    if checkpointer is not None and for_writing:
        # The WAL checkpoint runs on a thread of its own, not inside the commit of some command.
        event.listen(engine, "checkin", checkpointer.note_commit)

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        # Writers take the write lock up front, so two writers queue instead of failing half-way with
        # SQLITE_BUSY; readers use a deferred BEGIN and, under WAL, never wait for writers.
        _on_cursor(conn, "BEGIN IMMEDIATE" if for_writing else "BEGIN", ())


def _check_on_checkout(engine: Engine) -> None:
    """A pooled PostgreSQL connection that the server has dropped (a restart, a crash, an idle timeout) is replaced
    when it is taken from the pool, without a round trip for the healthy ones.

    ``pool_pre_ping`` sent an empty query on every checkout: a round trip per request and per command (on this
    machine about 0.04 ms of CPU and one more wake-up of a server process; docs/benchmarks.md, "API throughput").
    Instead the connection's socket is polled without waiting: an idle connection has nothing to read, so
    anything readable — the server's goodbye or the end of the stream once it closed — or a connection the driver
    already knows is broken gets the real ping, and one that fails it is replaced (the pool retries the checkout
    with a new connection). A connection that dies while in use fails its statement (503, web/app.py) and is
    invalidated, for ``Prepared``'s statements too (``_on_cursor``)."""
    dialect = engine.dialect

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_conn, _record, _proxy):
        if not _may_be_gone(dbapi_conn):
            return
        try:
            dialect.do_ping(dbapi_conn)
        except dialect.loaded_dbapi.Error as e:
            raise DisconnectionError(f"the database dropped this pooled connection: {e}") from e


def _may_be_gone(dbapi_conn) -> bool:
    """Whether an idle DBAPI connection may have been dropped by the server (then it gets a real ping); True when
    it cannot be told without one (a driver whose socket is not at hand)."""
    if getattr(dbapi_conn, "closed", False) or getattr(dbapi_conn, "broken", False):
        return True
    try:
        fd = dbapi_conn.fileno()
    except Exception:  # noqa: BLE001 - any driver without a socket to poll: ping, as pool_pre_ping did
        return True
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLPRI | select.POLLERR | select.POLLHUP)
    return bool(poller.poll(0))


def get_engine(url: str | None = None, for_writing: bool = True) -> Engine:
    url = url or config.database_url()
    sqlite = url.startswith("sqlite")
    key = f"{url}|{'w' if for_writing or not sqlite else 'r'}"
    with _lock:
        engine = _engines.get(key)
        if engine is None:
            if sqlite:
                engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 10})
                sqlite_file.prepare(engine.url)  # created owner-only, before SQLite creates it world-readable
                _configure_sqlite(engine, for_writing)
            else:
                engine = create_engine(url, pool_size=10, max_overflow=20)
                _check_on_checkout(engine)
            _engines[key] = engine
        return engine


def dispose_all() -> None:
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()
    wal_checkpoint.stop_all()


def dispose(url: str) -> None:
    with _lock:
        for key in [k for k in _engines if k.rsplit("|", 1)[0] == url]:
            _engines.pop(key).dispose()
    wal_checkpoint.stop(url)


class Prepared:
    """A fixed Core statement (INSERT, UPDATE, or a one-row SELECT) run on a DBAPI cursor of the command's own
    connection.

    SQLAlchemy's per-statement machinery (cache key, execution context, result object) costs several times
    what SQLite takes to run a one-row write, and a command runs the same few statements every time (on
    PostgreSQL with psycopg it is about twice the driver's own CPU time per statement).
    So, on SQLite and on PostgreSQL through psycopg, each is compiled once and run on the same DBAPI connection,
    inside the same transaction, with the column types' own bind and result processors (the values stored and
    read are SQLAlchemy's); ``before_cursor_execute``/``after_cursor_execute`` listeners still see every
    statement, and database errors are raised as SQLAlchemy's. Other drivers, and a statement that needs column
    defaults or RETURNING (and, on PostgreSQL, an INSERT whose new key is wanted), go through
    ``Connection.execute``. ``execute`` returns the DBAPI rowcount: for an UPDATE, the rows it changed (the
    guards of the commands read it).
    """

    def __init__(self, statement) -> None:
        self.statement = statement
        # By driver and parameter names: (sql, values, fixed[, row class, result processors]) for the DBAPI
        # cursor, or False where SQLAlchemy's own execution is needed.
        self._compiled: dict[tuple, tuple | Literal[False]] = {}

    def execute(self, connection: Connection, params: dict | list[dict]) -> int:
        if isinstance(params, list) and len(params) == 1:
            params = params[0]  # one row: a plain execute, as SQLAlchemy would send it
        many = isinstance(params, list)
        first = params[0] if many else params
        dialect = connection.dialect
        if _direct(dialect) is None:
            return connection.execute(self.statement, params).rowcount
        key = (dialect.driver, *first)
        plan = self._compiled.get(key)
        if plan is None:
            plan = self._compiled[key] = self._compile(dialect, tuple(first))
        if plan is False:
            return connection.execute(self.statement, params).rowcount
        sql, values, fixed = plan
        batch = params if isinstance(params, list) else (params,)
        rows = [values({**fixed, **row} if fixed else row) for row in batch]
        return _on_cursor(connection, sql, rows if many else rows[0], many)

    def insert(self, connection: Connection, params: dict) -> int:
        """Run an INSERT of one row; the new row's primary key (SQLite's rowid; on PostgreSQL through psycopg the
        RETURNING of its key that SQLAlchemy compiles into a one-row INSERT; else what SQLAlchemy returns)."""
        dialect = connection.dialect
        style = _direct(dialect)
        if style is None:
            return _inserted_key(connection.execute(self.statement, params))
        key = (dialect.driver, "insert", *params)
        plan = self._compiled.get(key)
        if plan is None:
            plan = self._compiled[key] = self._compile(dialect, tuple(params), returns_key=style == "pyformat")
        if plan is False:
            return _inserted_key(connection.execute(self.statement, params))
        sql, values, fixed = plan
        args = values({**fixed, **params} if fixed else params)
        if style == "qmark":
            return _on_cursor(connection, sql, args, last_id=True)
        return _on_cursor(connection, sql, args, fetch="one")[0]

    def insert_all(self, connection: Connection, rows: list[dict]) -> list[int]:
        """Run an INSERT of each row; the new rows' primary keys, in the rows' order. One row (the common case: a
        step followed by one step) is ``insert``; several on SQLite are one ``insert`` each (no round trip to
        save), elsewhere one statement whose RETURNING SQLAlchemy sorts by the rows' order."""
        if len(rows) == 1 or connection.dialect.name == "sqlite":
            return [self.insert(connection, row) for row in rows]
        if not rows:
            return []
        key_column = next(iter(self.statement.table.primary_key.columns))
        returning = self.statement.returning(key_column, sort_by_parameter_order=True)
        return [r[0] for r in connection.execute(returning, rows)]

    def first(self, connection: Connection, params: dict):
        """The first row of a SELECT (a tuple whose columns are also attributes, by name: the first column of
        that name, as in SQLAlchemy's rows), or None."""
        return self._select(connection, params, "one")

    def all(self, connection: Connection, params: dict) -> list:
        """Every row of a SELECT, as ``first`` gives one."""
        return self._select(connection, params, "all")

    def _select(self, connection: Connection, params: dict, fetch: str):
        dialect = connection.dialect
        key = (dialect.driver, "select", *params)
        plan = self._compiled.get(key) if _direct(dialect) is not None else False
        if plan is None:
            plan = self._compiled[key] = self._compile(dialect, tuple(params), select=True)
        if plan is False:
            result = connection.execute(self.statement, params)
            return result.first() if fetch == "one" else result.all()
        sql, values, fixed, row_class, results = plan
        raw = _on_cursor(connection, sql, values({**fixed, **params} if fixed else params), fetch=fetch)
        if fetch == "all":
            return [row_class(p(v) if p else v for p, v in zip(results, r)) for r in raw]
        if raw is None:
            return None
        return row_class(p(v) if p else v for p, v in zip(results, raw))

    def _compile(self, dialect, keys: tuple, select: bool = False, returns_key: bool = False) -> tuple | Literal[False]:
        compiled = self.statement.compile(dialect=dialect, column_keys=None if select else list(keys))
        named = _direct(dialect) == "pyformat"
        returning = getattr(compiled, "effective_returning", None)
        if returns_key and returning and list(returning) == list(self.statement.table.primary_key.columns):
            returning = None  # a one-row INSERT returning its new key: read with fetch="one" (``insert``)
        if (compiled.insert_prefetch or compiled.update_prefetch or getattr(compiled, "postfetch", None)
                or (not select and returning)
                or (compiled.positiontup is None and not named) or "POSTCOMPILE" in compiled.string
                or (named and getattr(compiled, "escaped_bind_names", None))):
            return False  # column defaults, RETURNING, expanding IN: SQLAlchemy's execution context handles them
        names: list[str] = list(dict.fromkeys(compiled.bind_names.values())) if named else \
            list(compiled.positiontup or ())
        binds = compiled.binds
        fixed = {n: binds[n].effective_value for n in names if n not in keys}
        if any(binds[n].required for n in fixed):
            return False  # leave the "missing parameter" error to SQLAlchemy
        processors = [binds[n].type.dialect_impl(dialect).bind_processor(dialect) for n in names]
        values = _named_values_of(names, processors) if named else _values_of(names, processors)
        if not select:
            return compiled.string, values, fixed
        columns = list(self.statement.selected_columns)
        first_of: dict[str, int] = {}
        for i, column in enumerate(columns):
            first_of.setdefault(column.key, i)
        column_keys = [c.key for c in columns]
        row_class = type("Row", (tuple,), {"__slots__": (), **{
            name: property(operator.itemgetter(i)) for name, i in first_of.items()},
            "_mapping": property(lambda row: dict(zip(column_keys, row)))})
        results = [c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns]
        return compiled.string, values, fixed, row_class, results


def _inserted_key(result: CursorResult) -> int:
    key = result.inserted_primary_key
    if key is None:  # None only when no row was inserted
        raise TypeError("not an INSERT of one row: no primary key was inserted")
    return key[0]


def _direct(dialect) -> str | None:
    """The DBAPI parameter style ``Prepared`` runs statements in on this dialect, or None: SQLAlchemy runs them."""
    if dialect.name == "sqlite" and dialect.paramstyle == "qmark":
        return "qmark"
    if dialect.name == "postgresql" and dialect.driver == "psycopg" and dialect.paramstyle == "pyformat":
        return "pyformat"
    return None


def _named_values_of(names: list[str], processors: list):
    """A function from a parameter dict to the statement's named parameters, each through its type's bind
    processor (a missing parameter raises KeyError, as SQLAlchemy would refuse it)."""
    plan = list(zip(names, processors))

    def values(row):
        return {n: p(row[n]) if p is not None else row[n] for n, p in plan}
    return values


def _values_of(names: list[str], processors: list):
    """A function from a parameter dict to the values of the statement's "?" in order, each through its type's
    bind processor (a missing parameter raises KeyError, as SQLAlchemy would refuse it)."""
    pick: Callable[..., tuple]
    if len(names) > 1:
        pick = operator.itemgetter(*names)
    else:  # itemgetter of one name returns the value, not a tuple
        pick = (lambda row, n=names[0]: (row[n],)) if names else (lambda row: ())
    processed = [(i, p) for i, p in enumerate(processors) if p is not None]
    if not processed:
        return pick

    def values(row):
        out = list(pick(row))
        for i, p in processed:
            out[i] = p(out[i])
        return out
    return values


_CURSOR = "segito_cursor"


def _on_cursor(connection: Connection, sql: str, args, many: bool = False, fetch: str | None = None,
               last_id: bool = False):
    """Run one statement on a DBAPI cursor of the connection: the rows written, with ``fetch`` "one" the first row
    ("all": every row), with ``last_id`` the rowid of the row inserted.
    Cursor-execute listeners see it as they see SQLAlchemy's own; a database error is raised as SQLAlchemy's."""
    dispatch = connection.dispatch
    dbapi = connection.dialect.loaded_dbapi
    # One cursor per pooled DBAPI connection, reused by every statement run here: making and closing one per
    # statement cost as much as a small statement itself. The pool forgets it with the connection (``info``).
    pooled = connection.connection
    cursor = pooled.info.get(_CURSOR)
    if cursor is None:
        raw = pooled.dbapi_connection
        if raw is None:  # only a pooled connection that was closed or invalidated has none
            raise RuntimeError("the database connection was closed in the middle of a command")
        cursor = pooled.info[_CURSOR] = raw.cursor()
    if dispatch.before_cursor_execute:
        dispatch.before_cursor_execute(connection, cursor, sql, args, None, many)
    try:
        if many:
            cursor.executemany(sql, args)
        else:
            cursor.execute(sql, args)
        if fetch == "all":
            result = cursor.fetchall()
        elif fetch:
            result = cursor.fetchone()
            cursor.fetchall()  # a SELECT left unfinished would hold its statement open until the next one
        else:
            result = cursor.lastrowid if last_id else cursor.rowcount
    except dbapi.Error as e:
        # As SQLAlchemy's own execution does: a connection the database dropped is invalidated, so it goes back to
        # the pool closed and the next checkout opens a new one (there is no pre-ping on checkout to catch it).
        gone = connection.dialect.is_disconnect(e, pooled.dbapi_connection, cursor)
        error = DBAPIError.instance(sql, args, e, dbapi.Error, dialect=connection.dialect, ismulti=many,
                                    connection_invalidated=gone)
        if gone:
            pooled.info.pop(_CURSOR, None)
            connection.invalidate(error)
        raise error from e
    if dispatch.after_cursor_execute:
        dispatch.after_cursor_execute(connection, cursor, sql, args, None, many)
    return result


def is_postgres(session: AnySession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


class Database:
    """What the services need of the database: a session factory bound to one URL."""

    def __init__(self, url: str | None = None):
        self.engine = get_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False, autoflush=False)
        self._read_engine = get_engine(url, for_writing=False)
        self._read_sessions = sessionmaker(self._read_engine, expire_on_commit=False)

    def close(self) -> None:
        dispose(self.url)

    def _writer_lock(self):
        # Looked up once per process: for_url parses the path every time, and every command asks.
        kept = self.__dict__.get("_kept_writer_lock")
        if kept is None or kept[0] != writer_lock.generation:
            kept = self._kept_writer_lock = (writer_lock.generation, writer_lock.for_url(self.engine.url))
        return kept[1]

    @property
    def url(self) -> str:
        return self.engine.url.render_as_string(hide_password=False)

    @contextlib.contextmanager
    def unit_of_work(self) -> Iterator[Session]:
        """One command: everything written inside commits together, or nothing does."""
        session = self._sessions()
        try:
            # On a SQLite file, writers queue on a lock that wakes the next at once (engine/store/writer_lock.py).
            with self._writer_lock(), session.begin():
                yield session
        finally:
            session.close()

    def scrub_log(self) -> bool:
        """After personal data was erased or rectified: on a SQLite file, the write-ahead log copied into the
        database and cut to nothing (``wal_checkpoint(TRUNCATE)``), so the log's older frames, which still hold the
        pages as they were before, are gone too; the database's own pages were zeroed when the value was deleted
        (``secure_delete``). False when a reader still held the log (the log stays until the next checkpoint that
        finds none) or on PostgreSQL, whose dead row versions a VACUUM removes (docs/operations.md)."""
        if self.engine.dialect.name != "sqlite" or sqlite_file.database_path(self.engine.url) is None:
            return False
        with self._writer_lock(), self.engine.connect() as connection:
            raw = connection.connection.dbapi_connection
            if raw is None:
                return False
            # Waits for readers as long as busy_timeout allows (set on every connection, above).
            busy, _log, _copied = raw.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        if busy:
            log.warning("The write-ahead log of %s could not be cut after erasing or rectifying personal data: a "
                        "read held it; its older frames stay until later writes overwrite them", self.engine.url)
        return not busy

    @contextlib.contextmanager
    def command(self) -> Iterator[CommandSession]:
        """A unit of work for the hot commands (complete a task, start a case): the same one transaction, on a
        connection taken directly, with a Session made only if the command needs the ORM
        (engine/store/command_session.py).
        """
        from .command_session import CommandSession

        with self._writer_lock(), self.engine.connect() as connection:
            session = CommandSession(connection)
            try:
                with connection.begin():  # commits when the block ends normally, rolls back on an error
                    yield session
                    session.flush_orm()
            finally:
                session.close()

    @contextlib.contextmanager
    def read_connection(self) -> Iterator[Connection]:
        """A read-only transaction on a plain connection, no ORM Session: for the reads every request makes (an
        API token, the inbox), where making and closing a Session costs more than the indexed reads themselves.

        On PostgreSQL the statements run without BEGIN and ROLLBACK (autocommit): at READ COMMITTED, the
        isolation used, each statement of a transaction sees its own snapshot anyway, so the transaction gave
        these reads nothing but two more round trips. On SQLite the transaction is kept: there it is one
        snapshot for all the statements, and costs no round trip."""
        with self._read_engine.connect() as connection:
            if connection.dialect.name == "postgresql":
                connection.execution_options(isolation_level="AUTOCOMMIT")
            connection.begin()
            yield connection  # closing the connection rolls the transaction back, as ``reading`` ends its own

    @contextlib.contextmanager
    def reading(self) -> Iterator[Session]:
        session = self._read_sessions()
        try:
            yield session
        finally:
            # close() ends the transaction but, unlike rollback(), leaves loaded objects readable.
            session.close()
