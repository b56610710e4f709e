"""Fixtures shared by all tests: a migrated database on SQLite and on PostgreSQL, users, and the clock.

Every test that takes ``runtime`` runs once per backend. PostgreSQL tests fail (never skip) when CI=true and
the server is unreachable; on a developer's machine without PostgreSQL they skip with the reason.
"""
from __future__ import annotations

import os
import shutil
import uuid

import pytest
from sqlalchemy import create_engine, text

from engine import setup
from engine.people import users
from engine.runtime.runtime import Runtime
from engine.store import clock, migrate
from engine.store.db import Database

PG_URL = os.environ.get("SEGITO_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
BACKENDS = ["sqlite", "postgresql"]


def _pg_reachable() -> str | None:
    try:
        engine = create_engine(PG_URL)
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
        return None
    except Exception as e:  # any failure to connect is the reason to report
        return str(e).splitlines()[0]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    path = tmp_path_factory.mktemp("template") / "template.db"
    migrate.upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def sqlite_initialised(sqlite_template, tmp_path_factory):
    """The migrated SQLite file with the bundled packages deployed once, for each test's ``runtime`` to start from:
    deploying again what is already there changes nothing (the second ``setup.initialise`` finds every version
    unchanged by its content hash, without parsing a package: docs/services.md, "Deploying")."""
    import datetime as dt
    import sqlite3

    path = tmp_path_factory.mktemp("initialised") / "initialised.db"
    shutil.copy(sqlite_template, path)
    before = clock.now()
    clock.freeze(dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.timezone.utc))  # as ``frozen_clock`` sets it
    try:
        rt = Runtime(Database(f"sqlite:///{path}"))
        setup.initialise(rt)
        rt.db.close()
    finally:
        clock.freeze(before)
    from engine.store import db

    db.dispose(f"sqlite:///{path}")
    with sqlite3.connect(path) as conn:  # everything in the main file, so a copy of it is whole
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


@pytest.fixture(scope="session")
def pg_migrated():
    """A schema of its own for this test run, so runs side by side on one server never meet."""
    problem = _pg_reachable()
    if problem:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL at {PG_URL} is unreachable under CI=true: {problem}")
        pytest.skip(f"PostgreSQL unreachable ({problem}); set CI=true to make this a failure")
    schema = f"segito_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    url = f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    migrate.upgrade(url)
    yield url
    from engine.store import db

    db.dispose(url)
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(request, tmp_path, sqlite_template):
    if request.param == "sqlite":
        path = tmp_path / f"segito-{uuid.uuid4().hex[:8]}.db"
        shutil.copy(sqlite_template, path)
        yield f"sqlite:///{path}"
        return
    url = request.getfixturevalue("pg_migrated")
    engine = create_engine(url)
    with engine.begin() as conn:
        tables = conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
                                   "AND tablename <> 'alembic_version'")).scalars().all()
        conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    engine.dispose()
    yield url


@pytest.fixture
def runtime(request, database_url):
    if database_url.startswith("sqlite:///"):
        shutil.copy(request.getfixturevalue("sqlite_initialised"), database_url[len("sqlite:///"):])
    rt = Runtime(Database(database_url))
    setup.initialise(rt)
    yield rt
    rt.db.close()


@pytest.fixture(autouse=True)
def frozen_clock():
    import datetime as dt

    clock.freeze(dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.timezone.utc))
    yield clock
    clock.reset()


PEOPLE = [("anna", [users.CASEWORKER]), ("bela", [users.CASEWORKER]), ("lea", [users.PROFESSIONAL_LEAD]),
          ("dora", [users.PROCESS_DESIGNER]), ("mark", [users.MANAGER])]
_HASHES: dict[str, str] = {}


def _password_hash(username: str) -> str:
    # Hashing is deliberately slow; each test user's hash is computed once per run.
    if username not in _HASHES:
        _HASHES[username] = users.hash_password("pw-" + username)
    return _HASHES[username]


class People:
    """Test users; each one's password is "pw-<username>"."""

    def __init__(self, rt: Runtime):
        self.rt = rt
        self._users = {}
        with rt.db.unit_of_work() as session:
            for username, roles in PEOPLE:
                users.create_user(session, username, username.title(), roles, None, "test", clock.now(),
                                  password_hash=_password_hash(username))

    def __getattr__(self, username):
        if username.startswith("_"):
            raise AttributeError(username)
        if username not in self._users:
            with self.rt.db.reading() as session:
                self._users[username] = users.actor(session, username)
        return self._users[username]


@pytest.fixture
def people(runtime):
    return People(runtime)
