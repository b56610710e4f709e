"""Backups and exports hold personal data: created readable by their owner only, whatever the umask."""
from __future__ import annotations

import json
import os
import sqlite3
import stat

import pytest
from click.testing import CliRunner

from engine.cli import main
from engine.errors import ValidationFailed
from engine.store import private_files


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def usual_umask():
    # The usual 022 would leave new files readable by everyone; the modes must not depend on it.
    old = os.umask(0o022)
    yield
    os.umask(old)


def _segito(database_url, *args):
    result = CliRunner().invoke(main, [str(a) for a in args], env={"DATABASE_URL": database_url, "SEGITO_USER": None},
                                catch_exceptions=False)
    return result


def test_a_backup_is_owner_only_and_a_consistent_copy(runtime, database_url, tmp_path, usual_umask):
    target = tmp_path / "backups" / "segito.backup"
    result = _segito(database_url, "backup", target)
    assert result.exit_code == 0, result.output
    written = json.loads(result.stdout)
    assert written["mode"] == "0o600" and written["bytes"] > 0
    assert _mode(target) == 0o600
    assert _mode(target.parent) == 0o700
    if database_url.startswith("sqlite"):
        with sqlite3.connect(target) as copy:
            assert copy.execute("SELECT count(*) FROM process_definitions").fetchone()[0] > 0
    else:
        assert target.read_bytes().startswith(b"PGDMP")  # pg_dump's custom format
    # The command leaves the process's umask without group and other bits: anything else it made is private.
    assert os.umask(0o022) & 0o077 == 0o077


def test_a_backup_never_overwrites_unless_asked_and_then_narrows_the_mode(runtime, database_url, tmp_path,
                                                                           usual_umask):
    target = tmp_path / "old.backup"
    target.write_text("an older backup")
    os.chmod(target, 0o644)
    refused = _segito(database_url, "backup", target)
    assert refused.exit_code == 2 and "exists already" in refused.output
    assert target.read_text() == "an older backup"
    assert _segito(database_url, "backup", target, "--overwrite").exit_code == 0
    assert _mode(target) == 0o600


def test_report_exports_and_audit_anchors_are_owner_only(runtime, people, database_url, tmp_path, usual_umask):
    xlsx, anchor = tmp_path / "out" / "report.xlsx", tmp_path / "anchor.json"
    assert _segito(database_url, "report", "family_care", "--from", "2026-01-01", "--to", "2026-03-31",
                   "--xlsx", xlsx, "--as", "mark").exit_code == 0
    assert _segito(database_url, "audit", "verify", "--anchor-out", anchor).exit_code == 0
    assert _mode(xlsx) == 0o600 and _mode(xlsx.parent) == 0o700 and _mode(anchor) == 0o600


def test_writing_a_private_file(tmp_path, usual_umask):
    path = private_files.write_private(tmp_path / "a" / "b.json", "{}")
    assert _mode(path) == 0o600 and _mode(tmp_path / "a") == 0o700
    with pytest.raises(ValidationFailed, match="exists already"):
        private_files.write_private(path, "{}", overwrite=False)
    with pytest.raises(ValidationFailed, match="is a directory"):
        private_files.write_private(tmp_path, "{}")
