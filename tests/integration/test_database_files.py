"""The SQLite file and the directory made for it are readable by their owner only (engine/store/sqlite_file.py)."""
from __future__ import annotations

import os
import stat

import pytest

from engine import setup
from engine.runtime.runtime import Runtime
from engine.store import config, migrate
from engine.store.db import Database


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def usual_umask():
    # The usual 022 would leave new files readable by everyone; the modes must not depend on it.
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_the_default_instance_directory_and_database_files_are_owner_only(tmp_path, monkeypatch, usual_umask):
    path = tmp_path / "instance" / "segito.db"
    monkeypatch.setattr(config, "DEFAULT_SQLITE_PATH", path)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    url = config.database_url()
    assert _mode(path.parent) == 0o700
    runtime = Runtime(Database(url))
    try:
        setup.initialise(runtime)
        setup.ensure_demo_users(runtime)  # a unit of work: the writer lock file and the log files exist now
        files = [path, f"{path}-wal", f"{path}-shm", f"{path}-writer.lock"]
        assert {str(f): _mode(f) for f in files} == {str(f): 0o600 for f in files}
    finally:
        runtime.db.close()


def test_a_database_made_by_migrating_a_new_path_is_owner_only(tmp_path, usual_umask):
    path = tmp_path / "data" / "new.db"
    migrate.upgrade(f"sqlite:///{path}")
    assert _mode(path.parent) == 0o700
    assert _mode(path) == 0o600


def test_an_existing_directory_keeps_the_mode_its_owner_chose(tmp_path, usual_umask):
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o750)
    os.chmod(shared, 0o750)
    db = Database(f"sqlite:///{shared / 'segito.db'}")
    try:
        with db.unit_of_work() as session:
            session.connection()
        assert _mode(shared) == 0o750
        assert _mode(shared / "segito.db") == 0o600
    finally:
        db.close()
