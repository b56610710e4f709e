"""Database.command() and its CommandSession: the transaction's connection at once, a real Session only when asked;
and Prepared.insert, which gives the new row's primary key.

A command's Core and ORM writes commit together or not at all, on SQLite and on PostgreSQL alike.
"""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from engine.store import command_session, db
from engine.store.db import Prepared
from engine.store.models import AuditEvent, AuditStream, User, UserRole

AT = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.timezone.utc)
_users = User.__table__


def _user(user_id: int, username: str) -> dict:
    return dict(id=user_id, username=username, display_name=username.title(), password_hash=None, locale="hu",
                active=True, created_at=AT)


class _Refused(Exception):
    pass


@pytest.fixture
def sessions_made(monkeypatch):
    """Every real Session a CommandSession makes, to look at after the command."""
    made = []
    factory = command_session._sessions

    def recording(**kwargs):
        session = factory(**kwargs)
        made.append(session)
        return session

    monkeypatch.setattr(command_session, "_sessions", recording)
    return made


def _stored(runtime, user_id: int, stream: str) -> tuple:
    with runtime.db.reading() as session:
        user = session.get(User, user_id)
        row = session.get(AuditStream, stream)
        roles = session.execute(select(UserRole.role).where(UserRole.user_id == user_id)).scalars().all()
        return (user.username if user else None, (row.head, row.seq) if row else None, roles)


def test_a_command_on_the_connection_alone_makes_no_session_and_commits(runtime, monkeypatch):
    def refused(**_kwargs):
        raise AssertionError("a command that only uses connection() made a Session")

    monkeypatch.setattr(command_session, "_sessions", refused)
    with runtime.db.command() as session:
        conn = session.connection()
        assert session.get_bind() is conn and session.in_transaction()
        conn.execute(_users.insert(), _user(990101, "core-only"))
        assert session._session is None
    assert session._session is None
    assert _stored(runtime, 990101, "none") == ("core-only", None, [])


def test_orm_writes_get_a_session_on_the_same_transaction_and_commit_with_core_writes(runtime, sessions_made):
    with runtime.db.command() as session:
        conn = session.connection()
        conn.execute(_users.insert(), _user(990102, "mixed"))
        # The ORM reads the Core row not yet committed: same connection, same transaction.
        assert session.get(User, 990102).username == "mixed"
        real = session._session
        assert real is not None and real.connection() is conn
        # Added, never flushed: the command writes them before it commits. The role needs the Core-written user.
        session.add(AuditStream(stream="cs-orm", head="h1", seq=3))
        session.add(UserRole(user_id=990102, role="tester"))
    assert sessions_made == [real]
    assert _stored(runtime, 990102, "cs-orm") == ("mixed", ("h1", 3), ["tester"])


def test_the_real_session_is_closed_when_the_command_ends(runtime, sessions_made):
    with runtime.db.command() as session:
        session.add(AuditStream(stream="cs-closed", head="", seq=0))
        real = session._session
    assert session._session is None
    # close() empties the identity map and ends the Session's transaction; left open, the flushed object stays.
    assert sessions_made == [real]
    assert len(real.identity_map) == 0 and not real.in_transaction()


def test_an_error_in_the_command_rolls_back_core_and_orm_writes_and_propagates(runtime, sessions_made):
    with pytest.raises(_Refused, match="no, thanks"), runtime.db.command() as session:
        session.connection().execute(_users.insert(), _user(990103, "rolled-back"))
        session.add(AuditStream(stream="cs-flushed", head="h", seq=1))
        session.flush()  # in the database, inside the transaction
        session.add(AuditStream(stream="cs-pending", head="h", seq=2))
        raise _Refused("no, thanks")
    assert session._session is None and len(sessions_made) == 1 and len(sessions_made[0].identity_map) == 0
    assert _stored(runtime, 990103, "cs-flushed") == (None, None, [])
    assert _stored(runtime, 990103, "cs-pending")[1] is None
    with runtime.db.command() as session:  # the connection went back clean: the next command works
        session.connection().execute(_users.insert(), _user(990103, "second-try"))
    assert _stored(runtime, 990103, "none")[0] == "second-try"


def test_is_postgres_answers_for_a_command_session_without_making_a_session(runtime, database_url):
    with runtime.db.command() as session:
        assert db.is_postgres(session) is database_url.startswith("postgresql")
        assert session._session is None


def _event(seq: int) -> dict:
    return dict(occurred_at=AT, actor="anna", kind="insert-test", case_id=None, task_id=None, seq=seq,
                payload={"n": seq}, prev_hash="", hash=f"ins{seq}")


def test_prepared_insert_gives_the_new_rows_primary_key(runtime, database_url):
    events = AuditEvent.__table__
    insert = Prepared(events.insert())
    with runtime.db.unit_of_work() as session:
        conn = session.connection()
        conn.execute(events.insert(), [_event(1), _event(2)])  # ids before ours, so ours are not 1 and 2
        first, second = insert.insert(conn, _event(3)), insert.insert(conn, _event(4))
        # Several rows at once (a parallel gateway's new tasks), their keys in the rows' order.
        more = insert.insert_all(conn, [_event(5), _event(6), _event(7)])
    # The compiled statement on the raw cursor: SQLite's lastrowid, PostgreSQL's RETURNING of the new key.
    plans = list(insert._compiled.values())
    assert plans and False not in plans
    with runtime.db.reading() as session:
        stored = dict(session.execute(select(events.c.seq, events.c.id).where(events.c.kind == "insert-test")).all())
    assert first != second
    assert (first, second) == (stored[3], stored[4])
    assert stored[3] > stored[2]
    assert more == [stored[5], stored[6], stored[7]] and len(set(more)) == 3


def test_prepared_insert_that_needs_column_defaults_gives_the_primary_key_too(runtime):
    # users.locale and users.active have Python-side defaults: the statement goes through SQLAlchemy on both.
    insert = Prepared(_users.insert())
    row = {k: v for k, v in _user(0, "").items() if k not in ("id", "locale", "active")}
    with runtime.db.command() as session:
        ids = [insert.insert(session.connection(), {**row, "username": name}) for name in ("dflt-a", "dflt-b")]
    with runtime.db.reading() as session:
        stored = dict(session.execute(select(User.username, User.id)
                                      .where(User.username.in_(["dflt-a", "dflt-b"]))).all())
    assert ids[0] != ids[1] and ids == [stored["dflt-a"], stored["dflt-b"]]
