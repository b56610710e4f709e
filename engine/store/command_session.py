"""The Session a hot command works with: its transaction's connection at once, the ORM only when asked for.

Completing a task or starting a case writes with prebuilt Core statements (``engine.store.db.Prepared``) on the
transaction's connection; building a ``Session``, beginning, committing and closing it cost about 50 µs per
command, a third of what SQLite itself takes for the command's statements. ``CommandSession`` answers what those
commands ask of their session (``connection()``, ``get_bind()``, ``in_transaction()``) from the connection, and
makes a real ``Session`` — on the same connection, inside the same transaction — the first time anything else is
asked (an observer that reads with the ORM, a cache miss). What that Session adds is flushed before the commit.
"""
from __future__ import annotations

from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, sessionmaker

# "rollback_only": the Session never commits or closes the command's transaction; Database.command() does.
_sessions = sessionmaker(autoflush=False, expire_on_commit=False, join_transaction_mode="rollback_only")


class CommandSession:
    """Stands in for the command's ``Session``; any attribute it does not define is the real Session's."""

    def __init__(self, connection: Connection):
        self._connection = connection
        self._session: Session | None = None

    def connection(self, *_args, **_kwargs) -> Connection:
        return self._connection

    def get_bind(self, *_args, **_kwargs) -> Connection:
        return self._connection

    def in_transaction(self) -> bool:
        return self._connection.in_transaction()

    @property
    def orm(self) -> Session:
        """The real Session (made on first use)."""
        if self._session is None:
            self._session = _sessions(bind=self._connection)
        return self._session

    def __getattr__(self, name: str):
        return getattr(self.orm, name)

    def flush_orm(self) -> None:
        """Write what the real Session holds, if one was made (before the transaction commits)."""
        if self._session is not None:
            self._session.flush()

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None


# What code shared by the hot commands and the others is given: a real Session (``Database.unit_of_work``) or a
# CommandSession (``Database.command``), which answers everything else from a real Session.
AnySession = Session | CommandSession
