"""PostgreSQL connections the server dropped are replaced without a ping on every checkout (engine/store/db.py,
``_check_on_checkout``): a healthy pooled connection is used as it is, a dropped idle one is pinged and replaced
when taken from the pool, and one dropped while in use fails its statement (also a ``Prepared`` one), is
invalidated, and the next command gets a new connection. The whole server's restart under load is
tests/integration/test_faults_under_load.py."""
from __future__ import annotations

import pytest
from sqlalchemy import bindparam, create_engine, select, text
from sqlalchemy.exc import DBAPIError

from engine.store.db import Prepared
from engine.store.models import User

from ..conftest import PG_URL

pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)

_users = User.__table__
_NAME = Prepared(select(_users.c.username).where(_users.c.username == bindparam("name")))


def _backend(connection) -> int:
    return connection.execute(text("SELECT pg_backend_pid()")).scalar_one()


def _terminate(pid: int) -> None:
    admin = create_engine(PG_URL)
    try:
        with admin.connect() as conn:
            assert conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid}).scalar_one()
            # Wait until it is gone, so the server's goodbye has reached the pooled connection's socket.
            for _ in range(200):
                if not conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE pid = :p"),
                                    {"p": pid}).scalar_one():
                    break
    finally:
        admin.dispose()


@pytest.fixture
def pings(runtime, monkeypatch):
    """How many real pings the pool sent (a list that grows by one per ping)."""
    sent: list[int] = []
    dialect = runtime.db.engine.dialect
    real = dialect.do_ping

    def counted(dbapi_conn):
        sent.append(1)
        return real(dbapi_conn)

    monkeypatch.setattr(dialect, "do_ping", counted)
    return sent


def test_a_healthy_pooled_connection_is_used_without_a_ping(runtime, people, pings):
    for _ in range(20):
        with runtime.db.read_connection() as conn:
            assert conn.execute(select(_users.c.id).where(_users.c.username == "anna")).scalar_one()
        with runtime.db.command() as session:
            assert _NAME.first(session.connection(), {"name": "anna"}).username == "anna"
    assert pings == []


def test_an_idle_connection_the_server_dropped_is_replaced_when_taken_from_the_pool(runtime, people, pings):
    runtime.db.engine.dispose()  # one connection in the pool: the next checkout takes the dropped one
    with runtime.db.read_connection() as conn:
        first = _backend(conn)
    _terminate(first)
    with runtime.db.read_connection() as conn:  # the same pooled connection: its socket says it was dropped
        assert _backend(conn) != first
        assert conn.execute(select(_users.c.username).where(_users.c.username == "anna")).scalar_one() == "anna"
    assert pings == [1]


def test_a_connection_dropped_in_use_fails_its_statement_and_is_replaced(runtime, people):
    with pytest.raises(DBAPIError) as failed, runtime.db.command() as session:
        connection = session.connection()
        _terminate(_backend(connection))
        _NAME.first(connection, {"name": "anna"})  # on the DBAPI cursor, past SQLAlchemy's own error handling
    assert failed.value.connection_invalidated
    with runtime.db.command() as session:
        assert _NAME.first(session.connection(), {"name": "anna"}).username == "anna"
