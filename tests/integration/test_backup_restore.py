"""Backup and restore round trip (docs/operations.md, "Backup and restore"): `segito backup`, then work goes on
and the database is damaged, then `segito restore` brings back exactly what the backup held -- cases, steps,
timers, documents, the audit chains (verified by the command) -- on SQLite and PostgreSQL; a restore never
replaces a database that holds data unless told to, and a file that is no backup changes nothing."""
from __future__ import annotations

import json
import uuid

from click.testing import CliRunner
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from engine.cli import main
from engine.documents import documents
from engine.store import db
from tests import demo_data

from .helpers import do, new_family_case

# What the round trip compares: every row of the tables that hold a case's life.
TABLES = {
    "cases": "SELECT id, status, lock_version, audit_head, length(state) FROM cases ORDER BY id",
    "human_tasks": "SELECT id, case_id, bpmn_id, state FROM human_tasks ORDER BY id",
    "timers": "SELECT id, case_id, state, run_at FROM timers ORDER BY id",
    "case_documents": "SELECT id, case_id, document_key, sha256 FROM case_documents ORDER BY id",
    "audit_events": "SELECT id, case_id, seq, kind, hash FROM audit_events ORDER BY id",
}


def _segito(database_url, *args):
    return CliRunner().invoke(main, [str(a) for a in args], env={"DATABASE_URL": database_url, "SEGITO_USER": None},
                              catch_exceptions=False)


def _contents(database_url) -> dict:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return {name: [tuple(map(str, row)) for row in conn.execute(text(query))]
                    for name, query in TABLES.items()}
    finally:
        engine.dispose()


def test_backup_then_damage_then_restore_brings_everything_back(runtime, people, database_url, tmp_path):
    case_id = new_family_case(runtime, people)
    do(runtime, case_id, "step_3_1", demo_data.assessment_data(), people.anna)
    do(runtime, case_id, "step_3_2", {"agreement_date": "2026-03-05", "review_frequency": "monthly"}, people.anna)
    documents.produce(runtime, case_id, "cooperation_agreement", people.anna, "hu")
    before = _contents(database_url)
    assert before["timers"] and before["case_documents"] and len(before["human_tasks"]) >= 3

    backup = tmp_path / "segito.backup"
    assert _segito(database_url, "backup", backup).exit_code == 0

    # Work after the backup, then a disaster: a table emptied, a case's steps gone.
    other = new_family_case(runtime, people, 1)
    assert other not in {int(r[0]) for r in before["cases"]}
    runtime.db.close()
    db.dispose(database_url)
    engine = create_engine(database_url)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM case_documents"))
        conn.execute(text("DELETE FROM timers"))
        conn.execute(text("DELETE FROM human_tasks WHERE case_id = :c"), {"c": case_id})
    engine.dispose()

    refused = _segito(database_url, "restore", backup)
    assert refused.exit_code == 2 and "--overwrite" in refused.output and "not empty" in refused.output
    assert _contents(database_url)["case_documents"] == []  # refused: nothing touched

    restored = _segito(database_url, "restore", backup, "--overwrite")
    assert restored.exit_code == 0, restored.output
    answer = json.loads(restored.stdout)
    assert answer["audit"]["ok"] is True and answer["audit"]["cases_checked"] >= 1
    assert answer["migration"] is not None
    assert _contents(database_url) == before
    assert _segito(database_url, "audit", "verify").exit_code == 0

    # The restored database works: the case advances from where the backup left it.
    db.dispose(database_url)
    from engine import setup
    from engine.runtime.runtime import Runtime
    from engine.store.db import Database

    again = Runtime(Database(database_url))
    setup.initialise(again)
    try:
        do(again, case_id, "step_3_3", {"meetings": [demo_data.meeting(6)], "actions": [demo_data.action(10)],
                                        "casework_next": "continue"}, people.anna)
    finally:
        again.db.close()


def test_a_restore_into_an_empty_database(runtime, people, database_url, tmp_path):
    case_id = new_family_case(runtime, people)
    backup = tmp_path / "segito.backup"
    assert _segito(database_url, "backup", backup).exit_code == 0
    runtime.db.close()
    db.dispose(database_url)
    if database_url.startswith("sqlite"):
        empty_url = f"sqlite:///{tmp_path / 'new' / 'segito.db'}"
    else:  # a new database on the same server (a schema dump names its schema: it comes back under that name)
        url = make_url(database_url)
        fresh = f"segito_restored_{uuid.uuid4().hex[:8]}"
        empty_url = url.set(database=fresh).render_as_string(hide_password=False)
        _server_command(database_url, f'CREATE DATABASE "{fresh}"')
    try:
        restored = _segito(empty_url, "restore", backup)
        assert restored.exit_code == 0, restored.output
        assert json.loads(restored.stdout)["audit"]["ok"] is True
        engine = create_engine(empty_url)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM cases WHERE id = :c"), {"c": case_id}).scalar() == 1
        engine.dispose()
    finally:
        db.dispose(empty_url)
        if not empty_url.startswith("sqlite"):
            _server_command(database_url, f'DROP DATABASE IF EXISTS "{fresh}"')


def _server_command(database_url: str, sql: str) -> None:
    engine = create_engine(database_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(sql))
    finally:
        engine.dispose()


def test_a_file_that_is_no_backup_changes_nothing(runtime, people, database_url, tmp_path):
    new_family_case(runtime, people)
    before = _contents(database_url)
    junk = tmp_path / "junk.backup"
    junk.write_bytes(b"not a backup at all" * 100)
    refused = _segito(database_url, "restore", junk, "--overwrite")
    assert refused.exit_code == 2 and "backup" in refused.output
    assert _contents(database_url) == before
