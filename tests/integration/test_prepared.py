"""engine.store.db.Prepared: the hot path's statements on the DBAPI cursor store and read what SQLAlchemy would.

On SQLite and on PostgreSQL through psycopg they bypass SQLAlchemy's execution machinery (other drivers go
through it). Either way the rows are the same, cursor listeners see every statement, and database errors are
SQLAlchemy's.
"""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import bindparam, event, select
from sqlalchemy.exc import IntegrityError

from engine.store.db import Prepared
from engine.store.models import AuditEvent, User

_events = AuditEvent.__table__
AT = dt.datetime(2026, 3, 2, 9, 0, 0, 123456, tzinfo=dt.timezone.utc)


def _event(seq: int, **extra) -> dict:
    return dict(occurred_at=AT, actor="anna", kind="k", case_id=None, task_id=None, seq=seq,
                payload={"név": ["Ő", 1, None, {"x": 1.5}]}, prev_hash="", hash=f"h{seq}", **extra)


def _stored(session, seqs):
    return session.execute(select(_events.c.occurred_at, _events.c.actor, _events.c.payload, _events.c.seq)
                           .where(_events.c.kind == "k", _events.c.seq.in_(seqs)).order_by(_events.c.seq)).all()


def test_rows_written_and_read_are_those_of_sqlalchemy(runtime):
    insert = Prepared(_events.insert())
    users = User.__table__
    rename = Prepared(users.update().where(users.c.username == bindparam("old"), users.c.locale == "hu")
                      .values(display_name=bindparam("new"), locale="en"))
    first = Prepared(select(_events.c.seq, _events.c.occurred_at, _events.c.payload, _events.c.hash)
                     .where(_events.c.kind == "k", _events.c.seq == bindparam("s")))
    with runtime.db.unit_of_work() as session:
        conn = session.connection()
        conn.execute(_events.insert(), [_event(1), _event(2)])           # SQLAlchemy itself
        insert.execute(conn, [_event(3), _event(4)])   # several rows: executemany
        insert.execute(conn, [_event(5)])
        conn.execute(users.insert(), dict(id=990003, username="renamed", display_name="A", password_hash=None,
                                          locale="hu", active=True, created_at=AT))
        assert rename.execute(conn, {"old": "renamed", "new": "Béla"}) == 1
        assert rename.execute(conn, {"old": "renamed", "new": "x"}) == 0   # its locale is no longer "hu"
        row = first.first(conn, {"s": 4})
        assert first.first(conn, {"s": 99}) is None
    with runtime.db.reading() as session:
        ours, theirs = _stored(session, [3, 4]), _stored(session, [1, 2])
        assert [r[:3] for r in ours] == [r[:3] for r in theirs]
        assert ours[0].occurred_at == AT and ours[0].payload == {"név": ["Ő", 1, None, {"x": 1.5}]}
        user = session.get(User, 990003)
        assert (user.display_name, user.locale) == ("Béla", "en")
        expected = session.execute(select(_events.c.seq, _events.c.occurred_at, _events.c.payload, _events.c.hash)
                                   .where(_events.c.kind == "k", _events.c.seq == 4)).one()
    assert tuple(row) == tuple(expected)
    assert (row.seq, row.occurred_at, row.hash) == (4, AT, "h4")


def test_cursor_listeners_see_every_statement_and_errors_are_sqlalchemys(runtime):
    seen = []
    engine = runtime.db.engine

    def listener(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement.split()[0].upper())

    event.listen(engine, "before_cursor_execute", listener)
    try:
        with runtime.db.unit_of_work() as session:
            Prepared(_events.insert()).execute(session.connection(), [_event(11), _event(12)])
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert "INSERT" in seen
    user = dict(id=990001, username="dup", display_name="D", password_hash=None, locale="hu", active=True,
                created_at=AT)
    insert = Prepared(User.__table__.insert())
    with pytest.raises(IntegrityError), runtime.db.unit_of_work() as session:
        insert.execute(session.connection(), user)
        insert.execute(session.connection(), user)
    with runtime.db.reading() as session:  # the failed command left nothing
        assert session.get(User, 990001) is None


def test_a_statement_that_needs_column_defaults_is_left_to_sqlalchemy(runtime):
    # users.locale and users.active have Python-side defaults: SQLAlchemy's execution context fills them.
    with runtime.db.unit_of_work() as session:
        Prepared(User.__table__.insert()).execute(session.connection(), dict(
            id=990002, username="defaults", display_name="D", password_hash=None, created_at=AT))
    with runtime.db.reading() as session:
        user = session.get(User, 990002)
        assert (user.locale, user.active) == ("hu", True)


def test_every_row_of_a_select_as_sqlalchemy_reads_them(runtime):
    every = Prepared(select(_events.c.seq, _events.c.occurred_at, _events.c.payload)
                     .where(_events.c.kind == "k", _events.c.seq >= bindparam("from_seq")).order_by(_events.c.seq))
    contexts = []
    engine = runtime.db.engine

    def listener(conn, cursor, statement, parameters, context, executemany):
        contexts.append(context)

    with runtime.db.unit_of_work() as session:
        conn = session.connection()
        conn.execute(_events.insert(), [_event(21), _event(22), _event(23)])
        event.listen(engine, "before_cursor_execute", listener)
        try:
            rows = every.all(conn, {"from_seq": 22})
        finally:
            event.remove(engine, "before_cursor_execute", listener)
        expected = conn.execute(every.statement, {"from_seq": 22}).all()
        assert every.all(conn, {"from_seq": 99}) == []
    assert [tuple(r) for r in rows] == [tuple(r) for r in expected]
    assert rows[0]._mapping == dict(expected[0]._mapping) and rows[1].seq == 23
    assert rows[0].occurred_at == AT and rows[0].payload == {"név": ["Ő", 1, None, {"x": 1.5}]}
    assert contexts == [None]  # run on the DBAPI cursor, not through SQLAlchemy's execution context
