"""Fixtures shared by all tests: a migrated database on SQLite and on PostgreSQL, users, and the clock.

Every test that takes ``runtime`` runs once per backend. PostgreSQL tests fail (never skip) when CI=true and
the server is unreachable; on a developer's machine without PostgreSQL they skip with the reason.
"""
from __future__ import annotations

import datetime as dt
import os
import shutil
import uuid

import pytest
from argon2 import PasswordHasher
from sqlalchemy import create_engine, text

from engine import setup
from engine.people import users
from engine.runtime.runtime import Runtime
from engine.store import clock, migrate
from engine.store.db import Database

# One master key for the whole run (engine/store/keys.py), so no test writes a key file into instance/; the
# processes tests start inherit it.
os.environ.setdefault("SEGITO_MASTER_KEYS", "test-master-1:" + "A" * 43)
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


INITIALISED_AT = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.timezone.utc)  # as ``frozen_clock`` sets the clock


def _initialise_at_the_tests_time(url: str) -> None:
    """Deploy the bundled packages into the migrated database at ``url``, at the time every test starts from."""
    before = clock.now()  # a session fixture may first be asked for inside a test, on that test's clock
    clock.freeze(INITIALISED_AT)
    try:
        rt = Runtime(Database(url))
        setup.initialise(rt)
        rt.db.close()
    finally:
        clock.freeze(before)


@pytest.fixture(scope="session")
def sqlite_initialised(sqlite_template, tmp_path_factory):
    """The migrated SQLite file with the bundled packages deployed once, for each test's ``runtime`` to start from:
    deploying again what is already there changes nothing (the second ``setup.initialise`` finds every version
    unchanged by its content hash, without parsing a package: docs/services.md, "Deploying")."""
    import sqlite3

    path = tmp_path_factory.mktemp("initialised") / "initialised.db"
    shutil.copy(sqlite_template, path)
    _initialise_at_the_tests_time(f"sqlite:///{path}")
    from engine.store import db

    db.dispose(f"sqlite:///{path}")
    with sqlite3.connect(path) as conn:  # everything in the main file, so a copy of it is whole
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


@pytest.fixture(scope="session")
def pg_migrated():
    """A schema of its own for this test process (each xdist worker is one), so processes side by side on one
    server never meet."""
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


def _referenced_first(tables: list[str], references: list) -> list[str]:
    """``tables`` ordered so that a table comes after every table its foreign keys point at (rows copy back in
    this order)."""
    needs = {t: {to.strip('"') for by, to in references if by.strip('"') == t and to.strip('"') != t}
             for t in tables}
    ordered: list[str] = []
    while len(ordered) < len(tables):
        ready = [t for t in tables if t not in ordered and needs[t] <= set(ordered)]
        if not ready:
            raise RuntimeError(f"foreign keys in a cycle among {sorted(set(tables) - set(ordered))}")
        ordered += ready
    return ordered


