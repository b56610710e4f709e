"""`segito backup`: a consistent copy of the database in a file readable by its owner only.

On SQLite the copy is SQLite's online backup (a consistent snapshot while the app keeps working; what is in the
write-ahead log is included). On PostgreSQL it is ``pg_dump --format=custom`` (restore with ``pg_restore``),
written through a file descriptor opened 0600 beforehand, so the dump is never readable by others, not even for
a moment. A database's search path (the ``options`` of the URL) limits the dump to that schema.
"""
from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path
from urllib.parse import unquote

from sqlalchemy.engine import make_url

from ..errors import SegitoError
from . import private_files, sqlite_file


def backup(url: str, path: str | os.PathLike, overwrite: bool = False) -> dict:
    """Copy the database at ``url`` into ``path`` (mode 0600); returns what was written."""
    parsed = make_url(url)
    target = Path(path)
    if parsed.get_backend_name() == "sqlite":
        source = sqlite_file.database_path(parsed)
        if source is None:
            raise SegitoError("only a SQLite database file can be backed up (not a memory database)")
        fd = private_files.open_private(target, overwrite=overwrite)
        os.close(fd)  # the file exists now, empty and 0600: SQLite writes into it and keeps its mode
        src = sqlite3.connect(source)
        try:
            dst = sqlite3.connect(str(target))
            try:
                src.backup(dst)
            finally:
                dst.close()
        finally:
            src.close()
        kind = "sqlite"
    elif parsed.get_backend_name() == "postgresql":
        _pg_dump(parsed, target, overwrite)
        kind = "pg_dump custom format"
    else:
        raise SegitoError(f"no backup for a {parsed.get_backend_name()} database")
    return {"path": str(target), "format": kind, "bytes": target.stat().st_size,
            "mode": oct(target.stat().st_mode & 0o777)}


def _pg_dump(parsed, target: Path, overwrite: bool) -> None:
    program = shutil.which("pg_dump")
    if program is None:
        raise SegitoError("pg_dump is not installed: install the PostgreSQL client (e.g. postgresql-client)")
    args = [program, "--format=custom", "--no-owner"]
    raw_options = parsed.query.get("options")
    if isinstance(raw_options, str):
        for part in unquote(raw_options).split():
            if part.startswith("-csearch_path="):
                args.append(f"--schema={part.split('=', 1)[1].split(',')[0]}")
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = parsed.password  # never on the command line, where `ps` would show it
    libpq = parsed.set(drivername="postgresql", password=None, query={})
    args.append("--dbname=" + libpq.render_as_string(hide_password=False))
    fd = private_files.open_private(target, overwrite=overwrite)
    try:
        done = subprocess.run(args, stdout=fd, stderr=subprocess.PIPE, env=env, check=False)
    finally:
        os.close(fd)
    if done.returncode != 0:
        target.unlink(missing_ok=True)
        raise SegitoError(f"pg_dump failed: {done.stderr.decode('utf-8', 'replace').strip()[:500]}")
