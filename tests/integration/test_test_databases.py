"""The databases the tests start from (tests/conftest.py, docs/architecture.md "Tests"): a ``runtime``'s database,
copied in from one where the bundled packages were deployed once, holds row for row what deploying them into an
empty database holds, and goes on from there as that one would (its sequences stand where deploying left them)."""
from __future__ import annotations

import shutil
import uuid

from sqlalchemy import create_engine, inspect, text

from engine import packages, setup
from engine.runtime.runtime import Runtime
from engine.store import clock, migrate
from engine.store.config import BPMN_DIR
from engine.store.db import Database

from .test_packages import _copy


def _contents(url: str) -> dict[str, list[tuple]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            tables = [t for t in inspect(conn).get_table_names() if t != "alembic_version"]
            return {t: sorted(tuple(map(repr, row)) for row in conn.execute(text(f'SELECT * FROM "{t}"')))
                    for t in tables}
    finally:
        engine.dispose()


def _fresh(database_url: str, tmp_path, sqlite_template):
    """A migrated, empty database of the same backend, and how to drop it."""
    if database_url.startswith("sqlite"):
        path = tmp_path / f"fresh-{uuid.uuid4().hex[:8]}.db"
        shutil.copy(sqlite_template, path)
        return f"sqlite:///{path}", lambda: None
    from tests.conftest import PG_URL

    schema = f"segito_fresh_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = f"{PG_URL}{'&' if '?' in PG_URL else '?'}options=-csearch_path%3D{schema}"
    migrate.upgrade(url)

    def drop() -> None:
        from engine.store import db

        db.dispose(url)
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

    return url, drop


def test_a_runtime_starts_from_what_deploying_into_an_empty_database_stores(runtime, database_url, tmp_path,
                                                                             sqlite_template):
    url, drop = _fresh(database_url, tmp_path, sqlite_template)
    try:
        fresh = Runtime(Database(url))
        setup.initialise(fresh)
        copied = _contents(database_url)
        assert copied["package_versions"] and copied["audit_events"], "the bundled packages are deployed"
        assert copied == _contents(url)
        # The next rows get the same ids in both: the sequences stand where deploying left them.
        changed = _copy(BPMN_DIR / "intake", tmp_path)
        (changed / "README.md").write_text("notes\n", encoding="utf-8")
        for rt in (runtime, fresh):
            [result] = packages.deploy(rt, [packages.from_folder(changed)], "dora", clock.now())
            assert (result["package"], result["version"], result["created"]) == ("intake", 2, True)
        fresh.db.close()
        assert _contents(database_url) == _contents(url)
    finally:
        drop()
