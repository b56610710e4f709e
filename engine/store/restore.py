"""`segito restore`: put a backup made by `segito backup` (engine/store/backup.py) back as the database.

Restoring replaces everything, so it refuses a database that already holds Segito's tables unless told to
(``overwrite``): a restore into the wrong database would lose the work done since the backup. The backup is
checked before anything is touched (SQLite: ``PRAGMA integrity_check`` of the file; PostgreSQL: ``pg_restore
--list`` reads its table of contents), and the restore is all or nothing: SQLite's online backup copies the
file's pages into the database in one step; on PostgreSQL pg_restore's SQL runs in one psql transaction with
the removal of what the database held, so a failure changes nothing.
Run it with the app and its workers stopped (docs/operations.md, "Backup and restore"); the audit chain is
verified afterwards by the command (engine/cli.py), so a restored database is known to be whole.
"""
from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path
from urllib.parse import unquote

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from ..errors import SegitoError, ValidationFailed
from . import sqlite_file


def restore(url: str, path: str | os.PathLike, overwrite: bool = False) -> dict:
    """Make the database at ``url`` the copy in ``path``; returns what was restored."""
    parsed = make_url(url)
    source = Path(path)
    if not source.is_file():
        raise ValidationFailed(f"no backup file at {source}", [{"field": "path", "message": "no such file"}])
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        target = sqlite_file.database_path(parsed)
        if target is None:
            raise SegitoError("only a SQLite database file can be restored into (not a memory database)")
        _sqlite_restore(source, target, overwrite)
        kind = "sqlite"
    elif backend == "postgresql":
        _pg_restore(parsed, source, overwrite)
        kind = "pg_dump custom format"
    else:
        raise SegitoError(f"no restore for a {backend} database")
    return {"path": str(source), "format": kind, "migration": _migration(url)}


def _refuse_if_in_use(tables: list[str], overwrite: bool) -> None:
    if tables and not overwrite:
        raise ValidationFailed(
            f"the database is not empty ({len(tables)} tables, e.g. {', '.join(sorted(tables)[:3])}): restoring "
            "would replace its data; give --overwrite to replace it",
            [{"field": "--overwrite", "message": "the target database holds tables"}])


def _sqlite_restore(source: Path, target: str, overwrite: bool) -> None:
    try:
        with sqlite3.connect(f"file:{source}?mode=ro", uri=True) as copy:
            problem = copy.execute("PRAGMA integrity_check").fetchone()[0]
    except sqlite3.DatabaseError as e:
        raise ValidationFailed(f"{source} is not a SQLite backup: {e}", [{"field": "path", "message": str(e)}]) \
            from None
    if problem != "ok":
        raise ValidationFailed(f"the backup {source} is damaged: {problem}", [{"field": "path", "message": problem}])
    sqlite_file.prepare(make_url(f"sqlite:///{target}"))  # a new file is created 0600, its directory 0700
    dst = sqlite3.connect(target, timeout=30)
    try:
        tables = [r[0] for r in dst.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        _refuse_if_in_use(tables, overwrite)
        src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        try:
            src.backup(dst)  # page by page under one write lock of the target: all of it or, on failure, none
        finally:
            src.close()
    finally:
        dst.close()


def _schema(parsed) -> str | None:
    raw_options = parsed.query.get("options")
    if isinstance(raw_options, str):
        for part in unquote(raw_options).split():
            if part.startswith("-csearch_path="):
                return part.split("=", 1)[1].split(",")[0]
    return None


def _pg_restore(parsed, source: Path, overwrite: bool) -> None:
    pg_restore, psql = shutil.which("pg_restore"), shutil.which("psql")
    if pg_restore is None or psql is None:
        raise SegitoError("pg_restore and psql are needed: install the PostgreSQL client (e.g. postgresql-client)")
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = parsed.password  # never on the command line, where `ps` would show it
    listed = subprocess.run([pg_restore, "--list", str(source)], capture_output=True, env=env, check=False)
    if listed.returncode != 0:
        message = listed.stderr.decode("utf-8", "replace").strip()[:300]
        raise ValidationFailed(f"{source} is not a pg_dump custom-format backup: {message}",
                               [{"field": "path", "message": message}])
    schema = _schema(parsed)
    engine = create_engine(parsed.render_as_string(hide_password=False))
    try:
        with engine.connect() as conn:
            tables: list[str] = list(conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = :s"),
                                                  {"s": schema or "public"}).scalars())
            quoted = conn.dialect.identifier_preparer.quote(schema or "public")
    finally:
        engine.dispose()
    _refuse_if_in_use(tables, overwrite)
    # Whatever the target holds goes, not only the objects the backup names (a newer migration's table would
    # otherwise stay behind, beside data it does not match) -- in the same transaction as the restore, so a
    # failed restore leaves the database as it was. A dump of one schema creates that schema itself.
    prelude = f"DROP SCHEMA IF EXISTS {quoted} CASCADE;" + ("" if schema else " CREATE SCHEMA public;")
    libpq = parsed.set(drivername="postgresql", password=None, query={}).render_as_string(hide_password=False)
    script = subprocess.Popen([pg_restore, "--no-owner", "--file=-", str(source)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, env=env)
    applied = subprocess.run([psql, "--no-psqlrc", "--quiet", "--single-transaction", "-v", "ON_ERROR_STOP=1",
                              "--dbname=" + libpq, "-c", prelude, "-f", "-"],
                             stdin=script.stdout, capture_output=True, env=env, check=False)
    assert script.stdout is not None
    script.stdout.close()
    script_errors = script.stderr.read() if script.stderr is not None else b""
    script.wait()
    if script.returncode != 0 or applied.returncode != 0:
        message = (script_errors + applied.stderr).decode("utf-8", "replace").strip()[:500]
        raise SegitoError(f"restore failed (nothing was changed): {message}")


def _migration(url: str) -> str | None:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except Exception:  # noqa: BLE001 - a backup of a database never migrated has no version to report
        return None
    finally:
        engine.dispose()