class PgSchema:
    """Puts this process's PostgreSQL schema back between tests: empty as migrated (``empty``), or as
    ``setup.initialise`` leaves it (``initialise``) -- what the SQLite tests get by copying a file.

    Emptying deletes every row with triggers off (the append-only audit table's among them) and sets each sequence
    back, in one round trip: on a few rows that is milliseconds, where TRUNCATE of every table takes 0.1-0.5 s
    (new files for each table and index). Without the superuser's right to turn triggers off it falls back to
    TRUNCATE. The initialised rows are deployed once, at the tests' time, kept in a schema beside this one, and
    copied back with the sequences where deploying left them, instead of a second of deploying per test."""

    def __init__(self, url: str):
        self.url = url
        self.engine = create_engine(url, pool_size=1)
        with self.engine.begin() as conn:
            self.schema = conn.execute(text("SELECT current_schema()")).scalar_one()
            self.tables = conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
                                            "AND tablename <> 'alembic_version' ORDER BY tablename")).scalars().all()
            references = conn.execute(text(
                "SELECT c.conrelid::regclass::text, c.confrelid::regclass::text FROM pg_constraint c "
                "JOIN pg_namespace n ON n.oid = c.connamespace WHERE c.contype = 'f' "
                "AND n.nspname = current_schema()")).all()
            self.sequences = conn.execute(text("SELECT sequencename, start_value FROM pg_sequences "
                                               "WHERE schemaname = current_schema() ORDER BY sequencename")).all()
            superuser = conn.execute(text("SELECT current_setting('is_superuser')")).scalar_one() == "on"
        self.tables = _referenced_first(self.tables, references)
        tables = ", ".join(f'"{t}"' for t in self.tables)
        if superuser:
            self._emptying = ("SET LOCAL session_replication_role = replica; "
                              + "; ".join(f'DELETE FROM "{t}"' for t in self.tables) + "; "
                              + self._setting_sequences({name: (start, False) for name, start in self.sequences}))
        else:
            self._emptying = f"TRUNCATE {tables} RESTART IDENTITY CASCADE"
        self._filling: str | None = None

    @staticmethod
    def _setting_sequences(values: dict[str, tuple[int, bool]]) -> str:
        return "SELECT " + ", ".join(f"setval('\"{name}\"', {value}, {'true' if called else 'false'})"
                                     for name, (value, called) in values.items())

    def empty(self) -> None:
        with self.engine.begin() as conn:
            conn.exec_driver_sql(self._emptying)

    def initialise(self) -> None:
        """Fill the emptied schema with what deploying the bundled packages stores."""
        if self._filling is None:
            self._filling = self._snapshot()
        with self.engine.begin() as conn:
            conn.exec_driver_sql(self._filling)

    def _snapshot(self) -> str:
        self.empty()
        _initialise_at_the_tests_time(self.url)
        kept = f"{self.schema}_initialised"
        with self.engine.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{kept}"'))
            filled = [t for t in self.tables if conn.execute(text(f'SELECT EXISTS (SELECT 1 FROM "{t}")')).scalar()]
            for t in filled:
                conn.execute(text(f'CREATE TABLE "{kept}"."{t}" AS TABLE "{t}"'))
            values = {name: (value, True) if value is not None else (start, False) for name, value, start in
                      conn.execute(text("SELECT sequencename, last_value, start_value FROM pg_sequences "
                                        "WHERE schemaname = current_schema() ORDER BY sequencename"))}
        self.empty()
        return ("; ".join(f'INSERT INTO "{t}" SELECT * FROM "{kept}"."{t}"' for t in filled) + "; "
                + self._setting_sequences(values))

    def close(self) -> None:
        if self._filling is not None:
            with self.engine.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{self.schema}_initialised" CASCADE'))
        self.engine.dispose()


@pytest.fixture(scope="session")
def pg_schema(pg_migrated):
    schema = PgSchema(pg_migrated)
    yield schema
    schema.close()


@pytest.fixture(params=BACKENDS)
def database_url(request, tmp_path, sqlite_template):
    """A migrated, empty database of each backend."""
    if request.param == "sqlite":
        path = tmp_path / f"segito-{uuid.uuid4().hex[:8]}.db"
        shutil.copy(sqlite_template, path)
        yield f"sqlite:///{path}"
        return
    schema = request.getfixturevalue("pg_schema")
    schema.empty()
    yield schema.url


@pytest.fixture
def runtime(request, database_url):
    """A runtime on ``database_url`` with the bundled packages deployed, copied in from a database where they were
    deployed once; ``setup.initialise`` then finds them unchanged, as a restarted app does."""
    if database_url.startswith("sqlite:///"):
        shutil.copy(request.getfixturevalue("sqlite_initialised"), database_url[len("sqlite:///"):])
    else:
        request.getfixturevalue("pg_schema").initialise()
    rt = Runtime(Database(database_url))
    setup.initialise(rt)
    yield rt
    rt.db.close()


@pytest.fixture(autouse=True)
def frozen_clock():
    clock.freeze(INITIALISED_AT)
    yield clock
    clock.reset()


PEOPLE = [("anna", [users.CASEWORKER]), ("bela", [users.CASEWORKER]), ("lea", [users.PROFESSIONAL_LEAD]),
          ("dora", [users.PROCESS_DESIGNER]), ("mark", [users.MANAGER])]
_HASHES: dict[str, str] = {}


# The test users' passwords are hashed with argon2id at its lowest cost. Checking a password reads the cost from
# the stored hash, so each login and each HTTP Basic call of a test costs microseconds instead of the ~20 ms of CPU
# of the engine's own parameters (engine/people/users.py), and is still a real argon2id check that a wrong password
# fails. Passwords set through the engine (the administrator's page, the demo users) keep its parameters.
_TEST_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


def _password_hash(username: str) -> str:
    if username not in _HASHES:
        _HASHES[username] = _TEST_HASHER.hash("pw-" + username)
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
